//! Whole-user round trips through the writers, the sources and the mapping:
//! User → CSV → User and User → LDIF → User, with values that break naive tools
//! (non-ASCII, leading and trailing spaces, commas, quotes, colons, newlines).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use roster::mapping::{Mapping, MappingOptions};
use roster::model::User;
use roster::output::csv::CsvUserWriter;
use roster::output::ldif::LdifUserWriter;
use roster::output::{UserWriter, WriterOptions};
use roster::source::csv::CsvSource;
use roster::source::ldif::LdifSource;
use roster::source::{Format, Source, SourceItem, SourceOptions};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Text that is not empty and not only spaces (an empty cell reads back as "absent").
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z .,'\"-]{0,20}",
        "[ ]{1,2}[A-Za-zé ]{1,10}[ ]{0,2}",
        "[a-zA-Z0-9äöüßéèçñ李小龙Дмитрий ,;:<\"'\n\r-]{1,30}",
        // Formula-like: neutralised on the way out, restored on the way in.
        "'{0,2}[=+@\t\r-][A-Za-z0-9(),=+@'-]{0,10}",
    ]
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

fn username() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{0,15}"
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::of(s)
}

/// A user as a CSV row holds it. The name is always given: without one, the default
/// mapping composes it from first and last name, by design.
fn csv_user() -> impl Strategy<Value = User> {
    (
        username(),
        opt("[a-z0-9.]{1,10}@[a-z]{1,8}\\.org"),
        text().prop_map(Some),
        (opt(text()), opt(text()), opt(text()), opt(text())),
        (
            opt(any::<bool>()),
            opt(prop::collection::btree_set("[a-z-]{1,8}", 1..3)
                .prop_map(|s| s.into_iter().collect::<Vec<_>>())),
            opt(any::<bool>()),
            opt(any::<bool>()),
        ),
        (
            opt("[A-Za-z0-9-]{1,12}"),
            prop::collection::btree_map("[a-z]{1,6}", text(), 0..3),
        ),
    )
        .prop_map(
            |(
                username,
                email,
                name,
                (first, last, nick, pos),
                (active, roles, verified, rpc),
                (ext, custom),
            )| User {
                username,
                email,
                name,
                first_name: first,
                last_name: last,
                nickname: nick,
                position: pos,
                active,
                roles,
                verified,
                require_password_change: rpc,
                external_id: ext,
                custom_fields: custom,
                ..User::default()
            },
        )
}

fn read_back(src: &mut dyn Source, mapping: &Mapping) -> Vec<User> {
    let mut out = Vec::new();
    while let Some(item) = src.next_item().expect("source reads") {
        match item {
            SourceItem::Record(r) => {
                let m = mapping.apply(&r);
                assert!(m.problems.is_empty(), "{:?}", m.problems);
                out.push(m.user);
            }
            SourceItem::Bad(b) => panic!("bad record {b:?}"),
        }
    }
    out
}

fn comparable(mut u: User) -> User {
    u.origin = Default::default();
    u.password = None;
    u.id = None;
    u
}

proptest! {
    #![proptest_config(crate::support::cases(128))]

    #[test]
    fn user_csv_user(users in prop::collection::vec(csv_user(), 1..8), delimiter in prop::sample::select(vec![b',', b';', b'\t'])) {
        let buf = Buf::default();
        let mut w: Box<dyn UserWriter> = Box::new(CsvUserWriter::new(Box::new(buf.clone()), delimiter, &WriterOptions::default()).unwrap());
        for u in &users {
            w.write(u).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        let format = if delimiter == b'\t' { Format::Tsv } else { Format::Csv };
        let mut src = CsvSource::from_reader(io::Cursor::new(bytes), "rt.csv", format, &SourceOptions::default()).unwrap();
        let sep = src.csv_dialect().map(|d| d.multi_sep);
        let mapping = Mapping::default().with_options(&MappingOptions { multi_sep: sep });
        let back = read_back(&mut src, &mapping);
        prop_assert_eq!(back.into_iter().map(comparable).collect::<Vec<_>>(), users);
    }

    #[test]
    fn user_ldif_user(users in prop::collection::vec(ldif_user(), 1..8)) {
        let buf = Buf::default();
        let mut w: Box<dyn UserWriter> = Box::new(LdifUserWriter::new(Box::new(buf.clone()), &WriterOptions::default()).unwrap());
        for u in &users {
            w.write(u).unwrap();
        }
        w.finish().unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        let mut src = LdifSource::from_reader(io::Cursor::new(bytes), "rt.ldif", None, &SourceOptions::default());
        // Roles live in employeeType, which directories use for other things: mapped on purpose.
        let mapping = Mapping::new(&BTreeMap::new(), &["roles={employeeType}".to_string()]).unwrap();
        let back = read_back(&mut src, &mapping);
        prop_assert_eq!(back.into_iter().map(comparable).collect::<Vec<_>>(), users);
    }
}

/// The fields inetOrgPerson can hold (see the LDIF writer's documentation).
fn ldif_user() -> impl Strategy<Value = User> {
    (
        username(),
        opt("[a-z0-9.]{1,10}@[a-z]{1,8}\\.org"),
        text(),
        (opt(text()), text(), opt(text()), opt("[a-z]{2}")),
        (
            prop::option::of(Just(false)),
            opt(prop::collection::btree_set("[a-z-]{1,8}", 1..3)
                .prop_map(|s| s.into_iter().collect::<Vec<_>>())),
            opt("[A-Za-z0-9-]{1,12}"),
        ),
    )
        .prop_map(
            |(username, email, name, (first, last, pos, locale), (active, roles, ext))| User {
                username,
                email,
                name: Some(name),
                first_name: first,
                last_name: Some(last),
                position: pos,
                locale,
                active,
                roles,
                external_id: ext,
                ..User::default()
            },
        )
}
