//! CSV and TSV source: one [`RawRecord`] per data row, cells named by the header row.
//!
//! Parsing is done by csv-core, the parser inside the csv crate, driven over our own input
//! buffer. The csv crate's `Reader` would do the same work, but its `Position::line()` is
//! wrong for CRLF files (each row reports the line before it) and after blank lines; driving
//! csv-core ourselves lets us see every consumed byte and cite each row's exact first
//! physical line. csv-core never fails: every byte sequence parses as *some* rows, so
//! malformed input becomes row-level problems here, never a fatal error.
//!
//! Memory is one input buffer, one record buffer (as large as the largest row, capped by
//! `--max-record-size`: a longer row is skipped with an error, read to its end without
//! being kept) and the header.
//!
//! A cell that is `'` followed by a formula-like value (`'=x`, `''-1`) loses that one `'`:
//! roster's CSV writers add it so spreadsheets do not run formulas
//! ([`crate::csv_syntax::neutralize_formula`]).

use std::io::{self, Read};

use csv_core::{ReadRecordResult, Terminator};

use super::encoding::{self, Encoding};
use super::{
    CsvDialect, Format, Source, SourceError, SourceItem, SourceOptions, open_input, origin_name,
};
// Undoes exactly what roster's CSV writers do to formula-like cells, so round trips are exact.
use crate::csv_syntax::{UTF8_BOM, default_multi_sep, restore_formula, restore_formula_in_place};
use crate::model::{Attrs, BadRecord, Change, FieldValue, Origin, Problem, RawRecord, RawText};

/// Input buffer size; also how much of the input delimiter detection looks at.
const BUF_SIZE: usize = 64 * 1024;
/// Delimiter detection looks at this many non-blank lines at most.
const SNIFF_LINES: usize = 20;
/// Fields in one row, at most: a longer row is skipped like one over the size cap.
const MAX_ROW_FIELDS: usize = 1 << 20;

/// The delimiters detection chooses among, in tie-breaking order.
pub const DELIMITER_CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Reads CSV or TSV rows as raw records. See the module documentation.
pub struct CsvSource {
    spec: String,
    /// File name used in origins (`users.csv:12`).
    name: String,
    format: Format,
    input: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    core: csv_core::Reader,
    /// The current row: field bytes back to back, and where each field ends.
    row: Vec<u8>,
    ends: Vec<usize>,
    /// Lone CRs consumed: with csv-core's LF count, the physical line.
    crs: LoneCrs,
    dialect: CsvDialect,
    /// The header names, shared by every row's attributes.
    names: Vec<crate::model::Name>,
    encoding: Encoding,
    /// Auto encoding: a row was already read as Windows-1252 (the warning is given once).
    fell_back: bool,
    warnings: Vec<String>,
    /// Rows with only empty cells, skipped: how many and the first one's line.
    empty_rows: u64,
    first_empty_row: u64,
    /// Added to csv-core's line count: the lines before the text being parsed again after
    /// an open quote (see [`Self::reread_after_open_quote`]).
    line_base: u64,
    /// The row just read ended with the input, inside a quoted field.
    open_quote: bool,
    /// The last physical line of the row just read.
    last_line: u64,
    /// The last byte read was a line end.
    tail_eol: bool,
    /// The row just read was cut at the first line of a quoted field that outgrew the size
    /// cap (a quote left open, taken for one): the line the quote opened on.
    cut_at: Option<u64>,
    /// The row just read was larger than `max_row`: it was read to its end, not kept.
    oversize: bool,
    /// `--max-record-size`.
    max_row: usize,
    done: bool,
}

impl CsvSource {
    /// Opens `spec` (a path, or `-` for stdin). `format` is [`Format::Csv`] or [`Format::Tsv`].
    pub fn open(spec: &str, format: Format, opts: &SourceOptions) -> Result<Self, SourceError> {
        let input = open_input(spec)?;
        let mut src = Self::from_boxed(input, &origin_name(spec), format, opts)?;
        src.spec = spec.to_string();
        Ok(src)
    }

    /// Reads from any reader; `name` stands for the file in origins and messages.
    /// Reads the start of the input (to detect the delimiter) and the header row now, so
    /// configuration problems (no header, duplicate column names) are reported here.
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        name: &str,
        format: Format,
        opts: &SourceOptions,
    ) -> Result<Self, SourceError> {
        Self::from_boxed(Box::new(reader), name, format, opts)
    }

    fn from_boxed(
        input: Box<dyn Read + Send>,
        name: &str,
        format: Format,
        opts: &SourceOptions,
    ) -> Result<Self, SourceError> {
        if let Some(d) = opts.delimiter
            && matches!(d, b'"' | b'\r' | b'\n')
        {
            return Err(SourceError::Config(format!(
                "{name}: {:?} cannot be the delimiter",
                char::from(d)
            )));
        }
        let columns = match (opts.no_headers, &opts.columns) {
            (true, None) => {
                return Err(SourceError::Config(format!(
                    "{name}: --no-headers needs --columns to name the columns, e.g. --columns username,email,name"
                )));
            }
            (false, Some(_)) => {
                return Err(SourceError::Config(format!(
                    "{name}: --columns is for files without a header row; add --no-headers, or drop --columns to use the header row"
                )));
            }
            (true, Some(c)) => {
                let names: Vec<String> = c.iter().map(|s| s.trim().to_string()).collect();
                check_column_names(&names)
                    .map_err(|e| SourceError::Config(format!("{name}: --columns {e}")))?;
                Some(names)
            }
            (false, None) => None,
        };

        let mut src = CsvSource {
            spec: name.to_string(),
            name: name.to_string(),
            format,
            input,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            core: csv_core::Reader::new(),
            // Never more than the cap: a row that fills it is over the cap.
            row: vec![0; (opts.max_record_bytes().saturating_add(1)).min(4096) as usize],
            ends: vec![0; 64],
            crs: LoneCrs::default(),
            dialect: CsvDialect {
                delimiter: b',',
                header: Vec::new(),
                headerless: opts.no_headers,
                multi_sep: ';',
                bom: false,
                crlf: false,
            },
            names: Vec::new(),
            encoding: opts.encoding,
            fell_back: false,
            warnings: Vec::new(),
            empty_rows: 0,
            first_empty_row: 0,
            line_base: 0,
            open_quote: false,
            last_line: 0,
            oversize: false,
            tail_eol: false,
            cut_at: None,
            max_row: usize::try_from(opts.max_record_bytes()).unwrap_or(usize::MAX),
            done: false,
        };
        src.fill_prefix()?;

        if matches!(opts.encoding, Encoding::Auto | Encoding::Utf8)
            && encoding::looks_like_utf16(&src.buf[..src.end])
        {
            return Err(SourceError::Config(format!(
                "{name}: looks like UTF-16 text; save it as UTF-8 (or Windows-1252) CSV"
            )));
        }
        if src.buf[..src.end].starts_with(UTF8_BOM) {
            src.pos = UTF8_BOM.len();
            src.dialect.bom = true;
            if matches!(opts.encoding, Encoding::Windows1252 | Encoding::Latin1) {
                src.warnings.push(format!(
                    "{name}: starts with a UTF-8 byte order mark but is read as {} as asked",
                    opts.encoding.name()
                ));
            }
        }
        // The first line end tells how lines end.
        src.dialect.crlf = src.buf[src.pos..src.end]
            .iter()
            .position(|&b| b == b'\n')
            .is_some_and(|i| i > 0 && src.buf[src.pos + i - 1] == b'\r');
        let delimiter = match (opts.delimiter, format) {
            (Some(d), _) => d,
            (None, Format::Tsv) => b'\t',
            (None, _) => sniff_delimiter(&src.buf[src.pos..src.end], src.eof),
        };
        src.core = parser(delimiter);
        src.dialect.delimiter = delimiter;
        src.dialect.multi_sep = opts.multi_sep.unwrap_or(default_multi_sep(delimiter));

        src.dialect.header = match columns {
            Some(names) => names,
            None => src.read_header()?,
        };
        src.names = src
            .dialect
            .header
            .iter()
            .map(|h| h.as_str().into())
            .collect();
        Ok(src)
    }

    /// Reads and checks the header row.
    fn read_header(&mut self) -> Result<Vec<String>, SourceError> {
        let Some((line, n)) = self.read_row()? else {
            return Err(SourceError::Config(format!(
                "{}: empty file: no header row (for a file without one use --no-headers --columns)",
                self.name
            )));
        };
        if self.oversize {
            return Err(SourceError::Config(format!(
                "{}:{line}: header row: {}",
                self.name,
                self.oversize_reason(line, self.last_line)
            )));
        }
        if self.open_quote {
            let opened = self.cut_at.unwrap_or_else(|| self.open_quote_lines(n).0);
            return Err(SourceError::Config(format!(
                "{}:{line}: header row: a quote opened at line {opened} is never closed",
                self.name
            )));
        }
        let fields = match decode_row(&self.row, &self.ends[..n], self.encoding) {
            Decoded::Text(f) => f,
            Decoded::Fallback(f) => {
                self.note_fallback(line);
                f
            }
            Decoded::Invalid { .. } => {
                return Err(SourceError::Config(format!(
                    "{}:{line}: the header row is not valid UTF-8 (use --encoding windows-1252)",
                    self.name
                )));
            }
        };
        let names: Vec<String> = fields.iter().map(|s| s.trim().to_string()).collect();
        check_column_names(&names)
            .map_err(|e| SourceError::Config(format!("{}:{line}: header row {e}", self.name)))?;
        Ok(names)
    }

    /// Reads until the buffer is full or the input ends, for delimiter detection.
    fn fill_prefix(&mut self) -> Result<(), SourceError> {
        while self.end < self.buf.len() {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SourceError::io(&self.spec, e)),
            }
        }
        Ok(())
    }

    /// Refills the buffer once everything in it was consumed.
    fn fill(&mut self) -> Result<(), SourceError> {
        if self.pos < self.end || self.eof {
            return Ok(());
        }
        loop {
            match self.input.read(&mut self.buf) {
                Ok(n) => {
                    self.pos = 0;
                    self.end = n;
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SourceError::io(&self.spec, e)),
            }
        }
    }

    /// The physical line csv-core has reached.
    fn line_now(&self) -> u64 {
        self.line_base + self.core.line() + self.crs.lone
    }

    /// Parses the next row into `row`/`ends`: its first line and field count, `None` at the
    /// end. A row that the end of the input cuts off inside a quoted field sets
    /// `open_quote`.
    fn read_row(&mut self) -> Result<Option<(u64, usize)>, SourceError> {
        let (mut out, mut nends) = (0, 0);
        let mut start: Option<u64> = None;
        self.open_quote = false;
        self.oversize = false;
        self.cut_at = None;
        let mut probed = false;
        loop {
            self.fill()?;
            if self.pos == self.end && self.eof && !probed {
                // csv-core ends a quoted field silently at the end of the input. A line end
                // fed first tells the cases apart: outside quotes it ends the row (or is
                // skipped); inside, it becomes part of the field.
                let (res, _, nout, nend) =
                    self.core
                        .read_record(b"\n", &mut self.row[out..], &mut self.ends[nends..]);
                match res {
                    ReadRecordResult::OutputFull => self.grow_row(&mut out),
                    ReadRecordResult::OutputEndsFull => self.grow_ends(&mut nends),
                    ReadRecordResult::Record => {
                        // The row had no line end: the probe's is counted.
                        self.last_line = self.line_now() - 1;
                        let line = start.unwrap_or(self.last_line);
                        return Ok(Some((line, nends + nend)));
                    }
                    ReadRecordResult::End => return Ok(None),
                    ReadRecordResult::InputEmpty => {
                        probed = true;
                        out += nout;
                        if nout > 0 {
                            // Inside quotes: the line end is not the field's; the empty
                            // input below ends the row there.
                            self.open_quote = true;
                        }
                    }
                }
                continue;
            }
            let input = &self.buf[self.pos..self.end];
            // csv-core counts LFs itself; lone CRs (old Mac line ends) are counted here.
            let lf_before = self.line_base + self.core.line();
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.row[out..], &mut self.ends[nends..]);
            let consumed = &input[..nin];
            if start.is_none() {
                // csv-core skips CR and LF between rows (blank lines, the LF of a CRLF):
                // the row starts at the first other byte.
                let skip = consumed
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(consumed.len());
                self.crs.note(&consumed[..skip]);
                if skip < consumed.len() {
                    self.crs.settle();
                    let lf = consumed[..skip].iter().filter(|&&b| b == b'\n').count();
                    start = Some(lf_before + lf as u64 + self.crs.lone);
                    self.crs.note(&consumed[skip..]);
                }
            } else {
                self.crs.note(consumed);
            }
            if let Some(&b) = consumed.last() {
                self.tail_eol = b == b'\n' || b == b'\r';
            }
            self.pos += nin;
            out += nout;
            nends += nend;
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.row.len() > self.max_row
                        && let Some(line) = start
                        && let Some(n) = self.cut_open_quote(line, out, nends)
                    {
                        return Ok(Some((line, n)));
                    }
                    self.grow_row(&mut out)
                }
                ReadRecordResult::OutputEndsFull => self.grow_ends(&mut nends),
                ReadRecordResult::Record => {
                    self.last_line = if self.open_quote {
                        // The probe's line end, written into the last field: not data, and
                        // not a line. A CR at the very end is a line end not counted yet.
                        // A line end that closes the input belongs to the last line.
                        self.ends[nends - 1] = self.ends[nends - 1].saturating_sub(1);
                        (self.line_now() - 1 + u64::from(self.crs.pending))
                            .saturating_sub(u64::from(self.tail_eol))
                    } else {
                        // An LF that ended the row is counted already; a CR is not yet.
                        self.line_now() - u64::from(consumed.last() == Some(&b'\n'))
                    };
                    return Ok(Some((start.unwrap_or(self.last_line), nends)));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// More room for the row's cells; past the cap, the row is read on without being kept
    /// (`out` starts over) and comes out as an error.
    fn grow_row(&mut self, out: &mut usize) {
        // One byte more than the cap: a row whose cells fill it exactly still fits.
        let limit = self.max_row.saturating_add(1);
        if self.row.len() >= limit {
            self.oversize = true;
            *out = 0;
            return;
        }
        let len = (self.row.len() * 2).min(limit);
        self.row.resize(len, 0);
    }

    /// The same for the row's field ends.
    fn grow_ends(&mut self, nends: &mut usize) {
        if self.ends.len() >= MAX_ROW_FIELDS {
            self.oversize = true;
            *nends = 0;
            return;
        }
        let len = self.ends.len() * 2;
        self.ends.resize(len, 0);
    }

    /// A row that outgrows the size cap inside a quoted field spanning lines is taken for a
    /// quote left open: the row ends with the field's first line, and what follows it (the
    /// rest of the field, then the input not yet read) is parsed again as rows, from the
    /// line after the quote's. `out` bytes of the row are in `row`, `nends` fields done.
    /// The row's field count, or `None` when the last field holds no line end.
    fn cut_open_quote(&mut self, line: u64, out: usize, nends: usize) -> Option<usize> {
        let from = if nends > 0 { self.ends[nends - 1] } else { 0 };
        let field = self.row.get(from..out)?;
        let first_end = from + field.iter().position(|&b| b == b'\n' || b == b'\r')?;
        let opened = line + line_breaks(&self.row[..from]);
        let text = self.requoted(self.next_line(first_end, out), out);
        self.reparse(text, opened);
        if self.ends.len() <= nends {
            self.ends.resize(nends + 1, 0);
        }
        self.ends[nends] = first_end;
        self.open_quote = true;
        self.cut_at = Some(opened);
        self.last_line = opened;
        Some(nends + 1)
    }

    /// Where the line after the one ending at `first_end` starts, within `..end`.
    fn next_line(&self, first_end: usize, end: usize) -> usize {
        let next = first_end + 1;
        if self.row[first_end] == b'\r' && next < end && self.row[next] == b'\n' {
            next + 1
        } else {
            next
        }
    }

    /// `row[from..to]`, text of an open quoted cell, as it stood in the file: inside an
    /// open quote every `"` came from a doubled one, which is put back.
    fn requoted(&self, from: usize, to: usize) -> Vec<u8> {
        let rest = &self.row[from..to];
        let mut text = Vec::with_capacity(rest.len() + rest.len() / 8 + (self.end - self.pos));
        for &b in rest {
            text.push(b);
            if b == b'"' {
                text.push(b'"');
            }
        }
        text
    }

    /// Parses `text`, then what was read but not parsed, then the rest of the input, as
    /// rows again, counting lines from the one after `opened`.
    fn reparse(&mut self, mut text: Vec<u8>, opened: u64) {
        text.extend_from_slice(&self.buf[self.pos..self.end]);
        let input = std::mem::replace(&mut self.input, Box::new(io::empty()));
        self.input = Box::new(io::Cursor::new(text).chain(input));
        (self.pos, self.end, self.eof) = (0, 0, false);
        self.core = parser(self.dialect.delimiter);
        self.crs = LoneCrs::default();
        // csv-core counts from line 1: the text starts on the line after the quote's.
        self.line_base = opened;
        self.tail_eol = false;
    }

    /// For a row cut off inside a quoted field (`open_quote`, `n` fields): the line the
    /// quote opened on, and where the field's first line ends (`None`: it has one line).
    fn open_quote_lines(&self, n: usize) -> (u64, Option<usize>) {
        let from = if n > 1 { self.ends[n - 2] } else { 0 };
        let field = &self.row[from..self.ends[n - 1]];
        let last = self.last_line;
        let breaks = line_breaks(field).saturating_sub(u64::from(self.tail_eol));
        let first_end = field
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map(|i| from + i);
        (last.saturating_sub(breaks), first_end)
    }

    /// After a row cut off by an open quote: its last field keeps its first line only, and
    /// the lines after it are parsed again as rows, so none is lost in the field.
    fn reread_after_open_quote(&mut self, n: usize) -> Option<(u64, u64)> {
        let (opened, first_end) = self.open_quote_lines(n);
        let first_end = first_end?;
        let field_end = self.ends[n - 1];
        self.ends[n - 1] = first_end;
        let rest_start = self.next_line(first_end, field_end);
        // Line ends after the last line are not lines of their own.
        let content_end = self.row[..field_end]
            .iter()
            .rposition(|&b| b != b'\n' && b != b'\r')
            .map_or(0, |i| i + 1);
        if content_end <= rest_start {
            return None;
        }
        let last = opened + line_breaks(&self.row[first_end..content_end]);
        let text = self.requoted(rest_start, field_end);
        self.reparse(text, opened);
        Some((opened + 1, last))
    }

    /// What is wrong with a row over the size cap (lines `line` to `last_line`).
    fn oversize_reason(&self, line: u64, last_line: u64) -> String {
        let lines = if last_line > line {
            format!("the row of lines {line}-{last_line}")
        } else {
            "the row".to_string()
        };
        let quote = if self.open_quote {
            format!(" and ends inside a quote: is a quote left open at line {line}?")
        } else if last_line > line {
            " (is a quote left open?)".to_string()
        } else {
            String::new()
        };
        format!(
            "{lines} is larger than {} or {MAX_ROW_FIELDS} fields (--max-record-size); skipped{quote}",
            crate::source::size_text(self.max_row as u64)
        )
    }

    fn note_fallback(&mut self, line: u64) {
        if !self.fell_back {
            self.fell_back = true;
            self.warnings.push(format!(
                "{}: not valid UTF-8 from line {line}; read as Windows-1252 (use --encoding to choose)",
                self.name
            ));
        }
    }

    /// The common case, kept lean (it runs once per row): a UTF-8 row with one field per
    /// column becomes its attributes straight from the row buffer. `None` for anything
    /// else, which [`Self::item`] sorts out.
    fn utf8_attrs(&self, n: usize) -> Option<Attrs> {
        let header = &self.names;
        if n != header.len() || !matches!(self.encoding, Encoding::Auto | Encoding::Utf8) {
            return None;
        }
        let ends = &self.ends[..n];
        let text = std::str::from_utf8(&self.row[..ends.last().copied().unwrap_or(0)]).ok()?;
        let mut attrs = Vec::with_capacity(n);
        let mut start = 0;
        for (name, &end) in header.iter().zip(ends) {
            // A field boundary inside a multi-byte character: the fields are not UTF-8.
            let cell = text.get(start..end)?;
            attrs.push((
                name.clone(),
                smallvec::smallvec![FieldValue::Text(restore_formula(cell).into_owned())],
            ));
            start = end;
        }
        Some(Attrs(attrs))
    }

    /// Turns the row in `row`/`ends` into an item. `last_line`: the row's last line.
    fn item(&mut self, line: u64, n: usize, last_line: u64) -> SourceItem {
        let origin = Origin::line(&self.name, line);
        if self.oversize {
            return SourceItem::Bad(BadRecord {
                origin,
                raw: RawText::None,
                problems: vec![Problem::record(self.oversize_reason(line, last_line))],
                partial: None,
            });
        }
        if self.open_quote {
            return self.open_quote_item(origin, n);
        }
        if last_line > line
            && let Some(problem) = self.swallowed_row(line, n)
        {
            let fields = match decode_row(&self.row, &self.ends[..n], self.encoding) {
                Decoded::Text(f) | Decoded::Fallback(f) | Decoded::Invalid { fields: f, .. } => f,
            };
            return SourceItem::Bad(BadRecord {
                origin,
                raw: RawText::Fields(fields),
                problems: vec![problem],
                partial: None,
            });
        }
        if let Some(attrs) = self.utf8_attrs(n) {
            return SourceItem::Record(RawRecord {
                origin,
                dn: None,
                change: Change::Entry,
                attrs,
                raw: RawText::None,
                url_values: Vec::new(),
            });
        }
        let mut problems = Vec::new();
        let fields = match decode_row(&self.row, &self.ends[..n], self.encoding) {
            Decoded::Text(f) => f,
            Decoded::Fallback(f) => {
                self.note_fallback(line);
                f
            }
            Decoded::Invalid { fields, column } => {
                let hint = "not valid UTF-8 (use --encoding windows-1252)";
                problems.push(match self.dialect.header.get(column) {
                    Some(h) => Problem::new(h.as_str(), hint),
                    None => Problem::record(hint),
                });
                fields
            }
        };
        let want = self.dialect.header.len();
        if n != want {
            let of = if self.dialect.headerless {
                format!("--columns names {want}")
            } else {
                format!("the header has {want}")
            };
            // A quoted field that spans lines and a field count that is off: most likely
            // a quote left open, closed by a quote on a later line.
            let hint = if last_line > line {
                format!(" (the row spans lines {line}-{last_line}: is a quote left open?)")
            } else {
                String::new()
            };
            problems.insert(
                0,
                Problem::record(format!(
                    "has {n} field{}, {of}{hint}",
                    if n == 1 { "" } else { "s" }
                )),
            );
        }
        if !problems.is_empty() {
            return SourceItem::Bad(BadRecord {
                origin,
                raw: RawText::Fields(fields),
                problems,
                partial: None,
            });
        }
        let attrs = self
            .names
            .iter()
            .zip(fields)
            .map(|(h, f)| (h.clone(), smallvec::smallvec![FieldValue::Text(f)]))
            .collect();
        SourceItem::Record(RawRecord {
            origin,
            dn: None,
            change: Change::Entry,
            attrs: Attrs(attrs),
            raw: RawText::None,
            url_values: Vec::new(),
        })
    }
}

impl CsvSource {
    /// A row with the right number of fields whose quoted cell spans lines, one of them
    /// holding a whole row's worth of delimiters: most likely a quote left open and closed
    /// by a quote on a later row, which swallowed the rows between. Rejected rather than
    /// imported with a cell full of other people's rows.
    fn swallowed_row(&self, line: u64, n: usize) -> Option<Problem> {
        let want = self.dialect.header.len();
        if want < 2 {
            return None;
        }
        let d = self.dialect.delimiter;
        let (mut start, mut before) = (0, 0);
        for (i, &end) in self.ends[..n].iter().enumerate() {
            let cell = &self.row[start..end];
            start = end;
            let opened = line + before;
            before += line_breaks(cell);
            let swallowed = cell
                .split(|&b| b == b'\n')
                .enumerate()
                .skip(1)
                .find(|(_, l)| l.iter().filter(|&&b| b == d).count() >= want - 1);
            if let Some((k, _)) = swallowed {
                let column = self.dialect.header.get(i).cloned().unwrap_or_default();
                return Some(Problem::new(
                    column,
                    format!(
                        "the cell spans lines {opened}-{} and line {} in it looks like a row of its own: is a quote left open at line {opened}?",
                        opened + line_breaks(cell),
                        opened + k as u64
                    ),
                ));
            }
        }
        None
    }

    /// The row cut off inside a quoted field: rejected, naming the column and the line
    /// the quote opened on; the lines the quote swallowed are read again as rows.
    fn open_quote_item(&mut self, origin: Origin, n: usize) -> SourceItem {
        let column = self
            .dialect
            .header
            .get(n - 1)
            .map_or_else(|| format!("column {n}"), Clone::clone);
        let (opened, _) = self.open_quote_lines(n);
        let reread = match self.cut_at {
            Some(at) => Err(at),
            None => Ok(self.reread_after_open_quote(n)),
        };
        let reason = match reread {
            Err(at) => format!(
                "a quote opened at line {at} is not closed within {} (--max-record-size); the lines after it are read as rows",
                crate::source::size_text(self.max_row as u64)
            ),
            Ok(r) => match r {
                Some((from, to)) if from < to => format!(
                    "a quote opened at line {opened} is never closed; lines {from}-{to} after it are read as rows"
                ),
                Some((from, _)) => format!(
                    "a quote opened at line {opened} is never closed; line {from} after it is read as a row"
                ),
                None => {
                    format!(
                        "a quote opened at line {opened} is never closed (the file ends inside it)"
                    )
                }
            },
        };
        let fields = match decode_row(&self.row, &self.ends[..n], self.encoding) {
            Decoded::Text(f) | Decoded::Fallback(f) | Decoded::Invalid { fields: f, .. } => f,
        };
        // The cells before the open quote were read as written: they name the row's user.
        let partial = Attrs(
            self.names
                .iter()
                .zip(&fields)
                .take(n - 1)
                .map(|(h, f)| (h.clone(), smallvec::smallvec![FieldValue::Text(f.clone())]))
                .collect(),
        );
        SourceItem::Bad(BadRecord {
            origin,
            raw: RawText::Fields(fields),
            problems: vec![Problem::new(column, reason)],
            partial: Some(partial),
        })
    }
}

impl Source for CsvSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let Some((line, n)) = self.read_row()? else {
                self.done = true;
                if self.empty_rows > 0 {
                    self.warnings.push(format!(
                        "{}: skipped {} row{} with only empty cells (the first at line {})",
                        self.name,
                        self.empty_rows,
                        if self.empty_rows == 1 { "" } else { "s" },
                        self.first_empty_row
                    ));
                }
                return Ok(None);
            };
            let len = self.ends[..n].last().copied().unwrap_or(0);
            // Spreadsheets export formatted-but-empty rows as `,,,`: not a user, and
            // reporting each one as an error would bury the real ones.
            if !self.open_quote
                && !self.oversize
                && self.row[..len].iter().all(u8::is_ascii_whitespace)
            {
                if self.empty_rows == 0 {
                    self.first_empty_row = line;
                }
                self.empty_rows += 1;
                continue;
            }
            return Ok(Some(self.item(line, n, self.last_line)));
        }
    }

    fn format(&self) -> Format {
        self.format
    }

    fn csv_dialect(&self) -> Option<CsvDialect> {
        Some(self.dialect.clone())
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn describe(&self) -> String {
        self.spec.clone()
    }
}

/// A row decoded to text.
enum Decoded {
    Text(Vec<String>),
    /// Auto encoding: not UTF-8, read as Windows-1252.
    Fallback(Vec<String>),
    /// UTF-8 encoding: not UTF-8. `fields` are read as Windows-1252 so a rejects file
    /// keeps every byte's meaning; `column` is the first bad field.
    Invalid {
        fields: Vec<String>,
        column: usize,
    },
}

fn decode_row(row: &[u8], ends: &[usize], enc: Encoding) -> Decoded {
    let mut d = decode_cells(row, ends, enc);
    let (Decoded::Text(f) | Decoded::Fallback(f) | Decoded::Invalid { fields: f, .. }) = &mut d;
    f.iter_mut().for_each(restore_formula_in_place);
    d
}

/// The cells as written, before the formula prefix is undone.
fn decode_cells(row: &[u8], ends: &[usize], enc: Encoding) -> Decoded {
    let single = |enc: Encoding| {
        let mut start = 0;
        ends.iter()
            .map(|&e| {
                let f = enc.decode_single_byte(&row[start..e]);
                start = e;
                f
            })
            .collect()
    };
    match enc {
        Encoding::Windows1252 | Encoding::Latin1 => Decoded::Text(single(enc)),
        Encoding::Auto | Encoding::Utf8 => match split_utf8(row, ends) {
            Some(f) => Decoded::Text(f),
            None if enc == Encoding::Auto => Decoded::Fallback(single(enc)),
            None => {
                let mut start = 0;
                let column = ends
                    .iter()
                    .position(|&e| {
                        let bad = std::str::from_utf8(&row[start..e]).is_err();
                        start = e;
                        bad
                    })
                    .unwrap_or(0);
                Decoded::Invalid {
                    fields: single(enc),
                    column,
                }
            }
        },
    }
}

/// The fields as UTF-8, validating the whole row at once (much faster than per field).
/// A field boundary inside a multi-byte sequence means the fields themselves are not UTF-8.
fn split_utf8(row: &[u8], ends: &[usize]) -> Option<Vec<String>> {
    let len = ends.last().copied().unwrap_or(0);
    let text = std::str::from_utf8(&row[..len]).ok()?;
    let mut fields = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &e in ends {
        fields.push(text.get(start..e)?.to_string());
        start = e;
    }
    Some(fields)
}

/// A csv-core parser for `delimiter`: LF, CRLF and lone CR end rows.
fn parser(delimiter: u8) -> csv_core::Reader {
    csv_core::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(Terminator::CRLF)
        .build()
}

/// Line breaks in `bytes`: LF, CRLF and lone CR count one each.
fn line_breaks(bytes: &[u8]) -> u64 {
    let lf = bytes.iter().filter(|&&b| b == b'\n').count();
    let lone_cr = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        .count();
    (lf + lone_cr) as u64
}

/// Counts lone CRs (line ends of old Mac exports; csv-core ends rows there too) over input
/// that arrives in pieces, so lines are counted at LF, CRLF and lone CR alike.
#[derive(Debug, Default)]
struct LoneCrs {
    lone: u64,
    /// The last byte seen was CR: a line end of its own unless the next byte is LF.
    pending: bool,
}

impl LoneCrs {
    fn note(&mut self, bytes: &[u8]) {
        let Some(&first) = bytes.first() else {
            return;
        };
        if self.pending && first != b'\n' {
            self.lone += 1;
        }
        self.pending = false;
        // Usually no CR at all (LF files); `contains` on bytes is a fast memchr.
        if !bytes.contains(&b'\r') {
            return;
        }
        for (i, _) in bytes.iter().enumerate().filter(|&(_, &b)| b == b'\r') {
            match bytes.get(i + 1) {
                Some(b'\n') => {}
                Some(_) => self.lone += 1,
                None => self.pending = true,
            }
        }
    }

    /// A content byte comes next: a pending CR was a line end.
    fn settle(&mut self) {
        if self.pending {
            self.pending = false;
            self.lone += 1;
        }
    }
}

/// Column names must be non-empty and distinct (ignoring ASCII case, as lookups do).
fn check_column_names(names: &[String]) -> Result<(), String> {
    let empty: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| n.is_empty())
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if !empty.is_empty() {
        return Err(format!(
            "has unnamed column{} (counting from 1): {}; name or delete {}",
            if empty.len() == 1 { "" } else { "s" },
            empty.join(", "),
            if empty.len() == 1 { "it" } else { "them" },
        ));
    }
    // One pass with an index (a header may have very many columns).
    let mut seen: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(names.len());
    let mut dups = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = seen.get(&n.to_ascii_lowercase()) {
            dups.push(format!("{n} (columns {} and {})", j + 1, i + 1));
        } else {
            seen.insert(n.to_ascii_lowercase(), i);
        }
    }
    if !dups.is_empty() {
        return Err(format!(
            "names a column twice: {} (names are compared ignoring case)",
            dups.join(", ")
        ));
    }
    Ok(())
}

/// Picks the delimiter of `sample` (the start of the input) among [`DELIMITER_CANDIDATES`]:
/// for each, the field count of every non-blank line (delimiters inside quotes do not
/// count) among the first [`SNIFF_LINES`]. A candidate must give the first line more than
/// one field; the one whose count agrees on the largest share of lines wins, then the one
/// with more fields, then the earlier candidate (so ties go to `,`). `complete` says the
/// sample is the whole input, so its last line counts even without a line end.
pub fn sniff_delimiter(sample: &[u8], complete: bool) -> u8 {
    // (delimiter, lines agreeing with the first, lines, fields in the first)
    let mut best: Option<(u8, usize, usize, usize)> = None;
    for d in DELIMITER_CANDIDATES {
        let counts = field_counts(sample, d, complete);
        let Some(&first) = counts.first() else {
            return b',';
        };
        if first < 2 {
            continue;
        }
        let agree = counts.iter().filter(|&&c| c == first).count();
        let better = match best {
            None => true,
            Some((_, b_agree, b_lines, b_first)) => {
                // agree/lines against b_agree/b_lines, without division
                let (mine, theirs) = (agree * b_lines, b_agree * counts.len());
                mine > theirs || (mine == theirs && first > b_first)
            }
        };
        if better {
            best = Some((d, agree, counts.len(), first));
        }
    }
    best.map_or(b',', |b| b.0)
}

/// Field counts of the first non-blank lines with delimiter `d`, quoting as csv-core does
/// (a quote opens a quoted field only at the start of a field).
fn field_counts(sample: &[u8], d: u8, complete: bool) -> Vec<usize> {
    let mut counts = Vec::new();
    let (mut fields, mut at_start, mut in_quotes, mut blank) = (1, true, false, true);
    let mut i = 0;
    while i < sample.len() {
        let b = sample[i];
        i += 1;
        if in_quotes {
            if b == b'"' {
                if sample.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        if b == d {
            fields += 1;
            at_start = true;
            blank = false;
            continue;
        }
        match b {
            // LF, CRLF and lone CR all end lines; the empty "line" inside CRLF is blank.
            b'\n' | b'\r' => {
                if !blank {
                    counts.push(fields);
                    if counts.len() == SNIFF_LINES {
                        return counts;
                    }
                }
                (fields, at_start, blank) = (1, true, true);
            }
            b'"' if at_start => {
                (in_quotes, at_start, blank) = (true, false, false);
            }
            _ => {
                at_start = false;
                blank &= b.is_ascii_whitespace();
            }
        }
    }
    // A line cut off by the end of the sample counts only if it is the input's last line
    // (or the only one we have).
    if !blank && (complete || counts.is_empty()) {
        counts.push(fields);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_delimiters() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n", true), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n", true), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2", true), b'|');
        assert_eq!(sniff_delimiter(b"a;b\r\n1;2,3\r\n", true), b';');
        // Old Mac line ends.
        assert_eq!(sniff_delimiter(b"a;b\r1;2,3\r4;5,6,7\r", true), b';');
        assert_eq!(sniff_delimiter(b"a,b\n\"x;y;z\",2\n", true), b',');
        // Commas inside unquoted values of a `;` file do not fool it.
        assert_eq!(
            sniff_delimiter(b"name;mail\nDoe, J.;j@x\nRoe;r@x\n", true),
            b';'
        );
        // One column: nothing to detect.
        assert_eq!(sniff_delimiter(b"username\nalice\n", true), b',');
        assert_eq!(sniff_delimiter(b"", true), b',');
    }

    #[test]
    fn sniffing_ignores_a_cut_off_last_line() {
        // The incomplete second line has one `;` too many; it is not counted.
        assert_eq!(sniff_delimiter(b"a;b\n1;2\n3;4;5", false), b';');
        assert_eq!(field_counts(b"a;b\n1;2\n3;4;5", b';', false), vec![2, 2]);
        assert_eq!(field_counts(b"a;b\n1;2\n3;4;5", b';', true), vec![2, 2, 3]);
    }

    #[test]
    fn origin_digits() {
        assert_eq!(Origin::line("u.csv", 1).0, "u.csv:1");
        assert_eq!(Origin::line("u.csv", 1_234_567).0, "u.csv:1234567");
        assert_eq!(
            Origin::line("u.csv", u64::MAX).0,
            format!("u.csv:{}", u64::MAX)
        );
    }
}
