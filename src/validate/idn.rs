//! Internationalised email domains: IDNA, with the length limits on the ASCII form.
//!
//! Used by [`super::email`] for domains that are not ASCII or have an `xn--` label; ASCII
//! hostnames need none of it (UTS #46 only lowercases them).
//!
//! - UTS #46 through the `idna` crate (the implementation `url` uses): punycode (`xn--0` is
//!   refused), the bidirectional rule, joiners, hyphens at a label's ends, a leading combining
//!   mark.
//! - No rewriting: a character that UTS #46 maps (full-width `．` to `.`, `①` to `1`, `ﬁ` to
//!   `fi`), ignores (soft hyphen, variation selectors) or disallows is refused, and so is a
//!   domain not in Unicode NFC. Only uppercase is accepted, because domains ignore case and
//!   lowercasing is what IDNA does with it. A silent rewrite would store an address the person
//!   never wrote; a clear rejection lets a person fix the source.
//! - IDNA 2008's repertoire (RFC 5892): UTS #46 lets symbols through for browsers (`i❤.ws`),
//!   IDNA 2008 and registries do not. A character must be a letter, a combining mark or a
//!   decimal digit (not one of RFC 5892's exceptions, ignorable blocks or old Hangul jamo), or
//!   one of the exceptions allowed in context (RFC 5892 appendix A: `l·l`, Greek keraia,
//!   Hebrew geresh, katakana middle dot), whose rules are checked. (Appendix A's rule against
//!   mixing the two sets of Arabic-Indic digits is the bidirectional rule's too.)
//! - Lengths on the ASCII form: a label at most 63 octets as an A-label, the whole address at
//!   most 254 octets with the domain in ASCII form (and, as for any address, as written).

use icu_normalizer::uts46::Uts46MapperBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::{GeneralCategory, Script};
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use super::email::{MAX_ADDRESS_OCTETS, MAX_LABEL_OCTETS};

/// True when `domain` needs [`check`]: non-ASCII, or an `xn--` (A-label) label.
pub(crate) fn needs_check(domain: &str) -> bool {
    !domain.is_ascii() || domain.split('.').any(|l| is_a_label(l.as_bytes()))
}

/// `xn--` at the start of a label, in any case.
pub(crate) fn is_a_label(label: &[u8]) -> bool {
    label.len() >= 4 && label[..4].eq_ignore_ascii_case(b"xn--")
}

/// Checks an internationalised domain (already a valid RFC 5322 domain of hostname
/// characters); `Err` holds the reason, phrased to follow the quoted address.
pub(crate) fn check(local: &str, domain: &str) -> Result<(), String> {
    no_mapping(domain)?;
    let uts46 = Uts46::new();
    let ascii = match uts46.to_ascii(
        domain.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
        DnsLength::Ignore,
    ) {
        Ok(a) => a.into_owned(),
        Err(_) => return Err(refused(&uts46, domain)),
    };
    let (unicode, decoded) =
        uts46.to_unicode(ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::Allow);
    if decoded.is_err() {
        // to_ascii accepted it, so its output decodes; kept as a refusal rather than a panic.
        return Err(refused(&uts46, domain));
    }
    for label in unicode.split('.') {
        repertoire(label)?;
    }
    if let Some(label) = ascii.split('.').find(|l| l.len() > MAX_LABEL_OCTETS) {
        return Err(format!(
            "has a domain label whose ASCII (IDNA) form {label:?} is {} bytes; the limit is \
             {MAX_LABEL_OCTETS}",
            label.len()
        ));
    }
    let len = local.len() + 1 + ascii.len();
    if len > MAX_ADDRESS_OCTETS {
        return Err(format!(
            "is {len} bytes long with its domain in ASCII (IDNA) form ({ascii:?}); the limit is \
             {MAX_ADDRESS_OCTETS}"
        ));
    }
    Ok(())
}

/// Refuses what UTS #46 would rewrite, except lowercasing.
fn no_mapping(domain: &str) -> Result<(), String> {
    let mapper = Uts46MapperBorrowed::new();
    // Valid: UTS #46's validity criteria (status valid or deviation, and NFC) leave it as is.
    let kept = |c: char| {
        let mut m = mapper.normalize_validate(std::iter::once(c));
        m.next() == Some(c) && m.next().is_none()
    };
    // The domain with uppercase lowered where UTS #46 lowers it; any other change refused.
    let mut lowered = String::with_capacity(domain.len());
    for c in domain.chars() {
        if c.is_ascii() {
            lowered.push(c.to_ascii_lowercase());
        } else if kept(c) {
            lowered.push(c);
        } else if c.is_uppercase()
            // A case pair, not a lookalike that lowercases to another letter (the Kelvin sign
            // K to k, the ohm sign Ω to ω).
            && c.to_lowercase().flat_map(char::to_uppercase).eq(std::iter::once(c))
            && c.to_lowercase().all(|l| l.is_ascii() || kept(l))
        {
            lowered.extend(c.to_lowercase());
        } else {
            let to: String = mapper.map_normalize(std::iter::once(c)).collect();
            let what = if to.contains('\u{fffd}') {
                "which IDNA (UTS #46) does not allow in domain names".to_string()
            } else if to.is_empty() {
                "which IDNA (UTS #46) would silently drop".to_string()
            } else {
                format!("which IDNA (UTS #46) would rewrite as {to:?}")
            };
            return Err(format!("has {:?} ({}) in the domain, {what}", c, code(c)));
        }
    }
    if !mapper
        .normalize_validate(lowered.chars())
        .eq(lowered.chars())
    {
        let nfc: String = mapper.map_normalize(domain.chars()).collect();
        return Err(format!(
            "has a domain that is not in Unicode normalization form C (NFC); IDNA would rewrite \
             it as {nfc:?}"
        ));
    }
    Ok(())
}

/// Why UTS #46 refused `domain`, naming the label where one alone is refused.
fn refused(uts46: &Uts46, domain: &str) -> String {
    let alone = |label: &str| {
        uts46
            .to_ascii(
                label.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::CheckFirstLast,
                DnsLength::Ignore,
            )
            .is_err()
    };
    match domain.split('.').find(|l| alone(l)) {
        Some(l) if is_a_label(l.as_bytes()) => format!(
            "has {l:?} in the domain, which is not a valid IDNA A-label (punycode for a \
             non-ASCII label)"
        ),
        Some(l) => format!(
            "has a domain label {l:?} that IDNA (UTS #46) refuses (a combining mark first, a \
             joiner out of place, or left-to-right and right-to-left letters mixed)"
        ),
        None => "has a domain IDNA (UTS #46) refuses: its labels mix right-to-left and \
                 left-to-right text in a way the bidirectional rule forbids"
            .into(),
    }
}

/// RFC 5892 §2.6 exceptions, PVALID.
fn pvalid_exception(c: char) -> bool {
    matches!(
        c,
        '\u{df}' | '\u{3c2}' | '\u{6fd}' | '\u{6fe}' | '\u{f0b}' | '\u{3007}'
    )
}

/// DISALLOWED whatever their category: RFC 5892 §2.6 exceptions, §2.8 ignorable blocks
/// (combining marks for symbols, musical symbols), §2.9 old Hangul jamo.
fn disallowed_exception(c: char) -> bool {
    matches!(c,
        '\u{640}' | '\u{7fa}' | '\u{302e}' | '\u{302f}' | '\u{3031}'..='\u{3035}' | '\u{303b}'
        | '\u{20d0}'..='\u{20ff}' | '\u{1d100}'..='\u{1d24f}'
        | '\u{1100}'..='\u{11ff}' | '\u{a960}'..='\u{a97f}' | '\u{d7b0}'..='\u{d7ff}')
}

/// IDNA 2008's repertoire on one label in Unicode form (see the module documentation).
fn repertoire(label: &str) -> Result<(), String> {
    if label.is_ascii() {
        return Ok(());
    }
    let gc = CodePointMapData::<GeneralCategory>::new();
    let script = CodePointMapData::<Script>::new();
    let chars: Vec<char> = label.chars().collect();
    let context = |i: usize| -> bool {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        match chars[i] {
            // Catalan: l·l.
            '\u{b7}' => prev == Some('l') && next == Some('l'),
            // Greek lower numeral sign, before a Greek letter.
            '\u{375}' => next.is_some_and(|n| script.get(n) == Script::Greek),
            // Hebrew geresh and gershayim, after a Hebrew letter.
            '\u{5f3}' | '\u{5f4}' => prev.is_some_and(|p| script.get(p) == Script::Hebrew),
            // Katakana middle dot, in a label with Japanese letters.
            '\u{30fb}' => chars.iter().any(|&c| {
                c != '\u{30fb}'
                    && matches!(
                        script.get(c),
                        Script::Hiragana | Script::Katakana | Script::Han
                    )
            }),
            _ => true,
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii() {
            continue;
        }
        if matches!(c, '\u{b7}' | '\u{375}' | '\u{5f3}' | '\u{5f4}' | '\u{30fb}') {
            if !context(i) {
                return Err(format!(
                    "has {:?} ({}) in the domain where IDNA 2008 does not allow it (for \
                     example, the middle dot only between two l, as in Catalan)",
                    c,
                    code(c)
                ));
            }
            continue;
        }
        let letter_digit = matches!(
            gc.get(c),
            GeneralCategory::UppercaseLetter
                | GeneralCategory::LowercaseLetter
                | GeneralCategory::TitlecaseLetter
                | GeneralCategory::ModifierLetter
                | GeneralCategory::OtherLetter
                | GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::DecimalNumber
        );
        if !(pvalid_exception(c) || letter_digit && !disallowed_exception(c)) {
            return Err(format!(
                "has {:?} ({}) in the domain; domain names (IDNA 2008) have only letters, \
                 digits, combining marks and -",
                c,
                code(c)
            ));
        }
    }
    Ok(())
}

fn code(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(domain: &str) -> Result<(), String> {
        check("me", domain)
    }

    #[test]
    fn valid_domains() {
        for d in [
            "müller.de",
            "MÜLLER.DE",
            "Müller.De",
            "xn--mller-kva.de",
            "XN--MLLER-KVA.DE",
            "παράδειγμα.δοκιμή",
            "ΠΑΡΆΔΕΙΓΜΑ.gr",
            "例子.广告",
            "مثال.إختبار",
            "col·legi.cat",
            "straße.de",
            "ab--cd.de",
            "ᏣᎳᎩ.example",
            "ファミリー・マート.jp",
            "مثال٣٤.example",
            "۳۴.example",
            "ʹ.example",
        ] {
            assert_eq!(ok(d), Ok(()), "{d}");
        }
    }

    #[test]
    fn refused_domains_name_the_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "xn--0.tld",
                "\"xn--0\" in the domain, which is not a valid IDNA A-label",
            ),
            ("a.xn--.tld", "xn--"),
            (
                "example\u{ff0e}com",
                "U+FF0E) in the domain, which IDNA (UTS #46) would rewrite as \".\"",
            ),
            ("\u{2460}.com", "would rewrite as \"1\""),
            ("\u{fb01}sh.com", "would rewrite as \"fi\""),
            ("a\u{fe0f}b.com", "would silently drop"),
            ("a\u{2126}b.com", "would rewrite as \"ω\""),
            ("\u{212a}.com", "would rewrite as \"k\""),
            (
                "\u{1f600}.com",
                "'😀' (U+1F600) in the domain; domain names (IDNA 2008)",
            ),
            ("xn--e28h.com", "U+1F600"),
            ("i\u{2764}.ws", "U+2764"),
            ("a\u{2202}b.com", "U+2202"),
            ("\u{645}\u{640}\u{645}.com", "U+0640"),
            (
                "mu\u{308}ller.de",
                "not in Unicode normalization form C (NFC); IDNA would rewrite it as \"müller.de\"",
            ),
            ("a\u{5d0}.com", "label \"aא\" that IDNA (UTS #46) refuses"),
            ("x\u{b7}y.cat", "U+00B7"),
            ("\u{375}a.gr", "U+0375"),
            ("a\u{30fb}b.jp", "U+30FB"),
            // The two sets of Arabic-Indic digits mixed: the bidirectional rule refuses it.
            (
                "\u{645}\u{663}\u{6f3}.example",
                "\"م٣۳\" that IDNA (UTS #46) refuses",
            ),
            ("\u{1100}\u{1161}x.kr", "normalization"),
            ("\u{ac00}\u{302e}.kr", "U+302E"),
        ];
        for (d, want) in cases {
            let got = ok(d).expect_err(d);
            assert!(got.contains(want), "{d:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn ascii_form_lengths() {
        // Labels "m…mü" whose A-label is 63 and 64 octets: the second is refused.
        let a_label = |k: usize| {
            let u = format!("{}ü", "m".repeat(k));
            let a = idna::domain_to_ascii(&u).expect("ascii");
            (u, a.len())
        };
        let k63 = (40..63)
            .find(|&k| a_label(k).1 == 63)
            .expect("a 63-octet A-label");
        let (u63, _) = a_label(k63);
        assert_eq!(ok(&format!("{u63}.de")), Ok(()));
        let (u64_, n) = a_label(k63 + 1);
        assert_eq!(n, 64);
        let err = ok(&format!("{u64_}.de")).expect_err("64");
        assert!(err.contains("is 64 bytes; the limit is 63"), "{err}");
        // The whole address ("me@" + domain): 254 octets in ASCII form accepted, 255 refused,
        // though both are shorter as written.
        let domain = |n: usize| {
            // "me@" (3) + "xn--tda" (7, for "ü") + "." + body + ".de" (3)
            let body_len = n - 14;
            let mut body = String::new();
            while body.len() < body_len {
                if !body.is_empty() {
                    body.push('.');
                }
                let take = (body_len - body.len()).min(62);
                body.push_str(&"d".repeat(take));
            }
            format!("ü.{body}.de")
        };
        let d254 = domain(254);
        assert_eq!(3 + idna::domain_to_ascii(&d254).expect("ascii").len(), 254);
        assert_eq!(ok(&d254), Ok(()));
        let d255 = domain(255);
        assert!(3 + d255.len() < 255);
        let err = ok(&d255).expect_err("255");
        assert!(
            err.contains("is 255 bytes long") && err.contains("254"),
            "{err}"
        );
    }

    #[test]
    fn which_domains_need_the_check() {
        assert!(!needs_check("example.com"));
        assert!(!needs_check("ab--cd.example.com"));
        assert!(needs_check("xn--mller-kva.de"));
        assert!(needs_check("a.XN--MLLER-KVA.de"));
        assert!(needs_check("müller.de"));
    }
}
