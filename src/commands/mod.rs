//! One file per command; each starts with its usage and ends with `run`.

pub mod apply;
pub mod convert;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod export;
pub mod import;
pub mod plan;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod shared;
pub mod sync;
pub mod validate;
