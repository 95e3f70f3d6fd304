//! `roster convert`: users between CSV, LDIF and JSON Lines, through the canonical user.
//!
//! ```text
//! roster convert SOURCE OUTPUT [--to csv|tsv|ldif|jsonl] [--base-dn DN] [--excel]
//!                [--config job.toml] [--map FIELD=TEMPLATE]... [--report FILE] [--rejects FILE]
//! ```
//! SOURCE may be an LDAP URL (a csvde/ldifde-style dump of a directory). OUTPUT's
//! format comes from its extension; `-` writes to stdout (give --to). Rows that do not
//! map to a valid user (no username, bad email, ...) are left out and reported.
//! LDIF change records (modify, delete) have no place in a user list: they are skipped.
//! Secrets are never written.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::{InputArgs, MappingArgs, ReportArgs, TlsArgs};
use crate::cli::settings;
use roster::ops::{self, ConvertSettings};
use roster::output;
use roster::source::Format;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  roster convert samples/users.csv users.ldif --base-dn ou=people,dc=example,dc=org
  roster convert 'ldap://dc1:389/dc=corp,dc=example?sAMAccountName,mail,cn?sub?(objectClass=user)' users.csv --excel")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: String,
    /// Output file (.csv .tsv .ldif .jsonl), or `-` for stdout with --to.
    pub output: PathBuf,
    /// Output format, when the extension does not say.
    #[arg(long, value_enum)]
    pub to: Option<Format>,
    /// LDIF output: entries are written as uid=USERNAME,BASE_DN.
    #[arg(long, value_name = "DN", default_value = output::DEFAULT_BASE_DN)]
    pub base_dn: String,
    /// CSV output: start with a UTF-8 BOM so Excel shows accents right.
    #[arg(long)]
    pub excel: bool,
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
    let format = ops::output_format(&args.output, args.to)?;
    settings::no_sync_scope(&args.input)?;
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    let files = settings::files(&args.source, config, &job, &args.tls);
    settings::report_files(files, &args.reports)
        .write("OUTPUT", Some(&args.output))
        .guard()?;
    let source = settings::source(args.source, &args.input, &args.mapping, &args.tls, &job)?;
    ops::convert(
        &source,
        &ConvertSettings {
            output: &args.output,
            format,
            base_dn: args.base_dn,
            excel: args.excel,
        },
        &settings::reports(&args.reports),
    )
}
