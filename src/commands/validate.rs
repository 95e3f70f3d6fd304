//! `roster validate`: read, map and validate a source; no network.
//!
//! ```text
//! roster validate SOURCE [--config job.toml] [--map FIELD=TEMPLATE]... [--profile P]
//!                 [--report FILE] [--rejects FILE] [--json] [--quiet]
//! ```
//! Every row ends up in the report as `ok` or `rejected` (with all its problems);
//! rejected rows go to the rejects file in the input's own format.

use anyhow::Result;

use super::shared;
use crate::cli::common::{InputArgs, MappingArgs, ReportArgs, TlsArgs};
use crate::cli::exit;
use crate::validate::Profile;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  roster validate samples/users.csv --profile rocketchat --rejects fix-me.csv
  roster validate people.ldif --map 'name={displayName|cn}' --report report.jsonl")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

pub fn run(args: Args) -> Result<i32> {
    crate::interrupt::install();
    let started = shared::started();
    shared::no_sync_scope(&args.input)?;
    let job = shared::load_job(&args.mapping)?;
    let spec = shared::source_spec(args.source.as_deref(), &job)?;
    let opts = shared::source_options(&args.input, &args.tls, &job)?;
    let mapping = shared::mapping(&args.mapping, &job)?;
    let validator = shared::validator(&args.mapping, &job, Profile::Generic);
    let mut pipeline = shared::open_pipeline(&spec, &opts, mapping, validator)?;
    let mut out = shared::Outputs::create(&args.reports, &pipeline)?;
    let pb = shared::progress(args.reports.quiet, "rows checked");

    let mut stopped = None;
    let mut fatal = None;
    while let Some(item) = pipeline.next() {
        let checked = match item {
            Ok(c) => c,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        let w = pipeline.take_warnings();
        if !w.is_empty() {
            pb.suspend(|| shared::print_warnings(w, &mut out.summary));
        }
        if out.report.is_none() && checked.is_valid() {
            // Nothing to write for a good row: count it without building its entry.
            out.summary.add_ok();
        } else {
            let entry = checked.offline_entry();
            out.record(&entry, Some(&checked))?;
        }
        pb.inc(1);
        if crate::interrupt::requested() {
            stopped = Some("interrupted".to_string());
            break;
        }
    }
    pb.finish_and_clear();
    let w = pipeline.take_warnings();
    shared::print_warnings(w, &mut out.summary);
    let mut summary = out.finish()?;
    summary.set_elapsed(started.elapsed());
    if let Some(e) = fatal {
        summary.stopped = Some(e.to_string());
        shared::print_summary(&summary, &args.reports)?;
        return Err(anyhow::Error::new(e).context(format!("reading {spec}")));
    }
    summary.stopped = stopped.clone();
    shared::print_summary(&summary, &args.reports)?;
    if stopped.is_some() {
        return Ok(exit::INTERRUPTED);
    }
    Ok(shared::rows_exit_code(&summary))
}
