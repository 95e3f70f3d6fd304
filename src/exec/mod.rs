//! Executor: a pool of workers behind one pacer per server bucket.
//!
//! The calling thread reads checked rows and feeds a bounded channel (memory stays flat
//! however large the input); N workers take rows (in batches where the server can look
//! many users up at once), run them through the [`engine::Engine`], and hand the
//! outcomes to one collector thread. It sees each row as it finishes (for the journal),
//! and puts it back in input order ([`reorder`]) for the reports; the feeder stays within
//! [`REORDER_WINDOW`] rows of the oldest unfinished row, so that buffer stays bounded.

pub mod actions;
pub mod anchors;
pub mod engine;
#[cfg(test)]
pub(crate) mod fake;
pub mod journal;
pub mod members;
mod reorder;
pub mod secrets;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crossbeam_channel::bounded;

use crate::client::{CallError, CallStats, MatchKey};
use crate::model::{Intent, User};
use crate::pipeline::{Checked, Outcome, PipelineError};

pub mod diff;

pub use engine::{Done, Engine, EngineOptions, JournalLink, Mode};

/// A row to run, with the server's state of its user when already known (a sync's
/// snapshot: `Some(None)` = not on the server); `None` = look it up.
pub struct Work {
    pub checked: Checked,
    pub known: Option<Option<User>>,
    /// Memberships a sync's plan removes after the row's write.
    pub remove: Vec<crate::client::Group>,
}

impl From<Checked> for Work {
    fn from(checked: Checked) -> Work {
        Work {
            checked,
            known: None,
            remove: Vec::new(),
        }
    }
}

/// A row and what became of it.
pub struct Finished {
    /// The row's place among the rows given to [`Executor::run`], from 0.
    pub seq: u64,
    pub checked: Checked,
    pub done: Done,
}

/// How a run ended, besides the rows.
#[derive(Debug, Default)]
pub struct RunEnd {
    /// A failure that stopped the run (credentials, permissions, 2FA).
    pub fatal: Option<String>,
    /// The source failed (rows read before it were processed).
    pub source_error: Option<PipelineError>,
    pub interrupted: bool,
    /// The most finished rows held at once waiting for an earlier row.
    pub held_peak: usize,
}

/// How many rows past the oldest unfinished one the feeder may hand out. Rows finished
/// after it wait in the reorder buffer; one slow row (a long retry, a lost connection)
/// therefore stops the run after this many, instead of letting memory grow with the input.
pub const REORDER_WINDOW: u64 = 4096;

/// Rows per batch when they have teams or channels: a worker adds the memberships its
/// batch lacks with one request per group ([`members::Members::settle`]).
pub const MEMBER_BATCH: usize = 100;

/// Where the collector tells the feeder how far rows have been released.
struct Released {
    next: Mutex<u64>,
    moved: Condvar,
}

pub struct Executor {
    engine: Arc<Engine>,
    workers: usize,
    batch: usize,
    window: u64,
}

impl Executor {
    /// `batch` > 1 groups rows so one lookup call serves many (Mattermost).
    pub fn new(engine: Arc<Engine>, workers: usize, batch: usize) -> Executor {
        Executor {
            engine,
            workers: workers.max(1),
            batch: batch.max(1),
            window: REORDER_WINDOW,
        }
    }

    /// Another reorder window (tests use a small one).
    #[cfg(test)]
    fn with_window(mut self, window: u64) -> Executor {
        self.window = window.max(1);
        self
    }

    /// Runs every row. On one collector thread, `on_finish` sees each row as it finishes
    /// (the resume journal must know at once), then `sink` gets the rows in input order
    /// (rejected ones included); rows a stopped run never did are left out of both.
    pub fn run<I, F, S>(&self, rows: I, on_finish: F, sink: S) -> RunEnd
    where
        I: Iterator<Item = Result<Work, PipelineError>>,
        F: FnMut(&Finished) + Send,
        S: FnMut(Finished) + Send,
    {
        let (job_tx, job_rx) = bounded::<Vec<(u64, Work)>>(self.workers * 2);
        // `None`: the row will never finish (the run is stopping).
        let (done_tx, done_rx) =
            bounded::<(u64, Option<Finished>)>(self.workers * self.batch * 4 + 16);
        let stop = AtomicBool::new(false);
        let fatal: Mutex<Option<String>> = Mutex::new(None);
        let released = Released {
            next: Mutex::new(0),
            moved: Condvar::new(),
        };
        let mut end = RunEnd::default();

        std::thread::scope(|s| {
            for _ in 0..self.workers {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                let (stop, fatal, engine) = (&stop, &fatal, &self.engine);
                s.spawn(move || {
                    let stopping = || stop.load(Ordering::Relaxed) || crate::interrupt::requested();
                    while let Ok(batch) = job_rx.recv() {
                        let known = if stopping() {
                            None
                        } else {
                            prefetch(engine, &batch)
                        };
                        let mut done: Vec<(u64, Option<Finished>)> =
                            Vec::with_capacity(batch.len());
                        for (seq, work) in batch {
                            let finished = if stopping() {
                                None // drain without doing: the feeder is stopping
                            } else {
                                run_work(engine, work, known.as_ref(), seq)
                            };
                            done.push((seq, finished));
                        }
                        // The batch's memberships, in few requests; a row is complete
                        // (journal, report) once they are settled, also when the run is
                        // stopping (a row written but not settled would be reported done;
                        // an interrupted request fails its rows, which --resume redoes).
                        engine.members().settle(&mut done);
                        for (seq, finished) in done {
                            if let Some(f) = finished.as_ref().and_then(|f| f.done.fatal.as_ref()) {
                                stop.store(true, Ordering::SeqCst);
                                let mut g = fatal.lock().unwrap_or_else(|e| e.into_inner());
                                g.get_or_insert_with(|| f.clone());
                            }
                            if done_tx.send((seq, finished)).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            drop(job_rx);
            let collector_rx = done_rx.clone();
            let released_ref = &released;
            let held_peak = s.spawn(move || {
                let (mut on_finish, mut sink) = (on_finish, sink);
                let mut order = reorder::Reorder::default();
                for (seq, f) in collector_rx {
                    if let Some(f) = &f {
                        on_finish(f);
                    }
                    order.put(seq, f, &mut sink);
                    let mut next = released_ref.next.lock().unwrap_or_else(|e| e.into_inner());
                    if *next != order.next() {
                        *next = order.next();
                        released_ref.moved.notify_all();
                    }
                }
                // Rows handed out that never came back (a stopped run) hold nothing up.
                order.drain(&mut sink);
                order.peak()
            });
            drop(done_rx);

            let mut batch: Vec<(u64, Work)> = Vec::with_capacity(self.batch);
            let mut seq = 0u64;
            for item in rows {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if crate::interrupt::requested() {
                    end.interrupted = true;
                    break;
                }
                let work = match item {
                    Ok(w) => w,
                    Err(e) => {
                        end.source_error = Some(e);
                        break;
                    }
                };
                // A row held back in a partial batch would keep the window from moving.
                if !batch.is_empty()
                    && seq >= self.released(&released) + self.window
                    && job_tx.send(std::mem::take(&mut batch)).is_err()
                {
                    break;
                }
                if !self.wait_for_room(seq, &released, &stop) {
                    // Stopping: this row was not handed out.
                    end.interrupted |= crate::interrupt::requested();
                    break;
                }
                if let Outcome::Rejected { .. } = work.checked.outcome {
                    let checked = work.checked;
                    let entry = checked.offline_entry();
                    let done = Done {
                        entry,
                        server_user: None,
                        fatal: None,
                        interrupted: false,
                        note: None,
                        groups: None,
                        avatar_digest: None,
                    };
                    if done_tx
                        .send((seq, Some(Finished { seq, checked, done })))
                        .is_err()
                    {
                        break;
                    }
                    seq += 1;
                    continue;
                }
                // Rows with teams or channels go in larger batches: one membership request
                // then serves the whole batch.
                let limit = match &work.checked.outcome {
                    Outcome::Valid { user, .. }
                        if user.teams.is_some() || user.channels.is_some() =>
                    {
                        self.batch.max(MEMBER_BATCH)
                    }
                    _ => self.batch,
                };
                batch.push((seq, work));
                seq += 1;
                if batch.len() >= limit && job_tx.send(std::mem::take(&mut batch)).is_err() {
                    break;
                }
            }
            if !batch.is_empty() && !stop.load(Ordering::Relaxed) && !end.interrupted {
                let _ = job_tx.send(batch);
            }
            drop(job_tx);
            drop(done_tx);
            end.held_peak = held_peak.join().unwrap_or_default();
        });
        if crate::interrupt::requested() {
            end.interrupted = true;
        }
        end.fatal = fatal.into_inner().unwrap_or_else(|e| e.into_inner());
        end
    }

    fn released(&self, r: &Released) -> u64 {
        *r.next.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until row `seq` is within the reorder window of the oldest unreleased row;
    /// `false` when the run is stopping meanwhile.
    fn wait_for_room(&self, seq: u64, r: &Released, stop: &AtomicBool) -> bool {
        let mut next = r.next.lock().unwrap_or_else(|e| e.into_inner());
        while seq >= *next + self.window {
            if stop.load(Ordering::Relaxed) || crate::interrupt::requested() {
                return false;
            }
            // Timed: Ctrl-C and a fatal error are noticed without a notification.
            next = match r.moved.wait_timeout(next, Duration::from_millis(100)) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

/// Runs one handed-out row; `None` when it was not done (interrupted before its next
/// request: no report entry, no journal line, `--resume` does it).
fn run_work(
    engine: &Engine,
    work: Work,
    known: Option<&HashMap<String, User>>,
    seq: u64,
) -> Option<Finished> {
    let Work {
        checked,
        known: given,
        remove,
    } = work;
    let Outcome::Valid { user, intent } = &checked.outcome else {
        return None;
    };
    let pre = given.or_else(|| {
        if engine.tied(user) {
            // Looked up by the id the ledger ties it to.
            return None;
        }
        known.map(|m| {
            engine
                .options()
                .match_key
                .of(&engine.target().normalize(user))
                .and_then(|k| m.get(&k).cloned())
        })
    });
    // A deactivated account can no longer leave a Rocket.Chat team (teams.removeMember
    // finds active users only): its removals go first.
    let removed_first = (*intent == Intent::Deactivate && !remove.is_empty()).then(|| {
        let id = pre
            .as_ref()
            .and_then(|k| k.as_ref())
            .and_then(|u| u.id.clone())
            .or_else(|| user.id.clone())
            .unwrap_or_default();
        engine.members().remove_now(&id, &remove)
    });
    let mut done = run_row(engine, user, intent, pre);
    if done.interrupted {
        return None;
    }
    match removed_first {
        Some(r) => r.apply_to(&mut done),
        None if !remove.is_empty() => {
            done.groups.get_or_insert_with(Default::default).remove = remove;
        }
        None => {}
    }
    Some(Finished { seq, checked, done })
}

fn run_row(engine: &Engine, user: &User, intent: &Intent, known: Option<Option<User>>) -> Done {
    engine.run(user, intent, known)
}

/// One call for the whole batch where the server allows it; `None` = look up per row.
fn prefetch(engine: &Engine, batch: &[(u64, Work)]) -> Option<HashMap<String, User>> {
    if batch.len() < 2
        || engine.options().match_key != MatchKey::Username
        || batch.iter().all(|(_, w)| w.known.is_some())
    {
        return None;
    }
    let names: Vec<String> = batch
        .iter()
        .filter(|(_, w)| w.known.is_none())
        .filter_map(|(_, w)| match &w.checked.outcome {
            // A row the ledger ties is looked up by its id instead (see `run_work`).
            Outcome::Valid { user, .. } if !engine.tied(user) => {
                Some(engine.target().normalize(user).username)
            }
            _ => None,
        })
        .collect();
    let mut stats = CallStats::default();
    match engine.target().lookup_many(&names, &mut stats)? {
        Ok(users) => Some(
            users
                .into_iter()
                .map(|u| (u.username.to_lowercase(), u))
                .collect(),
        ),
        // Per-row lookups will report a fatal error properly.
        Err(CallError::Fatal(_)) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::CreateOptions;
    use crate::exec::fake::FakeServer;
    use crate::model::Problem;
    use crate::model::{Origin, RawText};

    fn engine(s: &Arc<FakeServer>) -> Arc<Engine> {
        Arc::new(Engine::new(
            s.clone(),
            EngineOptions {
                max_attempts: 1,
                create: CreateOptions {
                    random_password: true,
                    ..CreateOptions::default()
                },
                ..EngineOptions::default()
            },
        ))
    }

    /// Rows `r0`…: valid, but every seventh rejected.
    fn rows(n: usize) -> Vec<Result<Work, PipelineError>> {
        (0..n)
            .map(|i| {
                let origin = Origin(format!("in.csv:{}", i + 2));
                let user = User {
                    username: format!("r{i}"),
                    email: Some(format!("r{i}@example.org")),
                    origin: origin.clone(),
                    ..User::default()
                };
                let outcome = if i % 7 == 3 {
                    Outcome::Rejected {
                        user: Some(Box::new(user)),
                        problems: vec![Problem::new("email", "not an email address")],
                    }
                } else {
                    Outcome::Valid {
                        user: Box::new(user),
                        intent: Intent::Upsert,
                    }
                };
                Ok(Work::from(Checked {
                    origin,
                    dn: None,
                    attrs: Default::default(),
                    raw: RawText::None,
                    outcome,
                }))
            })
            .collect()
    }

    #[test]
    fn rows_come_out_in_input_order_and_a_slow_row_holds_at_most_the_window() {
        let s = Arc::new(FakeServer::new(&[]));
        // r1 finishes long after the rows behind it.
        s.slow
            .lock()
            .unwrap()
            .insert("r1".into(), Duration::from_millis(300));
        let finished = Mutex::new(Vec::new());
        let mut sunk = Vec::new();
        let end = Executor::new(engine(&s), 8, 1).with_window(16).run(
            rows(200).into_iter(),
            |f| finished.lock().unwrap().push(f.seq),
            |f| sunk.push((f.seq, f.done.entry.origin)),
        );
        assert!(end.fatal.is_none() && !end.interrupted);
        let want: Vec<(u64, String)> = (0..200).map(|i| (i, format!("in.csv:{}", i + 2))).collect();
        assert_eq!(sunk, want);
        let finished = finished.into_inner().unwrap();
        assert_eq!(finished.len(), 200);
        assert_ne!(finished[1], 1, "r1 finished late: {:?}", &finished[..20]);
        assert!(
            (1..=16).contains(&end.held_peak),
            "held at most the window: {}",
            end.held_peak
        );
    }

    #[test]
    fn batches_and_rejected_rows_never_stall_the_window() {
        // Batches larger than the window, rejected rows between them, a slow row first.
        let s = Arc::new(FakeServer::new(&[]));
        s.slow
            .lock()
            .unwrap()
            .insert("r0".into(), Duration::from_millis(100));
        let mut sunk = Vec::new();
        let end = Executor::new(engine(&s), 3, 10).with_window(4).run(
            rows(120).into_iter(),
            |_| {},
            |f| sunk.push(f.seq),
        );
        assert!(end.fatal.is_none());
        assert_eq!(sunk, (0..120).collect::<Vec<u64>>());
    }

    /// Rows `m0`… in team `t{i%3}` and channel `c{i%2}`; row 5 names a team the server
    /// does not have.
    fn member_rows(n: usize) -> Vec<Result<Work, PipelineError>> {
        (0..n)
            .map(|i| {
                let origin = Origin(format!("in.csv:{}", i + 2));
                let team = if i == 5 {
                    "nope".to_string()
                } else {
                    format!("t{}", i % 3)
                };
                let user = User {
                    username: format!("m{i}"),
                    email: Some(format!("m{i}@example.org")),
                    teams: Some(vec![team]),
                    channels: Some(vec![format!("c{}", i % 2)]),
                    origin: origin.clone(),
                    ..User::default()
                };
                Ok(Work::from(Checked {
                    origin,
                    dn: None,
                    attrs: Default::default(),
                    raw: RawText::None,
                    outcome: Outcome::Valid {
                        user: Box::new(user),
                        intent: Intent::Upsert,
                    },
                }))
            })
            .collect()
    }

    #[test]
    fn memberships_are_added_a_batch_at_a_time_and_once() {
        use crate::client::GroupKind;
        use crate::report::Status;
        let s = Arc::new(FakeServer::new(&[]));
        for t in ["t0", "t1", "t2"] {
            s.add_group(GroupKind::Team, t);
        }
        for c in ["c0", "c1"] {
            s.add_group(GroupKind::Channel, c);
        }
        let run = |e: &Arc<Engine>| {
            let mut entries = Vec::new();
            let end = Executor::new(e.clone(), 2, 1).run(
                member_rows(100).into_iter(),
                |_| {},
                |f| entries.push(f.done.entry),
            );
            assert!(end.fatal.is_none());
            entries
        };
        let e = engine(&s);
        let entries = run(&e);
        // The unknown team rejects its row before its account is made.
        assert_eq!(entries[5].status, Status::Rejected, "{:?}", entries[5]);
        assert!(
            entries[5].error.contains("no team \"nope\""),
            "{}",
            entries[5].error
        );
        assert!(s.get("m5").is_none());
        let ok: Vec<&crate::report::ReportEntry> =
            entries.iter().filter(|e| e.status == Status::Ok).collect();
        assert_eq!(ok.len(), 99);
        assert!(
            ok.iter().all(|e| e.changed.iter().any(|c| c == "teams")
                && e.changed.iter().any(|c| c == "channels"))
        );
        let t0 = s.members_of("t0");
        assert_eq!(t0.len(), 34, "{t0:?}");
        assert_eq!(s.members_of("c0").len() + s.members_of("c1").len(), 99);
        // 99 rows in batches of MEMBER_BATCH: at most one request per group per batch.
        let batches = 100usize.div_ceil(MEMBER_BATCH);
        let adds = s.member_adds.load(Ordering::SeqCst);
        assert!(
            adds <= batches * 5,
            "{adds} add requests for {batches} batches"
        );
        assert!(adds >= 5);
        // Each group's members were read once.
        assert_eq!(s.member_reads.load(Ordering::SeqCst), 5);
        assert_eq!(e.members().counts.added.load(Ordering::SeqCst), 99 * 2);
        // Again, on a new run: every membership is there, nothing is added.
        let again = engine(&s);
        let entries = run(&again);
        assert_eq!(s.member_adds.load(Ordering::SeqCst), adds);
        assert!(
            entries
                .iter()
                .filter(|e| e.status == Status::Ok)
                .all(|e| e.action == crate::report::Action::None && e.changed.is_empty())
        );
    }

    /// A run that stops (a fatal error, Ctrl-C) mid-batch hands the rows it
    /// already wrote to the journal and the report as done, without their memberships
    /// (`settle` is skipped when stopping): `--resume` then skips them for good.
    #[test]
    fn a_stopped_batch_reports_no_row_done_without_its_memberships() {
        use crate::client::GroupKind;
        use crate::report::Status;
        let s = Arc::new(FakeServer::new(&[]));
        for t in ["t0", "t1", "t2"] {
            s.add_group(GroupKind::Team, t);
        }
        for c in ["c0", "c1"] {
            s.add_group(GroupKind::Channel, c);
        }
        // Two workers: the first is inside its batch (m1 is slow) when the second's
        // batch meets a fatal error (m100).
        *s.fatal_on.lock().unwrap() = Some("m100".into());
        s.slow
            .lock()
            .unwrap()
            .insert("m1".into(), Duration::from_millis(300));
        let e = engine(&s);
        let journaled = Mutex::new(Vec::new());
        let end = Executor::new(e, 2, 1).run(
            member_rows(250).into_iter(),
            |f| {
                if f.done.entry.status == Status::Ok {
                    journaled
                        .lock()
                        .unwrap()
                        .push(f.done.entry.username.clone());
                }
            },
            |_| {},
        );
        assert!(end.fatal.is_some());
        let journaled = journaled.into_inner().unwrap();
        assert!(
            !journaled.is_empty(),
            "no row finished before the fatal one"
        );
        let t: Vec<String> = ["t0", "t1", "t2"]
            .iter()
            .flat_map(|t| s.members_of(t))
            .collect();
        for who in &journaled {
            let id = format!("id-{who}");
            assert!(
                t.contains(&id) || t.contains(who),
                "{who} reported done (journaled) without its team; teams hold {t:?}"
            );
        }
    }
}
