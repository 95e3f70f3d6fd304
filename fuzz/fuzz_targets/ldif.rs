//! The LDIF reader and the mapping must never panic, whatever the bytes.
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run ldif   (cargo install cargo-fuzz)
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::mapping::Mapping;
use roster::source::ldif::LdifSource;
use roster::source::{Source, SourceItem, SourceOptions};

fuzz_target!(|data: &[u8]| {
    let mut src = LdifSource::from_reader(std::io::Cursor::new(data.to_vec()), "fuzz.ldif", None, &SourceOptions::default());
    let mapping = Mapping::default();
    while let Ok(Some(item)) = src.next_item() {
        if let SourceItem::Record(r) = item {
            let _ = mapping.apply(&r);
        }
    }
});
