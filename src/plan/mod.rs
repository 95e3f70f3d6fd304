//! Plan: compare the input with what the server holds and decide create / update (only
//! changed fields) / deactivate / nothing. The per-user decision itself is the
//! executor's ([`crate::exec::diff`]), so a plan and a run decide alike.

pub mod planner;
pub mod render;
pub mod state;
