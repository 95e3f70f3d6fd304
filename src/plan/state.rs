//! The sync state file (`--state`): the ledger of users roster manages, written after
//! every applied sync, plus the size of the source it was built from.
//!
//! It is JSON Lines: a header line `{"roster_state": {...}}` followed by one user per
//! line (the same objects as a JSONL dump), each with its server `id` and, when the
//! source has one, its anchor as `external_id`: the next run finds a renamed person by
//! that pair ([`crate::exec::anchors`]). A dump written by `roster import --dump` (JSON
//! Lines, CSV or LDIF) is accepted as a first state file: it has no header, so the
//! source-shrink guard starts with the next run.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::client::MatchKey;
use crate::exec::Finished;
use crate::exec::anchors::{Anchors, anchor};
use crate::mapping::Mapping;
use crate::model::User;
use crate::pipeline::{Checked, Outcome, Pipeline, PipelineOptions};
use crate::report::summary::KnownProblems;
use crate::report::{Action, ReportEntry, Status};
use crate::source::{self, Format, SourceOptions};
use crate::validate::{ValidateOptions, Validator};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    pub server: String,
    pub written: String,
    /// Valid rows of the source at the last applied sync.
    pub source_rows: u64,
    pub managed: u64,
    /// The rows this sync rejected or failed, as [`problem_key`]s: the next one tells
    /// known problems from new ones (`--fail-on new`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub header: Option<Header>,
    /// Match keys (lowercased) of managed users.
    pub managed: HashSet<String>,
    /// Server ids of managed users: an account renamed on the server stays managed.
    pub ids: HashSet<String>,
    /// Anchor → server id of the users whose source gave an anchor.
    pub anchors: Anchors,
    /// The ledger's active users as written, for runs that rewrite only part of it
    /// (`import`).
    pub users: Vec<User>,
    /// Every line with an id, by id (the memberships roster manages for the account).
    pub lines: HashMap<String, User>,
    /// Accounts the ledger keeps deactivated, by id: tied to their person's anchor, no
    /// longer managed.
    pub retired: std::collections::BTreeMap<String, User>,
    /// The last sync's row problems ([`problem_key`]).
    pub problems: HashSet<String>,
}

impl State {
    fn add(&mut self, u: User, by: MatchKey) {
        let id = u.id.clone().filter(|id| !id.is_empty());
        // A line without an id (a ledger started from a dump) is known by its match key;
        // a line with one by its id only: an old username must not make whoever holds it
        // now managed.
        if id.is_none()
            && let Some(k) = by.of(&u)
        {
            self.managed.insert(k);
        }
        if let Some(id) = &id {
            if let Some(a) = anchor(&u) {
                self.anchors.insert(a, id);
            }
            self.lines.insert(id.clone(), u.clone());
            if u.active == Some(false) {
                // Retired: kept for its anchor (the account stays its person's), not
                // managed (an administrator who reactivates it by hand is not undone).
                self.retired.insert(id.clone(), u);
                return;
            }
            self.ids.insert(id.clone());
        }
        self.users.push(u);
    }

    /// Whether the ledger manages this server account (by id, or by match key for a
    /// ledger started from a dump without ids).
    pub fn manages(&self, key: Option<&str>, id: Option<&str>) -> bool {
        key.is_some_and(|k| self.managed.contains(k)) || id.is_some_and(|i| self.ids.contains(i))
    }

    /// The ledger's line for a server account.
    pub fn line(&self, id: &str) -> Option<&User> {
        self.lines.get(id)
    }

    /// Whether the ledger manages any account at all.
    pub fn manages_anyone(&self) -> bool {
        !self.managed.is_empty() || !self.ids.is_empty()
    }

    /// The lines without an id (a ledger started from a dump).
    pub fn users_without_id(&self) -> Vec<User> {
        self.users
            .iter()
            .filter(|u| u.id.is_none())
            .cloned()
            .collect()
    }

    /// Every line of the ledger, the retired ones last.
    pub fn all_users(self) -> impl Iterator<Item = User> {
        self.users.into_iter().chain(self.retired.into_values())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    roster_state: Header,
}

impl State {
    /// Reads a state file; a missing file is an empty state (first run).
    pub fn load(path: &Path, by: MatchKey) -> Result<State, StateError> {
        if !path.exists() {
            return Ok(State::default());
        }
        let err = |message: String| StateError::Read {
            path: path.display().to_string(),
            message,
        };
        let spec = path.to_string_lossy().to_string();
        match Format::detect(&spec) {
            Some(Format::Csv | Format::Tsv | Format::Ldif) => {
                // A dump in another format: read it as a source with the default mapping.
                let src = source::open(&spec, &SourceOptions::default())
                    .map_err(|e| err(e.to_string()))?;
                let p = Pipeline::start(
                    src,
                    Mapping::default(),
                    Validator::new(ValidateOptions::default()),
                    PipelineOptions {
                        input_bytes: None,
                        check_duplicates: false,
                    },
                );
                let mut st = State::default();
                for item in p {
                    let c = item.map_err(|e| err(e.to_string()))?;
                    let user = match c.outcome {
                        Outcome::Valid { user, .. } => Some(user),
                        Outcome::Rejected { user, .. } => user,
                    };
                    if let Some(u) = user {
                        st.add(*u, by);
                    }
                }
                Ok(st)
            }
            _ => {
                let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
                let mut st = State::default();
                for (i, line) in BufReader::new(f).lines().enumerate() {
                    let line = line.map_err(|e| err(e.to_string()))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    if let Ok(h) = serde_json::from_str::<HeaderLine>(&line) {
                        st.problems = h.roster_state.problems.iter().cloned().collect();
                        st.header = Some(h.roster_state);
                        continue;
                    }
                    let u: User = serde_json::from_str(&line)
                        .map_err(|e| err(format!("line {}: {e}", i + 1)))?;
                    st.add(u, by);
                }
                Ok(st)
            }
        }
    }

    /// Writes the ledger atomically (temporary file, then rename), mode 0600.
    pub fn save(path: &Path, header: &Header, users: &[User]) -> Result<(), StateError> {
        let werr = |e: std::io::Error| StateError::Write {
            path: path.display().to_string(),
            source: e,
        };
        // Written whole beside the ledger, synced, then renamed over it: a crash leaves the
        // old ledger or the new one, never half of one (a half ledger would make the next
        // night forget whom it manages).
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".roster-state")
            .tempfile_in(dir)
            .map_err(werr)?;
        {
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            let h = HeaderLine {
                roster_state: header.clone(),
            };
            serde_json::to_writer(&mut out, &h).map_err(|e| werr(e.into()))?;
            out.write_all(b"\n").map_err(werr)?;
            for u in users {
                serde_json::to_writer(&mut out, u).map_err(|e| werr(e.into()))?;
                out.write_all(b"\n").map_err(werr)?;
            }
            out.flush().map_err(werr)?;
        }
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(path).map_err(|e| werr(e.error))?;
        // The rename itself is durable once the folder is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// What a run did to users, by server id, for the ledger: each touched user as the server
/// now holds it, with the source's anchor as `external_id`, or `None` once deactivated.
#[derive(Debug, Default)]
pub struct Changes {
    by_id: HashMap<String, Option<User>>,
}

impl Changes {
    /// Remembers a finished row (rows that failed or were skipped change nothing).
    pub fn record(&mut self, f: &Finished) {
        let Some(u) = f.checked.user() else { return };
        let id = Some(f.done.entry.id.as_str())
            .filter(|id| !id.is_empty())
            .or(u.id.as_deref());
        let Some(id) = id else { return };
        let groups = f.done.groups.clone().unwrap_or_default();
        let after = match (f.done.entry.status, f.done.entry.action) {
            (Status::Ok, Action::Deactivate) => None,
            (Status::Ok, _) => f.done.server_user.clone().map(|mut after| {
                if let Some(a) = anchor(u) {
                    after.external_id = Some(a.to_string());
                }
                // The memberships roster now manages: the row's, and any it could not
                // remove (the row failed then, and is not recorded; kept for clarity).
                if u.teams.is_some() {
                    after.teams = Some(groups.managed(crate::client::GroupKind::Team));
                }
                if u.channels.is_some() {
                    after.channels = Some(groups.managed(crate::client::GroupKind::Channel));
                }
                after.avatar_digest = f.done.avatar_digest.clone();
                after
            }),
            _ => return,
        };
        self.by_id.insert(id.to_string(), after);
    }

    /// The ledger: `base` (the users matched, or the previous ledger) as this run left
    /// them, then the users it created. By server id, so a renamed account stays one
    /// line, under its new name, with its anchor. A deactivated account stays, inactive,
    /// with its anchor: its person may come back (rehired: found, held inactive), and
    /// someone new given the username never gets their account.
    pub fn apply_to(mut self, base: impl IntoIterator<Item = User>) -> Vec<User> {
        let mut ledger = Vec::new();
        for mut u in base {
            match u.id.as_ref().and_then(|id| self.by_id.remove(id)) {
                Some(Some(mut after)) => {
                    if after.external_id.is_none() {
                        after.external_id = u.external_id.clone();
                    }
                    if after.teams.is_none() {
                        after.teams = u.teams.clone();
                    }
                    if after.channels.is_none() {
                        after.channels = u.channels.clone();
                    }
                    if after.avatar_digest.is_none() {
                        after.avatar_digest = u.avatar_digest.clone();
                    }
                    ledger.push(after)
                }
                Some(None) => {
                    u.active = Some(false);
                    ledger.push(u);
                }
                None => ledger.push(u),
            }
        }
        ledger.extend(self.by_id.into_values().flatten());
        drop_superseded(&mut ledger);
        ledger
    }
}

/// How many of a ledger's accounts are active (the header's `managed`).
pub fn active_count(ledger: &[User]) -> u64 {
    ledger.iter().filter(|u| u.active != Some(false)).count() as u64
}

/// Drops the id-less lines (a ledger started from a dump) of people the ledger now has by
/// id, under the same username or email: they would be a second entry for one account.
pub fn drop_superseded(ledger: &mut Vec<User>) {
    let with_id: HashSet<String> = ledger
        .iter()
        .filter(|u| u.id.is_some())
        .flat_map(|u| {
            [
                Some(u.username.to_lowercase()),
                u.email.as_deref().map(str::to_lowercase),
            ]
        })
        .flatten()
        .filter(|k| !k.is_empty())
        .collect();
    ledger.retain(|u| {
        u.id.is_some()
            || !(with_id.contains(&u.username.to_lowercase())
                || u.email
                    .as_deref()
                    .is_some_and(|e| with_id.contains(&e.to_lowercase())))
    });
}

/// A row's problem, the same from night to night while the row and its error stay the
/// same: who the row is (username, else email, else DN, else where it stands) and the
/// error, hashed (the ledger holds no row data). Never the row's text: it may hold a
/// password, and an unsalted 64-bit hash of it could be guessed.
pub fn problem_key(e: &ReportEntry, row: Option<&Checked>) -> String {
    let who = if !e.username.is_empty() {
        e.username.to_lowercase()
    } else if !e.email.is_empty() {
        e.email.to_lowercase()
    } else if let Some(dn) = row.and_then(|r| r.dn.as_deref()) {
        dn.to_lowercase()
    } else {
        e.origin.clone()
    };
    let h = xxhash_rust::xxh3::xxh3_64(format!("{who}\0{}", e.error).as_bytes());
    format!("{h:016x}")
}

/// The rows of a run that were rejected or failed, by [`problem_key`].
#[derive(Debug, Default)]
pub struct Problems {
    keys: Vec<String>,
}

impl Problems {
    pub fn record(&mut self, e: &ReportEntry, row: Option<&Checked>) {
        if matches!(e.status, Status::Rejected | Status::Failed) {
            self.keys.push(problem_key(e, row));
        }
    }

    pub fn extend_from(&mut self, other: &Problems) {
        self.keys.extend(other.keys.iter().cloned());
    }

    /// New and known problems, against the last sync's.
    pub fn against(&self, last: &HashSet<String>) -> KnownProblems {
        let known = self.keys.iter().filter(|k| last.contains(*k)).count() as u64;
        KnownProblems {
            known,
            new: self.keys.len() as u64 - known,
        }
    }

    /// For the ledger's header.
    pub fn keys(&self) -> Vec<String> {
        let mut k = self.keys.clone();
        k.sort();
        k.dedup();
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, id: Option<&str>) -> User {
        User {
            username: name.into(),
            email: Some(format!("{name}@example.org")),
            id: id.map(String::from),
            ..User::default()
        }
    }

    #[test]
    fn a_deactivated_account_stays_in_the_ledger_tied_to_its_person() {
        use crate::exec::{Done, Finished};
        use crate::model::{Intent, Origin, RawText};
        use crate::pipeline::{Checked, Outcome};
        let mut gone = u("jane", Some("id-1"));
        gone.external_id = Some("A-1".into());
        let mut entry = ReportEntry::new("server:jane".to_string(), "jane", None);
        entry.action = Action::Deactivate;
        entry.status = Status::Ok;
        entry.id = "id-1".into();
        let mut changes = Changes::default();
        changes.record(&Finished {
            seq: 0,
            checked: Checked {
                origin: Origin("server:jane".into()),
                dn: None,
                attrs: Default::default(),
                raw: RawText::None,
                outcome: Outcome::Valid {
                    user: Box::new(gone.clone()),
                    intent: Intent::Deactivate,
                },
            },
            done: Done {
                entry,
                server_user: None,
                fatal: None,
                interrupted: false,
                note: None,
                groups: None,
                avatar_digest: None,
            },
        });
        let ledger = changes.apply_to(vec![gone, u("bob", Some("id-2"))]);
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger[0].active, Some(false));
        assert_eq!(ledger[0].external_id.as_deref(), Some("A-1"));
        assert_eq!(active_count(&ledger), 1);
        // Read back, it is retired: its anchor ties the account, nobody manages it.
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("s.jsonl");
        State::save(&path, &Header::default(), &ledger).unwrap();
        let st = State::load(&path, MatchKey::Username).unwrap();
        assert_eq!(st.anchors.id_of("A-1"), Some("id-1"));
        assert!(!st.manages(Some("jane"), Some("id-1")));
        assert!(st.retired.contains_key("id-1"));
        assert!(st.manages(None, Some("id-2")));
    }

    #[test]
    fn a_ledger_from_a_dump_keeps_one_line_per_account() {
        // A CSV dump has no ids; once a run has jane's account by id, her id-less line goes
        // (by username, or by email after a rename), and bob's stays.
        let mut ledger = vec![
            u("jane.doe", None),
            u("Bob", None),
            u("carl", None),
            u("JANE.DOE", Some("id-1")),
        ];
        let mut renamed = u("carl.new", Some("id-3"));
        renamed.email = Some("CARL@example.org".into());
        ledger.push(renamed);
        drop_superseded(&mut ledger);
        let names: Vec<&str> = ledger.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["Bob", "JANE.DOE", "carl.new"]);
    }
}
