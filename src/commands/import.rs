//! `roster import`: push users to a Rocket.Chat or Mattermost server, as fast as the
//! server allows and never faster, with a record of what happened to every row.
//!
//! ```text
//! roster import SOURCE --server URL [--flavor rocketchat|mattermost]
//!               [--mode upsert|create|update] [--match username|email]
//!               [--workers N] [--rate CALLS/PERIOD] [--max-attempts N]
//!               [--report FILE] [--rejects FILE] [--dump FILE] [--resume] [--dry-run]
//!               [--random-password] [--config job.toml] [--password-file FILE]
//! ```
//! Credentials come from the environment (see `--help`), never from the command line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use super::shared::{self, ExecSettings};
use crate::cli::common::{
    CreateArgs, ExecArgs, GuardArgs, InputArgs, MappingArgs, ReportArgs, TlsArgs,
};
use crate::client::auth::{self, Credentials};
use crate::client::http::{self, Http, HttpOptions};
use crate::client::pacer::{Limiter, Pacer};
use crate::client::{Flavor, MatchKey, UserApi, mattermost, rocketchat};
use crate::config::JobConfig;
use crate::exec::journal::{self, Journal};
use crate::exec::{Engine, EngineOptions, Executor, Finished, JournalLink, Mode};
use crate::exit::{self, ExitError};
use crate::output::{self, UserWriter, WriterOptions};
use crate::pipeline::{Outcome, Pipeline};
use crate::report::Status;
use crate::validate::Profile;

const ENV_HELP: &str = "\
Credentials (never on the command line):
  ROSTER_USER_ID + ROSTER_TOKEN   Rocket.Chat personal access token or login token
  ROSTER_TOKEN                    Mattermost personal access token (bearer)
  ROSTER_USERNAME + ROSTER_PASSWORD, --password-file or a prompt: log in
  Each variable also as NAME_FILE, holding a path to a file with the value.
  On Rocket.Chat, users.update needs two-factor: give the password (even with a token)
  so roster can answer it, or use a token created with bypassTwoFactor.

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

/// Which server and how to reach it.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// Server base URL, e.g. https://chat.example.org.
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
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub create: CreateArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

pub fn run(args: Args) -> Result<i32> {
    crate::interrupt::install();
    shared::no_sync_scope(&args.input)?;
    let job = shared::load_job(&args.mapping)?;
    // Fail on a missing SOURCE before connecting; credentials are checked before reading.
    let spec = shared::source_spec(args.source.as_deref(), &job)?;
    shared::server_files(
        Some(&spec),
        args.mapping.config.as_deref(),
        &job,
        &args.server,
    )
    .reports(&args.reports)
    .write("--dump", args.run.dump.as_deref())
    .guard()?;
    // Connecting, logging in and reading the source write nothing: Ctrl-C stops at once.
    let exec = shared::ExecSettings::resolve(&args.run.exec, &job)?;
    let (connected, input) = crate::interrupt::nothing_written(|| -> Result<_> {
        let connected = connect(&args.server, &exec, &job)?;
        let profile = profile_of(connected.target.flavor());
        let input = shared::Input::open(
            job,
            args.source.as_deref(),
            &args.input,
            &args.mapping,
            &args.server.tls,
            profile,
            shared::Purpose::Import,
        )
        .context("reading the source; nothing was written to the server")?;
        Ok((connected, input))
    })?;
    execute(ImportRun {
        connected,
        pipeline: input.pipeline,
        run: args.run,
        job: input.job,
        reports: args.reports,
        base_dn: None,
        count: Some((input.spec, input.opts)),
    })
}

/// The validation rules of a server.
pub fn profile_of(flavor: Flavor) -> Profile {
    match flavor {
        Flavor::Rocketchat => Profile::Rocketchat,
        Flavor::Mattermost => Profile::Mattermost,
    }
}

/// A target ready for work, with what the run needs of it.
pub struct Connected {
    pub target: Arc<dyn UserApi>,
    pub http: Arc<http::Counters>,
    pub pacer: Arc<Pacer>,
}

/// Builds the client, detects the flavor, authenticates and checks the credentials,
/// before any row is read: a bad token fails at once, with exit code 2.
pub fn connect(server: &ServerArgs, exec: &ExecSettings, job: &JobConfig) -> Result<Connected> {
    let creds_for = |flavor| auth::from_env(flavor, server.password_file.as_deref());
    connect_with(server, exec, job, &creds_for)
}

pub fn connect_with(
    server: &ServerArgs,
    exec: &ExecSettings,
    job: &JobConfig,
    creds_for: &dyn Fn(Flavor) -> Result<Credentials, auth::AuthError>,
) -> Result<Connected> {
    let url = server
        .server
        .clone()
        .or_else(|| job.server.url.clone())
        .ok_or_else(|| {
            anyhow::anyhow!("no server: give --server URL (or [server] url in the job file)")
        })?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ExitError::new(
            exit::USAGE,
            format!("server URL {url:?} must start with http:// or https://"),
        )
        .into());
    }
    if !(server.allow_http || job.server.allow_http.unwrap_or(false))
        && let Some(why) = http::clear_text_refusal(&url)
    {
        return Err(ExitError::new(exit::USAGE, why).into());
    }
    if server.tls.insecure {
        eprintln!(
            "roster: WARNING: --insecure: TLS certificates are NOT verified; anyone on the path can read the credentials"
        );
    }
    let hopts = HttpOptions {
        ca_file: server
            .tls
            .ca_file
            .clone()
            .or_else(|| job.server.ca_file.clone()),
        insecure: server.tls.insecure,
        max_attempts: exec.max_attempts,
        pool: exec.workers,
        ..HttpOptions::default()
    };
    let client = http::client(&hopts)?;
    let flavor = match server.flavor.or(job.server.flavor) {
        Some(f) => f,
        None => detect(&client, &url)?,
    };
    let creds = creds_for(flavor).map_err(|e| ExitError::new(exit::USAGE, e.to_string()))?;
    let (limiter, parser): (Limiter, http::RateParser) = match flavor {
        Flavor::Rocketchat => (Limiter::FixedWindow, rocketchat::parse_rate),
        Flavor::Mattermost => (Limiter::Gcra, mattermost::parse_rate),
    };
    let pacer = Arc::new(Pacer::new(limiter, exec.rate));
    let h = Http::new(&url, client, pacer.clone(), parser, hopts.max_attempts)?;
    let counters = h.counters.clone();
    let target: Arc<dyn UserApi> = match flavor {
        Flavor::Rocketchat => Arc::new(
            rocketchat::RocketChat::connect(h, &creds)
                .map_err(|e| ExitError::new(exit::USAGE, format!("{url}: {e}")))?,
        ),
        Flavor::Mattermost => Arc::new(
            mattermost::Mattermost::connect(h, &creds)
                .map_err(|e| ExitError::new(exit::USAGE, format!("{url}: {e}")))?,
        ),
    };
    Ok(Connected {
        target,
        http: counters,
        pacer,
    })
}

fn detect(client: &reqwest::blocking::Client, url: &str) -> Result<Flavor> {
    // Say "cannot connect" when nothing answers at all, rather than "not a server".
    if let Err(e) = client.get(url).send()
        && (e.is_connect() || e.is_timeout())
    {
        let cause = format!(" ({})", http::root_cause(&e));
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "cannot connect to {url}{cause}; check the URL and that the server is reachable"
            ),
        )
        .into());
    }
    let redirected = |e: String| ExitError::new(exit::USAGE, format!("{url}: {e}"));
    if rocketchat::detect(client, url).map_err(redirected)? {
        return Ok(Flavor::Rocketchat);
    }
    if mattermost::detect(client, url).map_err(redirected)? {
        return Ok(Flavor::Mattermost);
    }
    Err(ExitError::new(
        exit::USAGE,
        format!("{url} answers neither like Rocket.Chat (GET /api/info) nor like Mattermost (GET /api/v4/system/ping); check the URL or give --flavor"),
    )
    .into())
}

/// Everything an import needs once connected (also used by `demo`).
pub struct ImportRun {
    pub connected: Connected,
    pub pipeline: Pipeline,
    pub run: RunArgs,
    pub job: JobConfig,
    pub reports: ReportArgs,
    pub base_dn: Option<String>,
    /// The source again, to count its rows for the progress display.
    pub count: Option<(String, crate::source::SourceOptions)>,
}

pub fn execute(r: ImportRun) -> Result<i32> {
    let started = shared::started();
    let ImportRun {
        connected,
        mut pipeline,
        run,
        job,
        reports,
        base_dn,
        count,
    } = r;
    let target = connected.target.clone();
    let flavor = target.flavor();
    if run.resume && reports.report.is_none() {
        anyhow::bail!(
            "--resume needs the --report of the interrupted run (its journal is REPORT.journal)"
        );
    }
    let exec = shared::ExecSettings::resolve(&run.exec, &job)?;
    let workers = exec.workers;
    let match_key = run.match_key.or(job.import.match_key).unwrap_or_default();
    let mode = run.mode.or(job.import.mode).unwrap_or_default();
    let engine = Engine::new(
        target.clone(),
        EngineOptions {
            mode,
            match_key,
            dry_run: run.dry_run,
            reactivate: true,
            max_attempts: exec.max_attempts,
            create: shared::create_options(&run.create, &job),
            guard: shared::write_guard(&run.guard, &job),
        },
    );

    let mut outs = shared::Outputs::create(&reports, &pipeline)?;
    let pb = shared::progress(reports.quiet, "rows");
    if let Some((spec, opts)) = &count {
        shared::count_rows_in_background(spec, opts, &pb);
    }
    // An LDAP source was read whole (spooled) when it was opened: a capped or broken
    // search has already stopped the run, with nothing written.
    let rows = pipeline.by_ref();

    let mut dump: Option<Box<dyn UserWriter>> = match &run.dump {
        Some(p) => {
            let f = shared::output_format(p, None)?;
            Some(
                output::create(
                    p,
                    f,
                    &WriterOptions {
                        base_dn: base_dn.clone(),
                        excel: false,
                        private: true,
                    },
                )
                .with_context(|| format!("cannot create dump {}", p.display()))?,
            )
        }
        None => None,
    };

    let mut done_keys = std::collections::HashSet::new();
    let mut intents = std::collections::HashSet::new();
    let mut journal: Option<Journal> = None;
    if let Some(report) = &reports.report {
        let jpath = journal::path_for(report);
        if run.resume {
            let (j, resumed) = Journal::resume(&jpath, |line| {
                outs.summary.add(&line.entry);
                if let Some(r) = &mut outs.report {
                    r.write(&line.entry)?;
                }
                if let (Some(d), Some(u)) = (&mut dump, &line.user) {
                    d.write(u)?;
                }
                Ok(())
            })
            .with_context(|| format!("cannot read the journal {}", jpath.display()))?;
            if !reports.quiet {
                eprintln!(
                    "roster: resuming: {} rows already done (journal {})",
                    resumed.done.len(),
                    jpath.display()
                );
            }
            done_keys = resumed.done;
            intents = resumed.intents;
            journal = Some(j);
        } else if !run.dry_run {
            journal = Some(
                Journal::create(&jpath)
                    .with_context(|| format!("cannot create the journal {}", jpath.display()))?,
            );
        }
    }

    let mut unsupported = std::collections::BTreeSet::new();
    // Shared with the workers, which write create intents before sending.
    let journal = journal.map(|j| Arc::new(Mutex::new(j)));
    let engine = Arc::new(match &journal {
        Some(j) => engine.with_journal(JournalLink {
            journal: j.clone(),
            intents,
        }),
        None => engine,
    });

    let ticking = AtomicBool::new(true);
    let mut sink_error: Option<anyhow::Error> = None;
    let end = std::thread::scope(|s| {
        let (pb2, pacer, ticking_ref) = (pb.clone(), connected.pacer.clone(), &ticking);
        s.spawn(move || {
            while ticking_ref.load(Ordering::Relaxed) {
                let msg = match pacer.waiting().first() {
                    Some(w) => format!(
                        "rows; waiting for rate limit on {} ({} s)",
                        w.bucket,
                        w.until
                            .saturating_duration_since(std::time::Instant::now())
                            .as_secs()
                            + 1
                    ),
                    None => "rows".to_string(),
                };
                pb2.set_message(msg);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        let filtered = rows
            .filter(|item| match item {
                Ok(c) => match &c.outcome {
                    Outcome::Valid { user, intent } => {
                        done_keys.is_empty()
                            || !done_keys.contains(&journal::row_key(user, intent, match_key))
                    }
                    Outcome::Rejected { .. } => true,
                },
                Err(_) => true,
            })
            .map(|item| item.map(crate::exec::Work::from));
        let executor = Executor::new(engine.clone(), workers, batch_size(flavor, match_key));
        let end = executor.run(filtered, |f: Finished| {
            if sink_error.is_some() {
                return;
            }
            if let Outcome::Valid { user, .. } = &f.checked.outcome {
                unsupported.extend(target.unsupported(&target.normalize(user)));
            }
            if let Err(e) = record(&f, &mut outs, &mut dump, journal.as_deref(), match_key) {
                sink_error = Some(e);
            }
            pb.inc(1);
        });
        ticking.store(false, Ordering::Relaxed);
        end
    });
    pb.finish_and_clear();
    if let Some(e) = sink_error {
        return Err(e);
    }
    let mut warnings = pipeline.take_warnings();
    warnings.extend(crate::client::unsupported_warning(flavor, &unsupported));
    warnings.extend(target.warnings());
    shared::print_warnings(warnings, &mut outs.summary);
    if let Some(d) = dump {
        d.finish().context("cannot write the dump")?;
    }
    let mut summary = outs.finish()?;
    shared::add_counters(&mut summary, &connected.http);
    summary.set_elapsed(started.elapsed());
    if run.dry_run {
        summary
            .warnings
            .push("dry run: nothing was changed on the server".into());
    }
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        shared::print_summary(&summary, &reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    if let Some(e) = end.source_error {
        summary.stopped = Some(e.to_string());
        shared::print_summary(&summary, &reports)?;
        return Err(anyhow::Error::new(e)
            .context("reading the source; the rows before the error were imported"));
    }
    if end.interrupted {
        summary.stopped = Some(if reports.report.is_some() {
            "interrupted; run again with --resume to finish".into()
        } else {
            "interrupted".into()
        });
        shared::print_summary(&summary, &reports)?;
        return Ok(exit::INTERRUPTED);
    }
    shared::print_summary(&summary, &reports)?;
    Ok(shared::rows_exit_code(&summary))
}

fn record(
    f: &Finished,
    outs: &mut shared::Outputs,
    dump: &mut Option<Box<dyn UserWriter>>,
    journal: Option<&Mutex<Journal>>,
    match_key: MatchKey,
) -> Result<()> {
    outs.record(&f.done.entry, Some(&f.checked))?;
    if let (Some(d), Some(u)) = (dump.as_mut(), &f.done.server_user) {
        d.write(u).context("cannot write the dump")?;
    }
    if let (Some(j), Outcome::Valid { user, intent }) = (journal, &f.checked.outcome)
        && f.done.entry.status != Status::Rejected
    {
        let key = journal::row_key(user, intent, match_key);
        let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
        j.record(&key, &f.done.entry, f.done.server_user.as_ref())
            .with_context(|| format!("cannot write the journal {}", j.path().display()))?;
    }
    Ok(())
}

/// Rows per lookup call: Mattermost can look up many usernames at once.
fn batch_size(flavor: Flavor, by: MatchKey) -> usize {
    match (flavor, by) {
        (Flavor::Mattermost, MatchKey::Username) => mattermost::LOOKUP_BATCH,
        _ => 1,
    }
}
