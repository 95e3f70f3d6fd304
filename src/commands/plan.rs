//! `roster plan`: what a sync would do; no writes.
//!
//! ```text
//! roster plan SOURCE --server URL [--deactivate-missing] [-o plan.json] [--state FILE]
//!             [--max-deactivate N|P%] [--protect USER,...] [--manage EXPR] [--reactivate]
//!             [--match K] [--mode M] [--random-password] [--auth-service S]
//! ```
//! Reads one snapshot of the server and the source, and prints the creates, the updates
//! with each changed field (old → new), the deactivations and the unchanged count.
//! `-o plan.json` saves it for `roster apply` (no passwords are saved).

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::{ExecArgs, InputArgs, MappingArgs, ReportArgs, ServerArgs, SyncArgs};
use crate::cli::settings;

#[derive(clap::Args, Debug)]
#[command(after_help = "Credentials: as for `roster import`.

Examples:
  roster plan hr.csv --server https://chat.example.org --deactivate-missing --state state.jsonl
  roster plan people.ldif --server https://mm.example.org -o plan.json && roster apply plan.json --server https://mm.example.org")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Save the plan as JSON (for `roster apply`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    let sync = settings::sync(&args.sync, &args.input, &job)?;
    let files = settings::server_files(Some(&spec), config, &job, &args.server)
        .read("--state", sync.state.as_deref());
    settings::report_files(files, &args.reports)
        .write("--output", args.output.as_deref())
        .guard()?;
    // Planning only reads; the job file's workers and rate still pace those reads.
    let exec = settings::exec(&ExecArgs::default(), &job)?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.server.tls, &job)?;
    roster::ops::plan(
        &source,
        &settings::server(&args.server, &job),
        &sync,
        &exec,
        args.output.as_deref(),
        &settings::reports(&args.reports),
    )
}
