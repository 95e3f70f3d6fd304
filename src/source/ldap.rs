//! Stub: replaced by the live LDAP source (issue 5).

use super::{Format, Source, SourceError, SourceItem};

/// LDAP flags and `[source]` settings that override parts of the URL.
#[derive(Clone, Debug, Default)]
pub struct LdapOptions {
    pub base: Option<String>,
    pub scope: Option<String>,
    pub filter: Option<String>,
    pub attrs: Option<Vec<String>>,
    pub page_size: Option<u32>,
    pub no_paging: bool,
    pub starttls: bool,
    pub ca_file: Option<std::path::PathBuf>,
    pub bind_dn: Option<String>,
    pub insecure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LdapSourceError {
    #[error("{0}")]
    Other(String),
}

pub struct LdapSource {
    url: String,
}

impl LdapSource {
    pub fn open(url: &str, _opts: &LdapOptions) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!("{url}: LDAP source not implemented yet")))
    }
}

impl Source for LdapSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        Ok(None)
    }
    fn format(&self) -> Format {
        Format::Ldap
    }
    fn describe(&self) -> String {
        self.url.clone()
    }
}
