//! Plan: compare the input with what the server holds and decide create / update (only
//! changed fields) / deactivate / nothing.

pub mod diff;
pub mod state;
pub mod sync;

pub use diff::diff;
