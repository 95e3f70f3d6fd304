//! Mapping: raw record → canonical [`User`], through templates such as `{givenName} {sn}`.
//!
//! Each field has a rule: the job file's `[mapping]` table or a `--map field=template`
//! flag, else a default that knows the usual column and attribute names of CSV exports,
//! OpenLDAP, Active Directory and 389-DS. An empty template turns a field off.
//!
//! The [`Mapping`] type is here; `rules` builds it from the configuration and checks it,
//! `defaults` holds the built-in rules (column and attribute names per directory kind,
//! account state), `fill` assigns a record's values to the user's fields, and `modify`
//! decides which fields an LDIF modify record touches. Templates are in [`template`].

mod defaults;
mod fill;
mod modify;
mod rules;
pub mod template;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::model::{Field, Intent, Problem, User};

pub use defaults::parse_bool;
pub use rules::FieldSource;
pub use template::Template;

use template::Resolver;

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping {field}: {message}")]
    Template { field: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug)]
enum Rule {
    /// Configured or default templates, first non-empty wins.
    Templates {
        templates: Vec<Template>,
        configured: bool,
    },
    /// The built-in account-state rule (see [`defaults::ACTIVE_ATTRS`]).
    ActiveDefault,
    /// Turned off with an empty template.
    Off,
}

#[derive(Clone, Debug, Default)]
pub struct MappingOptions {
    /// Split list fields (roles) of CSV cells on this character.
    pub multi_sep: Option<char>,
}

#[derive(Clone, Debug)]
pub struct Mapping {
    rules: Vec<(Field, Rule)>,
    resolver: Resolver,
    index: HashMap<String, usize>,
    active_slots: Vec<usize>,
    id: u64,
    /// Custom fields named in the configuration; when empty, `custom_fields.KEY` /
    /// `custom.KEY` attributes and a `custom_fields` JSON cell are read.
    custom: Vec<(String, Template)>,
    multi_sep: Option<char>,
}

/// The outcome of mapping one record. Problems found here (a boolean that is not one,
/// a bad `custom_fields` cell) are reported with the validation problems of the row.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub user: User,
    pub intent: Intent,
    pub problems: Vec<Problem>,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping::new(&std::collections::BTreeMap::new(), &[]).expect("the built-in defaults parse")
    }
}
