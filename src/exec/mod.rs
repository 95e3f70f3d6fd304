//! Executor: a pool of workers behind one pacer per server bucket.
//!
//! The calling thread reads checked rows and feeds a bounded channel (memory stays flat
//! however large the input); N workers take rows (in batches where the server can look
//! many users up at once), run them through the [`engine::Engine`], and hand the
//! outcomes to one collector thread that writes every report in completion order.

pub mod anchors;
pub mod engine;
#[cfg(test)]
pub(crate) mod fake;
pub mod journal;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
}

impl From<Checked> for Work {
    fn from(checked: Checked) -> Work {
        Work {
            checked,
            known: None,
        }
    }
}

/// A row and what became of it.
pub struct Finished {
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
}

pub struct Executor {
    engine: Arc<Engine>,
    workers: usize,
    batch: usize,
}

impl Executor {
    /// `batch` > 1 groups rows so one lookup call serves many (Mattermost).
    pub fn new(engine: Arc<Engine>, workers: usize, batch: usize) -> Executor {
        Executor {
            engine,
            workers: workers.max(1),
            batch: batch.max(1),
        }
    }

    /// Runs every row; `sink` sees each finished row (rejected ones included) on one
    /// collector thread.
    pub fn run<I, S>(&self, rows: I, sink: S) -> RunEnd
    where
        I: Iterator<Item = Result<Work, PipelineError>>,
        S: FnMut(Finished) + Send,
    {
        let (job_tx, job_rx) = bounded::<Vec<Work>>(self.workers * 2);
        let (done_tx, done_rx) = bounded::<Finished>(self.workers * self.batch * 4 + 16);
        let stop = AtomicBool::new(false);
        let fatal: Mutex<Option<String>> = Mutex::new(None);
        let mut end = RunEnd::default();

        std::thread::scope(|s| {
            for _ in 0..self.workers {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                let (stop, fatal, engine) = (&stop, &fatal, &self.engine);
                s.spawn(move || {
                    while let Ok(batch) = job_rx.recv() {
                        if stop.load(Ordering::Relaxed) || crate::interrupt::requested() {
                            continue; // drain without doing: the feeder is stopping
                        }
                        let known = prefetch(engine, &batch);
                        for work in batch {
                            if stop.load(Ordering::Relaxed) || crate::interrupt::requested() {
                                break;
                            }
                            let Work {
                                checked,
                                known: given,
                            } = work;
                            let Outcome::Valid { user, intent } = &checked.outcome else {
                                continue;
                            };
                            let pre = given.or_else(|| {
                                if engine.tied(user) {
                                    // Looked up by the id the ledger ties it to.
                                    return None;
                                }
                                known.as_ref().map(|m| {
                                    engine
                                        .options()
                                        .match_key
                                        .of(&engine.target().normalize(user))
                                        .and_then(|k| m.get(&k).cloned())
                                })
                            });
                            let done = run_row(engine, user, intent, pre);
                            if done.interrupted {
                                // Not sent: no report entry, no journal line; --resume does it.
                                continue;
                            }
                            if let Some(f) = &done.fatal {
                                stop.store(true, Ordering::SeqCst);
                                let mut g = fatal.lock().unwrap_or_else(|e| e.into_inner());
                                g.get_or_insert_with(|| f.clone());
                            }
                            if done_tx.send(Finished { checked, done }).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            drop(job_rx);
            let collector_rx = done_rx.clone();
            s.spawn(move || {
                let mut sink = sink;
                for f in collector_rx {
                    sink(f);
                }
            });
            drop(done_rx);

            let mut batch: Vec<Work> = Vec::with_capacity(self.batch);
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
                if let Outcome::Rejected { .. } = work.checked.outcome {
                    let checked = work.checked;
                    let entry = checked.offline_entry();
                    let done = Done {
                        entry,
                        server_user: None,
                        fatal: None,
                        interrupted: false,
                        note: None,
                    };
                    if done_tx.send(Finished { checked, done }).is_err() {
                        break;
                    }
                    continue;
                }
                batch.push(work);
                if batch.len() >= self.batch && job_tx.send(std::mem::take(&mut batch)).is_err() {
                    break;
                }
            }
            if !batch.is_empty() && !stop.load(Ordering::Relaxed) && !end.interrupted {
                let _ = job_tx.send(batch);
            }
            drop(job_tx);
            drop(done_tx);
        });
        if crate::interrupt::requested() {
            end.interrupted = true;
        }
        end.fatal = fatal.into_inner().unwrap_or_else(|e| e.into_inner());
        end
    }
}

fn run_row(engine: &Engine, user: &User, intent: &Intent, known: Option<Option<User>>) -> Done {
    engine.run(user, intent, known)
}

/// One call for the whole batch where the server allows it; `None` = look up per row.
fn prefetch(engine: &Engine, batch: &[Work]) -> Option<HashMap<String, User>> {
    if batch.len() < 2
        || engine.options().match_key != MatchKey::Username
        || batch.iter().all(|w| w.known.is_some())
    {
        return None;
    }
    let names: Vec<String> = batch
        .iter()
        .filter(|w| w.known.is_none())
        .filter_map(|w| match &w.checked.outcome {
            Outcome::Valid { user, .. } => Some(engine.target().normalize(user).username),
            Outcome::Rejected { .. } => None,
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
