//! `roster validate`: read, map and validate a source; no network.
//!
//! ```text
//! roster validate SOURCE [--config job.toml] [--map FIELD=TEMPLATE]... [--profile P]
//!                 [--report FILE] [--rejects FILE] [--json] [--quiet]
//! ```
//! Every row ends up in the report as `ok` or `rejected` (with all its problems);
//! rejected rows go to the rejects file in the input's own format.

use anyhow::Result;

use crate::cli::common::{InputArgs, MappingArgs, ReportArgs, TlsArgs};
use crate::cli::settings;

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
    roster::interrupt::install();
    settings::no_sync_scope(&args.input)?;
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    settings::report_files(
        settings::files(&spec, config, &job, &args.tls),
        &args.reports,
    )
    .guard()?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.tls, &job)?;
    roster::ops::validate(&source, &settings::reports(&args.reports))
}
