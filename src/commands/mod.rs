//! The command tree: one file per command, each its usage, its `Args` and a `run` that
//! resolves them (with `cli::settings`) and makes one call into `roster::ops`. Command
//! files never import each other.

pub mod apply;
pub mod convert;
#[cfg(feature = "sandbox")]
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod export;
pub mod import;
pub mod plan;
#[cfg(feature = "sandbox")]
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sync;
pub mod validate;

use clap::{Parser, Subcommand};

use roster::exit;

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
    Validate(validate::Args),
    /// Convert users between CSV, LDIF and JSON Lines (the source may be an LDAP URL).
    Convert(convert::Args),
    /// Push users to a Rocket.Chat or Mattermost server.
    Import(import::Args),
    /// Run the main job end to end on an embedded sandbox server.
    #[cfg(feature = "sandbox")]
    Demo(demo::Args),
    /// Run a local emulator of a Rocket.Chat or Mattermost server.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
    /// Write every user of a server to CSV, LDIF or JSON Lines.
    Export(export::Args),
    /// Show what a sync would do; no writes.
    Plan(plan::Args),
    /// Bring a server in line with a source: plan, then apply.
    Sync(sync::Args),
    /// Apply a plan saved by `roster plan -o plan.json`.
    Apply(apply::Args),
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
        Command::Validate(a) => validate::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Import(a) => import::run(a),
        #[cfg(feature = "sandbox")]
        Command::Demo(a) => demo::run(a),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(a) => sandbox::run(a),
        Command::Export(a) => export::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Sync(a) => sync::run(a),
        Command::Apply(a) => apply::run(a),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`roster convert … - | head`): nothing is
        // wrong, as with ripgrep and xsv.
        Err(e) if is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            eprintln!("roster: error: {}", error_chain(&e));
            exit::code_of(&e)
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
