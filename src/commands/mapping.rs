//! `roster mapping`: how a source's columns or attributes become roster's fields.
//!
//! ```text
//! roster mapping SOURCE [--config job.toml] [--map FIELD=TEMPLATE]... [--rows N]
//! ```
//! Prints each field's rule (configured or default) and the attributes it reads, the
//! attributes nothing reads (with a hint for the ones that look meaningful), and the first
//! rows mapped. Reads only the start of the source; no network; passwords are never shown.

use anyhow::Result;

use crate::cli::common::{InputArgs, MappingArgs, TlsArgs};
use crate::cli::settings;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  roster mapping hr.csv
  roster mapping people.ldif --map 'name={displayName|cn}' --rows 5")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    /// How many rows to show mapped.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rows: usize,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    settings::no_sync_scope(&args.input)?;
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    settings::files(&spec, config, &job, &args.tls).guard()?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.tls, &job)?;
    roster::ops::mapping(&source, args.rows)
}
