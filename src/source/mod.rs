//! Sources: where raw records come from. One file per source format.
//!
//! A source yields [`SourceItem`]s one at a time, in input order, with constant memory.
//! A record it cannot read becomes [`SourceItem::Bad`] and reading goes on; only a failure
//! that makes the rest of the input untrustworthy (I/O error, LDAP size limit, dropped
//! connection) is a [`SourceError`], which stops the run.

pub mod csv;
pub mod encoding;
pub mod jsonl;
pub mod ldap;
pub mod ldif;
pub mod spool;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{BadRecord, RawRecord};

pub use encoding::Encoding;

/// Input (and output) formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Ldif,
    Jsonl,
    /// A live directory, named by an `ldap://` or `ldaps://` URL.
    #[value(skip)]
    Ldap,
}

impl Format {
    /// The format a path's extension names (`.csv .tsv .ldif .jsonl`, also `.txt` → CSV,
    /// `.json`/`.ndjson` → JSONL), or an LDAP URL.
    pub fn detect(spec: &str) -> Option<Format> {
        let lower = spec.to_ascii_lowercase();
        if lower.starts_with("ldap://") || lower.starts_with("ldaps://") {
            return Some(Format::Ldap);
        }
        let ext = Path::new(&lower).extension()?.to_str()?.to_string();
        match ext.as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ldif" | "ldf" => Some(Format::Ldif),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Ldif => "ldif",
            Format::Jsonl => "jsonl",
            Format::Ldap => "ldap",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a source may need, from flags and the job file.
#[derive(Clone, Debug, Default)]
pub struct SourceOptions {
    /// Overrides detection by extension (`--format`).
    pub format: Option<Format>,
    /// CSV: `--delimiter`; `None` = detect among `,` `;` TAB `|`.
    pub delimiter: Option<u8>,
    /// CSV: the file has no header row (`--no-headers`); `columns` names the columns.
    pub no_headers: bool,
    /// CSV: column names for headerless files (`--columns a,b,c`).
    pub columns: Option<Vec<String>>,
    pub encoding: Encoding,
    /// CSV: separator inside multi-valued cells (`--multi-sep`); `None` = `;`, or `,` when
    /// the delimiter is `;` (as `--help` says; [`crate::csv_syntax::default_multi_sep`]).
    pub multi_sep: Option<char>,
    /// LDIF: largest value a `file://` URL may bring in (bytes).
    pub url_max_bytes: Option<u64>,
    /// LDIF: the folder `file://` URLs may read from (`--allow-file-urls`); `None` refuses
    /// them all, so an LDIF file cannot make roster read `/etc/shadow` unasked.
    pub allow_file_urls: Option<PathBuf>,
    pub ldap: ldap::LdapOptions,
    /// The largest record (CSV row, LDIF record, JSON line) read whole; a larger one is
    /// skipped with an error (`--max-record-size`). `None`: [`DEFAULT_MAX_RECORD_BYTES`].
    pub max_record_bytes: Option<u64>,
    /// Read an LDAP source to its end before handing on the first record (through a
    /// temporary file), so a search cut short fails before anything is done with it.
    pub spool: bool,
}

/// The largest record read whole unless `--max-record-size` says otherwise: far above
/// any person's record (even with a photo), low enough that a quote left open or a file
/// that is not what it seems cannot make roster hold gigabytes.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 8 << 20;

impl SourceOptions {
    /// The record size cap in bytes.
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES)
    }
}

/// A size for people: `16 MiB`, `512 KiB`, `100 bytes`.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// One item a source yields.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceItem {
    Record(RawRecord),
    Bad(BadRecord),
}

/// The CSV dialect of a source, so rejects can be written back in the same shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvDialect {
    pub delimiter: u8,
    /// The header row as read (or the `--columns` names for headerless files).
    pub header: Vec<String>,
    /// The file had no header row: rejects are written without one, `error` last.
    pub headerless: bool,
    pub multi_sep: char,
    /// The file starts with a UTF-8 byte order mark (Excel's "CSV UTF-8"): rejects keep it,
    /// or Excel would misread them.
    pub bom: bool,
    /// Lines end with CRLF: rejects end theirs so too.
    pub crlf: bool,
}

/// A source of raw records.
pub trait Source: Send {
    /// The next item, `Ok(None)` at the end. `Err` is fatal: the input cannot be trusted
    /// past this point (and for LDAP, not at all).
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError>;
    fn format(&self) -> Format;
    /// CSV sources: the dialect (available once the first item has been read).
    fn csv_dialect(&self) -> Option<CsvDialect> {
        None
    }
    /// Warnings gathered so far (e.g. "not UTF-8, read as Windows-1252 from line 12"),
    /// drained by the caller.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// A short name for messages: the path, `-`, or the URL without credentials.
    fn describe(&self) -> String;
}

/// Fatal source errors. Row-level problems are [`SourceItem::Bad`] instead.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Ldap(#[from] ldap::LdapSourceError),
}

impl SourceError {
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        SourceError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Opens a source named by a path (`-` = stdin) or an LDAP URL.
pub fn open(spec: &str, opts: &SourceOptions) -> Result<Box<dyn Source>, SourceError> {
    let format = match opts.format.or_else(|| Format::detect(spec)) {
        Some(f) => f,
        None if spec == "-" => {
            return Err(SourceError::Config(
                "reading stdin needs --format csv|tsv|ldif|jsonl".into(),
            ));
        }
        None => {
            return Err(SourceError::Config(format!(
                "cannot tell the format of {spec} from its extension; use --format csv|tsv|ldif|jsonl"
            )));
        }
    };
    match format {
        Format::Csv | Format::Tsv => Ok(Box::new(csv::CsvSource::open(spec, format, opts)?)),
        Format::Ldif => Ok(Box::new(ldif::LdifSource::open(spec, opts)?)),
        Format::Jsonl => Ok(Box::new(jsonl::JsonlSource::open(spec, opts)?)),
        Format::Ldap if opts.spool => Ok(Box::new(spool::Spooled::new(Box::new(
            ldap::LdapSource::open(spec, &opts.ldap)?,
        ))?)),
        Format::Ldap => Ok(Box::new(ldap::LdapSource::open(spec, &opts.ldap)?)),
    }
}

/// Opens a path for reading, `-` meaning stdin.
pub fn open_input(spec: &str) -> Result<Box<dyn std::io::Read + Send>, SourceError> {
    if spec == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let f = std::fs::File::open(spec).map_err(|e| SourceError::io(spec, e))?;
    Ok(Box::new(f))
}

/// The display name of a file for origins (`users.csv:12`): the path as given.
pub fn origin_name(spec: &str) -> String {
    if spec == "-" {
        "<stdin>".to_string()
    } else {
        PathBuf::from(spec).display().to_string()
    }
}
