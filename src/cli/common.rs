//! Option groups shared by several commands.

use std::path::PathBuf;

use roster::settings::Mode;
use roster::settings::Rate;
use roster::settings::Threshold;
use roster::settings::{DEFAULT_MAX_ATTEMPTS, DEFAULT_WORKERS, Flavor, MatchKey};
use roster::source::{Encoding, Format};
use roster::validate::Profile;

/// How to read the source.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Input format; by default from the extension (.csv .tsv .ldif .jsonl) or ldap:// URL.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV field delimiter (`,` `;` `|` `tab`); detected by default.
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The CSV file has no header row; name the columns with --columns.
    #[arg(long)]
    pub no_headers: bool,
    /// Column names for a headerless CSV file, e.g. `username,email,name`.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Text encoding of CSV input; `auto` reads UTF-8 and falls back to Windows-1252 with a warning.
    #[arg(long, value_enum)]
    pub encoding: Option<Encoding>,
    /// Separator inside multi-valued CSV cells such as roles (default `;`, or `,` when the delimiter is `;`).
    #[arg(long)]
    pub multi_sep: Option<char>,
    /// Let LDIF `attr:< file://` values read files, only inside DIR (after resolving `..` and symlinks); refused otherwise.
    #[arg(long, value_name = "DIR")]
    pub allow_file_urls: Option<PathBuf>,
    /// Largest CSV row (its cells), LDIF record or JSON line (without line ends) read; a larger one is skipped with an error (K, M, G suffixes: powers of 1024; default 8M).
    #[arg(long, value_name = "BYTES", value_parser = roster::source::ldap::parse_size)]
    pub max_record_size: Option<u64>,
    #[command(flatten)]
    pub ldap: LdapArgs,
}

/// Overrides for an LDAP URL source.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "LDAP source (SOURCE is ldap:// or ldaps://)")]
pub struct LdapArgs {
    /// Search base DN (overrides the URL's).
    #[arg(long)]
    pub base: Option<String>,
    /// LDAP search scope: base, one or sub. (`plan` and `sync` still take the old
    /// management values domain=..., role=..., all here, with a warning: use --manage.)
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,
    /// Search filter, e.g. `(objectClass=inetOrgPerson)`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Attributes to fetch, comma-separated (default: all user attributes plus entryUUID etc.).
    #[arg(long, value_delimiter = ',')]
    pub attrs: Option<Vec<String>>,
    /// Paged-results page size (default 500).
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Do not use the paged-results control (a capped result is then an error).
    #[arg(long)]
    pub no_paging: bool,
    /// Upgrade ldap:// with StartTLS.
    #[arg(long)]
    pub starttls: bool,
    /// Bind DN; the password comes from ROSTER_LDAP_PASSWORD(_FILE) or a prompt. None = anonymous.
    #[arg(long)]
    pub bind_dn: Option<String>,
    /// Longest wait for the LDAP server's bind answer and each search page, in seconds (default 120).
    #[arg(long, value_name = "SECS")]
    pub ldap_timeout: Option<u64>,
    /// Largest LDAP message accepted from the server, in bytes (K, M, G suffixes: powers of 1024; default 16M).
    #[arg(long, value_name = "BYTES", value_parser = roster::source::ldap::parse_size)]
    pub ldap_max_message: Option<u64>,
}

/// Mapping and validation.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Mapping and validation")]
pub struct MappingArgs {
    /// Job file (TOML): [source], [mapping], [validate], [server], [import], [sync].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Map a field from a template, e.g. `name={givenName} {sn}` (repeatable).
    #[arg(long = "map", value_name = "FIELD=TEMPLATE")]
    pub map: Vec<String>,
    /// Validation rules: rocketchat, mattermost or generic.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Accept quoted local parts and domain literals in email addresses.
    #[arg(long)]
    pub allow_unusual_emails: bool,
}

/// Reports.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Reports")]
pub struct ReportArgs {
    /// Per-row report: .csv or .jsonl (origin, username, email, action, status, id, attempts, changed, error).
    #[arg(long, value_name = "FILE", value_parser = parse_report_path)]
    pub report: Option<PathBuf>,
    /// Rejected and failed rows, in the input's own format with the error, to fix and feed back.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// TLS to servers.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// Trust this CA certificate (PEM) in addition to the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify TLS certificates. Dangerous; never the default.
    #[arg(long)]
    pub insecure: bool,
}

/// Workers and pacing (import, sync, apply).
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Execution")]
pub struct ExecArgs {
    #[arg(long, value_name = "N", help = format!(
        "The most requests in flight at once (default {DEFAULT_WORKERS}): a ceiling; concurrency starts lower and grows while the server's latency stays flat, and backs off when it climbs or the server answers 5xx"
    ), value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Keep exactly --workers requests in flight instead of adapting under it.
    #[arg(long)]
    pub fixed_workers: bool,
    /// Client-side cap per server rate-limit bucket, e.g. 20/2s, 10/min.
    #[arg(long, value_name = "CALLS/PERIOD")]
    pub rate: Option<Rate>,
    #[arg(long, help = format!(
        "Attempts for a request that hits 5xx, a timeout or a dropped connection (default {DEFAULT_MAX_ATTEMPTS})"
    ))]
    pub max_attempts: Option<u32>,
}

/// How new users are created (import, plan, sync, apply).
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "New users")]
pub struct CreateArgs {
    /// Let the server set a random password for new users (they must change it).
    #[arg(long)]
    pub random_password: bool,
    /// Rocket.Chat: add new users to the default channels (server default: yes).
    #[arg(long, value_name = "BOOL")]
    pub join_default_channels: Option<bool>,
    /// Send the welcome email to new users.
    #[arg(long, value_name = "BOOL")]
    pub send_welcome_email: Option<bool>,
    /// Mattermost: create accounts that log in through ldap or saml (auth_data = external_id or username).
    #[arg(long, value_name = "SERVICE")]
    pub auth_service: Option<String>,
    /// Create a channel the source names and the server lacks (public; on Mattermost in
    /// the row's team), instead of rejecting the row. Teams are never created. Job file:
    /// [import] create_missing_channels.
    #[arg(long)]
    pub create_missing_channels: bool,
}

/// Accounts never written.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Safety")]
pub struct GuardArgs {
    /// Never update or deactivate these users (usernames or emails, comma-separated;
    /// adds to [sync] protect). Admins, bots and the account roster runs as are always
    /// protected unless the job file names them in [safety] write_privileged.
    #[arg(long, value_delimiter = ',', value_name = "USER,...")]
    pub protect: Vec<String>,
}

/// Which server and how to reach it.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// Server base URL, e.g. https://chat.example.org; else the job file's [server] url, else ROSTER_SERVER.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Server kind; detected by default (GET /api/info, GET /api/v4/system/ping).
    #[arg(long, value_enum)]
    pub flavor: Option<Flavor>,
    /// Read the password for ROSTER_USERNAME from this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Allow credentials over plain http:// to a host that is not loopback.
    #[arg(long)]
    pub allow_http: bool,
    /// Append one JSON line per HTTP request to FILE (`-`: stderr; job file: [server] log):
    /// time, method, route, status, duration, attempt, rate-limit headers; never a
    /// credential, a request header or a body. Created mode 0600.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How to run the import.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Import")]
pub struct RunArgs {
    /// upsert: create or update; create: only create; update: only update.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Match input users with server users by username or email.
    #[arg(long = "match", value_enum)]
    pub match_key: Option<MatchKey>,
    /// The users as the server now holds them (with ids): .jsonl, .csv or .ldif, mode 0600.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Continue an interrupted run: skip rows its journal (REPORT.journal) records as done.
    #[arg(long)]
    pub resume: bool,
    /// Only read: report what would be created, updated or deactivated.
    #[arg(long)]
    pub dry_run: bool,
    /// The sync ledger (see `roster help sync`): rows are matched by their anchor
    /// (external_id) first, so a renamed person keeps their account; the users imported
    /// are added to it.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub create: CreateArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// How `roster do` runs.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Run")]
pub struct DoArgs {
    /// Match input users with server users by username or email.
    #[arg(long = "match", value_enum)]
    pub match_key: Option<MatchKey>,
    /// Continue an interrupted run: skip rows its journal (REPORT.journal) records as done.
    #[arg(long)]
    pub resume: bool,
    /// Only read: report what would be done to each matched account.
    #[arg(long)]
    pub dry_run: bool,
    /// delete: really delete the accounts, for good. Without it `roster do delete` is
    /// refused.
    #[arg(long)]
    pub yes_delete_permanently: bool,
    /// offboard: also leave every team and channel but the default ones (Mattermost: the
    /// teams, whose channels go with them; Rocket.Chat: the channels and private groups).
    #[arg(long)]
    pub remove_memberships: bool,
    /// set-roles: the roles each account ends with, replacing its own (repeatable).
    #[arg(long = "role", value_name = "NAME", conflicts_with_all = ["add_role", "remove_role"])]
    pub role: Vec<String>,
    /// set-roles: a role to give each account, keeping its others (repeatable).
    #[arg(long, value_name = "NAME")]
    pub add_role: Vec<String>,
    /// set-roles: a role to take from each account (repeatable). Taking the admin role
    /// needs [safety] demote_admins; the last active admin keeps it.
    #[arg(long, value_name = "NAME")]
    pub remove_role: Vec<String>,
    /// set-status: the presence to set (Rocket.Chat has busy for dnd, Mattermost dnd for
    /// busy).
    #[arg(long, value_enum)]
    pub status: Option<roster::settings::Presence>,
    /// set-status on Rocket.Chat: the status message too.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// delete on Rocket.Chat: delete a user who is the last owner of rooms all the same
    /// (the earliest member becomes owner; rooms with nobody left are removed).
    #[arg(long)]
    pub confirm_relinquish: bool,
    /// delete: most deletions allowed, a count (20) or a percentage of the server's
    /// accounts (2%). Default: 5 % of them or 50, whichever is smaller.
    #[arg(long, value_name = "N|P%")]
    pub max_deactivate: Option<Threshold>,
    /// delete: no threshold, for this run.
    #[arg(long)]
    pub force: bool,
    /// set-preferences: a JSON object set on every account, before the row's pref.KEY
    /// columns: {"CATEGORY": {"NAME": "VALUE"}} on Mattermost, {"KEY": VALUE} on
    /// Rocket.Chat.
    #[arg(long, value_name = "JSON")]
    pub preferences: Option<String>,
    /// migrate-auth (Mattermost): the sign-in the accounts move to.
    #[arg(long, value_enum, value_name = "SERVICE")]
    pub auth_service: Option<roster::settings::AuthService>,
    /// migrate-auth: what the server gets as each account's auth_data, the directory's
    /// key for it [default: external-id].
    #[arg(long, value_enum)]
    pub auth_data: Option<roster::settings::AuthData>,
    /// reset-password: set a random password on each account and write them to FILE only
    /// (CSV `username,password,confirmed`, created mode 0600; an existing FILE only with
    /// --resume, which appends).
    #[arg(long, value_name = "FILE")]
    pub passwords_out: Option<PathBuf>,
    /// reset-password: have the server mail each user its password-reset link instead.
    #[arg(long)]
    pub send_reset_email: bool,
    /// reset-password --passwords-out: do not make the users change the password at the
    /// next login (Rocket.Chat; Mattermost cannot, and needs this flag to set passwords).
    #[arg(long)]
    pub no_require_change: bool,
    /// create-token: write the new tokens to FILE only (CSV
    /// `username,user_id,token_id,token`, created mode 0600; an existing FILE only with
    /// --resume, which appends).
    #[arg(long, value_name = "FILE")]
    pub tokens_out: Option<PathBuf>,
    /// create-token on Mattermost: the tokens' description (default "made by roster do
    /// create-token"); Rocket.Chat's tokens have none.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// Options shared by `plan` and `sync`: everything that changes what a sync decides.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Sync")]
pub struct SyncArgs {
    /// Deactivate managed users that are missing from the source.
    #[arg(long)]
    pub deactivate_missing: bool,
    /// Most deactivations allowed: a count (20) or a percentage of managed users (2%).
    /// Default: 5 % of managed users or 50, whichever is smaller.
    #[arg(long, value_name = "N|P%")]
    pub max_deactivate: Option<Threshold>,
    /// Override the deactivation threshold, the source-shrink guard and the
    /// rejected-rows guard, for this run.
    #[arg(long)]
    pub force: bool,
    /// Ledger of managed users and the source size, read before and written after a sync
    /// (JSON Lines; an import --dump is accepted as a first one).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Reactivate users an administrator deactivated though the source lists them active.
    #[arg(long)]
    pub reactivate: bool,
    /// Server users this sync manages besides its --state ledger: domain=example.org,
    /// role=NAME or all (repeatable). Admins, bots and protected users never are.
    #[arg(long, value_name = "SCOPE")]
    pub manage: Vec<String>,
    /// A team whose memberships this sync manages, whoever added them: a user the source
    /// does not put in it is removed (repeatable; job file [sync] manage_teams). Memberships
    /// roster added are managed anyway (--state).
    #[arg(long, value_name = "NAME")]
    pub manage_team: Vec<String>,
    /// The same for a channel (`team/channel` on Mattermost; job file [sync] manage_channels).
    #[arg(long, value_name = "[TEAM/]NAME")]
    pub manage_channel: Vec<String>,
    /// A user deactivated as missing also leaves the teams and channels roster manages for
    /// them (job file [sync] remove_memberships_on_deactivate). Default: left as they are.
    #[arg(long)]
    pub remove_memberships_on_deactivate: bool,
    /// Match input users with server users by username or email.
    #[arg(long = "match", value_enum)]
    pub match_key: Option<MatchKey>,
    /// upsert (default): create and update; create: only create missing users;
    /// update: never create. Deactivations follow --deactivate-missing either way.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    #[command(flatten)]
    pub create: CreateArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

/// `--scope` values: an LDAP search scope, and sync management scopes.
pub fn split_scopes(values: &[String]) -> (Option<String>, Vec<String>) {
    let mut ldap = None;
    let mut sync = Vec::new();
    for v in values {
        match v.trim().to_ascii_lowercase().as_str() {
            "base" | "one" | "onelevel" | "sub" | "subtree" | "children" | "subordinates" => {
                ldap = Some(v.trim().to_string())
            }
            _ => sync.push(v.clone()),
        }
    }
    (ldap, sync)
}

/// Parses `,` `;` `|` `tab` `\t` or any single ASCII character.
/// At least one worker.
pub fn parse_workers(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least 1 worker is needed".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{s:?} is not a number of workers")),
    }
}

/// A report path: JSON Lines for `.jsonl`, `.ndjson`, `.json`, CSV for anything else
/// (`run.2024-01-15`, `.log`), except a name that promises another format (a spreadsheet's
/// `.xlsx`, `.tsv`, `.ldif`), which is refused rather than filled with CSV.
pub fn parse_report_path(s: &str) -> Result<PathBuf, String> {
    const OTHER_FORMATS: [&str; 10] = [
        "xlsx", "xlsm", "xls", "ods", "numbers", "tsv", "ldif", "xml", "html", "pdf",
    ];
    let p = PathBuf::from(s);
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if OTHER_FORMATS.contains(&e.as_str()) => Err(format!(
            "a report is written as CSV (.csv) or JSON Lines (.jsonl), not .{e}"
        )),
        _ => Ok(p),
    }
}

pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "TAB" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "delimiter must be one ASCII character or `tab`, not {s:?}"
        )),
    }
}
