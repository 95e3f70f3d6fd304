//! `roster sync`: bring a server in line with a source: plan, then apply.
//!
//! ```text
//! roster sync SOURCE --server URL [--deactivate-missing] [--max-deactivate N|P%] [--force]
//!             [--check] [--state FILE] [--reactivate] [--protect USER,...] [--scope EXPR]
//!             [--workers N] [--rate CALLS/PERIOD] [--report FILE] [--rejects FILE] [--dump FILE]
//! ```
//! One snapshot of the server (paged at its maximum), then writes only for real
//! differences: a night where nothing changed costs ⌈users / page size⌉ reads and no
//! writes. Deactivates, never deletes, and only users roster manages (the `--state`
//! ledger or `--scope`); never admins, bots, apps, itself or `--protect`. Refuses
//! (exit 4, nothing written) when deactivations exceed the threshold, when the source
//! is empty, or when it shrank by more than the threshold since the last run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::import::{Connected, ServerArgs, connect};
use super::shared::{self, ExecSettings};
use crate::cli::common::{CreateArgs, ExecArgs, GuardArgs, InputArgs, MappingArgs, ReportArgs};
use crate::cli::{ExitError, exit};
use crate::config::JobConfig;
use crate::exec::{Engine, EngineOptions, Executor, Finished, Mode, RunEnd, Work};
use crate::model::User;
use crate::output::{self, UserWriter, WriterOptions};
use crate::plan::state::{Header, State};
use crate::plan::sync::{Plan, Planner, Scope, Snapshot, SyncOptions, Threshold};
use crate::report::{Action, Status, Summary};
use crate::target::MatchKey;

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

#[derive(clap::Args, Debug)]
#[command(after_help = "Credentials: as for `roster import`.

A sync needs no --resume: run it again and it does only what is still different.

Examples:
  roster sync 'ldap://dc1/ou=people,dc=corp?uid,mail,cn' --server https://chat.example.org \\
      --deactivate-missing --state sync-state.jsonl --report nightly.csv
  roster sync hr.csv --server https://mm.example.org --check     # exit 3 when changes are pending")]
pub struct Args {
    /// Input: a .csv/.tsv/.ldif/.jsonl file, `-` for stdin, or an ldap:// URL.
    pub source: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Plan only: exit 3 when changes are pending, 0 when the server is in sync.
    #[arg(help_heading = "Run", long)]
    pub check: bool,
    /// Write nothing: the same as --check (print the plan, report what would be done,
    /// exit 3 when changes are pending).
    #[arg(help_heading = "Run", long)]
    pub dry_run: bool,
    /// The users as the server now holds them after the sync (with ids), mode 0600.
    #[arg(help_heading = "Run", long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Deprecated, no effect (a sync always resumes: it does only what is still different).
    #[arg(help_heading = "Run", long, hide = true)]
    pub resume: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// A plan built against a live server, ready to print, save or apply.
pub struct Planned {
    pub connected: Connected,
    pub plan: Plan,
    pub pending: Vec<crate::plan::sync::Pending>,
    pub outs: shared::Outputs,
    /// Source-matched server users (for the state ledger).
    pub seen: Vec<User>,
    pub valid_rows: u64,
    pub state_path: Option<PathBuf>,
    pub match_key: MatchKey,
    pub warnings: Vec<String>,
}

/// What `plan` and `sync` read their plan from.
pub struct PlanInputs<'a> {
    pub source: Option<&'a str>,
    pub server: &'a ServerArgs,
    pub sync: &'a SyncArgs,
    pub exec: &'a ExecSettings,
    pub input: &'a InputArgs,
    pub mapping: &'a MappingArgs,
    pub reports: &'a ReportArgs,
    pub job: &'a JobConfig,
}

/// Reads the server snapshot and the source and plans the sync.
pub fn build_plan(i: PlanInputs<'_>) -> Result<Planned> {
    let PlanInputs {
        source,
        server,
        sync,
        exec,
        input,
        mapping,
        reports,
        job,
    } = i;
    let spec = shared::source_spec(source, job)?;
    let connected = connect(server, exec, job)?;
    let target = connected.target.clone();
    let profile = super::import::profile_of(target.flavor());
    let match_key = sync.match_key.or(job.import.match_key).unwrap_or_default();
    let state_path = sync.state.clone().or_else(|| job.sync.state.clone());
    let mut warnings = Vec::new();
    let manage = manage_scopes(sync, input, job, &mut warnings)?;
    let state = match &state_path {
        Some(p) => State::load(p, match_key)?,
        None => State::default(),
    };
    let opts = SyncOptions {
        deactivate_missing: sync.deactivate_missing || job.sync.deactivate_missing.unwrap_or(false),
        threshold: match (&sync.max_deactivate, &job.sync.max_deactivate) {
            (Some(t), _) => *t,
            (None, Some(s)) => s
                .parse()
                .map_err(|e: String| anyhow::anyhow!("job file [sync] max_deactivate: {e}"))?,
            (None, None) => Threshold::Default,
        },
        force: sync.force,
        scope: manage,
    };
    if opts.deactivate_missing && state.managed.is_empty() && opts.scope.is_empty() {
        warnings.push(
            "--deactivate-missing: no user is managed yet (no --state ledger, no --manage), so nobody missing is deactivated; this run's --state will start the ledger".to_string(),
        );
    }
    let reactivate = sync.reactivate || job.sync.reactivate.unwrap_or(false);
    let planning = Engine::new(
        target.clone(),
        EngineOptions {
            mode: sync.mode.or(job.import.mode).unwrap_or_default(),
            match_key,
            dry_run: true,
            reactivate,
            max_attempts: 1,
            create: shared::create_options(&sync.create, job),
            guard: shared::write_guard(&sync.guard, job),
        },
    );

    let pb = shared::progress(reports.quiet, "server users read");
    let snapshot = Snapshot::take(target.as_ref(), match_key, |n| pb.set_position(n as u64))
        .map_err(|e| ExitError::new(exit::USAGE, format!("reading the server's users: {e}")))?;
    pb.finish_and_clear();

    let mut pipeline = shared::Input::open(
        job.clone(),
        Some(&spec),
        input,
        mapping,
        &server.tls,
        profile,
        shared::Purpose::Sync,
    )?
    .pipeline;
    let mut outs = shared::Outputs::create(reports, &pipeline)?;
    let server_url = server
        .server
        .clone()
        .or_else(|| job.server.url.clone())
        .unwrap_or_default();
    let mut planner = Planner::new(&planning, &snapshot, &state, opts, &server_url, &spec);
    let pb = shared::progress(reports.quiet, "rows planned");
    let mut unsupported = std::collections::BTreeSet::new();
    for item in pipeline.by_ref() {
        // A source that fails (an LDAP search cut short) stops everything: nothing has
        // been written, and nobody is deactivated on a partial list.
        let c = item.map_err(|e| {
            anyhow::Error::new(e).context("reading the source; nothing was written to the server")
        })?;
        if let crate::pipeline::Outcome::Valid { user, .. } = &c.outcome {
            unsupported.extend(target.unsupported(&target.normalize(user)));
        }
        if let Some(entry) = planner.add(c.clone()) {
            outs.record(&entry, Some(&c))?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    for w in pipeline.take_warnings() {
        warnings.push(w);
    }
    warnings.extend(crate::target::unsupported_warning(
        target.flavor(),
        &unsupported,
    ));
    warnings.extend(target.warnings());
    for e in planner.finish() {
        outs.record(&e, None)?;
    }
    let mut seen: Vec<User> = planner.seen_users().cloned().collect();
    seen.append(&mut planner.kept);
    let valid_rows = planner.valid_rows();
    let pending = std::mem::take(&mut planner.pending);
    let plan = planner.plan.clone();
    Ok(Planned {
        connected,
        plan,
        pending,
        outs,
        seen,
        valid_rows,
        state_path,
        match_key,
        warnings,
    })
}

/// The server users a sync manages besides its ledger: `--manage` (and `[sync] manage`),
/// plus the deprecated sync meaning of `--scope` and `[sync] scope`, with a warning.
fn manage_scopes(
    sync: &SyncArgs,
    input: &InputArgs,
    job: &JobConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<Scope>> {
    let parse = |v: &String, what: &str| {
        v.parse::<Scope>()
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    let mut out = Vec::new();
    for v in &sync.manage {
        out.push(parse(v, "--manage")?);
    }
    let old = crate::cli::common::split_scopes(&input.ldap.scope).1;
    for v in &old {
        warnings.push(format!(
            "--scope {v}: management scopes are now --manage {v}; --scope will keep only its LDAP meaning (base, one, sub) in the next release"
        ));
        out.push(parse(v, "--scope")?);
    }
    if out.is_empty() {
        for v in job.sync.manage.iter().flatten() {
            out.push(parse(v, "job file [sync] manage")?);
        }
        if let Some(v) = &job.sync.scope {
            warnings.push(
                "job file [sync] scope is now [sync] manage (a list); scope will be removed in the next release".into(),
            );
            out.push(parse(v, "job file [sync] scope")?);
        }
    }
    Ok(out)
}

/// The plan in words, for people: counts, then each change.
pub fn render_plan(plan: &Plan) -> String {
    let mut s = format!(
        "Plan for {} ({}), source {}: {} rows\n  create      {:>7}\n  update      {:>7}\n  deactivate  {:>7}\n  unchanged   {:>7}\n  skipped     {:>7}\n  rejected    {:>7}\n",
        plan.server,
        plan.flavor,
        plan.source,
        plan.source_rows,
        plan.creates.len(),
        plan.updates.len(),
        plan.deactivations.len(),
        plan.unchanged,
        plan.skipped,
        plan.rejected,
    );
    let mut reasons: Vec<(&String, &u64)> = plan.reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (k, v) in reasons.iter().take(20) {
        s.push_str(&format!("    {v:>9}  {k}\n"));
    }
    if reasons.len() > 20 {
        s.push_str(&format!("    ... and {} more kinds\n", reasons.len() - 20));
    }
    s.push_str(&format!(
        "  held inactive {:>5}\n  managed users on the server: {}\n",
        plan.held_inactive.len(),
        plan.managed
    ));
    if !plan.creates.is_empty() {
        s.push_str("\nCreates:\n");
        for i in &plan.creates {
            s.push_str(&format!(
                "  + {}  <{}>  ({})\n",
                i.username, i.email, i.origin
            ));
        }
    }
    if !plan.updates.is_empty() {
        s.push_str("\nUpdates:\n");
        for i in &plan.updates {
            s.push_str(&format!("  ~ {}  ({})\n", i.username, i.origin));
            for c in &i.changes {
                s.push_str(&format!("      {}: {:?} → {:?}\n", c.field, c.old, c.new));
            }
        }
    }
    if !plan.deactivations.is_empty() {
        s.push_str("\nDeactivations:\n");
        for i in &plan.deactivations {
            s.push_str(&format!(
                "  - {}  <{}>  ({})\n",
                i.username,
                i.email,
                i.reason.as_deref().unwrap_or("")
            ));
        }
    }
    if !plan.held_inactive.is_empty() {
        s.push_str("\nHeld inactive (deactivated on the server, active in the source; --reactivate to change):\n");
        for i in &plan.held_inactive {
            s.push_str(&format!("  ! {}  ({})\n", i.username, i.origin));
        }
    }
    if let Some(r) = &plan.refused {
        s.push_str(&format!("\nREFUSED: {r}\n"));
    }
    if let Some(r) = &plan.deactivations_refused {
        s.push_str(&format!("\nDEACTIVATIONS REFUSED: {r}\n"));
    }
    s
}

pub fn run(args: Args) -> Result<i32> {
    crate::interrupt::install();
    let started = shared::started();
    if args.resume {
        eprintln!(
            "roster: warning: --resume has no effect on sync and will be removed: a sync run again does only what is still different"
        );
    }
    let job = shared::load_job(&args.mapping)?;
    shared::server_files(
        Some(&shared::source_spec(args.source.as_deref(), &job)?),
        args.mapping.config.as_deref(),
        &job,
        &args.server,
    )
    .read_write(
        "--state",
        args.sync.state.as_deref().or(job.sync.state.as_deref()),
    )
    .reports(&args.reports)
    .write("--dump", args.dump.as_deref())
    .guard()?;
    let exec = ExecSettings::resolve(&args.exec, &job)?;
    let Planned {
        connected,
        plan,
        pending,
        mut outs,
        seen,
        valid_rows,
        state_path,
        match_key,
        warnings,
    } = // Connecting, reading the server and planning write nothing to the server: Ctrl-C
    // stops at once (an LDAP search or a snapshot page cannot be cut short otherwise).
    crate::interrupt::nothing_written(|| build_plan(PlanInputs {
        source: args.source.as_deref(),
        server: &args.server,
        sync: &args.sync,
        exec: &exec,
        input: &args.input,
        mapping: &args.mapping,
        reports: &args.reports,
        job: &job,
    }))?;
    shared::print_warnings(warnings, &mut outs.summary);
    let only_plan = args.check || args.dry_run;
    if !args.reports.quiet || only_plan {
        eprint!("{}", render_plan(&plan));
    }
    if only_plan {
        if args.dump.is_some() {
            eprintln!(
                "roster: warning: --dump: nothing is written under --check or --dry-run, so no dump either (`roster export` writes the server's users)"
            );
        }
        // The report says what would be done to every row, as `roster plan`'s does.
        for p in &pending {
            outs.record(&p.entry, Some(&p.work.checked))?;
        }
        let mut summary = outs.finish()?;
        shared::add_counters(&mut summary, &connected.http);
        summary.set_elapsed(started.elapsed());
        if args.reports.json {
            shared::stdout_line(&serde_json::to_string_pretty(&plan)?)?;
        }
        if let Some(why) = plan.refusal() {
            return Err(ExitError::new(exit::GUARD, format!("sync refused: {why}")).into());
        }
        return Ok(if plan.pending() > 0 {
            exit::PENDING
        } else {
            exit::OK
        });
    }
    if let Some(why) = &plan.refused {
        let mut summary = outs.finish()?;
        shared::add_counters(&mut summary, &connected.http);
        summary.stopped = Some(format!("refused: {why}"));
        summary.set_elapsed(started.elapsed());
        shared::print_summary(&summary, &args.reports)?;
        return Err(ExitError::new(
            exit::GUARD,
            format!("sync refused, nothing was written: {why}"),
        )
        .into());
    }

    let engine = Arc::new(Engine::new(
        connected.target.clone(),
        EngineOptions {
            mode: Mode::Upsert,
            match_key,
            dry_run: false,
            reactivate: args.sync.reactivate || job.sync.reactivate.unwrap_or(false),
            max_attempts: exec.max_attempts,
            create: plan.create.clone(),
            guard: plan.guard.clone(),
        },
    ));
    let Applied {
        mut summary,
        end,
        mut results,
    } = apply_works(
        &connected,
        engine,
        pending.into_iter().map(|p| p.work),
        exec.workers,
        outs,
        args.dump.as_ref(),
        args.reports.quiet,
    )?;
    summary.set_elapsed(started.elapsed());
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        shared::print_summary(&summary, &args.reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    if end.interrupted {
        summary.stopped = Some(
            "interrupted; run the sync again to finish (it only does what is still different)"
                .into(),
        );
        shared::print_summary(&summary, &args.reports)?;
        return Ok(exit::INTERRUPTED);
    }
    if let Some(p) = &state_path {
        // The ledger: every source user now on the server, as it now is.
        let target = connected.target.clone();
        let mut ledger: Vec<User> = Vec::new();
        for u in &seen {
            let key = match_key.of(&target.normalize(u)).unwrap_or_default();
            match results.remove(&key) {
                Some(Some(after)) => ledger.push(after),
                Some(None) => {}
                None => ledger.push(u.clone()),
            }
        }
        ledger.extend(results.into_values().flatten());
        ledger.retain(|u| u.active != Some(false));
        let header = Header {
            version: 1,
            server: plan.server.clone(),
            written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            source_rows: valid_rows,
            managed: ledger.len() as u64,
        };
        State::save(p, &header, &ledger)?;
    }
    if let Some(why) = &plan.deactivations_refused {
        summary.stopped = Some(format!("deactivations refused: {why}"));
        shared::print_summary(&summary, &args.reports)?;
        return Err(ExitError::new(
            exit::GUARD,
            format!("deactivations refused (creates and updates were applied): {why}"),
        )
        .into());
    }
    shared::print_summary(&summary, &args.reports)?;
    Ok(shared::rows_exit_code(&summary))
}

/// What applying a plan's rows left: the summary, how the run ended, and each
/// touched user as the server now holds it (None once deactivated), by match key.
pub struct Applied {
    pub summary: Summary,
    pub end: RunEnd,
    pub results: HashMap<String, Option<User>>,
}

/// Runs planned rows through the executor, writing the report, rejects and dump.
pub fn apply_works(
    connected: &Connected,
    engine: Arc<Engine>,
    works: impl Iterator<Item = Work>,
    workers: usize,
    mut outs: shared::Outputs,
    dump_path: Option<&PathBuf>,
    quiet: bool,
) -> Result<Applied> {
    let match_key = engine.options().match_key;
    let mut dump = open_dump(dump_path)?;
    let mut results = HashMap::new();
    let mut sink_error = None;
    let pb = shared::progress(quiet, "changes applied");
    let end = Executor::new(engine, workers, 1).run(works.map(Ok), |f: Finished| {
        if sink_error.is_some() {
            return;
        }
        pb.inc(1);
        if let Err(e) = record_applied(
            &f,
            &mut outs,
            &mut dump,
            &mut results,
            match_key,
            connected.target.as_ref(),
        ) {
            sink_error = Some(e);
        }
    });
    pb.finish_and_clear();
    if let Some(e) = sink_error {
        return Err(e);
    }
    if let Some(d) = dump {
        d.finish().context("cannot write the dump")?;
    }
    let mut summary = outs.finish()?;
    shared::add_counters(&mut summary, &connected.http);
    Ok(Applied {
        summary,
        end,
        results,
    })
}

pub fn open_dump(path: Option<&PathBuf>) -> Result<Option<Box<dyn UserWriter>>> {
    match path {
        Some(p) => {
            let f = shared::output_format(p, None)?;
            Ok(Some(
                output::create(
                    p,
                    f,
                    &WriterOptions {
                        base_dn: None,
                        excel: false,
                        private: true,
                    },
                )
                .with_context(|| format!("cannot create dump {}", p.display()))?,
            ))
        }
        None => Ok(None),
    }
}

/// Writes an applied row's outcome and remembers the user as the server now holds it.
pub fn record_applied(
    f: &Finished,
    outs: &mut shared::Outputs,
    dump: &mut Option<Box<dyn UserWriter>>,
    results: &mut HashMap<String, Option<User>>,
    match_key: MatchKey,
    target: &dyn crate::target::Target,
) -> Result<()> {
    outs.record(&f.done.entry, Some(&f.checked))?;
    if let (Some(d), Some(u)) = (dump.as_mut(), &f.done.server_user) {
        d.write(u).context("cannot write the dump")?;
    }
    if let Some(u) = f.checked.user() {
        let key = match_key.of(&target.normalize(u)).unwrap_or_default();
        let after = match (&f.done.entry.status, f.done.entry.action) {
            (Status::Ok, Action::Deactivate) => None,
            (Status::Ok, _) => f.done.server_user.clone(),
            _ => return Ok(()),
        };
        results.insert(key, after);
    }
    Ok(())
}
