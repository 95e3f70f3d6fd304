//! `roster import`: push users to a Rocket.Chat or Mattermost server, as fast as the
//! server allows and never faster, with a record of what happened to every row.
//!
//! ```text
//! roster import SOURCE --server URL [--flavor rocketchat|mattermost]
//!               [--mode upsert|create|update] [--match username|email]
//!               [--workers N] [--fixed-workers] [--rate CALLS/PERIOD] [--max-attempts N]
//!               [--report FILE] [--rejects FILE] [--dump FILE] [--resume] [--dry-run]
//!               [--random-password] [--config job.toml] [--password-file FILE]
//! ```
//! Credentials come from the environment (see `--help`), never from the command line.

use anyhow::Result;

use crate::cli::common::{InputArgs, MappingArgs, ReportArgs, RunArgs, ServerArgs};
use crate::cli::settings;

const ENV_HELP: &str = "\
Credentials (never on the command line):
  ROSTER_USER_ID + ROSTER_TOKEN   Rocket.Chat personal access token or login token
  ROSTER_TOKEN                    Mattermost personal access token (bearer)
  ROSTER_USERNAME + ROSTER_PASSWORD, --password-file or a prompt: log in
  Each variable also as NAME_FILE, holding a path to a file with the value.
  On Rocket.Chat, users.update needs two-factor: give the password (even with a token)
  so roster can answer it, or use a token created with bypassTwoFactor.

Speed:
  Which rows' users exist is learned the cheaper way: a lookup per row (on Mattermost,
  by username, one per 100 rows), or one read of the server's whole user list
  (⌈users ÷ 100⌉ calls on Rocket.Chat, whose first page tells the total; ⌈users ÷ 200⌉
  on Mattermost, after one call for the total). Rows are read ahead (10,000 and 16 MiB
  at most) until their lookups would cost more than the list; past that, or against
  more than 200,000 users, the lookups stay. Either way the result is the same: a user
  created meanwhile by someone else is updated, never duplicated. --mode create looks
  nothing up.
  --workers N is a ceiling: roster starts with 4 requests in flight, grows while the
  server's latency stays under twice its best, and backs off when it climbs past that or
  the server answers 502, 503 or 504 or times out (429s leave it alone: the rate-limit
  pacing sets the pace). --fixed-workers keeps N in flight. Connections are kept alive
  and pooled, one per worker.

Examples:
  ROSTER_USERNAME=importer ROSTER_PASSWORD_FILE=~/.rc-pass \\
    roster import users.csv --server https://chat.example.org --report run.csv --rejects fix.csv
  roster import people.ldif --server https://mm.example.org --dry-run --report plan.jsonl
  roster import users.csv --server https://chat.example.org --report run.csv --resume";

#[derive(clap::Args, Debug)]
#[command(after_help = ENV_HELP)]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    settings::no_sync_scope(&args.input)?;
    let config = args.mapping.config.as_deref();
    let job = settings::load_job(config)?;
    // Fail on a missing SOURCE before connecting; credentials are checked before reading.
    let spec = settings::source_spec(args.source.as_deref(), &job)?;
    let run = settings::import(&args.run, &job)?;
    let files = settings::server_files(Some(&spec), config, &job, &args.server)
        .read_write("--state", run.state.as_deref());
    settings::report_files(files, &args.reports)
        .write("--dump", args.run.dump.as_deref())
        .guard()?;
    let source = settings::source(spec, &args.input, &args.mapping, &args.server.tls, &job)?;
    roster::ops::import(
        &source,
        &settings::server(&args.server, &job),
        &run,
        &settings::reports(&args.reports),
    )
}
