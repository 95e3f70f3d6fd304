//! The LDIF reader against third-party LDIF: OpenLDAP's test data, the RFC 2849 examples
//! (as printed and corrected) and python-ldap's test vectors (tests/data/ldif, see its README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use roster::model::{BadRecord, Change, FieldValue, ModKind, ModOp, RawRecord, RawText};
use roster::source::ldif::{LdifSource, parse_dn};
use roster::source::{Source, SourceItem, SourceOptions};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ldif")
        .join(rel)
}

fn drain(mut src: LdifSource) -> Vec<SourceItem> {
    let mut items = Vec::new();
    while let Some(item) = src.next_item().expect("no I/O error") {
        items.push(item);
    }
    items
}

fn read_file(rel: &str) -> Vec<SourceItem> {
    let path = data(rel);
    let src = LdifSource::open(path.to_str().unwrap(), &SourceOptions::default()).unwrap();
    drain(src)
}

/// Reads LDIF text (as if it were the file `name` in `dir`).
fn read_text(text: &str, name: &str, dir: Option<&Path>) -> Vec<SourceItem> {
    let src = LdifSource::from_reader(
        std::io::Cursor::new(text.as_bytes().to_vec()),
        name,
        dir.map(Path::to_path_buf),
        // The examples' photos are written to temporary folders.
        &SourceOptions {
            allow_file_urls: Some(std::env::temp_dir()),
            ..SourceOptions::default()
        },
    );
    drain(src)
}

fn records(items: &[SourceItem]) -> Vec<&RawRecord> {
    items
        .iter()
        .filter_map(|i| match i {
            SourceItem::Record(r) => Some(r),
            SourceItem::Bad(_) => None,
        })
        .collect()
}

fn bads(items: &[SourceItem]) -> Vec<&BadRecord> {
    items
        .iter()
        .filter_map(|i| match i {
            SourceItem::Bad(b) => Some(b),
            SourceItem::Record(_) => None,
        })
        .collect()
}

fn texts(vals: &[FieldValue]) -> Vec<String> {
    vals.iter()
        .map(|v| v.text().expect("text").to_owned())
        .collect()
}

fn attr(r: &RawRecord, name: &str) -> Vec<String> {
    texts(
        r.attrs
            .get(name)
            .unwrap_or_else(|| panic!("{} has no {name}", r.origin)),
    )
}

fn by_dn<'a>(recs: &[&'a RawRecord], dn: &str) -> &'a RawRecord {
    recs.iter()
        .find(|r| r.dn.as_deref() == Some(dn))
        .unwrap_or_else(|| panic!("no record {dn}"))
}

fn all_problems(b: &BadRecord) -> String {
    roster::model::problems_text(&b.problems)
}

#[derive(Debug, PartialEq)]
enum Kind {
    Entry,
    Modify,
    Delete,
}

fn kind(r: &RawRecord) -> Kind {
    match r.change {
        Change::Entry => Kind::Entry,
        Change::Modify(_) => Kind::Modify,
        Change::Delete => Kind::Delete,
    }
}

#[test]
fn openldap_files_parse_with_the_right_counts() {
    // (file, entries, modify records, delete records), from the corpus README table.
    let cases = [
        ("openldap/test.ldif", 19, 0, 0),
        ("openldap/test-dn.ldif", 35, 0, 0),
        ("openldap/test-compmatch.ldif", 20, 0, 0),
        ("openldap/test-whoami.ldif", 22, 0, 0),
        ("openldap/nis_sample.ldif", 1265, 0, 0),
        ("openldap/its8800-db.ldif", 305, 0, 0),
        ("openldap/otp-hotp.ldif", 0, 5, 0),
        ("openldap/its4184-mods.ldif", 0, 3, 0),
        // 6 modify, 1 add (an Entry), 1 delete. This copy has no modrdn record (the
        // README's feature list mentions one); modrdn is covered by RFC 2849 example 6.
        ("openldap/test-modify.ldif", 1, 6, 1),
    ];
    for (file, entries, modifies, deletes) in cases {
        let items = read_file(file);
        let bad = bads(&items);
        assert!(bad.is_empty(), "{file}: {bad:#?}");
        let recs = records(&items);
        let count = |k: Kind| recs.iter().filter(|r| kind(r) == k).count();
        assert_eq!(
            (count(Kind::Entry), count(Kind::Modify), count(Kind::Delete)),
            (entries, modifies, deletes),
            "{file}"
        );
        for r in &recs {
            assert!(r.dn.is_some(), "{file}: {}", r.origin);
            assert!(matches!(&r.raw, RawText::Text(t) if t.ends_with('\n')));
        }
    }
}

#[test]
fn openldap_constraint_files_parse() {
    let dir = data("openldap/constraint");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 39);
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let items =
            drain(LdifSource::open(f.to_str().unwrap(), &SourceOptions::default()).unwrap());
        assert!(bads(&items).is_empty(), "{name}: {items:#?}");
        let recs = records(&items);
        if ["root.ldif", "user.ldif", "user2.ldif"].contains(&name.as_str()) {
            assert!(
                !recs.is_empty() && recs.iter().all(|r| kind(r) == Kind::Entry),
                "{name}"
            );
        } else {
            // t_ok_*, t_fail_*, tn_*: one modify record each.
            assert_eq!(recs.len(), 1, "{name}");
            assert_eq!(kind(recs[0]), Kind::Modify, "{name}");
        }
    }
}

#[test]
fn test_ldif_values_decode_exactly() {
    let items = read_file("openldap/test.ldif");
    let recs = records(&items);
    let file = data("openldap/test.ldif").display().to_string();

    // The lead comment and the embedded comment belong to the first record's text.
    let first = recs[0];
    assert_eq!(first.origin.as_str(), format!("{file}:2"));
    let RawText::Text(raw) = &first.raw else {
        panic!()
    };
    assert!(raw.starts_with(
        "#LEAD COMMENT\ndn: cn=All Staff,ou=Groups,dc=example,dc=com\n#EMBEDDED COMMENT\n"
    ));
    // A value folded in the middle of a word.
    assert!(
        attr(first, "member").contains(
            &"cn=Barbara Jensen,ou=Information Technology Division,ou=People,dc=example,dc=com"
                .to_string()
        )
    );

    // Folded DN; base64 value with a leading and a trailing space.
    let babs = by_dn(
        &recs,
        "cn=Barbara Jensen,ou=Information Technology Division,ou=People,dc=example,dc=com",
    );
    assert_eq!(babs.origin.as_str(), format!("{file}:41"));
    assert_eq!(
        babs.attrs.get("sn").unwrap(),
        &[FieldValue::Text(" Jensen ".into())]
    );
    assert_eq!(attr(babs, "userPassword"), ["bjensen"]);
    assert_eq!(attr(babs, "cn"), ["Barbara Jensen", "Babs Jensen"]);
    assert_eq!(
        attr(babs, "postalAddress"),
        ["ITD Prod Dev & Deployment $ 535 W. William St. Room 4212 $ Anytown, MI 48103-4943"]
    );
    // Attribute names keep their spelling; lookups ignore case.
    assert!(babs.attrs.names().any(|n| n == "objectClass"));
    assert_eq!(attr(babs, "OBJECTCLASS"), ["OpenLDAPperson"]);

    // Two long base64 values that decode to (mojibake) UTF-8: kept as text, every byte.
    let itd = by_dn(
        &recs,
        "ou=Information Technology Division,ou=People,dc=example,dc=com",
    );
    let desc = itd.attrs.get("description").unwrap();
    assert_eq!(desc.len(), 2);
    assert!(desc.iter().all(|v| matches!(v, FieldValue::Text(_))));
    assert_eq!(
        desc.iter().map(|v| v.bytes().len()).collect::<Vec<_>>(),
        [4976, 2983]
    );
    assert!(desc[0].bytes().starts_with(b"h\xc3\x83\xc2\x83"));
    // The RDN value is part of the entry: ou is there (the entry has it itself, too).
    assert_eq!(attr(itd, "ou"), ["Information Technology Division"]);
}

#[test]
fn test_dn_ldif_dn_forms() {
    let items = read_file("openldap/test-dn.ldif");
    let recs = records(&items);
    let must = by_dn(&recs, "cn=Must Succeed,ou=LDAPv3,dc=example,dc=com");
    let member = attr(must, "member");
    // The empty value `member: ` is kept.
    assert!(member.contains(&String::new()));
    for dn in &member {
        assert!(parse_dn(dn).is_ok(), "{dn:?} should parse");
    }
    // A non-ASCII DN written with hex pairs.
    assert_eq!(
        parse_dn("CN=Lu\\C4\\8Di\\C4\\87").unwrap(),
        vec![vec![("CN".to_string(), "Lučić".to_string())]]
    );
    assert!(member.contains(&"CN=Lu\\C4\\8Di\\C4\\87".to_string()));
    let smith = parse_dn("CN=John Smith\\, III,DC=example,DC=net").unwrap();
    assert_eq!(
        smith[0],
        vec![("CN".to_string(), "John Smith, III".to_string())]
    );
    assert_eq!(
        parse_dn("OU=Sales\\; Data\\+Algorithms,DC=example,DC=net").unwrap()[0][0].1,
        "Sales; Data+Algorithms"
    );
    assert_eq!(
        parse_dn("CN=Before\\0dAfter,DC=example,DC=net").unwrap()[0][0].1,
        "Before\rAfter"
    );
    assert_eq!(
        parse_dn("CN=\\#John Smith\\ ,DC=example,DC=net").unwrap()[0][0].1,
        "#John Smith "
    );
    let multi = parse_dn("OU=Sales+CN=J. Smith,DC=example,DC=net").unwrap();
    assert_eq!(multi.len(), 3);
    assert_eq!(multi[0].len(), 2);
    for dn in attr(must, "seeAlso") {
        assert!(parse_dn(&dn).is_ok(), "{dn:?}");
    }
    let should = by_dn(&recs, "cn=Should Succeed,ou=LDAPv3,dc=example,dc=com");
    for dn in attr(should, "member") {
        assert!(parse_dn(&dn).is_ok(), "{dn:?}");
    }
    assert_eq!(parse_dn("1.1.1=").unwrap()[0][0].1, "");
    // Every `Must Fail N` member value is refused.
    let mut failed = 0;
    for r in &recs {
        let dn = r.dn.as_deref().unwrap();
        if dn.starts_with("cn=Must Fail ")
            && let Some(vals) = r.attrs.get("member")
        {
            for v in texts(vals) {
                assert!(parse_dn(&v).is_err(), "{dn}: {v:?} should not parse");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 17);
    // RFC 1779 spaces after commas are accepted (nis_sample and RFC 2849 use them).
    assert_eq!(parse_dn("UID=jsmith, O=example, C=US").unwrap().len(), 3);
}

#[test]
fn test_modify_ldif_change_records() {
    let items = read_file("openldap/test-modify.ldif");
    let recs = records(&items);
    assert_eq!(recs.len(), 8);
    let op = |kind, attr: &str, vals: &[&str]| ModOp {
        kind,
        attr: attr.to_string(),
        values: vals.iter().map(|v| FieldValue::from(*v)).collect(),
    };

    // The last section has no closing '-': accepted at the end of a record.
    let james = recs[0];
    assert_eq!(
        james.dn.as_deref(),
        Some("cn=James A Jones 1,ou=Alumni Association,ou=People,dc=example,dc=com")
    );
    assert_eq!(
        james.change,
        Change::Modify(vec![
            op(ModKind::Add, "drink", &["Pils"]),
            op(ModKind::Add, "drink", &["Orange Juice"]),
            op(ModKind::Delete, "drink", &["Pils"]),
            op(ModKind::Delete, "sn", &["Jones"]),
            op(ModKind::Add, "sn", &["Jones"]),
        ])
    );
    // attrs = the RDN, then add/replace values.
    assert_eq!(
        james.attrs.names().collect::<Vec<_>>(),
        ["cn", "drink", "sn"]
    );
    assert_eq!(attr(james, "cn"), ["James A Jones 1"]);
    assert_eq!(attr(james, "drink"), ["Pils", "Orange Juice"]);

    // The folded comment (`# EMBEDDED COMMENT` + ` CONTINUED`) is skipped, and kept in raw.
    let bjorn = recs[1];
    assert_eq!(
        bjorn.change,
        Change::Modify(vec![
            op(
                ModKind::Replace,
                "description",
                &["The replaced multiLineDescription $ Blah Woof."]
            ),
            op(ModKind::Replace, "drink", &["Iced Tea", "Mad Dog 20/20"]),
        ])
    );
    let RawText::Text(raw) = &bjorn.raw else {
        panic!()
    };
    assert!(raw.contains("# EMBEDDED COMMENT\n CONTINUED\nreplace: description\n"));
    assert!(bjorn.origin.as_str().ends_with(":23"));

    // Folded values inside a modify section.
    let Change::Modify(ops) = &recs[2].change else {
        panic!()
    };
    assert_eq!(ops.len(), 4);
    assert_eq!(
        texts(&ops[0].values),
        [
            "cn=James A Jones 2,ou=Information Technology Division,ou=People,dc=example,dc=com",
            "cn=Bjorn Jensen,ou=Information Technology Division,ou=People,dc=example,dc=com"
        ]
    );
    // `delete: member` with no values.
    let Change::Modify(ops) = &recs[3].change else {
        panic!()
    };
    assert_eq!(ops[0], op(ModKind::Delete, "member", &[]));

    let gern = recs[4];
    assert_eq!(gern.change, Change::Entry);
    assert_eq!(attr(gern, "testTime"), ["20050304001801.234Z"]);
    assert_eq!(attr(gern, "uid"), ["gjensen"]);

    let del = recs[5];
    assert_eq!(del.change, Change::Delete);
    assert_eq!(attr(del, "cn"), ["James A Jones 2"]);

    assert_eq!(
        recs[6].change,
        Change::Modify(vec![
            op(ModKind::Increment, "uidNumber", &["1"]),
            op(ModKind::Increment, "gidNumber", &["-1"]),
        ])
    );
    // "EMPTY SEQUENCE OF CHANGE"
    assert_eq!(recs[7].change, Change::Modify(vec![]));
    assert_eq!(attr(recs[7], "dc"), ["example"]);
}

#[test]
fn otp_hotp_base64_in_change_records() {
    let items = read_file("openldap/otp-hotp.ldif");
    let recs = records(&items);
    let Change::Modify(ops) = &recs[1].change else {
        panic!()
    };
    // `add: objectClass` with `objectclass:` value lines: names match without case.
    assert_eq!(texts(&ops[0].values), ["oathHOTPToken"]);
    let secret = ops.iter().find(|o| o.attr == "oathSecret").unwrap();
    assert_eq!(
        secret.values[0].bytes(),
        &base64::engine::general_purpose::STANDARD
            .decode("PcbKpIJKbSiHZ7IzHiC0MWbLhdk=")
            .unwrap()[..]
    );
}

// ----- RFC 2849 examples

fn example(dir: &str, n: u32) -> String {
    std::fs::read_to_string(data(&format!("rfc2849/{dir}/example{n}.ldif"))).unwrap()
}

/// Points example 5/6's `file:///usr/local/directory/photos/X.jpg` at files in `dir`.
fn with_photos(text: &str, dir: &Path) -> String {
    for name in ["hjensen.jpg", "fiona.jpg"] {
        std::fs::write(dir.join(name), photo(name)).unwrap();
    }
    text.replace(
        "file:///usr/local/directory/photos/",
        &format!("file://{}/", dir.display()),
    )
}

/// Not a JPEG, but binary: not UTF-8, with NUL and CR/LF bytes.
fn photo(name: &str) -> Vec<u8> {
    let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0, b'\r', b'\n'];
    b.extend_from_slice(name.as_bytes());
    b
}

#[test]
fn rfc2849_corrected_examples_parse() {
    let tmp = tempfile::tempdir().unwrap();

    let items = read_text(&example("corrected", 1), "example1.ldif", None);
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (2, 0));
    assert_eq!(
        recs[0].dn.as_deref(),
        Some("cn=Barbara Jensen, ou=Product Development, dc=airius, dc=com")
    );
    assert_eq!(
        attr(recs[0], "cn"),
        ["Barbara Jensen", "Barbara J Jensen", "Babs Jensen"]
    );
    assert_eq!(recs[0].origin.as_str(), "example1.ldif:2");
    assert_eq!(recs[1].origin.as_str(), "example1.ldif:14");

    let items = read_text(&example("corrected", 2), "example2.ldif", None);
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (1, 0));
    assert_eq!(
        attr(recs[0], "description"),
        [
            "Babs is a big sailing fan, and travels extensively in search of perfect sailing conditions."
        ]
    );
    assert_eq!(
        attr(recs[0], "title"),
        ["Product Manager, Rod and Reel Division"]
    );

    let items = read_text(&example("corrected", 3), "example3.ldif", None);
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (1, 0));
    assert_eq!(
        attr(recs[0], "description"),
        [
            "What a careful reader you are!  This value is base-64-encoded because it has a control character in it (a CR).\r  By the way, you should really get out more."
        ]
    );

    let items = read_text(&example("corrected", 4), "example4.ldif", None);
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (2, 0));
    assert_eq!(recs[0].dn.as_deref(), Some("ou=営業部,o=Airius"));
    assert_eq!(attr(recs[0], "ou"), ["営業部"]);
    assert_eq!(attr(recs[0], "ou;lang-ja"), ["営業部"]);
    assert_eq!(attr(recs[0], "ou;lang-ja;phonetic"), ["えいぎょうぶ"]);
    assert_eq!(attr(recs[0], "ou;lang-en"), ["Sales"]);
    assert_eq!(
        recs[1].dn.as_deref(),
        Some("uid=rogasawara,ou=営業部,o=Airius")
    );
    assert_eq!(attr(recs[1], "cn;lang-ja"), ["小笠原 ロドニー"]);
    assert_eq!(attr(recs[1], "givenname;lang-ja;phonetic"), ["ろどにー"]);
    assert_eq!(attr(recs[1], "preferredlanguage"), ["ja"]);

    let items = read_text(
        &with_photos(&example("corrected", 5), tmp.path()),
        "example5.ldif",
        None,
    );
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (1, 0), "{items:#?}");
    assert_eq!(attr(recs[0], "cn"), ["Horatio Jensen", "Horatio N Jensen"]);
    let jpeg = recs[0].attrs.get("jpegphoto").unwrap();
    assert_eq!(jpeg, &[FieldValue::Binary(photo("hjensen.jpg"))]);

    let items = read_text(
        &with_photos(&example("corrected", 6), tmp.path()),
        "example6.ldif",
        None,
    );
    assert_eq!(items.len(), 6);
    let recs = records(&items);
    let bad = bads(&items);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0].change, Change::Entry);
    assert_eq!(
        recs[0].attrs.get("jpegphoto").unwrap(),
        &[FieldValue::Binary(photo("fiona.jpg"))]
    );
    assert_eq!(recs[1].change, Change::Delete);
    assert_eq!(attr(recs[1], "cn"), ["Robert Jensen"]);
    // Both modrdn records, and only they, are refused.
    assert_eq!(bad.len(), 2);
    for b in &bad {
        assert_eq!(all_problems(b), "changetype modrdn is not supported");
    }
    assert_eq!(bad[0].origin.as_str(), "example6.ldif:19");
    assert_eq!(bad[1].origin.as_str(), "example6.ldif:26");
    let Change::Modify(ops) = &recs[2].change else {
        panic!()
    };
    let summary: Vec<_> = ops
        .iter()
        .map(|o| (o.kind, o.attr.as_str(), texts(&o.values)))
        .collect();
    assert_eq!(
        summary,
        [
            (
                ModKind::Add,
                "postaladdress",
                vec!["123 Anystreet $ Sunnyvale, CA $ 94086".to_string()]
            ),
            (ModKind::Delete, "description", vec![]),
            (
                ModKind::Replace,
                "telephonenumber",
                vec!["+1 408 555 1234".to_string(), "+1 408 555 5678".to_string()]
            ),
            (
                ModKind::Delete,
                "facsimiletelephonenumber",
                vec!["+1 408 555 9876".to_string()]
            ),
        ]
    );
    let Change::Modify(ops) = &recs[3].change else {
        panic!()
    };
    assert_eq!(ops.len(), 2);
    assert_eq!((ops[0].kind, ops[0].values.len()), (ModKind::Replace, 0));

    // Example 7: a control line, accepted and ignored.
    let items = read_text(&example("corrected", 7), "example7.ldif", None);
    let recs = records(&items);
    assert_eq!((recs.len(), bads(&items).len()), (1, 0));
    assert_eq!(recs[0].change, Change::Delete);
    assert_eq!(
        recs[0].dn.as_deref(),
        Some("ou=Product Development, dc=airius, dc=com")
    );
    assert_eq!(attr(recs[0], "ou"), ["Product Development"]);
}

#[test]
fn rfc2849_unreachable_photo_is_a_bad_record_not_a_panic() {
    let items = read_text(&example("corrected", 5), "example5.ldif", None);
    assert_eq!(items.len(), 1);
    let bad = bads(&items);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].problems[0].field.as_deref(), Some("jpegphoto"));
    assert!(
        bad[0].problems[0]
            .reason
            // Outside the allowed folder: whether it exists is not even looked at.
            .contains(
                "/usr/local/directory/photos/hjensen.jpg is outside the --allow-file-urls folder"
            ),
        "{:?}",
        bad[0].problems
    );

    let items = read_text(&example("corrected", 6), "example6.ldif", None);
    assert_eq!(items.len(), 6);
    let SourceItem::Bad(fiona) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert!(all_problems(fiona).contains("is outside the --allow-file-urls folder"));
    assert_eq!(records(&items).len(), 3);
}

#[test]
fn rfc2849_as_printed_examples() {
    let tmp = tempfile::tempdir().unwrap();
    // 1, 2 and 7 are valid as printed.
    for n in [1, 2, 7] {
        let items = read_text(&example("as-printed", n), "x.ldif", None);
        assert!(bads(&items).is_empty(), "example {n}");
    }

    // 3: continuation lines without their leading space.
    let items = read_text(&example("as-printed", 3), "example3.ldif", None);
    assert!(records(&items).is_empty());
    let bad = bads(&items);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].origin.as_str(), "example3.ldif:2");
    assert!(
        all_problems(bad[0]).contains("line 12: no colon"),
        "{:?}",
        bad[0].problems
    );

    // 4: a comment's second line without '#' or a leading space. The first entry is fine.
    let items = read_text(&example("as-printed", 4), "example4.ldif", None);
    let recs = records(&items);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].dn.as_deref(), Some("ou=営業部,o=Airius"));
    let bad = bads(&items);
    assert_eq!(bad.len(), 1);
    assert!(
        all_problems(bad[0]).contains("line 43: no colon"),
        "{:?}",
        bad[0].problems
    );

    // 5: a blank line inside the record. ldapadd imports `cn: Horatio Jensen` alone;
    // roster refuses both halves.
    let text = with_photos(&example("as-printed", 5), tmp.path());
    let items = read_text(&text, "example5.ldif", None);
    assert!(records(&items).is_empty(), "{items:#?}");
    let bad = bads(&items);
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].origin.as_str(), "example5.ldif:2");
    assert!(
        all_problems(bad[0]).contains("record continues after a blank line at line 7"),
        "{:?}",
        bad[0].problems
    );
    assert_eq!(bad[1].origin.as_str(), "example5.ldif:8");
    assert!(
        all_problems(bad[1]).contains("continue the record at line 2"),
        "{:?}",
        bad[1].problems
    );
    // Both texts are given back for the rejects file.
    assert!(
        matches!(&bad[0].raw, RawText::Text(t) if t.starts_with("dn: cn=Horatio Jensen") && t.ends_with("cn: Horatio Jensen\n"))
    );
    assert!(matches!(&bad[1].raw, RawText::Text(t) if t.starts_with("cn: Horatio N Jensen\n")));

    // 6: a blank line after '-' inside Paula Jensen's modify record.
    let text = with_photos(&example("as-printed", 6), tmp.path());
    let items = read_text(&text, "example6.ldif", None);
    let recs = records(&items);
    assert!(
        recs.iter()
            .all(|r| !r.dn.as_deref().unwrap().contains("Paula")),
        "{recs:#?}"
    );
    assert_eq!(recs.len(), 3); // Fiona, Robert, Ingrid
    let bad = bads(&items);
    assert_eq!(bad.len(), 4); // two modrdn, Paula, and the orphan half
    assert_eq!(bad[2].origin.as_str(), "example6.ldif:36");
    assert!(all_problems(bad[2]).contains("record continues after a blank line at line 41"));
    assert_eq!(bad[3].origin.as_str(), "example6.ldif:42");
    // Order is the input order.
    let origins: Vec<_> = items
        .iter()
        .map(|i| match i {
            SourceItem::Record(r) => r.origin.as_str().to_string(),
            SourceItem::Bad(b) => b.origin.as_str().to_string(),
        })
        .collect();
    let lines: Vec<u64> = origins
        .iter()
        .map(|o| o.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{origins:?}");
}

// ----- python-ldap vectors

fn json_value(v: &serde_json::Value) -> Vec<u8> {
    match v {
        serde_json::Value::String(s) => s.as_bytes().to_vec(),
        serde_json::Value::Object(o) => base64::engine::general_purpose::STANDARD
            .decode(o["base64"].as_str().unwrap())
            .unwrap(),
        other => panic!("unexpected value {other}"),
    }
}

#[test]
fn python_ldap_vectors() {
    let text = std::fs::read_to_string(data("python-ldap/t_ldif_vectors.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 23);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let items = read_text(case["ldif"].as_str().unwrap(), "t.ldif", None);
        assert!(bads(&items).is_empty(), "{name}: {items:#?}");
        let mut recs = records(&items);
        let opts = &case["options"];
        // python-ldap parser options, applied here rather than in the reader.
        if let Some(max) = opts["max_entries"].as_u64() {
            recs.truncate(max as usize);
        }
        let ignored: Vec<String> = opts["ignored_attr_types"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let expected = case["expected"].as_array().unwrap();
        assert_eq!(recs.len(), expected.len(), "{name}");
        for (r, exp) in recs.iter().zip(expected) {
            let dn = exp[0].as_str().unwrap();
            assert_eq!(r.dn.as_deref(), Some(dn), "{name}");
            match case["record_type"].as_str().unwrap() {
                "entry" => {
                    assert_eq!(r.change, Change::Entry, "{name}");
                    let mut want: BTreeMap<String, Vec<Vec<u8>>> = exp[1]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, vs)| {
                            (
                                k.clone(),
                                vs.as_array().unwrap().iter().map(json_value).collect(),
                            )
                        })
                        .collect();
                    // roster adds the RDN's values when the entry lacks the attribute.
                    for (ty, v) in &parse_dn(dn).unwrap()[0] {
                        if !want.keys().any(|k| k.eq_ignore_ascii_case(ty)) {
                            want.insert(ty.clone(), vec![v.as_bytes().to_vec()]);
                        }
                    }
                    let got: BTreeMap<String, Vec<Vec<u8>>> = r
                        .attrs
                        .0
                        .iter()
                        .filter(|(k, _)| !ignored.contains(&k.to_ascii_lowercase()))
                        .map(|(k, vs)| {
                            (
                                k.to_string(),
                                vs.iter().map(|v| v.bytes().to_vec()).collect(),
                            )
                        })
                        .collect();
                    assert_eq!(got, want, "{name}");
                }
                "change" => {
                    let Change::Modify(ops) = &r.change else {
                        panic!("{name}: {:?}", r.change)
                    };
                    let want: Vec<(String, String, Vec<Vec<u8>>)> = exp[1]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| {
                            let vals = m[2]
                                .as_array()
                                .map(|a| a.iter().map(json_value).collect())
                                .unwrap_or_default();
                            (
                                m[0].as_str().unwrap().to_string(),
                                m[1].as_str().unwrap().to_string(),
                                vals,
                            )
                        })
                        .collect();
                    let got: Vec<(String, String, Vec<Vec<u8>>)> = ops
                        .iter()
                        .map(|o| {
                            let k = match o.kind {
                                ModKind::Add => "add",
                                ModKind::Delete => "delete",
                                ModKind::Replace => "replace",
                                ModKind::Increment => "increment",
                            };
                            (
                                k.to_string(),
                                o.attr.clone(),
                                o.values.iter().map(|v| v.bytes().to_vec()).collect(),
                            )
                        })
                        .collect();
                    assert_eq!(got, want, "{name}");
                }
                other => panic!("{name}: record_type {other}"),
            }
        }
    }

    let invalid = doc["invalid_cases"].as_array().unwrap();
    assert_eq!(invalid.len(), 1);
    for case in invalid {
        let items = read_text(case["ldif"].as_str().unwrap(), "t.ldif", None);
        assert!(records(&items).is_empty(), "{}", case["name"]);
        let bad = bads(&items);
        assert_eq!(bad.len(), 1);
        assert!(
            all_problems(bad[0]).contains("line 1: attribute line before any dn:"),
            "{:?}",
            bad[0].problems
        );
    }
}
