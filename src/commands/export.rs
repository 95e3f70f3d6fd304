//! `roster export`: every user of a server to CSV, LDIF or JSON Lines.
//!
//! ```text
//! roster export --server URL -o users.csv|users.ldif|users.jsonl [--active-only]
//!               [--flavor F] [--base-dn DN] [--excel]
//! ```
//! Pages at the server's maximum (Rocket.Chat users.list 100 per page, Mattermost
//! GET /users 200 per page) through the same writers as `convert`. The file is created
//! with mode 0600 (it holds personal data). Never includes secrets.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};

use super::import::{ServerArgs, connect};
use super::shared;
use crate::cli::common::MappingArgs;
use crate::client::{CallStats, UserApi};
use crate::exit::{self, ExitError};
use crate::output::{self, WriterOptions};
use crate::source::Format;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Credentials: as for `roster import` (ROSTER_TOKEN, ROSTER_USERNAME + ROSTER_PASSWORD, ...).

Examples:
  roster export --server https://chat.example.org -o users.csv --excel
  roster export --server https://mm.example.org -o users.ldif --base-dn ou=people,dc=example,dc=org"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Output file: .csv, .tsv, .ldif or .jsonl (`-` for stdout with --to).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Output format, when the extension does not say.
    #[arg(long, value_enum)]
    pub to: Option<Format>,
    /// Leave deactivated users out.
    #[arg(long)]
    pub active_only: bool,
    /// LDIF output: entries are written as uid=USERNAME,BASE_DN.
    #[arg(long, value_name = "DN", default_value = output::DEFAULT_BASE_DN)]
    pub base_dn: String,
    /// CSV output: start with a UTF-8 BOM for Excel.
    #[arg(long)]
    pub excel: bool,
    /// Job file ([server] url, flavor, ca_file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<i32> {
    crate::interrupt::install();
    let job = shared::load_job(&MappingArgs {
        config: args.config.clone(),
        ..MappingArgs::default()
    })?;
    let format = shared::output_format(&args.output, args.to)?;
    shared::server_files(None, args.config.as_deref(), &job, &args.server)
        .write("--output", Some(&args.output))
        .guard()?;
    let connected = connect(&args.server, &super::shared::ExecSettings::default(), &job)?;
    let mut writer = output::create(
        &args.output,
        format,
        &WriterOptions {
            base_dn: Some(args.base_dn.clone()),
            excel: args.excel,
            private: true,
        },
    )
    .with_context(|| format!("cannot create {}", args.output.display()))?;
    let pb = shared::progress(args.quiet, "users exported");
    let n = export_all(connected.target.as_ref(), args.active_only, &mut |u| {
        pb.inc(1);
        writer
            .write(u)
            .with_context(|| format!("cannot write {}", args.output.display()))
    })?;
    pb.finish_and_clear();
    writer
        .finish()
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if crate::interrupt::requested() {
        eprintln!(
            "roster: interrupted; {} is incomplete",
            args.output.display()
        );
        return Ok(exit::INTERRUPTED);
    }
    if !args.quiet {
        eprintln!(
            "{} users written to {} ({} requests)",
            n,
            args.output.display(),
            connected.http.requests.load(Ordering::Relaxed)
        );
    }
    Ok(exit::OK)
}

/// Pages through every user of the server, calling `each` in the server's order.
/// Returns how many were passed on.
pub fn export_all(
    target: &dyn UserApi,
    active_only: bool,
    each: &mut dyn FnMut(&crate::model::User) -> Result<()>,
) -> Result<u64> {
    let mut stats = CallStats::default();
    let mut page = 0;
    let mut n = 0;
    loop {
        if crate::interrupt::requested() {
            break;
        }
        let p = target.list(page, &mut stats).map_err(|e| {
            ExitError::new(exit::USAGE, format!("listing users (page {page}): {e}"))
        })?;
        for u in &p.users {
            if active_only && u.active == Some(false) {
                continue;
            }
            each(u)?;
            n += 1;
        }
        if !p.more || p.users.is_empty() {
            break;
        }
        page += 1;
    }
    Ok(n)
}
