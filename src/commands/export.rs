//! `roster export`: every user of a server to CSV, LDIF or JSON Lines.
//!
//! ```text
//! roster export --server URL -o users.csv|users.ldif|users.jsonl [--active-only]
//!               [--flavor F] [--base-dn DN] [--excel] [--memberships] [--avatars DIR]
//! ```
//! Pages at the server's maximum (Rocket.Chat users.list 100 per page, Mattermost
//! GET /users 200 per page) through the same writers as `convert`. The file is created
//! with mode 0600 (it holds personal data). Never includes secrets. `--memberships` and
//! `--avatars` are opt-in: they cost requests per group and per image.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::ServerArgs;
use crate::cli::settings;
use roster::ops::{self, ExportSettings};
use roster::output;
use roster::source::Format;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Credentials: as for `roster import` (ROSTER_TOKEN, ROSTER_USERNAME + ROSTER_PASSWORD, ...).

Examples:
  roster export --server https://chat.example.org -o users.csv --excel
  roster export --server https://mm.example.org -o users.ldif --base-dn ou=people,dc=example,dc=org
  roster export --server https://old.example.org -o m/users.csv --memberships --avatars m/photos
  roster import m/users.csv --server https://new.example.org --random-password

A migration: the second server needs the same teams and channels (import adds members, it
creates no team or channel). Memberships need an admin (Mattermost private channels:
manage_system; Rocket.Chat: view-all-teams and view-room-administration); a private group
the account is not in is reported and left out (Rocket.Chat lists its members to members)."
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
    /// Also write each user's teams and channels, CSV and JSON Lines only (Mattermost
    /// channels as team/channel; default channels left out). Costs requests: a listing of the teams and channels,
    /// then every team's and channel's members, paged (by group, not by user).
    #[arg(long)]
    pub memberships: bool,
    /// Also write each user's own profile image to DIR as USERNAME.EXT (replacing an
    /// earlier file) and its path as `avatar`. DIR must be inside the output file's
    /// folder: the path is written relative to that folder, where an import of the file
    /// reads it (LDIF: the image goes in jpegPhoto). One request per user with an image.
    #[arg(long, value_name = "DIR")]
    pub avatars: Option<PathBuf>,
    /// Job file ([server] url, flavor, ca_file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    let job = settings::load_job(args.config.as_deref())?;
    let format = ops::output_format(&args.output, args.to)?;
    settings::server_files(None, args.config.as_deref(), &job, &args.server)
        .write("--output", Some(&args.output))
        .guard()?;
    ops::export(
        &settings::server(&args.server, &job),
        &ExportSettings {
            output: &args.output,
            format,
            active_only: args.active_only,
            base_dn: args.base_dn,
            excel: args.excel,
            quiet: args.quiet,
            memberships: args.memberships,
            avatars: args.avatars.as_deref(),
        },
    )
}
