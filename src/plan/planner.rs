//! Sync planning: one snapshot of the server, the source compared with it row by row,
//! deactivation candidates, and the guards that keep a bad night from deactivating the
//! company.
//!
//! The per-row decision is the import engine's own, run as a dry run against the
//! snapshot, so a plan and its application can never disagree.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::client::{CallError, CallStats, CreateOptions, Flavor, GroupKind, MatchKey, UserApi};
use crate::exec::Work;
use crate::exec::anchors::{anchor, same};
use crate::exec::engine::{Engine, Note, WriteGuard};
use crate::model::{Field, Intent, Origin, RawText, User};
use crate::pipeline::{Checked, Outcome};
use crate::plan::state::State;
use crate::report::summary::{reason_key, split_problems};
use crate::report::{Action, ReportEntry, Status};

/// The deactivation threshold (`--max-deactivate N|P%`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Threshold {
    /// 5 % of managed users or 50 users, whichever is smaller.
    #[default]
    Default,
    Count(u64),
    Percent(f64),
}

impl std::str::FromStr for Threshold {
    type Err = String;
    fn from_str(s: &str) -> Result<Threshold, String> {
        let s = s.trim();
        let bad = || format!("--max-deactivate {s:?}: expected a count (10) or a percentage (2%)");
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            return Ok(Threshold::Percent(v));
        }
        s.parse().map(Threshold::Count).map_err(|_| bad())
    }
}

impl Threshold {
    /// The largest number of deactivations allowed out of `base` managed users.
    pub fn limit(self, base: u64) -> f64 {
        match self {
            Threshold::Default => (base as f64 * 0.05).min(50.0),
            Threshold::Count(n) => n as f64,
            Threshold::Percent(p) => base as f64 * p / 100.0,
        }
    }
    pub fn describe(self, base: u64) -> String {
        match self {
            Threshold::Default => format!(
                "the default threshold (5 % of {base} managed users or 50, whichever is smaller: {:.1})",
                self.limit(base)
            ),
            Threshold::Count(n) => format!("--max-deactivate {n}"),
            Threshold::Percent(p) => {
                format!("--max-deactivate {p}% of {base} = {:.1}", self.limit(base))
            }
        }
    }
}

/// Which server users a sync manages, besides those in the state file (`--manage`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every user (admins, bots, apps and protected users excepted).
    All,
    /// Users whose email is in this domain.
    Domain(String),
    /// Users holding this role.
    Role(String),
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("all") {
            return Ok(Scope::All);
        }
        match s.split_once('=') {
            Some((k, v)) if k.trim() == "domain" && !v.trim().is_empty() => Ok(Scope::Domain(
                v.trim().trim_start_matches('@').to_lowercase(),
            )),
            Some((k, v)) if k.trim() == "role" && !v.trim().is_empty() => {
                Ok(Scope::Role(v.trim().to_string()))
            }
            _ => Err(format!(
                "{s:?}: expected domain=example.org, role=NAME or all"
            )),
        }
    }
}

impl Scope {
    fn matches(&self, u: &User) -> bool {
        match self {
            Scope::All => true,
            Scope::Domain(d) => u
                .email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .is_some_and(|(_, dom)| dom.eq_ignore_ascii_case(d)),
            Scope::Role(r) => u.roles.as_ref().is_some_and(|rs| rs.iter().any(|x| x == r)),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    pub deactivate_missing: bool,
    pub threshold: Threshold,
    pub force: bool,
    pub scope: Vec<Scope>,
    /// Teams and channels (paths) whose memberships roster manages whoever added them
    /// (`[sync] manage_teams` / `manage_channels`), besides those the ledger recorded.
    pub manage_teams: Vec<String>,
    pub manage_channels: Vec<String>,
    /// A deactivated user also leaves the teams and channels roster manages for them.
    pub remove_memberships_on_deactivate: bool,
    /// The sync keeps a `--state` ledger (avatars are compared with its digests).
    pub ledger: bool,
}

/// One snapshot of the server, taken by paging at its largest page size.
pub struct Snapshot {
    pub users: Vec<User>,
    index: HashMap<String, usize>,
    /// Every user by lowercased username and by lowercased email, whatever the match
    /// key: a rejected row protects whoever it names either way.
    by_name: HashMap<String, usize>,
    by_email: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

impl Snapshot {
    pub fn take(
        target: &dyn UserApi,
        by: MatchKey,
        progress: impl FnMut(usize),
    ) -> Result<Snapshot, CallError> {
        Snapshot::take_from(target, by, None, progress)
    }

    /// The same, from a first page already read (the one that told the total).
    pub fn take_from(
        target: &dyn UserApi,
        by: MatchKey,
        first: Option<crate::client::Page>,
        mut progress: impl FnMut(usize),
    ) -> Result<Snapshot, CallError> {
        let mut stats = CallStats::default();
        let mut users = Vec::new();
        let mut page = 0;
        let mut first = first;
        loop {
            let p = match first.take() {
                Some(p) => p,
                None => target.list(page, &mut stats)?,
            };
            let n = p.users.len();
            users.extend(p.users);
            progress(users.len());
            if !p.more || n == 0 {
                break;
            }
            page += 1;
        }
        let index = users
            .iter()
            .enumerate()
            .filter_map(|(i, u)| by.of(&target.normalize(u)).map(|k| (k, i)))
            .collect();
        let of = |key: MatchKey| {
            users
                .iter()
                .enumerate()
                .filter_map(|(i, u)| key.of(u).map(|k| (k, i)))
                .collect::<HashMap<_, _>>()
        };
        let (by_name, by_email) = (of(MatchKey::Username), of(MatchKey::Email));
        let by_id = users
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.id.clone().map(|id| (id, i)))
            .collect();
        Ok(Snapshot {
            users,
            index,
            by_name,
            by_email,
            by_id,
        })
    }

    /// The server user a person's anchor leads to, through the ledger's id. (Not through
    /// Mattermost's `auth_data`, the directory id of LDAP/SAML accounts: `User.Sanitize`
    /// in server/public/model/user.go blanks it in every answer, to admins too.)
    pub fn anchored(&self, anchor: &str, state: &State) -> Option<usize> {
        state
            .anchors
            .id_of(anchor)
            .and_then(|id| self.by_id.get(id))
            .copied()
    }

    /// Another server user than `i` holding `u`'s username or email: a planned rename
    /// or email change onto it would be refused by the server.
    fn holder_other_than(&self, i: usize, u: &User) -> Option<(&'static str, usize)> {
        let name = MatchKey::Username.of(u).and_then(|k| self.by_name.get(&k));
        let email = MatchKey::Email.of(u).and_then(|k| self.by_email.get(&k));
        [("username", name), ("email", email)]
            .into_iter()
            .find_map(|(what, j)| j.filter(|&&j| j != i).map(|&j| (what, j)))
    }

    /// The server user a (possibly half-mapped, rejected) row names by username or email.
    pub fn named_by(&self, u: &User) -> Option<usize> {
        let name = MatchKey::Username.of(u).and_then(|k| self.by_name.get(&k));
        let email = MatchKey::Email.of(u).and_then(|k| self.by_email.get(&k));
        name.or(email).copied()
    }

    pub fn get(&self, key: &str) -> Option<(usize, &User)> {
        self.index.get(key).map(|&i| (i, &self.users[i]))
    }
}

/// One field's change, for people reading a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

/// One user a plan touches.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanItem {
    pub origin: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The username before a rename (the account was found by its anchor or email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// The user as the source wants it (creates and updates; never a password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The memberships the apply removes (`- team: sales`), as resolved when planned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<crate::client::Group>,
}

/// What a sync would do. Saved by `roster plan -o plan.json`, applied by `roster apply`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub roster_plan: u32,
    pub server: String,
    pub flavor: Flavor,
    #[serde(rename = "match")]
    pub match_key: MatchKey,
    pub created: String,
    pub source: String,
    pub source_rows: u64,
    /// Rows rejected, by validation or by the planning decision (a new user without a
    /// password); `reasons` groups them as the run summary does.
    pub rejected: u64,
    /// Rows whose planned write is known to fail already (a rename onto a taken name, an
    /// account the ledger ties to another person): counted as the sync counts them.
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub reasons: BTreeMap<String, u64>,
    /// Rows left alone on purpose (protected accounts, disabled at the source, --mode).
    #[serde(default)]
    pub skipped: u64,
    pub unchanged: u64,
    pub managed: u64,
    pub creates: Vec<PlanItem>,
    pub updates: Vec<PlanItem>,
    pub deactivations: Vec<PlanItem>,
    pub held_inactive: Vec<PlanItem>,
    /// Team and channel memberships the plan removes (within `updates` and
    /// `deactivations`), under the deactivation threshold too.
    #[serde(default)]
    pub membership_removals: u64,
    /// Set when a guard refuses the plan: why, and how to override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Set when only the deactivation of missing users is refused (rejected rows that
    /// name nobody on the server): creates and updates still go ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivations_refused: Option<String>,
    /// How new users are created, so `apply` creates them as planned.
    #[serde(default)]
    pub create: CreateOptions,
    /// The accounts never written, so `apply` protects what the plan protected.
    #[serde(default)]
    pub guard: WriteGuard,
}

impl Plan {
    pub fn pending(&self) -> usize {
        self.creates.len() + self.updates.len() + self.deactivations.len()
    }

    /// Why the plan, or part of it, was refused.
    pub fn refusal(&self) -> Option<&str> {
        self.refused
            .as_deref()
            .or(self.deactivations_refused.as_deref())
    }

    fn count_final(&mut self, e: &ReportEntry) {
        match e.status {
            Status::Rejected | Status::Failed => {
                if e.status == Status::Failed {
                    self.failed += 1;
                } else {
                    self.rejected += 1;
                }
                for part in split_problems(&e.error) {
                    *self.reasons.entry(reason_key(&part)).or_default() += 1;
                }
            }
            Status::Skipped => self.skipped += 1,
            Status::Ok => self.unchanged += 1,
        }
    }
}

/// A row to apply, as planned.
pub struct Pending {
    /// The row's place in the report: source rows first, numbered from 0 in the order
    /// they were added; then the server's users missing from the source.
    pub seq: u64,
    pub work: Work,
    pub action: Action,
    /// The dry-run entry: what will be done.
    pub entry: ReportEntry,
}

/// The team paths and channel paths roster manages for one account (`None`: the source
/// does not map that kind, the ledger's stand).
type ManagedGroups = (Option<Vec<String>>, Option<Vec<String>>);

/// Builds a plan from source rows and a snapshot.
pub struct Planner<'a> {
    engine: &'a Engine,
    snapshot: &'a Snapshot,
    state: &'a State,
    opts: SyncOptions,
    seen: Vec<bool>,
    /// The source's anchor of each matched server user, for the ledger.
    anchors: Vec<Option<String>>,
    /// The row (origin) each matched server user is the account of.
    targets: HashMap<usize, String>,
    /// Managed server users missing from the source (deactivated, or refused).
    missing: Vec<bool>,
    /// Rows refused because the ledger ties their account to another anchor: many of them
    /// mean the source's anchor attribute changed, not that people did.
    other_anchor_rows: u64,
    /// Accounts that lose a team or channel membership in this plan.
    removal_accounts: u64,
    /// The memberships (team paths, channel paths) each account taken by a row is to
    /// have managed, for the ledger; `None` for a kind the source does not map.
    managed_groups: Vec<ManagedGroups>,
    pub plan: Plan,
    pub pending: Vec<Pending>,
    valid_rows: u64,
    /// Origins of rejected rows that name no server user: who they are is unknown, so
    /// nobody missing is deactivated on their account.
    unmatched_rejects: Vec<String>,
}

impl<'a> Planner<'a> {
    /// `engine` must be a dry-run engine: planning makes no calls.
    pub fn new(
        engine: &'a Engine,
        snapshot: &'a Snapshot,
        state: &'a State,
        opts: SyncOptions,
        server: &str,
        source: &str,
    ) -> Self {
        let target = engine.target();
        Planner {
            engine,
            snapshot,
            state,
            opts,
            seen: vec![false; snapshot.users.len()],
            anchors: vec![None; snapshot.users.len()],
            targets: HashMap::new(),
            missing: vec![false; snapshot.users.len()],
            other_anchor_rows: 0,
            managed_groups: vec![(None, None); snapshot.users.len()],
            removal_accounts: 0,
            plan: Plan {
                roster_plan: 1,
                server: server.to_string(),
                flavor: target.flavor(),
                match_key: engine.options().match_key,
                created: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
                source: source.to_string(),
                source_rows: 0,
                rejected: 0,
                failed: 0,
                reasons: BTreeMap::new(),
                skipped: 0,
                unchanged: 0,
                managed: 0,
                creates: Vec::new(),
                updates: Vec::new(),
                deactivations: Vec::new(),
                held_inactive: Vec::new(),
                membership_removals: 0,
                refused: None,
                deactivations_refused: None,
                create: engine.options().create.clone(),
                guard: engine.options().guard.clone(),
            },
            pending: Vec::new(),
            valid_rows: 0,
            unmatched_rejects: Vec::new(),
        }
    }

    fn protected(&self, u: &User) -> bool {
        self.engine.protection(u).is_some()
    }

    fn managed(&self, u: &User) -> bool {
        let by = self.engine.options().match_key;
        let key = by.of(&self.engine.target().normalize(u));
        self.state.manages(key.as_deref(), u.id.as_deref())
            || self.opts.scope.iter().any(|s| s.matches(u))
    }

    /// Adds one source row; returns its report entry when it is final now (unchanged,
    /// rejected, skipped), or `None` when it waits to be applied.
    pub fn add(&mut self, checked: Checked) -> Option<ReportEntry> {
        let entry = self.decide(checked)?;
        self.plan.count_final(&entry);
        Some(entry)
    }

    fn decide(&mut self, checked: Checked) -> Option<ReportEntry> {
        self.plan.source_rows += 1;
        let (user, intent) = match &checked.outcome {
            Outcome::Valid { user, intent } => ((**user).clone(), intent.clone()),
            Outcome::Rejected { user, .. } => {
                // A bad row never deactivates its user: whoever its anchor leads to, or
                // else it names by username or email, counts as present.
                let named = user
                    .as_deref()
                    .map(|u| self.engine.target().normalize(u))
                    .and_then(|u| {
                        anchor(&u)
                            .and_then(|a| self.snapshot.anchored(a, self.state))
                            .or_else(|| self.snapshot.named_by(&u))
                    });
                match named {
                    Some(i) => self.seen[i] = true,
                    None => self.unmatched_rejects.push(checked.origin.to_string()),
                }
                return Some(checked.offline_entry());
            }
        };
        self.valid_rows += 1;
        let target = self.engine.target();
        let desired = target.normalize(&user);
        let by_key = self
            .engine
            .options()
            .match_key
            .of(&desired)
            .and_then(|k| self.snapshot.get(&k))
            .map(|(i, _)| i);
        // Who the person is (the anchor) before what they are called (the match key).
        let by_anchor = anchor(&desired).and_then(|a| self.snapshot.anchored(a, self.state));
        let found = by_anchor.or(by_key);
        // The ledger says the account found is another person's: the engine refuses the
        // row below.
        let refused = found.is_some_and(|i| {
            self.engine
                .claimed_by_another(&desired, &intent, &self.snapshot.users[i])
                .is_some()
        });
        // Whoever the row leads to counts as present, whatever becomes of it: a row that
        // fails never deactivates the account it names. Except an account the ledger ties
        // to another anchor than the row's: the row is provably someone else, and the
        // account's person may have left (a row with no anchor at all may be that person
        // with an empty cell, and protects it).
        let mine = anchor(&desired);
        for i in [found, by_key].into_iter().flatten() {
            let theirs = self.snapshot.users[i]
                .id
                .as_deref()
                .and_then(|id| self.state.anchors.anchor_of(id));
            if !matches!((mine, theirs), (Some(m), Some(t)) if !same(m, t)) {
                self.seen[i] = true;
            }
        }
        if refused && mine.is_some() {
            self.other_anchor_rows += 1;
        }
        // A refused row neither takes the account nor teaches the ledger its anchor, so
        // the refusal holds the next night too and the true owner's row still finds it.
        if let Some(i) = found
            && !refused
        {
            if let Some(entry) = self.taken(i, &desired, &checked) {
                return Some(entry);
            }
            self.targets.insert(i, checked.origin.to_string());
            if let Some(a) = anchor(&desired) {
                self.anchors[i] = Some(a.to_string());
            }
            if let Some(entry) = self.clash(Some(i), &desired, &checked) {
                return Some(entry);
            }
        }
        let current = found.map(|i| self.snapshot.users[i].clone());
        let done = self.engine.run(&user, &intent, Some(current.clone()));
        let mut entry = done.entry;
        let renamed_from = (!entry.renamed_from.is_empty()).then(|| entry.renamed_from.clone());
        let item = |reason: Option<String>, changes: Vec<FieldChange>, with_user: bool| PlanItem {
            origin: checked.origin.to_string(),
            username: desired.username.clone(),
            email: desired.email.clone().unwrap_or_default(),
            id: current.as_ref().and_then(|c| c.id.clone()),
            reason,
            renamed_from: renamed_from.clone(),
            changes,
            user: with_user.then(|| desired.clone()),
            remove: Vec::new(),
        };
        if done.note == Some(Note::HeldInactive) {
            self.plan.held_inactive.push(item(
                Some(Note::HeldInactive.message().into()),
                Vec::new(),
                false,
            ));
        }
        if entry.status != Status::Ok {
            return Some(entry);
        }
        if entry.action == Action::Create && desired.active == Some(false) {
            entry.action = Action::None;
            entry.status = Status::Skipped;
            entry.changed.clear();
            entry.error = "disabled at the source: not created".into();
            return Some(entry);
        }
        // A new account whose username or email another account holds: the server would
        // refuse the create, so the plan says so now.
        if entry.action == Action::Create
            && let Some(failed) = self.clash(None, &desired, &checked)
        {
            return Some(failed);
        }
        let mut changes: Vec<FieldChange> = match &current {
            Some(c) => entry
                .changed
                .iter()
                .filter_map(|f| Field::parse(f))
                .map(|f| FieldChange {
                    field: f.name().into_owned(),
                    old: field_value(c, &f),
                    new: field_value(&desired, &f),
                })
                .collect(),
            None => Vec::new(),
        };
        // The teams and channels the account lacks: added after it is written, when it is
        // active then (a deactivated account gets none: Mattermost refuses it in a
        // channel; Rocket.Chat does not list it as a member, so it would be invited again
        // every night).
        let active_after = match &current {
            None => desired.active != Some(false),
            Some(c) => c.active != Some(false) || entry.changed.iter().any(|f| f == "active"),
        } && entry.action != Action::Deactivate;
        if let Some(wanted) = &done.groups
            && active_after
            && matches!(entry.action, Action::None | Action::Update | Action::Create)
        {
            let mut stats = crate::client::CallStats::default();
            let id = current.as_ref().and_then(|c| c.id.as_deref());
            match self.engine.members().lacking(wanted, id, &mut stats) {
                Ok(lacking) => {
                    for g in &lacking {
                        let field = g.kind.field().to_string();
                        if !entry.changed.contains(&field) {
                            entry.changed.push(field.clone());
                        }
                        if entry.action != Action::Create {
                            changes.push(FieldChange {
                                field,
                                old: String::new(),
                                new: g.path.clone(),
                            });
                        }
                    }
                    if entry.action == Action::None && !lacking.is_empty() {
                        entry.action = Action::Update;
                    }
                }
                Err(e) => {
                    entry.status = Status::Failed;
                    entry.error =
                        format!("reading the members of the row's teams and channels: {e}");
                    return Some(entry);
                }
            }
        }
        // The memberships roster manages (the ledger's, the job file's groups) that the
        // source no longer lists: removed after the profile. Never a protected account's.
        let mut remove: Vec<crate::client::Group> = Vec::new();
        if let (Some(i), Some(cur)) = (found.filter(|_| !refused), current.as_ref())
            && let Some(id) = cur.id.as_deref()
        {
            let wanted = done.groups.clone().unwrap_or_default();
            if matches!(entry.action, Action::None | Action::Update) && !self.protected(cur) {
                let prev = self.state.line(id);
                let kinds = [
                    (
                        GroupKind::Team,
                        desired.teams.is_some(),
                        &self.opts.manage_teams,
                    ),
                    (
                        GroupKind::Channel,
                        desired.channels.is_some(),
                        &self.opts.manage_channels,
                    ),
                ];
                let mut stats = crate::client::CallStats::default();
                for (kind, listed, extra) in kinds {
                    // A source that says nothing of teams removes none.
                    if !listed {
                        continue;
                    }
                    let mut paths: Vec<String> = prev
                        .and_then(|u| match kind {
                            GroupKind::Team => u.teams.clone(),
                            GroupKind::Channel => u.channels.clone(),
                        })
                        .unwrap_or_default();
                    paths.extend(extra.iter().cloned());
                    match self.engine.members().to_remove(
                        kind,
                        &paths,
                        Some(&wanted),
                        id,
                        &mut stats,
                    ) {
                        Ok(r) => remove.extend(r),
                        Err(e) => {
                            entry.status = Status::Failed;
                            entry.error = format!(
                                "reading the members of the teams and channels roster manages: {e}"
                            );
                            return Some(entry);
                        }
                    }
                }
                changes.extend(self.plan_removals(&mut entry, &remove));
                if entry.action == Action::None && !remove.is_empty() {
                    entry.action = Action::Update;
                }
            }
            // What roster manages for the account from now on: what the row lists, and
            // what it removes tonight until a night confirms the removal (a removal that
            // fails is tried again).
            let managed = |kind: GroupKind| {
                let mut m = wanted.managed(kind);
                m.extend(
                    remove
                        .iter()
                        .filter(|g| g.kind == kind)
                        .map(|g| g.path.clone()),
                );
                m
            };
            self.managed_groups[i] = (
                desired.teams.is_some().then(|| managed(GroupKind::Team)),
                desired
                    .channels
                    .is_some()
                    .then(|| managed(GroupKind::Channel)),
            );
            // The avatar, when the source's image is not the one roster set last (the
            // ledger's digest): a quiet night uploads none.
            // Only with a ledger: without one, nothing says which image roster set, and
            // every run would upload every avatar (import sets them on create only).
            if self.opts.ledger
                && matches!(entry.action, Action::None | Action::Update)
                && !self.protected(cur)
                && let Some(digest) = self.engine.avatar_digest(&desired)
                && self.state.line(id).and_then(|l| l.avatar_digest.as_deref())
                    != Some(digest.as_str())
            {
                entry.changed.push("avatar".into());
                changes.push(FieldChange {
                    field: "avatar".into(),
                    old: String::new(),
                    new: field_value(&desired, &Field::Avatar),
                });
                if entry.action == Action::None {
                    entry.action = Action::Update;
                }
            }
        }
        match (entry.action, &intent) {
            // `roster do`'s own actions never come out of a plan.
            (
                Action::None
                | Action::Activate
                | Action::RevokeSessions
                | Action::Delete
                | Action::Offboard
                | Action::SetRoles
                | Action::ResetAvatar
                | Action::SetStatus
                | Action::ResetMfa
                | Action::SetPreferences
                | Action::MigrateAuth
                | Action::ConvertToBot
                | Action::ResetPassword
                | Action::CreateToken,
                _,
            ) => return Some(entry),
            (Action::Create, _) => self.plan.creates.push(item(None, Vec::new(), true)),
            (Action::Deactivate, Intent::Deactivate) => self.plan.deactivations.push(item(
                Some("deleted at the source (LDIF delete)".into()),
                Vec::new(),
                false,
            )),
            (Action::Deactivate, _) => self.plan.deactivations.push(item(
                Some("disabled at the source".into()),
                changes,
                true,
            )),
            (Action::Update, _) => {
                let mut it = item(None, changes, true);
                it.remove = remove.clone();
                self.plan.updates.push(it)
            }
        }
        // Apply exactly what was planned: a modify of the changed profile fields (the
        // memberships the apply adds are the row's teams and channels it still lacks).
        let intent = match (entry.action, &intent) {
            (Action::Update | Action::Deactivate, Intent::Upsert | Intent::Modify(_)) => {
                Intent::Modify(
                    entry
                        .changed
                        .iter()
                        .filter_map(|f| Field::parse(f))
                        .filter(|f| !matches!(f, Field::Teams | Field::Channels))
                        .collect(),
                )
            }
            (_, i) => i.clone(),
        };
        let mut checked = checked;
        checked.outcome = Outcome::Valid {
            user: Box::new(user),
            intent,
        };
        self.pending.push(Pending {
            seq: self.plan.source_rows - 1,
            work: Work {
                checked,
                known: Some(current),
                remove,
            },
            action: entry.action,
            entry,
        });
        None
    }

    /// Counts a row's planned membership removals (the threshold weighs them) and notes
    /// them in its entry; their changes, as the plan shows them (`- team: sales`).
    fn plan_removals(
        &mut self,
        entry: &mut ReportEntry,
        remove: &[crate::client::Group],
    ) -> Vec<FieldChange> {
        self.plan.membership_removals += remove.len() as u64;
        self.removal_accounts += u64::from(!remove.is_empty());
        remove
            .iter()
            .map(|g| {
                let field = g.kind.field().to_string();
                if !entry.changed.contains(&field) {
                    entry.changed.push(field.clone());
                }
                FieldChange {
                    field,
                    old: g.path.clone(),
                    new: String::new(),
                }
            })
            .collect()
    }

    /// A row that leads to an account an earlier row already took (by anchor, say, while
    /// this one names it by username): one account is one person, so the second row fails
    /// and the account is written once.
    fn taken(&self, i: usize, desired: &User, checked: &Checked) -> Option<ReportEntry> {
        let first = self.targets.get(&i)?;
        let cur = &self.snapshot.users[i];
        let mut e = ReportEntry::new(
            checked.origin.to_string(),
            &desired.username,
            desired.email.as_deref(),
        );
        e.action = Action::Update;
        e.status = Status::Failed;
        e.id = cur.id.clone().unwrap_or_default();
        e.error = format!(
            "the server account {:?} (id {:?}) is already the account of row {first:?}; not written twice",
            cur.username,
            cur.id.as_deref().unwrap_or("?")
        );
        Some(e)
    }

    /// A row whose username or email, as the source now gives it, another server account
    /// holds: renaming the account found (`i`) onto it, or creating a new one (`None`),
    /// would be refused by the server, so the row fails here, naming both accounts, and
    /// nothing is written.
    fn clash(&self, i: Option<usize>, desired: &User, checked: &Checked) -> Option<ReportEntry> {
        let (what, j) = self
            .snapshot
            .holder_other_than(i.unwrap_or(usize::MAX), desired)?;
        let other = &self.snapshot.users[j];
        let mut e = ReportEntry::new(
            checked.origin.to_string(),
            &desired.username,
            desired.email.as_deref(),
        );
        e.status = Status::Failed;
        let change = match i.map(|i| &self.snapshot.users[i]) {
            None => {
                e.action = Action::Create;
                format!("a new account for {:?}", desired.username)
            }
            Some(mine) => {
                e.action = Action::Update;
                e.id = mine.id.clone().unwrap_or_default();
                if !mine.username.eq_ignore_ascii_case(&desired.username) {
                    e.renamed_from = mine.username.clone();
                }
                if e.renamed_from.is_empty() {
                    format!("the {what} of {:?}", mine.username)
                } else {
                    format!("rename {:?} → {:?}", mine.username, desired.username)
                }
            }
        };
        let outcome = if i.is_none() {
            "nothing was created"
        } else {
            "neither account was changed"
        };
        e.error = format!(
            "{change}: the {what} is held by another account ({:?}, id {:?}); {outcome}",
            other.username,
            other.id.as_deref().unwrap_or("?")
        );
        Some(e)
    }

    /// Adds deactivations of managed users missing from the source and applies the
    /// guards. Returns the report entries of rows refused by a guard, with their places
    /// in the report (see [`Pending::seq`]).
    pub fn finish(&mut self) -> Vec<(u64, ReportEntry)> {
        let base = self
            .snapshot
            .users
            .iter()
            .filter(|u| u.active != Some(false) && !self.protected(u) && self.managed(u))
            .count() as u64;
        self.plan.managed = base;
        let mut refused_entries = Vec::new();
        if self.opts.deactivate_missing {
            let missing: Vec<(usize, &User)> = self
                .snapshot
                .users
                .iter()
                .enumerate()
                .filter(|(i, u)| {
                    !self.seen[*i]
                        && u.active != Some(false)
                        && !self.protected(u)
                        && self.managed(u)
                })
                .collect();
            for (i, _) in &missing {
                self.missing[*i] = true;
            }
            let missing: Vec<&User> = missing.into_iter().map(|(_, u)| u).collect();
            let unmatched = &self.unmatched_rejects;
            let others = self.other_anchor_rows;
            let refuse = if missing.is_empty() || self.opts.force {
                None
            } else if !unmatched.is_empty() {
                let mut shown: Vec<&str> = unmatched.iter().take(5).map(String::as_str).collect();
                if unmatched.len() > 5 {
                    shown.push("…");
                }
                Some(format!(
                    "{} rejected rows name no server user ({}), so who is really missing from the source is unknown; {} missing users were not deactivated (fix the rows, or rerun with --force)",
                    unmatched.len(),
                    shown.join(", "),
                    missing.len()
                ))
            } else if others as f64 > self.opts.threshold.limit(base) {
                Some(format!(
                    "{others} rows carry another anchor than the one the ledger ties their account to: the source's anchor attribute may have changed (check the mapping, or adopt again with `roster sync --adopt`); {} missing users were not deactivated (rerun with --force if these people really changed)",
                    missing.len()
                ))
            } else {
                None
            };
            for (seq, u) in (self.plan.source_rows..).zip(missing) {
                let origin = format!("server:{}", u.username);
                let mut entry = ReportEntry::new(origin.clone(), &u.username, u.email.as_deref());
                entry.action = Action::Deactivate;
                if let Some(why) = &refuse {
                    entry.status = Status::Skipped;
                    entry.error = format!("refused: {why}");
                    self.plan.skipped += 1;
                    refused_entries.push((seq, entry));
                    continue;
                }
                entry.changed = vec!["active".into()];
                // With --remove-memberships-on-deactivate the account also leaves the
                // teams and channels roster manages for it.
                let mut remove = Vec::new();
                if self.opts.remove_memberships_on_deactivate
                    && let Some(id) = u.id.as_deref()
                    && let Some(prev) = self.state.line(id)
                {
                    let mut stats = crate::client::CallStats::default();
                    for (kind, paths) in [
                        (GroupKind::Team, prev.teams.clone().unwrap_or_default()),
                        (
                            GroupKind::Channel,
                            prev.channels.clone().unwrap_or_default(),
                        ),
                    ] {
                        // A group that cannot be read is left: the deactivation goes on.
                        if let Ok(r) = self
                            .engine
                            .members()
                            .to_remove(kind, &paths, None, id, &mut stats)
                        {
                            remove.extend(r);
                        }
                    }
                }
                let changes = self.plan_removals(&mut entry, &remove);
                self.plan.deactivations.push(PlanItem {
                    origin: origin.clone(),
                    username: u.username.clone(),
                    email: u.email.clone().unwrap_or_default(),
                    id: u.id.clone(),
                    reason: Some("missing from the source".into()),
                    renamed_from: None,
                    changes,
                    user: None,
                    remove: remove.clone(),
                });
                let mut target_user = u.clone();
                target_user.origin = Origin(origin.clone());
                self.pending.push(Pending {
                    seq,
                    work: Work {
                        checked: Checked {
                            origin: Origin(origin),
                            dn: None,
                            attrs: Default::default(),
                            raw: RawText::None,
                            outcome: Outcome::Valid {
                                user: Box::new(target_user),
                                intent: Intent::Deactivate,
                            },
                        },
                        known: Some(Some(u.clone())),
                        remove,
                    },
                    action: Action::Deactivate,
                    entry,
                });
            }
            self.plan.deactivations_refused = refuse;
        }
        let refused = self.guard(base);
        if let Some(why) = refused {
            self.plan.refused = Some(why.clone());
            for p in self.pending.drain(..) {
                let u = match &p.work.checked.outcome {
                    Outcome::Valid { user, .. } => user,
                    Outcome::Rejected { .. } => continue,
                };
                let mut e = ReportEntry::new(
                    p.work.checked.origin.to_string(),
                    &u.username,
                    u.email.as_deref(),
                );
                e.action = p.action;
                e.status = Status::Skipped;
                e.error = format!("refused: {why}");
                refused_entries.push((p.seq, e));
            }
        }
        refused_entries
    }

    fn guard(&self, base: u64) -> Option<String> {
        // Memberships roster manages are removed under the deactivation threshold too,
        // counted in accounts that lose one: a department column gone from the export
        // must not empty every team.
        let r = self.removal_accounts;
        if r > 0 && !self.opts.force && r as f64 > self.opts.threshold.limit(base) {
            return Some(format!(
                "{r} users would leave teams or channels ({} membership removals), more than {}; check the source, then rerun with --max-deactivate N|P% or --force",
                self.plan.membership_removals,
                self.opts.threshold.describe(base)
            ));
        }
        let n = self.plan.deactivations.len() as u64;
        if n == 0 {
            return None;
        }
        if self.valid_rows == 0 {
            return Some(format!(
                "the source has no valid rows, and a sync would deactivate {n} users; an empty source is never trusted (check the file or the LDAP filter)"
            ));
        }
        if self.opts.force {
            return None;
        }
        let limit = self.opts.threshold.limit(base);
        if n as f64 > limit {
            return Some(format!(
                "{n} deactivations exceed {}; check the source, then rerun with --max-deactivate N|P% or --force",
                self.opts.threshold.describe(base)
            ));
        }
        // The same threshold, applied to the source's size: it catches a source that lost
        // many rows whose users were not (or no longer) counted as deactivations.
        if let Some(prev) = self.state.header.as_ref().map(|h| h.source_rows)
            && self.valid_rows < prev
        {
            let shrink = prev - self.valid_rows;
            if shrink as f64 > self.opts.threshold.limit(prev) {
                return Some(format!(
                    "the source shrank from {prev} to {} valid rows since the last sync (more than {}); deactivations are refused until the source is checked (rerun with --force if the shrink is real)",
                    self.valid_rows,
                    self.opts
                        .threshold
                        .describe(prev)
                        .replace("managed users", "rows")
                ));
            }
        }
        None
    }

    pub fn valid_rows(&self) -> u64 {
        self.valid_rows
    }

    /// The ledger's accounts after this plan, as the snapshot saw them (the run's
    /// changes go on top, [`crate::plan::state::Changes`]), each with its anchor (the
    /// source's, else the ledger's) as `external_id`: the accounts a row took, the ones
    /// the ledger manages, and the missing ones this run deactivates or was refused to (a
    /// failed deactivation is tried again next night). Retired accounts (deactivated)
    /// stay as the ledger had them, tied to their person, so a leaver's account is never
    /// handed to the next holder of the username. Not the accounts a row only named (a
    /// rejected row, a rename onto a taken name): they are protected tonight, not managed
    /// from now on.
    pub fn ledger_users(&self) -> impl Iterator<Item = User> + '_ {
        let by = self.engine.options().match_key;
        self.snapshot
            .users
            .iter()
            .enumerate()
            .filter_map(move |(i, u)| {
                let managed = self.targets.contains_key(&i)
                    || self.missing[i]
                    || self.state.manages(
                        by.of(&self.engine.target().normalize(u)).as_deref(),
                        u.id.as_deref(),
                    );
                if managed {
                    let mut line = self.with_anchor(u, self.anchors[i].as_deref());
                    // The memberships roster manages: as the row has them tonight, else as
                    // the ledger had them.
                    let prev = u.id.as_deref().and_then(|id| self.state.line(id));
                    let (teams, channels) = &self.managed_groups[i];
                    line.teams = teams.clone().or_else(|| prev.and_then(|p| p.teams.clone()));
                    line.avatar_digest = prev.and_then(|p| p.avatar_digest.clone());
                    line.channels = channels
                        .clone()
                        .or_else(|| prev.and_then(|p| p.channels.clone()));
                    return Some(line);
                }
                // A retired account no row took stays as the ledger had it: deactivated
                // for roster, whatever an administrator did with it since.
                u.id.as_deref()
                    .and_then(|id| self.state.retired.get(id))
                    .cloned()
            })
    }

    /// `u` with its anchor for the ledger: `a` (the source's), else the ledger's.
    pub fn with_anchor(&self, u: &User, a: Option<&str>) -> User {
        let mut u = u.clone();
        let kept =
            u.id.as_deref()
                .and_then(|id| self.state.anchors.anchor_of(id));
        u.external_id = a.or(kept).map(str::to_string);
        u
    }
}

/// A field's value as text, for plans.
pub fn field_value(u: &User, f: &Field) -> String {
    let t = |v: &Option<String>| v.clone().unwrap_or_default();
    let b = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
    match f {
        Field::Username => u.username.clone(),
        Field::Email => t(&u.email),
        Field::Name => t(&u.name),
        Field::FirstName => t(&u.first_name),
        Field::LastName => t(&u.last_name),
        Field::Nickname => t(&u.nickname),
        Field::Position => t(&u.position),
        Field::Locale => t(&u.locale),
        Field::Active => b(u.active),
        Field::Roles => u.roles.clone().unwrap_or_default().join(" "),
        Field::Teams => u.teams.clone().unwrap_or_default().join(" "),
        Field::Channels => u.channels.clone().unwrap_or_default().join(" "),
        Field::Avatar => match &u.avatar {
            Some(crate::model::Avatar::Image(b)) => format!("an image of {} bytes", b.len()),
            Some(a) => a.text(),
            None => String::new(),
        },
        Field::Password => String::new(),
        Field::RequirePasswordChange => b(u.require_password_change),
        Field::Verified => b(u.verified),
        Field::ExternalId => t(&u.external_id),
        Field::Custom(k) => u.custom_fields.get(k).cloned().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!("10".parse::<Threshold>().unwrap(), Threshold::Count(10));
        assert_eq!(
            "2.5%".parse::<Threshold>().unwrap(),
            Threshold::Percent(2.5)
        );
        assert!("x".parse::<Threshold>().is_err());
        assert!("120%".parse::<Threshold>().is_err());
        assert_eq!(Threshold::Default.limit(100), 5.0);
        assert_eq!(Threshold::Default.limit(10_000), 50.0);
    }

    #[test]
    fn scopes() {
        let u = User {
            username: "a".into(),
            email: Some("A@Example.org".into()),
            roles: Some(vec!["user".into()]),
            ..User::default()
        };
        assert!("domain=example.org".parse::<Scope>().unwrap().matches(&u));
        assert!(!"domain=example.com".parse::<Scope>().unwrap().matches(&u));
        assert!("role=user".parse::<Scope>().unwrap().matches(&u));
        assert!("all".parse::<Scope>().unwrap().matches(&u));
        assert!("domain=".parse::<Scope>().is_err());
    }

    // The sync guards, on the in-memory server: a snapshot of it, the planner driven row
    // by row as `roster sync` and `roster plan` drive it, and what the plan holds.
    use std::sync::Arc;

    use crate::exec::engine::{EngineOptions, Mode};
    use crate::exec::fake::{FakeServer, user};
    use crate::model::Problem;
    use crate::plan::state::Header;

    /// A server with `admin`, `importer` and `n` plain users `u0`… at example.org.
    fn server(n: usize) -> Arc<FakeServer> {
        let names: Vec<(String, String)> = (0..n)
            .map(|i| (format!("u{i}"), format!("u{i}@example.org")))
            .collect();
        let refs: Vec<(&str, &str)> = names.iter().map(|(a, b)| (&a[..], &b[..])).collect();
        Arc::new(FakeServer::new(&refs))
    }

    /// The planning engine `roster sync` builds: a dry run, held-inactive kept.
    fn engine(s: &Arc<FakeServer>, protect: &[&str]) -> Engine {
        engine_with(s, protect, &State::default())
    }

    fn engine_with(s: &Arc<FakeServer>, protect: &[&str], state: &State) -> Engine {
        Engine::new(
            s.clone(),
            EngineOptions {
                mode: Mode::Upsert,
                match_key: MatchKey::Username,
                dry_run: true,
                reactivate: false,
                max_attempts: 1,
                create: CreateOptions {
                    random_password: true,
                    ..CreateOptions::default()
                },
                guard: WriteGuard {
                    protect: protect.iter().map(|p| p.to_string()).collect(),
                    ..WriteGuard::default()
                },
                anchors: Arc::new(state.anchors.clone()),
                avatar_dir: None,
                action: None,
            },
        )
    }

    fn checked(line: usize, outcome: Outcome) -> Checked {
        Checked {
            origin: Origin(format!("in.csv:{}", line + 2)),
            dn: None,
            attrs: Default::default(),
            raw: RawText::None,
            outcome,
        }
    }

    /// A source row asking for the user exactly as the fake holds it (so: unchanged).
    fn row(name: &str) -> User {
        let mut u = user(name, &format!("{name}@example.org"), &["user"]);
        u.id = None;
        u
    }

    fn valid(u: User) -> Outcome {
        Outcome::Valid {
            user: Box::new(u),
            intent: Intent::Upsert,
        }
    }

    fn rejected(u: Option<User>) -> Outcome {
        Outcome::Rejected {
            user: u.map(Box::new),
            problems: vec![Problem::new("email", "not an email address")],
        }
    }

    /// Source rows `u0`…`u{n-1}`, unchanged.
    fn listed(n: usize) -> Vec<Outcome> {
        (0..n).map(|i| valid(row(&format!("u{i}")))).collect()
    }

    fn manage_all(threshold: Threshold, force: bool) -> SyncOptions {
        SyncOptions {
            deactivate_missing: true,
            threshold,
            force,
            scope: vec![Scope::All],
            ..SyncOptions::default()
        }
    }

    struct Planned {
        plan: Plan,
        pending: Vec<String>,
        /// The pending rows' places in the report.
        places: Vec<u64>,
        refused: Vec<(u64, ReportEntry)>,
        final_entries: Vec<ReportEntry>,
        /// The ledger this plan would write: server id → anchor.
        ledger: HashMap<String, Option<String>>,
    }

    fn plan_with(e: &Engine, state: &State, opts: SyncOptions, rows: Vec<Outcome>) -> Planned {
        let snapshot =
            Snapshot::take(e.target().as_ref(), MatchKey::Username, |_| {}).expect("snapshot");
        let mut p = Planner::new(e, &snapshot, state, opts, "http://fake", "in.csv");
        let final_entries = rows
            .into_iter()
            .enumerate()
            .filter_map(|(i, o)| p.add(checked(i, o)))
            .collect();
        let refused = p.finish();
        let ledger = p
            .ledger_users()
            .filter_map(|u| Some((u.id.clone()?, u.external_id)))
            .collect();
        Planned {
            ledger,
            pending: p
                .pending
                .iter()
                .map(|x| format!("{:?} {}", x.action, x.entry.username))
                .collect(),
            places: p.pending.iter().map(|x| x.seq).collect(),
            plan: p.plan,
            refused,
            final_entries,
        }
    }

    fn plan(s: &Arc<FakeServer>, opts: SyncOptions, rows: Vec<Outcome>) -> Planned {
        plan_with(&engine(s, &[]), &State::default(), opts, rows)
    }

    fn deactivated(p: &Planned) -> Vec<&str> {
        let mut v: Vec<&str> = p
            .plan
            .deactivations
            .iter()
            .map(|d| d.username.as_str())
            .collect();
        v.sort();
        v
    }

    fn anchored(name: &str, anchor: &str) -> User {
        let mut u = row(name);
        u.external_id = Some(anchor.into());
        u
    }

    #[test]
    fn a_person_is_found_by_anchor_and_an_account_is_never_handed_to_another() {
        let s = server(3);
        let mut state = State::default();
        state.anchors.insert("A-1", "id-u1");
        state.anchors.insert("A-2", "id-u2");
        let e = engine_with(&s, &[], &state);
        let rows = vec![
            valid(anchored("u0", "A-0")),
            // HR renamed u2: the ledger's anchor finds the account.
            valid(anchored("u2.new", "A-2")),
            // u1 left and someone new got the username u1: not u1's account.
            valid(anchored("u1", "A-9")),
        ];
        let p = plan_with(&e, &state, manage_all(Threshold::Count(5), false), rows);
        // u1's person left the source: the account is deactivated, not kept for a row
        // that is provably someone else.
        assert_eq!(p.pending, vec!["Update u2.new", "Deactivate u1"]);
        assert!(p.plan.creates.is_empty());
        assert_eq!(deactivated(&p), ["u1"]);
        let u = &p.plan.updates[0];
        assert_eq!(u.renamed_from.as_deref(), Some("u2"));
        assert_eq!(u.id.as_deref(), Some("id-u2"));
        assert_eq!(u.changes[0].field, "username");
        let refused = &p.final_entries[1];
        assert_eq!(refused.status, Status::Failed);
        assert!(
            refused
                .error
                .contains("belongs to another person at the source (anchor \"A-1\""),
            "{}",
            refused.error
        );
        assert_eq!(p.plan.failed, 1);
        assert_eq!(p.plan.rejected, 0);
        // The refusal holds the next night: the ledger keeps u1's account for A-1.
        assert_eq!(p.ledger["id-u1"].as_deref(), Some("A-1"));
        assert_eq!(p.ledger["id-u2"].as_deref(), Some("A-2"));
        assert_eq!(p.ledger["id-u0"].as_deref(), Some("A-0"));
    }

    #[test]
    fn one_account_is_written_for_one_row_whatever_the_order() {
        let s = server(3);
        let mut state = State::default();
        state.anchors.insert("A-1", "id-u1");
        let e = engine_with(&s, &[], &state);
        for rows in [
            // Jane renamed u1 → u1.new; a new hire without an anchor got u1.
            vec![valid(anchored("u1.new", "A-1")), valid(row("u1"))],
            // The same, the new hire first.
            vec![valid(row("u1")), valid(anchored("u1.new", "A-1"))],
            // The new hire has an anchor the ledger does not know.
            vec![
                valid(anchored("u1", "A-7")),
                valid(anchored("u1.new", "A-1")),
            ],
        ] {
            let mut rows = rows;
            rows.extend([valid(row("u0")), valid(row("u2"))]);
            let p = plan_with(&e, &state, manage_all(Threshold::Count(5), false), rows);
            assert_eq!(p.pending, vec!["Update u1.new"]);
            let failed: Vec<&ReportEntry> = p
                .final_entries
                .iter()
                .filter(|e| e.status == Status::Failed)
                .collect();
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert_eq!(failed[0].username, "u1");
            assert!(
                failed[0].error.contains("belongs to another person"),
                "{}",
                failed[0].error
            );
            assert_eq!(p.ledger["id-u1"].as_deref(), Some("A-1"));
        }
    }

    #[test]
    fn a_second_row_for_one_account_fails() {
        // The pipeline's duplicate check rejects a repeated username before planning; the
        // planner holds the line on its own: one account, one row.
        let s = server(1);
        let state = State::default();
        let e = engine_with(&s, &[], &state);
        let mut again = row("u0");
        again.name = Some("Someone Else".into());
        let p = plan_with(
            &e,
            &state,
            manage_all(Threshold::Count(5), false),
            vec![valid(row("u0")), valid(again)],
        );
        assert!(p.pending.is_empty(), "{:?}", p.pending);
        let second = &p.final_entries[1];
        assert_eq!(second.status, Status::Failed);
        assert!(
            second
                .error
                .contains("is already the account of row \"in.csv:2\""),
            "{}",
            second.error
        );
        assert_eq!(p.plan.failed, 1);
    }

    #[test]
    fn a_rejected_row_protects_the_account_its_anchor_leads_to() {
        let s = server(3);
        let mut state = State::default();
        state.anchors.insert("A-1", "id-u1");
        state
            .ids
            .extend(["id-u0", "id-u1", "id-u2"].map(String::from));
        let e = engine_with(&s, &[], &state);
        // u1 was renamed and the row is bad: it names nobody by its new username, but
        // its anchor leads to u1's account, which is not missing.
        let mut bad = anchored("u1.renamed", "A-1");
        bad.email = Some("u1.renamed@example.org".into());
        let p = plan_with(
            &e,
            &state,
            manage_all(Threshold::Count(5), false),
            vec![valid(row("u0")), rejected(Some(bad)), valid(row("u2"))],
        );
        assert!(deactivated(&p).is_empty(), "{:?}", deactivated(&p));
        assert_eq!(p.plan.deactivations_refused, None);
    }

    #[test]
    fn the_default_threshold_is_5_percent_of_managed_users() {
        let s = server(100);
        // Admin and importer are protected: 100 managed users, 5 may go.
        let p = plan(&s, manage_all(Threshold::Default, false), listed(95));
        assert_eq!(p.plan.managed, 100);
        assert_eq!(p.plan.deactivations.len(), 5);
        assert_eq!(p.plan.refused, None);
        assert_eq!(p.pending.len(), 5);
        assert_eq!(p.plan.unchanged, 95);

        let p = plan(&s, manage_all(Threshold::Default, false), listed(94));
        let why = p.plan.refused.as_deref().expect("refused");
        assert!(
            why.contains("6 deactivations exceed the default threshold"),
            "{why}"
        );
        assert!(p.pending.is_empty(), "nothing is applied");
        assert_eq!(p.refused.len(), 6);
        assert!(p.refused.iter().all(|(_, e)| e.status == Status::Skipped
            && e.action == Action::Deactivate
            && e.error.starts_with("refused: ")));
        // Nothing was written while planning.
        assert!(s.writes().is_empty());
    }

    #[test]
    fn count_and_percent_thresholds_and_force() {
        let s = server(100);
        let p = plan(&s, manage_all(Threshold::Count(10), false), listed(90));
        assert_eq!((p.plan.deactivations.len(), p.plan.refused), (10, None));
        let p = plan(&s, manage_all(Threshold::Count(10), false), listed(89));
        assert!(
            p.plan
                .refused
                .as_deref()
                .is_some_and(|w| w.contains("--max-deactivate 10"))
        );

        let p = plan(&s, manage_all(Threshold::Percent(2.0), false), listed(98));
        assert_eq!((p.plan.deactivations.len(), p.plan.refused), (2, None));
        let p = plan(&s, manage_all(Threshold::Percent(2.0), false), listed(97));
        assert!(
            p.plan
                .refused
                .as_deref()
                .is_some_and(|w| w.contains("--max-deactivate 2% of 100"))
        );

        let p = plan(&s, manage_all(Threshold::Default, true), listed(30));
        assert_eq!((p.plan.deactivations.len(), p.plan.refused), (70, None));
        assert_eq!(p.pending.len(), 70);
    }

    #[test]
    fn an_empty_source_is_never_trusted_even_with_force() {
        let s = server(10);
        let p = plan(&s, manage_all(Threshold::Count(1000), true), Vec::new());
        let why = p.plan.refused.as_deref().expect("refused");
        assert!(why.contains("the source has no valid rows"), "{why}");
        assert!(p.pending.is_empty());
        assert_eq!(p.refused.len(), 10);
        // Only rejected rows count as empty too.
        let p = plan(
            &s,
            manage_all(Threshold::Count(1000), true),
            vec![rejected(Some(row("u0")))],
        );
        assert!(
            p.plan
                .refused
                .as_deref()
                .is_some_and(|w| w.contains("no valid rows"))
        );
    }

    #[test]
    fn a_source_that_shrank_since_the_ledger_is_refused() {
        let s = server(100);
        let e = engine(&s, &[]);
        let ledger = |rows| State {
            header: Some(Header {
                source_rows: rows,
                ..Header::default()
            }),
            ..State::default()
        };
        // 3 deactivations pass the threshold, but the source had 200 rows last night.
        let p = plan_with(
            &e,
            &ledger(200),
            manage_all(Threshold::Default, false),
            listed(97),
        );
        let why = p.plan.refused.as_deref().expect("refused");
        assert!(
            why.contains("the source shrank from 200 to 97 valid rows"),
            "{why}"
        );
        assert!(why.contains("10.0)"), "the threshold of 200 rows: {why}");
        assert!(p.pending.is_empty());
        // A shrink within the threshold is fine; --force overrides.
        let p = plan_with(
            &e,
            &ledger(100),
            manage_all(Threshold::Default, false),
            listed(97),
        );
        assert_eq!((p.plan.deactivations.len(), p.plan.refused), (3, None));
        let p = plan_with(
            &e,
            &ledger(200),
            manage_all(Threshold::Default, true),
            listed(97),
        );
        assert_eq!((p.plan.deactivations.len(), p.plan.refused), (3, None));
        // A first run (a ledger without header, or a dump): no shrink guard.
        let p = plan_with(
            &e,
            &State::default(),
            manage_all(Threshold::Default, false),
            listed(97),
        );
        assert_eq!(p.plan.refused, None);
    }

    #[test]
    fn a_rejected_row_that_names_a_server_user_protects_it() {
        let s = server(10);
        let mut rows = listed(8);
        // By email only: the username is what failed validation.
        rows.push(rejected(Some(User {
            username: String::new(),
            email: Some("U8@example.org".into()),
            ..User::default()
        })));
        // By username.
        rows.push(rejected(Some(User {
            username: "u9".into(),
            ..User::default()
        })));
        let p = plan(&s, manage_all(Threshold::Count(100), false), rows);
        assert!(deactivated(&p).is_empty(), "{:?}", deactivated(&p));
        assert_eq!(p.plan.rejected, 2);
        assert_eq!(p.plan.deactivations_refused, None);
        assert_eq!(
            p.final_entries
                .iter()
                .filter(|e| e.status == Status::Rejected)
                .count(),
            2
        );
    }

    #[test]
    fn rejected_rows_that_name_nobody_refuse_only_the_deactivations() {
        let s = server(10);
        let mut rows = listed(8);
        let mut changed = row("u0");
        changed.name = Some("Ann Lee".into());
        rows[0] = valid(changed);
        rows.push(valid(row("newcomer")));
        rows.push(rejected(Some(User {
            username: "ghost".into(),
            ..User::default()
        })));
        rows.push(rejected(None));
        let p = plan(&s, manage_all(Threshold::Count(100), false), rows.clone());
        assert_eq!(p.plan.refused, None, "the plan itself stands");
        let why = p.plan.deactivations_refused.as_deref().expect("refused");
        assert!(
            why.starts_with("2 rejected rows name no server user (in.csv:11, in.csv:12)"),
            "{why}"
        );
        assert!(
            why.contains("2 missing users were not deactivated"),
            "{why}"
        );
        assert_eq!(p.plan.refusal(), Some(why));
        // Creates and updates still go ahead; the missing users are kept for the ledger.
        assert_eq!(p.plan.creates.len(), 1);
        assert_eq!(p.plan.updates.len(), 1);
        assert!(p.plan.deactivations.is_empty());
        assert_eq!(p.pending, ["Update u0", "Create newcomer"]);
        // Rows keep their input places; the missing users come after the 11 source rows.
        assert_eq!(p.places, [0, 8]);
        // Managed through --manage alone, they stay in the ledger (the next night tries
        // again).
        assert!(p.ledger.contains_key("id-u8") && p.ledger.contains_key("id-u9"));
        assert_eq!(p.refused.len(), 2);
        assert!(p.refused.iter().all(|(_, e)| e.status == Status::Skipped));
        assert_eq!(
            p.refused.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
            [11, 12]
        );
        assert_eq!(p.plan.skipped, 2);

        // --force: the missing users go too.
        let p = plan(&s, manage_all(Threshold::Count(100), true), rows);
        assert_eq!(p.plan.deactivations_refused, None);
        assert_eq!(deactivated(&p), ["u8", "u9"]);
        assert_eq!(p.places, [0, 8, 11, 12]);
        // Planned for deactivation, they stay in the ledger: a failed one is retried.
        assert!(p.ledger.contains_key("id-u8") && p.ledger.contains_key("id-u9"));
    }

    #[test]
    fn protected_users_are_never_planned_for_deactivation() {
        let s = server(5);
        let e = engine(&s, &["u3", "U4@example.org"]);
        // Only u0 is listed: admin (a role), importer (roster's own account), u3 and u4
        // (--protect, by username and by email) all miss from the source.
        let p = plan_with(
            &e,
            &State::default(),
            manage_all(Threshold::Default, true),
            listed(1),
        );
        assert_eq!(deactivated(&p), ["u1", "u2"]);
        assert_eq!(p.plan.managed, 3, "protected users are not counted either");
        // A row that disables a protected user is not a deactivation either.
        let mut admin = user("admin", "admin@example.org", &["user", "admin"]);
        admin.id = None;
        admin.active = Some(false);
        let mut u3 = row("u3");
        u3.active = Some(false);
        let p = plan_with(
            &e,
            &State::default(),
            manage_all(Threshold::Default, true),
            vec![
                valid(row("u0")),
                valid(row("u1")),
                valid(row("u2")),
                valid(admin),
                valid(u3),
            ],
        );
        assert!(deactivated(&p).is_empty(), "{:?}", deactivated(&p));
        assert!(p.pending.is_empty());
    }

    #[test]
    fn manage_scopes_and_the_ledger_choose_who_may_go() {
        let s = server(2);
        s.put(user("o0", "o0@other.org", &["user"]));
        s.put(user("o1", "o1@Other.org", &["user"]));
        s.put(user("g0", "g0@example.org", &["guest"]));
        let opts = |scope: Vec<Scope>| SyncOptions {
            scope,
            ..manage_all(Threshold::Default, true)
        };
        // Nothing listed but u0; only what the sync manages is deactivated.
        let rows = || listed(1);
        let p = plan(&s, opts(vec![Scope::Domain("other.org".into())]), rows());
        assert_eq!(deactivated(&p), ["o0", "o1"]);
        assert_eq!(p.plan.managed, 2);
        let p = plan(&s, opts(vec![Scope::Role("guest".into())]), rows());
        assert_eq!(deactivated(&p), ["g0"]);
        let both = vec![
            Scope::Role("guest".into()),
            Scope::Domain("other.org".into()),
        ];
        let p = plan(&s, opts(both), rows());
        assert_eq!(deactivated(&p), ["g0", "o0", "o1"]);
        // No --manage: the ledger alone says whom roster manages.
        let ledger = State {
            managed: ["u1".to_string(), "o1".to_string()].into(),
            ..State::default()
        };
        let p = plan_with(&engine(&s, &[]), &ledger, opts(Vec::new()), rows());
        assert_eq!(deactivated(&p), ["o1", "u1"]);
        // Without --deactivate-missing nobody missing is touched.
        let p = plan(
            &s,
            SyncOptions {
                deactivate_missing: false,
                ..opts(vec![Scope::All])
            },
            rows(),
        );
        assert!(p.plan.deactivations.is_empty());
        assert!(p.pending.is_empty());
    }

    #[test]
    fn held_inactive_users_are_reported_not_reactivated_nor_deactivated_again() {
        let s = server(3);
        let mut gone = user("u1", "u1@example.org", &["user"]);
        gone.active = Some(false);
        s.put(gone.clone());
        s.put({
            let mut g = user("u2", "u2@example.org", &["user"]);
            g.active = Some(false);
            g
        });
        // u1 is listed as active: held inactive. u2 is missing but already inactive.
        let p = plan(&s, manage_all(Threshold::Default, true), listed(2));
        assert_eq!(p.plan.held_inactive.len(), 1);
        assert_eq!(p.plan.held_inactive[0].username, "u1");
        assert_eq!(
            p.plan.held_inactive[0].reason.as_deref(),
            Some(crate::exec::engine::Note::HeldInactive.message())
        );
        assert!(p.plan.deactivations.is_empty());
        assert!(p.pending.is_empty());
        assert_eq!(p.plan.managed, 1, "inactive users are not counted");
        // Listed as inactive too: unchanged.
        let p = plan(
            &s,
            manage_all(Threshold::Default, true),
            vec![valid(row("u0")), valid(User { id: None, ..gone })],
        );
        assert!(p.plan.held_inactive.is_empty());
        assert!(p.pending.is_empty());
    }

    /// One night as `roster sync` runs it, up to the ledger it writes: the planner, then
    /// `Changes::apply_to(ledger_users)` with no changes recorded (as if every write
    /// failed; tests that need a write applied put it on the fake server themselves).
    fn night(
        s: &Arc<FakeServer>,
        state: &State,
        opts: SyncOptions,
        rows: Vec<Outcome>,
    ) -> (Plan, Vec<String>, Vec<User>) {
        let e = engine_with(s, &[], state);
        let snapshot =
            Snapshot::take(e.target().as_ref(), MatchKey::Username, |_| {}).expect("snapshot");
        let mut p = Planner::new(&e, &snapshot, state, opts, "http://fake", "in.csv");
        for (i, o) in rows.into_iter().enumerate() {
            p.add(checked(i, o));
        }
        p.finish();
        let seen: Vec<User> = p.ledger_users().collect();
        let ledger = crate::plan::state::Changes::default().apply_to(seen);
        let pending = p
            .pending
            .iter()
            .map(|x| format!("{:?} {}", x.action, x.entry.username))
            .collect();
        (p.plan, pending, ledger)
    }

    /// The ledger written and read back, as the next night reads it.
    fn reload(ledger: &[User]) -> State {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state.jsonl");
        State::save(&path, &Header::default(), ledger).unwrap();
        State::load(&path, MatchKey::Username).unwrap()
    }

    fn ledger_of_three() -> State {
        let mut state = State::default();
        for (a, id) in [("A-0", "id-u0"), ("A-1", "id-u1"), ("A-2", "id-u2")] {
            state.anchors.insert(a, id);
            state.ids.insert(id.into());
        }
        state
    }

    fn ledger_only() -> SyncOptions {
        SyncOptions {
            deactivate_missing: true,
            threshold: Threshold::Count(5),
            force: false,
            scope: Vec::new(),
            ..SyncOptions::default()
        }
    }

    #[test]
    fn a_held_inactive_person_renamed_gets_no_second_account() {
        // An administrator deactivated u1; the source still lists them: held inactive.
        let s = server(3);
        let mut held = user("u1", "u1@example.org", &["user"]);
        held.active = Some(false);
        s.put(held);
        let rows = || {
            vec![
                valid(anchored("u0", "A-0")),
                valid(anchored("u1", "A-1")),
                valid(anchored("u2", "A-2")),
            ]
        };
        let (plan, _, ledger) = night(&s, &ledger_of_three(), ledger_only(), rows());
        assert_eq!(plan.held_inactive.len(), 1);
        let state = reload(&ledger);
        // Night 2: HR renames u1 → u1.new, same anchor.
        let mut r = rows();
        r[1] = valid(anchored("u1.new", "A-1"));
        let (plan, pending, _) = night(&s, &state, ledger_only(), r);
        assert!(
            plan.creates.is_empty(),
            "a held-inactive person renamed at the source gets a new, active account: {pending:?}; ledger after night 1: {:?}",
            ledger.iter().map(|u| &u.username).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_leavers_account_is_never_handed_to_the_next_holder_of_the_username() {
        let s = server(3);
        // Night 1: u1 left the source: deactivated as missing.
        let (_, pending, ledger) = night(
            &s,
            &ledger_of_three(),
            ledger_only(),
            vec![valid(anchored("u0", "A-0")), valid(anchored("u2", "A-2"))],
        );
        assert_eq!(pending, ["Deactivate u1"]);
        let mut gone = user("u1", "u1@example.org", &["user"]);
        gone.active = Some(false);
        s.put(gone); // what the apply did
        let state = reload(&ledger);
        // Night 2: a new hire gets the username u1.
        let mut hire = anchored("u1", "A-9");
        hire.email = Some("new.hire@example.org".into());
        hire.name = Some("NEW HIRE".into());
        let (plan, pending, _) = night(
            &s,
            &state,
            ledger_only(),
            vec![
                valid(anchored("u0", "A-0")),
                valid(hire),
                valid(anchored("u2", "A-2")),
            ],
        );
        assert!(
            pending.is_empty() && plan.failed == 1,
            "u1's (A-1) deactivated account is written for the new hire A-9: {pending:?} {:?}",
            plan.updates
        );
    }

    #[test]
    fn a_failed_deactivation_is_tried_again_the_next_night() {
        let s = server(3);
        let rows = || vec![valid(anchored("u0", "A-0")), valid(anchored("u2", "A-2"))];
        let (_, pending, ledger) = night(&s, &ledger_of_three(), ledger_only(), rows());
        assert_eq!(pending, ["Deactivate u1"]);
        // The deactivation failed (a 5xx): Changes records nothing for it; u1 is still active.
        let state = reload(&ledger);
        let (_, pending, _) = night(&s, &state, ledger_only(), rows());
        assert_eq!(
            pending,
            ["Deactivate u1"],
            "u1 left the ledger with its failed deactivation: never managed, never deactivated again"
        );
    }

    #[test]
    fn a_planned_create_onto_a_taken_email_is_what_sync_does() {
        let s = server(3);
        let state = State::default();
        let e = engine_with(&s, &[], &state);
        let mut newbie = row("newbie");
        newbie.email = Some("u1@example.org".into());
        let p = plan_with(
            &e,
            &state,
            manage_all(Threshold::Count(5), false),
            vec![
                valid(row("u0")),
                valid(row("u1")),
                valid(row("u2")),
                valid(newbie.clone()),
            ],
        );
        // What the sync's apply engine then does with the planned create.
        let apply = Engine::new(
            s.clone(),
            EngineOptions {
                dry_run: false,
                ..e.options().clone()
            },
        );
        let done = apply.run(&newbie, &Intent::Upsert, Some(None));
        assert_eq!(
            (p.plan.creates.len(), p.plan.failed),
            (
                usize::from(done.entry.status == Status::Ok),
                u64::from(done.entry.status == Status::Failed)
            ),
            "plan: {} create(s), {} failed; sync: {:?} {}",
            p.plan.creates.len(),
            p.plan.failed,
            done.entry.status,
            done.entry.error
        );
    }

    #[test]
    fn a_leaver_whose_username_is_reused_is_deactivated() {
        // u1 is gone from the source; a new hire has the username u1 and is
        // refused. The refused row is provably not u1's person: it does not keep u1's
        // account from being deactivated.
        let s = server(3);
        let (plan, pending, _) = night(
            &s,
            &ledger_of_three(),
            ledger_only(),
            vec![
                valid(anchored("u0", "A-0")),
                valid(anchored("u1", "A-9")),
                valid(anchored("u2", "A-2")),
            ],
        );
        assert_eq!(plan.failed, 1);
        assert_eq!(
            pending,
            ["Deactivate u1"],
            "the leaver keeps an active account"
        );
    }

    #[test]
    fn a_clashing_rename_does_not_make_roster_manage_the_other_account() {
        // `hand` was made by hand: not in the ledger, no --manage. u1 is renamed onto
        // it: the row fails (clash); `hand` is protected tonight, not managed from now on.
        let s = server(3);
        s.put(user("hand", "hand@example.org", &["user"]));
        let rows = |u1: &str| {
            vec![
                valid(anchored("u0", "A-0")),
                valid(anchored(u1, "A-1")),
                valid(anchored("u2", "A-2")),
            ]
        };
        let (plan, _, ledger) = night(&s, &ledger_of_three(), ledger_only(), rows("hand"));
        assert_eq!(plan.failed, 1);
        let state = reload(&ledger);
        // Night 2: HR fixes the name.
        let (plan, pending, _) = night(&s, &state, ledger_only(), rows("u1.new"));
        assert!(
            plan.deactivations.iter().all(|d| d.username != "hand"),
            "an account roster never managed is deactivated: {pending:?}"
        );
    }

    /// A ledger of three accounts with anchors, u1 deactivated (a leaver), as a sync
    /// after be949a3 writes it.
    fn ledger_with_leaver() -> State {
        let mut lines = Vec::new();
        for (n, a, active) in [
            ("u0", "A-0", true),
            ("u1", "A-1", false),
            ("u2", "A-2", true),
        ] {
            let mut u = user(n, &format!("{n}@example.org"), &["user"]);
            u.external_id = Some(a.into());
            u.active = Some(active);
            lines.push(u);
        }
        reload(&lines)
    }

    #[test]
    fn a_leavers_old_username_does_not_make_a_hand_made_account_managed() {
        // u1 left (deactivated, kept in the ledger). The admin frees the username the
        // usual way: renames the old account to u1.old and makes a hand account "u1" for a
        // contractor who is not in the HR source (id-hand: never in the ledger).
        let s = server(3);
        s.put(User {
            id: Some("id-hand".into()),
            email: Some("contractor@example.org".into()),
            ..user("u1", "contractor@example.org", &["user"])
        });
        let mut old = user("u1.old", "u1@example.org", &["user"]);
        old.id = Some("id-u1".into());
        old.active = Some(false);
        s.put(old);
        let (_, pending, ledger) = night(
            &s,
            &ledger_with_leaver(),
            ledger_only(),
            vec![valid(anchored("u0", "A-0")), valid(anchored("u2", "A-2"))],
        );
        assert!(
            pending.is_empty(),
            "an account roster never managed is deactivated through the leaver's old username: {pending:?}; ledger: {:?}",
            ledger
                .iter()
                .map(|u| (&u.username, &u.id))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_account_reactivated_by_hand_is_not_deactivated_again() {
        // Before be949a3 a deactivated account left the ledger: an admin who reactivated a
        // leaver's account by hand (a handover, a contractor) was not overruled. Now the
        // inactive ledger line keeps it managed and the next night deactivates it again.
        let s = server(3); // u1 active again on the server
        let (plan, pending, _) = night(
            &s,
            &ledger_with_leaver(),
            ledger_only(),
            vec![valid(anchored("u0", "A-0")), valid(anchored("u2", "A-2"))],
        );
        assert!(
            pending.is_empty(),
            "a leaver's account reactivated by hand is deactivated every night: {pending:?} (managed {})",
            plan.managed
        );
    }
    #[test]
    fn a_rename_onto_a_leavers_username_does_not_keep_the_leaver_active() {
        // u2 left; the same night HR gives u2's username to u1. A-1's row is
        // found by its anchor (id-u1) and names id-u2 by username: the rename clashes
        // (fails), and id-u2, tied to A-2 in the ledger, is counted as present: the
        // leaver keeps an active account for as long as the clash lasts (M4's case, by
        // another path).
        let s = server(3);
        let (plan, pending, _) = night(
            &s,
            &ledger_of_three(),
            ledger_only(),
            vec![valid(anchored("u0", "A-0")), valid(anchored("u2", "A-1"))],
        );
        assert_eq!(plan.failed, 1, "the rename onto u2 clashes");
        assert_eq!(
            pending,
            ["Deactivate u2"],
            "u2's person (A-2) left, yet a row that is provably A-1 keeps u2 active"
        );
    }

    #[test]
    fn many_rows_with_other_anchors_refuse_deactivations() {
        // The source's anchor attribute changed: every row carries a new anchor, the
        // ledger ties each account to the old one. Nobody is missing for real.
        let s = server(20);
        let mut state = State::default();
        for i in 0..20 {
            state
                .anchors
                .insert(&format!("OLD-{i}"), &format!("id-u{i}"));
            state.ids.insert(format!("id-u{i}"));
        }
        let e = engine_with(&s, &[], &state);
        let rows = (0..20)
            .map(|i| valid(anchored(&format!("u{i}"), &format!("NEW-{i}"))))
            .collect();
        let p = plan_with(&e, &state, ledger_only(), rows);
        assert!(p.plan.deactivations.is_empty(), "{:?}", deactivated(&p));
        let why = p.plan.deactivations_refused.as_deref().expect("refused");
        assert!(
            why.starts_with(
                "20 rows carry another anchor than the one the ledger ties their account to"
            ),
            "{why}"
        );
        assert_eq!(p.plan.failed, 20);
        // --force: the operator says these people really changed.
        let mut opts = ledger_only();
        opts.force = true;
        let p = plan_with(
            &e,
            &state,
            opts,
            (0..20)
                .map(|i| valid(anchored(&format!("u{i}"), &format!("NEW-{i}"))))
                .collect(),
        );
        assert_eq!(p.plan.deactivations.len(), 20);
    }

    #[test]
    fn a_missing_membership_is_a_planned_update() {
        use crate::client::GroupKind;
        let s = server(3);
        s.add_group(GroupKind::Team, "sales");
        s.add_group(GroupKind::Channel, "news");
        let state = State::default();
        let e = engine_with(&s, &[], &state);
        let mut u0 = row("u0");
        u0.teams = Some(vec!["sales".into()]);
        u0.channels = Some(vec!["news".into()]);
        let mut bad = row("u2");
        bad.teams = Some(vec!["nope".into()]);
        let p = plan_with(
            &e,
            &state,
            manage_all(Threshold::Count(5), false),
            vec![valid(u0), valid(row("u1")), valid(bad)],
        );
        // u0's profile is as the server has it; its memberships are not.
        assert_eq!(p.pending, ["Update u0"]);
        let c: Vec<(&str, &str)> = p.plan.updates[0]
            .changes
            .iter()
            .map(|c| (c.field.as_str(), c.new.as_str()))
            .collect();
        assert_eq!(c, [("teams", "sales"), ("channels", "news")]);
        let text = crate::plan::render::render(&p.plan);
        assert!(
            text.contains("      + team: sales\n      + channel: news\n"),
            "{text}"
        );
        // An unknown team rejects its row, and nobody is missing for it.
        assert_eq!(p.plan.rejected, 1);
        assert!(
            p.final_entries
                .iter()
                .any(|e| e.error.contains("no team \"nope\""))
        );
        assert!(deactivated(&p).is_empty());
    }
}
