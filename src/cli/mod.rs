//! The command line: one subcommand per file under `commands/`, shared options here.

pub mod common;

use clap::{Parser, Subcommand};

use crate::commands;

/// Exit codes: a contract with administrators' scripts.
pub mod exit {
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
}

const EXIT_CODES: &str = "\
Exit codes:
  0    every row fine
  1    some rows rejected or failed (see the report)
  2    usage, configuration, unreadable input, authentication or connection failure
  3    changes pending (--check)
  4    refused by a safety guard (nothing was written)
  130  interrupted (reports cover the rows done)

Secrets are never taken on the command line: see the environment variables in
`roster help import` and the README.";

#[derive(Parser, Debug)]
#[command(
    name = "roster",
    version,
    about = "Bulk user accounts: CSV, LDIF and LDAP in; Rocket.Chat and Mattermost out.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read, map and validate a source; no network.
    Validate(commands::validate::Args),
    /// Convert users between CSV, LDIF and JSON Lines (the source may be an LDAP URL).
    Convert(commands::convert::Args),
    /// Push users to a Rocket.Chat or Mattermost server.
    Import(commands::import::Args),
    /// Run the main job end to end on an embedded sandbox server.
    #[cfg(feature = "sandbox")]
    Demo(commands::demo::Args),
    /// Run a local emulator of a Rocket.Chat or Mattermost server.
    #[cfg(feature = "sandbox")]
    Sandbox(commands::sandbox::Args),
    /// Write every user of a server to CSV, LDIF or JSON Lines.
    Export(commands::export::Args),
    /// Show what a sync would do; no writes.
    Plan(commands::plan::Args),
    /// Bring a server in line with a source: plan, then apply.
    Sync(commands::sync::Args),
    /// Apply a plan saved by `roster plan -o plan.json`.
    Apply(commands::apply::Args),
}

/// Runs the program; returns the exit code.
pub fn main() -> i32 {
    // One process-wide TLS provider (ring); rustls panics on first use without one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Validate(a) => commands::validate::run(a),
        Command::Convert(a) => commands::convert::run(a),
        Command::Import(a) => commands::import::run(a),
        #[cfg(feature = "sandbox")]
        Command::Demo(a) => commands::demo::run(a),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(a) => commands::sandbox::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Plan(a) => commands::plan::run(a),
        Command::Sync(a) => commands::sync::run(a),
        Command::Apply(a) => commands::apply::run(a),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`roster convert … - | head`): nothing is
        // wrong, as with ripgrep and xsv.
        Err(e) if is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            eprintln!("roster: error: {}", error_chain(&e));
            exit_code_of(&e)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `outer: inner: innermost`, each cause once.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

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

fn exit_code_of(e: &anyhow::Error) -> i32 {
    e.chain()
        .find_map(|c| c.downcast_ref::<ExitError>().map(|x| x.code))
        .unwrap_or(exit::USAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command's flags are consistent (no two with one name, ...).
    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
