//! roster: bulk user accounts from CSV, LDIF and LDAP into Rocket.Chat and Mattermost.
//!
//! Data flows one way, and the modules follow it:
//! `source` (raw records) → `mapping` (canonical [`model::User`]) → `validate` →
//! `plan` (what to change) → `exec` (paced worker pool) → `target` (server clients),
//! with `report` and `output` on the side. The emulators of both servers (for tests and demos)
//! are their own crate, `roster-sandbox` (crates/roster-sandbox).

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod exec;
pub mod interrupt;
pub mod mapping;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod secret;
pub mod source;
pub mod target;
pub mod validate;

/// The User-Agent sent on every request. Kept constant: Rocket.Chat remembers a 2FA check
/// per token, agent and IP.
pub const USER_AGENT: &str = concat!("roster/", env!("CARGO_PKG_VERSION"));
