//! `email::check` on the isemail corpus (both versions) and on roster's policy cases.
//! Counts per category are printed (`cargo test --test validate_email -- --nocapture`).

use std::collections::BTreeMap;

use roster::validate::email;

struct Case {
    id: u64,
    address: String,
    category: String,
}

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/isemail/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).expect("corpus JSON");
    v["tests"]
        .as_array()
        .expect("tests array")
        .iter()
        .map(|t| Case {
            id: t["id"].as_u64().expect("id"),
            // Control characters are written as U+2400+n in `address`; the decoded form is the
            // real input.
            address: t
                .get("address_decoded")
                .or_else(|| t.get("address"))
                .and_then(|a| a.as_str())
                .expect("address")
                .to_string(),
            category: t["category"]
                .as_str()
                .expect("category")
                .trim_start_matches("ISEMAIL_")
                .to_string(),
        })
        .collect()
}

fn domain_has_dot(addr: &str) -> bool {
    addr.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'))
}

/// Accepted without and with allow_unusual, and the number of cases.
#[derive(Default, Debug, PartialEq)]
struct Count {
    strict: usize,
    lax: usize,
    total: usize,
}

/// Checks one corpus version and returns the counts per category.
fn run(file: &str, expected_total: usize) -> BTreeMap<String, Count> {
    let cases = load(file);
    assert_eq!(cases.len(), expected_total, "{file}: case count");
    let mut counts: BTreeMap<String, Count> = BTreeMap::new();
    for c in &cases {
        let strict = email::check(&c.address, false);
        let lax = email::check(&c.address, true);
        let entry = counts.entry(c.category.clone()).or_default();
        entry.total += 1;
        entry.strict += usize::from(strict.is_ok());
        entry.lax += usize::from(lax.is_ok());
        if std::env::var_os("ISEMAIL_LIST").is_some() && c.category != "ERR" {
            println!(
                "{file} #{} {} {:?}: {:?} / {:?}",
                c.id, c.category, c.address, strict, lax
            );
        }
        match c.category.as_str() {
            "ERR" => {
                assert!(
                    strict.is_err(),
                    "{file} #{}: accepted {:?}",
                    c.id,
                    c.address
                );
                assert!(
                    lax.is_err(),
                    "{file} #{}: accepted with allow_unusual {:?}",
                    c.id,
                    c.address
                );
            }
            "VALID_CATEGORY" if domain_has_dot(&c.address) => {
                assert_eq!(strict, Ok(()), "{file} #{}: {:?}", c.id, c.address);
                assert_eq!(lax, Ok(()), "{file} #{}: {:?}", c.id, c.address);
            }
            "VALID_CATEGORY" => {
                // isemail counts `test@io` as valid; roster's policy refuses dotless domains.
                assert_eq!(
                    strict,
                    Err("has no dot in the domain".to_string()),
                    "{file} #{}: {:?}",
                    c.id,
                    c.address
                );
                assert_eq!(strict, lax);
            }
            _ => {
                // Everything else is RFC-valid but unusual: allow_unusual never accepts less.
                if strict.is_ok() {
                    assert_eq!(lax, Ok(()), "{file} #{}: {:?}", c.id, c.address);
                }
            }
        }
    }
    println!("{file}:");
    for (cat, c) in &counts {
        println!(
            "  {cat:<15} accepted {:>3} / {:>3} ({:>3} with allow_unusual)",
            c.strict, c.total, c.lax
        );
    }
    counts
}

#[test]
fn isemail_v3_05() {
    let counts = run("isemail_tests_v3.05.json", 164);
    // 13 of 14: `test@io` has no dot in its domain.
    assert_eq!(
        (
            counts["VALID_CATEGORY"].strict,
            counts["VALID_CATEGORY"].total
        ),
        (13, 14)
    );
    assert_eq!(counts["ERR"].lax, 0);
}

#[test]
fn isemail_v3_04() {
    let counts = run("isemail_tests-original_v3.04.json", 279);
    assert_eq!(
        (
            counts["VALID_CATEGORY"].strict,
            counts["VALID_CATEGORY"].total
        ),
        (29, 29)
    );
    assert_eq!(counts["ERR"].lax, 0);
}

#[test]
fn unusual_forms_need_allow_unusual() {
    for a in [
        "\"john doe\"@example.com",
        "\"a\\\"b\"@example.com",
        "user@[192.0.2.1]",
        "user@[IPv6:2001:db8::1]",
    ] {
        let strict = email::check(a, false).expect_err(a);
        assert!(strict.contains("--allow-unusual-emails"), "{a}: {strict}");
        assert_eq!(email::check(a, true), Ok(()), "{a}");
    }
}

#[test]
fn policy_refusals_with_reasons() {
    let cases: &[(&str, &str)] = &[
        ("x@y", "has no dot in the domain"),
        ("john@localhost", "has no dot in the domain"),
        (
            "John Doe <john@example.com>",
            "is in \"Name <address>\" form",
        ),
        ("<john@example.com>", "is wrapped in < >"),
        (" john@example.com", "has leading or trailing whitespace"),
        ("john@example.com\t", "has leading or trailing whitespace"),
        ("john(comment)@example.com", "contains a comment"),
        ("(comment)john@example.com", "contains a comment"),
        ("john@example.com(comment)", "contains a comment"),
        ("jo hn@example.com", "contains whitespace"),
        ("jo\u{a0}hn@example.com", "contains whitespace"),
        (
            "\u{feff}john@example.com",
            "invisible formatting character (U+FEFF)",
        ),
        (
            "jo\u{200b}hn@example.com",
            "invisible formatting character (U+200B)",
        ),
        ("jo\u{85}hn@example.com", "control character (U+0085)"),
        ("john.example.com", "has no @"),
        ("@example.com", "nothing before the @"),
        ("john@", "nothing after the @"),
        ("a@b@example.com", "more than one @"),
        ("john..doe@example.com", "two dots in a row"),
        (".john@example.com", "with a dot"),
        ("john@example..com", "empty label"),
        ("john@-example.com", "starts or ends with"),
        ("first.last@sub.do,com", "contains ','"),
        ("", "is empty"),
        ("test@iana/icann.org", "has '/' in the domain"),
        ("john@exa_mple.com", "has '_' in the domain"),
        ("foobar@192.168.0.1", "all-numeric top-level domain"),
        ("test@iana.123", "all-numeric top-level domain"),
        ("test@[255.255.255.256]", "not an IPv4 or IPv6 address"),
        (
            "test@[IPv6:1111:2222:3333:4444:5555:6666:7777:888G]",
            "not an IPv4 or IPv6 address",
        ),
        (
            "test@[RFC-5322-domain-literal]",
            "not an IPv4 or IPv6 address",
        ),
    ];
    for (addr, want) in cases {
        for unusual in [false, true] {
            let got = email::check(addr, unusual).expect_err(addr);
            assert!(got.contains(want), "{addr:?}: got {got:?}, want {want:?}");
        }
    }
}

#[test]
fn length_limits_at_the_boundary() {
    let local64 = "a".repeat(64);
    assert_eq!(
        email::check(&format!("{local64}@example.com"), false),
        Ok(())
    );
    let err = email::check(&format!("{local64}b@example.com"), false).expect_err("65");
    assert!(err.contains("65 bytes") && err.contains("64"), "{err}");

    // Multi-byte: 32 × "é" is 32 characters but 64 octets; one more is 66.
    let e32 = "é".repeat(32);
    assert_eq!(email::check(&format!("{e32}@example.com"), false), Ok(()));
    assert!(email::check(&format!("{e32}é@example.com"), false).is_err());

    // Whole address: 254 octets accepted, 255 refused. Labels stay within 63.
    let total = |n: usize| {
        // "x@" + labels of 62 letters + ".org"; a trailing dot becomes a letter (label ≤ 63).
        let body_len = n - "x@".len() - ".org".len();
        let mut body: String = format!("{}.", "d".repeat(62))
            .repeat(body_len / 63 + 1)
            .chars()
            .take(body_len)
            .collect();
        if body.ends_with('.') {
            body.pop();
            body.push('e');
        }
        let a = format!("x@{body}.org");
        assert_eq!(a.len(), n);
        a
    };
    assert_eq!(email::check(&total(254), false), Ok(()));
    let err = email::check(&total(255), false).expect_err("255");
    assert!(err.contains("255 bytes") && err.contains("254"), "{err}");
}

#[test]
fn internationalised_addresses() {
    for a in [
        "jörg@müller.de",
        "用户@例子.广告",
        "δοκιμή@παράδειγμα.δοκιμή",
        "JOHN.DOE@EXAMPLE.COM",
        "user+tag@sub.example.co.uk",
        "o'brien@example.ie",
    ] {
        assert_eq!(email::check(a, false), Ok(()), "{a}");
    }
}

/// Runs `roster validate` on a CSV file (username,email,name) and returns the report entries.
fn validate_csv(csv: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let d = crate::support::tmp();
    crate::support::write(d.path(), "in.csv", csv);
    let mut args = vec!["validate", "in.csv", "--report", "r.jsonl", "--quiet"];
    args.extend_from_slice(extra);
    let o = crate::support::roster(d.path(), &args, &[]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    crate::support::jsonl(&d.path().join("r.jsonl"))
}

/// `(status, error)` of the report entry for `username`.
fn outcome(report: &[serde_json::Value], username: &str) -> (String, String) {
    let e = report
        .iter()
        .find(|e| e["username"] == username)
        .unwrap_or_else(|| panic!("{username} not in the report: {report:?}"));
    (
        e["status"].as_str().unwrap_or_default().to_string(),
        e["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// A domain label of `n` CJK characters, each followed by two ASCII letters: 5 UTF-8 octets
/// per group, more in its punycode (A-label) form, where each insertion among the ASCII
/// letters costs several digits.
fn mixed_label(n: u32, seed: u32) -> String {
    (0..n)
        .map(|i| {
            let c = char::from_u32(0x4E00 + seed + i * 1499).expect("CJK");
            format!("{c}{}", if i % 2 == 0 { "aa" } else { "bb" })
        })
        .collect()
}

fn ascii_form(domain: &str) -> String {
    idna::domain_to_ascii(domain).expect("valid IDN")
}

#[test]
fn idna_refuses_what_uts46_maps_or_forbids() {
    let cases: &[(&str, &str)] = &[
        // Not valid punycode.
        ("me@xn--0.tld", "xn--0"),
        ("me@XN--0.tld", "XN--0"),
        // Full-width full stop: IDNA rewrites it as ".".
        ("me@example\u{ff0e}com", "U+FF0E"),
        // Full-width letters.
        ("me@\u{ff45}xample.com", "U+FF45"),
        // Circled digit one: IDNA rewrites it as "1".
        ("me@\u{2460}.com", "U+2460"),
        // Emoji: UTS #46 lets them through, IDNA 2008 does not.
        ("me@a\u{1f600}b.com", "U+1F600"),
        ("me@xn--e28h.com", "U+1F600"),
        ("me@i\u{2764}u.ws", "U+2764"),
        // Not in NFC: IDNA would compose u + U+0308 into ü.
        ("me@mu\u{308}ller.de", "NFC"),
        // Left-to-right and right-to-left letters in one label (the bidirectional rule).
        ("me@a\u{5d0}.com", "IDNA"),
        // Another emoji, written as its A-label.
        ("me@xn--ls8h.la", "U+1F4A9"),
    ];
    for (addr, want) in cases {
        for unusual in [false, true] {
            let got = email::check(addr, unusual).expect_err(addr);
            assert!(got.contains(want), "{addr:?}: got {got:?}, want {want:?}");
        }
    }
}

#[test]
fn idna_accepts_valid_internationalised_domains() {
    for a in [
        "me@müller.de",
        "me@MÜLLER.DE",
        "me@xn--mller-kva.de",
        "me@XN--MLLER-KVA.de",
        "jörg@bücher.example",
        "me@παράδειγμα.δοκιμή",
        "me@例子.广告",
        "me@مثال.إختبار",
        "me@col·legi.cat",
        "me@straße.de",
    ] {
        assert_eq!(email::check(a, false), Ok(()), "{a}");
    }
}

#[test]
fn idna_length_limits_apply_to_the_ascii_form() {
    // 60 octets in UTF-8, 78 as an A-label.
    let label = mixed_label(12, 0);
    assert!(label.len() <= 63, "{}", label.len());
    let ascii = ascii_form(&format!("{label}.cn"));
    let a_label = ascii.split('.').next().expect("label");
    assert!(a_label.len() > 63, "{a_label}");
    let err = email::check(&format!("me@{label}.cn"), false).expect_err("long A-label");
    assert!(err.contains(a_label) && err.contains("63"), "{err}");

    // Four labels of 45 octets (A-labels of 60) and a 64-octet local part: 251 octets as
    // written, 311 in ASCII form.
    let domain = format!(
        "{}.{}.{}.{}.cn",
        mixed_label(9, 0),
        mixed_label(9, 1),
        mixed_label(9, 2),
        mixed_label(9, 3)
    );
    let ascii = ascii_form(&domain);
    assert!(ascii.split('.').all(|l| l.len() <= 63), "{ascii}");
    let addr = format!("{}@{domain}", "a".repeat(64));
    assert!(addr.len() <= 254, "{}", addr.len());
    let ascii_len = 65 + ascii.len();
    assert!(ascii_len > 254, "{ascii_len}");
    let err = email::check(&addr, false).expect_err("long ASCII form");
    assert!(
        err.contains(&format!("{ascii_len} bytes")) && err.contains("254"),
        "{err}"
    );
}

#[test]
fn invisible_characters_by_category_in_local_part_and_domain() {
    // Format (Cf) characters the old list missed: isolates, Arabic letter mark, Mongolian
    // vowel separator, interlinear annotation, tag characters.
    for c in [
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{61c}',
        '\u{180e}',
        '\u{fff9}',
        '\u{fffa}',
        '\u{fffb}',
        '\u{e0001}',
        '\u{e0041}',
        '\u{e007f}',
        // And those it had.
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{202e}',
        '\u{ad}',
        '\u{feff}',
    ] {
        let code = format!("U+{:04X}", c as u32);
        for addr in [
            format!("jo{c}hn@example.com"),
            format!("john@exa{c}mple.com"),
            format!("jörg@bü{c}cher.example"),
        ] {
            for unusual in [false, true] {
                let got = email::check(&addr, unusual).expect_err(&addr);
                assert!(got.contains(&code), "{addr:?}: {got}");
            }
        }
    }
}

#[test]
fn quoted_pairs_follow_the_rfc() {
    for a in [
        r#""test\ test"@iana.org"#,
        r#""test\\test"@iana.org"#,
        r#""test\"test"@iana.org"#,
        r#""\a"@iana.org"#,
        r#""jörg\ müller"@example.com"#,
    ] {
        assert_eq!(email::check(a, true), Ok(()), "{a}");
        let strict = email::check(a, false).expect_err(a);
        assert!(strict.contains("--allow-unusual-emails"), "{a}: {strict}");
    }
    for (a, want) in [
        (r#""test\"@iana.org"#, "quoted"),
        (r#""test"test"@iana.org"#, "quote"),
        (r#""test\\"test"@iana.org"#, "quote"),
    ] {
        for unusual in [false, true] {
            let got = email::check(a, unusual).expect_err(a);
            assert!(got.contains(want), "{a}: {got}");
        }
    }
}

/// Items 4, 5 and 7 of issue 12 through the binary: each bad row rejected with its origin,
/// field and reason, the good ones accepted.
#[test]
fn email_rules_through_the_binary() {
    let long_label = mixed_label(12, 0);
    let csv = format!(
        "username,email,name\n\
         punycode,me@xn--0.tld,P\n\
         fullwidth,me@\u{ff45}xample.com,F\n\
         circled,me@\u{2460}.com,C\n\
         emoji,me@a\u{1f600}b.com,E\n\
         longlabel,me@{long_label}.cn,L\n\
         isolate,jo\u{2066}hn@example.com,I\n\
         tag,john@exa\u{e0041}mple.com,T\n\
         quotedpair,\"\"\"test\\ test\"\"@iana.org\",Q\n\
         idn,jörg@müller.de,J\n\
         alabel,me@xn--mller-kva.de,A\n"
    );
    let check = |report: &[serde_json::Value], quoted_ok: bool| {
        for (user, line, want) in [
            ("punycode", 2, "xn--0"),
            ("fullwidth", 3, "U+FF45"),
            ("circled", 4, "U+2460"),
            ("emoji", 5, "U+1F600"),
            ("longlabel", 6, "63"),
            ("isolate", 7, "U+2066"),
            ("tag", 8, "U+E0041"),
        ] {
            let (status, error) = outcome(report, user);
            assert_eq!(status, "rejected", "{user}: {error}");
            assert!(
                error.starts_with("email: ") && error.contains(want),
                "{user}: {error}"
            );
            let e = report.iter().find(|e| e["username"] == user).expect("row");
            assert_eq!(e["origin"], format!("in.csv:{line}"), "{user}");
        }
        for user in ["idn", "alabel"] {
            assert_eq!(
                outcome(report, user),
                ("ok".into(), String::new()),
                "{user}"
            );
        }
        let (status, error) = outcome(report, "quotedpair");
        if quoted_ok {
            assert_eq!((status.as_str(), error.as_str()), ("ok", ""));
        } else {
            assert_eq!(status, "rejected");
            assert!(error.contains("--allow-unusual-emails"), "{error}");
        }
        assert_eq!(report.len(), 10);
    };
    check(&validate_csv(&csv, &[]), false);
    check(&validate_csv(&csv, &["--allow-unusual-emails"]), true);
}
