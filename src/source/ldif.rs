//! Stub: replaced by the real ldif source.

use super::{Format, Source, SourceError, SourceItem, SourceOptions};

pub struct LdifSource {
    spec: String,
}

impl LdifSource {
    pub fn open(spec: &str, _opts: &SourceOptions) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!("{spec}: ldif source not implemented yet")))
    }
}

impl Source for LdifSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        Ok(None)
    }
    fn format(&self) -> Format {
        Format::Ldif
    }
    fn describe(&self) -> String {
        self.spec.clone()
    }
}
