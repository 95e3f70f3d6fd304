//! `import`: push every checked row to the server through the executor, with the
//! report, the rejects, the dump and the resume journal.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::input::{self, Purpose};
use super::outputs::{self, Outputs};
use super::progress::{self, progress_from};
use crate::client::auth::Credentials;
use crate::client::connect::{self, Connected};
use crate::client::{Flavor, MatchKey, mattermost};
use crate::exec::actions::ActionOptions;
use crate::exec::journal::{self, Journal};
use crate::exec::{Engine, EngineOptions, Executor, Finished, JournalLink};
use crate::exit::{self, ExitError};
use crate::output::UserWriter;
use crate::pipeline::{Checked, Outcome, Pipeline, PipelineError};
use crate::plan::state::{Changes, Header, State, active_count};
use crate::report::Status;
use crate::secret::Secret;
use crate::settings::{ImportSettings, ReportSettings, ServerSettings, SourceSettings};
use crate::source::SourceOptions;
use crate::validate::Profile;

/// `roster import`: connects and logs in, reads the source (an LDAP source whole),
/// then writes.
pub fn import(
    source: &SourceSettings,
    server: &ServerSettings,
    run: &ImportSettings,
    reports: &ReportSettings,
) -> Result<i32> {
    let (connected, pipeline) = connect_and_open(source, server, run, Purpose::Import)?;
    execute(ImportRun {
        connected,
        pipeline,
        run,
        reports,
        base_dn: None,
        count: Some((source.spec.clone(), source.opts.clone())),
        action: None,
    })
}

/// Connects and logs in, then opens the source (an LDAP source is read whole): nothing
/// is written yet, so Ctrl-C stops at once.
pub(crate) fn connect_and_open(
    source: &SourceSettings,
    server: &ServerSettings,
    run: &ImportSettings,
    purpose: Purpose,
) -> Result<(Connected, Pipeline)> {
    crate::interrupt::nothing_written(|| -> Result<_> {
        let connected = connect::connect(server, run.exec.pacing())?;
        let profile = profile_of(connected.target.flavor());
        let pipeline = input::open(source, profile, purpose)
            .context("reading the source; nothing was written to the server")?;
        Ok((connected, pipeline))
    })
}

/// `roster demo`'s import: `input` (a CSV file) into the sandbox at `url` as the account
/// `username`, with the default settings.
pub fn demo_import(
    url: &str,
    flavor: Flavor,
    username: &str,
    password: Secret,
    input: &Path,
    run: &ImportSettings,
    reports: &ReportSettings,
) -> Result<i32> {
    let server = ServerSettings {
        url: Some(url.to_string()),
        flavor: Some(flavor),
        ..ServerSettings::default()
    };
    let creds = Credentials::Login {
        username: username.into(),
        password,
    };
    let connected = connect::connect_with(&server, run.exec.pacing(), &|_| Ok(creds.clone()))?;
    let spec = input.to_string_lossy().into_owned();
    let source = SourceSettings {
        spec: spec.clone(),
        ..SourceSettings::default()
    };
    let pipeline = input::open_pipeline(
        &spec,
        &SourceOptions::default(),
        crate::mapping::Mapping::new(&source.mapping, &source.maps)?,
        input::validator(&source, profile_of(flavor)),
        true,
    )?;
    execute(ImportRun {
        connected,
        pipeline,
        run,
        reports,
        base_dn: None,
        count: Some((spec, SourceOptions::default())),
        action: None,
    })
}

/// The validation rules of a server.
pub(crate) fn profile_of(flavor: Flavor) -> Profile {
    match flavor {
        Flavor::Rocketchat => Profile::Rocketchat,
        Flavor::Mattermost => Profile::Mattermost,
    }
}

/// Everything an import needs once connected.
struct ImportRun<'a> {
    connected: Connected,
    pipeline: Pipeline,
    run: &'a ImportSettings,
    reports: &'a ReportSettings,
    base_dn: Option<String>,
    /// The source again, to count its rows for the progress display.
    count: Option<(String, SourceOptions)>,
    /// `roster do`: the action, and a check of the whole source before the first write.
    action: Option<ActionRun<'a>>,
}

/// What `roster do` adds to an import run.
pub(crate) struct ActionRun<'a> {
    pub options: ActionOptions,
    /// Sees every row before any is run (a refusal writes nothing); `None`: rows stream.
    pub check: Option<&'a RowsCheck<'a>>,
}

/// A check of all the source's rows before the first write (`roster do delete`'s count).
pub(crate) type RowsCheck<'a> =
    dyn Fn(&Engine, &[Result<Checked, PipelineError>]) -> Result<()> + 'a;

/// `roster do`'s run: an import whose engine runs `action` on each matched account.
pub(crate) fn execute_action(
    connected: Connected,
    pipeline: Pipeline,
    run: &ImportSettings,
    reports: &ReportSettings,
    count: (String, SourceOptions),
    action: ActionRun<'_>,
) -> Result<i32> {
    execute(ImportRun {
        connected,
        pipeline,
        run,
        reports,
        base_dn: None,
        count: Some(count),
        action: Some(action),
    })
}

fn execute(r: ImportRun<'_>) -> Result<i32> {
    let started = Instant::now();
    let ImportRun {
        connected,
        mut pipeline,
        run,
        reports,
        base_dn,
        count,
        action,
    } = r;
    let target = connected.target.clone();
    let flavor = target.flavor();
    if run.resume && reports.report.is_none() {
        anyhow::bail!(
            "--resume needs the --report of the interrupted run (its journal is REPORT.journal)"
        );
    }
    let exec = run.exec;
    let workers = exec.workers;
    let match_key = run.write.match_key;
    let mode = run.write.mode;
    let state = match &run.state {
        Some(p) => Some(State::load(p, match_key)?),
        None => None,
    };
    let anchors = Arc::new(
        state
            .as_ref()
            .map(|s| s.anchors.clone())
            .unwrap_or_default(),
    );
    let engine = Engine::new(
        target.clone(),
        EngineOptions {
            mode,
            match_key,
            dry_run: run.dry_run,
            reactivate: true,
            max_attempts: exec.max_attempts,
            create: run.write.create.clone(),
            guard: run.write.guard.clone(),
            anchors,
            avatar_dir: count.as_ref().and_then(|(spec, _)| input::source_dir(spec)),
            action: action.as_ref().map(|a| a.options.clone()),
        },
    );

    let mut outs = Outputs::create(reports, &pipeline)?;
    // An LDAP source was read whole (spooled) when it was opened: a capped or broken
    // search has already stopped the run, with nothing written.
    let rows: Box<dyn Iterator<Item = Result<Checked, PipelineError>> + '_> =
        match action.as_ref().and_then(|a| a.check) {
            Some(check) => {
                let all: Vec<_> = pipeline.by_ref().collect();
                check(&engine, &all)?;
                Box::new(all.into_iter())
            }
            None => Box::new(pipeline.by_ref()),
        };

    let mut dump = outputs::open_dump(run.dump.as_deref(), base_dn)?;

    let mut done_keys = HashSet::new();
    let mut intents = HashSet::new();
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

    // After everything that can fail before the first row: a bar is cleared when dropped,
    // but it should not flash for a run that never starts. A resumed run counts the rows
    // the journal holds as done.
    let pb = progress_from(
        reports.quiet,
        "rows",
        done_keys.len() as u64,
        Some(connected.pacer.clone()),
    );
    if let Some((spec, opts)) = &count {
        outputs::count_rows_in_background(spec, opts, &pb);
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

    let mut changes = Changes::default();
    let ticking = AtomicBool::new(true);
    let mut sink_error: Option<anyhow::Error> = None;
    let mut journal_error: Option<anyhow::Error> = None;
    let end = std::thread::scope(|s| {
        let (pb2, pacer, ticking_ref) = (pb.bar(), connected.pacer.clone(), &ticking);
        let concurrency = connected.concurrency.clone();
        let ticker = s.spawn(move || {
            while ticking_ref.load(Ordering::Relaxed) {
                let msg = progress::status("rows", &pacer, &concurrency);
                pb2.set_message(msg);
                // Woken at the end: a sleep would hold the run up to its length.
                std::thread::park_timeout(Duration::from_millis(250));
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
        // One listing of the server instead of a lookup per row, when it costs less.
        let (filtered, listed) = super::lookups::with_known(&engine, filtered);
        let batch = if listed {
            1
        } else {
            batch_size(flavor, match_key)
        };
        let executor = Executor::new(engine.clone(), workers, batch);
        let end = executor.run(
            filtered,
            |f: &Finished| {
                pb.inc(1);
                if journal_error.is_none()
                    && let Err(e) = record_journal(f, journal.as_deref(), match_key)
                {
                    journal_error = Some(e);
                }
            },
            |f: Finished| {
                // What was done is true even when a report cannot be written: the ledger
                // learns it.
                changes.record(&f);
                if sink_error.is_some() {
                    return;
                }
                if let Outcome::Valid { user, .. } = &f.checked.outcome {
                    unsupported.extend(target.unsupported(&target.normalize(user)));
                }
                if let Err(e) = record(&f, &mut outs, &mut dump) {
                    sink_error = Some(e);
                }
            },
        );
        ticking.store(false, Ordering::Relaxed);
        ticker.thread().unpark();
        end
    });
    pb.finish_and_clear();
    if let (Some(path), Some(state), false) = (&run.state, state, run.dry_run) {
        // Whatever ended the run (an interruption, a report that cannot be written), what
        // it did is true: the ledger learns it.
        let header = state.header.clone().unwrap_or_default();
        let ledger = changes.apply_to(state.all_users());
        State::save(
            path,
            &Header {
                version: 1,
                written: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
                managed: active_count(&ledger),
                ..header
            },
            &ledger,
        )?;
    }
    if let Some(e) = journal_error.or(sink_error) {
        return Err(e);
    }
    let mut warnings = pipeline.take_warnings();
    warnings.extend(crate::client::unsupported_warning(flavor, &unsupported));
    warnings.extend(target.warnings());
    outputs::print_warnings(warnings, &mut outs.summary);
    if let Some(d) = dump {
        d.finish().context("cannot write the dump")?;
    }
    let mut summary = outs.finish()?;
    outputs::add_counters(&mut summary, &connected.http);
    let counts = &engine.members().counts;
    let added = counts.added.load(std::sync::atomic::Ordering::Relaxed);
    if added > 0 {
        summary.memberships = Some(crate::report::summary::MembershipCounts {
            added,
            requests: counts.calls.load(std::sync::atomic::Ordering::Relaxed),
        });
    }
    summary.set_elapsed(started.elapsed());
    if run.dry_run {
        summary
            .warnings
            .push("dry run: nothing was changed on the server".into());
    }
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        outputs::print_summary(&summary, reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    if let Some(e) = end.source_error {
        summary.stopped = Some(e.to_string());
        outputs::print_summary(&summary, reports)?;
        return Err(anyhow::Error::new(e)
            .context("reading the source; the rows before the error were imported"));
    }
    if end.interrupted {
        summary.stopped = Some(if reports.report.is_some() {
            "interrupted; run again with --resume to finish".into()
        } else {
            "interrupted".into()
        });
        outputs::print_summary(&summary, reports)?;
        return Ok(exit::INTERRUPTED);
    }
    outputs::print_summary(&summary, reports)?;
    Ok(outputs::rows_exit_code(&summary))
}

/// Writes a row's report entry, its rejects line and its dump record (in input order).
fn record(f: &Finished, outs: &mut Outputs, dump: &mut Option<Box<dyn UserWriter>>) -> Result<()> {
    outs.record(&f.done.entry, Some(&f.checked))?;
    if let (Some(d), Some(u)) = (dump.as_mut(), &f.done.server_user) {
        d.write(u).context("cannot write the dump")?;
    }
    Ok(())
}

/// Records a finished row in the journal as soon as it finishes, whatever the rows before
/// it: a run that dies while the row waits for its turn in the report still knows it.
fn record_journal(
    f: &Finished,
    journal: Option<&Mutex<Journal>>,
    match_key: MatchKey,
) -> Result<()> {
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
