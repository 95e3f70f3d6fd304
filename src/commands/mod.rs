//! One file per command; each starts with its usage and ends with `run`.

pub mod apply;
pub mod convert;
pub mod demo;
pub mod export;
pub mod import;
pub mod plan;
pub mod sandbox;
pub mod sync;
pub mod validate;
