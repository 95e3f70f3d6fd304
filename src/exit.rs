//! Exit codes, a contract with administrators' scripts, and the error that carries one.
//!
//! Below every other layer: the interrupt handler exits with [`INTERRUPTED`], and the
//! operations return [`ExitError`]s that the binary turns into the process's code.

/// Every row was fine.
pub const OK: i32 = 0;
/// Some rows were rejected or failed (the report says which).
pub const ROWS: i32 = 1;
/// Usage, configuration, unreadable input, authentication or connection failure.
pub const USAGE: i32 = 2;
/// `--check`: changes are pending.
pub const PENDING: i32 = 3;
/// Refused by a safety guard (deactivation threshold, incomplete source).
pub const GUARD: i32 = 4;
/// Interrupted (Ctrl-C); reports were written for the rows done.
pub const INTERRUPTED: i32 = 130;

/// Errors carry their exit code when they are not plain usage/config errors.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

impl ExitError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ExitError {
            code,
            message: message.into(),
        }
    }
}

/// The code an error ends the process with: its own, or [`USAGE`].
pub fn code_of(e: &anyhow::Error) -> i32 {
    e.chain()
        .find_map(|c| c.downcast_ref::<ExitError>().map(|x| x.code))
        .unwrap_or(USAGE)
}
