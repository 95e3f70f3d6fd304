//! LDIF source: a streaming RFC 2849 reader of our own.
//!
//! The input is read one *block* at a time (the lines up to the next blank line), so memory
//! depends on the largest record, never on the file. A block is unfolded into logical lines
//! (a line starting with one space continues the previous one; `#` lines, folded or not, are
//! comments), then parsed as a content record or a change record (`changetype:` add, delete,
//! modify; `modrdn`/`moddn` are reported as unsupported).
//!
//! Every record keeps its exact text ([`RawText::Text`]) so a rejects file can give it back.
//! A malformed record becomes one [`SourceItem::Bad`] and reading goes on at the next blank
//! line. Truncation is never silent: a block with no `dn:` that follows a record means a stray
//! blank line cut that record, so both the block *and* the record before it are reported Bad
//! (each record is held back until the next block has been seen).
//!
//! Values: `attr: text`, `attr:: base64` (decoded bytes; UTF-8 stays text) and
//! `attr:< file:...` URLs. Only local `file:` URLs are read: `file:///abs/path`,
//! `file://localhost/abs/path`, `file:/abs/path`, and the relative form `file:rel/path`
//! (as OpenLDAP's ldapmodify accepts it), resolved against the LDIF file's directory (the
//! current directory for stdin). Reads are capped at `url_max_bytes` (default 1 MiB).
//! URLs are refused (per record) unless `allow_file_urls` names a folder, and then only a
//! file inside that folder is read, once `..` and symlinks are resolved: an LDIF file from
//! elsewhere must not turn `/etc/shadow` or `/proc/self/environ` into a user's name. Values
//! read from URLs are listed in [`RawRecord::url_values`] so later messages can hide them.
//!
//! The DN is kept in [`RawRecord::dn`] and its first RDN's values are added to the
//! attributes when the entry lacks that attribute (LDAP semantics: the RDN is part of the
//! entry). Error messages name lines and attributes but never quote values, which may be
//! passwords.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{Format, Source, SourceError, SourceItem, SourceOptions};
use crate::model::{
    Attrs, BadRecord, Change, ModKind, ModOp, Origin, Problem, RawRecord, RawText, Value,
};

/// Largest value a `file:` URL may bring in when the options say nothing.
pub const DEFAULT_URL_MAX_BYTES: u64 = 1 << 20;

/// Largest record kept in memory; a bigger one is skipped and reported.
const MAX_RECORD_BYTES: usize = 64 << 20;

const READ_BUFFER: usize = 256 << 10;

/// Lenient about padding and trailing bits, as ldapmodify and python-ldap are.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// One logical (unfolded) line of the current block.
#[derive(Clone, Copy, Debug)]
struct LLine {
    /// 1-based physical line number of its first line.
    line: u64,
    /// Its bytes in `LdifSource::text`.
    start: usize,
    end: usize,
    /// Index of its first physical line in `LdifSource::starts`, and one past its last.
    phys: usize,
    phys_end: usize,
}

/// A record waiting until the next block shows it was not cut by a stray blank line.
struct Held {
    item: SourceItem,
    /// Line of its `dn:`.
    dn_line: u64,
    /// The blank line that ended it.
    blank: Option<u64>,
}

/// How a block ended.
struct BlockEnd {
    /// Line number of the blank line that ended it (`None` at end of input).
    blank: Option<u64>,
    /// The block exceeded [`MAX_RECORD_BYTES`]; its text was not kept.
    oversize: bool,
}

pub struct LdifSource {
    spec: String,
    name: String,
    reader: BufReader<Box<dyn Read + Send>>,
    base_dir: Option<PathBuf>,
    url_max: u64,
    /// The resolved `allow_file_urls` folder (`Err`: it could not be resolved).
    allow_dir: Option<Result<PathBuf, String>>,
    /// Physical lines consumed so far.
    line_no: u64,
    /// The current block, CR stripped, every line ending in `\n`.
    raw: Vec<u8>,
    /// Offset in `raw` of each physical line of the block.
    starts: Vec<usize>,
    /// Line number of the block's first line.
    block_first: u64,
    /// The block's logical lines, unfolded, comments dropped.
    text: Vec<u8>,
    lines: Vec<LLine>,
    /// A block that starts with a continuation line: its line number.
    stray: Option<u64>,
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
            reader: BufReader::with_capacity(READ_BUFFER, reader),
            base_dir,
            url_max: opts.url_max_bytes.unwrap_or(DEFAULT_URL_MAX_BYTES),
            allow_dir: opts.allow_file_urls.as_ref().map(|d| {
                std::fs::canonicalize(d).map_err(|e| {
                    format!("--allow-file-urls {}: cannot resolve it: {e}", d.display())
                })
            }),
            line_no: 0,
            raw: Vec::with_capacity(4096),
            starts: Vec::with_capacity(64),
            block_first: 1,
            text: Vec::with_capacity(4096),
            lines: Vec::with_capacity(64),
            stray: None,
            held: None,
            ready: VecDeque::new(),
            seen_content: false,
            eof: false,
            warnings: Vec::new(),
        }
    }

    /// Reads the lines up to the next blank line into `raw`/`starts`. `None` at end of input.
    ///
    /// Scans the reader's buffer directly rather than calling `read_until` per line: this
    /// loop is most of the reader's cost on large files.
    fn read_block(&mut self) -> Result<Option<BlockEnd>, SourceError> {
        self.raw.clear();
        self.starts.clear();
        let mut in_block = false;
        let mut oversize = false;
        // The line being read: where it starts in `raw`, its length so far, its first byte.
        let mut pending = false;
        let mut line_start = 0;
        let mut cur_len = 0usize;
        let mut cur_first = 0u8;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SourceError::io(self.spec.clone(), e)),
            };
            let eof = buf.is_empty();
            if eof && !pending {
                return Ok(in_block.then_some(BlockEnd {
                    blank: None,
                    oversize,
                }));
            }
            let (chunk_len, found) = match find_newline(buf) {
                Some(p) => (p, true),
                None => (buf.len(), eof),
            };
            let chunk = &buf[..chunk_len];
            if !pending {
                pending = true;
                line_start = self.raw.len();
                cur_len = 0;
            }
            if cur_len == 0
                && let Some(&b) = chunk.first()
            {
                cur_first = b;
            }
            cur_len += chunk_len;
            if !oversize {
                if self.raw.len() + chunk_len > MAX_RECORD_BYTES {
                    // Too big to keep: drop the block's text and skip to its end.
                    oversize = true;
                    self.raw.clear();
                    self.starts.clear();
                    if !in_block {
                        in_block = true;
                        self.block_first = self.line_no + 1;
                    }
                } else {
                    self.raw.extend_from_slice(chunk);
                }
            }
            let used = chunk_len + usize::from(found && !eof);
            self.reader.consume(used);
            if !found {
                continue;
            }
            pending = false;
            self.line_no += 1;
            let blank = cur_len == 0 || (cur_len == 1 && cur_first == b'\r');
            if blank {
                if !oversize {
                    self.raw.truncate(line_start);
                }
                if !in_block {
                    continue;
                }
                return Ok(Some(BlockEnd {
                    blank: Some(self.line_no),
                    oversize,
                }));
            }
            if !in_block {
                in_block = true;
                self.block_first = self.line_no;
            }
            if !oversize {
                if self.raw.last() == Some(&b'\r') {
                    self.raw.pop();
                }
                self.raw.push(b'\n');
                self.starts.push(line_start);
            }
            if eof {
                return Ok(Some(BlockEnd {
                    blank: None,
                    oversize,
                }));
            }
        }
    }

    /// Unfolds the block into `text`/`lines`, dropping comments.
    fn unfold(&mut self) {
        self.text.clear();
        self.lines.clear();
        self.stray = None;
        let mut in_comment = false;
        let n = self.starts.len();
        for i in 0..n {
            let s = self.starts[i];
            let e = if i + 1 < n {
                self.starts[i + 1]
            } else {
                self.raw.len()
            } - 1;
            let line = &self.raw[s..e];
            match line.first() {
                Some(b' ') => {
                    if in_comment || self.stray.is_some() {
                        continue;
                    }
                    match self.lines.last_mut() {
                        Some(last) => {
                            self.text.extend_from_slice(&line[1..]);
                            last.end = self.text.len();
                            last.phys_end = i + 1;
                        }
                        None => self.stray = Some(self.block_first + i as u64),
                    }
                }
                Some(b'#') => in_comment = true,
                _ => {
                    in_comment = false;
                    if self.stray.is_some() {
                        continue;
                    }
                    let start = self.text.len();
                    self.text.extend_from_slice(line);
                    self.lines.push(LLine {
                        line: self.block_first + i as u64,
                        start,
                        end: self.text.len(),
                        phys: i,
                        phys_end: i + 1,
                    });
                }
            }
        }
    }

    fn release_held(&mut self) {
        if let Some(h) = self.held.take() {
            self.ready.push_back(h.item);
        }
    }

    fn handle_block(&mut self, end: BlockEnd) {
        let last_line = self.line_no - u64::from(end.blank.is_some());
        if end.oversize {
            self.release_held();
            self.ready.push_back(SourceItem::Bad(BadRecord {
                origin: Origin::line(&self.name, self.block_first),
                raw: RawText::None,
                problems: vec![Problem::record(format!(
                    "record of lines {}-{last_line} is larger than {} MiB; skipped",
                    self.block_first,
                    MAX_RECORD_BYTES >> 20
                ))],
            }));
            return;
        }
        self.unfold();
        if self.lines.is_empty() && self.stray.is_none() {
            return; // comments only
        }

        let mut first = 0;
        if self.stray.is_none() {
            let l = self.lines[0];
            let bytes = &self.text[l.start..l.end];
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
                        .starts
                        .get(l.phys_end)
                        .copied()
                        .unwrap_or(self.raw.len());
                    let raw = &self.raw[self.starts[l.phys]..line_end];
                    self.ready.push_back(SourceItem::Bad(BadRecord {
                        origin: Origin::line(&self.name, l.line),
                        raw: RawText::Text(String::from_utf8_lossy(raw).into_owned()),
                        problems: vec![Problem::new(
                            "version",
                            "unsupported LDIF version (only version: 1 exists)",
                        )],
                    }));
                }
                if self.lines.len() == 1 {
                    self.seen_content = true;
                    return;
                }
            }
        }
        self.seen_content = true;

        let is_dn = self.stray.is_none() && {
            let l = self.lines[first];
            has_name(&self.text[l.start..l.end], b"dn")
        };
        // The record's text: the whole block (with its comments) but not a version: line.
        let raw_start = if first == 0 {
            0
        } else {
            self.starts[self.lines[0].phys_end]
        };
        let raw_text = text_of(&self.raw[raw_start..]);

        if !is_dn {
            let line = match self.stray {
                Some(l) => l,
                None => self.lines[first].line,
            };
            let what = if self.stray.is_some() {
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
            }));
            return;
        }

        let ctx = Ctx {
            base_dir: self.base_dir.as_deref(),
            url_max: self.url_max,
            allow_dir: self.allow_dir.as_ref().map(|r| r.as_deref()),
            url_values: std::cell::RefCell::new(Vec::new()),
        };
        let dn_line = self.lines[first].line;
        let origin = Origin::line(&self.name, dn_line);
        let item = parse_record(&ctx, &self.text, &self.lines[first..], origin, raw_text);
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
            match self.read_block()? {
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

/// Position of the first `\n`, eight bytes at a time (std keeps its memchr private).
fn find_newline(h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut chunks = h.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ NL;
        // A zero byte in x is a newline; the lowest flagged byte is always a true one.
        let t = x.wrapping_sub(LO) & !x & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| i + p)
}

/// Lossless when the text is UTF-8 (the usual case), without the cost of the lossy path.
fn text_of(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// `Attrs::push`, trying the last attribute first: repeated names are usually adjacent.
fn push_attr(attrs: &mut Attrs, name: &str, value: Value) {
    let found = match attrs.0.last() {
        Some((n, _)) if n.eq_ignore_ascii_case(name) => Some(attrs.0.len() - 1),
        _ => attrs
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name)),
    };
    match found {
        Some(i) => attrs.0[i].1.push(value),
        None => attrs.0.push((name.into(), smallvec::smallvec![value])),
    }
}

fn into_bad(item: SourceItem, p: Problem) -> SourceItem {
    match item {
        SourceItem::Record(r) => SourceItem::Bad(BadRecord {
            origin: r.origin,
            raw: r.raw,
            problems: vec![p],
        }),
        SourceItem::Bad(mut b) => {
            b.problems.push(p);
            SourceItem::Bad(b)
        }
    }
}

struct Ctx<'a> {
    base_dir: Option<&'a Path>,
    url_max: u64,
    allow_dir: Option<Result<&'a Path, &'a String>>,
    /// Values read from URLs for the current record (they may be secrets: hidden later).
    url_values: std::cell::RefCell<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    /// `attr: value`
    Plain,
    /// `attr:: base64`
    Base64,
    /// `attr:< url`
    Url,
}

/// Splits a logical line into attribute description, value kind and the value text
/// (leading spaces removed).
fn split_line(line: &[u8]) -> Result<(&[u8], ValueKind, &[u8]), &'static str> {
    // One pass finds the colon and checks the name on the way, a table lookup per byte.
    let mut colon = None;
    let mut name_ok = line.first().is_some_and(u8::is_ascii_alphanumeric);
    for (i, &b) in line.iter().enumerate() {
        match NAME_BYTES[b as usize] {
            NAME => {}
            COLON => {
                colon = Some(i);
                break;
            }
            _ => name_ok = false,
        }
    }
    let Some(colon) = colon else {
        return Err(if is_dash(line) {
            "'-' is only valid between the sections of a modify record"
        } else {
            "no colon in this line (a continuation line must start with one space)"
        });
    };
    let name = &line[..colon];
    if !name_ok {
        return Err("invalid attribute name before the colon");
    }
    let rest = &line[colon + 1..];
    let (kind, rest) = match rest.first() {
        Some(b':') => (ValueKind::Base64, &rest[1..]),
        Some(b'<') => (ValueKind::Url, &rest[1..]),
        _ => (ValueKind::Plain, rest),
    };
    let skip = rest.iter().take_while(|&&b| b == b' ').count();
    Ok((name, kind, &rest[skip..]))
}

const OTHER: u8 = 0;
const NAME: u8 = 1;
const COLON: u8 = 2;

/// Bytes of an AttributeDescription (`A-Z a-z 0-9 - ; .`) and the colon after it.
static NAME_BYTES: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b';' || c == b'.' {
            t[b] = NAME;
        }
        b += 1;
    }
    t[b':' as usize] = COLON;
    t
};

/// Whether a line is `name:...` (ASCII case ignored): what `split_line` would find, cheaply.
fn has_name(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[name.len()] == b':'
        && line[..name.len()].eq_ignore_ascii_case(name)
}

/// RFC 2849 AttributeDescription: a name or OID, then `;options`.
fn valid_attr_desc(name: &[u8]) -> bool {
    match name.first() {
        Some(b) if b.is_ascii_alphanumeric() => name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b';' || b == b'.'),
        _ => false,
    }
}

/// Without an early exit, so it vectorises: values are short and almost never have one.
fn has_nul_or_cr(v: &[u8]) -> bool {
    v.iter()
        .fold(false, |acc, &b| acc | (b == 0) | (b == b'\r'))
}

fn is_dash(line: &[u8]) -> bool {
    line.first() == Some(&b'-') && line[1..].iter().all(|&b| b == b' ')
}

fn trim_end_spaces(v: &[u8]) -> &[u8] {
    let n = v.iter().rev().take_while(|&&b| b == b' ').count();
    &v[..v.len() - n]
}

fn is_mod_keyword(name: &[u8]) -> Option<ModKind> {
    if name.eq_ignore_ascii_case(b"add") {
        Some(ModKind::Add)
    } else if name.eq_ignore_ascii_case(b"delete") {
        Some(ModKind::Delete)
    } else if name.eq_ignore_ascii_case(b"replace") {
        Some(ModKind::Replace)
    } else if name.eq_ignore_ascii_case(b"increment") {
        Some(ModKind::Increment)
    } else {
        None
    }
}

/// Names have passed `split_line`'s or `valid_attr_desc`'s check, so they are ASCII.
fn ascii(name: &[u8]) -> &str {
    std::str::from_utf8(name).unwrap_or("?")
}

/// Decodes an attribute value, reading `file:` URLs.
fn decode_value(
    ctx: &Ctx,
    kind: ValueKind,
    value: &[u8],
    attr: &str,
    line: u64,
) -> Result<Vec<u8>, Problem> {
    match kind {
        ValueKind::Plain => {
            if has_nul_or_cr(value) {
                return Err(Problem::new(
                    attr,
                    format!(
                        "line {line}: value contains a NUL or CR byte (it must be base64-encoded with ::)"
                    ),
                ));
            }
            Ok(value.to_vec())
        }
        ValueKind::Base64 => BASE64.decode(trim_end_spaces(value)).map_err(|e| {
            Problem::new(
                attr,
                format!("line {line}: base64 value does not decode ({e})"),
            )
        }),
        ValueKind::Url => {
            let v = read_url(ctx, trim_end_spaces(value))
                .map_err(|e| Problem::new(attr, format!("line {line}: {e}")))?;
            ctx.url_values
                .borrow_mut()
                .push(String::from_utf8_lossy(&v).into_owned());
            Ok(v)
        }
    }
}

/// Reads a `file:` URL value, capped at `ctx.url_max` bytes.
fn read_url(ctx: &Ctx, url: &[u8]) -> Result<Vec<u8>, String> {
    let url = std::str::from_utf8(url).map_err(|_| "URL is not valid UTF-8".to_string())?;
    if !url
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("file:"))
    {
        let scheme = url
            .split(':')
            .next()
            .filter(|s| s.len() < url.len())
            .unwrap_or("");
        return Err(if scheme.is_empty() {
            format!("'{url}' is not a URL (only file: URLs are read)")
        } else {
            format!("unsupported URL scheme '{scheme}:' (only file: URLs are read)")
        });
    }
    let rest = &url[5..];
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let slash = after.find('/').unwrap_or(after.len());
            let host = &after[..slash];
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                return Err(format!(
                    "file URL names host '{host}'; only local files are read (file:///absolute/path or file:relative/path)"
                ));
            }
            &after[slash..]
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(format!("file URL '{url}' has no path"));
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let p = path_from_bytes(bytes);
    let full = match ctx.base_dir {
        Some(base) if p.is_relative() => base.join(p),
        _ => p,
    };
    let dir = match ctx.allow_dir {
        None => return Err("file:// URLs are refused; use --allow-file-urls DIR".into()),
        Some(Err(e)) => return Err(e.clone()),
        Some(Ok(d)) => d,
    };
    // Resolved before the check and opened by the resolved name, so neither `..` nor a
    // symlink leads outside DIR.
    let outside = |p: &Path| {
        format!(
            "{} is outside the --allow-file-urls folder {}",
            p.display(),
            dir.display()
        )
    };
    let full = match std::fs::canonicalize(&full) {
        Ok(f) => f,
        // Whether a file outside DIR exists is not for the LDIF file to find out.
        Err(e) => {
            let inside = full
                .parent()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| p.starts_with(dir));
            return Err(match e.kind() {
                _ if !inside => outside(&full),
                io::ErrorKind::NotFound => format!("file not found: {}", full.display()),
                _ => format!("cannot read {}: {e}", full.display()),
            });
        }
    };
    if !full.starts_with(dir) {
        return Err(outside(&full));
    }
    let meta = std::fs::metadata(&full).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("file not found: {}", full.display()),
        _ => format!("cannot read {}: {e}", full.display()),
    })?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", full.display()));
    }
    if meta.len() > ctx.url_max {
        return Err(too_big(&full, ctx.url_max));
    }
    let f =
        std::fs::File::open(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(ctx.url_max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    // The file may have grown since the metadata call.
    if out.len() as u64 > ctx.url_max {
        return Err(too_big(&full, ctx.url_max));
    }
    Ok(out)
}

fn too_big(p: &Path, cap: u64) -> String {
    format!(
        "{} is larger than the {cap}-byte limit for URL values",
        p.display()
    )
}

#[cfg(unix)]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

#[cfg(not(unix))]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&b).into_owned())
}

fn ll<'a>(text: &'a [u8], l: &LLine) -> &'a [u8] {
    &text[l.start..l.end]
}

/// Parses one record: `lines[0]` is its `dn:` line.
fn parse_record(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    origin: Origin,
    raw: String,
) -> SourceItem {
    let mut problems = Vec::new();
    let dn = match decode_dn(ll(text, &lines[0])) {
        Ok(dn) => Some(dn),
        Err(e) => {
            problems.push(Problem::new("dn", format!("line {}: {e}", lines[0].line)));
            None
        }
    };

    let mut rest = &lines[1..];
    let mut controls = None;
    while let Some(l) = rest.first()
        && has_name(ll(text, l), b"control")
    {
        // RFC 2849 controls are accepted and ignored: roster sends no LDAP operations.
        controls.get_or_insert(l.line);
        rest = &rest[1..];
    }
    let mut changetype = None;
    if let Some(l) = rest.first()
        && has_name(ll(text, l), b"changetype")
        && let Ok((_, kind, value)) = split_line(ll(text, l))
    {
        let v = match kind {
            ValueKind::Plain => String::from_utf8_lossy(trim_end_spaces(value)).into_owned(),
            ValueKind::Base64 => BASE64
                .decode(trim_end_spaces(value))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            ValueKind::Url => String::new(),
        };
        changetype = Some((v.to_ascii_lowercase(), l.line));
        rest = &rest[1..];
    }
    if changetype.is_none()
        && let Some(line) = controls
    {
        problems.push(Problem::record(format!(
            "line {line}: control: is only allowed in a change record (before changetype:)"
        )));
    }

    let mut attrs = Attrs(Vec::with_capacity(lines.len()));
    let change = match changetype.as_ref().map(|(c, l)| (c.as_str(), *l)) {
        None | Some(("add", _)) => {
            parse_attrvals(ctx, text, rest, &mut attrs, &mut problems);
            if attrs.is_empty() && problems.is_empty() {
                problems.push(Problem::record(if changetype.is_some() {
                    "changetype add with no attributes"
                } else {
                    "entry has no attributes"
                }));
            }
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Entry
        }
        Some(("delete", _)) => {
            if let Some(l) = rest.first() {
                problems.push(Problem::record(format!(
                    "line {}: a changetype delete record takes no further lines",
                    l.line
                )));
            }
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Delete
        }
        Some(("modify", _)) => {
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Modify(parse_modify(ctx, text, rest, &mut attrs, &mut problems))
        }
        Some((c @ ("modrdn" | "moddn"), _)) => {
            problems.push(Problem::record(format!("changetype {c} is not supported")));
            Change::Entry
        }
        Some((_, line)) => {
            problems.push(Problem::record(format!(
                "line {line}: unknown changetype (expected add, delete, modify, modrdn or moddn)"
            )));
            Change::Entry
        }
    };

    if problems.is_empty() {
        SourceItem::Record(RawRecord {
            origin,
            dn,
            change,
            attrs,
            raw: RawText::Text(raw),
            url_values: ctx.url_values.take(),
        })
    } else {
        SourceItem::Bad(BadRecord {
            origin,
            raw: RawText::Text(raw),
            problems,
        })
    }
}

/// The DN of a `dn:` or `dn::` line.
fn decode_dn(line: &[u8]) -> Result<String, String> {
    let (_, kind, value) = split_line(line).map_err(str::to_string)?;
    let bytes = match kind {
        ValueKind::Plain => Cow::Borrowed(value),
        ValueKind::Base64 => Cow::Owned(
            BASE64
                .decode(trim_end_spaces(value))
                .map_err(|e| format!("base64 DN does not decode ({e})"))?,
        ),
        ValueKind::Url => return Err("a DN cannot be given as a URL (dn:<)".into()),
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err("DN is not valid UTF-8".into()),
    }
}

/// Adds the first RDN's values to `attrs` for attributes it does not have yet.
fn rdn_attrs(dn: &str, attrs: &mut Attrs, problems: &mut Vec<Problem>) {
    let mut add: Vec<(String, String)> = Vec::new();
    let res = walk_dn(dn, |rdn, ty, value| {
        if rdn == 0 && !attrs.contains(ty) {
            add.push((ty.to_string(), value.into_owned()));
        }
    });
    match res {
        Ok(()) => {
            for (ty, v) in add {
                attrs.push(&ty, Value::Text(v));
            }
        }
        Err(e) => problems.push(Problem::new("dn", format!("invalid DN: {e}"))),
    }
}

/// Attribute lines of a content or add record.
fn parse_attrvals(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    attrs: &mut Attrs,
    problems: &mut Vec<Problem>,
) {
    for l in lines {
        let (name, kind, value) = match split_line(ll(text, l)) {
            Ok(x) => x,
            Err(e) => {
                problems.push(Problem::record(format!("line {}: {e}", l.line)));
                continue;
            }
        };
        if name.eq_ignore_ascii_case(b"dn") {
            problems.push(Problem::record(format!(
                "line {}: a second dn: inside one record (is the blank line before it missing?)",
                l.line
            )));
            return;
        }
        if name.eq_ignore_ascii_case(b"changetype") || name.eq_ignore_ascii_case(b"control") {
            problems.push(Problem::record(format!(
                "line {}: {}: must come right after the dn: line",
                l.line,
                ascii(name)
            )));
            continue;
        }
        let attr = ascii(name);
        if kind == ValueKind::Plain && !has_nul_or_cr(value) {
            // The common case, without decode_value's Result.
            push_attr(attrs, attr, Value::from_bytes(value.to_vec()));
            continue;
        }
        match decode_value(ctx, kind, value, attr, l.line) {
            Ok(bytes) => push_attr(attrs, attr, Value::from_bytes(bytes)),
            Err(p) => problems.push(p),
        }
    }
}

/// The sections of a modify record. Values of add and replace go into `attrs` too.
fn parse_modify(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    attrs: &mut Attrs,
    problems: &mut Vec<Problem>,
) -> Vec<ModOp> {
    let mut ops = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        let bytes = ll(text, l);
        if is_dash(bytes) {
            problems.push(Problem::record(format!(
                "line {}: '-' with no add:, delete:, replace: or increment: section before it",
                l.line
            )));
            return ops;
        }
        let (kw, kkind, kval) = match split_line(bytes) {
            Ok(x) => x,
            Err(e) => {
                problems.push(Problem::record(format!("line {}: {e}", l.line)));
                return ops;
            }
        };
        let Some(kind) = is_mod_keyword(kw) else {
            problems.push(Problem::record(format!(
                "line {}: expected add:, delete:, replace: or increment: in a modify record, found {}:",
                l.line,
                ascii(kw)
            )));
            return ops;
        };
        let attr_name = trim_end_spaces(kval);
        if kkind != ValueKind::Plain || !valid_attr_desc(attr_name) {
            problems.push(Problem::record(format!(
                "line {}: {}: must name an attribute",
                l.line,
                ascii(kw)
            )));
            return ops;
        }
        let attr = ascii(attr_name).to_string();
        let kw = ascii(kw).to_ascii_lowercase();
        let section_line = l.line;
        i += 1;
        let mut values = Vec::new();
        while i < lines.len() {
            let l = &lines[i];
            let bytes = ll(text, l);
            if is_dash(bytes) {
                i += 1;
                break;
            }
            let (name, vkind, value) = match split_line(bytes) {
                Ok(x) => x,
                Err(e) => {
                    problems.push(Problem::record(format!("line {}: {e}", l.line)));
                    return ops;
                }
            };
            if !name.eq_ignore_ascii_case(attr.as_bytes()) {
                problems.push(Problem::record(if is_mod_keyword(name).is_some() {
                    format!(
                        "line {}: missing '-' before this line to end the '{kw}: {attr}' section of line {section_line}",
                        l.line
                    )
                } else {
                    format!(
                        "line {}: attribute {} does not match the '{kw}: {attr}' section of line {section_line}",
                        l.line,
                        ascii(name)
                    )
                }));
                return ops;
            }
            match decode_value(ctx, vkind, value, &attr, l.line) {
                Ok(b) => values.push(Value::from_bytes(b)),
                Err(p) => problems.push(p),
            }
            i += 1;
        }
        if matches!(kind, ModKind::Add | ModKind::Replace) {
            for v in &values {
                attrs.push(&attr, v.clone());
            }
        }
        ops.push(ModOp { kind, attr, values });
    }
    ops
}

// ---------------------------------------------------------------------------------------
// Distinguished names (RFC 4514)

/// Parses a DN into RDNs of `(attribute type, value)` pairs, values unescaped.
///
/// Follows RFC 4514 (escapes `\,` `\+` `\\` ..., hex pairs `\23`, `#hex` BER values,
/// multi-valued RDNs with `+`), and like most LDAP libraries also accepts spaces around
/// `,` `+` `=` and `;` as RDN separator (RFC 2253/1779 habits). A `#hex` value that is a
/// BER string is decoded; any other is returned as written. The empty DN has no RDNs.
pub fn parse_dn(dn: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    walk_dn(dn, |rdn, ty, value| {
        if out.len() <= rdn {
            out.push(Vec::new());
        }
        out[rdn].push((ty.to_string(), value.into_owned()));
    })?;
    Ok(out)
}

/// Escapes an attribute value for a DN (RFC 4514): `"+,;<>\` anywhere, `#` or space at the
/// start, space at the end, and control characters as hex pairs (so a DN stays one line).
pub fn escape_dn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let last = v.len().saturating_sub(1);
    for (i, c) in v.char_indices() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_ascii_control() => {
                out.push_str(&format!("\\{:02x}", c as u8));
            }
            c => out.push(c),
        }
    }
    out
}

/// Walks a DN, calling `f(rdn index, type, value)` for each attribute value assertion.
/// Values without escapes are borrowed, so reading a record costs no allocation here.
fn walk_dn<'a>(dn: &'a str, mut f: impl FnMut(usize, &'a str, Cow<'a, str>)) -> Result<(), String> {
    let b = dn.as_bytes();
    let n = b.len();
    let skip_spaces = |mut i: usize| {
        while i < n && b[i] == b' ' {
            i += 1;
        }
        i
    };
    let mut i = skip_spaces(0);
    if i == n {
        return Ok(());
    }
    let mut rdn = 0;
    loop {
        i = skip_spaces(i);
        // Attribute type: a keystring or a numeric OID.
        let ts = i;
        if i < n && b[i].is_ascii_alphabetic() {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
                i += 1;
            }
        } else if i < n && b[i].is_ascii_digit() {
            loop {
                if i < n && b[i] == b'0' {
                    i += 1;
                } else if i < n && b[i].is_ascii_digit() {
                    while i < n && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    return Err(format!("invalid numeric OID at position {}", i + 1));
                }
                if i < n && b[i] == b'.' {
                    i += 1;
                } else {
                    break;
                }
            }
            if i < n && b[i].is_ascii_alphanumeric() {
                return Err(format!("invalid numeric OID at position {}", ts + 1));
            }
        } else {
            return Err(if i >= n {
                "missing attribute type at the end (trailing separator?)".to_string()
            } else {
                format!("expected an attribute type at position {}", i + 1)
            });
        }
        let ty = &dn[ts..i];
        i = skip_spaces(i);
        if i >= n || b[i] != b'=' {
            return Err(format!("expected '=' after attribute type {ty}"));
        }
        i = skip_spaces(i + 1);

        // Value.
        let value: Cow<'a, str>;
        if i < n && b[i] == b'#' {
            let hs = i + 1;
            i = hs;
            while i < n && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            let hex = &dn[hs..i];
            if hex.is_empty() || !hex.len().is_multiple_of(2) {
                return Err(format!("invalid #hex value for {ty}"));
            }
            let end = skip_spaces(i);
            if end < n && !matches!(b[end], b',' | b';' | b'+') {
                return Err(format!("invalid #hex value for {ty}"));
            }
            value = match ber_string(hex) {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(&dn[hs - 1..i]),
            };
            i = end;
        } else {
            let vs = i;
            let mut escaped = false;
            while i < n {
                match b[i] {
                    b',' | b';' | b'+' => break,
                    b'\\' => {
                        escaped = true;
                        if i + 1 < n && is_dn_special(b[i + 1]) {
                            i += 2;
                        } else if i + 2 < n
                            && b[i + 1].is_ascii_hexdigit()
                            && b[i + 2].is_ascii_hexdigit()
                        {
                            i += 3;
                        } else {
                            return Err(format!("invalid escape in the value of {ty}"));
                        }
                    }
                    c @ (b'"' | b'<' | b'>' | 0) => {
                        return Err(format!(
                            "unescaped {} in the value of {ty}",
                            if c == 0 {
                                "NUL".to_string()
                            } else {
                                format!("'{}'", c as char)
                            }
                        ));
                    }
                    _ => i += 1,
                }
            }
            let raw = &dn[vs..i];
            value =
                if escaped {
                    Cow::Owned(unescape_dn_value(raw).ok_or_else(|| {
                        format!("escaped bytes in the value of {ty} are not UTF-8")
                    })?)
                } else {
                    Cow::Borrowed(raw.trim_end_matches(' '))
                };
        }
        f(rdn, ty, value);
        if i >= n {
            return Ok(());
        }
        match b[i] {
            b'+' => {}
            _ => rdn += 1,
        }
        i += 1;
    }
}

fn is_dn_special(c: u8) -> bool {
    matches!(
        c,
        b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b' ' | b'#' | b'='
    )
}

/// Unescapes a checked DN value, dropping unescaped trailing spaces.
fn unescape_dn_value(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut keep = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if is_dn_special(b[i + 1]) {
                out.push(b[i + 1]);
                i += 2;
            } else {
                out.push(hex_val(b[i + 1]) << 4 | hex_val(b[i + 2]));
                i += 3;
            }
            keep = out.len();
        } else {
            out.push(b[i]);
            if b[i] != b' ' {
                keep = out.len();
            }
            i += 1;
        }
    }
    out.truncate(keep);
    String::from_utf8(out).ok()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Decodes a `#hex` DN value holding a BER string (OCTET STRING, UTF8String, PrintableString,
/// T61String, IA5String, VisibleString) with a definite length.
fn ber_string(hex: &str) -> Option<String> {
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|p| hex_val(p[0]) << 4 | hex_val(p[1]))
        .collect();
    let (&tag, rest) = bytes.split_first()?;
    if !matches!(tag, 0x04 | 0x0c | 0x13 | 0x14 | 0x16 | 0x1a) {
        return None;
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, body) = match l0 {
        0..=0x7f => (l0 as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 if rest.len() >= 2 => ((rest[0] as usize) << 8 | rest[1] as usize, &rest[2..]),
        _ => return None,
    };
    if body.len() != len {
        return None;
    }
    String::from_utf8(body.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_escapes_and_multivalued_rdns() {
        let d = parse_dn("OU=Sales+CN=J. Smith,DC=example,DC=net").unwrap();
        assert_eq!(
            d[0],
            vec![
                ("OU".into(), "Sales".into()),
                ("CN".into(), "J. Smith".into())
            ]
        );
        assert_eq!(d.len(), 3);
        let d = parse_dn("CN=\\23John Smith\\20,DC=example").unwrap();
        assert_eq!(d[0][0].1, "#John Smith ");
        let d = parse_dn("1.3.6.1.4.1.1466.0=#04024869,DC=example,DC=com").unwrap();
        assert_eq!(d[0][0], ("1.3.6.1.4.1.1466.0".into(), "Hi".into()));
        assert_eq!(parse_dn("").unwrap(), Vec::<Vec<(String, String)>>::new());
        assert_eq!(parse_dn("uid=a , dc=b").unwrap()[0][0].1, "a");
    }

    #[test]
    fn escape_round_trips() {
        for v in [
            " a ",
            "#x",
            "a,b+c;d<e>f\"g\\h",
            "line\nbreak",
            "",
            " ",
            "Lučić =x",
        ] {
            let dn = format!("uid={},dc=x", escape_dn_value(v));
            assert_eq!(parse_dn(&dn).unwrap()[0][0].1, v, "{dn}");
        }
    }
}
