//! roster: bulk user accounts from CSV, LDIF and LDAP into Rocket.Chat and Mattermost.
//!
//! Data flows one way, and the modules follow it: `source` (raw records) → `mapping`
//! (canonical [`model::User`]) → `validate` → `pipeline` → `plan` (what to change) →
//! `exec` (paced worker pool) → `client` (server clients), with `report` and `output` on
//! the side. In the code the layers import downward only (`layering.rs` holds the order
//! and its test): `ops` (one function per command, called by the binary's command files
//! with [`settings`]) on top, exit codes and secrets at the bottom. The emulators of both
//! servers (for tests and demos) are their own crate, `roster-sandbox`.

mod client;
mod config;
pub mod csv_syntax;
mod exec;
pub mod exit;
pub mod interrupt;
#[cfg(test)]
mod layering;
pub mod ldif_syntax;
pub mod mapping;
pub mod model;
pub mod ops;
pub mod output;
mod pipeline;
mod plan;
mod report;
pub mod secret;
pub mod settings;
pub mod source;
pub mod validate;

/// The User-Agent sent on every request. Kept constant: Rocket.Chat remembers a 2FA check
/// per token, agent and IP.
pub const USER_AGENT: &str = concat!("roster/", env!("CARGO_PKG_VERSION"));
