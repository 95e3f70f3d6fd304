//! The command tree: one file per command, each its usage, its `Args` and a `run` that
//! resolves them (with `cli::settings`) and makes one call into `roster::ops`. Command
//! files never import each other.

pub mod act;
pub mod apply;
pub mod completions;
pub mod convert;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod export;
pub mod import;
pub mod man;
pub mod mapping;
pub mod plan;
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
    /// Show how a source's columns become roster's fields, and the first rows mapped.
    Mapping(mapping::Args),
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
    /// Act on every account a source names: deactivate, offboard, delete, ...
    #[command(name = "do")]
    Do(act::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
    /// Print roster's manual page (roff) on stdout.
    Man(man::Args),
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
        Command::Mapping(a) => mapping::run(a),
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
        Command::Do(a) => act::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
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
    use clap::CommandFactory;
    use std::path::{Path, PathBuf};

    /// Every command's flags are consistent (no two with one name, ...).
    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `roster` and each subcommand with the help text a user sees, at a fixed width.
    #[cfg(feature = "sandbox")]
    fn helps() -> Vec<(String, String)> {
        let mut root = Cli::command().term_width(100);
        root.build();
        let mut out = vec![("roster".to_string(), root.render_long_help().to_string())];
        for sub in root.get_subcommands_mut() {
            let name = format!("roster-{}", sub.get_name());
            out.push((name, sub.render_long_help().to_string()));
        }
        out
    }

    /// The `--help` of every command, as snapshots (cargo's `tests/testsuite/*/help`): a
    /// changed interface shows up in review. `ROSTER_SNAPSHOTS=overwrite` rewrites them.
    /// Taken with the default features (`sandbox` and `demo` are in the command list).
    #[cfg(feature = "sandbox")]
    #[test]
    fn help_snapshots() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands/help");
        let overwrite = std::env::var("ROSTER_SNAPSHOTS").is_ok_and(|v| v == "overwrite");
        let mut stale = Vec::new();
        for (name, text) in helps() {
            let path = dir.join(format!("{name}.txt"));
            if overwrite {
                std::fs::create_dir_all(&dir).expect("create the snapshot folder");
                std::fs::write(&path, &text).expect("write a snapshot");
                continue;
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "--help changed (review, then ROSTER_SNAPSHOTS=overwrite cargo test --bin roster):\n  {}",
            stale.join("\n  ")
        );
    }

    /// Options that no test names yet: none. Keep it so: a new option comes with a test
    /// that passes it.
    const UNTESTED: &[&str] = &[];

    fn test_sources(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                test_sources(&p, out);
            } else if p
                .extension()
                .is_some_and(|x| x == "rs" || x == "py" || x == "sh")
            {
                out.push(p);
            }
        }
    }

    /// Walks clap's command tree: every long option of every command (hidden ones
    /// too) is named by some test, or listed in [`UNTESTED`].
    #[test]
    fn every_option_is_exercised_by_a_test() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        test_sources(&root.join("tests"), &mut files);
        if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
            for c in crates.flatten() {
                test_sources(&c.path().join("tests"), &mut files);
            }
        }
        let corpus: String = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect();
        let named = |flag: &str| {
            corpus.match_indices(flag).any(|(i, _)| {
                let next = corpus[i + flag.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        };
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let flag = format!("--{long}");
                if long == "help" || long == "version" || UNTESTED.contains(&flag.as_str()) {
                    continue;
                }
                if !named(&flag) {
                    missing.push(format!("roster {} {flag}", sub.get_name()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "options no test passes (add a test, not an UNTESTED entry):\n  {}",
            missing.join("\n  ")
        );
    }
}
