//! `JsonlSource`: objects, arrays, custom fields, bad lines.

use std::io;

use roster::model::{FieldValue, Problem, RawText, User};
use roster::output::UserWriter;
use roster::output::jsonl::JsonlUserWriter;
use roster::source::jsonl::JsonlSource;
use roster::source::{Format, Source, SourceItem, SourceOptions};

fn drain(text: &[u8]) -> Vec<SourceItem> {
    let mut src = JsonlSource::from_reader(
        io::Cursor::new(text.to_vec()),
        "users.jsonl",
        &SourceOptions::default(),
    )
    .unwrap();
    assert_eq!(src.format(), Format::Jsonl);
    let mut items = Vec::new();
    while let Some(item) = src.next_item().unwrap() {
        items.push(item);
    }
    items
}

fn texts(values: &[FieldValue]) -> Vec<&str> {
    values
        .iter()
        .map(|v| match v {
            FieldValue::Text(t) => t.as_str(),
            FieldValue::Binary(b) => panic!("binary {b:?}"),
        })
        .collect()
}

/// The record's attributes as (name, texts), in order.
fn attrs(item: &SourceItem) -> Vec<(&str, Vec<&str>)> {
    match item {
        SourceItem::Record(r) => r.attrs.0.iter().map(|(n, v)| (&**n, texts(v))).collect(),
        SourceItem::Bad(b) => panic!("unexpected bad line: {b:?}"),
    }
}

#[test]
fn objects_become_attributes_in_key_order() {
    let line = r#"{"username":"alice","email":"alice@example.org","active":true,"verified":false,"age":42,"ratio":0.5,"locale":null,"roles":["admin","user"],"tags":[],"manager":{"uid":"bob","level":2},"custom_fields":{"dept":"R&D","floor":3,"empty":null}}"#;
    let items = drain(format!("{line}\n").as_bytes());
    assert_eq!(items.len(), 1);
    assert_eq!(
        attrs(&items[0]),
        [
            ("username", vec!["alice"]),
            ("email", vec!["alice@example.org"]),
            ("active", vec!["true"]),
            ("verified", vec!["false"]),
            ("age", vec!["42"]),
            ("ratio", vec!["0.5"]),
            ("roles", vec!["admin", "user"]),
            ("tags", vec![]),
            ("manager", vec![r#"{"level":2,"uid":"bob"}"#]),
            ("custom_fields.dept", vec!["R&D"]),
            ("custom_fields.floor", vec!["3"]),
        ]
    );
    let SourceItem::Record(r) = &items[0] else {
        unreachable!()
    };
    assert_eq!(r.origin.as_str(), "users.jsonl:1");
    assert_eq!(r.raw, RawText::Text(format!("{line}\n")));
    assert!(!r.attrs.contains("locale"), "null means absent");
}

#[test]
fn arrays_keep_scalars_and_render_nested_values_as_json() {
    let items = drain(br#"{"username":"a","mixed":["x",1,true,null,[2,3],{"k":"v"}]}"#);
    assert_eq!(
        attrs(&items[0])[1],
        ("mixed", vec!["x", "1", "true", "[2,3]", r#"{"k":"v"}"#])
    );
}

#[test]
fn bad_lines_are_bad_records_and_reading_goes_on() {
    let text = b"\xEF\xBB\xBF{\"username\":\"alice\"}\r\n\
\n   \n\
{\"username\": \"bob\",, }\n\
[1,2]\n\
\"just a string\"\n\
{\"username\":\"carol\"} trailing\n\
{\"username\":\"dave\",\"username\":\"eve\"}\n\
{\"username\":\"M\xfcller\"}\n\
{\"username\":\"zed\"}";
    let items = drain(text);
    let summary: Vec<(String, Option<String>)> = items
        .iter()
        .map(|i| match i {
            SourceItem::Record(r) => (r.origin.to_string(), None),
            SourceItem::Bad(b) => (b.origin.to_string(), Some(b.problems[0].reason.clone())),
        })
        .collect();
    let bad = |line: u64, reason: &str| (format!("users.jsonl:{line}"), Some(reason.to_string()));
    assert_eq!(
        summary,
        [
            ("users.jsonl:1".to_string(), None),
            bad(
                4,
                "not a valid JSON object: key must be a string (column 20)"
            ),
            bad(
                5,
                "not a valid JSON object: invalid type: sequence, expected a JSON object (column 1)"
            ),
            bad(
                6,
                "not a valid JSON object: invalid type: string \"just a string\", expected a JSON object (column 15)"
            ),
            bad(
                7,
                "not a valid JSON object: trailing characters (column 22)"
            ),
            bad(
                8,
                "not a valid JSON object: key \"username\" given twice (column 36)"
            ),
            bad(
                9,
                "not a valid JSON object: invalid unicode code point (column 15)"
            ),
            ("users.jsonl:10".to_string(), None),
        ]
    );
    // The BOM and CRLF are not part of the first record.
    assert_eq!(attrs(&items[0]), [("username", vec!["alice"])]);
    // The rejects file gets the line back as it was (non-UTF-8 bytes replaced).
    let SourceItem::Bad(b) = &items[1] else {
        unreachable!()
    };
    assert_eq!(b.raw, RawText::Text("{\"username\": \"bob\",, }\n".into()));
    assert_eq!(b.problems.len(), 1);
    assert_eq!(b.problems[0], Problem::record(b.problems[0].reason.clone()));
}

#[test]
fn canonical_user_json_reads_back() {
    let user = User {
        id: Some("u1".into()),
        username: "alice".into(),
        email: Some("alice@example.org".into()),
        name: Some("Alice \"Al\" Liddell\nline two".into()),
        first_name: Some("Alice".into()),
        last_name: Some("Liddell".into()),
        nickname: Some("al".into()),
        position: Some("Engineer, senior".into()),
        locale: Some("de".into()),
        active: Some(false),
        roles: Some(vec!["user".into(), "admin".into()]),
        password: Some(roster::secret::Secret::new("hunter2-never-written")),
        require_password_change: Some(true),
        verified: Some(true),
        custom_fields: [
            ("Dept".to_string(), "R&D".to_string()),
            ("dept".into(), "x".into()),
        ]
        .into_iter()
        .collect(),
        external_id: Some("6f1c-uuid".into()),
        teams: Some(vec!["sales".into()]),
        channels: Some(vec!["sales/news".into(), "town-square".into()]),
        avatar: Some(roster::model::Avatar::Url("https://x.example/a.png".into())),
        avatar_digest: None,
        origin: Default::default(),
        server_kind: None,
        server_avatar: false,
        server_auth: None,
        server_mfa: None,
        preferences: Default::default(),
    };
    let buf = SharedBuf(Default::default());
    let mut w: Box<dyn UserWriter> = Box::new(JsonlUserWriter::new(Box::new(buf.clone())));
    w.write(&user).unwrap();
    w.write(&User {
        username: "bob".into(),
        roles: Some(vec![]),
        ..Default::default()
    })
    .unwrap();
    w.finish().unwrap();
    let out = buf.0.lock().unwrap().clone();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(!text.contains("hunter2"), "password written: {text}");
    assert!(!text.contains("\"password\""));
    assert_eq!(text.matches('\n').count(), 2, "one line per user, \\n ends");
    assert!(!text.contains('\r'));

    let items = drain(&out);
    assert_eq!(
        attrs(&items[0]),
        [
            ("id", vec!["u1"]),
            ("username", vec!["alice"]),
            ("email", vec!["alice@example.org"]),
            ("name", vec!["Alice \"Al\" Liddell\nline two"]),
            ("first_name", vec!["Alice"]),
            ("last_name", vec!["Liddell"]),
            ("nickname", vec!["al"]),
            ("position", vec!["Engineer, senior"]),
            ("locale", vec!["de"]),
            ("active", vec!["false"]),
            ("roles", vec!["user", "admin"]),
            ("require_password_change", vec!["true"]),
            ("verified", vec!["true"]),
            ("custom_fields.Dept", vec!["R&D"]),
            ("custom_fields.dept", vec!["x"]),
            ("external_id", vec!["6f1c-uuid"]),
            ("teams", vec!["sales"]),
            ("channels", vec!["sales/news", "town-square"]),
            ("avatar", vec!["https://x.example/a.png"]),
        ]
    );
    // An empty role list stays an attribute with no values: "no roles", not "unknown".
    assert_eq!(
        attrs(&items[1]),
        [("username", vec!["bob"]), ("roles", vec![])]
    );
}

/// A writer whose bytes the test can read after the `UserWriter` consumed it.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn open_names_origins_after_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.jsonl");
    std::fs::write(&path, "\n{\"username\":\"alice\"}\n").unwrap();
    let spec = path.to_str().unwrap();
    let mut src = roster::source::open(spec, &SourceOptions::default()).unwrap();
    assert_eq!(src.format(), Format::Jsonl);
    let Some(SourceItem::Record(r)) = src.next_item().unwrap() else {
        panic!()
    };
    assert_eq!(r.origin.to_string(), format!("{spec}:2"));
    assert!(src.next_item().unwrap().is_none());
}

/// An object with 300,000 keys: read in about a second even in a debug build, where
/// comparing each key with all the ones before it would take many minutes; the suite's own
/// run time shows a regression. A key given twice is still found, however far apart.
#[test]
fn an_object_with_300k_keys_is_read_in_linear_time() {
    const N: usize = 300_000;
    let mut line = String::from("{\"username\":\"big\"");
    for i in 0..N {
        line.push_str(&format!(",\"k{i}\":\"v\""));
    }
    let good = format!("{line},\"custom_fields\":{{\"k1\":\"x\",\"K1\":\"y\"}},\"K0\":\"y\"}}\n");
    let twice = format!("{line},\"k0\":\"again\"}}\n");
    let twice_custom =
        format!("{line},\"custom_fields\":{{\"a\":\"x\"}},\"custom_fields.a\":\"y\"}}\n");
    let items = drain(format!("{good}{twice}{twice_custom}").as_bytes());
    assert_eq!(items.len(), 3);
    let a = attrs(&items[0]);
    assert_eq!(a.len(), N + 4);
    assert_eq!(a[1], ("k0", vec!["v"]));
    assert_eq!(a[N], (&*format!("k{}", N - 1), vec!["v"]));
    // Keys are case-sensitive: these are new ones (serde_json sorts a nested object's keys).
    assert_eq!(
        a[N + 1..],
        [
            ("custom_fields.K1", vec!["y"]),
            ("custom_fields.k1", vec!["x"]),
            ("K0", vec!["y"])
        ]
    );
    for (item, key) in [(&items[1], "k0"), (&items[2], "custom_fields.a")] {
        let SourceItem::Bad(b) = item else {
            panic!("{key}: not rejected")
        };
        let r = &b.problems[0].reason;
        assert!(r.contains(&format!("key \"{key}\" given twice")), "{r}");
    }
}

proptest::proptest! {
    #![proptest_config(crate::support::cases(256))]

    /// Any set of keys, few enough to repeat and many enough to pass any small-object fast
    /// path: an object is rejected exactly when a key (case-sensitive) comes twice, and
    /// otherwise keeps every key in order.
    #[test]
    fn duplicate_keys_are_found_however_many(keys in proptest::collection::vec("[a-cA-C]{1,2}", 0..200)) {
        let body: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("\"{k}\":\"{i}\"")).collect();
        let items = drain(format!("{{{}}}\n", body.join(",")).as_bytes());
        proptest::prop_assert_eq!(items.len(), 1);
        let mut seen = std::collections::HashSet::new();
        let first_dup = keys.iter().find(|k| !seen.insert(k.as_str()));
        match (&items[0], first_dup) {
            (SourceItem::Bad(b), Some(k)) => {
                let want = format!("key \"{k}\" given twice");
                proptest::prop_assert!(b.problems[0].reason.contains(&want), "{:?}", b.problems);
            }
            (SourceItem::Record(r), None) => {
                let names: Vec<&str> = r.attrs.names().collect();
                proptest::prop_assert_eq!(names, keys.iter().map(String::as_str).collect::<Vec<_>>());
            }
            (item, dup) => proptest::prop_assert!(false, "{item:?} with duplicate {dup:?}"),
        }
    }
}

#[test]
fn a_line_over_the_size_cap_is_skipped_with_an_error_and_reading_goes_on() {
    let opts = SourceOptions {
        max_record_bytes: Some(100),
        ..SourceOptions::default()
    };
    let text = format!(
        "{{\"username\":\"a\"}}\n{{\"username\":\"b\",\"note\":\"{}\"}}\n{{\"username\":\"c\"}}",
        "n".repeat(5000)
    );
    let mut src = JsonlSource::from_reader(io::Cursor::new(text), "u.jsonl", &opts).unwrap();
    let items: Vec<SourceItem> = std::iter::from_fn(|| src.next_item().unwrap()).collect();
    assert_eq!(items.len(), 3, "{items:?}");
    let SourceItem::Bad(b) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(b.origin.as_str(), "u.jsonl:2");
    assert_eq!(
        b.problems[0].reason,
        "the line is larger than 100 bytes (--max-record-size); skipped"
    );
    assert!(matches!(&items[2], SourceItem::Record(r) if r.origin.as_str() == "u.jsonl:3"));
}

#[test]
fn the_size_cap_holds_at_its_boundary_whatever_the_line_end() {
    let line = r#"{"username":"abcdefghij"}"#; // 25 bytes
    for text in [format!("{line}\n"), format!("{line}\r\n"), line.to_string()] {
        for (cap, fits) in [(25, true), (24, false)] {
            let opts = SourceOptions {
                max_record_bytes: Some(cap),
                ..SourceOptions::default()
            };
            let mut src =
                JsonlSource::from_reader(io::Cursor::new(text.clone()), "u.jsonl", &opts).unwrap();
            let item = src.next_item().unwrap().unwrap();
            assert_eq!(
                matches!(item, SourceItem::Record(_)),
                fits,
                "cap {cap}, {text:?}: {item:?}"
            );
            assert!(src.next_item().unwrap().is_none());
        }
    }
}
