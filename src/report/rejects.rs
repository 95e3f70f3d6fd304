//! The rejects file: rejected and failed rows in the input's own format, with the error,
//! so an administrator can fix them and feed the file back.
//!
//! - CSV: the same header and delimiter plus an `error` column (an existing `error`
//!   column, as in a rejects file fed back, is overwritten rather than repeated).
//! - LDIF: each record preceded by `# error: ...` comment lines (old ones are dropped).
//! - JSON Lines: the object with an `"error"` key; a line that was not JSON becomes
//!   `{"error": ..., "raw": "<the line>"}`.
//! - LDAP entries are written as LDIF.

use std::io::{self, Write};
use std::path::Path;

use crate::model::{Attrs, FieldValue, RawText};
use crate::output::csv::CsvRecordWriter;
use crate::source::{CsvDialect, Format};

enum Kind {
    Csv {
        w: Option<Box<CsvRecordWriter<Box<dyn Write + Send>>>>,
        out: Option<Box<dyn Write + Send>>,
        error_col: Option<usize>,
        width: usize,
    },
    Ldif(Box<dyn Write + Send>),
    Jsonl(Box<dyn Write + Send>),
}

pub struct RejectsWriter {
    kind: Kind,
    count: u64,
    /// Attributes that hold secrets (lowercase): left out, or blanked in CSV cells.
    secret: Vec<String>,
    /// CSV columns that hold secrets.
    secret_cols: Vec<usize>,
}

/// Attributes never written back, whatever the mapping: passwords and their hashes.
const ALWAYS_SECRET: [&str; 4] = ["password", "userpassword", "unicodepwd", "sambantpassword"];

/// What the rejects writer needs of a row.
pub struct RejectedRow<'a> {
    pub dn: Option<&'a str>,
    pub attrs: &'a Attrs,
    pub raw: &'a RawText,
    pub error: &'a str,
}

impl RejectsWriter {
    /// A rejects file for input of `format` (LDAP input gives LDIF).
    pub fn create(path: &Path, format: Format) -> io::Result<RejectsWriter> {
        let out = crate::output::create_output(path, true)?;
        Ok(RejectsWriter::new(out, format))
    }

    pub fn new(out: Box<dyn Write + Send>, format: Format) -> RejectsWriter {
        let kind = match format {
            Format::Csv | Format::Tsv => Kind::Csv {
                w: None,
                out: Some(out),
                error_col: None,
                width: 0,
            },
            Format::Ldif | Format::Ldap => Kind::Ldif(out),
            Format::Jsonl => Kind::Jsonl(out),
        };
        RejectsWriter {
            kind,
            count: 0,
            secret: ALWAYS_SECRET.iter().map(|s| s.to_string()).collect(),
            secret_cols: Vec::new(),
        }
    }

    /// Also leaves out these attributes (the ones the mapping reads passwords from).
    pub fn with_secrets(mut self, attrs: impl IntoIterator<Item = String>) -> Self {
        for a in attrs {
            let a = a.to_ascii_lowercase();
            if !self.secret.contains(&a) {
                self.secret.push(a);
            }
        }
        self
    }

    /// Writes one row. `dialect` is the CSV source's (header, delimiter), needed for the
    /// first CSV row.
    pub fn write(&mut self, row: &RejectedRow<'_>, dialect: Option<&CsvDialect>) -> io::Result<()> {
        self.count += 1;
        let secret = &self.secret;
        let is_secret = |a: &str| is_secret(secret, a);
        match &mut self.kind {
            Kind::Csv {
                w,
                out,
                error_col,
                width,
            } => {
                if w.is_none() {
                    let (delim, header, headerless, bom, crlf) = match dialect {
                        Some(d) => (d.delimiter, d.header.clone(), d.headerless, d.bom, d.crlf),
                        None => (
                            b',',
                            row.attrs.names().map(String::from).collect(),
                            false,
                            false,
                            false,
                        ),
                    };
                    let mut out = out
                        .take()
                        .ok_or_else(|| io::Error::other("rejects writer reused"))?;
                    if bom {
                        out.write_all(crate::csv_syntax::UTF8_BOM)?;
                    }
                    let mut writer = CsvRecordWriter::new(out, delim, crlf);
                    *error_col = header.iter().position(|h| h.eq_ignore_ascii_case("error"));
                    *width = header.len();
                    self.secret_cols = header
                        .iter()
                        .enumerate()
                        .filter(|(_, h)| is_secret(h))
                        .map(|(i, _)| i)
                        .collect();
                    if !headerless {
                        let mut h = header.clone();
                        if error_col.is_none() {
                            h.push("error".to_string());
                        }
                        writer.write_record(&h)?;
                    }
                    *w = Some(Box::new(writer));
                }
                let Some(writer) = w.as_mut() else {
                    return Err(io::Error::other("rejects writer not ready"));
                };
                let mut fields: Vec<String> = match row.raw {
                    RawText::Fields(f) => f.clone(),
                    _ => row
                        .attrs
                        .0
                        .iter()
                        .map(|(_, v)| {
                            // CSV sources give text only: lossy never applies here.
                            v.first()
                                .map(|v| String::from_utf8_lossy(v.bytes()).into_owned())
                                .unwrap_or_default()
                        })
                        .collect(),
                };
                // Passwords are never written back: the cell stays, empty, to refill.
                for &i in &self.secret_cols {
                    if let Some(f) = fields.get_mut(i) {
                        f.clear();
                    }
                }
                match *error_col {
                    Some(i) if fields.len() == *width => fields[i] = row.error.to_string(),
                    _ => fields.push(row.error.to_string()),
                }
                writer.write_record(&fields)
            }
            Kind::Ldif(out) => {
                if self.count == 1 {
                    out.write_all(b"version: 1\n\n")?;
                }
                for line in row.error.lines() {
                    writeln!(out, "# error: {line}")?;
                }
                match row.raw {
                    RawText::Text(t) => {
                        let mut skipping = true;
                        let mut in_secret = false;
                        for line in t.split_inclusive('\n') {
                            // A secret value and its folded continuation lines are left out.
                            if line.starts_with(' ') && in_secret {
                                continue;
                            }
                            in_secret = !line.starts_with(' ')
                                && !line.starts_with('#')
                                && line.split_once(':').is_some_and(|(a, _)| is_secret(a));
                            if in_secret {
                                continue;
                            }
                            // Drop error comments from an earlier run, and a version line
                            // (it may only open the file).
                            if skipping
                                && (line.starts_with("# error: ")
                                    || line.trim_end().eq_ignore_ascii_case("version: 1"))
                            {
                                continue;
                            }
                            skipping = false;
                            out.write_all(line.as_bytes())?;
                        }
                        if !t.ends_with('\n') {
                            out.write_all(b"\n")?;
                        }
                    }
                    _ => {
                        if let Some(dn) = row.dn {
                            write_ldif_attr(out, "dn", &FieldValue::Text(dn.to_string()))?;
                        }
                        for (name, values) in &row.attrs.0 {
                            if is_secret(name) {
                                continue;
                            }
                            for v in values {
                                write_ldif_attr(out, name, v)?;
                            }
                        }
                    }
                }
                out.write_all(b"\n")
            }
            Kind::Jsonl(out) => {
                let obj = match row.raw {
                    RawText::Text(t) => {
                        match serde_json::from_str::<serde_json::Value>(t.trim_end()) {
                            Ok(serde_json::Value::Object(mut m)) => {
                                m.retain(|k, _| !is_secret(k));
                                m.insert("error".into(), row.error.into());
                                serde_json::Value::Object(m)
                            }
                            _ if secret
                                .iter()
                                .any(|a| t.to_ascii_lowercase().contains(a.as_str())) =>
                            {
                                serde_json::json!({"error": row.error, "raw": "(not shown: the line may hold a password)"})
                            }
                            _ => serde_json::json!({"error": row.error, "raw": t.trim_end()}),
                        }
                    }
                    _ => serde_json::json!({"error": row.error}),
                };
                serde_json::to_writer(&mut *out, &obj)?;
                out.write_all(b"\n")
            }
        }
    }

    pub fn finish(self) -> io::Result<()> {
        match self.kind {
            Kind::Csv { w: Some(mut w), .. } => w.flush(),
            Kind::Csv {
                out: Some(mut o), ..
            } => o.flush(),
            Kind::Csv { .. } => Ok(()),
            Kind::Ldif(mut o) | Kind::Jsonl(mut o) => o.flush(),
        }
    }
}

/// Whether `attr` (any options, any case) is one of the secret attributes.
fn is_secret(secret: &[String], attr: &str) -> bool {
    let base = attr
        .split(';')
        .next()
        .unwrap_or(attr)
        .trim()
        .to_ascii_lowercase();
    secret.contains(&base)
}

/// One LDIF attribute line, base64 when RFC 2849 requires it, folded at 76 columns.
fn write_ldif_attr(out: &mut dyn Write, name: &str, v: &FieldValue) -> io::Result<()> {
    crate::ldif_syntax::write_attr_into(out, &mut Vec::new(), name, v.bytes())
}
