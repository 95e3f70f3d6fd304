//! Stub: replaced by the real jsonl source.

use super::{Format, Source, SourceError, SourceItem, SourceOptions};

pub struct JsonlSource {
    spec: String,
}

impl JsonlSource {
    pub fn open(spec: &str, _opts: &SourceOptions) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!("{spec}: jsonl source not implemented yet")))
    }
}

impl Source for JsonlSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        Ok(None)
    }
    fn format(&self) -> Format {
        Format::Jsonl
    }
    fn describe(&self) -> String {
        self.spec.clone()
    }
}
