//! Arbitrary bytes never panic the CSV and JSONL sources, every row comes out as exactly
//! one item (record or bad), and records always have one attribute per column.

use std::io;

use proptest::prelude::*;
use roster::source::csv::CsvSource;
use roster::source::jsonl::JsonlSource;
use roster::source::{Encoding, Format, Source, SourceItem, SourceOptions};

/// Bytes that are mostly CSV-significant (so the parser's states get exercised), plus
/// anything at all.
fn csvish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b",;\t|\"\r\n a\0\x80\xC3\xBC\xFF\xEF\xBB\xBF{}[]:".to_vec();
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(alphabet),
            1 => any::<u8>(),
        ],
        0..600,
    )
}

fn options() -> impl Strategy<Value = SourceOptions> {
    (
        prop::sample::select(vec![
            Encoding::Auto,
            Encoding::Utf8,
            Encoding::Windows1252,
            Encoding::Latin1,
        ]),
        prop::option::of(prop::sample::select(vec![
            b',', b';', b'\t', b'|', b'a', 0u8,
        ])),
        any::<bool>(),
    )
        .prop_map(|(encoding, delimiter, headerless)| SourceOptions {
            encoding,
            delimiter,
            no_headers: headerless,
            columns: headerless.then(|| vec!["username".into(), "email".into()]),
            ..Default::default()
        })
}

/// Drains a source, checking what holds for every input.
fn check(src: &mut dyn Source, input_len: usize, columns: Option<usize>) {
    let mut count = 0;
    let mut last_line = 0u64;
    while let Some(item) = src.next_item().unwrap() {
        count += 1;
        // A row takes at least one byte (plus a line end), so items are bounded.
        assert!(count <= input_len + 1, "more items than bytes");
        let origin = match &item {
            SourceItem::Record(r) => {
                if let Some(n) = columns {
                    assert_eq!(r.attrs.len(), n, "one attribute per column");
                }
                &r.origin
            }
            SourceItem::Bad(b) => {
                assert!(!b.problems.is_empty(), "a bad item says why");
                &b.origin
            }
        };
        let line: u64 = origin.as_str().rsplit(':').next().unwrap().parse().unwrap();
        assert!(line > last_line, "lines increase: {line} after {last_line}");
        last_line = line;
    }
    assert!(src.next_item().unwrap().is_none(), "stays at the end");
    let _ = src.take_warnings();
}

proptest! {
    #![proptest_config(crate::support::cases(2000))]

    #[test]
    fn csv_source_never_panics(bytes in csvish_bytes(), opts in options()) {
        let len = bytes.len();
        // Configuration errors (no header, UTF-16, a quote as delimiter) are fine; panics are not.
        if let Ok(mut src) = CsvSource::from_reader(io::Cursor::new(bytes), "f.csv", Format::Csv, &opts) {
            let columns = src.csv_dialect().map(|d| d.header.len());
            check(&mut src, len, columns);
        }
    }

    #[test]
    fn csv_source_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let len = bytes.len();
        if let Ok(mut src) = CsvSource::from_reader(
            io::Cursor::new(bytes), "f.csv", Format::Csv, &SourceOptions::default(),
        ) {
            let columns = src.csv_dialect().map(|d| d.header.len());
            check(&mut src, len, columns);
        }
    }

    #[test]
    fn jsonl_source_never_panics(bytes in csvish_bytes()) {
        let len = bytes.len();
        let mut src = JsonlSource::from_reader(
            io::Cursor::new(bytes), "f.jsonl", &SourceOptions::default(),
        ).unwrap();
        check(&mut src, len, None);
    }
}
