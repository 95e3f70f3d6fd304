//! Writers of users to files: CSV, LDIF, JSON Lines. Used by `convert`, `--dump` and
//! `export` (whose `--fields` picks the columns: [`columns`]). Secrets are never written.

pub mod columns;
pub mod csv;
pub mod jsonl;
pub mod ldif;
pub mod paths;

use std::io::{self, Write};
use std::path::Path;

use crate::model::User;
use crate::source::Format;

#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    /// LDIF: entries are written as `uid=<username>,<base_dn>`.
    pub base_dn: Option<String>,
    /// CSV: start with a UTF-8 BOM so Excel reads it right (`--excel`).
    pub excel: bool,
    /// Create the file with mode 0600 (dumps hold personal data).
    pub private: bool,
}

/// Writes users one at a time.
pub trait UserWriter: Send {
    fn write(&mut self, user: &User) -> io::Result<()>;
    /// Flushes and closes; must be called (errors on flush are reported here).
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Default LDIF base DN when none is given.
pub const DEFAULT_BASE_DN: &str = "ou=people,dc=example,dc=org";

/// Opens `path` (`-` = stdout) for writing, creating it 0600 when asked.
pub fn create_output(path: &Path, private: bool) -> io::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::BufWriter::new(io::stdout())));
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o.open(path)?;
    #[cfg(unix)]
    if private {
        // An existing file keeps its old mode on open; tighten it.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Box::new(io::BufWriter::with_capacity(1 << 16, f)))
}

/// A writer for `format` into `path`.
pub fn create(
    path: &Path,
    format: Format,
    opts: &WriterOptions,
) -> io::Result<Box<dyn UserWriter>> {
    let out = create_output(path, opts.private)?;
    Ok(match format {
        Format::Csv => Box::new(csv::CsvUserWriter::new(out, b',', opts)?),
        Format::Tsv => Box::new(csv::CsvUserWriter::new(out, b'\t', opts)?),
        Format::Ldif => Box::new(ldif::LdifUserWriter::new(out, opts)?),
        Format::Jsonl | Format::Ldap => Box::new(jsonl::JsonlUserWriter::new(out)),
    })
}
