//! `roster plan`: what a sync would do; no writes.
//!
//! ```text
//! roster plan SOURCE --server URL [--deactivate-missing] [-o plan.json] [--state FILE]
//!             [--max-deactivate N|P%] [--protect USER,...] [--scope EXPR] [--reactivate]
//!             [--match K] [--mode M] [--random-password] [--auth-service S]
//! ```
//! Reads one snapshot of the server and the source, and prints the creates, the updates
//! with each changed field (old → new), the deactivations and the unchanged count.
//! `-o plan.json` saves it for `roster apply` (no passwords are saved).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::import::ServerArgs;
use super::shared::{self, ExecSettings};
use super::sync::{PlanInputs, SyncArgs, build_plan, render_plan};
use crate::cli::common::ExecArgs;
use crate::cli::common::{InputArgs, MappingArgs, ReportArgs};
use crate::cli::exit;

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
    crate::interrupt::install();
    let job = shared::load_job(&args.mapping)?;
    shared::server_files(
        Some(&shared::source_spec(args.source.as_deref(), &job)?),
        args.mapping.config.as_deref(),
        &job,
        &args.server,
    )
    .read(
        "--state",
        args.sync.state.as_deref().or(job.sync.state.as_deref()),
    )
    .reports(&args.reports)
    .write("--output", args.output.as_deref())
    .guard()?;
    // Planning only reads; the job file's workers and rate still pace those reads.
    let exec = ExecSettings::resolve(&ExecArgs::default(), &job)?;
    let mut planned = // Connecting, reading the server and planning write nothing to the server: Ctrl-C
    // stops at once (an LDAP search or a snapshot page cannot be cut short otherwise).
    crate::interrupt::nothing_written(|| build_plan(PlanInputs {
        source: args.source.as_deref(),
        server: &args.server,
        sync: &args.sync,
        exec: &exec,
        input: &args.input,
        mapping: &args.mapping,
        reports: &args.reports,
        job: &job,
    }))?;
    // The report lists what would be done to every row.
    for p in &planned.pending {
        let row = p.work.checked.clone();
        planned.outs.record(&p.entry, Some(&row))?;
    }
    shared::print_warnings(
        std::mem::take(&mut planned.warnings),
        &mut planned.outs.summary,
    );
    let plan = &planned.plan;
    if let Some(path) = &args.output {
        let mut out = crate::output::create_output(path, true)
            .with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer_pretty(&mut out, plan)?;
        out.write_all(b"\n")?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.reports.json {
        shared::stdout_line(&serde_json::to_string_pretty(plan)?)?;
    } else {
        shared::stdout_line(render_plan(plan).trim_end_matches('\n'))?;
    }
    planned.outs.finish()?;
    Ok(if plan.refusal().is_some() {
        exit::GUARD
    } else {
        exit::OK
    })
}
