//! What happens to one row: look the user up, then create, update only what differs,
//! deactivate, or do nothing; never create anyone twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::client::{CallError, CallStats, CreateOptions, MatchKey, ServerRoles, UserApi};
use crate::exec::anchors::{Anchors, anchor, same};
use crate::exec::diff::diff;
use crate::model::{Field, Intent, Problem, User};
use crate::report::{Action, ReportEntry, Status};

/// `--mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Create missing users, update existing ones (only what differs).
    #[default]
    Upsert,
    /// Only create; existing users are reported as skipped.
    Create,
    /// Only update; missing users are reported as skipped.
    Update,
}

#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    pub mode: Mode,
    pub match_key: MatchKey,
    /// Only reads: report what would happen.
    pub dry_run: bool,
    pub create: CreateOptions,
    /// Reactivate users the source lists as active though the server has them
    /// deactivated. Imports do (the source says so); syncs hold them unless asked.
    pub reactivate: bool,
    /// Attempts of a create that ends ambiguously (5xx, timeout, dropped connection).
    pub max_attempts: u32,
    /// Accounts never written (admins, bots, the running account, `--protect`).
    pub guard: WriteGuard,
    /// The ledger's anchors (`--state`): a row whose anchor is tied to an account is
    /// matched to that account first, whatever it is called now.
    pub anchors: Arc<Anchors>,
    /// The source file's folder: an avatar given as a path is read there, and only there
    /// (`None`: stdin or LDAP, where a path means nothing).
    pub avatar_dir: Option<std::path::PathBuf>,
    /// `roster do ACTION`: every matched account gets this action instead of the row's
    /// fields (see [`super::actions`]).
    pub action: Option<super::actions::ActionOptions>,
}

/// Which existing accounts roster may write. Admins, bots and apps, the account roster
/// runs as and `--protect` users are never updated, demoted or deactivated, unless the
/// job file names them (`[safety] write_privileged`): a source row named `admin` must
/// not turn the server's administrator into a plain user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteGuard {
    /// `--protect`: usernames or emails never updated or deactivated.
    pub protect: Vec<String>,
    /// `[safety] write_privileged`: usernames or emails roster may write although the
    /// server or `--protect` protects them.
    pub allowed: Vec<String>,
    /// `[safety] demote_admins`: allow removing the admin role (Rocket.Chat `admin`,
    /// Mattermost `system_admin`).
    pub demote_admins: bool,
}

fn names_user(list: &[String], u: &User) -> bool {
    list.iter().any(|p| {
        let p = p.trim();
        p.eq_ignore_ascii_case(u.username.trim())
            || u.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(p))
    })
}

pub struct Engine {
    target: Arc<dyn UserApi>,
    opts: EngineOptions,
    journal: Option<JournalLink>,
    members: super::members::Members,
    /// `roster do`: a row already stopped the run for a reason every row shares (a
    /// permission, a setting); rows refused the same way meanwhile are not reported.
    stopped: std::sync::atomic::AtomicBool,
    /// `roster do set-roles`: held while a row that drops the admin role counts the other
    /// admins and writes, so two rows never each leave the other as the last admin.
    demoting: Mutex<()>,
}

/// The resume journal as the engine sees it: where create intents go, and the rows
/// whose create an interrupted run may have applied.
pub struct JournalLink {
    pub journal: Arc<Mutex<super::journal::Journal>>,
    /// Keys of rows with a create intent and no finished line (`--resume`).
    pub intents: HashSet<String>,
}

/// The outcome of one row.
#[derive(Clone, Debug)]
pub struct Done {
    pub entry: ReportEntry,
    /// The user as the server holds it now, for the dump.
    pub server_user: Option<User>,
    /// Set when the run cannot go on (credentials, permissions, 2FA).
    pub fatal: Option<String>,
    /// Ctrl-C stopped the row before its next request was sent: it is neither done nor
    /// failed, goes to no report and no journal, and `--resume` does it.
    pub interrupted: bool,
    /// What the engine decided besides the action, for callers that sort rows by it.
    pub note: Option<Note>,
    /// The row's teams and channels, resolved before any write; added after it
    /// ([`super::members::Members::settle`]).
    pub groups: Option<super::members::Wanted>,
    /// The digest of the source image the row set as the avatar, for the ledger.
    pub avatar_digest: Option<String>,
}

/// What one row's decision writes to as it goes.
struct Row<'a> {
    stats: &'a mut CallStats,
    entry: &'a mut ReportEntry,
    note: &'a mut Option<Note>,
    groups: &'a mut Option<super::members::Wanted>,
}

/// A decision worth telling apart from the report text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A user that the source lists as active but an administrator deactivated.
    HeldInactive,
}

impl Note {
    /// The report's wording.
    pub fn message(self) -> &'static str {
        match self {
            Note::HeldInactive => {
                "held inactive: deactivated on the server; not reactivated without --reactivate"
            }
        }
    }
}

impl Engine {
    pub fn new(target: Arc<dyn UserApi>, opts: EngineOptions) -> Engine {
        Engine {
            members: super::members::Members::new(
                target.clone(),
                opts.dry_run,
                opts.create.create_missing_channels,
            ),
            target,
            opts,
            journal: None,
            stopped: Default::default(),
            demoting: Mutex::new(()),
        }
    }

    /// The run's teams, channels and memberships.
    pub fn members(&self) -> &super::members::Members {
        &self.members
    }

    /// Writes a create intent to `link.journal` before each create is sent, and treats
    /// the rows of `link.intents` as possibly created already.
    pub fn with_journal(mut self, link: JournalLink) -> Engine {
        self.journal = Some(link);
        self
    }

    pub fn target(&self) -> &Arc<dyn UserApi> {
        &self.target
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Why an existing account must not be written, or `None` when it may be.
    pub fn protection(&self, cur: &User) -> Option<String> {
        let g = &self.opts.guard;
        if names_user(&g.allowed, cur) {
            return None;
        }
        if let Some(why) = self.target.protection(cur) {
            return Some(format!(
                "protected: {why}; never updated or deactivated unless the job file names it in [safety] write_privileged"
            ));
        }
        if names_user(&g.protect, cur) {
            return Some("protected by --protect: never updated or deactivated".into());
        }
        None
    }

    /// Why an account must never be deleted, or `None` when it may be. A delete cannot be
    /// undone: `[safety] write_privileged` does not open it to admins, bots, apps or the
    /// running account.
    pub fn delete_protection(&self, cur: &User) -> Option<String> {
        self.target
            .protection(cur)
            .map(|why| format!("protected: {why}; never deleted"))
            .or_else(|| {
                names_user(&self.opts.guard.protect, cur)
                    .then(|| "protected by --protect: never deleted".to_string())
            })
    }

    /// Processes one row. `known` is the result of a lookup already made (batched).
    pub fn run(&self, user: &User, intent: &Intent, known: Option<Option<User>>) -> Done {
        let desired = self.target.normalize(user);
        let mut entry = ReportEntry::new(
            user.origin.to_string(),
            &desired.username,
            desired.email.as_deref(),
        );
        let mut stats = CallStats::default();
        let mut note = None;
        let mut groups = None;
        let key = self
            .journal
            .as_ref()
            .map(|_| super::journal::row_key(user, intent, self.opts.match_key));
        let result = self.decide(
            &desired,
            intent,
            key.as_deref(),
            known,
            &mut Row {
                stats: &mut stats,
                entry: &mut entry,
                note: &mut note,
                groups: &mut groups,
            },
        );
        // A new account gets the source's avatar (an existing one keeps its own: without a
        // ledger roster cannot tell whether the source's image changed).
        // A new account gets the source's avatar, and so does an existing one whose plan
        // says the source's image changed (a sync with its ledger's digests).
        let mut avatar_digest = None;
        let avatar_planned = matches!(intent, Intent::Modify(f) if f.contains(&Field::Avatar))
            && entry.action != Action::Create
            && self.opts.action.is_none();
        let result = match result {
            Ok(Some(written))
                if (entry.action == Action::Create || avatar_planned)
                    && entry.status == Status::Ok
                    && desired.avatar.is_some()
                    && !self.opts.dry_run =>
            {
                match self.set_avatar(&written, &desired, &mut stats) {
                    Ok(digest) => {
                        avatar_digest = Some(digest);
                        entry.changed.push("avatar".into());
                        if entry.action == Action::None {
                            entry.action = Action::Update;
                        }
                        Ok(Some(written))
                    }
                    Err(CallError::Fatal(m)) => Err(CallError::Fatal(m)),
                    Err(e) => {
                        entry.id = written.id.clone().unwrap_or_default();
                        entry.status = Status::Failed;
                        entry.error = if entry.action == Action::Create {
                            format!("created, but its avatar was not set: {e}")
                        } else {
                            format!("avatar: not set: {e}")
                        };
                        Ok(Some(written))
                    }
                }
            }
            r @ (Ok(None) | Ok(Some(_)))
                if self.opts.dry_run
                    && (entry.action == Action::Create || avatar_planned)
                    && entry.status == Status::Ok
                    && desired.avatar.is_some() =>
            {
                entry.changed.push("avatar".into());
                if entry.action == Action::None {
                    entry.action = Action::Update;
                }
                r
            }
            other => other,
        };
        entry.attempts = stats.requests;
        match result {
            Ok(server_user) => {
                if let Some(u) = &server_user
                    && let Some(id) = &u.id
                {
                    entry.id = id.clone();
                }
                Done {
                    entry,
                    server_user,
                    fatal: None,
                    interrupted: false,
                    note,
                    groups,
                    avatar_digest,
                }
            }
            Err(e) => {
                entry.status = Status::Failed;
                entry.error = e.to_string();
                let fatal = matches!(e, CallError::Fatal(_)).then(|| e.to_string());
                // Rows in flight when the first one stopped the run were refused alike:
                // one report line says why; the others were not done (`--resume` does
                // them once the cause is fixed).
                let repeated = fatal.is_some()
                    && self.opts.action.is_some()
                    && self.stopped.swap(true, std::sync::atomic::Ordering::SeqCst);
                Done {
                    entry,
                    server_user: None,
                    fatal,
                    interrupted: e == CallError::Interrupted || repeated,
                    note,
                    groups: None,
                    avatar_digest: None,
                }
            }
        }
    }

    fn key(&self, u: &User) -> Result<String, CallError> {
        self.opts
            .match_key
            .of(u)
            .ok_or_else(|| CallError::Rejected {
                status: 0,
                code: None,
                message: format!("no {} to match with the server", self.opts.match_key.name()),
            })
    }

    /// Whether the ledger ties this row's anchor to an account.
    pub fn tied(&self, u: &User) -> bool {
        anchor(u).is_some_and(|a| self.opts.anchors.id_of(a).is_some())
    }

    /// The account the ledger ties this row's anchor to, looked up by id; `None` when
    /// the row has no anchor, the ledger does not know it, or the account is gone.
    fn anchored(&self, u: &User, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        match anchor(u).and_then(|a| self.opts.anchors.id_of(a)) {
            Some(id) => self.target.lookup_id(id, stats),
            None => Ok(None),
        }
    }

    /// Why the account found by username or email must not be written for this row: the
    /// ledger ties it to another person's anchor (a username reused after someone left, a
    /// swap of emails), or the row is a whole record with no anchor at all (who it is
    /// cannot be told). Writing would hand one person's account to another. LDIF delete
    /// and modify records carry no anchor: they name their entry by DN, and pass.
    pub fn claimed_by_another(
        &self,
        desired: &User,
        intent: &Intent,
        cur: &User,
    ) -> Option<String> {
        let id = cur.id.as_deref()?;
        let theirs = self.opts.anchors.anchor_of(id)?;
        let whose = match anchor(desired) {
            Some(mine) if same(mine, theirs) => return None,
            Some(mine) => format!("this row's anchor is {mine:?}"),
            None if *intent != Intent::Upsert => return None,
            None => "this row has no anchor".to_string(),
        };
        Some(format!(
            "the server account {:?} (id {id:?}) belongs to another person at the source (anchor {theirs:?}; {whose}): not written; if the source's anchor attribute changed, adopt again with `roster sync --adopt`",
            cur.username
        ))
    }

    fn lookup(&self, u: &User, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        self.key(u)?;
        // As the source spells it: Rocket.Chat's users.info?username= is case-sensitive,
        // so a lowercased key misses `ANNA.LI`; each client folds case where its server does.
        let key = self.opts.match_key.raw(u).unwrap_or_default();
        self.target.lookup(self.opts.match_key, &key, stats)
    }

    /// `key`: the row's journal key, when there is a journal.
    fn decide(
        &self,
        desired: &User,
        intent: &Intent,
        key: Option<&str>,
        known: Option<Option<User>>,
        row: &mut Row,
    ) -> Result<Option<User>, CallError> {
        let Row {
            stats,
            entry,
            note,
            groups,
        } = row;
        let (stats, entry, note) = (&mut **stats, &mut **entry, &mut **note);
        if let Some(a) = &self.opts.action {
            return self
                .act(a, desired, key, known, stats, entry)
                .map_err(forbidden_stops);
        }
        // Before any request: the server would refuse the role only at write time, after
        // creating the user without it (Mattermost sets roles after the create).
        if let Some(why) = self.unknown_roles(desired, intent)? {
            entry.status = Status::Rejected;
            entry.error = why;
            return Ok(None);
        }
        // Teams and channels too: a name the server does not know rejects the row
        // before its account is written.
        if *intent != Intent::Deactivate && (desired.teams.is_some() || desired.channels.is_some())
        {
            match self.members.resolve(desired, stats)? {
                Ok(w) => **groups = (!w.is_empty()).then_some(w),
                Err(why) => {
                    entry.status = Status::Rejected;
                    entry.error = why;
                    return Ok(None);
                }
            }
        }
        // An interrupted run sent this row's create and did not record the answer: if
        // the user exists, this job created it; report it as the create it was.
        let resumed_create = *intent == Intent::Upsert
            && !self.opts.dry_run
            && key.is_some_and(|k| self.journal.as_ref().is_some_and(|j| j.intents.contains(k)));
        // Create-only: most users are new (a mass onboarding), so create straight away and
        // let the server's "already in use" say which ones exist: one request per new user
        // instead of two.
        if known.is_none()
            && !resumed_create
            && !self.opts.dry_run
            && self.opts.mode == Mode::Create
            && *intent == Intent::Upsert
            // A person the ledger knows has an account, perhaps under another name.
            && !self.tied(desired)
        {
            return self.create(desired, key, stats, entry, note);
        }
        let current = match known {
            // Known already: a sync's snapshot (the planner matched by anchor) or
            // Mattermost's batched prefetch (which skips rows the ledger ties).
            Some(k) => k,
            None => match self.anchored(desired, stats)? {
                Some(u) => Some(u),
                None => self.lookup(desired, stats)?,
            },
        };
        if let Some(cur) = &current
            && let Some(why) = self.claimed_by_another(desired, intent, cur)
        {
            entry.action = Action::Update;
            return Err(CallError::Conflict {
                field: "external_id".into(),
                message: why,
            });
        }
        if resumed_create && let Some(cur) = current {
            entry.action = Action::Create;
            entry.changed = self.created_fields(desired);
            return self.finish_after_ambiguous(desired, cur, stats, entry);
        }
        match (intent, current) {
            (Intent::Deactivate, None) => {
                entry.status = Status::Skipped;
                entry.error = "not on the server".into();
                Ok(None)
            }
            (Intent::Deactivate, Some(cur)) => self.deactivate(cur, stats, entry),
            (Intent::Modify(_), None) => {
                entry.status = Status::Skipped;
                entry.error =
                    "not on the server (a modify record updates existing users only)".into();
                Ok(None)
            }
            (Intent::Modify(fields), Some(cur)) => {
                self.update(desired, cur, Some(fields), stats, entry, note)
            }
            (Intent::Upsert, None) if self.opts.mode == Mode::Update => {
                entry.status = Status::Skipped;
                entry.error = "not on the server (--mode update)".into();
                Ok(None)
            }
            (Intent::Upsert, None) => self.create(desired, key, stats, entry, note),
            (Intent::Upsert, Some(cur)) if self.opts.mode == Mode::Create => {
                entry.status = Status::Skipped;
                entry.error = "already on the server (--mode create)".into();
                Ok(Some(cur))
            }
            (Intent::Upsert, Some(cur)) => self.update(desired, cur, None, stats, entry, note),
        }
    }

    /// `roster do`: the action on the row's account, if the server has it and roster may
    /// write it; never creates.
    fn act(
        &self,
        a: &super::actions::ActionOptions,
        desired: &User,
        key: Option<&str>,
        known: Option<Option<User>>,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        use super::actions::DoAction;
        entry.action = a.action.report_action();
        let current = match known {
            Some(k) => k,
            None => self.lookup(desired, stats)?,
        };
        // An interrupted run sent this row's delete and did not record the answer: the
        // account being gone is that delete's doing.
        let sent_before = a.action == DoAction::Delete
            && key.is_some_and(|k| self.journal.as_ref().is_some_and(|j| j.intents.contains(k)));
        if current.is_none() && sent_before && !self.opts.dry_run {
            entry.changed.push("account".into());
            entry.error = "deleted by the interrupted run (its journal holds the delete)".into();
            return Ok(None);
        }
        let Some(cur) = current else {
            entry.status = Status::Skipped;
            entry.error = "not on the server (roster do never creates accounts)".into();
            return Ok(None);
        };
        entry.id = cur.id.clone().unwrap_or_default();
        // Matched by email: the report names the account too.
        if entry.username.is_empty() {
            entry.username = cur.username.clone();
        }
        let protected = if a.action == DoAction::Delete {
            self.delete_protection(&cur)
        } else {
            self.protection(&cur)
        };
        if let Some(why) = protected {
            entry.status = Status::Skipped;
            entry.error = why;
            return Ok(Some(cur));
        }
        match a.action {
            DoAction::SetRoles => return self.set_roles(&a.roles, cur, stats, entry),
            DoAction::ResetMfa
            | DoAction::SetPreferences
            | DoAction::MigrateAuth
            | DoAction::ConvertToBot => return self.account_setting(a, desired, cur, stats, entry),
            _ => {}
        }
        if a.action == DoAction::ResetPassword {
            return self.reset_password(a, cur, stats, entry);
        }
        if a.action == DoAction::CreateToken {
            return self.create_token(a, cur, key, stats, entry);
        }
        let deactivate = matches!(a.action, DoAction::Deactivate | DoAction::Offboard)
            && cur.active != Some(false);
        let activate = a.action == DoAction::Activate && cur.active == Some(false);
        let revoke = matches!(a.action, DoAction::RevokeSessions | DoAction::Offboard);
        let reset_avatar = a.action == DoAction::ResetAvatar;
        if reset_avatar {
            entry.changed.push(Field::Avatar.name().into_owned());
        }
        let set_status = a
            .status
            .as_ref()
            .filter(|_| a.action == DoAction::SetStatus);
        if set_status.is_some() {
            entry.changed.push("status".into());
        }
        if deactivate || activate {
            entry.changed.push(Field::Active.name().into_owned());
        }
        if revoke {
            entry.changed.push("sessions".into());
        }
        if a.action == DoAction::Delete {
            entry.changed.push("account".into());
        }
        // Read before any write, so a dry run says it too.
        let leave = if a.action == DoAction::Offboard && a.remove_memberships {
            let groups: Vec<_> = self
                .target
                .memberships(&cur, stats)?
                .into_iter()
                .filter(|g| !g.default)
                .collect();
            if !groups.is_empty() {
                entry.changed.push("memberships".into());
            }
            groups
        } else {
            Vec::new()
        };
        if self.opts.dry_run {
            return Ok(Some(cur));
        }
        let mut now = cur;
        if deactivate {
            now = self.target.deactivate(&now, stats)?;
        }
        if activate {
            now = self.target.activate(&now, stats)?;
        }
        if revoke {
            self.target.revoke_sessions(&now, stats)?;
        }
        if reset_avatar {
            self.target.reset_avatar(&now, stats)?;
        }
        if let Some(s) = set_status {
            self.target.set_status(&now, s, stats)?;
        }
        let id = now.id.clone().unwrap_or_default();
        for g in &leave {
            self.target.remove_member(g, &id, stats)?;
        }
        if a.action == DoAction::Delete {
            self.journal_intent(key, "delete")?;
            if let Err(e) = self.delete_once(&now, a.confirm_relinquish, stats, entry) {
                // Refused (a setting off, a last room owner): nothing was deleted, so a
                // later --resume must not take the account's absence for this delete.
                if made_nothing(&e) {
                    self.journal_cleared(key);
                }
                return Err(e);
            }
            return Ok(None);
        }
        Ok(Some(now))
    }

    /// `roster do reset-mfa`, `set-preferences`, `migrate-auth` and `convert-to-bot`: one
    /// idempotent request (or a few) about the account's settings, decided from what the
    /// lookup shows so a dry run says the same.
    fn account_setting(
        &self,
        a: &super::actions::ActionOptions,
        desired: &User,
        cur: User,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        use super::actions::{AuthData, DoAction};
        let reject = |entry: &mut ReportEntry, why: String| {
            entry.status = Status::Rejected;
            entry.error = why;
        };
        match a.action {
            DoAction::ResetMfa => {
                // Mattermost says whether MFA is on; Rocket.Chat shows no one's TOTP but
                // the caller's, so there the reset is always sent (it is idempotent).
                if cur.server_mfa == Some(false) {
                    return Ok(Some(cur));
                }
                entry.changed.push("mfa".into());
                if !self.opts.dry_run {
                    self.target.reset_mfa(&cur, stats)?;
                }
            }
            DoAction::SetPreferences => {
                let mut prefs = a.preferences.clone();
                for (k, v) in &desired.preferences {
                    prefs.insert(k.clone(), serde_json::Value::String(v.clone()));
                }
                if prefs.is_empty() {
                    reject(
                        entry,
                        "no preference to set: the row has no pref.KEY value and no --preferences was given".into(),
                    );
                    return Ok(Some(cur));
                }
                if let Some(why) = self.target.preference_problem(&prefs) {
                    reject(entry, why);
                    return Ok(Some(cur));
                }
                entry
                    .changed
                    .extend(prefs.keys().map(|k| format!("pref.{k}")));
                if !self.opts.dry_run {
                    self.target.set_preferences(&cur, &prefs, stats)?;
                }
            }
            DoAction::MigrateAuth => {
                let Some(to) = a.auth else {
                    return Err(CallError::Fatal("migrate-auth needs --auth-service".into()));
                };
                let service = to.service.name();
                match cur.server_auth.as_deref() {
                    Some(s) if s == service => return Ok(Some(cur)),
                    Some(other) => {
                        entry.status = Status::Skipped;
                        entry.error = format!(
                            "signs in with {other}: migrate-auth moves email-and-password accounts only"
                        );
                        return Ok(Some(cur));
                    }
                    None => {}
                }
                let (data, what) = match to.data {
                    AuthData::ExternalId => (desired.external_id.clone(), "external_id"),
                    AuthData::Username => (Some(cur.username.clone()), "username"),
                    AuthData::Email => (cur.email.clone(), "email"),
                };
                let Some(data) = data.filter(|d| !d.trim().is_empty()) else {
                    reject(
                        entry,
                        format!(
                            "no {what} to give the server as auth_data: map one (external_id), or choose --auth-data username|email"
                        ),
                    );
                    return Ok(Some(cur));
                };
                // model.User's auth_data is a varchar(128).
                if data.len() > MAX_AUTH_DATA {
                    reject(
                        entry,
                        format!(
                            "{what} is {} bytes, longer than the {MAX_AUTH_DATA} the server keeps as auth_data",
                            data.len()
                        ),
                    );
                    return Ok(Some(cur));
                }
                entry.changed.push("auth_service".into());
                if !self.opts.dry_run {
                    self.target.set_auth(&cur, service, &data, stats)?;
                }
            }
            DoAction::ConvertToBot => {
                entry.changed.push("bot".into());
                if !self.opts.dry_run {
                    // A second conversion fails on the bot the first made: settled by a
                    // lookup, never sent again blind.
                    self.send_settled(
                        &cur,
                        stats,
                        |stats| self.target.convert_to_bot(&cur, stats),
                        |now| now.is_some_and(|u| u.server_kind.as_deref() == Some("bot")),
                    )?;
                }
            }
            _ => {}
        }
        Ok(Some(cur))
    }

    /// `roster do set-roles`: the account's roles as `change` says, checked against the
    /// server's roles before any write; dropping the admin role needs `[safety]
    /// demote_admins`, and is refused to the last active admin.
    fn set_roles(
        &self,
        change: &super::actions::RoleChange,
        cur: User,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        // Each name as this server spells it (Mattermost: `admin` is `system_admin`).
        let spell = |r: &String| {
            let u = User {
                roles: Some(vec![r.clone()]),
                ..User::default()
            };
            self.target
                .normalize(&u)
                .roles
                .and_then(|v| v.last().cloned())
                .unwrap_or_else(|| r.clone())
        };
        let spelled = super::actions::RoleChange {
            set: change.set.as_ref().map(|v| v.iter().map(spell).collect()),
            add: change.add.iter().map(spell).collect(),
            remove: change.remove.iter().map(spell).collect(),
        };
        let now: Vec<String> = cur.roles.clone().unwrap_or_default();
        let wanted = User {
            roles: Some(spelled.apply(&now)),
            ..cur.clone()
        };
        let wanted = User {
            roles: self.target.normalize(&wanted).roles,
            ..cur.clone()
        };
        if let Some(why) = self.unknown_roles(&wanted, &Intent::Upsert)? {
            entry.status = Status::Rejected;
            entry.error = why;
            return Ok(Some(cur));
        }
        let roles = wanted.roles.clone().unwrap_or_default();
        let same = roles.len() == now.len() && roles.iter().all(|r| now.contains(r));
        if same {
            return Ok(Some(cur));
        }
        entry.changed.push(Field::Roles.name().into_owned());
        let admin = self.target.admin_role();
        let demotes = now.iter().any(|r| r == admin) && !roles.iter().any(|r| r == admin);
        if demotes && !self.opts.guard.demote_admins {
            entry.changed.clear();
            entry.status = Status::Rejected;
            entry.error = format!(
                "roles not changed: removing {admin:?} needs [safety] demote_admins = true in the job file"
            );
            return Ok(Some(cur));
        }
        let _held = if demotes {
            let held = self.demoting.lock().unwrap_or_else(|e| e.into_inner());
            if self.other_admins(&cur, stats)? == 0 {
                entry.changed.clear();
                entry.status = Status::Rejected;
                entry.error = format!(
                    "refused: {} is the server's last active administrator ({admin:?}); give another account {admin:?} first",
                    cur.username
                );
                return Ok(Some(cur));
            }
            Some(held)
        } else {
            None
        };
        if self.opts.dry_run {
            return Ok(Some(cur));
        }
        self.target
            .update(&cur, &wanted, &[Field::Roles], stats)
            .map(Some)
    }

    /// How many active accounts besides `cur` hold the server's admin role, every page.
    fn other_admins(&self, cur: &User, stats: &mut CallStats) -> Result<usize, CallError> {
        let admin = self.target.admin_role();
        let mut n = 0;
        let mut page = 0;
        loop {
            let p = self.target.list(page, stats)?;
            n += p
                .users
                .iter()
                .filter(|u| {
                    u.active != Some(false)
                        && u.id != cur.id
                        && u.roles
                            .as_ref()
                            .is_some_and(|r| r.iter().any(|x| x == admin))
                })
                .count();
            if !p.more || p.users.is_empty() {
                return Ok(n);
            }
            page += 1;
        }
    }

    /// Deletes `cur` exactly once: after an answer that was lost (5xx, timeout, dropped
    /// connection) the account is looked up by id before the delete is sent again, and
    /// an account found gone counts as deleted.
    fn delete_once(
        &self,
        cur: &User,
        confirm_relinquish: bool,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<(), CallError> {
        use crate::client::Deleted;
        let mut first = true;
        self.send_settled(
            cur,
            stats,
            |stats| {
                let r = self.target.delete(cur, confirm_relinquish, stats);
                // Gone at the first sending: someone else deleted it.
                if first && matches!(r, Ok(Deleted::Gone)) {
                    entry.error = "already gone from the server".into();
                }
                first = false;
                r
            },
            |now| now.is_none(),
        )
        .map(|_| ())
    }

    /// Sends a request that must not be repeated blind (a delete, a conversion to a bot),
    /// up to --max-attempts times: after an answer lost on the way the account is looked
    /// up by id, and `took_effect` says from what is found whether that request was
    /// applied; only when it was not is it sent again. `Ok(None)`: settled by a lookup.
    fn send_settled<T>(
        &self,
        cur: &User,
        stats: &mut CallStats,
        mut send: impl FnMut(&mut CallStats) -> Result<T, CallError>,
        took_effect: impl Fn(Option<&User>) -> bool,
    ) -> Result<Option<T>, CallError> {
        let id = cur.id.clone().unwrap_or_default();
        let max = self.opts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match send(stats) {
                Ok(t) => return Ok(Some(t)),
                Err(CallError::Transient(msg)) => {
                    match self.target.lookup_id(&id, stats) {
                        Ok(now) if took_effect(now.as_ref()) => return Ok(None),
                        Ok(_) | Err(CallError::Transient(_)) => {}
                        Err(e) => return Err(e),
                    }
                    if attempt >= max {
                        return Err(CallError::Transient(format!(
                            "{msg} (gave up after {attempt} attempts)"
                        )));
                    }
                    self.target.backoff(attempt, stats)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sets an account's avatar from the source: the image's bytes, a file in the
    /// source's folder, or a URL (Rocket.Chat fetches it itself; for Mattermost roster
    /// fetches it, without credentials). Returns the source image's digest.
    fn set_avatar(
        &self,
        written: &User,
        desired: &User,
        stats: &mut CallStats,
    ) -> Result<String, CallError> {
        use crate::client::Image;
        use crate::model::{Avatar, image_type};
        use crate::validate::AVATAR_MAX_BYTES;
        let bad = |message: String| CallError::Rejected {
            status: 0,
            code: None,
            message,
        };
        let bytes = |data: Vec<u8>| -> Result<Image, CallError> {
            match image_type(&data) {
                Some(t) => Ok(Image::Bytes {
                    data: data.into(),
                    mime: t.mime,
                }),
                None => Err(bad(
                    "avatar: not an image both servers decode (PNG, JPEG, GIF, BMP, TIFF or WebP)"
                        .into(),
                )),
            }
        };
        let Some(avatar) = desired.avatar.as_ref() else {
            return Ok(String::new());
        };
        let (image, digest) = match avatar {
            Avatar::Image(b) => (bytes(b.to_vec())?, digest_of(b)),
            Avatar::Url(u) if self.target.flavor() == crate::client::Flavor::Rocketchat => {
                (Image::Url(u.clone()), url_digest(u))
            }
            Avatar::Url(u) => (
                bytes(
                    crate::client::groups::fetch_image(u, AVATAR_MAX_BYTES)
                        .map_err(|e| bad(format!("avatar: {e}")))?,
                )?,
                url_digest(u),
            ),
            Avatar::File(p) => {
                let data = read_avatar_file(self.opts.avatar_dir.as_deref(), p).map_err(bad)?;
                let d = digest_of(&data);
                (bytes(data)?, d)
            }
        };
        self.target.set_avatar(written, &image, stats)?;
        Ok(digest)
    }

    /// The digest of a row's avatar as the source gives it (what the ledger compares
    /// night to night): the image's bytes, the file's, or the URL (roster cannot tell a
    /// changed image behind the same URL). `None` when there is no avatar, or its file
    /// cannot be read (the upload will say why).
    pub fn avatar_digest(&self, u: &User) -> Option<String> {
        use crate::model::Avatar;
        match u.avatar.as_ref()? {
            Avatar::Image(b) => Some(digest_of(b)),
            Avatar::Url(url) => Some(url_digest(url)),
            Avatar::File(p) => read_avatar_file(self.opts.avatar_dir.as_deref(), p)
                .ok()
                .map(|d| digest_of(&d)),
        }
    }

    /// Why the row's roles cannot be written: it names roles the server does not have.
    /// Checked against the server's roles, read once per run on the first row that
    /// writes roles; not checked when the server would not list them.
    fn unknown_roles(&self, desired: &User, intent: &Intent) -> Result<Option<String>, CallError> {
        let writes_roles = match intent {
            Intent::Upsert => true,
            Intent::Modify(fields) => fields.contains(&Field::Roles),
            Intent::Deactivate => false,
        };
        let Some(roles) = desired
            .roles
            .as_ref()
            .filter(|r| writes_roles && !r.is_empty())
        else {
            return Ok(None);
        };
        let known = match self.target.roles() {
            ServerRoles::Known(known) => known,
            ServerRoles::Unknown(_) => return Ok(None),
            ServerRoles::Interrupted => return Err(CallError::Interrupted),
        };
        let missing: Vec<String> = roles
            .iter()
            .filter(|r| !known.contains(r.as_str()))
            .map(|r| format!("{r:?}"))
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let what = if missing.len() == 1 {
            "is not a role"
        } else {
            "are not roles"
        };
        Ok(Some(
            Problem::new(
                Field::Roles.name(),
                format!(
                    "{} {what} on this server (roles: {})",
                    missing.join(", "),
                    role_list(known)
                ),
            )
            .to_string(),
        ))
    }

    fn deactivate(
        &self,
        cur: User,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        entry.action = Action::Deactivate;
        if cur.active == Some(false) {
            entry.action = Action::None;
            return Ok(Some(cur));
        }
        if let Some(why) = self.protection(&cur) {
            entry.action = Action::None;
            entry.status = Status::Skipped;
            entry.error = why;
            return Ok(Some(cur));
        }
        entry.changed = vec![Field::Active.name().into_owned()];
        if self.opts.dry_run {
            return Ok(Some(cur));
        }
        self.target.deactivate(&cur, stats).map(Some)
    }

    fn update(
        &self,
        desired: &User,
        cur: User,
        only: Option<&[Field]>,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
        note: &mut Option<Note>,
    ) -> Result<Option<User>, CallError> {
        let mut fields = diff(self.target.fields(), desired, &cur, only);
        if !self.opts.reactivate && desired.active == Some(true) && cur.active == Some(false) {
            fields.retain(|f| *f != Field::Active);
            entry.error = Note::HeldInactive.message().into();
            *note = Some(Note::HeldInactive);
        }
        // A username differing in more than case is a rename: the account was found by
        // its anchor (the ledger) or by email. The diff folds case, so an account found
        // by username never differs in it.
        let renamed_from = fields
            .contains(&Field::Username)
            .then(|| cur.username.clone());
        self.keep_admin_role(desired, &cur, &mut fields, entry);
        entry.changed = fields.iter().map(|f| f.name().into_owned()).collect();
        if fields.is_empty() {
            entry.action = Action::None;
            return Ok(Some(cur));
        }
        if let Some(why) = self.protection(&cur) {
            entry.action = Action::None;
            entry.status = Status::Skipped;
            entry.changed.clear();
            entry.error = why;
            return Ok(Some(cur));
        }
        // An update that deactivates (the source says disabled) is a deactivation, in
        // plans, reports and summaries alike.
        entry.action = if desired.active == Some(false) && fields.contains(&Field::Active) {
            Action::Deactivate
        } else {
            Action::Update
        };
        if let Some(old) = &renamed_from {
            entry.renamed_from = old.clone();
        }
        if self.opts.dry_run {
            return Ok(Some(cur));
        }
        self.target
            .update(&cur, desired, &fields, stats)
            .map(Some)
            .map_err(|e| match e {
                // One request carries the rename: refused, nothing of it was applied.
                CallError::Conflict { field, message }
                    if fields.contains(&Field::Username) || fields.contains(&Field::Email) =>
                {
                    let change = match &renamed_from {
                        Some(old) => format!("rename {old:?} → {:?}", desired.username),
                        None => format!(
                            "email change of {:?} to {:?}",
                            cur.username,
                            desired.email.as_deref().unwrap_or("")
                        ),
                    };
                    CallError::Conflict {
                        message: format!(
                            "{change}: {message}; another account holds that {field}, so the account was not changed"
                        ),
                        field,
                    }
                }
                e => e,
            })
    }

    fn create(
        &self,
        desired: &User,
        key: Option<&str>,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
        note: &mut Option<Note>,
    ) -> Result<Option<User>, CallError> {
        entry.action = Action::Create;
        entry.changed = self.created_fields(desired);
        let needs_password =
            self.opts.create.auth_service.is_none() && !self.opts.create.random_password;
        if needs_password && desired.password.is_none() {
            entry.status = Status::Rejected;
            entry.error = format!(
                "password: is required to create a {} user; add a password column or use --random-password",
                self.target.flavor()
            );
            return Ok(None);
        }
        if self.opts.dry_run {
            return Ok(None);
        }
        self.journal_intent(key, "create")?;
        let max = self.opts.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.target.create(desired, &self.opts.create, stats) {
                Ok(u) => return Ok(Some(u)),
                Err(CallError::Transient(msg)) => {
                    // The create may have been applied before the answer was lost:
                    // look before trying again, so nobody is created twice.
                    match self.lookup(desired, stats) {
                        Ok(Some(cur)) => {
                            return self.finish_after_ambiguous(desired, cur, stats, entry);
                        }
                        Ok(None) => {}
                        Err(CallError::Transient(_)) => {}
                        Err(e) => return Err(e),
                    }
                    if attempt >= max {
                        return Err(CallError::Transient(format!(
                            "{msg} (gave up after {attempt} attempts)"
                        )));
                    }
                    // Counted in the run's `retries`; Ctrl-C during the wait stops here.
                    self.target.backoff(attempt, stats)?;
                }
                Err(CallError::Conflict { field, message }) if self.opts.mode != Mode::Update => {
                    // Someone (another run, an earlier attempt) created it meanwhile, or
                    // (create mode) it was there all along.
                    match self.lookup(desired, stats)? {
                        Some(cur) if self.opts.mode == Mode::Create => {
                            entry.action = Action::None;
                            entry.changed.clear();
                            entry.status = Status::Skipped;
                            entry.error = "already on the server (--mode create)".into();
                            return Ok(Some(cur));
                        }
                        Some(cur) => {
                            entry.action = Action::Update;
                            entry.changed.clear();
                            return self.update(desired, cur, None, stats, entry, note);
                        }
                        None => {
                            return Err(CallError::Conflict {
                                field: field.clone(),
                                message: format!(
                                    "{message} (by another account: its {field} is taken)"
                                ),
                            });
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After an ambiguous create that did happen: make sure the user is as wanted.
    ///
    /// The user found may also be an account that was there all along (the create was
    /// refused, and its answer lost): the same guards as an update apply, and under
    /// `--mode create` an account whose email is not the row's is left alone.
    fn finish_after_ambiguous(
        &self,
        desired: &User,
        cur: User,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        let leave = |why: String, entry: &mut ReportEntry| {
            entry.action = Action::None;
            entry.status = Status::Skipped;
            entry.changed.clear();
            entry.error = why;
        };
        if let Some(why) = self.protection(&cur) {
            leave(why, entry);
            return Ok(Some(cur));
        }
        let same_email = match (&desired.email, &cur.email) {
            (Some(d), Some(c)) => d.trim().eq_ignore_ascii_case(c.trim()),
            (None, _) => true,
            (Some(_), None) => false,
        };
        if self.opts.mode == Mode::Create && !same_email {
            leave("already on the server (--mode create)".into(), entry);
            return Ok(Some(cur));
        }
        let mut fields = diff(self.target.fields(), desired, &cur, None);
        fields.retain(|f| *f != Field::Username);
        self.keep_admin_role(desired, &cur, &mut fields, entry);
        if fields.is_empty() {
            return Ok(Some(cur));
        }
        self.target.update(&cur, desired, &fields, stats).map(Some)
    }

    /// Drops a roles change that would remove the admin role, unless the job file allows
    /// demoting admins.
    fn keep_admin_role(
        &self,
        desired: &User,
        cur: &User,
        fields: &mut Vec<Field>,
        entry: &mut ReportEntry,
    ) {
        if !fields.contains(&Field::Roles) || self.opts.guard.demote_admins {
            return;
        }
        let admin = self.target.admin_role();
        let has = |u: &User| {
            u.roles
                .as_ref()
                .is_some_and(|r| r.iter().any(|x| x == admin))
        };
        if has(cur) && !has(desired) {
            // Demoting an administrator needs its own opt-in: keep the role.
            fields.retain(|f| *f != Field::Roles);
            entry.error = format!(
                "roles not changed: removing {admin:?} needs [safety] demote_admins = true in the job file"
            );
        }
    }
}

/// `roster do reset-password` and `create-token`: the secrets they make go to their file
/// ([`super::secrets::SecretOut`]) once the server has taken them, and nowhere else.
impl Engine {
    fn reset_password(
        &self,
        a: &super::actions::ActionOptions,
        cur: User,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        use super::actions::PasswordReset;
        let Some(reset) = &a.reset else {
            return Err(CallError::Fatal(
                "reset-password: neither --passwords-out nor --send-reset-email".into(),
            ));
        };
        if let Some(why) = self.target.password_elsewhere(&cur) {
            entry.status = Status::Skipped;
            entry.error = why;
            return Ok(Some(cur));
        }
        match reset {
            PasswordReset::Email => {
                if cur.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
                    entry.status = Status::Skipped;
                    entry.error = "no email address on the server: no reset mail to send".into();
                    return Ok(Some(cur));
                }
                entry.changed.push("reset-email".into());
                if !self.opts.dry_run {
                    self.target.send_password_reset(&cur, stats)?;
                }
                Ok(Some(cur))
            }
            PasswordReset::Random {
                out,
                require_change,
            } => {
                entry.changed.push(Field::Password.name().into_owned());
                if self.opts.dry_run {
                    return Ok(Some(cur));
                }
                let password = super::secrets::generate_password();
                let file = out.path().display().to_string();
                let keep = |confirmed: &str| {
                    out.write(&[&cur.username], &password, &[confirmed])
                        .map_err(|e| {
                            CallError::Fatal(format!(
                                "the password of {} was (or may have been) changed, but {file} cannot be written ({e}); run again for this account once it can",
                                cur.username
                            ))
                        })
                };
                // Retried inside with the same password (idempotent). An answer lost for
                // good may leave the account with this password (and its sessions
                // ended): it is kept all the same, unconfirmed, never thrown away.
                // A retry means an earlier sending's answer was lost: whatever ends the
                // row after it (Ctrl-C in the backoff, endless 429s, a refusal), that
                // sending may have set the password.
                let retries_before = stats.retries;
                let unconfirmed = |m: String| {
                    format!(
                        "{m}; the password may have been set: it is in {file}, unconfirmed (confirmed=no); run again for this account (--resume) to set one that is confirmed"
                    )
                };
                match self
                    .target
                    .set_password(&cur, &password, *require_change, stats)
                {
                    Ok(()) => {
                        keep("yes")?;
                        Ok(Some(cur))
                    }
                    Err(CallError::Transient(m)) => {
                        keep("no")?;
                        Err(CallError::Transient(unconfirmed(m)))
                    }
                    Err(e) if stats.retries > retries_before => {
                        keep("no")?;
                        Err(match e {
                            CallError::Fatal(m) => CallError::Fatal(unconfirmed(m)),
                            CallError::Rejected {
                                status,
                                code,
                                message,
                            } => CallError::Rejected {
                                status,
                                code,
                                message: unconfirmed(message),
                            },
                            // Interrupted and the like keep their meaning for the run.
                            other => other,
                        })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// A token for `cur`, made at most once: the intent is journaled before the request,
    /// which is never sent blind again, and a lost answer is reported (the token it may
    /// have made is named where the server lists tokens). A refusal clears the intent:
    /// the request made nothing, and `--resume` sends it once the cause is fixed; so does
    /// a lost answer that Mattermost's listing shows made no token.
    fn create_token(
        &self,
        a: &super::actions::ActionOptions,
        cur: User,
        key: Option<&str>,
        stats: &mut CallStats,
        entry: &mut ReportEntry,
    ) -> Result<Option<User>, CallError> {
        let Some(t) = &a.token else {
            return Err(CallError::Fatal("create-token: no --tokens-out".into()));
        };
        entry.changed.push("token".into());
        let user_id = cur.id.clone().unwrap_or_default();
        let file = t.out.path().display().to_string();
        let description = t.request.description.as_deref().unwrap_or_default();
        let sent_before =
            key.is_some_and(|k| self.journal.as_ref().is_some_and(|j| j.intents.contains(k)));
        if sent_before && !self.opts.dry_run {
            if t.out.holds(&user_id) {
                entry.error = format!("made by the interrupted run; its token is in {file}");
                return Ok(Some(cur));
            }
            let listed = self.target.tokens_described(&cur, description, stats);
            if !matches!(&listed, Ok(Some(ids)) if ids.is_empty()) {
                return Err(CallError::Rejected {
                    status: 0,
                    code: None,
                    message: format!(
                        "the interrupted run sent this token's request and its answer was lost: {}",
                        orphan_advice(listed, description)
                    ),
                });
            }
            // The server lists no token of this description: nothing was made.
        }
        if self.opts.dry_run {
            return Ok(Some(cur));
        }
        self.journal_intent(key, "create-token")?;
        match self.target.create_token(&cur, &t.request, stats) {
            Ok(token) => {
                let token_id = token.id.clone().unwrap_or_default();
                t.out
                    .write(&[&cur.username, &token.user_id, &token_id], &token.token, &[])
                    .map_err(|e| {
                        CallError::Fatal(format!(
                            "a token was made for {} (id {token_id:?}), but {file} cannot be written ({e}): revoke it, then run again for this account",
                            cur.username
                        ))
                    })?;
                if !token_id.is_empty() {
                    entry.error = format!("token id {token_id}");
                }
                Ok(Some(cur))
            }
            Err(CallError::Transient(m)) => {
                let listed = self.target.tokens_described(&cur, description, stats);
                Err(CallError::Rejected {
                    status: 0,
                    code: None,
                    message: format!(
                        "{m}: a token may have been made all the same, its secret lost with the answer; not sent again: {}",
                        orphan_advice(listed, description)
                    ),
                })
            }
            Err(e) => {
                if made_nothing(&e) {
                    self.journal_cleared(key);
                }
                Err(e)
            }
        }
    }

    /// Journals that the row `key`'s `what` request is about to be sent, so that after a
    /// crash `--resume` knows it may have been applied. Ctrl-C before it: nothing is
    /// recorded, nothing sent.
    fn journal_intent(&self, key: Option<&str>, what: &str) -> Result<(), CallError> {
        let (Some(link), Some(key)) = (&self.journal, key) else {
            return Ok(());
        };
        if crate::interrupt::requested() {
            return Err(CallError::Interrupted);
        }
        let mut j = link.journal.lock().unwrap_or_else(|e| e.into_inner());
        j.record_intent_of(key, what).map_err(|e| {
            CallError::Fatal(format!(
                "cannot write the journal {}: {e}",
                j.path().display()
            ))
        })
    }

    /// Journals that the row `key`'s intended request did nothing, so `--resume` sends it
    /// again. Not written, the intent stays pending: `--resume` then only errs on the
    /// safe side (and the run's next journal line reports the journal's failure).
    fn journal_cleared(&self, key: Option<&str>) {
        if let (Some(link), Some(key)) = (&self.journal, key) {
            let mut j = link.journal.lock().unwrap_or_else(|e| e.into_inner());
            let _ = j.clear_intent(key);
        }
    }
}

/// Whether an error proves that a request sent once did nothing: the server answered it
/// with a refusal (4xx, a 501 setting, a redirect, a 429 each time), or it was never sent
/// (Ctrl-C). A lost answer, or a 2xx without what was asked for, leaves it unknown.
fn made_nothing(e: &CallError) -> bool {
    match e {
        CallError::Transient(_) => false,
        CallError::Rejected { status, .. } => !(200..300).contains(status),
        CallError::Conflict { .. }
        | CallError::Fatal(_)
        | CallError::Interrupted
        | CallError::RateLimited(_) => true,
    }
}

/// What to do about a token whose answer was lost, from the listing of the account's
/// tokens of that description (Mattermost; `Ok(None)`: the server lists none).
fn orphan_advice(listed: Result<Option<Vec<String>>, CallError>, description: &str) -> String {
    match listed {
        Ok(Some(ids)) if ids.is_empty() => format!(
            "the server lists no token described {description:?} for this account: run again for it (--resume sends it again)"
        ),
        Ok(Some(ids)) => format!(
            "the server lists token(s) {} described {description:?} for this account: revoke the one(s) not in your files (POST /users/tokens/revoke {{token_id}}, or the System Console), then run again for it",
            ids.join(", ")
        ),
        Ok(None) => "if it was, it is one of the user's login tokens: `roster do revoke-sessions` voids them all (the user's sessions too); then run again for this account".into(),
        Err(e) => format!(
            "the user's tokens could not be listed ({e}): check them, revoke a token not in your files, then run again for this account"
        ),
    }
}

impl Engine {
    /// The fields a create sends: a field the server has no place for is not "changed".
    fn created_fields(&self, desired: &User) -> Vec<String> {
        let dropped = self.target.unsupported(desired);
        let mut v = set_fields(desired);
        v.retain(|f| !dropped.contains(&f.as_str()));
        v
    }
}

/// The longest `auth_data` Mattermost stores.
const MAX_AUTH_DATA: usize = 128;

/// A refusal for lack of permission refuses every row of a `roster do` alike: it stops
/// the run with one message instead of a report of identical failures.
fn forbidden_stops(e: CallError) -> CallError {
    match e {
        CallError::Rejected {
            status: 401 | 403,
            message,
            ..
        } => CallError::Fatal(format!(
            "{message}; the account roster runs as lacks the permission for this action"
        )),
        e => e,
    }
}

/// Roles shown in an unknown-role error, the same for every row (the summary groups
/// the errors by their text): long lists are cut short.
fn role_list(known: &std::collections::BTreeSet<String>) -> String {
    const SHOWN: usize = 20;
    let mut shown: Vec<&str> = known.iter().take(SHOWN).map(String::as_str).collect();
    if known.len() > SHOWN {
        shown.push("…");
    }
    shown.join(", ")
}

/// Names of the fields a create sets.
fn set_fields(u: &User) -> Vec<String> {
    let mut v = vec![Field::Username.name().into_owned()];
    let mut add = |present: bool, f: Field| {
        if present {
            v.push(f.name().into_owned());
        }
    };
    add(u.email.is_some(), Field::Email);
    add(u.name.is_some(), Field::Name);
    add(u.first_name.is_some(), Field::FirstName);
    add(u.last_name.is_some(), Field::LastName);
    add(u.nickname.is_some(), Field::Nickname);
    add(u.position.is_some(), Field::Position);
    add(u.locale.is_some(), Field::Locale);
    add(u.active.is_some(), Field::Active);
    add(u.roles.is_some(), Field::Roles);
    add(u.password.is_some(), Field::Password);
    add(
        u.require_password_change.is_some(),
        Field::RequirePasswordChange,
    );
    add(u.verified.is_some(), Field::Verified);
    for k in u.custom_fields.keys() {
        v.push(Field::Custom(k.clone()).name().into_owned());
    }
    v
}

fn digest_of(b: &[u8]) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(b);
    h.iter().take(16).map(|x| format!("{x:02x}")).collect()
}

fn url_digest(u: &str) -> String {
    format!("url:{}", digest_of(u.trim().as_bytes()))
}

/// Reads an avatar file named relative to the source's folder, refusing any path that
/// leads out of it (a symbolic link included): a row must not make roster read and send
/// an arbitrary local file.
fn read_avatar_file(dir: Option<&std::path::Path>, rel: &str) -> Result<Vec<u8>, String> {
    let Some(dir) = dir else {
        return Err(format!(
            "avatar: {rel:?} is a path, and this source has no folder (stdin, LDAP): give the image or a URL"
        ));
    };
    let root = dir
        .canonicalize()
        .map_err(|e| format!("avatar: the source's folder {}: {e}", dir.display()))?;
    let path = root
        .join(rel)
        .canonicalize()
        .map_err(|e| format!("avatar: {rel:?}: {e}"))?;
    if !path.starts_with(&root) {
        return Err(format!(
            "avatar: {rel:?} leads out of the source's folder {}: not read",
            root.display()
        ));
    }
    let meta = std::fs::metadata(&path).map_err(|e| format!("avatar: {rel:?}: {e}"))?;
    if meta.len() > crate::validate::AVATAR_MAX_BYTES as u64 {
        return Err(format!(
            "avatar: {rel:?} is larger than the servers' upload limit"
        ));
    }
    std::fs::read(&path).map_err(|e| format!("avatar: {rel:?}: {e}"))
}

#[cfg(test)]
mod tests {
    //! The decision table on an in-memory server: what each row does, and what the
    //! guards never let it do.
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::exec::fake::{FakeServer, user};

    fn engine(server: &Arc<FakeServer>, mode: Mode, guard: WriteGuard) -> Engine {
        Engine::new(
            server.clone(),
            EngineOptions {
                mode,
                match_key: MatchKey::Username,
                dry_run: false,
                reactivate: false,
                max_attempts: 3,
                create: CreateOptions {
                    random_password: true,
                    ..CreateOptions::default()
                },
                guard,
                anchors: Arc::default(),
                avatar_dir: None,
                action: None,
            },
        )
    }

    #[test]
    fn an_import_finds_a_renamed_person_through_the_ledger() {
        let server = Arc::new(FakeServer::new(&[("jane.doe", "jane.doe@x.org")]));
        let mut anchors = Anchors::default();
        anchors.insert("guid-1", "id-jane.doe");
        let e = Engine::new(
            server.clone(),
            EngineOptions {
                anchors: Arc::new(anchors),
                ..engine(&server, Mode::Upsert, WriteGuard::default()).opts
            },
        );
        let mut row = user("jane.smith", "jane.smith@x.org", &["user"]);
        row.id = None;
        row.external_id = Some("guid-1".into());
        let done = e.run(&row, &Intent::Upsert, None);
        assert_eq!(done.entry.status, Status::Ok, "{}", done.entry.error);
        assert_eq!(done.entry.action, Action::Update);
        assert_eq!(done.entry.renamed_from, "jane.doe");
        assert_eq!(done.entry.id, "id-jane.doe");
        let now = server.get("jane.smith").expect("renamed");
        assert_eq!(now.id.as_deref(), Some("id-jane.doe"));
        assert!(server.get("jane.doe").is_none());
        assert_eq!(server.writes().len(), 1, "one update, no create");
    }

    #[test]
    fn create_only_never_makes_a_second_account_for_a_known_person() {
        // --mode create skips the lookup for speed; a person the ledger knows is looked
        // up by id all the same, so a renamed one is not created anew.
        let server = Arc::new(FakeServer::new(&[("jane.doe", "jane.doe@x.org")]));
        let mut anchors = Anchors::default();
        anchors.insert("guid-1", "id-jane.doe");
        let e = Engine::new(
            server.clone(),
            EngineOptions {
                anchors: Arc::new(anchors),
                ..engine(&server, Mode::Create, WriteGuard::default()).opts
            },
        );
        let mut row = user("jane.smith", "jane.smith@x.org", &["user"]);
        row.id = None;
        row.external_id = Some("GUID-1".into());
        let done = e.run(&row, &Intent::Upsert, None);
        assert_ne!(done.entry.action, Action::Create, "{:?}", done.entry);
        assert!(server.get("jane.smith").is_none(), "a second account");
        assert!(server.writes().is_empty());
        // A row without an anchor does not take an account the ledger ties to a person.
        let e = Engine::new(
            server.clone(),
            EngineOptions {
                mode: Mode::Upsert,
                ..e.opts.clone()
            },
        );
        let mut other = user("jane.doe", "someone@x.org", &["user"]);
        other.id = None;
        let done = e.run(&other, &Intent::Upsert, None);
        assert_eq!(done.entry.status, Status::Failed);
        assert!(
            done.entry.error.contains("this row has no anchor"),
            "{}",
            done.entry.error
        );
        assert!(server.writes().is_empty());
    }

    fn row(name: &str, email: &str, roles: &[&str]) -> User {
        let mut u = user(name, email, roles);
        u.id = None;
        u
    }

    #[test]
    fn the_decision_table() {
        let s = Arc::new(FakeServer::new(&[("ann", "ann@example.org")]));
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        // New: create; the same again: nothing; one field differs: only that field.
        let d = e.run(
            &row("bob", "bob@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(
            (d.entry.action, d.entry.status),
            (Action::Create, Status::Ok)
        );
        let d = e.run(
            &row("bob", "bob@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(d.entry.action, Action::None, "{:?}", d.entry);
        let mut ann = row("ann", "ann@example.org", &["user"]);
        ann.name = Some("Ann Lee".into());
        let d = e.run(&ann, &Intent::Upsert, None);
        assert_eq!(d.entry.action, Action::Update);
        assert_eq!(d.entry.changed, ["name"]);
        // Disabled at the source: a deactivation, in the report too.
        ann.active = Some(false);
        let d = e.run(&ann, &Intent::Upsert, None);
        assert_eq!(d.entry.action, Action::Deactivate, "{:?}", d.entry);
        // Active at the source, deactivated on the server: held unless --reactivate.
        ann.active = Some(true);
        let d = e.run(&ann, &Intent::Upsert, None);
        assert_eq!(d.entry.action, Action::None);
        assert_eq!(d.note, Some(Note::HeldInactive));
        assert_eq!(d.entry.error, Note::HeldInactive.message());
        assert_eq!(s.get("ann").and_then(|u| u.active), Some(false));
        // --mode update never creates; --mode create never updates.
        let u = engine(&s, Mode::Update, WriteGuard::default());
        let d = u.run(
            &row("cy", "cy@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(d.entry.status, Status::Skipped);
        assert!(s.get("cy").is_none());
        let c = engine(&s, Mode::Create, WriteGuard::default());
        let mut bob = row("bob", "bob@example.org", &["user"]);
        bob.name = Some("Robert".into());
        let d = c.run(&bob, &Intent::Upsert, None);
        assert_eq!(d.entry.status, Status::Skipped, "{:?}", d.entry);
        assert_ne!(s.get("bob").and_then(|u| u.name), Some("Robert".into()));
    }

    #[test]
    fn admins_self_and_protected_users_are_never_written() {
        let s = Arc::new(FakeServer::new(&[("ann", "ann@example.org")]));
        let guard = WriteGuard {
            protect: vec!["ann@example.org".into()],
            ..WriteGuard::default()
        };
        let e = engine(&s, Mode::Upsert, guard);
        for name in ["admin", "importer", "ann"] {
            let d = e.run(
                &row(name, "x@example.org", &["user"]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Skipped, "{name}: {:?}", d.entry);
            assert!(d.entry.error.starts_with("protected"), "{:?}", d.entry);
            let d = e.run(&row(name, "", &[]), &Intent::Deactivate, None);
            assert_eq!(d.entry.status, Status::Skipped, "{name}: {:?}", d.entry);
        }
        assert!(s.writes().is_empty(), "{:?}", s.writes());

        // Named in the job file: written, but the admin role stays unless demotion is
        // allowed too.
        let allowed = WriteGuard {
            allowed: vec!["admin".into()],
            ..WriteGuard::default()
        };
        let e = engine(&s, Mode::Upsert, allowed.clone());
        let d = e.run(
            &row("admin", "new@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(
            (d.entry.action, d.entry.status),
            (Action::Update, Status::Ok)
        );
        assert_eq!(d.entry.changed, ["email"]);
        let a = s.get("admin").unwrap();
        assert_eq!(a.email.as_deref(), Some("new@example.org"));
        assert!(a.roles.unwrap().contains(&"admin".to_string()));
        let e = engine(
            &s,
            Mode::Upsert,
            WriteGuard {
                demote_admins: true,
                ..allowed
            },
        );
        e.run(
            &row("admin", "new@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(s.get("admin").unwrap().roles, Some(vec!["user".into()]));
    }

    #[test]
    fn a_role_the_server_lacks_rejects_its_row_before_any_request() {
        let s = Arc::new(FakeServer::new(&[("ann", "ann@example.org")]));
        for dry_run in [true, false] {
            let mut e = engine(&s, Mode::Upsert, WriteGuard::default());
            e.opts.dry_run = dry_run;
            let d = e.run(
                &row("bob", "bob@example.org", &["user", "admn"]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Rejected, "{:?}", d.entry);
            assert_eq!(
                d.entry.error,
                r#"roles: "admn" is not a role on this server (roles: admin, bot, guest, user)"#
            );
            assert_eq!(d.entry.attempts, 0, "no request for the row");
            // An existing user is not updated either.
            let d = e.run(
                &row("ann", "ann@example.org", &["moderator", "x"]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Rejected, "{:?}", d.entry);
            assert!(
                d.entry
                    .error
                    .starts_with(r#"roles: "moderator", "x" are not roles on this server"#),
                "{}",
                d.entry.error
            );
        }
        assert!(s.get("bob").is_none());
        assert!(s.writes().is_empty(), "{:?}", s.writes());
        // Good roles go through; rows that write no roles never need the listing.
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        let d = e.run(
            &row("cy", "cy@example.org", &["user", "guest"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(d.entry.status, Status::Ok, "{:?}", d.entry);
        assert_eq!(s.writes(), ["create cy"]);
        assert_eq!(s.role_reads.load(Ordering::SeqCst), 1, "read once per run");
        assert!(s.warnings().is_empty());
    }

    #[test]
    fn roles_are_read_only_for_rows_that_write_them() {
        let s = Arc::new(FakeServer::new(&[("ann", "ann@example.org")]));
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        let mut ann = row("ann", "ann@example.org", &["nope"]);
        ann.name = Some("Ann Lee".into());
        let d = e.run(&ann, &Intent::Modify(vec![Field::Name]), None);
        assert_eq!(d.entry.status, Status::Ok, "{:?}", d.entry);
        let d = e.run(&ann, &Intent::Deactivate, None);
        assert_eq!(d.entry.action, Action::Deactivate, "{:?}", d.entry);
        let d = e.run(&row("dee", "dee@example.org", &[]), &Intent::Upsert, None);
        assert_eq!(d.entry.status, Status::Ok, "{:?}", d.entry);
        assert_eq!(s.role_reads.load(Ordering::SeqCst), 0);
        let d = e.run(&ann, &Intent::Modify(vec![Field::Roles]), None);
        assert_eq!(d.entry.status, Status::Rejected, "{:?}", d.entry);
        assert_eq!(s.role_reads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unreadable_roles_are_not_checked_and_warned_about_once() {
        let s = Arc::new(FakeServer::new(&[]));
        *s.role_list.lock().unwrap() = Err(CallError::Rejected {
            status: 403,
            code: None,
            message: "roles.list: not allowed".into(),
        });
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        for name in ["bob", "cy"] {
            let d = e.run(
                &row(name, &format!("{name}@example.org"), &["custom"]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Ok, "{:?}", d.entry);
        }
        assert_eq!(s.role_reads.load(Ordering::SeqCst), 1);
        let w = s.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("roles.list: not allowed"), "{w:?}");

        // Ctrl-C during the listing: the row is not done, nor failed.
        let s = Arc::new(FakeServer::new(&[]));
        *s.role_list.lock().unwrap() = Err(CallError::Interrupted);
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        let d = e.run(
            &row("bob", "bob@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert!(d.interrupted, "{:?}", d.entry);
        assert!(s.writes().is_empty());
    }

    #[test]
    fn an_ambiguous_create_never_rewrites_an_account_that_was_there() {
        let s = Arc::new(FakeServer::new(&[("ann", "ann@example.org")]));
        s.lose_answers.store(true, Ordering::SeqCst);
        // The create of `admin` was refused and its answer lost: the lookup finds the
        // administrator, who must not get the row's email and roles.
        for mode in [Mode::Upsert, Mode::Create] {
            let e = engine(&s, mode, WriteGuard::default());
            let d = e.run(
                &row("admin", "hijack@example.org", &["user"]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Skipped, "{mode:?}: {:?}", d.entry);
            assert_eq!(
                s.get("admin").unwrap().email.as_deref(),
                Some("admin@example.org")
            );
        }
        // --mode create: an account with another email was there all along: left alone.
        let e = engine(&s, Mode::Create, WriteGuard::default());
        let d = e.run(
            &row("ann", "other@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(d.entry.status, Status::Skipped, "{:?}", d.entry);
        assert_eq!(
            s.get("ann").unwrap().email.as_deref(),
            Some("ann@example.org")
        );
        assert!(s.writes().is_empty(), "{:?}", s.writes());
        // A create that did happen is finished and reported as the create it was.
        let e = engine(&s, Mode::Upsert, WriteGuard::default());
        let d = e.run(
            &row("dee", "dee@example.org", &["user"]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(
            (d.entry.action, d.entry.status),
            (Action::Create, Status::Ok)
        );
        assert_eq!(s.writes(), ["create dee"]);
    }

    #[test]
    fn an_action_skips_the_unmatched_and_the_protected_and_deletes_once() {
        use crate::exec::actions::{ActionOptions, DoAction};
        let s = Arc::new(FakeServer::new(&[
            ("ann", "ann@example.org"),
            ("bob", "bob@example.org"),
        ]));
        let with = |action, dry_run, guard| {
            let mut e = engine(&s, Mode::Upsert, guard);
            e.opts.dry_run = dry_run;
            e.opts.action = Some(ActionOptions {
                roles: Default::default(),
                status: None,
                reset: None,
                token: None,
                action,
                confirm_relinquish: false,
                remove_memberships: false,
                preferences: Default::default(),
                auth: None,
            });
            e
        };
        let e = with(DoAction::Delete, false, WriteGuard::default());
        let d = e.run(&row("nobody", "n@example.org", &[]), &Intent::Upsert, None);
        assert_eq!(
            (d.entry.action, d.entry.status),
            (Action::Delete, Status::Skipped)
        );
        // The running account, admins, and (even when the job file opens them to other
        // writes) never deleted.
        let allowed = WriteGuard {
            allowed: vec!["admin".into()],
            ..WriteGuard::default()
        };
        for name in ["admin", "importer"] {
            let d = with(DoAction::Delete, false, allowed.clone()).run(
                &row(name, "", &[]),
                &Intent::Upsert,
                None,
            );
            assert_eq!(d.entry.status, Status::Skipped, "{name}: {:?}", d.entry);
            assert!(d.entry.error.contains("never deleted"), "{:?}", d.entry);
        }
        let d = with(DoAction::Delete, true, WriteGuard::default()).run(
            &row("ann", "", &[]),
            &Intent::Upsert,
            None,
        );
        assert_eq!(
            (d.entry.status, d.entry.action),
            (Status::Ok, Action::Delete)
        );
        assert!(s.writes().is_empty(), "dry run: {:?}", s.writes());
        // The answer is lost: the lookup finds the account gone, the row is done, and the
        // delete is not sent again.
        s.lose_answers.store(true, Ordering::SeqCst);
        let d = e.run(&row("ann", "", &[]), &Intent::Upsert, None);
        assert_eq!(d.entry.status, Status::Ok, "{:?}", d.entry);
        assert_eq!(d.entry.id, "id-ann");
        assert_eq!(s.writes(), ["delete ann"]);
        assert!(s.get("ann").is_none());
        s.lose_answers.store(false, Ordering::SeqCst);
        // Deactivate: bob once; an account already inactive needs no request.
        let e = with(DoAction::Deactivate, false, WriteGuard::default());
        for _ in 0..2 {
            let d = e.run(&row("bob", "", &[]), &Intent::Upsert, None);
            assert_eq!(d.entry.action, Action::Deactivate, "{:?}", d.entry);
        }
        assert_eq!(s.writes(), ["delete ann", "deactivate bob"]);
    }
}
