//! `plan`, `sync` and the loop that applies planned rows (shared with `apply`): one
//! snapshot of the server, the source planned against it, then writes only for real
//! differences, under the deactivation guards.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::import::profile_of;
use super::input::{self, Purpose};
use super::outputs::{self, Outputs};
use super::progress::{progress, progress_from};
use crate::client::MatchKey;
use crate::client::connect::{self, Connected};
use crate::exec::anchors::Anchors;
use crate::exec::anchors::{anchor, same};
use crate::exec::{Engine, EngineOptions, Executor, Finished, Mode, RunEnd, Work};
use crate::exit::{self, ExitError};
use crate::model::User;
use crate::output::UserWriter;
use crate::plan::planner::{Pending, Plan, Planner, Snapshot, SyncOptions};
use crate::plan::state::{Changes, Header, Problems, State, active_count, drop_superseded};
use crate::report::Summary;
use crate::report::summary::{Adopted, FailOn};
use crate::settings::{ExecSettings, ReportSettings, ServerSettings, SourceSettings, SyncSettings};

/// A plan built against a live server, ready to print, save or apply.
pub(crate) struct Planned {
    pub connected: Connected,
    pub plan: Plan,
    pub pending: Vec<Pending>,
    pub outs: Outputs,
    /// Source-matched server users (for the state ledger).
    pub seen: Vec<User>,
    pub valid_rows: u64,
    pub state_path: Option<PathBuf>,
    pub match_key: MatchKey,
    pub warnings: Vec<String>,
    /// The ledger's anchors, for the engine that applies the plan.
    pub anchors: Arc<Anchors>,
    /// Rows rejected or failed while planning, and the last sync's (`--fail-on new`).
    pub problems: Problems,
    pub last_problems: HashSet<String>,
}

/// What `plan` and `sync` read their plan from.
pub(crate) struct PlanInputs<'a> {
    pub source: &'a SourceSettings,
    pub server: &'a ServerSettings,
    pub sync: &'a SyncSettings,
    pub exec: &'a ExecSettings,
    pub reports: &'a ReportSettings,
}

/// Reads the server snapshot and the source and plans the sync.
pub(crate) fn build_plan(i: PlanInputs<'_>) -> Result<Planned> {
    let PlanInputs {
        source,
        server,
        sync,
        exec,
        reports,
    } = i;
    let spec = &source.spec;
    let connected = connect::connect(server, exec.pacing())?;
    let target = connected.target.clone();
    let profile = profile_of(target.flavor());
    let match_key = sync.write.match_key;
    let state_path = sync.state.clone();
    let mut warnings = sync.warnings.clone();
    let mut state = match &state_path {
        Some(p) => State::load(p, match_key)?,
        None => State::default(),
    };
    let opts = SyncOptions {
        deactivate_missing: sync.deactivate_missing,
        threshold: sync.threshold,
        force: sync.force,
        scope: sync.manage.clone(),
        manage_teams: sync.manage_teams.clone(),
        manage_channels: sync.manage_channels.clone(),
        remove_memberships_on_deactivate: sync.remove_memberships_on_deactivate,
        ledger: sync.state.is_some(),
    };
    if opts.deactivate_missing && !state.manages_anyone() && opts.scope.is_empty() {
        warnings.push(
            "--deactivate-missing: no user is managed yet (no --state ledger, no --manage), so nobody missing is deactivated; this run's --state will start the ledger".to_string(),
        );
    }
    let reactivate = sync.reactivate;
    let anchors = Arc::new(state.anchors.clone());
    let planning = Engine::new(
        target.clone(),
        EngineOptions {
            mode: sync.write.mode,
            match_key,
            dry_run: true,
            reactivate,
            max_attempts: 1,
            create: sync.write.create.clone(),
            guard: sync.write.guard.clone(),
            anchors: anchors.clone(),
            avatar_dir: input::source_dir(&source.spec),
            action: None,
        },
    );

    let pb = progress(reports.quiet, "server users read");
    let snapshot = Snapshot::take(target.as_ref(), match_key, |n| pb.set_position(n as u64))
        .map_err(|e| ExitError::new(exit::USAGE, format!("reading the server's users: {e}")))?;
    pb.finish_and_clear();

    let mut pipeline = input::open(source, profile, Purpose::Stream)?;
    let mut outs = Outputs::create(reports, &pipeline)?;
    let server_url = server.url.clone().unwrap_or_default();
    let mut planner = Planner::new(&planning, &snapshot, &state, opts, &server_url, spec);
    let pb = progress(reports.quiet, "rows planned");
    let mut problems = Problems::default();
    let mut unsupported = std::collections::BTreeSet::new();
    // Rows final now wait in `outs` for the changes applied before them: the report
    // lists the source's rows in input order, then the server's users missing from it.
    for (seq, item) in (0u64..).zip(pipeline.by_ref()) {
        // A source that fails (an LDAP search cut short) stops everything: nothing has
        // been written, and nobody is deactivated on a partial list.
        let c = item.map_err(|e| {
            anyhow::Error::new(e).context("reading the source; nothing was written to the server")
        })?;
        if let crate::pipeline::Outcome::Valid { user, .. } = &c.outcome {
            unsupported.extend(target.unsupported(&target.normalize(user)));
        }
        if let Some(entry) = planner.add(c.clone()) {
            problems.record(&entry, Some(&c));
            outs.hold(seq, entry, Some(&c));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    for w in pipeline.take_warnings() {
        warnings.push(w);
    }
    warnings.extend(crate::client::unsupported_warning(
        target.flavor(),
        &unsupported,
    ));
    warnings.extend(target.warnings());
    for (seq, e) in planner.finish() {
        outs.hold(seq, e, None);
    }
    let seen: Vec<User> = planner.ledger_users().collect();
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
        anchors,
        problems,
        last_problems: std::mem::take(&mut state.problems),
    })
}

/// What `roster sync` does with its plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncRun {
    /// Apply it (unless a guard refuses).
    Apply,
    /// Print it and write nothing (`--check`, `--dry-run`).
    Check,
    /// Write nothing to the server; start the `--state` ledger from the accounts the
    /// source matches, each tied to its anchor (`--adopt`).
    Adopt,
}

/// `roster sync`: plan, then apply, check or adopt (see [`SyncRun`]).
pub fn sync(
    source: &SourceSettings,
    server: &ServerSettings,
    sync: &SyncSettings,
    exec: &ExecSettings,
    run: SyncRun,
    dump: Option<&Path>,
    reports: &ReportSettings,
) -> Result<i32> {
    let started = Instant::now();
    if sync.fail_on == FailOn::New && sync.state.is_none() {
        return Err(ExitError::new(
            exit::USAGE,
            "--fail-on new tells new problems from those of the last sync, which the --state ledger remembers: give --state FILE",
        )
        .into());
    }
    if run == SyncRun::Adopt {
        return adopt(source, server, sync, exec, reports);
    }
    let check = run == SyncRun::Check;
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
        anchors,
        mut problems,
        last_problems,
    } = // Connecting, reading the server and planning write nothing to the server: Ctrl-C
    // stops at once (an LDAP search or a snapshot page cannot be cut short otherwise).
    crate::interrupt::nothing_written(|| {
        build_plan(PlanInputs {
            source,
            server,
            sync,
            exec,
            reports,
        })
    })?;
    outputs::print_warnings(warnings, &mut outs.summary);
    let only_plan = check;
    if !reports.quiet || only_plan {
        eprint!("{}", crate::plan::render::render(&plan));
    }
    if only_plan {
        if dump.is_some() {
            eprintln!(
                "roster: warning: --dump: nothing is written under --check or --dry-run, so no dump either (`roster export` writes the server's users)"
            );
        }
        // The report says what would be done to every row, as `roster plan`'s does.
        for p in &pending {
            outs.record_at(p.seq, &p.entry, Some(&p.work.checked))?;
        }
        let mut summary = outs.finish()?;
        outputs::add_counters(&mut summary, &connected.http);
        if state_path.is_some() {
            summary.problems = Some(problems.against(&last_problems));
        }
        summary.set_elapsed(started.elapsed());
        if reports.json {
            outputs::stdout_line(&serde_json::to_string_pretty(&plan)?)?;
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
        outputs::add_counters(&mut summary, &connected.http);
        summary.stopped = Some(format!("refused: {why}"));
        summary.set_elapsed(started.elapsed());
        outputs::print_summary(&summary, reports)?;
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
            reactivate: sync.reactivate,
            max_attempts: exec.max_attempts,
            create: plan.create.clone(),
            guard: plan.guard.clone(),
            anchors,
            avatar_dir: input::source_dir(&source.spec),
            action: None,
        },
    ));
    let mut changes = Changes::default();
    let applied = apply_works(
        &connected,
        engine,
        pending.into_iter().map(|p| (p.seq, p.work)),
        exec.workers,
        outs,
        dump,
        reports.quiet,
        &mut changes,
    );
    let finished = matches!(&applied, Ok(a) if a.end.fatal.is_none() && !a.end.interrupted);
    if let Ok(a) = &applied {
        problems.extend_from(&a.problems);
    }
    if let Some(p) = &state_path {
        // The ledger learns what the run did however it ended (interrupted, stopped, a
        // report that could not be written): those writes were made. A run that did not
        // finish (and may have shown no summary) keeps the last sync's problems as they
        // were: tonight's stay new for the next run.
        let ledger = changes.apply_to(seen);
        let keys = if finished {
            problems.keys()
        } else {
            let mut k: Vec<String> = last_problems.iter().cloned().collect();
            k.sort();
            k
        };
        let header = Header {
            version: 1,
            server: plan.server.clone(),
            written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            source_rows: valid_rows,
            managed: active_count(&ledger),
            problems: keys,
        };
        State::save(p, &header, &ledger)?;
    }
    let Applied {
        mut summary, end, ..
    } = applied?;
    if state_path.is_some() {
        summary.problems = Some(problems.against(&last_problems));
    }
    summary.set_elapsed(started.elapsed());
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        outputs::print_summary(&summary, reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    if end.interrupted {
        summary.stopped = Some(
            "interrupted; run the sync again to finish (it only does what is still different)"
                .into(),
        );
        outputs::print_summary(&summary, reports)?;
        return Ok(exit::INTERRUPTED);
    }
    if let Some(why) = &plan.deactivations_refused {
        summary.stopped = Some(format!("deactivations refused: {why}"));
        outputs::print_summary(&summary, reports)?;
        return Err(ExitError::new(
            exit::GUARD,
            format!("deactivations refused (creates and updates were applied): {why}"),
        )
        .into());
    }
    outputs::print_summary(&summary, reports)?;
    Ok(match (sync.fail_on, &summary.problems) {
        // Known problems are reported, not alerted on.
        (FailOn::New, Some(p)) if p.new == 0 => exit::OK,
        _ => outputs::rows_exit_code(&summary),
    })
}

/// `roster sync --adopt`: the ledger started from the accounts the source matches by the
/// `--match` key, each tied to its anchor; nothing is written to the server. In a ledger
/// there already, the matched accounts take the source's anchors (the source's anchor
/// attribute may have changed, the reason to adopt again); its other accounts stay
/// managed, and its known problems stay known.
fn adopt(
    source: &SourceSettings,
    server: &ServerSettings,
    sync: &SyncSettings,
    exec: &ExecSettings,
    reports: &ReportSettings,
) -> Result<i32> {
    let started = Instant::now();
    let Some(path) = sync.state.clone() else {
        return Err(ExitError::new(
            exit::USAGE,
            "--adopt writes the --state ledger: give --state FILE",
        )
        .into());
    };
    let fresh = SyncSettings {
        state: None,
        deactivate_missing: false,
        ..sync.clone()
    };
    let Planned {
        connected,
        plan,
        pending,
        mut outs,
        seen,
        valid_rows,
        warnings,
        ..
    } = crate::interrupt::nothing_written(|| {
        build_plan(PlanInputs {
            source,
            server,
            sync: &fresh,
            exec,
            reports,
        })
    })?;
    if valid_rows == 0 {
        // An empty ledger would make the next sync manage nobody, or forget whom it did.
        return Err(ExitError::new(
            exit::GUARD,
            "--adopt refused: the source has no valid rows, so there is nothing to adopt (check the file or the LDAP filter); the ledger was not written",
        )
        .into());
    }
    outputs::print_warnings(warnings, &mut outs.summary);
    // The report says what a sync would do next, as --check's does, in input order.
    for p in &pending {
        outs.record_at(p.seq, &p.entry, Some(&p.work.checked))?;
    }
    let old = State::load(&path, plan.match_key)?;
    let old_anchors = old.anchors.clone();
    let mut old_problems: Vec<String> = old.problems.iter().cloned().collect();
    old_problems.sort();
    let idless = old.users_without_id();
    let was = |u: &User| u.id.as_deref().and_then(|id| old_anchors.anchor_of(id));
    let other = |u: &User| was(u).is_some_and(|w| !anchor(u).is_some_and(|n| same(w, n)));
    let tonight: HashSet<String> = seen
        .iter()
        .filter_map(|u| anchor(u).map(str::to_lowercase))
        .collect();
    let mut old_lines: HashMap<String, User> = old
        .all_users()
        .filter_map(|u| Some((u.id.clone()?, u)))
        .collect();
    // An account the old ledger ties to another person than tonight's row stays theirs
    // when that person is still around (their anchor is on another row tonight) or left
    // (the account is deactivated): a reused username never takes a leaver's account.
    // Otherwise (an active account whose anchor is nowhere tonight) the source's anchor
    // attribute changed, and the account takes the row's anchor.
    let mut held = 0u64;
    let seen: Vec<User> = seen
        .into_iter()
        .map(|u| {
            let keep = other(&u)
                && (u.active == Some(false)
                    || was(&u).is_some_and(|w| tonight.contains(&w.to_lowercase())));
            match u
                .id
                .as_deref()
                .and_then(|id| old_lines.get(id))
                .filter(|_| keep)
            {
                Some(line) => {
                    held += 1;
                    line.clone()
                }
                None => u,
            }
        })
        .collect();
    let reanchored = seen.iter().filter(|u| other(u)).count() as u64;
    let matched: HashSet<String> = seen.iter().filter_map(|u| u.id.clone()).collect();
    let tied: HashSet<String> = seen
        .iter()
        .filter_map(|u| anchor(u).map(str::to_lowercase))
        .collect();
    // The old ledger's accounts no valid row matched stay as they were, with their
    // anchors (a missing person is still deactivated by the next sync; a person whose row
    // is rejected tonight keeps theirs), except an anchor now tied to another account:
    // it moves. Id-less lines of accounts the source matched go.
    old_lines.retain(|id, _| !matched.contains(id));
    let mut ledger = seen.clone();
    let mut rest: Vec<User> = old_lines.into_values().collect();
    rest.sort_by(|a, b| a.username.cmp(&b.username));
    ledger.extend(idless.into_iter().chain(rest).map(|mut u| {
        if anchor(&u).is_some_and(|a| tied.contains(&a.to_lowercase())) {
            u.external_id = None;
        }
        u
    }));
    drop_superseded(&mut ledger);
    let anchored = seen.iter().filter(|u| anchor(u).is_some()).count();
    let header = Header {
        version: 1,
        server: plan.server.clone(),
        written: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        source_rows: valid_rows,
        managed: active_count(&ledger),
        problems: old_problems,
    };
    State::save(&path, &header, &ledger)?;
    let mut summary = outs.finish()?;
    outputs::add_counters(&mut summary, &connected.http);
    summary.set_elapsed(started.elapsed());
    summary.adopted = Some(Adopted {
        ledger: path.display().to_string(),
        accounts: seen.len() as u64,
        anchored: anchored as u64,
        reanchored,
        held,
        kept: (ledger.len() - seen.len()) as u64,
    });
    outputs::print_summary(&summary, reports)?;
    Ok(outputs::rows_exit_code(&summary))
}

/// What applying a plan's rows left: the summary, how the run ended, and what it did
/// to each user, for the ledger.
pub(crate) struct Applied {
    pub summary: Summary,
    pub end: RunEnd,
    /// Rows that failed.
    pub problems: Problems,
}

/// Runs planned rows through the executor, writing the report, rejects and dump. Each
/// work comes with its place in the report (increasing), after the entries `outs` holds
/// for the places before it. What each row did goes into `changes` whatever else fails
/// (a report that cannot be written): the writes were made, and the ledger must learn them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_works(
    connected: &Connected,
    engine: Arc<Engine>,
    works: impl Iterator<Item = (u64, Work)>,
    workers: usize,
    mut outs: Outputs,
    dump_path: Option<&Path>,
    quiet: bool,
    changes: &mut Changes,
) -> Result<Applied> {
    let mut dump = outputs::open_dump(dump_path, None)?;
    let mut problems = Problems::default();
    let mut sink_error = None;
    let (places, works): (Vec<u64>, Vec<Work>) = works.unzip();
    let pb = progress_from(quiet, "changes applied", 0, Some(connected.pacer.clone()));
    pb.bar().set_total(works.len() as u64);
    let end = Executor::new(engine, workers, 1).run(
        works.into_iter().map(Ok),
        |_: &Finished| pb.inc(1),
        |f: Finished| {
            changes.record(&f);
            if sink_error.is_some() {
                return;
            }
            let place = usize::try_from(f.seq)
                .ok()
                .and_then(|i| places.get(i).copied())
                .unwrap_or(u64::MAX);
            if let Err(e) = record_applied(&f, place, &mut outs, &mut dump, &mut problems) {
                sink_error = Some(e);
            }
        },
    );
    pb.finish_and_clear();
    if let Some(e) = sink_error {
        return Err(e);
    }
    if let Some(d) = dump {
        d.finish().context("cannot write the dump")?;
    }
    let mut summary = outs.finish()?;
    outputs::add_counters(&mut summary, &connected.http);
    Ok(Applied {
        summary,
        end,
        problems,
    })
}

/// Writes an applied row's outcome.
fn record_applied(
    f: &Finished,
    place: u64,
    outs: &mut Outputs,
    dump: &mut Option<Box<dyn UserWriter>>,
    problems: &mut Problems,
) -> Result<()> {
    problems.record(&f.done.entry, Some(&f.checked));
    outs.record_at(place, &f.done.entry, Some(&f.checked))?;
    if let (Some(d), Some(u)) = (dump.as_mut(), &f.done.server_user) {
        d.write(u).context("cannot write the dump")?;
    }
    Ok(())
}
