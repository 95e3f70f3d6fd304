//! A source read to the end before the first record is handed on, through a temporary
//! file: `import` uses it for LDAP, so a search the server cuts short (size limit, broken
//! paging, dropped connection) fails before anything is written, while memory stays flat.
//!
//! The records are written as LDIF to an unlinked file in the temporary directory (mode
//! 0600) and read back with the LDIF reader; each record keeps its DN as its origin.

use std::collections::VecDeque;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use super::ldif::LdifSource;
use super::{Format, Source, SourceError, SourceItem, SourceOptions};
use crate::ldif_syntax::write_attr_into;
use crate::model::{BadRecord, Origin};

pub struct Spooled {
    inner: LdifSource,
    /// Records the source could not read (rare): kept as they were, handed on first.
    bad: VecDeque<BadRecord>,
    describe: String,
    format: Format,
    warnings: Vec<String>,
    /// Records in the spool, for progress displays.
    pub records: u64,
}

impl Spooled {
    /// Reads `src` to its end. Any source error is returned here, before a single
    /// record has been handed on.
    pub fn new(mut src: Box<dyn Source>) -> Result<Spooled, SourceError> {
        let describe = src.describe();
        // Unnamed (O_TMPFILE where the system has it, else unlinked at once) and mode 0600:
        // nobody else can open it, and nothing is left behind however the run ends.
        let file =
            tempfile::tempfile().map_err(|e| SourceError::io("a temporary spool file", e))?;
        let io_err = |e: std::io::Error| SourceError::io("the temporary spool file", e);
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(b"version: 1\n\n").map_err(io_err)?;
        let mut bad = VecDeque::new();
        let mut records = 0u64;
        let mut line = Vec::new();
        while let Some(item) = src.next_item()? {
            match item {
                SourceItem::Bad(b) => bad.push_back(b),
                SourceItem::Record(r) => {
                    let dn = r.dn.clone().unwrap_or_else(|| r.origin.to_string());
                    write_attr_into(&mut out, &mut line, "dn", dn.as_bytes()).map_err(io_err)?;
                    for (name, values) in &r.attrs.0 {
                        for v in values {
                            write_attr_into(&mut out, &mut line, name, v.bytes())
                                .map_err(io_err)?;
                        }
                    }
                    out.write_all(b"\n").map_err(io_err)?;
                    records += 1;
                }
            }
        }
        let mut file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let inner = LdifSource::from_reader(file, &describe, None, &SourceOptions::default());
        Ok(Spooled {
            inner,
            bad,
            format: src.format(),
            warnings: src.take_warnings(),
            describe,
            records,
        })
    }
}

impl Source for Spooled {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        if let Some(b) = self.bad.pop_front() {
            return Ok(Some(SourceItem::Bad(b)));
        }
        Ok(self.inner.next_item()?.map(|item| match item {
            SourceItem::Record(mut r) => {
                if let Some(dn) = &r.dn {
                    r.origin = Origin(dn.clone());
                }
                SourceItem::Record(r)
            }
            bad => bad,
        }))
    }

    fn format(&self) -> Format {
        self.format
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}
