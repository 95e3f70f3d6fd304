//! Source → mapping → validation, in input order, with duplicate detection.
//!
//! A reader thread pulls items from the source in chunks over a bounded channel (memory
//! stays flat however large the input), a few mapper threads map and validate chunks in
//! parallel, and a duplicate stage puts them back in input order, so "the first one wins"
//! is well defined. Every stage blocks on its channel when idle: on a two-core machine,
//! threads that spin while waiting (as a work-stealing pool does) take the CPU the others need.
//!
//! Memory is bounded by bytes, not rows: a chunk closes at [`CHUNK`] items or
//! [`CHUNK_BYTES`], and the reader waits while the chunks between it and the consumer hold
//! more than [`BYTES_IN_FLIGHT`] of source text (a single record larger than that still
//! passes alone; the sources cap one record's size).

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};

use crate::mapping::{Mapping, MappingError, MappingOptions};
use crate::model::{Attrs, Change, Intent, Origin, Problem, RawRecord, RawText, User};
use crate::report::{ReportEntry, Status};
use crate::source::{CsvDialect, Format, Source, SourceError, SourceItem};
use crate::validate::{Dedup, Validator};

/// Items per chunk handed to the parallel stage.
const CHUNK: usize = 512;
/// A chunk also closes once its items hold this much source text.
const CHUNK_BYTES: u64 = 2 << 20;
/// Chunks buffered between the reader and the consumer.
const CHANNEL_CHUNKS: usize = 2;
/// Source text between the reader and the consumer, at most (mapped rows hold about as
/// much again).
const BYTES_IN_FLIGHT: u64 = 16 << 20;

/// One input row after mapping and validation.
#[derive(Clone, Debug)]
pub struct Checked {
    pub origin: Origin,
    pub dn: Option<String>,
    /// The raw attributes (CSV cells, LDIF/LDAP attributes): rejects are written from them.
    pub attrs: Attrs,
    pub raw: RawText,
    pub outcome: Outcome,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// Boxed: rows move through several queues, and a `User` is large.
    Valid { user: Box<User>, intent: Intent },
    Rejected {
        user: Option<Box<User>>,
        problems: Vec<Problem>,
    },
}

impl Checked {
    /// The report entry of a row that never reached a server: `ok` (action none) when
    /// valid, `rejected` with every problem otherwise.
    pub fn offline_entry(&self) -> ReportEntry {
        let user = self.user();
        let mut e = ReportEntry::new(
            self.origin.to_string(),
            user.map(|u| u.username.as_str()).unwrap_or(""),
            user.and_then(|u| u.email.as_deref()),
        );
        if let Outcome::Rejected { problems, .. } = &self.outcome {
            e.status = Status::Rejected;
            e.error = crate::model::problems_text(problems);
        }
        e
    }

    pub fn is_valid(&self) -> bool {
        matches!(self.outcome, Outcome::Valid { .. })
    }

    /// Username and email for reports, whatever the outcome.
    pub fn user(&self) -> Option<&User> {
        match &self.outcome {
            Outcome::Valid { user, .. } => Some(&**user),
            Outcome::Rejected { user, .. } => user.as_deref(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
}

enum Msg {
    Chunk {
        items: Vec<SourceItem>,
        warnings: Vec<String>,
        /// Source text in `items`, taken from the [`Budget`] until the consumer has them.
        bytes: u64,
    },
    Error(SourceError, Vec<String>),
}

/// What the mapping stage hands to the consumer.
enum MappedMsg {
    Chunk {
        checked: Vec<Checked>,
        warnings: Vec<String>,
        bytes: u64,
    },
    Error(PipelineError, Vec<String>),
}

/// The bytes of source text in flight between the reader and the consumer.
#[derive(Default)]
struct Budget {
    /// Bytes taken, and whether the consumer has gone.
    state: std::sync::Mutex<(u64, bool)>,
    freed: std::sync::Condvar,
}

impl Budget {
    /// Waits until `n` more bytes fit (or nothing is in flight); false once the consumer
    /// has gone.
    fn take(&self, n: u64) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !st.1 && st.0 > 0 && st.0 + n > BYTES_IN_FLIGHT {
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.0 += n;
        !st.1
    }

    fn give_back(&self, n: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.saturating_sub(n);
        self.freed.notify_all();
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.freed.notify_all();
    }
}

/// About how much memory an item holds: its attribute names and values, DN and raw text.
fn item_bytes(item: &SourceItem) -> u64 {
    let raw = |r: &RawText| match r {
        RawText::None => 0,
        RawText::Text(t) => t.len(),
        RawText::Fields(f) => f.iter().map(|c| c.len() + 8).sum(),
    };
    let attrs = |a: &Attrs| {
        a.0.iter()
            .map(|(n, vs)| n.len() + vs.iter().map(|v| v.bytes().len() + 8).sum::<usize>())
            .sum::<usize>()
    };
    let n = match item {
        SourceItem::Record(r) => {
            attrs(&r.attrs) + raw(&r.raw) + r.dn.as_ref().map_or(0, |d| d.len())
        }
        SourceItem::Bad(b) => raw(&b.raw) + b.partial.as_ref().map_or(0, attrs),
    };
    n as u64 + 64
}

/// The stages run at once: the reader thread parses, mapper threads map and validate
/// chunks, the duplicate stage restores input order and marks duplicates, and the
/// consumer (`next`) takes the rows.
pub struct Pipeline {
    rx: Receiver<MappedMsg>,
    reader: Option<JoinHandle<()>>,
    mappers: Vec<JoinHandle<()>>,
    deduper: Option<JoinHandle<()>>,
    mapping: Arc<Mapping>,
    pending: VecDeque<Checked>,
    dialect: Arc<OnceLock<CsvDialect>>,
    warnings: Vec<String>,
    format: Format,
    done: bool,
    complete: bool,
    budget: Arc<Budget>,
}

/// How a [`Pipeline`] runs; fixed before its threads start, so every run of the same input
/// gives the same rows.
#[derive(Clone, Copy, Debug)]
pub struct PipelineOptions {
    /// The size of the input file, when known, so the duplicate tables can be sized once
    /// (growing them doubles their page faults and rehashes them).
    pub input_bytes: Option<u64>,
    /// Mark the second and later rows naming the same user as duplicates (off for
    /// `convert`, which only transcodes, and for reading a dump).
    pub check_duplicates: bool,
}

impl Pipeline {
    pub fn start(
        source: Box<dyn Source>,
        mapping: Mapping,
        validator: Validator,
        options: PipelineOptions,
    ) -> Pipeline {
        let PipelineOptions {
            input_bytes,
            check_duplicates,
        } = options;
        let format = source.format();
        let describe = source.describe();
        let dialect: Arc<OnceLock<CsvDialect>> = Arc::new(OnceLock::new());
        let (tx, rx) = bounded::<(u64, Msg)>(CHANNEL_CHUNKS);
        let reader_dialect = dialect.clone();
        let budget = Arc::new(Budget::default());
        let reader_budget = budget.clone();
        let reader = std::thread::Builder::new()
            .name("roster-reader".into())
            .spawn(move || {
                let mut source = source;
                let mut seq = 0u64;
                loop {
                    let mut items = Vec::with_capacity(CHUNK);
                    let mut bytes = 0;
                    let mut end = false;
                    let mut error = None;
                    while items.len() < CHUNK && bytes < CHUNK_BYTES {
                        match source.next_item() {
                            Ok(Some(item)) => {
                                bytes += item_bytes(&item);
                                items.push(item);
                            }
                            Ok(None) => {
                                end = true;
                                break;
                            }
                            Err(e) => {
                                error = Some(e);
                                break;
                            }
                        }
                    }
                    // The mappers configure themselves from the dialect: known before
                    // the first chunk leaves.
                    if reader_dialect.get().is_none()
                        && let Some(d) = source.csv_dialect()
                    {
                        let _ = reader_dialect.set(d);
                    }
                    let warnings = source.take_warnings();
                    if !items.is_empty() || !warnings.is_empty() || seq == 0 {
                        let chunk = Msg::Chunk {
                            items,
                            warnings,
                            bytes,
                        };
                        if !reader_budget.take(bytes) || tx.send((seq, chunk)).is_err() {
                            return; // the consumer stopped (interrupted or failed)
                        }
                        seq += 1;
                    }
                    if let Some(e) = error {
                        let _ = tx.send((seq, Msg::Error(e, source.take_warnings())));
                        return;
                    }
                    if end {
                        return;
                    }
                }
            })
            .ok();
        let (mtx, mrx) = bounded::<(u64, MappedMsg)>(CHANNEL_CHUNKS);
        let configured: Arc<OnceLock<Result<Mapping, String>>> = Arc::new(OnceLock::new());
        let shared = Arc::new((
            mapping.clone(),
            validator,
            dialect.clone(),
            describe.clone(),
        ));
        let mappers: Vec<JoinHandle<()>> = (0..mapper_threads())
            .filter_map(|i| {
                let (rx, mtx, configured, shared) =
                    (rx.clone(), mtx.clone(), configured.clone(), shared.clone());
                std::thread::Builder::new()
                    .name(format!("roster-mapper-{i}"))
                    .spawn(move || map_stage(rx, mtx, configured, shared))
                    .ok()
            })
            .collect();
        drop((rx, mtx));
        let (dtx, drx) = bounded::<MappedMsg>(CHANNEL_CHUNKS);
        let deduper = std::thread::Builder::new()
            .name("roster-dedup".into())
            .spawn(move || dedup_stage(mrx, dtx, check_duplicates, input_bytes))
            .ok();
        Pipeline {
            rx: drx,
            reader,
            mappers,
            deduper,
            mapping: Arc::new(mapping),
            pending: VecDeque::new(),
            dialect,
            warnings: Vec::new(),
            format,
            done: false,
            complete: false,
            budget,
        }
    }

    /// The mapping the rows go through.
    pub fn mapping(&self) -> Arc<Mapping> {
        self.mapping.clone()
    }

    /// Attributes holding secrets (the mapping's password sources).
    pub fn secret_attributes(&self) -> Vec<String> {
        self.mapping.secret_attributes()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// A handle that sees the CSV dialect once it is known, for writers on other threads.
    pub fn dialect_handle(&self) -> Arc<OnceLock<CsvDialect>> {
        self.dialect.clone()
    }

    /// Warnings from the source so far (drained).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

/// The duplicate stage: in input order, so "the first one wins" is well defined.
fn dedup_stage(
    rx: Receiver<(u64, MappedMsg)>,
    tx: crossbeam_channel::Sender<MappedMsg>,
    check_dups: bool,
    input_bytes: Option<u64>,
) {
    let mut dedup: Option<Dedup> = None;
    // Chunks come back from the mappers in any order: hold them until their turn.
    let mut waiting: std::collections::BTreeMap<u64, MappedMsg> = Default::default();
    let mut next = 0u64;
    for (seq, msg) in rx {
        waiting.insert(seq, msg);
        while let Some(msg) = waiting.remove(&next) {
            next += 1;
            let msg = match msg {
                MappedMsg::Chunk {
                    mut checked,
                    warnings,
                    bytes,
                } => {
                    if check_dups {
                        let dedup = dedup.get_or_insert_with(|| sized_dedup(&checked, input_bytes));
                        for c in &mut checked {
                            mark_duplicate(dedup, c);
                        }
                    }
                    MappedMsg::Chunk {
                        checked,
                        warnings,
                        bytes,
                    }
                }
                e => e,
            };
            let stop = matches!(msg, MappedMsg::Error(..));
            if tx.send(msg).is_err() || stop {
                return;
            }
        }
    }
}

/// A duplicate finder sized for the rows the input probably holds: its size divided by
/// the bytes per row of the first chunk (the cells' text plus separators).
fn sized_dedup(first: &[Checked], input_bytes: Option<u64>) -> Dedup {
    let (Some(bytes), false) = (input_bytes, first.is_empty()) else {
        return Dedup::new();
    };
    let sample: u64 = first
        .iter()
        .map(|c| match &c.dn {
            // LDIF: `name: value` lines and the dn line.
            Some(dn) => {
                c.attrs
                    .0
                    .iter()
                    .map(|(n, vs)| {
                        vs.iter()
                            .map(|v| (n.len() + v.bytes().len()) as u64 + 3)
                            .sum::<u64>()
                    })
                    .sum::<u64>()
                    + dn.len() as u64
                    + 6
            }
            // CSV: cells and their separators.
            None => {
                c.attrs
                    .0
                    .iter()
                    .map(|(_, vs)| vs.iter().map(|v| v.bytes().len() as u64 + 1).sum::<u64>())
                    .sum::<u64>()
                    + 1
            }
        })
        .sum();
    let per_row = (sample / first.len() as u64).max(8);
    // A little headroom; capped so a strange first chunk cannot reserve gigabytes.
    let rows = (bytes / per_row).saturating_mul(11) / 10;
    Dedup::with_capacity(rows.min(20_000_000) as usize)
}

/// Mapper threads: as many as there are cores, at most 4.
fn mapper_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
}

fn mark_duplicate(dedup: &mut Dedup, c: &mut Checked) {
    let Outcome::Valid { user, .. } = &c.outcome else {
        return;
    };
    let dup = dedup.check(user);
    if dup.is_empty() {
        return;
    }
    let user = match std::mem::replace(
        &mut c.outcome,
        Outcome::Rejected {
            user: None,
            problems: Vec::new(),
        },
    ) {
        Outcome::Valid { user, .. } => Some(user),
        Outcome::Rejected { user, .. } => user,
    };
    c.outcome = Outcome::Rejected {
        user,
        problems: dup,
    };
}

/// A mapping stage thread. The source's dialect is known before the first chunk: the
/// first mapper to need it sets the mapping's options and checks configured templates
/// against the header before any row is mapped; the others use the same result.
fn map_stage(
    rx: Receiver<(u64, Msg)>,
    tx: crossbeam_channel::Sender<(u64, MappedMsg)>,
    configured: Arc<OnceLock<Result<Mapping, String>>>,
    shared: Arc<(Mapping, Validator, Arc<OnceLock<CsvDialect>>, String)>,
) {
    let (mapping, validator, dialect, describe) = &*shared;
    for (seq, msg) in rx {
        let out = match msg {
            Msg::Chunk {
                items,
                warnings,
                bytes,
            } => {
                let ready = configured.get_or_init(|| match dialect.get() {
                    Some(d) => {
                        let m = mapping.clone().with_options(&MappingOptions {
                            multi_sep: Some(d.multi_sep),
                        });
                        m.check_attributes(&d.header, describe)
                            .and_then(|_| {
                                m.check_required(&d.header, describe, validator.required())
                            })
                            .map(|_| m)
                            .map_err(|e| e.to_string())
                    }
                    None => Ok(mapping.clone()),
                });
                // A panic here (a bug) would leave a hole in the sequence that the duplicate
                // stage waits on forever: it stops the run with an error instead.
                let checked = ready.as_ref().map(|m| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        items
                            .into_iter()
                            .map(|item| check_item(item, m, validator))
                            .collect::<Vec<_>>()
                    }))
                });
                match checked {
                    Ok(Ok(checked)) => MappedMsg::Chunk {
                        checked,
                        warnings,
                        bytes,
                    },
                    Ok(Err(_)) => MappedMsg::Error(
                        PipelineError::Mapping(crate::mapping::MappingError::Invalid(
                            "internal error while checking rows (a bug: please report it); stopped"
                                .into(),
                        )),
                        warnings,
                    ),
                    Err(e) => MappedMsg::Error(
                        PipelineError::Mapping(crate::mapping::MappingError::Invalid(e.clone())),
                        warnings,
                    ),
                }
            }
            Msg::Error(e, warnings) => MappedMsg::Error(e.into(), warnings),
        };
        if tx.send((seq, out)).is_err() {
            return;
        }
    }
}

fn check_item(item: SourceItem, mapping: &Mapping, validator: &Validator) -> Checked {
    match item {
        SourceItem::Bad(b) => {
            // Mapped only to name the row's user (report, sync presence); the row stays
            // rejected for the source's reasons.
            let user = b.partial.map(|attrs| {
                let rec = RawRecord {
                    origin: b.origin.clone(),
                    dn: None,
                    change: Change::Entry,
                    attrs,
                    raw: RawText::None,
                    url_values: Vec::new(),
                };
                Box::new(mapping.apply(&rec).user)
            });
            Checked {
                origin: b.origin,
                dn: None,
                attrs: Attrs::new(),
                raw: b.raw,
                outcome: Outcome::Rejected {
                    user,
                    problems: b.problems,
                },
            }
        }
        SourceItem::Record(rec) => {
            let mapped = mapping.apply(&rec);
            let mut problems = mapped.problems;
            // A field the mapping could not fill (a value that is not text, say) is not
            // also "required": one problem per field says why.
            let unfilled: Vec<Option<String>> = problems.iter().map(|p| p.field.clone()).collect();
            problems.extend(
                validator
                    .check(&mapped.user, &mapped.intent)
                    .into_iter()
                    .filter(|p| {
                        !(p.reason.starts_with("is required") && unfilled.contains(&p.field))
                    }),
            );
            crate::validate::hide_values(&mut problems, &mapped.user, &rec.url_values);
            let outcome = if problems.is_empty() {
                Outcome::Valid {
                    user: Box::new(mapped.user),
                    intent: mapped.intent,
                }
            } else {
                Outcome::Rejected {
                    user: Some(Box::new(mapped.user)),
                    problems,
                }
            };
            Checked {
                origin: rec.origin,
                dn: rec.dn,
                attrs: rec.attrs,
                raw: rec.raw,
                outcome,
            }
        }
    }
}

impl Iterator for Pipeline {
    type Item = Result<Checked, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(c) = self.pending.pop_front() {
                return Some(Ok(c));
            }
            if self.done {
                return None;
            }
            match self.rx.recv() {
                Ok(MappedMsg::Chunk {
                    checked,
                    warnings,
                    bytes,
                }) => {
                    // Taken off the queues: the next chunk may be read.
                    self.budget.give_back(bytes);
                    self.warnings.extend(warnings);
                    self.pending.extend(checked);
                }
                Ok(MappedMsg::Error(e, warnings)) => {
                    self.warnings.extend(warnings);
                    self.done = true;
                    return Some(Err(e));
                }
                Err(_) => {
                    // Channel closed: the reader and the mapper finished normally.
                    self.done = true;
                    self.complete = true;
                    let mappers = std::mem::take(&mut self.mappers);
                    for h in [self.reader.take(), self.deduper.take()]
                        .into_iter()
                        .flatten()
                        .chain(mappers)
                    {
                        let _ = h.join();
                    }
                }
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Closing the receiver makes the mapper's, then the reader's, next send fail, so
        // they stop; don't join: the reader may be blocked inside a slow LDAP server.
        self.budget.close();
        self.reader.take();
        self.mappers.clear();
        self.deduper.take();
    }
}
