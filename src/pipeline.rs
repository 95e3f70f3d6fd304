//! Source → mapping → validation, in input order, with duplicate detection.
//!
//! A reader thread pulls items from the source in chunks over a bounded channel (memory
//! stays flat however large the input), rayon maps and validates each chunk in parallel,
//! and duplicate detection runs in input order so "the first one wins" is well defined.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};
use rayon::prelude::*;

use crate::mapping::{Mapping, MappingError, MappingOptions};
use crate::model::{Attrs, Intent, Origin, Problem, RawText, User};
use crate::report::{ReportEntry, Status};
use crate::source::{CsvDialect, Format, Source, SourceError, SourceItem};
use crate::validate::{Dedup, Validator};

/// Items per chunk handed to the parallel stage.
const CHUNK: usize = 2048;
/// Chunks buffered between the reader and the consumer.
const CHANNEL_CHUNKS: usize = 4;

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
    Valid {
        user: User,
        intent: Intent,
    },
    Rejected {
        user: Option<User>,
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

    /// Username and email for reports, whatever the outcome.
    pub fn user(&self) -> Option<&User> {
        match &self.outcome {
            Outcome::Valid { user, .. } => Some(user),
            Outcome::Rejected { user, .. } => user.as_ref(),
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
        dialect: Option<CsvDialect>,
        warnings: Vec<String>,
    },
    Error(SourceError, Vec<String>),
}

pub struct Pipeline {
    rx: Receiver<Msg>,
    reader: Option<JoinHandle<()>>,
    mapping: Arc<Mapping>,
    validator: Arc<Validator>,
    dedup: Dedup,
    pending: VecDeque<Checked>,
    dialect: Arc<OnceLock<CsvDialect>>,
    warnings: Vec<String>,
    format: Format,
    describe: String,
    configured: bool,
    done: bool,
    complete: bool,
    check_dups: bool,
}

impl Pipeline {
    pub fn new(source: Box<dyn Source>, mapping: Mapping, validator: Validator) -> Pipeline {
        let format = source.format();
        let describe = source.describe();
        let (tx, rx) = bounded::<Msg>(CHANNEL_CHUNKS);
        let reader = std::thread::Builder::new()
            .name("roster-reader".into())
            .spawn(move || {
                let mut source = source;
                let mut dialect_sent = false;
                loop {
                    let mut items = Vec::with_capacity(CHUNK);
                    let mut end = false;
                    let mut error = None;
                    while items.len() < CHUNK {
                        match source.next_item() {
                            Ok(Some(item)) => items.push(item),
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
                    let dialect = if dialect_sent {
                        None
                    } else {
                        source.csv_dialect()
                    };
                    dialect_sent |= dialect.is_some();
                    let warnings = source.take_warnings();
                    if (!items.is_empty() || dialect.is_some() || !warnings.is_empty())
                        && tx
                            .send(Msg::Chunk {
                                items,
                                dialect,
                                warnings,
                            })
                            .is_err()
                    {
                        return; // the consumer stopped (interrupted or failed)
                    }
                    if let Some(e) = error {
                        let _ = tx.send(Msg::Error(e, source.take_warnings()));
                        return;
                    }
                    if end {
                        return;
                    }
                }
            })
            .ok();
        Pipeline {
            rx,
            reader,
            mapping: Arc::new(mapping),
            validator: Arc::new(validator),
            dedup: Dedup::new(),
            pending: VecDeque::new(),
            dialect: Arc::new(OnceLock::new()),
            warnings: Vec::new(),
            format,
            describe,
            configured: false,
            done: false,
            complete: false,
            check_dups: true,
        }
    }

    /// Attributes holding secrets (the mapping's password sources).
    pub fn secret_attributes(&self) -> Vec<String> {
        self.mapping.secret_attributes()
    }

    /// Turns duplicate detection off (for `convert`, which only transcodes).
    pub fn without_duplicate_check(mut self) -> Self {
        self.check_dups = false;
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The CSV dialect, once the first chunk has arrived.
    pub fn dialect(&self) -> Option<&CsvDialect> {
        self.dialect.get()
    }

    /// A handle that sees the CSV dialect once it is known, for writers on other threads.
    pub fn dialect_handle(&self) -> Arc<OnceLock<CsvDialect>> {
        self.dialect.clone()
    }

    /// Warnings from the source so far (drained).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// True once the source ended normally: every record was read.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Source dialect becomes known with the first chunk: set the mapping's options and
    /// check configured templates against the header before any row is processed.
    fn configure(&mut self) -> Result<(), MappingError> {
        if self.configured {
            return Ok(());
        }
        self.configured = true;
        if let Some(d) = self.dialect.get() {
            let m = (*self.mapping).clone().with_options(&MappingOptions {
                multi_sep: Some(d.multi_sep),
            });
            m.check_attributes(&d.header, &self.describe)?;
            self.mapping = Arc::new(m);
        }
        Ok(())
    }

    fn process(&mut self, items: Vec<SourceItem>) {
        let mapping = &self.mapping;
        let validator = &self.validator;
        let checked: Vec<Checked> = items
            .into_par_iter()
            .map(|item| check_item(item, mapping, validator))
            .collect();
        for mut c in checked {
            if self.check_dups
                && let Outcome::Valid { user, .. } = &c.outcome
            {
                let dup = self.dedup.check(user);
                if !dup.is_empty() {
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
            }
            self.pending.push_back(c);
        }
    }
}

fn check_item(item: SourceItem, mapping: &Mapping, validator: &Validator) -> Checked {
    match item {
        SourceItem::Bad(b) => Checked {
            origin: b.origin,
            dn: None,
            attrs: Attrs::new(),
            raw: b.raw,
            outcome: Outcome::Rejected {
                user: None,
                problems: b.problems,
            },
        },
        SourceItem::Record(rec) => {
            let mapped = mapping.apply(&rec);
            let mut problems = mapped.problems;
            problems.extend(validator.check(&mapped.user, &mapped.intent));
            let outcome = if problems.is_empty() {
                Outcome::Valid {
                    user: mapped.user,
                    intent: mapped.intent,
                }
            } else {
                Outcome::Rejected {
                    user: Some(mapped.user),
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
                Ok(Msg::Chunk {
                    items,
                    dialect,
                    warnings,
                }) => {
                    if let Some(d) = dialect {
                        let _ = self.dialect.set(d);
                    }
                    self.warnings.extend(warnings);
                    if let Err(e) = self.configure() {
                        self.done = true;
                        return Some(Err(e.into()));
                    }
                    self.process(items);
                }
                Ok(Msg::Error(e, warnings)) => {
                    self.warnings.extend(warnings);
                    self.done = true;
                    return Some(Err(e.into()));
                }
                Err(_) => {
                    // Channel closed: the reader finished normally.
                    self.done = true;
                    self.complete = true;
                    if let Some(h) = self.reader.take() {
                        let _ = h.join();
                    }
                }
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Closing the receiver makes the reader's next send fail, so it stops;
        // don't join: it may be blocked inside the source (a slow LDAP server).
        self.reader.take();
    }
}
