//! `roster export`: every user of a server to CSV, LDIF or JSON Lines.
//!
//! ```text
//! roster export --server URL -o users.csv|users.ldif|users.jsonl [--active-only]
//!               [--flavor F] [--base-dn DN] [--excel] [--memberships] [--avatars DIR]
//!               [--fields a,b,c] [--role NAME] [--inactive-only] [--idle-days N]
//! ```
//! Pages at the server's maximum (Rocket.Chat users.list 100 per page, Mattermost
//! GET /users 200 per page) through the same writers as `convert`. The file is created
//! with mode 0600 (it holds personal data). Never includes secrets. `--memberships` and
//! `--avatars` are opt-in: they cost requests per group and per image; so do the
//! `--fields` a server keeps out of its listing (Mattermost presence: one request per
//! page; Mattermost last logins: its user report, 100 accounts a request).

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::ServerArgs;
use crate::cli::settings;
use roster::ops::{self, ExportSettings};
use roster::output;
use roster::output::columns::Column;
use roster::source::Format;

/// `--fields a,b,c`, checked as it is parsed (an unknown name exits 2 with the valid ones).
#[derive(Clone, Debug)]
pub struct FieldList(Vec<Column>);

fn parse_fields(s: &str) -> Result<FieldList, String> {
    Column::parse_list(s).map(FieldList)
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Credentials: as for `roster import` (ROSTER_TOKEN, ROSTER_USERNAME + ROSTER_PASSWORD, ...).

Examples:
  roster export --server https://chat.example.org -o users.csv --excel
  roster export --server https://mm.example.org -o users.ldif --base-dn ou=people,dc=example,dc=org
  roster export --server https://old.example.org -o m/users.csv --memberships --avatars m/photos
  roster import m/users.csv --server https://new.example.org --random-password
  roster export --server https://chat.example.org -o idle.csv --active-only --idle-days 90 \\
      --fields username,email,last_login,created_at,roles
  roster do deactivate idle.csv --server https://chat.example.org --dry-run

A migration: the second server needs the same teams and channels (import adds members, it
creates no team or channel). Memberships need an admin (Mattermost private channels:
manage_system; Rocket.Chat: view-all-teams and view-room-administration); a private group
the account is not in is reported and left out (Rocket.Chat lists its members to members).

Fields (--fields): username, email, name, first_name, last_name, nickname, position, locale,
active, roles, require_password_change, verified, external_id, id, custom_fields,
custom_fields.KEY, teams, channels, avatar, and what the server says about each account:
  status        presence (Rocket.Chat online|away|busy|offline, Mattermost online|away|dnd|offline)
  last_login    last successful login, ISO-8601 UTC; empty (JSON null): never logged in,
                or not given (a Mattermost bot, an account the report left out: warned)
  created_at    when the account was created, ISO-8601 UTC
  auth_service  how it signs in (Mattermost email|ldap|saml|gitlab|...; Rocket.Chat: ldap or empty)
  mfa_active    two-factor on (Mattermost only: Rocket.Chat never shows it, and exits 2)
LDIF takes username, email, name, first_name, last_name, position, locale, active, roles,
external_id and avatar. teams and channels cost what --memberships costs. Mattermost gives
last logins only through its user report (GET /reports/users, Mattermost 9.9+, permission
sysconsole_read_user_management_users), Rocket.Chat to view-full-other-user-info: without
it the export stops (exit 2) before writing a file. An export with username or email is a
SOURCE for `roster do` and `roster import`.

Filters combine (an account must pass each): --active-only or --inactive-only, --role,
--idle-days. Bots and the account roster runs as are listed like any account, but never as
idle."
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
    /// Only deactivated accounts.
    #[arg(long, conflicts_with = "active_only")]
    pub inactive_only: bool,
    /// Only accounts holding role NAME (repeatable, or a comma list: accounts holding any
    /// of them). Matched ignoring case; on Mattermost `admin`, `user` and `guest` mean
    /// system_admin, system_user and system_guest, as in imports. A name the server has
    /// no role for is a warning.
    #[arg(long = "role", value_name = "NAME")]
    pub roles: Vec<String>,
    /// Only accounts idle for more than N days: the last login is older than N days, or,
    /// never having logged in, the account was created more than N days ago; and on
    /// Mattermost the server saw no activity since (its report's last_status_at: a session
    /// lasts months without a login; a status set by an admin moves it too). Bots and the
    /// account roster runs as are never idle;
    /// deactivated accounts are included unless --active-only. Reads last logins
    /// (Mattermost: its user report, see below).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub idle_days: Option<u32>,
    /// The columns to write, in this order (CSV, TSV, JSON Lines: one key per field, every
    /// key present). LDIF writes only the attributes of the fields named and refuses
    /// fields it has none for. Default: the usual columns, no server facts. Names below.
    #[arg(long, value_name = "a,b,...", value_parser = parse_fields)]
    pub fields: Option<FieldList>,
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
            fields: args.fields.map(|f| f.0),
            roles: args.roles,
            inactive_only: args.inactive_only,
            idle_days: args.idle_days,
        },
    )
}
