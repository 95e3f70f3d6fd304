//! Stub: replaced by the real csv source.

use super::{Format, Source, SourceError, SourceItem, SourceOptions};

pub struct CsvSource {
    spec: String,
}

impl CsvSource {
    pub fn open(spec: &str, _format: Format, _opts: &SourceOptions) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!("{spec}: csv source not implemented yet")))
    }
}

impl Source for CsvSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        Ok(None)
    }
    fn format(&self) -> Format {
        Format::Csv
    }
    fn describe(&self) -> String {
        self.spec.clone()
    }
}
