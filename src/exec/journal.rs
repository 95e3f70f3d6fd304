//! The resume journal: one JSON line per finished row, keyed by the row's identity and
//! content (not its line number), flushed as rows finish. `--resume` skips rows the
//! journal records as done and replays their report entries and users, so the end state
//! and the reports are those of an uninterrupted run.
//!
//! Before a create is sent, an intent line `{"key":…,"intent":"create"}` is written and
//! flushed: a row killed between the create and its finished line is then known, on
//! `--resume`, as created by this job (reported `create`, not `none` or `skipped`).
//! A request the server refused for sure (or that was never sent) is followed by
//! `{"key":…,"intent":"cleared"}`: nothing was applied, and the row is no longer
//! pending. Journals without intent lines (older versions) resume as before.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::MatchKey;
use crate::model::{Intent, User};
use crate::report::{ReportEntry, Status};

#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub key: String,
    pub entry: ReportEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

/// A create about to be sent (written before the request).
#[derive(Debug, Serialize, Deserialize)]
struct IntentLine {
    key: String,
    intent: String,
}

/// The intent line that clears the row's earlier intent.
const CLEARED: &str = "cleared";

/// What `--resume` learns from a journal.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Rows done (ok or skipped): not done again.
    pub done: HashSet<String>,
    /// Rows whose create was about to be sent, with no finished line since: the create
    /// may have been applied.
    pub intents: HashSet<String>,
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
    /// returns their keys and the creates that may have been applied, and reopens the
    /// journal for appending.
    pub fn resume(
        path: &Path,
        mut replay: impl FnMut(Line) -> io::Result<()>,
    ) -> io::Result<(Journal, Resumed)> {
        let mut r = Resumed::default();
        match File::open(path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    // A line cut by a crash is the last one: the row was not recorded.
                    let Ok(l) = serde_json::from_str::<Line>(&line) else {
                        if let Ok(i) = serde_json::from_str::<IntentLine>(&line) {
                            match i.intent.as_str() {
                                CLEARED => {
                                    r.intents.remove(&i.key);
                                }
                                "create" | "delete" | "create-token"
                                    if !r.done.contains(&i.key) =>
                                {
                                    r.intents.insert(i.key);
                                }
                                _ => {}
                            }
                        }
                        continue;
                    };
                    if matches!(l.entry.status, Status::Ok | Status::Skipped)
                        && r.done.insert(l.key.clone())
                    {
                        r.intents.remove(&l.key);
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
        Ok((j, r))
    }

    /// Records that the row `key`'s `what` request (`create`, `delete`, `create-token`) is
    /// about to be sent, and flushes: once the request is out, a crash cannot hide that
    /// this job may have applied it (created the user, removed the account, made a token).
    pub fn record_intent_of(&mut self, key: &str, what: &str) -> io::Result<()> {
        serde_json::to_writer(
            &mut self.w,
            &IntentLine {
                key: key.to_string(),
                intent: what.into(),
            },
        )?;
        self.w.write_all(b"\n")?;
        self.w.flush()
    }

    /// Records that the row `key`'s intended request did nothing (the server refused it,
    /// or it was never sent), and flushes: the row is no longer pending on `--resume`.
    pub fn clear_intent(&mut self, key: &str) -> io::Result<()> {
        self.record_intent_of(key, CLEARED)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: Status) -> ReportEntry {
        let mut e = ReportEntry::new("in.csv:2", "alice", None);
        e.status = status;
        e
    }

    #[test]
    fn intents_without_a_finished_line_are_pending_and_old_journals_still_resume() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.jsonl.journal");
        let mut j = Journal::create(&p).unwrap();
        j.record_intent_of("a", "create").unwrap();
        j.record("a", &entry(Status::Ok), None).unwrap();
        j.record_intent_of("b", "create").unwrap();
        j.record_intent_of("c", "create").unwrap();
        j.record("c", &entry(Status::Failed), None).unwrap();
        drop(j);
        let mut replayed = 0;
        let (_, r) = Journal::resume(&p, |_| {
            replayed += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(replayed, 1);
        assert_eq!(r.done, HashSet::from(["a".to_string()]));
        // A failed create may still have been applied.
        assert_eq!(r.intents, HashSet::from(["b".into(), "c".into()]));

        // A journal of an older roster: finished lines only.
        let old = d.path().join("old.journal");
        let line = serde_json::json!({"key": "k", "entry": entry(Status::Ok)});
        std::fs::write(&old, format!("{line}\n")).unwrap();
        let (_, r) = Journal::resume(&old, |_| Ok(())).unwrap();
        assert_eq!(r.done.len(), 1);
        assert!(r.intents.is_empty());
    }

    #[test]
    fn a_cleared_intent_is_not_pending_unless_intended_again() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.journal");
        let mut j = Journal::create(&p).unwrap();
        // Refused, then (resumed) refused again: not pending.
        j.record_intent_of("a", "create-token").unwrap();
        j.clear_intent("a").unwrap();
        j.record("a", &entry(Status::Failed), None).unwrap();
        // Refused, then sent again and its answer lost: pending.
        j.record_intent_of("b", "create-token").unwrap();
        j.clear_intent("b").unwrap();
        j.record_intent_of("b", "create-token").unwrap();
        // Never intended: a clear line is harmless.
        j.clear_intent("c").unwrap();
        drop(j);
        let (_, r, replayed) = resume(&p);
        assert!(replayed.is_empty());
        assert_eq!(r.intents, HashSet::from(["b".to_string()]));
    }

    fn resume(p: &Path) -> (Journal, Resumed, Vec<String>) {
        let mut replayed = Vec::new();
        let (j, r) = Journal::resume(p, |l| {
            replayed.push(l.key);
            Ok(())
        })
        .unwrap();
        (j, r, replayed)
    }

    #[test]
    fn a_line_cut_by_a_crash_is_not_done_and_the_journal_goes_on_after_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.jsonl.journal");
        let mut j = Journal::create(&p).unwrap();
        j.record("a", &entry(Status::Ok), None).unwrap();
        drop(j);
        // The crash: half of b's finished line, no newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"key":"b","entry":{"orig"#).unwrap();
        drop(f);
        let (mut j, r, replayed) = resume(&p);
        assert_eq!(replayed, ["a"]);
        assert!(r.intents.is_empty());
        // Rows finished after the resume are readable next time: they start on a line
        // of their own, not glued to the cut one.
        j.record("b", &entry(Status::Ok), None).unwrap();
        drop(j);
        let (_, r, replayed) = resume(&p);
        assert_eq!(replayed, ["a", "b"]);
        assert_eq!(r.done.len(), 2);
    }

    #[test]
    fn failed_rows_are_redone_and_a_done_row_replays_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.journal");
        let mut j = Journal::create(&p).unwrap();
        j.record("f", &entry(Status::Failed), None).unwrap();
        j.record("x", &entry(Status::Rejected), None).unwrap();
        j.record("s", &entry(Status::Skipped), None).unwrap();
        // A second run of the same journal may record a row again: replayed once.
        j.record("s", &entry(Status::Skipped), None).unwrap();
        // An intent after the row is already done does not make it pending again.
        j.record_intent_of("s", "create").unwrap();
        drop(j);
        let (_, r, replayed) = resume(&p);
        assert_eq!(replayed, ["s"]);
        assert_eq!(r.done, HashSet::from(["s".to_string()]));
        assert!(r.intents.is_empty());
        // No journal at all: nothing done, and one is started.
        let fresh = d.path().join("none.journal");
        let (_, r, replayed) = resume(&fresh);
        assert!(replayed.is_empty() && r.done.is_empty() && r.intents.is_empty());
        assert!(fresh.exists());
    }

    #[test]
    fn replay_gives_back_the_entry_and_the_user() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.journal");
        let mut j = Journal::create(&p).unwrap();
        let u = User {
            username: "alice".into(),
            id: Some("id-alice".into()),
            ..User::default()
        };
        j.record("a", &entry(Status::Ok), Some(&u)).unwrap();
        drop(j);
        let mut lines = Vec::new();
        Journal::resume(&p, |l| {
            lines.push(l);
            Ok(())
        })
        .unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].entry.username, "alice");
        assert_eq!(
            lines[0].user.as_ref().and_then(|u| u.id.as_deref()),
            Some("id-alice")
        );
    }

    #[test]
    fn a_row_edited_between_runs_has_another_key() {
        let alice = User {
            username: "alice".into(),
            email: Some("alice@example.org".into()),
            name: Some("Alice".into()),
            ..User::default()
        };
        let key = |u: &User, i: &Intent| row_key(u, i, MatchKey::Username);
        let k = key(&alice, &Intent::Upsert);
        assert_eq!(
            k,
            key(&alice.clone(), &Intent::Upsert),
            "stable across runs"
        );
        // The same user, edited: redone.
        let edited = User {
            name: Some("Alice Lee".into()),
            ..alice.clone()
        };
        assert_ne!(k, key(&edited, &Intent::Upsert));
        // The same row asking for something else: redone.
        assert_ne!(k, key(&alice, &Intent::Deactivate));
        assert_ne!(
            key(&alice, &Intent::Modify(vec![crate::model::Field::Name])),
            key(&alice, &Intent::Modify(vec![crate::model::Field::Email]))
        );
        // Matched by email instead: another identity.
        assert_ne!(k, row_key(&alice, &Intent::Upsert, MatchKey::Email));

        // Through a journal: the edited row is not among the rows done.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.journal");
        let mut j = Journal::create(&p).unwrap();
        j.record(&k, &entry(Status::Ok), None).unwrap();
        drop(j);
        let (_, r, _) = resume(&p);
        assert!(r.done.contains(&k));
        assert!(!r.done.contains(&key(&edited, &Intent::Upsert)));
    }
}
