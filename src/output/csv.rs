//! CSV (and TSV) writer of users.
//!
//! UTF-8, RFC 4180: CRLF line ends (RFC 4180's, and what Excel writes), fields quoted only
//! when they hold the delimiter, a quote, CR or LF, or are formula-like. Always the same [`COLUMNS`], in that
//! order, so exports from different servers line up; `None` is an empty cell. There is
//! no password column: secrets are never written.
//!
//! Every CSV roster writes (this one for `convert`, `export` and `--dump`, the report, the
//! rejects file) goes through [`CsvRecordWriter`], which neutralises spreadsheet formulas, and
//! the CSV source undoes exactly that: see [`crate::csv_syntax`].

use std::borrow::Cow;
use std::io::{self, Write};

use super::{UserWriter, WriterOptions};
use crate::csv_syntax::{UTF8_BOM, default_multi_sep, neutralize_formula};
use crate::model::User;

/// The header row, in order.
pub const COLUMNS: [&str; 18] = [
    "username",
    "email",
    "name",
    "first_name",
    "last_name",
    "nickname",
    "position",
    "locale",
    "active",
    "roles",
    "require_password_change",
    "verified",
    "external_id",
    "id",
    "custom_fields",
    "teams",
    "channels",
    "avatar",
];

pub struct CsvUserWriter {
    csv: CsvRecordWriter<Box<dyn Write + Send>>,
    /// Joins roles: `;`, or `,` when `;` is the delimiter (what the CSV source splits on).
    roles_sep: char,
    cells: Vec<String>,
}

impl CsvUserWriter {
    /// Writes the BOM (with `opts.excel`) and the header row at once.
    pub fn new(
        mut out: Box<dyn Write + Send>,
        delimiter: u8,
        opts: &WriterOptions,
    ) -> io::Result<Self> {
        if opts.excel {
            // Without it Excel reads UTF-8 as the local ANSI code page.
            out.write_all(UTF8_BOM)?;
        }
        let mut csv = CsvRecordWriter::new(out, delimiter, true);
        csv.write_record(&COLUMNS)?;
        Ok(CsvUserWriter {
            csv,
            roles_sep: default_multi_sep(delimiter),
            cells: Vec::with_capacity(COLUMNS.len()),
        })
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn flag(b: Option<bool>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

impl UserWriter for CsvUserWriter {
    fn write(&mut self, u: &User) -> io::Result<()> {
        let list = |l: &Option<Vec<String>>| {
            l.as_ref()
                .map(|r| r.join(self.roles_sep.encode_utf8(&mut [0; 4])))
                .unwrap_or_default()
        };
        let roles = list(&u.roles);
        let custom = if u.custom_fields.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&u.custom_fields)?
        };
        self.cells.clear();
        // Same order as COLUMNS.
        self.cells.extend([
            u.username.clone(),
            opt(&u.email),
            opt(&u.name),
            opt(&u.first_name),
            opt(&u.last_name),
            opt(&u.nickname),
            opt(&u.position),
            opt(&u.locale),
            flag(u.active),
            roles,
            flag(u.require_password_change),
            flag(u.verified),
            opt(&u.external_id),
            opt(&u.id),
            custom,
            list(&u.teams),
            list(&u.channels),
            // An image travels as a data: URI (export --avatars writes files instead).
            u.avatar.as_ref().map(|a| a.text()).unwrap_or_default(),
        ]);
        self.csv.write_record(&self.cells)
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.csv.flush()
    }
}

/// The CSV encoder of every CSV file roster writes: RFC 4180, a cell quoted when it holds
/// the delimiter, a quote, CR or LF (as the csv crate's `QuoteStyle::Necessary`), and
/// formula-like cells neutralised ([`neutralize_formula`]) and quoted. Our own, because the
/// csv crate chooses quoting for a whole file, never for one cell.
pub struct CsvRecordWriter<W: Write> {
    out: W,
    delimiter: u8,
    crlf: bool,
    line: Vec<u8>,
}

impl<W: Write> CsvRecordWriter<W> {
    /// `crlf`: end records with CRLF rather than LF.
    pub fn new(out: W, delimiter: u8, crlf: bool) -> Self {
        CsvRecordWriter {
            out,
            delimiter,
            crlf,
            line: Vec::with_capacity(256),
        }
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    pub fn write_record<S: AsRef<str>>(&mut self, fields: &[S]) -> io::Result<()> {
        let d = self.delimiter;
        self.line.clear();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(d);
            }
            let f = neutralize_formula(f.as_ref());
            let formula = matches!(f, Cow::Owned(_));
            if formula
                || f.bytes()
                    .any(|b| b == d || b == b'"' || b == b'\r' || b == b'\n')
            {
                self.line.push(b'"');
                for b in f.bytes() {
                    if b == b'"' {
                        self.line.push(b'"');
                    }
                    self.line.push(b);
                }
                self.line.push(b'"');
            } else {
                self.line.extend_from_slice(f.as_bytes());
            }
        }
        self.line
            .extend_from_slice(if self.crlf { b"\r\n" } else { b"\n" });
        self.out.write_all(&self.line)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
