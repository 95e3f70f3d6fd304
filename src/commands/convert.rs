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

use anyhow::{Context, Result};

use super::shared;
use crate::cli::common::{InputArgs, MappingArgs, ReportArgs, TlsArgs};
use crate::model::Intent;
use crate::output::{self, WriterOptions};
use crate::pipeline::Outcome;
use crate::report::Status;
use crate::source::Format;
use crate::validate::Profile;

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
    crate::interrupt::install();
    let out_format = shared::output_format(&args.output, args.to)?;
    let input = shared::Input::open(
        shared::load_job(&args.mapping)?,
        Some(&args.source),
        &args.input,
        &args.mapping,
        &args.tls,
        Profile::Generic,
        shared::Purpose::Offline,
    )?;
    shared::files(&input.spec, &args.mapping, &input.job, &args.tls)
        .reports(&args.reports)
        .write("OUTPUT", Some(&args.output))
        .guard()?;
    let mut writer = output::create(
        &args.output,
        out_format,
        &WriterOptions {
            base_dn: Some(args.base_dn.clone()),
            excel: args.excel,
            private: false,
        },
    )
    .with_context(|| format!("cannot create {}", args.output.display()))?;
    let pipeline = input.pipeline.without_duplicate_check();
    let result = shared::drive_offline(
        pipeline,
        &args.reports,
        "users converted",
        &input.spec,
        |checked| {
            let mut entry = checked.offline_entry();
            if let Outcome::Valid { user, intent } = &checked.outcome {
                if *intent == Intent::Upsert {
                    writer
                        .write(user)
                        .with_context(|| format!("cannot write {}", args.output.display()))?;
                } else {
                    entry.status = Status::Skipped;
                    entry.error = format!(
                        "{} records cannot be converted to a user list",
                        intent.name()
                    );
                }
            }
            Ok(Some(entry))
        },
    );
    writer
        .finish()
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    result.map_err(|e| e.context(format!("{} is incomplete", args.output.display())))
}
