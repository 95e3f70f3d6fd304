//! `roster sync`: bring a server in line with a source: plan, then apply.
//!
//! ```text
//! roster sync SOURCE --server URL [--deactivate-missing] [--max-deactivate N|P%] [--force]
//!             [--check] [--state FILE] [--reactivate] [--protect USER,...] [--manage EXPR]
//!             [--workers N] [--rate CALLS/PERIOD] [--report FILE] [--rejects FILE] [--dump FILE]
//! ```
//! One snapshot of the server (paged at its maximum), then writes only for real
//! differences: a night where nothing changed costs ⌈users / page size⌉ reads and no
//! writes. Deactivates, never deletes, and only users roster manages (the `--state`
//! ledger or `--manage`); never admins, bots, apps, itself or `--protect`. Refuses
//! (exit 4, nothing written) when deactivations exceed the threshold, when the source
//! is empty, or when it shrank by more than the threshold since the last run. With
//! `--state`, people are matched by their anchor first, so renames keep the account;
//! `--adopt` starts that ledger and writes nothing to the server.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::{ExecArgs, InputArgs, MappingArgs, ReportArgs, ServerArgs, SyncArgs};
use crate::cli::settings;
use roster::ops::SyncRun;
use roster::settings::FailOn;

#[derive(clap::Args, Debug)]
#[command(after_help = "Credentials: as for `roster import`.

A sync needs no --resume: run it again and it does only what is still different.

Renames: with --state, the ledger ties each person's anchor (external_id: entryUUID,
objectGUID, employeeNumber, ...) to their server account. A person is matched by anchor
first, then by --match, so when HR renames jane.doe to jane.smith the account is renamed
(plan: `~ jane.doe → jane.smith`), never created anew or deactivated. On a server that
has its users already, `--adopt` starts the ledger without writing to the server.

Examples:
  roster sync 'ldap://dc1/ou=people,dc=corp?uid,mail,cn' --server https://chat.example.org \\
      --deactivate-missing --state sync-state.jsonl --report nightly.csv
  roster sync hr.csv --server https://mm.example.org --check     # exit 3 when changes are pending")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Plan only: exit 3 when changes are pending, 0 when the server is in sync.
    #[arg(help_heading = "Run", long)]
    pub check: bool,
    /// Write nothing: the same as --check (print the plan, report what would be done,
    /// exit 3 when changes are pending).
    #[arg(help_heading = "Run", long)]
    pub dry_run: bool,
    /// Write nothing to the server: start the --state ledger from the accounts the
    /// source matches by the --match key, each tied to its anchor (external_id), so the
    /// next sync follows renames. For a server that has its users already, or a source
    /// whose anchor attribute changed (the ledger's other accounts stay managed).
    #[arg(help_heading = "Run", long, conflicts_with_all = ["check", "dry_run", "dump"])]
    pub adopt: bool,
    /// Which rejected or failed rows make the run exit 1: any (default), or only new
    /// ones, which the last sync (the --state ledger) did not have. The summary counts
    /// both either way. Job file: [sync] fail_on.
    #[arg(help_heading = "Run", long, value_enum, value_name = "WHICH")]
    pub fail_on: Option<FailOn>,
    /// The users as the server now holds them after the sync (with ids), mode 0600.
    #[arg(help_heading = "Run", long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Deprecated, no effect (a sync always resumes: it does only what is still different).
    #[arg(help_heading = "Run", long, hide = true)]
    pub resume: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    settings::warn_no_effect(
        args.resume,
        "--resume",
        "sync",
        "a sync run again does only what is still different",
    );
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    let mut sync = settings::sync(&args.sync, &args.input, &job)?;
    if let Some(f) = args.fail_on {
        sync.fail_on = f;
    }
    let files = settings::server_files(Some(&spec), config, &job, &args.server)
        .read_write("--state", sync.state.as_deref());
    settings::report_files(files, &args.reports)
        .write("--dump", args.dump.as_deref())
        .guard()?;
    let exec = settings::exec(&args.exec, &job)?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.server.tls, &job)?;
    roster::ops::sync(
        &source,
        &settings::server(&args.server, &job),
        &sync,
        &exec,
        if args.adopt {
            SyncRun::Adopt
        } else if args.check || args.dry_run {
            SyncRun::Check
        } else {
            SyncRun::Apply
        },
        args.dump.as_deref(),
        &settings::reports(&args.reports),
    )
}
