//! LDIF source: a streaming RFC 2849 reader of our own.
//!
//! The input is read one *block* at a time (the lines up to the next blank line, see
//! `block`), so memory depends on the largest record, never on the file. A block is
//! unfolded into logical lines (`line`), then parsed as a content record or a change record
//! (`record`), whose values are decoded by `value` (base64, `file:` URLs under the
//! `--allow-file-urls` rules). DNs are parsed by [`crate::ldif_syntax::dn`], which the
//! writer shares.
//!
//! Every record keeps its exact text ([`RawText::Text`]) so a rejects file can give it back.
//! A malformed record becomes one [`SourceItem::Bad`] and reading goes on at the next blank
//! line. Truncation is never silent: a block with no `dn:` that follows a record means a stray
//! blank line cut that record, so both the block *and* the record before it are reported Bad
//! (each record is held back until the next block has been seen).

mod block;
mod line;
mod record;
mod value;

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use self::block::{BlockEnd, Blocks};
use self::line::{ValueKind, has_name, split_line, trim_end_spaces};
use self::record::parse_record;
use self::value::Ctx;
use super::{Format, Source, SourceError, SourceItem, SourceOptions};
use crate::model::{BadRecord, Origin, Problem, RawText};

pub use self::value::DEFAULT_URL_MAX_BYTES;
// The DN codec is part of what the reader offers, though it lives below the reader and the
// writer both.
pub use crate::ldif_syntax::dn::{escape_dn_value, parse_dn};

/// A record waiting until the next block shows it was not cut by a stray blank line.
struct Held {
    item: SourceItem,
    /// Line of its `dn:`.
    dn_line: u64,
    /// The blank line that ended it.
    blank: Option<u64>,
}

pub struct LdifSource {
    spec: String,
    name: String,
    blocks: Blocks,
    base_dir: Option<PathBuf>,
    url_max: u64,
    /// The resolved `allow_file_urls` folder (`Err`: it could not be resolved).
    allow_dir: Option<Result<PathBuf, String>>,
    held: Option<Held>,
    ready: VecDeque<SourceItem>,
    /// A block with content has been seen (`version:` belongs before it).
    seen_content: bool,
    eof: bool,
    warnings: Vec<String>,
}

impl LdifSource {
    /// Opens a file, or stdin for `-`.
    pub fn open(spec: &str, opts: &SourceOptions) -> Result<Self, SourceError> {
        let reader = super::open_input(spec)?;
        let base_dir = if spec == "-" {
            None
        } else {
            Path::new(spec)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
        };
        let mut s = Self::from_boxed(reader, &super::origin_name(spec), base_dir, opts);
        s.spec = spec.to_string();
        Ok(s)
    }

    /// Reads LDIF from any reader. `name` is used in origins (`name:line`); `base_dir`
    /// resolves relative `file:` URLs (`None`: the current directory).
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        name: &str,
        base_dir: Option<PathBuf>,
        opts: &SourceOptions,
    ) -> Self {
        Self::from_boxed(Box::new(reader), name, base_dir, opts)
    }

    fn from_boxed(
        reader: Box<dyn Read + Send>,
        name: &str,
        base_dir: Option<PathBuf>,
        opts: &SourceOptions,
    ) -> Self {
        LdifSource {
            spec: name.to_string(),
            name: name.to_string(),
            blocks: Blocks::new(
                reader,
                usize::try_from(opts.max_record_bytes()).unwrap_or(usize::MAX),
            ),
            base_dir,
            url_max: opts.url_max_bytes.unwrap_or(DEFAULT_URL_MAX_BYTES),
            allow_dir: opts.allow_file_urls.as_ref().map(|d| {
                std::fs::canonicalize(d).map_err(|e| {
                    format!("--allow-file-urls {}: cannot resolve it: {e}", d.display())
                })
            }),
            held: None,
            ready: VecDeque::new(),
            seen_content: false,
            eof: false,
            warnings: Vec::new(),
        }
    }

    fn release_held(&mut self) {
        if let Some(h) = self.held.take() {
            self.ready.push_back(h.item);
        }
    }

    fn handle_block(&mut self, end: BlockEnd) {
        let last_line = self.blocks.line_no - u64::from(end.blank.is_some());
        if end.oversize {
            self.release_held();
            self.ready.push_back(SourceItem::Bad(BadRecord {
                origin: Origin::line(&self.name, self.blocks.block_first),
                raw: RawText::None,
                problems: vec![Problem::record(format!(
                    "record of lines {}-{last_line} is larger than {} (--max-record-size); skipped",
                    self.blocks.block_first,
                    crate::source::size_text(self.blocks.max_record as u64)
                ))],
                partial: None,
            }));
            return;
        }
        self.blocks.unfold();
        if self.blocks.lines.is_empty() && self.blocks.stray.is_none() {
            return; // comments only
        }

        let mut first = 0;
        if self.blocks.stray.is_none() {
            let l = self.blocks.lines[0];
            let bytes = self.blocks.line(&l);
            if has_name(bytes, b"version")
                && let Ok((_, kind, value)) = split_line(bytes)
            {
                first = 1;
                if self.seen_content {
                    self.warnings.push(format!(
                        "{}:{}: version: line in the middle of the input (concatenated LDIF files?)",
                        self.name, l.line
                    ));
                }
                let ok = kind == ValueKind::Plain && trim_end_spaces(value) == b"1";
                if !ok {
                    self.release_held();
                    let line_end = self
                        .blocks
                        .starts
                        .get(l.phys_end)
                        .copied()
                        .unwrap_or(self.blocks.raw.len());
                    let raw = &self.blocks.raw[self.blocks.starts[l.phys]..line_end];
                    self.ready.push_back(SourceItem::Bad(BadRecord {
                        origin: Origin::line(&self.name, l.line),
                        raw: RawText::Text(String::from_utf8_lossy(raw).into_owned()),
                        problems: vec![Problem::new(
                            "version",
                            "unsupported LDIF version (only version: 1 exists)",
                        )],
                        partial: None,
                    }));
                }
                if self.blocks.lines.len() == 1 {
                    self.seen_content = true;
                    return;
                }
            }
        }
        self.seen_content = true;

        let is_dn = self.blocks.stray.is_none() && {
            let l = self.blocks.lines[first];
            has_name(self.blocks.line(&l), b"dn")
        };
        // The record's text: the whole block (with its comments) but not a version: line.
        let raw_start = if first == 0 {
            0
        } else {
            self.blocks.starts[self.blocks.lines[0].phys_end]
        };
        let raw_text = raw_text(&self.blocks, raw_start);

        if !is_dn {
            let line = match self.blocks.stray {
                Some(l) => l,
                None => self.blocks.lines[first].line,
            };
            let what = if self.blocks.stray.is_some() {
                "continuation line (starting with a space) with no line before it to continue"
            } else {
                "attribute line before any dn: line (every record starts with dn:)"
            };
            let reason = match &self.held {
                Some(h) => format!(
                    "line {line}: {what}; lines {line}-{last_line} continue the record at line {} after a blank line{}",
                    h.dn_line,
                    h.blank.map(|b| format!(" at line {b}")).unwrap_or_default()
                ),
                None => format!("line {line}: {what}"),
            };
            if let Some(h) = self.held.take() {
                let p = Problem::record(format!(
                    "record continues after a blank line{} (lines {line}-{last_line} have no dn: of their own); not read, so it is not imported truncated",
                    h.blank.map(|b| format!(" at line {b}")).unwrap_or_default()
                ));
                self.ready.push_back(into_bad(h.item, p));
            }
            self.ready.push_back(SourceItem::Bad(BadRecord {
                origin: Origin::line(&self.name, line),
                raw: RawText::Text(raw_text),
                problems: vec![Problem::record(reason)],
                partial: None,
            }));
            return;
        }

        let ctx = Ctx {
            base_dir: self.base_dir.as_deref(),
            url_max: self.url_max,
            allow_dir: self.allow_dir.as_ref().map(|r| r.as_deref()),
            url_values: std::cell::RefCell::new(Vec::new()),
        };
        let dn_line = self.blocks.lines[first].line;
        let origin = Origin::line(&self.name, dn_line);
        let item = parse_record(
            &ctx,
            &self.blocks.text,
            &self.blocks.lines[first..],
            origin,
            raw_text,
        );
        let prev = self.held.replace(Held {
            item,
            dn_line,
            blank: end.blank,
        });
        if let Some(prev) = prev {
            self.ready.push_back(prev.item);
        }
    }
}

impl Source for LdifSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(Some(item));
            }
            if self.eof {
                return Ok(None);
            }
            let block = self
                .blocks
                .read_block()
                .map_err(|e| SourceError::io(self.spec.clone(), e))?;
            for line in self.blocks.boms.drain(..) {
                self.warnings.push(format!(
                    "{}:{line}: UTF-8 byte order mark in the middle of the input (concatenated LDIF files?); skipped",
                    self.name
                ));
            }
            match block {
                Some(end) => self.handle_block(end),
                None => {
                    self.eof = true;
                    self.release_held();
                }
            }
        }
    }
    fn format(&self) -> Format {
        Format::Ldif
    }
    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
    fn describe(&self) -> String {
        self.spec.clone()
    }
}

/// The record's text from byte `start` of the block, for a rejects file to give back.
///
/// A plain value with bytes that are not UTF-8 comes back as the same value in base64
/// (`name:: ...`), so the rejects file keeps its bytes rather than U+FFFD; only a comment
/// or a line that is not `name: value` is converted lossily.
fn raw_text(blocks: &Blocks, start: usize) -> String {
    let raw = &blocks.raw[start..];
    if let Ok(s) = std::str::from_utf8(raw) {
        return s.to_owned();
    }
    let end_of = |phys: usize| blocks.starts.get(phys).copied().unwrap_or(blocks.raw.len());
    let mut out = String::with_capacity(raw.len() + raw.len() / 2);
    let mut logical = blocks.lines.iter().peekable();
    let mut phys = blocks.starts.partition_point(|&s| s < start);
    while phys < blocks.starts.len() {
        while logical.next_if(|l| l.phys < phys).is_some() {}
        let (to, value) = match logical.peek() {
            Some(l) if l.phys == phys => (l.phys_end, Some(blocks.line(l))),
            _ => (phys + 1, None),
        };
        let bytes = &blocks.raw[blocks.starts[phys]..end_of(to)];
        match (std::str::from_utf8(bytes), value.map(split_line)) {
            (Ok(s), _) => out.push_str(s),
            (Err(_), Some(Ok((name, ValueKind::Plain, value)))) => {
                out.push_str(line::ascii(name));
                out.push_str(":: ");
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(value));
                out.push('\n');
            }
            (Err(_), _) => out.push_str(&String::from_utf8_lossy(bytes)),
        }
        phys = to;
    }
    out
}

fn into_bad(item: SourceItem, p: Problem) -> SourceItem {
    match item {
        SourceItem::Record(r) => SourceItem::Bad(BadRecord {
            origin: r.origin,
            raw: r.raw,
            problems: vec![p],
            partial: None,
        }),
        SourceItem::Bad(mut b) => {
            b.problems.push(p);
            SourceItem::Bad(b)
        }
    }
}
