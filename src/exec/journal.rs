//! The resume journal: one JSON line per finished row, keyed by the row's identity and
//! content (not its line number), flushed as rows finish. `--resume` skips rows the
//! journal records as done and replays their report entries and users, so the end state
//! and the reports are those of an uninterrupted run.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Intent, User};
use crate::report::{ReportEntry, Status};
use crate::target::MatchKey;

#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub key: String,
    pub entry: ReportEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

pub struct Journal {
    w: BufWriter<File>,
    path: PathBuf,
}

/// The journal that goes with a report: `REPORT.journal`.
pub fn path_for(report: &Path) -> PathBuf {
    let mut s = report.as_os_str().to_os_string();
    s.push(".journal");
    PathBuf::from(s)
}

/// A row's identity and content: the match key plus everything the row asks for
/// (not the password, which never leaves memory). A row edited between runs is redone.
pub fn row_key(user: &User, intent: &Intent, by: MatchKey) -> String {
    let ident = by.of(user).unwrap_or_default();
    let content = serde_json::to_string(user).unwrap_or_default();
    let fields = match intent {
        Intent::Modify(f) => f
            .iter()
            .map(|f| f.name().into_owned())
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let h = xxhash_rust::xxh3::xxh3_128(
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            ident,
            intent.name(),
            fields,
            content
        )
        .as_bytes(),
    );
    format!("{h:032x}")
}

impl Journal {
    /// Starts a new journal (truncating an old one).
    pub fn create(path: &Path) -> io::Result<Journal> {
        let f = private_open(path, false)?;
        Ok(Journal {
            w: BufWriter::new(f),
            path: path.to_path_buf(),
        })
    }

    /// Reads a journal for `--resume`: calls `replay` for each row done (ok or skipped),
    /// returns their keys, and reopens the journal for appending.
    pub fn resume(
        path: &Path,
        mut replay: impl FnMut(Line) -> io::Result<()>,
    ) -> io::Result<(Journal, HashSet<String>)> {
        let mut done = HashSet::new();
        match File::open(path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    // A line cut by a crash is the last one: the row was not recorded.
                    let Ok(l) = serde_json::from_str::<Line>(&line) else {
                        continue;
                    };
                    if matches!(l.entry.status, Status::Ok | Status::Skipped)
                        && done.insert(l.key.clone())
                    {
                        replay(l)?;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let f = private_open(path, true)?;
        let mut j = Journal {
            w: BufWriter::new(f),
            path: path.to_path_buf(),
        };
        // A crash may have cut the last line: start on a fresh one.
        j.w.write_all(b"\n")?;
        Ok((j, done))
    }

    /// Records a finished row and flushes, so a crash loses at most rows in flight.
    pub fn record(
        &mut self,
        key: &str,
        entry: &ReportEntry,
        user: Option<&User>,
    ) -> io::Result<()> {
        #[derive(Serialize)]
        struct Out<'a> {
            key: &'a str,
            entry: &'a ReportEntry,
            #[serde(skip_serializing_if = "Option::is_none")]
            user: Option<&'a User>,
        }
        serde_json::to_writer(&mut self.w, &Out { key, entry, user })?;
        self.w.write_all(b"\n")?;
        self.w.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn private_open(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    if append {
        o.append(true).create(true);
    } else {
        o.write(true).create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}
