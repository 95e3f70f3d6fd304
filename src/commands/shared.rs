//! Glue shared by the commands: flags + job file → source, mapping, validator;
//! report and rejects files; progress on a terminal.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::common::{
    CreateArgs, ExecArgs, GuardArgs, InputArgs, MappingArgs, ReportArgs, TlsArgs,
};
use crate::config::JobConfig;
use crate::exec::engine::WriteGuard;
use crate::exec::pacer::Rate;
use crate::mapping::Mapping;
use crate::output::paths::Files;
use crate::pipeline::{Checked, Pipeline};
use crate::report::rejects::RejectedRow;
use crate::report::{RejectsWriter, ReportEntry, ReportWriter, Status, Summary};
use crate::source::{self, CsvDialect, Format, SourceOptions};
use crate::target::CreateOptions;
use crate::validate::{Profile, ValidateOptions, Validator};

/// Parallel workers when neither `--workers` nor `[import] workers` says.
pub const DEFAULT_WORKERS: usize = 4;
/// Attempts of a retried request when neither `--max-attempts` nor the job file says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Workers and pacing, flags over the job file's `[import]` table.
#[derive(Clone, Copy, Debug)]
pub struct ExecSettings {
    pub workers: usize,
    pub rate: Option<Rate>,
    pub max_attempts: u32,
}

impl Default for ExecSettings {
    fn default() -> Self {
        ExecSettings {
            workers: DEFAULT_WORKERS,
            rate: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl ExecSettings {
    pub fn resolve(a: &ExecArgs, job: &JobConfig) -> Result<ExecSettings> {
        let rate = match (&a.rate, &job.import.rate) {
            (Some(r), _) => Some(*r),
            (None, Some(s)) => Some(
                s.parse::<Rate>()
                    .map_err(|e| anyhow::anyhow!("job file [import] rate: {e}"))?,
            ),
            (None, None) => None,
        };
        Ok(ExecSettings {
            workers: a
                .workers
                .or(job.import.workers)
                .unwrap_or(DEFAULT_WORKERS)
                .max(1),
            rate,
            max_attempts: a
                .max_attempts
                .or(job.import.max_attempts)
                .unwrap_or(DEFAULT_MAX_ATTEMPTS)
                .max(1),
        })
    }
}

/// Create options from flags over the job file.
pub fn create_options(a: &CreateArgs, job: &JobConfig) -> CreateOptions {
    CreateOptions {
        random_password: a.random_password || job.import.random_password.unwrap_or(false),
        join_default_channels: a.join_default_channels.or(job.import.join_default_channels),
        send_welcome_email: a.send_welcome_email.or(job.import.send_welcome_email),
        auth_service: a
            .auth_service
            .clone()
            .or_else(|| job.import.auth_service.clone()),
    }
}

/// The accounts never written: `--protect` and `[sync] protect` together, less what
/// the job file's `[safety]` table explicitly allows.
pub fn write_guard(a: &GuardArgs, job: &JobConfig) -> WriteGuard {
    let mut protect = a.protect.clone();
    protect.extend(job.sync.protect.clone().unwrap_or_default());
    WriteGuard {
        protect,
        allowed: job.safety.write_privileged.clone().unwrap_or_default(),
        demote_admins: job.safety.demote_admins.unwrap_or(false),
    }
}

/// The SOURCE argument, or `[source] path` of the job file.
pub fn source_spec(arg: Option<&str>, job: &JobConfig) -> Result<String> {
    match arg.map(str::to_string).or_else(|| job.source.path.clone()) {
        Some(s) => Ok(s),
        None => anyhow::bail!("no SOURCE given (as an argument or [source] path in the job file)"),
    }
}

/// Source options from flags, falling back to the job file's `[source]` table.
/// `tls` is the command's `--ca-file`/`--insecure`, which also apply to ldaps:// and StartTLS.
pub fn source_options(input: &InputArgs, tls: &TlsArgs, job: &JobConfig) -> Result<SourceOptions> {
    let s = &job.source;
    let delimiter = match (&input.delimiter, &s.delimiter) {
        (Some(d), _) => Some(*d),
        (None, Some(d)) => Some(
            crate::cli::common::parse_delimiter(d)
                .map_err(|e| anyhow::anyhow!("job file [source] delimiter: {e}"))?,
        ),
        (None, None) => None,
    };
    let allow_file_urls = input
        .allow_file_urls
        .clone()
        .or_else(|| s.allow_file_urls.clone());
    if let Some(d) = &allow_file_urls
        && !d.is_dir()
    {
        anyhow::bail!("--allow-file-urls {}: not a folder", d.display());
    }
    let l = &input.ldap;
    let (ldap_scope, _sync_scopes) = crate::cli::common::split_scopes(&l.scope);
    Ok(SourceOptions {
        format: input.format.or(s.format),
        delimiter,
        no_headers: input.no_headers || s.no_headers.unwrap_or(false),
        columns: input.columns.clone().or_else(|| s.columns.clone()),
        encoding: input.encoding.or(s.encoding).unwrap_or_default(),
        multi_sep: input.multi_sep.or(s.multi_sep),
        url_max_bytes: None,
        allow_file_urls,
        ldap: source::ldap::LdapOptions {
            base: l.base.clone().or_else(|| s.base.clone()),
            scope: ldap_scope.or_else(|| s.scope.clone()),
            filter: l.filter.clone().or_else(|| s.filter.clone()),
            attrs: l.attrs.clone().or_else(|| s.attrs.clone()),
            page_size: l.page_size.or(s.page_size),
            no_paging: l.no_paging || s.no_paging.unwrap_or(false),
            starttls: l.starttls || s.starttls.unwrap_or(false),
            ca_file: tls.ca_file.clone().or_else(|| s.ca_file.clone()),
            bind_dn: l.bind_dn.clone().or_else(|| s.bind_dn.clone()),
            insecure: tls.insecure,
            connect_timeout: None,
            timeout: l.ldap_timeout.map(std::time::Duration::from_secs),
            max_message: l.ldap_max_message.or(s.ldap_max_message),
            password: None,
        },
        spool: false,
    })
}

/// Refuses sync-only `--scope` values on commands that are not syncs.
pub fn no_sync_scope(input: &InputArgs) -> Result<()> {
    let (_, sync) = crate::cli::common::split_scopes(&input.ldap.scope);
    match sync.first() {
        Some(v) => anyhow::bail!(
            "--scope {v:?}: not an LDAP search scope (base, one, sub); the users a sync manages are `roster plan`/`roster sync` --manage"
        ),
        None => Ok(()),
    }
}

pub fn mapping(args: &MappingArgs, job: &JobConfig) -> Result<Mapping> {
    Ok(Mapping::new(&job.mapping, &args.map)?)
}

pub fn validator(args: &MappingArgs, job: &JobConfig, default: Profile) -> Validator {
    Validator::new(ValidateOptions {
        profile: args.profile.or(job.validate.profile).unwrap_or(default),
        allow_unusual_emails: args.allow_unusual_emails
            || job.validate.allow_unusual_emails.unwrap_or(false),
    })
}

/// The files every command with a source reads (the source, the job file and what it
/// names, `--ca-file`), for [`crate::output::paths::Files::guard`].
pub fn files(spec: &str, m: &MappingArgs, job: &JobConfig, tls: &TlsArgs) -> Files {
    Files::new()
        .source(spec)
        .job(m.config.as_deref(), job)
        .read("--ca-file", tls.ca_file.as_deref())
        .env("ROSTER_LDAP_PASSWORD_FILE")
}

/// The files every command that talks to a server reads (the source when there is one,
/// the job file and what it names, `--ca-file`, `--password-file`).
pub fn server_files(
    spec: Option<&str>,
    config: Option<&Path>,
    job: &JobConfig,
    server: &super::import::ServerArgs,
) -> Files {
    let f = match spec {
        Some(s) => Files::new().source(s),
        None => Files::new(),
    };
    let f = f
        .job(config, job)
        .read("--ca-file", server.tls.ca_file.as_deref())
        .read("--password-file", server.password_file.as_deref());
    // Every credential variable may name a file instead (`NAME_FILE`).
    [
        "ROSTER_PASSWORD_FILE",
        "ROSTER_TOKEN_FILE",
        "ROSTER_USER_ID_FILE",
        "ROSTER_USERNAME_FILE",
        "ROSTER_LDAP_PASSWORD_FILE",
    ]
    .into_iter()
    .fold(f, Files::env)
}

pub fn load_job(args: &MappingArgs) -> Result<JobConfig> {
    Ok(JobConfig::load_opt(args.config.as_deref())?)
}

/// What a command does with its input, which decides how it is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// validate, convert: stream; `--scope` is only the LDAP search scope.
    Offline,
    /// import: an LDAP source is read whole before the first write.
    Import,
    /// plan, sync: `--scope` also names the managed users.
    Sync,
}

/// A command's input, opened: the job file, the source spec and options, and the
/// checking pipeline (flags over the job file).
pub struct Input {
    pub job: JobConfig,
    pub spec: String,
    pub opts: SourceOptions,
    pub pipeline: Pipeline,
}

impl Input {
    /// `default_profile` applies when neither `--profile` nor the job file names one.
    pub fn open(
        job: JobConfig,
        source: Option<&str>,
        input: &InputArgs,
        mapping_args: &MappingArgs,
        tls: &TlsArgs,
        default_profile: Profile,
        purpose: Purpose,
    ) -> Result<Input> {
        if purpose != Purpose::Sync {
            no_sync_scope(input)?;
        }
        let spec = source_spec(source, &job)?;
        let mut opts = source_options(input, tls, &job)?;
        opts.spool = purpose == Purpose::Import;
        // Opening (an LDAP bind and, for an import, the whole search) writes nothing:
        // Ctrl-C stops it at once.
        let pipeline = crate::interrupt::nothing_written(|| {
            open_pipeline(
                &spec,
                &opts,
                mapping(mapping_args, &job)?,
                validator(mapping_args, &job, default_profile),
            )
        })?;
        Ok(Input {
            job,
            spec,
            opts,
            pipeline,
        })
    }
}

/// Runs every row of an offline command (`validate`, `convert`) through `each`, which
/// says what became of it; writes the reports, prints the summary, and gives the exit code.
pub fn drive_offline(
    mut pipeline: Pipeline,
    reports: &ReportArgs,
    what: &str,
    spec: &str,
    mut each: impl FnMut(&Checked) -> Result<Option<ReportEntry>>,
) -> Result<i32> {
    let started = Instant::now();
    let mut out = Outputs::create(reports, &pipeline)?;
    let pb = progress(reports.quiet, what);
    let mut stopped = None;
    let mut fatal = None;
    while let Some(item) = pipeline.next() {
        let checked = match item {
            Ok(c) => c,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        let w = pipeline.take_warnings();
        if !w.is_empty() {
            pb.suspend(|| print_warnings(w, &mut out.summary));
        }
        match each(&checked)? {
            Some(entry) => out.record(&entry, Some(&checked))?,
            None => out.summary.add_ok(),
        }
        pb.inc(1);
        if crate::interrupt::requested() {
            stopped = Some("interrupted".to_string());
            break;
        }
    }
    pb.finish_and_clear();
    print_warnings(pipeline.take_warnings(), &mut out.summary);
    let mut summary = out.finish()?;
    summary.set_elapsed(started.elapsed());
    if let Some(e) = fatal {
        summary.stopped = Some(e.to_string());
        print_summary(&summary, reports)?;
        return Err(anyhow::Error::new(e).context(format!("reading {spec}")));
    }
    summary.stopped = stopped.clone();
    print_summary(&summary, reports)?;
    if stopped.is_some() {
        return Ok(crate::cli::exit::INTERRUPTED);
    }
    Ok(rows_exit_code(&summary))
}

/// Adds a run's request counters to its summary.
pub fn add_counters(summary: &mut Summary, c: &crate::target::http::Counters) {
    use std::sync::atomic::Ordering;
    summary.requests = c.requests.load(Ordering::Relaxed);
    summary.rate_limited = c.rate_limited.load(Ordering::Relaxed);
    summary.retries = c.retries.load(Ordering::Relaxed);
}

/// Opens the source and builds the checking pipeline.
pub fn open_pipeline(
    spec: &str,
    opts: &SourceOptions,
    mapping: Mapping,
    validator: Validator,
) -> Result<Pipeline> {
    let src = source::open(spec, opts)?;
    let bytes = std::fs::metadata(spec)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok(Pipeline::with_size_hint(src, mapping, validator, bytes))
}

/// Locks held until the process ends (a run's report, hence its journal).
static HELD_LOCKS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// Takes an exclusive advisory lock on the report file before it is truncated, held
/// until the process ends: two runs on one report (and its journal, REPORT.journal)
/// would interleave their rows. The report itself is locked so that no lock file is
/// left behind; stdout and non-regular files (a pipe) are not locked.
pub fn lock_report(args: &ReportArgs) -> Result<()> {
    let Some(path) = &args.report else {
        return Ok(());
    };
    if path.as_os_str() == "-" {
        return Ok(());
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(()),
        _ => {}
    }
    let mut o = std::fs::OpenOptions::new();
    // Not truncated here: the file may belong to the other run.
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o
        .open(path)
        .with_context(|| format!("cannot create report {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(crate::cli::ExitError::new(
                crate::cli::exit::USAGE,
                format!(
                    "another roster run is using {} (it and its journal {} are locked); wait for it or choose another --report",
                    path.display(),
                    crate::exec::journal::path_for(path).display()
                ),
            )
            .into());
        }
        // A file system without locks (some network mounts): run unprotected, and say so.
        Err(std::fs::TryLockError::Error(e)) => {
            eprintln!(
                "roster: warning: cannot lock {} ({e}); another run on the same --report would not be stopped",
                path.display()
            );
            return Ok(());
        }
    }
    HELD_LOCKS.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    Ok(())
}

/// The report and rejects files of a run, and the summary.
pub struct Outputs {
    pub report: Option<ReportWriter>,
    pub rejects: Option<RejectsWriter>,
    pub summary: Summary,
    dialect: Arc<OnceLock<CsvDialect>>,
}

impl Outputs {
    pub fn create(args: &ReportArgs, pipeline: &Pipeline) -> Result<Outputs> {
        let input_format = pipeline.format();
        lock_report(args)?;
        let report = match &args.report {
            Some(p) => Some(
                ReportWriter::create(p)
                    .with_context(|| format!("cannot create report {}", p.display()))?,
            ),
            None => None,
        };
        let rejects = match &args.rejects {
            Some(p) => Some(
                RejectsWriter::create(p, input_format)
                    .with_context(|| format!("cannot create rejects file {}", p.display()))?
                    .with_secrets(pipeline.secret_attributes()),
            ),
            None => None,
        };
        Ok(Outputs {
            report,
            rejects,
            summary: Summary::default(),
            dialect: pipeline.dialect_handle(),
        })
    }

    /// Outputs for a run without a source (`apply`): no rejects file.
    pub fn without_source(args: &ReportArgs) -> Result<Outputs> {
        lock_report(args)?;
        let report = match &args.report {
            Some(p) => Some(
                ReportWriter::create(p)
                    .with_context(|| format!("cannot create report {}", p.display()))?,
            ),
            None => None,
        };
        Ok(Outputs {
            report,
            rejects: None,
            summary: Summary::default(),
            dialect: Arc::new(OnceLock::new()),
        })
    }

    /// Records a row's entry; rows that were rejected or failed also go to the rejects file.
    pub fn record(&mut self, entry: &ReportEntry, row: Option<&Checked>) -> Result<()> {
        self.summary.add(entry);
        if let Some(r) = &mut self.report {
            r.write(entry).context("cannot write the report")?;
        }
        if matches!(entry.status, Status::Rejected | Status::Failed)
            && let (Some(w), Some(row)) = (&mut self.rejects, row)
        {
            let dialect = self.dialect.get();
            w.write(
                &RejectedRow {
                    dn: row.dn.as_deref(),
                    attrs: &row.attrs,
                    raw: &row.raw,
                    error: &entry.error,
                },
                dialect,
            )
            .context("cannot write the rejects file")?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Summary> {
        if let Some(r) = self.report {
            r.finish().context("cannot write the report")?;
        }
        if let Some(r) = self.rejects {
            r.finish().context("cannot write the rejects file")?;
        }
        Ok(self.summary)
    }
}

/// A spinner with a row count and rate on a terminal; hidden otherwise or with --quiet.
pub fn progress(quiet: bool, what: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Once the total is known, the spinner becomes a bar with rows/s and an ETA.
pub fn set_total(pb: &ProgressBar, total: u64) {
    if pb.is_hidden() {
        return;
    }
    pb.set_length(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} ({per_sec}, ETA {eta}, {elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
}

/// Counts a file source's rows on a side thread (a fast second read) so the progress
/// display can show a total and an ETA; only when a progress bar is shown.
pub fn count_rows_in_background(spec: &str, opts: &SourceOptions, pb: &ProgressBar) {
    if pb.is_hidden() || spec == "-" || Format::detect(spec) == Some(Format::Ldap) {
        return;
    }
    let (spec, opts, pb) = (spec.to_string(), opts.clone(), pb.clone());
    let _ = std::thread::Builder::new()
        .name("roster-count".into())
        .spawn(move || {
            let Ok(mut src) = source::open(&spec, &opts) else {
                return;
            };
            let mut n = 0u64;
            while let Ok(Some(_)) = src.next_item() {
                n += 1;
                if crate::interrupt::requested() {
                    return;
                }
            }
            set_total(&pb, n);
        });
}

/// Writes `text` and a newline to stdout. Unlike `println!`, a closed pipe
/// (`roster plan … | head`) is an error the caller returns, which `main` turns into a
/// quiet exit 0, rather than a panic.
pub fn stdout_line(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints warnings and the summary on stderr (unless quiet), or JSON on stdout.
pub fn print_summary(summary: &Summary, args: &ReportArgs) -> Result<()> {
    if args.json {
        stdout_line(&serde_json::to_string_pretty(summary)?)?;
    } else if !args.quiet {
        eprintln!("{}", summary.render());
    }
    Ok(())
}

/// Prints source warnings as they come (stderr, also under --quiet: they matter).
pub fn print_warnings(warnings: Vec<String>, summary: &mut Summary) {
    for w in warnings {
        eprintln!("roster: warning: {w}");
        summary.warnings.push(w);
    }
}

/// Exit code for a finished run: 0 when every row was fine, else 1.
pub fn rows_exit_code(s: &Summary) -> i32 {
    if s.rejected > 0 || s.failed > 0 {
        crate::cli::exit::ROWS
    } else {
        crate::cli::exit::OK
    }
}

pub fn started() -> Instant {
    Instant::now()
}

/// A readable output format from a path's extension.
pub fn output_format(path: &Path, explicit: Option<Format>) -> Result<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let s = path.to_string_lossy();
    match Format::detect(&s) {
        Some(Format::Ldap) | None => anyhow::bail!(
            "cannot tell the output format of {s} from its extension; use .csv, .tsv, .ldif or .jsonl (or --to)"
        ),
        Some(f) => Ok(f),
    }
}
