//! Users written by the CSV (and JSONL) writer read back through the matching source with
//! every cell exactly as the writer rendered it: non-ASCII, surrounding spaces, delimiters,
//! quotes, CR/LF, `;` inside values, formula-like values (`=`, `+`, `-`, `@`, TAB, CR first,
//! after any `'`). Passwords are never written.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use roster::model::{Avatar, FieldValue, User};
use roster::output::csv::{COLUMNS, CsvUserWriter};
use roster::output::jsonl::JsonlUserWriter;
use roster::output::{UserWriter, WriterOptions};
use roster::secret::Secret;
use roster::source::csv::CsvSource;
use roster::source::jsonl::JsonlSource;
use roster::source::{Format, Source, SourceItem, SourceOptions};

const PASSWORD_MARK: &str = "pw-MARK-7f3a";

/// A writer whose bytes the test reads after the `UserWriter` consumed it.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Text made of the pieces CSV quoting must get right.
fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9]{1,4}",
            Just(",".to_string()),
            Just(";".to_string()),
            Just("|".to_string()),
            Just("\t".to_string()),
            Just("\"".to_string()),
            Just("\"\"".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\r".to_string()),
            Just(" ".to_string()),
            Just("=1+2".to_string()),
            // Formula-like cells get a `'` in front that the reader takes off again, also
            // when the value itself starts with `'`.
            Just("'".to_string()),
            Just("''".to_string()),
            Just("+".to_string()),
            Just("-".to_string()),
            Just("@".to_string()),
            Just("=HYPERLINK(\"http://x\",\"y\")".to_string()),
            "[éüßÆ€日本語😀\u{a0}\u{feff}]",
            "\\PC",
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

fn user() -> impl Strategy<Value = User> {
    let names = (
        // A username always has something besides whitespace (rows of only blank cells
        // are skipped as empty).
        (tricky(), "[a-zé0-9]", tricky()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
        proptest::option::of(tricky()),
    );
    let rest = (
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop::collection::vec("[a-z_-]{1,12}", 0..4)),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        prop::collection::btree_map(tricky(), tricky(), 0..3),
        proptest::option::of(tricky()),
        proptest::option::of("[0-9a-zA-Z]{1,24}"),
    );
    let members = (
        proptest::option::of(prop::collection::vec("[a-z0-9_-]{1,12}", 0..4)),
        proptest::option::of(prop::collection::vec("[a-z0-9_/-]{1,12}", 0..4)),
        proptest::option::of(prop_oneof![
            "https://[a-z]{1,8}\\.example/[a-z]{1,8}\\.png".prop_map(Avatar::Url),
            "[a-z]{1,8}/[a-z]{1,8}\\.jpg".prop_map(Avatar::File),
            prop::collection::vec(any::<u8>(), 1..40).prop_map(|b| Avatar::Image(b.into())),
        ]),
    );
    (names, rest, members).prop_map(
        |(
            (username, email, name, first_name, last_name, nickname, position, locale),
            (active, roles, pw, rpc, verified, custom_fields, external_id, id),
            (teams, channels, avatar),
        )| User {
            id,
            username,
            email,
            name,
            first_name,
            last_name,
            nickname,
            position,
            locale,
            active,
            roles,
            password: pw.then(|| Secret::new(PASSWORD_MARK)),
            require_password_change: rpc,
            verified,
            custom_fields,
            external_id,
            teams,
            channels,
            avatar,
            avatar_digest: None,
            origin: Default::default(),
            server_kind: None,
            server_avatar: false,
            server_auth: None,
            server_mfa: None,
            preferences: Default::default(),
        },
    )
}

/// The cells the CSV writer is documented to write for `u`, in column order.
fn rendered(u: &User, roles_sep: &str) -> Vec<(String, String)> {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let b = |o: Option<bool>| o.map_or(String::new(), |b| b.to_string());
    let cells = [
        u.username.clone(),
        s(&u.email),
        s(&u.name),
        s(&u.first_name),
        s(&u.last_name),
        s(&u.nickname),
        s(&u.position),
        s(&u.locale),
        b(u.active),
        u.roles
            .as_ref()
            .map_or(String::new(), |r| r.join(roles_sep)),
        b(u.require_password_change),
        b(u.verified),
        s(&u.external_id),
        s(&u.id),
        if u.custom_fields.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&u.custom_fields).unwrap()
        },
        u.teams
            .as_ref()
            .map_or(String::new(), |r| r.join(roles_sep)),
        u.channels
            .as_ref()
            .map_or(String::new(), |r| r.join(roles_sep)),
        u.avatar.as_ref().map_or(String::new(), Avatar::text),
    ];
    COLUMNS.iter().map(|c| c.to_string()).zip(cells).collect()
}

fn drain(src: &mut dyn Source) -> Vec<SourceItem> {
    let mut items = Vec::new();
    while let Some(item) = src.next_item().unwrap() {
        items.push(item);
    }
    items
}

fn only_text(name: &str, values: &[FieldValue]) -> String {
    match values {
        [FieldValue::Text(t)] => t.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

proptest! {
    #![proptest_config(crate::support::cases(200))]

    #[test]
    fn csv_writer_output_reads_back_exactly(
        users in prop::collection::vec(user(), 1..6),
        delim in prop::sample::select(vec![b',', b';', b'\t', b'|']),
        excel in any::<bool>(),
    ) {
        let buf = SharedBuf::default();
        let opts = WriterOptions { excel, ..Default::default() };
        let mut w: Box<dyn UserWriter> =
            Box::new(CsvUserWriter::new(Box::new(buf.clone()), delim, &opts).unwrap());
        for u in &users {
            w.write(u).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        prop_assert_eq!(bytes.starts_with(b"\xEF\xBB\xBF"), excel);
        prop_assert!(!String::from_utf8_lossy(&bytes).contains(PASSWORD_MARK));
        // As a spreadsheet sees the cells: none starts a formula, and a neutralised one is
        // quoted.
        let mut raw = csv::ReaderBuilder::new()
            .delimiter(delim)
            .has_headers(false)
            .from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes));
        for rec in raw.byte_records() {
            for cell in rec.unwrap().iter() {
                prop_assert!(
                    !matches!(cell.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')),
                    "{:?}", String::from_utf8_lossy(cell)
                );
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        for u in &users {
            if let Some(name) = u.name.as_deref().filter(|n| n.starts_with('=')) {
                let quoted = format!("\"'{}\"", name.replace('"', "\"\""));
                prop_assert!(text.contains(&quoted), "{} in {}", quoted, text);
            }
        }

        // TSV through its format; the others through delimiter detection.
        let format = if delim == b'\t' { Format::Tsv } else { Format::Csv };
        let mut src = CsvSource::from_reader(
            io::Cursor::new(bytes), "out.csv", format, &SourceOptions::default(),
        ).unwrap();
        let dialect = src.csv_dialect().unwrap();
        prop_assert_eq!(dialect.delimiter, delim);
        prop_assert_eq!(&dialect.header, &COLUMNS.map(String::from).to_vec());
        let items = drain(&mut src);
        prop_assert!(src.take_warnings().is_empty());
        prop_assert_eq!(items.len(), users.len());
        let roles_sep = if delim == b';' { "," } else { ";" };
        let mut last_line = 1;
        for (u, item) in users.iter().zip(&items) {
            let SourceItem::Record(rec) = item else {
                panic!("bad row {item:?}");
            };
            let line: u64 = rec.origin.as_str().rsplit(':').next().unwrap().parse().unwrap();
            prop_assert!(line > last_line, "origins increase: {} after {}", line, last_line);
            last_line = line;
            let got: Vec<(String, String)> = rec
                .attrs
                .0
                .iter()
                .map(|(n, v)| (n.to_string(), only_text(n, v)))
                .collect();
            prop_assert_eq!(&got, &rendered(u, roles_sep));
            // The custom_fields cell is JSON that gives the map back.
            let cf = &got[14].1;
            let back: BTreeMap<String, String> =
                if cf.is_empty() { BTreeMap::new() } else { serde_json::from_str(cf).unwrap() };
            prop_assert_eq!(&back, &u.custom_fields);
        }
    }

    #[test]
    fn jsonl_writer_output_reads_back_exactly(users in prop::collection::vec(user(), 1..6)) {
        let buf = SharedBuf::default();
        let mut w: Box<dyn UserWriter> = Box::new(JsonlUserWriter::new(Box::new(buf.clone())));
        for u in &users {
            w.write(u).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        prop_assert!(!String::from_utf8_lossy(&bytes).contains(PASSWORD_MARK));
        prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), users.len());

        let mut src = JsonlSource::from_reader(
            io::Cursor::new(bytes), "out.jsonl", &SourceOptions::default(),
        ).unwrap();
        let items = drain(&mut src);
        prop_assert_eq!(items.len(), users.len());
        for (i, (u, item)) in users.iter().zip(&items).enumerate() {
            let SourceItem::Record(rec) = item else {
                panic!("bad line {item:?}");
            };
            prop_assert_eq!(rec.origin.as_str(), format!("out.jsonl:{}", i + 1));
            let mut got: Vec<(String, Vec<String>)> = rec
                .attrs
                .0
                .iter()
                .map(|(n, v)| (n.to_string(), v.iter().map(|v| v.text().expect("text").to_owned()).collect()))
                .collect();
            got.sort();
            let mut want: Vec<(String, Vec<String>)> = Vec::new();
            let mut one = |n: &str, v: &Option<String>| {
                if let Some(v) = v {
                    want.push((n.to_string(), vec![v.clone()]));
                }
            };
            one("id", &u.id);
            one("username", &Some(u.username.clone()));
            one("email", &u.email);
            one("name", &u.name);
            one("first_name", &u.first_name);
            one("last_name", &u.last_name);
            one("nickname", &u.nickname);
            one("position", &u.position);
            one("locale", &u.locale);
            one("active", &u.active.map(|b| b.to_string()));
            one("require_password_change", &u.require_password_change.map(|b| b.to_string()));
            one("verified", &u.verified.map(|b| b.to_string()));
            one("external_id", &u.external_id);
            one("avatar", &u.avatar.as_ref().map(Avatar::text));
            if let Some(r) = &u.roles {
                want.push(("roles".into(), r.clone()));
            }
            if let Some(r) = &u.teams {
                want.push(("teams".into(), r.clone()));
            }
            if let Some(r) = &u.channels {
                want.push(("channels".into(), r.clone()));
            }
            for (k, v) in &u.custom_fields {
                want.push((format!("custom_fields.{k}"), vec![v.clone()]));
            }
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
