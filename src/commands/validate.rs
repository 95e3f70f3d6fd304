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
    let input = shared::Input::open(
        shared::load_job(&args.mapping)?,
        args.source.as_deref(),
        &args.input,
        &args.mapping,
        &args.tls,
        Profile::Generic,
        shared::Purpose::Offline,
    )?;
    shared::files(&input.spec, &args.mapping, &input.job, &args.tls)
        .reports(&args.reports)
        .guard()?;
    let has_report = args.reports.report.is_some();
    shared::drive_offline(
        input.pipeline,
        &args.reports,
        "rows checked",
        &input.spec,
        |checked| {
            // Nothing to write for a good row when there is no report: count it only.
            Ok((has_report || !checked.is_valid()).then(|| checked.offline_entry()))
        },
    )
}
