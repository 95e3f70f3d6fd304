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

/// Rows of plain cells, one cell of one row opening a quote it never closes.
fn rows_with_an_open_quote() -> impl Strategy<Value = (Vec<Vec<String>>, usize, usize, bool, bool)>
{
    (1usize..5)
        .prop_flat_map(|cols| {
            (
                prop::collection::vec(
                    prop::collection::vec("[a-z0-9@.][a-z0-9 @.]{0,5}", cols),
                    1..8,
                ),
                any::<prop::sample::Index>(),
                0..cols,
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(rows, at, col, crlf, final_eol)| {
            let row = at.index(rows.len());
            (rows, row, col, crlf, final_eol)
        })
}

proptest! {
    #![proptest_config(crate::support::cases(500))]

    /// The rows after a quote left open are read as rows, each from its own line, and the
    /// row with the quote is rejected naming its column.
    #[test]
    fn a_quote_left_open_loses_no_row((rows, at, col, crlf, final_eol) in rows_with_an_open_quote()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let cols = rows[0].len();
        let header: Vec<String> = (0..cols).map(|c| format!("c{c}")).collect();
        let mut text = header.join(",");
        for (i, row) in rows.iter().enumerate() {
            text.push_str(eol);
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, v)| if i == at && c == col { format!("\"{v}") } else { v.clone() })
                .collect();
            text.push_str(&cells.join(","));
        }
        if final_eol {
            text.push_str(eol);
        }
        let mut src = CsvSource::from_reader(
            io::Cursor::new(text.clone().into_bytes()), "f.csv", Format::Csv, &SourceOptions::default(),
        ).unwrap();
        let mut items = Vec::new();
        while let Some(item) = src.next_item().unwrap() {
            items.push(item);
        }
        // Rows before the quote and the quote's row; the rest, read again, when the quote
        // is in the last column (elsewhere the rows after it are read again too, as rows).
        prop_assert_eq!(items.len(), rows.len(), "{:?}\n{:?}", text, items);
        for (i, item) in items.iter().enumerate() {
            let line = (i + 2).to_string();
            match item {
                SourceItem::Bad(b) => {
                    prop_assert_eq!(i, at);
                    prop_assert_eq!(b.origin.as_str().rsplit(':').next(), Some(line.as_str()));
                    prop_assert_eq!(b.problems[0].field.as_deref(), Some(header[col].as_str()));
                    let reason = &b.problems[0].reason;
                    prop_assert!(reason.contains(&format!("a quote opened at line {line} is never closed")), "{}", reason);
                }
                SourceItem::Record(r) => {
                    prop_assert!(i != at, "{:?}", text);
                    prop_assert_eq!(r.origin.as_str().rsplit(':').next(), Some(line.as_str()));
                    let cells: Vec<String> = r.attrs.0.iter().map(|(_, v)| v[0].text().unwrap_or_default().to_string()).collect();
                    prop_assert_eq!(&cells, &rows[i]);
                }
            }
        }
    }
}

/// A header of 300,000 columns and a row of as many cells: read in linear time (with a
/// quadratic duplicate check this test took minutes).
#[test]
fn a_header_with_very_many_columns_is_read() {
    let n = 300_000;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let text = format!("{}\n{}\n", header.join(","), row.join(","));
    let mut src = CsvSource::from_reader(
        io::Cursor::new(text.into_bytes()),
        "f.csv",
        Format::Csv,
        &SourceOptions::default(),
    )
    .unwrap();
    let Some(SourceItem::Record(r)) = src.next_item().unwrap() else {
        panic!("one record")
    };
    assert_eq!(r.attrs.len(), n);
    // A duplicate among them is still found, naming both columns.
    let mut dup = header.clone();
    dup[n - 1] = "C17".into();
    let text = format!("{}\n", dup.join(","));
    let Err(e) = CsvSource::from_reader(
        io::Cursor::new(text.into_bytes()),
        "f.csv",
        Format::Csv,
        &SourceOptions::default(),
    ) else {
        panic!("a duplicate column")
    };
    assert!(e.to_string().contains("C17 (columns 18 and 300000)"), "{e}");
}
