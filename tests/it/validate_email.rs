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
