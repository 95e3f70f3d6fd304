//! Values that are not text, from LDIF files and a live directory, through the binary: a
//! value that is not UTF-8 and fills a text field rejects its row (origin, field, attribute,
//! reason) and the batch goes on; it never becomes U+FFFD. Attributes that are binary by
//! nature (photos, certificates, SIDs, `;binary`) stay bytes and are no error until a
//! mapping asks for them as text; an AD `objectGUID` becomes its UUID, as from LDAP.

use std::path::Path;

use serde_json::Value;

use crate::support::slapd::{AD_SCHEMA, PEOPLE, Slapd, SlapdOptions, ldif_line, user};
use crate::support::{Ran, jsonl, roster, tmp};

/// `ann\xff@example.com`, as in the issue.
const BAD_MAIL: &str = "YW5u/0BleGFtcGxlLmNvbQ==";
/// Microsoft's example GUID (see `object_guid_to_uuid`), base64, and its UUID.
const GUID_B64: &str = "yYuRNW0Z6kCXeYidebdT8A==";
const GUID_UUID: &str = "35918bc9-196d-40ea-9779-889d79b753f0";

/// Four records: a non-UTF-8 mail (base64, line 1), a Latin-1 cn written as raw bytes
/// (line 5), a record full of binary attributes (line 10), and a non-UTF-8 value in an
/// attribute nothing reads (line 23).
fn ldif() -> Vec<u8> {
    let mut s: Vec<u8> = Vec::new();
    s.extend_from_slice(format!("dn: uid=ann,dc=x\nuid: ann\nmail:: {BAD_MAIL}\n\n").as_bytes());
    s.extend_from_slice(
        b"dn: uid=bob,dc=x\nuid: bob\nmail: bob@example.com\ncn: Bob J\xe9r\xf4me\n\n",
    );
    s.extend_from_slice(
        format!(
            "dn: uid=cat,dc=x\nuid: cat\nmail: cat@example.com\ncn: Cat\n\
             jpegPhoto:: /9j/4AAQSkZJRgABAQ==\nthumbnailPhoto:: /9j/4A==\n\
             userCertificate;binary:: MIIBCgKCAQEAwA==\n\
             objectSid:: AQUAAAAAAAUVAAAAAQIDBAUGBwgJCgsMTQQAAA==\n\
             objectGUID:: {GUID_B64}\nphoto:: gIGC\naudio:: //79\n\
             userPKCS12:: MIIK/w==\n\n"
        )
        .as_bytes(),
    );
    s.extend_from_slice(
        b"dn: uid=dan,dc=x\nuid: dan\nmail: dan@example.com\ncn: Dan\ndescription:: gIGC\n",
    );
    s
}

fn by_origin<'a>(report: &'a [Value], origin: &str) -> &'a Value {
    report
        .iter()
        .find(|e| e["origin"] == origin)
        .unwrap_or_else(|| panic!("no report entry for {origin}: {report:#?}"))
}

fn no_replacement_char(p: &Path) {
    let text = std::fs::read_to_string(p).unwrap();
    assert!(
        !text.contains('\u{FFFD}') && !text.contains("\\ufffd"),
        "{}: {text}",
        p.display()
    );
}

#[test]
fn ldif_values_that_are_not_utf8_reject_their_row_and_the_batch_goes_on() {
    let d = tmp();
    std::fs::write(d.path().join("in.ldif"), ldif()).unwrap();
    let o = roster(
        d.path(),
        &[
            "validate",
            "in.ldif",
            "--report",
            "r.jsonl",
            "--rejects",
            "j.ldif",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report.len(), 4, "every record accounted for: {report:#?}");

    let ann = by_origin(&report, "in.ldif:1");
    assert_eq!(ann["status"], "rejected", "{ann}");
    let err = ann["error"].as_str().unwrap();
    assert!(
        err.starts_with("email: ") && err.contains("mail") && err.contains("UTF-8"),
        "{err}"
    );
    // One problem for the field, not also "is required".
    assert!(!err.contains("is required"), "{err}");
    let bob = by_origin(&report, "in.ldif:5");
    assert_eq!(bob["status"], "rejected", "{bob}");
    let err = bob["error"].as_str().unwrap();
    assert!(
        err.starts_with("name: ") && err.contains("cn") && err.contains("UTF-8"),
        "{err}"
    );
    // Binary attributes nothing maps into text are no error; neither is a non-UTF-8 value
    // of an attribute nothing reads.
    for origin in ["in.ldif:10", "in.ldif:23"] {
        let e = by_origin(&report, origin);
        assert_eq!(e["status"], "ok", "{e}");
    }
    for f in ["r.jsonl", "j.ldif"] {
        no_replacement_char(&d.path().join(f));
    }
    // The rejects file gives the records back with their bytes: as they were, or (a raw
    // Latin-1 value) the same bytes in base64.
    let rejects = std::fs::read_to_string(d.path().join("j.ldif")).unwrap();
    assert!(
        rejects.contains(&format!("mail:: {BAD_MAIL}\n")),
        "{rejects}"
    );
    assert!(rejects.contains("\ncn:: Qm9iIErpcvRtZQ==\n"), "{rejects}");

    // convert writes only the good users, with text that is text, and the GUID as a UUID.
    let o = roster(d.path(), &["convert", "in.ldif", "out.jsonl"], &[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    no_replacement_char(&d.path().join("out.jsonl"));
    let out = jsonl(&d.path().join("out.jsonl"));
    let names: Vec<&str> = out
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cat", "dan"]);
    assert_eq!(out[0]["external_id"], GUID_UUID, "{}", out[0]);
}

#[test]
fn a_binary_attribute_mapped_into_a_text_field_is_a_row_error() {
    let d = tmp();
    std::fs::write(d.path().join("in.ldif"), ldif()).unwrap();
    for (map, attr) in [
        ("custom_fields.photo={jpegPhoto}", "jpegPhoto"),
        (
            "nickname={userCertificate;binary}",
            "userCertificate;binary",
        ),
        // Its bytes happen to be UTF-8: binary all the same.
        ("position={objectSid}", "objectSid"),
    ] {
        let o = roster(
            d.path(),
            &["validate", "in.ldif", "--map", map, "--report", "r.jsonl"],
            &[],
        );
        assert_eq!(o.code(), 1, "{map}: {}", o.stderr());
        let report = jsonl(&d.path().join("r.jsonl"));
        let cat = by_origin(&report, "in.ldif:10");
        assert_eq!(cat["status"], "rejected", "{map}: {cat}");
        let err = cat["error"].as_str().unwrap();
        let field = map.split('=').next().unwrap();
        assert!(
            err.contains(&format!("{field}: ")) && err.contains(attr) && err.contains("binary"),
            "{map}: {err}"
        );
        // The others do not have the attribute: unaffected.
        assert_eq!(by_origin(&report, "in.ldif:23")["status"], "ok");
    }
}

#[test]
fn ldap_values_that_are_not_utf8_reject_their_row_and_the_batch_goes_on() {
    // slapd refuses a non-UTF-8 value in a directoryString attribute (cn, displayName,
    // description: "invalid syntax"), but keeps one in mail (IA5String): the value a
    // server can really send.
    let extra = format!(
        "dn: uid=ann,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: ann\ncn: Ann\nsn: A\n\
         mail:: {BAD_MAIL}\n\n"
    );
    let slapd = Slapd::start(SlapdOptions {
        users: 2,
        ldif: extra,
        ..Default::default()
    });
    let d = tmp();
    let url = slapd.people_url();
    let o = roster(
        d.path(),
        &[
            "validate",
            &url,
            "--report",
            "r.jsonl",
            "--rejects",
            "j.ldif",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report.len(), 3, "{report:#?}");
    let ann = by_origin(&report, &format!("uid=ann,{PEOPLE}"));
    assert_eq!(ann["status"], "rejected", "{ann}");
    let err = ann["error"].as_str().unwrap();
    assert!(
        err.starts_with("email: ") && err.contains("mail") && err.contains("UTF-8"),
        "{err}"
    );
    // user00000 has a jpegPhoto (binary): fine.
    for i in 0..2 {
        let e = by_origin(&report, &user(i).dn);
        assert_eq!(e["status"], "ok", "{e}");
    }
    for f in ["r.jsonl", "j.ldif"] {
        no_replacement_char(&d.path().join(f));
    }
    // The rejected entry comes back as LDIF with the value's bytes, base64.
    let rejects = std::fs::read_to_string(d.path().join("j.ldif")).unwrap();
    assert!(rejects.contains(&format!("mail:: {BAD_MAIL}")), "{rejects}");

    let o = roster(d.path(), &["convert", &url, "out.jsonl"], &[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    no_replacement_char(&d.path().join("out.jsonl"));
    assert_eq!(jsonl(&d.path().join("out.jsonl")).len(), 2);
}

/// AD ids through the binary: `objectSid` becomes `S-1-5-21-…` with the `sid` filter
/// (Microsoft's layout: revision, 48-bit authority, little-endian sub-authorities), and
/// without a filter the row's error names the filters to use.
#[test]
fn sid_and_guid_filters_read_active_directory_ids() {
    use base64::Engine as _;
    let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
    for n in [21u32, 1_004_336_348, 1_177_238_915, 682_003_330, 1_104] {
        sid.extend_from_slice(&n.to_le_bytes());
    }
    let sid = base64::engine::general_purpose::STANDARD.encode(sid);
    let d = tmp();
    std::fs::write(
        d.path().join("ad.ldif"),
        format!(
            "dn: CN=Ann,OU=Staff,DC=corp,DC=example\nsAMAccountName: ann\n\
             mail: ann@corp.example\ndisplayName: Ann\nobjectSid:: {sid}\n\
             objectGUID:: {GUID_B64}\n"
        ),
    )
    .unwrap();
    let o = roster(
        d.path(),
        &[
            "convert",
            "ad.ldif",
            "out.jsonl",
            "--map",
            "external_id={objectSid|sid}",
            "--map",
            "custom_fields.guid={objectGUID|guid}",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let out = jsonl(&d.path().join("out.jsonl"));
    assert_eq!(
        out[0]["external_id"],
        "S-1-5-21-1004336348-1177238915-682003330-1104"
    );
    assert_eq!(out[0]["custom_fields"]["guid"], GUID_UUID);
    let o = roster(
        d.path(),
        &[
            "validate",
            "ad.ldif",
            "--map",
            "external_id={objectSid}",
            "--report",
            "r.jsonl",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let err = jsonl(&d.path().join("r.jsonl"))[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("{objectSid|sid}"), "{err}");
}

/// The same ids read from a live directory (slapd with AD's binary `objectGUID` and
/// `objectSid`): `objectGUID` reads as the GUID Windows shows (slapd's own `entryUUID`
/// comes first in the default mapping, so the test names it), `{objectSid|sid}` as the SID
/// string, and an unfiltered SID is a row error naming the filters.
#[test]
fn a_live_directory_gives_ad_ids_as_windows_shows_them() {
    use base64::Engine as _;
    let mut sid = vec![1u8, 5, 0, 0, 0, 0, 0, 5];
    for n in [21u32, 1_004_336_348, 1_177_238_915, 682_003_330, 1_104] {
        sid.extend_from_slice(&n.to_le_bytes());
    }
    let guid = base64::engine::general_purpose::STANDARD
        .decode(GUID_B64)
        .unwrap();
    let mut extra = format!(
        "dn: uid=ann,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: adObject\nuid: ann\n\
         cn: Ann\nsn: A\nmail: ann@corp.example\n"
    );
    ldif_line(&mut extra, "objectGUID", &guid);
    ldif_line(&mut extra, "objectSid", &sid);
    extra.push('\n');
    let slapd = Slapd::start(SlapdOptions {
        users: 1,
        schema: AD_SCHEMA.into(),
        ldif: extra,
        ..Default::default()
    });
    let url = format!("{}?uid,mail,cn,sn,objectGUID,objectSid", slapd.people_url());
    let d = tmp();
    let o = roster(
        d.path(),
        &[
            "convert",
            &url,
            "out.jsonl",
            "--map",
            "external_id={objectGUID}",
            "--map",
            "custom_fields.sid={objectSid|sid}",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let out = jsonl(&d.path().join("out.jsonl"));
    let ann = out.iter().find(|u| u["username"] == "ann").expect("ann");
    assert_eq!(ann["external_id"], GUID_UUID, "{ann}");
    assert_eq!(
        ann["custom_fields"]["sid"],
        "S-1-5-21-1004336348-1177238915-682003330-1104"
    );
    let o = roster(
        d.path(),
        &[
            "validate",
            &url,
            "--map",
            "nickname={objectSid}",
            "--report",
            "r.jsonl",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    let ann = by_origin(&report, &format!("uid=ann,{PEOPLE}"));
    let err = ann["error"].as_str().unwrap();
    assert!(
        err.contains("objectSid") && err.contains("{objectSid|sid}"),
        "{err}"
    );
    no_replacement_char(&d.path().join("r.jsonl"));
}
