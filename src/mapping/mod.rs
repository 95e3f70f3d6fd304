//! Mapping: raw record → canonical [`User`], through templates such as `{givenName} {sn}`.

pub mod template;

use crate::model::{Intent, Problem, RawRecord, User};

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping {field}: {message}")]
    Template { field: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Compiled mapping.
#[derive(Clone, Debug, Default)]
pub struct Mapping {}

impl Mapping {
    pub fn apply(&self, rec: &RawRecord) -> Result<(User, Intent), Vec<Problem>> {
        let _ = rec;
        Err(vec![Problem::record("mapping not implemented yet")])
    }
}
