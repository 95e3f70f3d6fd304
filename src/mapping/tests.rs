//! Mapping behaviour through its public API.

use std::collections::BTreeMap;

use super::*;
use crate::model::{Attrs, FieldValue, ModOp, Origin, RawText};
use crate::model::{Change, ModKind, RawRecord};

fn rec(pairs: &[(&str, &str)]) -> RawRecord {
    let mut attrs = Attrs::new();
    for (k, v) in pairs {
        attrs.push(k, FieldValue::from(*v));
    }
    RawRecord {
        origin: Origin::line("t.csv", 2),
        dn: None,
        change: Change::Entry,
        attrs,
        raw: RawText::None,
        url_values: Vec::new(),
    }
}

#[test]
fn defaults_cover_csv_and_ldap_names() {
    let m = Mapping::default();
    let r = m.apply(&rec(&[
        ("uid", "jdoe"),
        ("mail", "j@x.org"),
        ("givenName", "John"),
        ("sn", "Doe"),
        ("nsAccountLock", "TRUE"),
        ("entryUUID", "1234"),
    ]));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.user.username, "jdoe");
    assert_eq!(r.user.email.as_deref(), Some("j@x.org"));
    assert_eq!(r.user.name.as_deref(), Some("John Doe"));
    assert_eq!(r.user.active, Some(false));
    assert_eq!(r.user.external_id.as_deref(), Some("1234"));
    assert_eq!(r.intent, Intent::Upsert);
}

#[test]
fn ad_user_account_control() {
    let m = Mapping::default();
    let u = |uac: &str| {
        m.apply(&rec(&[
            ("sAMAccountName", "a"),
            ("userAccountControl", uac),
        ]))
        .user
        .active
    };
    assert_eq!(u("512"), Some(true));
    assert_eq!(u("514"), Some(false));
    assert_eq!(u("66050"), Some(false));
    assert_eq!(u("66048"), Some(true));
}

#[test]
fn overrides_roles_and_bad_bool() {
    let m = Mapping::new(
        &BTreeMap::new(),
        &["name={cn|upper}".into(), "nickname=".into()],
    )
    .unwrap()
    .with_options(&MappingOptions {
        multi_sep: Some(';'),
    });
    let r = m.apply(&rec(&[
        ("username", "a"),
        ("cn", "Ann"),
        ("nickname", "nn"),
        ("roles", "user; admin;user"),
        ("verified", "perhaps"),
    ]));
    assert_eq!(r.user.name.as_deref(), Some("ANN"));
    assert_eq!(r.user.nickname, None);
    assert_eq!(
        r.user.roles,
        Some(vec!["user".to_string(), "admin".to_string()])
    );
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].field.as_deref(), Some("verified"));
}

#[test]
fn unknown_field_and_missing_column() {
    assert!(Mapping::new(&BTreeMap::new(), &["nmae={cn}".into()]).is_err());
    let m = Mapping::new(&BTreeMap::new(), &["name={displayName|cn}".into()]).unwrap();
    assert!(m.check_attributes(&["cn".into()], "t.csv").is_ok());
    let e = m
        .check_attributes(&["uid".into()], "t.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("displayName, cn"), "{e}");
}

#[test]
fn modify_touches_only_its_fields() {
    let m = Mapping::default();
    let mut r = rec(&[("uid", "jdoe"), ("mail", "new@x.org")]);
    r.change = Change::Modify(vec![
        ModOp {
            kind: ModKind::Replace,
            attr: "mail".into(),
            values: vec![FieldValue::from("new@x.org")],
        },
        ModOp {
            kind: ModKind::Delete,
            attr: "title".into(),
            values: vec![],
        },
    ]);
    let out = m.apply(&r);
    assert_eq!(
        out.intent,
        Intent::Modify(vec![Field::Email, Field::Position])
    );
    assert_eq!(out.user.position.as_deref(), Some(""));
    assert!(out.problems.is_empty());
}

#[test]
fn custom_fields_from_columns_and_json() {
    let m = Mapping::default();
    let r = m.apply(&rec(&[
        ("username", "a"),
        ("custom_fields", r#"{"dept":"IT","n":3}"#),
        ("custom.site", "HQ"),
    ]));
    assert_eq!(
        r.user.custom_fields.get("dept").map(String::as_str),
        Some("IT")
    );
    assert_eq!(r.user.custom_fields.get("n").map(String::as_str), Some("3"));
    assert_eq!(
        r.user.custom_fields.get("site").map(String::as_str),
        Some("HQ")
    );
}

/// Values that are not text fill no field: each is one problem on the field that asked
/// for it, naming the attribute, and never text with U+FFFD in it.
#[test]
fn values_that_are_not_text_are_problems_on_their_fields() {
    let bin = |b: &[u8]| FieldValue::Binary(b.to_vec());
    let mut r = rec(&[("uid", "a")]);
    r.attrs.push("mail", bin(b"a\xff@x.org"));
    r.attrs.push("roles", bin(b"\xffadmin"));
    r.attrs.push("userAccountControl", bin(b"5\xff2"));
    r.attrs.push("custom_fields", bin(b"{\"a\":\"\xff\"}"));
    r.attrs.push("custom.site", bin(b"H\xffQ"));
    // Binary by nature, though its bytes are UTF-8.
    r.attrs.push("jpegPhoto", bin(b"JFIF"));
    // Unused: no problem.
    r.attrs.push("description", bin(b"\xff"));
    let m = Mapping::new(&BTreeMap::new(), &["nickname={title|jpegPhoto}".into()]).unwrap();
    let out = m.apply(&r);
    let got: Vec<String> = out.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "email: the value of mail is not valid UTF-8 (binary data, or text in another character set)",
            "nickname: jpegPhoto holds binary data (a photo, certificate or identifier), not text; turn it into text with a filter: {jpegPhoto|sid}, {jpegPhoto|guid}, {jpegPhoto|hex} or {jpegPhoto|base64}",
            "active: the value of userAccountControl is not valid UTF-8 (binary data, or text in another character set)",
            "roles: the value of roles is not valid UTF-8 (binary data, or text in another character set)",
            "custom_fields: the value of custom_fields is not valid UTF-8 (binary data, or text in another character set)",
            "custom_fields.site: the value of custom.site is not valid UTF-8 (binary data, or text in another character set)",
        ]
    );
    assert_eq!(out.user.username, "a");
    assert_eq!(out.user.email, None);
    assert_eq!(out.user.nickname, None);
    assert_eq!(out.user.roles, None);
    assert!(out.user.custom_fields.is_empty());

    // The first attribute with a value decides: no quiet fallback to the next one.
    let mut r = rec(&[("uid", "b"), ("userPrincipalName", "b@x.org")]);
    r.attrs.push("mail", bin(b"\xff"));
    let out = m.apply(&r);
    assert_eq!(out.user.email, None);
    assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
}
