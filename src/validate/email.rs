//! Email syntax (RFC 5322 via the `email_address` crate) plus roster's policy.
//!
//! Policy on top of the syntax:
//! - the domain must contain a dot (`a@localhost` is refused: never a real mailbox in a directory);
//! - the domain is a hostname (RFC 5321): its ASCII characters are letters, digits, `-` and `.`
//!   (RFC 5322 would allow `a@iana/icann.org`), and its last label is not all digits
//!   (`a@192.168.0.1` is an IP address missing the literal's brackets);
//! - no quoted local part (`"john doe"@x.org`) and no domain literal (`a@[192.0.2.1]`) unless
//!   `allow_unusual` (`--allow-unusual-emails`); a literal must be an IPv4 address or
//!   `IPv6:` and an IPv6 address;
//! - local part at most 64 octets, whole address at most 254 octets (RFC 5321 path limits);
//! - no display-name forms (`Name <a@b.org>`, `<a@b.org>`), no comments (CFWS), no leading or
//!   trailing whitespace, no whitespace outside a quoted local part, and no control, format
//!   or line-separator characters anywhere ([`super::chars`]: zero-width space, bidirectional
//!   isolates, BOM, tag characters...), which `email_address` would otherwise take as ordinary
//!   non-ASCII letters.
//! - a quoted local part (with `allow_unusual`) is checked by [`quoted_local`], RFC 5322's
//!   `quoted-string` with RFC 6532's UTF-8: `email_address` refuses a quoted-pair of a space
//!   (`"test\ test"@iana.org`), which the RFCs allow.
//!
//! Internationalised addresses: a UTF-8 local part is accepted where `email_address` accepts
//! it; a non-ASCII domain, or one with an `xn--` label, must also pass IDNA ([`super::idn`]:
//! UTS #46 and IDNA 2008's repertoire, nothing IDNA would rewrite, 63/254 octets in ASCII form).
//!
//! Speed: [`check`] first tries [`fast_ok`], a single byte scan for ordinary ASCII addresses
//! (dot-atom local part, hostname-like domain without `xn--` labels). Only addresses it does not
//! recognise go through the full check, which calls the parser. See [`fast_ok`] for why both
//! agree.

use email_address::{EmailAddress, Options};

use super::chars::{self, Place};
use super::idn;

/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_OCTETS: usize = 64;
/// RFC 5321 path limit (256) minus the angle brackets.
pub const MAX_ADDRESS_OCTETS: usize = 254;
/// RFC 1035 label limit.
pub(crate) const MAX_LABEL_OCTETS: usize = 63;

/// Checks one address; `Err` holds the reason, phrased to follow the quoted address
/// (`"x@y" has no dot in the domain`).
pub fn check(addr: &str, allow_unusual: bool) -> Result<(), String> {
    if fast_ok(addr.as_bytes()) {
        return Ok(());
    }
    check_full(addr, allow_unusual)
}

/// RFC 5322 `atext` restricted to ASCII (letters, digits and ``!#$%&'*+-/=?^_`{|}~``).
const ATEXT: [bool; 128] = {
    let mut t = [false; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'/'
                    | b'='
                    | b'?'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
                    | b'~'
            );
        c += 1;
    }
    t
};

/// True when `a` is an ordinary ASCII address that the full check accepts.
///
/// Recognised shape: `dot-atom@label(.label)+` where the dot-atom uses ASCII `atext` only, every
/// label is 1–63 of `[A-Za-z0-9-]` neither starting nor ending with `-` nor starting with
/// `xn--` (an A-label, which IDNA must decode), the last label is not all digits, the local part
/// is 1–64 bytes and the whole address at most 254 bytes.
///
/// Why this implies acceptance by [`check_full`] (for either `allow_unusual`): such a string is
/// ASCII with no whitespace, control or invisible character, no `<`, `>`, `(`, `)`, `"`, `[`,
/// and exactly one `@`, so every pre-check passes and `rsplit_once('@')` yields the same parts
/// the scan used. In `email_address` 0.2.10 with display text off: there is no `" <"`, so no
/// display part; the local part is non-empty, ≤ 64, not quoted, and each dot-separated piece is
/// a non-empty run of `atext` (the crate's `is_atext` equals ours on ASCII, since
/// `char::is_alphanumeric` is `[A-Za-z0-9]` there); the domain is non-empty, ≤ 254, not a
/// literal, and each label is non-empty, starts and ends with an alphanumeric, is ≤ 63 and
/// all `atext`. The policy then holds: not quoted, not a literal, hostname characters, at
/// least one dot, a top-level label not all digits, lengths; and the domain, ASCII without an
/// `xn--` label, does not go to IDNA.
/// A unit test also checks the implication on random strings and on the isemail corpus.
pub(crate) fn fast_ok(a: &[u8]) -> bool {
    if a.len() > MAX_ADDRESS_OCTETS {
        return false;
    }
    // Local part: dot-atom.
    let mut i = 0;
    let mut prev_dot = true; // a dot may not come first
    loop {
        let Some(&b) = a.get(i) else { return false };
        if b == b'@' {
            break;
        }
        if b == b'.' {
            if prev_dot {
                return false;
            }
            prev_dot = true;
        } else if b < 128 && ATEXT[b as usize] {
            prev_dot = false;
        } else {
            return false;
        }
        i += 1;
    }
    if i == 0 || prev_dot || i > MAX_LOCAL_OCTETS {
        return false;
    }
    // Domain: hostname labels, at least two, the last not all digits.
    let mut label_len = 0usize;
    let mut digits_only = true;
    let mut last = 0u8;
    let mut dots = 0;
    let domain = &a[i + 1..];
    for (j, &b) in domain.iter().enumerate() {
        if b == b'.' {
            if label_len == 0 || last == b'-' {
                return false;
            }
            dots += 1;
            label_len = 0;
            digits_only = true;
        } else if b.is_ascii_alphanumeric() || (b == b'-' && label_len > 0) {
            // `xn--` starts an A-label: the full check decodes it.
            if label_len == 3 && b == b'-' && idn::is_a_label(&domain[j - 3..=j]) {
                return false;
            }
            label_len += 1;
            digits_only &= b.is_ascii_digit();
            if label_len > MAX_LABEL_OCTETS {
                return false;
            }
        } else {
            return false;
        }
        last = b;
    }
    dots > 0 && label_len > 0 && last != b'-' && !digits_only
}

/// The full check: parser plus policy. [`check`] is this with a fast path in front.
fn check_full(addr: &str, allow_unusual: bool) -> Result<(), String> {
    if addr.is_empty() {
        return Err("is empty".into());
    }
    if addr.starts_with(char::is_whitespace) || addr.ends_with(char::is_whitespace) {
        return Err("has leading or trailing whitespace".into());
    }
    if let Some(h) = chars::find(addr, Place::Identifier) {
        return Err(format!("contains {}", h.describe()));
    }
    // Never valid without display text: a domain cannot end with '>'.
    if addr.ends_with('>') && addr.contains('<') {
        return Err(if addr.starts_with('<') {
            "is wrapped in < >; give the bare address".into()
        } else {
            "is in \"Name <address>\" form; give the bare address".into()
        });
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err("has no @".into());
    };
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    let literal = domain.starts_with('[') && domain.ends_with(']');
    if domain.contains(char::is_whitespace) || (!quoted && local.contains(char::is_whitespace)) {
        return Err("contains whitespace".into());
    }
    if local.len() > MAX_LOCAL_OCTETS {
        return Err(format!(
            "has a local part (before the @) of {} bytes; the limit is {MAX_LOCAL_OCTETS}",
            local.len()
        ));
    }
    if addr.len() > MAX_ADDRESS_OCTETS {
        return Err(format!(
            "is {} bytes long; the limit is {MAX_ADDRESS_OCTETS}",
            addr.len()
        ));
    }
    let opts = Options {
        minimum_sub_domains: 0,
        allow_domain_literal: true,
        allow_display_text: false,
        allow_long_local_parts: false,
    };
    let parsed = if quoted {
        // The quoted local part is ours to check; the parser sees the domain behind a plain one.
        quoted_local(&local[1..local.len() - 1])?;
        EmailAddress::parse_with_options(&format!("x@{domain}"), opts)
    } else {
        EmailAddress::parse_with_options(addr, opts)
    };
    if parsed.is_err() {
        return Err(diagnose(local, domain, quoted, literal));
    }
    if literal && !is_ip_literal(&domain[1..domain.len() - 1]) {
        return Err("has a domain literal that is not an IPv4 or IPv6 address".into());
    }
    if quoted && !allow_unusual {
        return Err(
            "has a quoted local part (\"...\"@); use --allow-unusual-emails to accept it".into(),
        );
    }
    if literal && !allow_unusual {
        return Err(
            "has a domain literal ([...]) instead of a domain name; use --allow-unusual-emails to accept it"
                .into(),
        );
    }
    if !literal {
        // RFC 5321 domains are hostnames; RFC 5322's dot-atom would allow `a@iana/icann.org`.
        if let Some(c) = domain
            .chars()
            .find(|&c| c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(format!(
                "has {} in the domain; domain names have only letters, digits, - and .",
                show(c)
            ));
        }
        // Before the dot rule: `a@example．com` is a full-width dot, not a missing one.
        if idn::needs_check(domain) {
            idn::check(local, domain)?;
        }
        let Some((_, tld)) = domain.rsplit_once('.') else {
            return Err("has no dot in the domain".into());
        };
        if tld.bytes().all(|b| b.is_ascii_digit()) {
            return Err(
                "has an all-numeric top-level domain (an IP address must be written as [1.2.3.4] and needs --allow-unusual-emails)"
                    .into(),
            );
        }
    }
    Ok(())
}

/// RFC 5322 §3.2.4 `quoted-string` content, between the quotes: `qtext` (printable ASCII but
/// `"` and `\`, and with RFC 6532 any non-ASCII character), spaces, and `quoted-pair`: `\`
/// before a printable ASCII character or a space. Control characters were refused before.
fn quoted_local(inner: &str) -> Result<(), String> {
    if inner.is_empty() {
        return Err("has an empty quoted local part (\"\"@)".into());
    }
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                // RFC 6532 lets non-ASCII characters stand in qtext; they need no escaping,
                // and an escaped one is refused, as isemail's test cases expect.
                Some(n) if n == ' ' || n == '\t' || n.is_ascii_graphic() => {}
                Some(n) => {
                    return Err(format!(
                        "has {} after a \\ in the quoted local part, which cannot be escaped",
                        show(n)
                    ));
                }
                None => {
                    return Err(
                        "has a quoted local part whose closing quote is escaped by a \\".into(),
                    );
                }
            },
            '"' => {
                return Err(
                    "has a quote inside the quoted local part that is not escaped as \\\"".into(),
                );
            }
            ' ' | '\t' => {}
            c if c.is_ascii_graphic() || !c.is_ascii() => {}
            c => return Err(format!("contains {} in the quoted local part", show(c))),
        }
    }
    Ok(())
}

/// RFC 5321 address literals: `1.2.3.4` or `IPv6:...` (the general `tag:content` form is
/// never used by real mail systems).
fn is_ip_literal(inner: &str) -> bool {
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

/// `email_address`'s `is_atext` (any non-ASCII character counts), for messages only.
fn is_atext(c: char) -> bool {
    !c.is_ascii() || ATEXT[c as usize]
}

/// Why the parser refused an address, as precisely as cheap checks allow. Only picks the
/// message: the decision was the parser's.
fn diagnose(local: &str, domain: &str, quoted: bool, literal: bool) -> String {
    if local.is_empty() {
        return "has nothing before the @".into();
    }
    if domain.is_empty() {
        return "has nothing after the @".into();
    }
    if local.contains(['(', ')']) || (!literal && domain.contains(['(', ')'])) {
        return "contains a comment in parentheses".into();
    }
    if !quoted {
        if local.contains('@') {
            return "has more than one @".into();
        }
        if local.contains('"') {
            return "has quotes that do not enclose the whole part before the @".into();
        }
        if local.starts_with('.') || local.ends_with('.') {
            return "starts or ends the part before the @ with a dot".into();
        }
        if local.contains("..") {
            return "has two dots in a row before the @".into();
        }
        if let Some(c) = local.chars().find(|&c| c != '.' && !is_atext(c)) {
            return format!(
                "contains {} before the @, which is not allowed there",
                show(c)
            );
        }
    }
    if literal {
        return "has an invalid domain literal".into();
    }
    if domain.contains(['[', ']']) {
        return "has unbalanced [ ] in the domain".into();
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return "has an empty label in the domain (two dots in a row, or a dot at the start or end)"
                .into();
        }
        if label.len() > MAX_LABEL_OCTETS {
            return format!("has a domain label longer than {MAX_LABEL_OCTETS} bytes");
        }
        if !label.starts_with(char::is_alphanumeric) || !label.ends_with(char::is_alphanumeric) {
            return "has a domain label that starts or ends with something other than a letter or digit"
                .into();
        }
    }
    if let Some(c) = domain.chars().find(|&c| c != '.' && !is_atext(c)) {
        return format!(
            "contains {} in the domain, which is not allowed there",
            show(c)
        );
    }
    "is not a valid email address".into()
}

fn show(c: char) -> String {
    format!("{c:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn corpus() -> Vec<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isemail");
        let mut out = Vec::new();
        for f in [
            "isemail_tests_v3.05.json",
            "isemail_tests-original_v3.04.json",
        ] {
            let text = std::fs::read_to_string(format!("{dir}/{f}")).expect("corpus file");
            let v: serde_json::Value = serde_json::from_str(&text).expect("corpus json");
            for t in v["tests"].as_array().expect("tests") {
                let a = t
                    .get("address_decoded")
                    .or_else(|| t.get("address"))
                    .and_then(|a| a.as_str())
                    .expect("address");
                out.push(a.to_string());
            }
        }
        out
    }

    #[test]
    fn fast_path_implies_full_check_on_corpus() {
        let mut fast = 0;
        for a in corpus() {
            if fast_ok(a.as_bytes()) {
                fast += 1;
                assert_eq!(check_full(&a, false), Ok(()), "{a:?}");
            }
        }
        // The ordinary addresses of the corpus do take the fast path.
        assert!(
            fast >= 40,
            "only {fast} corpus addresses took the fast path"
        );
    }

    #[test]
    fn ordinary_addresses_take_the_fast_path() {
        for a in [
            "john.doe@example.com",
            "j+tag@mail.example.co.uk",
            "A-B_c@x-1.org",
            "x@a.b",
            "x@ab--cd.org",
            "x@axn--b.org",
            "x@xn-a.org",
        ] {
            assert!(fast_ok(a.as_bytes()), "{a}");
        }
        for a in [
            "x@localhost",
            "x@-a.org",
            "x@a-.org",
            "x@a..org",
            ".x@a.org",
            "x.@a.org",
            "\"x\"@a.org",
            "x@[1.2.3.4]",
            "jörg@a.org",
            "x@a_b.org",
            "x@192.168.0.1",
            "x@xn--mller-kva.de",
            "x@a.XN--mller-kva.de",
            "x@xn--0.org",
        ] {
            assert!(!fast_ok(a.as_bytes()), "{a}");
        }
    }

    proptest! {
        // XorShift: ChaCha, unoptimised in a debug build, was most of these tests' time.
        #![proptest_config(ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..ProptestConfig::with_cases(20_000)
        })]

        // Strings built from the characters that matter at the fast path's edges.
        #[test]
        fn fast_path_implies_full_check(s in r#"[a-cA-C0-9.\-_+!@"\[\]() <>é]{0,12}@?[a-c0-9.\-_]{0,12}"#) {
            if fast_ok(s.as_bytes()) {
                prop_assert_eq!(check_full(&s, false), Ok(()));
            }
        }

        #[test]
        fn fast_path_agrees_on_plausible_addresses(
            local in r"[a-zA-Z0-9!#%+\-_.~]{1,70}",
            domain in r"[a-z0-9\-]{1,8}(\.[a-z0-9\-_]{0,8}){0,3}",
        ) {
            let s = format!("{local}@{domain}");
            let full = check_full(&s, false);
            if fast_ok(s.as_bytes()) {
                prop_assert_eq!(full, Ok(()));
            } else if !idn::needs_check(&domain) {
                // On this ASCII shape the fast path refuses only what the full check refuses;
                // A-labels (`xn--`) are left to the full check on purpose.
                prop_assert!(full.is_err(), "{s:?} accepted by the full check only");
            }
        }

        // A-labels never take the fast path, whatever their case; other labels with hyphens do.
        #[test]
        fn a_labels_leave_the_fast_path(
            local in r"[a-z]{1,8}",
            prefix in r"[xXnN\-]{0,4}",
            rest in r"[a-z0-9]{1,8}",
        ) {
            let s = format!("{local}@{prefix}{rest}.org");
            let a_label = prefix.len() == 4 && prefix.eq_ignore_ascii_case("xn--");
            if a_label {
                prop_assert!(!fast_ok(s.as_bytes()), "{s:?}");
            }
            if fast_ok(s.as_bytes()) {
                prop_assert_eq!(check_full(&s, false), Ok(()));
            }
        }

        #[test]
        fn check_never_panics(s in "\\PC{0,40}") {
            let _ = check(&s, true);
            let _ = check(&s, false);
        }
    }
}
