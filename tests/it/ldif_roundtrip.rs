//! Round trip User → LdifUserWriter → LdifSource: every value comes back byte for byte.
//! Plus: no input makes the reader panic.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use roster::model::{RawRecord, User};
use roster::output::{DEFAULT_BASE_DN, UserWriter, WriterOptions, ldif::LdifUserWriter};
use roster::secret::Secret;
use roster::source::ldif::{LdifSource, escape_dn_value, parse_dn};
use roster::source::{Source, SourceItem, SourceOptions};

/// A `Write` whose bytes the test can read after the writer is finished.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const PASSWORD: &str = "S3cret-Pa55w0rd!";

fn write_users(users: &[User], base_dn: Option<&str>) -> Vec<u8> {
    let out = Shared::default();
    let opts = WriterOptions {
        base_dn: base_dn.map(str::to_string),
        ..WriterOptions::default()
    };
    let mut w: Box<dyn UserWriter> =
        Box::new(LdifUserWriter::new(Box::new(out.clone()), &opts).unwrap());
    for u in users {
        w.write(u).unwrap();
    }
    w.finish().unwrap();
    out.0.lock().unwrap().clone()
}

fn read_all(bytes: &[u8]) -> Vec<SourceItem> {
    let mut src = LdifSource::from_reader(
        io::Cursor::new(bytes.to_vec()),
        "rt.ldif",
        None,
        &SourceOptions::default(),
    );
    let mut items = Vec::new();
    while let Some(i) = src.next_item().unwrap() {
        items.push(i);
    }
    items
}

fn bytes_of(r: &RawRecord, name: &str) -> Option<Vec<Vec<u8>>> {
    r.attrs
        .get(name)
        .map(|vs| vs.iter().map(|v| v.bytes().to_vec()).collect())
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn one(s: &str) -> Option<Vec<Vec<u8>>> {
    Some(vec![s.as_bytes().to_vec()])
}

/// What the writer promises, checked on what the reader gives back.
fn check(u: &User, r: &RawRecord, base_dn: &str) {
    let dn = r.dn.as_deref().unwrap();
    let rdns = parse_dn(dn).unwrap();
    assert_eq!(rdns[0], vec![("uid".to_string(), u.username.clone())]);
    assert_eq!(rdns[1..], parse_dn(base_dn).unwrap()[..]);

    let mut want: Vec<(&str, Option<Vec<Vec<u8>>>)> = vec![
        (
            "objectClass",
            Some(
                ["top", "person", "organizationalPerson", "inetOrgPerson"]
                    .iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect(),
            ),
        ),
        ("uid", one(&u.username)),
        ("mail", some(&u.email).and_then(one)),
        ("cn", one(some(&u.name).unwrap_or(&u.username))),
        (
            "sn",
            one(some(&u.last_name).or(some(&u.name)).unwrap_or(&u.username)),
        ),
        ("givenName", some(&u.first_name).and_then(one)),
        ("displayName", some(&u.name).and_then(one)),
        ("title", some(&u.position).and_then(one)),
        ("preferredLanguage", some(&u.locale).and_then(one)),
        ("employeeNumber", some(&u.external_id).and_then(one)),
        (
            "nsAccountLock",
            (u.active == Some(false)).then(|| vec![b"TRUE".to_vec()]),
        ),
    ];
    let roles: Vec<Vec<u8>> = u
        .roles
        .iter()
        .flatten()
        .filter(|r| !r.is_empty())
        .map(|r| r.as_bytes().to_vec())
        .collect();
    want.push(("employeeType", (!roles.is_empty()).then_some(roles)));
    for (name, value) in &want {
        assert_eq!(&bytes_of(r, name), value, "{name} of {u:?}");
    }
    let expected_names: Vec<&str> = want
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        r.attrs.len(),
        expected_names.len(),
        "{:?}",
        r.attrs.names().collect::<Vec<_>>()
    );
}

/// Text with what LDIF and DNs find hard: non-ASCII, spaces at the ends, `, + ; " \ < > # = :`
/// line breaks, NUL, and long runs (folding).
fn tricky() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        3 => prop::sample::select(vec![
            ',', '+', ';', '"', '\\', '<', '>', '#', '=', ':', '\n', '\r', '\0', '\t', '-', '.', '@'
        ]),
        2 => prop::sample::select(vec!['é', 'ü', 'ß', 'Ł', 'č', '営', '業', '😀', '\u{a0}', '\u{85}']),
        1 => any::<char>(),
    ];
    prop_oneof![
        4 => prop::collection::vec(ch.clone(), 0..12),
        1 => prop::collection::vec(ch, 60..260),
    ]
    .prop_map(|v| v.into_iter().collect())
}

fn user() -> impl Strategy<Value = User> {
    let opt = || proptest::option::of(tricky());
    (
        tricky().prop_filter("username is required", |s| !s.is_empty()),
        (opt(), opt(), opt(), opt()),
        (opt(), opt(), opt()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop::collection::vec(tricky(), 0..4)),
    )
        .prop_map(
            |(
                username,
                (email, name, first_name, last_name),
                (position, locale, external_id),
                active,
                roles,
            )| User {
                username,
                email,
                name,
                first_name,
                last_name,
                position,
                locale,
                external_id,
                active,
                roles,
                nickname: Some("nick".into()),
                password: Some(Secret::new(PASSWORD)),
                verified: Some(true),
                require_password_change: Some(true),
                id: Some("server-id-123".into()),
                ..User::default()
            },
        )
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn users_round_trip_byte_exact(
        users in prop::collection::vec(user(), 1..5),
        base in prop_oneof![
            Just(None),
            Just(Some("ou=Équipe\\, Paris,o=Ex\\+Co".to_string())),
            Just(Some("dc=example,dc=org".to_string())),
        ],
    ) {
        let bytes = write_users(&users, base.as_deref());
        let text = String::from_utf8(bytes.clone()).unwrap();
        prop_assert!(text.starts_with("version: 1\n\ndn"));
        for line in text.lines() {
            prop_assert!(line.len() <= 76, "{line:?}");
        }
        prop_assert!(!text.contains(PASSWORD));
        prop_assert!(!text.to_ascii_lowercase().contains("userpassword"));
        let items = read_all(&bytes);
        prop_assert_eq!(items.len(), users.len());
        for (u, item) in users.iter().zip(&items) {
            let SourceItem::Record(r) = item else { panic!("{item:#?}\n{text}") };
            check(u, r, base.as_deref().unwrap_or(DEFAULT_BASE_DN));
        }
    }

    #[test]
    fn dn_values_escape_and_parse_back(v in tricky()) {
        let dn = format!("cn={},dc=x", escape_dn_value(&v));
        let rdns = parse_dn(&dn).unwrap();
        prop_assert_eq!(&rdns[0][0].1, &v);
        prop_assert_eq!(rdns.len(), 2);
    }

    #[test]
    fn parse_dn_never_panics(s in any::<String>()) {
        let _ = parse_dn(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        drain_checked(&bytes);
    }

    #[test]
    fn ldif_like_text_never_panics(
        lines in prop::collection::vec(ldif_line(), 0..60),
        crlf in any::<bool>(),
    ) {
        let sep = if crlf { "\r\n" } else { "\n" };
        drain_checked(lines.join(sep).as_bytes());
    }
}

/// Drains the reader; every item's origin names a line of the input.
fn drain_checked(bytes: &[u8]) {
    let lines = bytes.split(|&b| b == b'\n').count() as u64;
    let mut src = LdifSource::from_reader(
        io::Cursor::new(bytes.to_vec()),
        "f",
        None,
        &SourceOptions::default(),
    );
    while let Some(item) = src.next_item().unwrap() {
        let origin = match &item {
            SourceItem::Record(r) => r.origin.clone(),
            SourceItem::Bad(b) => b.origin.clone(),
        };
        let n: u64 = origin.as_str().strip_prefix("f:").unwrap().parse().unwrap();
        assert!(n >= 1 && n <= lines, "{origin} of {lines} lines");
    }
    let _ = src.take_warnings();
}

fn ldif_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        1 => Just("version: 1".to_string()),
        3 => "dn:{0,2} ?(uid|cn|ou|dc|1\\.2)=[a-z\\\\,+ #=\"]{0,6}(,dc=[a-z]{1,3}){0,2}",
        1 => "dn:: [A-Za-z0-9+/=]{0,12}",
        2 => prop::sample::select(vec!["add", "modify", "delete", "modrdn", "bogus"]).prop_map(|c| format!("changetype: {c}")),
        2 => prop::sample::select(vec!["add", "delete", "replace", "increment", "cn"]).prop_map(|k| format!("{k}: cn")),
        2 => Just("-".to_string()),
        6 => "(cn|sn|CN;lang-de|mail|1\\.2\\.3|bad name|)(:|::|:<)[ -~]{0,20}",
        1 => "[a-z]+:< file:[a-z./]{0,10}",
        1 => Just("control: 1.2.3 true".to_string()),
        2 => "#[ -~]{0,10}",
        3 => " [ -~\u{e9}]{0,20}",
        2 => "[ -~]{0,30}",
        1 => any::<String>(),
    ]
}

/// Hands out its bytes in pieces of the given sizes, so lines (and CRLF pairs) straddle
/// the reader's buffer refills.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = want.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn items_of(reader: impl io::Read + Send + 'static) -> Vec<SourceItem> {
    let mut src = LdifSource::from_reader(reader, "f", None, &SourceOptions::default());
    let mut items = Vec::new();
    while let Some(i) = src.next_item().unwrap() {
        items.push(i);
    }
    items
}

fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ldif")
            .join(rel),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(crate::support::cases(256))]

    #[test]
    fn reads_in_small_pieces_give_the_same_items(
        lines in prop::collection::vec(ldif_line(), 0..40),
        crlf in any::<bool>(),
        sizes in prop::collection::vec(1usize..20, 1..8),
    ) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let mut data = lines.join(sep).into_bytes();
        data.extend_from_slice(&corpus("openldap/test-modify.ldif"));
        let whole = items_of(io::Cursor::new(data.clone()));
        let pieces = items_of(Trickle { data, pos: 0, sizes, turn: 0 });
        prop_assert_eq!(whole, pieces);
    }

    /// Real files with a few bytes deleted, inserted or changed: no panic, no error, and
    /// every item names a line of the input.
    #[test]
    fn mutated_corpus_files_never_panic(
        file in prop::sample::select(vec![
            "openldap/test-modify.ldif",
            "openldap/test.ldif",
            "rfc2849/as-printed/example6.ldif",
            "rfc2849/corrected/example4.ldif",
        ]),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0u8..3, prop::sample::select(b"\n \r:-#<=\\,+x\xc3\x00".to_vec())),
            1..6,
        ),
    ) {
        let mut data = corpus(file);
        for (at, op, byte) in edits {
            let i = at.index(data.len() + 1);
            match op {
                0 if i < data.len() => { data.remove(i); }
                1 => data.insert(i, byte),
                _ if i < data.len() => data[i] = byte,
                _ => {}
            }
        }
        drain_checked(&data);
    }
}
