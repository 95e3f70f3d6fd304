//! `CsvSource` behaviour: delimiters, headers, encodings, bad rows, line numbers.

use std::io::{self, Read};

use roster::model::{FieldValue, Problem, RawRecord, RawText};
use roster::source::csv::CsvSource;
use roster::source::{Encoding, Format, Source, SourceError, SourceItem, SourceOptions};

fn source(bytes: &[u8], opts: &SourceOptions) -> CsvSource {
    CsvSource::from_reader(
        io::Cursor::new(bytes.to_vec()),
        "users.csv",
        Format::Csv,
        opts,
    )
    .unwrap()
}

fn config_error(bytes: &[u8], opts: &SourceOptions) -> String {
    match CsvSource::from_reader(
        io::Cursor::new(bytes.to_vec()),
        "users.csv",
        Format::Csv,
        opts,
    ) {
        Err(SourceError::Config(msg)) => msg,
        Err(e) => panic!("expected a config error, got {e}"),
        Ok(_) => panic!("expected a config error, got a source"),
    }
}

fn drain(src: &mut dyn Source) -> Vec<SourceItem> {
    let mut items = Vec::new();
    while let Some(item) = src.next_item().unwrap() {
        items.push(item);
    }
    items
}

fn record(item: &SourceItem) -> &RawRecord {
    match item {
        SourceItem::Record(r) => r,
        SourceItem::Bad(b) => panic!("unexpected bad row: {b:?}"),
    }
}

/// The record's cells as (column, text) pairs.
fn cells(item: &SourceItem) -> Vec<(&str, &str)> {
    record(item)
        .attrs
        .0
        .iter()
        .map(|(n, v)| match v.as_slice() {
            [FieldValue::Text(t)] => (&**n, t.as_str()),
            other => panic!("{n}: {other:?}"),
        })
        .collect()
}

fn cell<'a>(item: &'a SourceItem, column: &str) -> &'a str {
    match record(item).attrs.get(column) {
        Some([FieldValue::Text(t)]) => t,
        other => panic!("{column}: {other:?}"),
    }
}

fn origins(items: &[SourceItem]) -> Vec<&str> {
    items
        .iter()
        .map(|i| match i {
            SourceItem::Record(r) => r.origin.as_str(),
            SourceItem::Bad(b) => b.origin.as_str(),
        })
        .collect()
}

#[test]
fn detects_semicolon_and_splits_nothing_inside_cells() {
    let mut src = source(
        b"username;email;name;roles\nalice;alice@example.org;Liddell, Alice;admin,user\n",
        &SourceOptions::default(),
    );
    let d = src.csv_dialect().unwrap();
    assert_eq!(d.delimiter, b';');
    assert_eq!(d.multi_sep, ',', "`;` files separate values with `,`");
    assert_eq!(d.header, ["username", "email", "name", "roles"]);
    assert!(!d.headerless);
    let items = drain(&mut src);
    assert_eq!(
        cells(&items[0]),
        [
            ("username", "alice"),
            ("email", "alice@example.org"),
            ("name", "Liddell, Alice"),
            ("roles", "admin,user"),
        ]
    );
}

#[test]
fn detects_tab_and_pipe() {
    let mut src = source(
        b"username\temail\nbob\tbob@example.org\n",
        &SourceOptions::default(),
    );
    assert_eq!(src.csv_dialect().unwrap().delimiter, b'\t');
    assert_eq!(src.csv_dialect().unwrap().multi_sep, ';');
    assert_eq!(cell(&drain(&mut src)[0], "email"), "bob@example.org");

    let mut src = source(
        b"username|email\ncarol|carol@example.org\n",
        &SourceOptions::default(),
    );
    assert_eq!(src.csv_dialect().unwrap().delimiter, b'|');
    assert_eq!(cell(&drain(&mut src)[0], "username"), "carol");
}

#[test]
fn detects_comma_when_semicolons_are_quoted() {
    let mut src = source(
        b"username,roles,name\nalice,\"admin;user\",Alice\nbob,\"a;b;c;d\",\"Bob; Jr.\"\n",
        &SourceOptions::default(),
    );
    let d = src.csv_dialect().unwrap();
    assert_eq!(d.delimiter, b',');
    assert_eq!(d.multi_sep, ';');
    let items = drain(&mut src);
    assert_eq!(cell(&items[0], "roles"), "admin;user");
    assert_eq!(cell(&items[1], "roles"), "a;b;c;d");
    assert_eq!(cell(&items[1], "name"), "Bob; Jr.");
}

#[test]
fn tsv_format_and_explicit_delimiter_skip_detection() {
    // Commas dominate, but TSV means tab.
    let mut src = CsvSource::from_reader(
        io::Cursor::new(b"a,b,c\tx\n1,2,3\ty\n".to_vec()),
        "users.tsv",
        Format::Tsv,
        &SourceOptions::default(),
    )
    .unwrap();
    assert_eq!(src.format(), Format::Tsv);
    assert_eq!(src.csv_dialect().unwrap().header, ["a,b,c", "x"]);
    assert_eq!(cells(&drain(&mut src)[0]), [("a,b,c", "1,2,3"), ("x", "y")]);

    let opts = SourceOptions {
        delimiter: Some(b';'),
        multi_sep: Some('/'),
        ..Default::default()
    };
    let mut src = source(b"a,b;c\n1,2;3\n", &opts);
    assert_eq!(src.csv_dialect().unwrap().multi_sep, '/');
    assert_eq!(cells(&drain(&mut src)[0]), [("a,b", "1,2"), ("c", "3")]);
}

#[test]
fn headerless_file_with_columns() {
    // Rocket.Chat's importer users.csv: username,email,name without a header.
    let opts = SourceOptions {
        no_headers: true,
        columns: Some(vec!["username".into(), " email".into(), "name".into()]),
        ..Default::default()
    };
    let mut src = source(
        b"alice,alice@example.org,Alice Liddell\nbob,bob@example.org\ncarol,carol@example.org,Carol\n",
        &opts,
    );
    let d = src.csv_dialect().unwrap();
    assert!(d.headerless);
    assert_eq!(d.header, ["username", "email", "name"]);
    let items = drain(&mut src);
    assert_eq!(
        origins(&items),
        ["users.csv:1", "users.csv:2", "users.csv:3"]
    );
    assert_eq!(
        cells(&items[0]),
        [
            ("username", "alice"),
            ("email", "alice@example.org"),
            ("name", "Alice Liddell")
        ]
    );
    let SourceItem::Bad(bad) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(
        bad.problems,
        [Problem::record("has 2 fields, --columns names 3")]
    );
    assert_eq!(cell(&items[2], "name"), "Carol");
}

#[test]
fn header_and_column_configuration_errors() {
    let msg = config_error(
        b"alice,a@x\n",
        &SourceOptions {
            no_headers: true,
            ..Default::default()
        },
    );
    assert!(msg.contains("--no-headers needs --columns"), "{msg}");

    let msg = config_error(
        b"username\nalice\n",
        &SourceOptions {
            columns: Some(vec!["username".into()]),
            ..Default::default()
        },
    );
    assert!(
        msg.contains("--columns") && msg.contains("--no-headers"),
        "{msg}"
    );

    let msg = config_error(
        b"x\n",
        &SourceOptions {
            no_headers: true,
            columns: Some(vec!["username".into(), "USERNAME".into()]),
            ..Default::default()
        },
    );
    assert!(msg.contains("USERNAME (columns 1 and 2)"), "{msg}");

    let msg = config_error(
        b"username,Email,name,email\nalice,a@x,A,b@x\n",
        &SourceOptions::default(),
    );
    assert!(msg.starts_with("users.csv:1: header row"), "{msg}");
    assert!(msg.contains("email (columns 2 and 4)"), "{msg}");

    let msg = config_error(b"username,,email, \n", &SourceOptions::default());
    assert!(
        msg.contains("unnamed columns (counting from 1): 2, 4; name or delete them"),
        "{msg}"
    );

    let msg = config_error(b"", &SourceOptions::default());
    assert!(msg.contains("empty file"), "{msg}");
    let msg = config_error(b"\r\n\n", &SourceOptions::default());
    assert!(msg.contains("empty file"), "{msg}");

    let msg = config_error(
        b"a\"b\n",
        &SourceOptions {
            delimiter: Some(b'"'),
            ..Default::default()
        },
    );
    assert!(msg.contains("cannot be the delimiter"), "{msg}");

    // UTF-16 (here with its byte order mark) would read as garbage: refused.
    let msg = config_error(b"\xFF\xFEu\0,\0e\0\n\0", &SourceOptions::default());
    assert!(msg.contains("UTF-16"), "{msg}");
}

#[test]
fn header_names_are_trimmed() {
    let mut src = source(b"username , email\nalice,a@x\n", &SourceOptions::default());
    assert_eq!(src.csv_dialect().unwrap().header, ["username", "email"]);
    assert_eq!(cell(&drain(&mut src)[0], "email"), "a@x");
}

#[test]
fn utf8_bom_is_stripped() {
    let mut src = source(
        b"\xEF\xBB\xBFusername,name\r\nalice,Zo\xC3\xAB\r\n",
        &SourceOptions::default(),
    );
    assert_eq!(src.csv_dialect().unwrap().header, ["username", "name"]);
    let items = drain(&mut src);
    assert_eq!(cell(&items[0], "username"), "alice");
    assert_eq!(cell(&items[0], "name"), "Zoë");
    assert_eq!(origins(&items), ["users.csv:2"]);
    assert!(src.take_warnings().is_empty());
}

#[test]
fn a_utf8_bom_with_a_single_byte_encoding_is_stripped_with_a_warning() {
    let opts = SourceOptions {
        encoding: Encoding::Windows1252,
        ..Default::default()
    };
    let mut src = source(b"\xEF\xBB\xBFname\nM\xfcller\n", &opts);
    assert_eq!(src.csv_dialect().unwrap().header, ["name"]);
    assert_eq!(cell(&drain(&mut src)[0], "name"), "Müller");
    assert_eq!(
        src.take_warnings(),
        ["users.csv: starts with a UTF-8 byte order mark but is read as windows-1252 as asked"]
    );
}

/// Lines: 1 header, 2 ASCII, 3 and 5 Windows-1252, 4 UTF-8.
const MIXED: &[u8] =
    b"username,name\nalice,Alice\nbob,M\xfcller\nzoe,Zo\xC3\xAB\ncarol,Caf\xe9 \x80\n";

#[test]
fn auto_encoding_reads_non_utf8_rows_as_windows_1252_and_warns_once() {
    let mut src = source(MIXED, &SourceOptions::default());
    let items = drain(&mut src);
    let names: Vec<&str> = items.iter().map(|i| cell(i, "name")).collect();
    assert_eq!(names, ["Alice", "Müller", "Zoë", "Café €"]);
    assert_eq!(
        src.take_warnings(),
        ["users.csv: not valid UTF-8 from line 3; read as Windows-1252 (use --encoding to choose)"]
    );
    assert!(src.take_warnings().is_empty(), "warnings are drained");
}

#[test]
fn utf8_encoding_rejects_non_utf8_rows() {
    let opts = SourceOptions {
        encoding: Encoding::Utf8,
        ..Default::default()
    };
    let mut src = source(MIXED, &opts);
    let items = drain(&mut src);
    assert_eq!(items.len(), 4, "every row is accounted for");
    assert_eq!(cell(&items[0], "name"), "Alice");
    let SourceItem::Bad(bad) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(bad.origin.as_str(), "users.csv:3");
    assert_eq!(
        bad.problems,
        [Problem::new(
            "name",
            "not valid UTF-8 (use --encoding windows-1252)"
        )]
    );
    // The rejects file gets the row back readable, nothing lost.
    assert_eq!(
        bad.raw,
        RawText::Fields(vec!["bob".into(), "Müller".into()])
    );
    assert_eq!(cell(&items[2], "name"), "Zoë");
    assert!(matches!(&items[3], SourceItem::Bad(b) if b.origin.as_str() == "users.csv:5"));
    assert!(src.take_warnings().is_empty());
}

#[test]
fn single_byte_encodings() {
    let latin1 = SourceOptions {
        encoding: Encoding::Latin1,
        ..Default::default()
    };
    let items = drain(&mut source(b"name\nM\xfcller \x80\n", &latin1));
    assert_eq!(cell(&items[0], "name"), "Müller \u{80}");

    let cp1252 = SourceOptions {
        encoding: Encoding::Windows1252,
        ..Default::default()
    };
    let mut src = source(b"name\nM\xfcller \x80\n", &cp1252);
    assert_eq!(cell(&drain(&mut src)[0], "name"), "Müller €");
    assert!(src.take_warnings().is_empty());

    // Chosen explicitly, UTF-8 text is read as Windows-1252 too.
    let items = drain(&mut source(b"name\nZo\xC3\xAB\n", &cp1252));
    assert_eq!(cell(&items[0], "name"), "ZoÃ«");
}

#[test]
fn a_field_boundary_inside_a_utf8_sequence_is_not_utf8() {
    // The row's bytes together are valid UTF-8 ("xü y"), its fields are not.
    let data = b"a,b\nx\xC3,\xBCy\n";
    let items = drain(&mut source(data, &SourceOptions::default()));
    assert_eq!(cells(&items[0]), [("a", "xÃ"), ("b", "¼y")]);
    let opts = SourceOptions {
        encoding: Encoding::Utf8,
        ..Default::default()
    };
    let items = drain(&mut source(data, &opts));
    assert!(matches!(&items[0], SourceItem::Bad(b) if b.problems[0].field.as_deref() == Some("a")));
}

#[test]
fn ragged_rows_are_bad_and_reading_goes_on() {
    let mut src = source(
        b"a,b,c\n1,2,3\n4,5\n6,7,8,9,10\n11,12,13\n",
        &SourceOptions::default(),
    );
    let items = drain(&mut src);
    assert_eq!(items.len(), 4);
    assert_eq!(cells(&items[0]), [("a", "1"), ("b", "2"), ("c", "3")]);
    let SourceItem::Bad(short) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(short.origin.as_str(), "users.csv:3");
    assert_eq!(
        short.problems,
        [Problem::record("has 2 fields, the header has 3")]
    );
    assert_eq!(short.raw, RawText::Fields(vec!["4".into(), "5".into()]));
    let SourceItem::Bad(long) = &items[2] else {
        panic!("{:?}", items[2])
    };
    assert_eq!(
        long.problems,
        [Problem::record("has 5 fields, the header has 3")]
    );
    assert_eq!(cells(&items[3]), [("a", "11"), ("b", "12"), ("c", "13")]);
    assert_eq!(origins(&items)[3], "users.csv:5");
}

#[test]
fn empty_cells_are_kept_and_rows_of_only_empty_cells_are_skipped_with_a_warning() {
    let mut src = source(
        b"a,b,c\n1,,\n,,\n\n  , ,\n\"\",\"\",\"\"\n2,3,4\n",
        &SourceOptions::default(),
    );
    let items = drain(&mut src);
    assert_eq!(cells(&items[0]), [("a", "1"), ("b", ""), ("c", "")]);
    assert_eq!(origins(&items), ["users.csv:2", "users.csv:7"]);
    assert_eq!(
        src.take_warnings(),
        ["users.csv: skipped 3 rows with only empty cells (the first at line 3)"]
    );
}

#[test]
fn line_numbers_count_physical_lines_in_crlf_files() {
    let mut src = source(
        b"\r\nusername,note\r\nalice,x\r\n\r\n\r\nbob,\"two\r\nlines\"\r\ncarol,y\r\ndave,z",
        &SourceOptions::default(),
    );
    let items = drain(&mut src);
    assert_eq!(
        origins(&items),
        ["users.csv:3", "users.csv:6", "users.csv:8", "users.csv:9"]
    );
    assert_eq!(cell(&items[1], "note"), "two\r\nlines");
    assert_eq!(cell(&items[3], "note"), "z");
}

#[test]
fn old_mac_line_ends_are_line_ends() {
    let mut src = source(
        b"username;name\ralice;Alice, A.\r\rbob;\"B\rB\"\rcarol;C",
        &SourceOptions::default(),
    );
    assert_eq!(src.csv_dialect().unwrap().delimiter, b';');
    let items = drain(&mut src);
    assert_eq!(
        origins(&items),
        ["users.csv:2", "users.csv:4", "users.csv:6"]
    );
    assert_eq!(cell(&items[1], "name"), "B\rB");
}

/// Hands out at most `n` bytes per read, so rows straddle every kind of buffer boundary.
struct Trickle<R>(R, usize);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn large_input_in_small_reads_gives_the_same_rows() {
    let mut data = b"username,email,note\r\n".to_vec();
    for i in 0..20_000 {
        data.extend_from_slice(
            format!("user{i},user{i}@example.org,\"multi\nline, {i}\"\r\n").as_bytes(),
        );
    }
    assert!(data.len() > 3 * 64 * 1024);
    let whole = drain(&mut source(&data, &SourceOptions::default()));
    let mut trickled = CsvSource::from_reader(
        Trickle(io::Cursor::new(data), 7),
        "users.csv",
        Format::Csv,
        &SourceOptions::default(),
    )
    .unwrap();
    assert_eq!(trickled.csv_dialect().unwrap().delimiter, b',');
    let trickled = drain(&mut trickled);
    assert_eq!(whole.len(), 20_000);
    assert_eq!(whole, trickled);
    let last = record(&whole[19_999]);
    // Row i (from 0) starts on line 2 + 2i: each row takes two lines.
    assert_eq!(last.origin.as_str(), "users.csv:40000");
    assert_eq!(cell(&whole[19_999], "note"), "multi\nline, 19999");
}

#[test]
fn open_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(&path, "username\nalice\n").unwrap();
    let spec = path.to_str().unwrap();
    let mut src = CsvSource::open(spec, Format::Csv, &SourceOptions::default()).unwrap();
    assert_eq!(src.describe(), spec);
    let items = drain(&mut src);
    assert_eq!(origins(&items), [format!("{spec}:2").as_str()]);

    let missing = dir.path().join("nope.csv");
    match CsvSource::open(
        missing.to_str().unwrap(),
        Format::Csv,
        &SourceOptions::default(),
    ) {
        Err(SourceError::Io { path, .. }) => assert!(path.ends_with("nope.csv")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a missing file"),
    }

    // Through the format-detecting entry point too.
    let mut src = roster::source::open(spec, &SourceOptions::default()).unwrap();
    assert_eq!(src.format(), Format::Csv);
    assert_eq!(drain(src.as_mut()).len(), 1);
}

#[test]
fn records_carry_no_raw_text_and_are_entries() {
    let items = drain(&mut source(b"username\nalice\n", &SourceOptions::default()));
    let r = record(&items[0]);
    assert_eq!(r.raw, RawText::None);
    assert_eq!(r.dn, None);
    assert_eq!(r.change, roster::model::Change::Entry);
}

#[test]
fn line_numbers_hold_whatever_the_read_sizes() {
    // LF, CRLF, lone CR, blank lines, a quoted field spanning lines, no final line end.
    let data = b"\r\nid,note\r\n1,a\n\n2,\"x\r\ny\rz\"\r3,b\r\r\n4,c\r\n\"5\",\"\n\"\n6,d";
    // Lines: 1 blank, 2 header, 3 row, 4 blank, 5-7 row, 8 row, 9 blank, 10 row, 11-12 row,
    // 13 row.
    let want = [
        "users.csv:3",
        "users.csv:5",
        "users.csv:8",
        "users.csv:10",
        "users.csv:11",
        "users.csv:13",
    ];
    for piece in 1..=data.len() {
        let mut src = CsvSource::from_reader(
            Trickle(io::Cursor::new(data.to_vec()), piece),
            "users.csv",
            Format::Csv,
            &SourceOptions::default(),
        )
        .unwrap();
        let items = drain(&mut src);
        assert_eq!(origins(&items), want, "reads of {piece} bytes");
        assert_eq!(cell(&items[1], "note"), "x\r\ny\rz");
    }
}

#[test]
fn a_quote_left_open_in_the_last_column_swallows_nothing() {
    let csv = b"username,email,name,password\n\
        a1,a1@example.org,Ann,\"Pw-a1\n\
        b1,b1@example.org,Bob,Pw-b1\n\
        c1,c1@example.org,Cy,Pw-c1\n";
    let items = drain(&mut source(csv, &SourceOptions::default()));
    assert_eq!(
        origins(&items),
        ["users.csv:2", "users.csv:3", "users.csv:4"]
    );
    let SourceItem::Bad(bad) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        bad.problems,
        [Problem::new(
            "password",
            "a quote opened at line 2 is never closed; lines 3-4 after it are read as rows"
        )]
    );
    // The rejected row holds its own line only, not the rows after it.
    assert_eq!(
        bad.raw,
        RawText::Fields(vec![
            "a1".into(),
            "a1@example.org".into(),
            "Ann".into(),
            "Pw-a1".into()
        ])
    );
    assert_eq!(cell(&items[1], "username"), "b1");
    assert_eq!(cell(&items[2], "password"), "Pw-c1");
}

#[test]
fn a_quote_left_open_in_a_middle_column_is_named_and_crlf_and_quotes_survive() {
    // CRLF line ends, a doubled quote in a swallowed row, a file without a final line end.
    let csv = b"username,email,name\r\n\
        a1,\"a1@example.org,Ann\r\n\
        b1,b1@example.org,\"\"\"\"\r\n\
        c1,c1@example.org,Cy";
    let items = drain(&mut source(csv, &SourceOptions::default()));
    assert_eq!(
        origins(&items),
        ["users.csv:2", "users.csv:3", "users.csv:4"]
    );
    let SourceItem::Bad(bad) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        bad.problems,
        [Problem::new(
            "email",
            "a quote opened at line 2 is never closed; lines 3-4 after it are read as rows"
        )]
    );
    assert_eq!(cell(&items[1], "name"), "\"");
    assert_eq!(cell(&items[2], "name"), "Cy");
}

#[test]
fn a_row_that_spans_lines_and_has_the_wrong_field_count_hints_at_an_open_quote() {
    // The quote opened on line 2 is closed by the one that opens a field on line 3.
    let csv = b"username,email,name\n\
        a1,\"a1@example.org,Ann\n\
        b1,\"Bob\"\n\
        c1,c1@example.org,Cy\n";
    let items = drain(&mut source(csv, &SourceOptions::default()));
    assert_eq!(origins(&items), ["users.csv:2", "users.csv:4"]);
    let SourceItem::Bad(bad) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        bad.problems,
        [Problem::record(
            "has 2 fields, the header has 3 (the row spans lines 2-3: is a quote left open?)"
        )]
    );
}

#[test]
fn a_quote_left_open_on_the_last_line_and_in_the_header() {
    let items = drain(&mut source(
        b"username,name\nann,\"Ann\n",
        &SourceOptions::default(),
    ));
    assert_eq!(items.len(), 1);
    let SourceItem::Bad(bad) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        bad.problems,
        [Problem::new(
            "name",
            "a quote opened at line 2 is never closed (the file ends inside it)"
        )]
    );
    // Every quote inside an open one is doubled, so the rows read again cannot leave
    // a quote open: a later quote closes the first one instead. The row it makes spans
    // lines, one of them a row of its own: rejected as a likely open quote.
    let items = drain(&mut source(
        b"username,name\na,\"A\nb,\"B\nc,C\n",
        &SourceOptions::default(),
    ));
    assert_eq!(origins(&items), ["users.csv:2", "users.csv:4"]);
    assert!(
        matches!(&items[0], SourceItem::Bad(b) if b.problems[0].reason.contains("is a quote left open at line 2?")),
        "{:?}",
        items[0]
    );
    let msg = config_error(b"username,\"name\nann,Ann\n", &SourceOptions::default());
    assert!(
        msg.contains("header row") && msg.contains("quote opened at line 1 is never closed"),
        "{msg}"
    );
}

#[test]
fn a_row_over_the_size_cap_is_skipped_with_an_error_and_reading_goes_on() {
    let opts = SourceOptions {
        max_record_bytes: Some(1024),
        ..SourceOptions::default()
    };
    let big = "x".repeat(5000);
    // A row whose cells are over the cap; then a quoted cell over the cap on one line.
    let csv = format!("username,name\na,A\nb,{big}\nc,C\nd,\"{big}\"\ne,E\n");
    let items = drain(&mut source(csv.as_bytes(), &opts));
    assert_eq!(
        origins(&items),
        [
            "users.csv:2",
            "users.csv:3",
            "users.csv:4",
            "users.csv:5",
            "users.csv:6"
        ]
    );
    for i in [1, 3] {
        let SourceItem::Bad(b) = &items[i] else {
            panic!("{:?}", items[i])
        };
        assert_eq!(
            b.problems,
            [Problem::record(
                "the row is larger than 1 KiB or 1048576 fields (--max-record-size); skipped"
            )]
        );
    }
    assert_eq!(cell(&items[2], "name"), "C");
    assert_eq!(cell(&items[4], "name"), "E");
    // A quoted cell that spans lines and outgrows the cap is taken for a quote left open:
    // its row ends with its first line, and the lines after are read again as rows (here
    // the second half of the cell, itself over the cap).
    let csv = format!("username,name\nd,\"start\n{big}\"\ne,E\n");
    let items = drain(&mut source(csv.as_bytes(), &opts));
    assert_eq!(
        origins(&items),
        ["users.csv:2", "users.csv:3", "users.csv:4"]
    );
    assert!(
        matches!(&items[0], SourceItem::Bad(b) if b.problems[0].reason.contains("not closed within 1 KiB")),
        "{:?}",
        items[0]
    );
    assert!(matches!(items[1], SourceItem::Bad(_)));
    assert_eq!(cell(&items[2], "name"), "E");
    // A quote left open that swallows more than the cap: the lines after it are read as
    // rows all the same, even though the quote's row was cut before the end of the file.
    let rows: String = (0..200).map(|i| format!("b{i},B{i}\r\n")).collect();
    let csv = format!("username,name\r\nx,X\r\na,\"A\r\n{rows}");
    let items = drain(&mut source(csv.as_bytes(), &opts));
    assert_eq!(items.len(), 202, "{:?}", &items[..3]);
    let SourceItem::Bad(b) = &items[1] else {
        panic!("{:?}", items[1])
    };
    assert_eq!(b.origin.as_str(), "users.csv:3");
    assert_eq!(
        b.problems,
        [Problem::new(
            "name",
            "a quote opened at line 3 is not closed within 1 KiB (--max-record-size); the lines after it are read as rows"
        )]
    );
    for (i, item) in items[2..].iter().enumerate() {
        assert_eq!(record(item).origin.as_str(), format!("users.csv:{}", i + 4));
        assert_eq!(cell(item, "name"), format!("B{i}"));
    }
}

#[test]
fn the_size_cap_counts_a_rows_cells_and_holds_at_its_boundary() {
    let opts = |cap| SourceOptions {
        max_record_bytes: Some(cap),
        ..SourceOptions::default()
    };
    // The cells of the second row hold 10 bytes ("abcde" + "fghij"), quotes and commas aside.
    let csv = b"a,b\n\"abcde\",fghij\r\nx,y\n";
    let items = drain(&mut source(csv, &opts(10)));
    assert_eq!(cells(&items[0]), [("a", "abcde"), ("b", "fghij")]);
    let items = drain(&mut source(csv, &opts(9)));
    assert!(matches!(items[0], SourceItem::Bad(_)), "{:?}", items[0]);
    assert_eq!(cells(&items[1]), [("a", "x"), ("b", "y")]);
}

#[test]
fn a_quote_closed_by_a_quote_rows_later_rejects_the_row_it_swallowed_rows_into() {
    // The quote opened on line 2 is closed by the one that ends line 3's password: the
    // row has the right number of fields, and line 3 (a whole row) sits in a cell.
    let csv = b"username,email,name,password\n\
        a1,a1@example.org,Ann,\"Pw-a1\n\
        b1,b1@example.org,Bob,\"pw\"\n\
        c1,c1@example.org,Cy,Pw-c1\n";
    let items = drain(&mut source(csv, &SourceOptions::default()));
    assert_eq!(origins(&items), ["users.csv:2", "users.csv:4"]);
    let SourceItem::Bad(bad) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        bad.problems,
        [Problem::new(
            "password",
            "the cell spans lines 2-3 and line 3 in it looks like a row of its own: is a quote left open at line 2?"
        )]
    );
    // A multi-line cell with fewer delimiters per line (an address) is fine.
    let csv = b"username,email,address\nann,ann@example.org,\"1 Main St, Apt 2\nSpringfield\"\n";
    let items = drain(&mut source(csv, &SourceOptions::default()));
    assert_eq!(cell(&items[0], "address"), "1 Main St, Apt 2\nSpringfield");
}
