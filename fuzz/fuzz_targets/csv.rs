//! The CSV source (all encodings and delimiters) and the mapping must never panic.
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run csv fuzz/corpus/csv fuzz/seeds/csv   (cargo install cargo-fuzz)
//! fuzz/seeds/csv holds inputs worth starting from: quotes left open, very many columns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::mapping::{Mapping, MappingOptions};
use roster::source::csv::CsvSource;
use roster::source::{Encoding, Format, Source, SourceItem, SourceOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&opt, body)) = data.split_first() else { return };
    let opts = SourceOptions {
        encoding: [Encoding::Auto, Encoding::Utf8, Encoding::Windows1252, Encoding::Latin1][usize::from(opt & 3)],
        no_headers: opt & 4 != 0,
        columns: (opt & 4 != 0).then(|| vec!["username".into(), "email".into(), "name".into()]),
        delimiter: (opt & 8 != 0).then_some(b';'),
        ..SourceOptions::default()
    };
    let Ok(mut src) = CsvSource::from_reader(std::io::Cursor::new(body.to_vec()), "fuzz.csv", Format::Csv, &opts) else { return };
    let mapping = Mapping::default().with_options(&MappingOptions { multi_sep: Some(';') });
    while let Ok(Some(item)) = src.next_item() {
        if let SourceItem::Record(r) = item {
            let _ = mapping.apply(&r);
        }
    }
});
