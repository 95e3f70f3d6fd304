//! Team and channel membership, after the account: names resolved to the server's teams
//! and channels once per run, each group's members read once, and the memberships a
//! batch of rows lacks added in as few requests as the server allows (Mattermost: 256
//! users per team call, 1000 per channel call; Rocket.Chat: [`INVITE_BATCH`] per invite).
//!
//! Resolution happens before any write for the row ([`Members::resolve`]): an unknown
//! team or channel rejects the row, and nothing is created for it. Adding happens after
//! the account exists ([`Members::settle`]), teams before channels (Mattermost refuses a
//! channel member who is not in the channel's team), for the whole batch of rows a worker
//! ran, so the report and the journal see each row once it is complete.
//!
//! roster only adds here. A membership the source does not list is left alone: default
//! channels, what an administrator added by hand.
//!
//! [`INVITE_BATCH`]: crate::client::rocketchat::INVITE_BATCH

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::client::{CallError, CallStats, Flavor, Group, GroupKind, UserApi};
use crate::model::User;
use crate::report::{Action, Status};

use super::Finished;

/// What a name resolved to, kept for the run (a lookup that failed is not kept: the next
/// row asks again).
type Slot = Arc<OnceLock<Option<Group>>>;

/// A name as asked for: what kind, in which team (Mattermost channels), the name.
type NameKey = (GroupKind, Option<String>, String);

/// A group's member ids, read on first use.
type MemberSet = Arc<Mutex<Option<HashSet<String>>>>;

/// The teams and channels one row wants, resolved, and the memberships its plan removes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub teams: Vec<Group>,
    pub channels: Vec<Group>,
    /// Memberships roster manages that the source no longer lists (a sync's plan).
    pub remove: Vec<Group>,
    /// Of `remove`, those the server did not let go: still managed, tried again.
    pub kept: Vec<Group>,
}

impl Wanted {
    pub fn is_empty(&self) -> bool {
        self.teams.is_empty() && self.channels.is_empty() && self.remove.is_empty()
    }

    /// The memberships roster manages for this account once the row is done, by path,
    /// for the ledger: what the source lists, and what could not be removed.
    pub fn managed(&self, kind: GroupKind) -> Vec<String> {
        let listed = match kind {
            GroupKind::Team => &self.teams,
            GroupKind::Channel => &self.channels,
        };
        let mut out: Vec<String> = listed
            .iter()
            .chain(self.kept.iter().filter(|g| g.kind == kind))
            .map(|g| g.path.clone())
            .collect();
        out.dedup();
        out
    }
}

/// Counts for the summary.
#[derive(Debug, Default)]
pub struct MemberCounts {
    /// Memberships added (or, in a dry run, that would be).
    pub added: AtomicU64,
    /// Memberships removed (or, in a dry run, that would be).
    pub removed: AtomicU64,
    /// Requests that added them.
    pub calls: AtomicU64,
}

/// The run's teams, channels and their members.
pub struct Members {
    target: Arc<dyn UserApi>,
    dry_run: bool,
    /// `--create-missing-channels`: a channel the server lacks is made, once.
    create_missing: bool,
    /// Held while a missing channel is made, so two workers do not both make it.
    creating: Mutex<()>,
    names: Mutex<HashMap<NameKey, Slot>>,
    /// Member ids by group id, read on first use and kept up to date with what this run
    /// adds.
    members: Mutex<HashMap<String, MemberSet>>,
    pub counts: MemberCounts,
}

impl Members {
    pub fn new(target: Arc<dyn UserApi>, dry_run: bool, create_missing: bool) -> Members {
        Members {
            target,
            dry_run,
            create_missing,
            creating: Mutex::new(()),
            names: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            counts: MemberCounts::default(),
        }
    }

    fn slot(&self, key: NameKey) -> Slot {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.entry(key).or_default().clone()
    }

    fn find(
        &self,
        kind: GroupKind,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        self.find_with(kind, team, name, stats, self.create_missing)
    }

    /// `create`: make a missing channel (with `--create-missing-channels`); without, a
    /// miss is only remembered when nothing may make it later in the run.
    fn find_with(
        &self,
        kind: GroupKind,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
        create: bool,
    ) -> Result<Option<Group>, CallError> {
        let folded = match self.target.flavor() {
            // Mattermost names are lowercase; Rocket.Chat's are exact.
            Flavor::Mattermost => name.trim().to_lowercase(),
            _ => name.trim().to_string(),
        };
        let slot = self.slot((kind, team.map(|t| t.id.clone()), folded.clone()));
        if let Some(g) = slot.get() {
            return Ok(g.clone());
        }
        let found = match kind {
            GroupKind::Team => self.target.find_team(&folded, stats)?,
            GroupKind::Channel => self.target.find_channel(team, &folded, stats)?,
        };
        if found.is_none() && kind == GroupKind::Channel && self.create_missing {
            if create {
                return self.create(slot, team, &folded, stats).map(Some);
            }
            return Ok(None);
        }
        Ok(slot.get_or_init(|| found).clone())
    }

    /// Makes a missing channel (`--create-missing-channels`), once for the run; a dry run
    /// only says it would (its members: nobody yet).
    fn create(
        &self,
        slot: Slot,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Group, CallError> {
        let _one = self.creating.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(g)) = slot.get() {
            return Ok(g.clone());
        }
        let g = if self.dry_run {
            Group {
                kind: GroupKind::Channel,
                id: format!("new:{}/{name}", team.map(|t| t.id.as_str()).unwrap_or("")),
                path: match (self.target.flavor(), team) {
                    (Flavor::Mattermost, Some(t)) => format!("{}/{name}", t.name),
                    _ => name.to_string(),
                },
                name: name.to_string(),
                parent: team.map(|t| t.id.clone()),
                private: false,
                default: false,
            }
        } else {
            self.target.create_channel(team, name, stats)?
        };
        self.remember(&g, std::iter::empty());
        // Another worker may have set the slot meanwhile (to a channel, never to none:
        // this run makes missing channels): its channel wins.
        Ok(match slot.get_or_init(|| Some(g.clone())) {
            Some(made) => made.clone(),
            None => g,
        })
    }

    /// The row's teams and channels as the server has them; `Err` says which name the
    /// server does not know (the row is rejected before any write). On Mattermost a
    /// channel is `team/channel` or a name in one of the row's teams.
    pub fn resolve(
        &self,
        u: &User,
        stats: &mut CallStats,
    ) -> Result<Result<Wanted, String>, CallError> {
        let mut w = Wanted::default();
        for name in u.teams.iter().flatten() {
            match self.find(GroupKind::Team, None, name, stats)? {
                Some(g) => push_new(&mut w.teams, g),
                None => return Ok(Err(format!("teams: no team {name:?} on the server"))),
            }
        }
        let mattermost = self.target.flavor() == Flavor::Mattermost;
        for name in u.channels.iter().flatten() {
            if !mattermost {
                match self.find(GroupKind::Channel, None, name, stats)? {
                    Some(g) => push_new(&mut w.channels, g),
                    None => {
                        return Ok(Err(format!("channels: no channel {name:?} on the server")));
                    }
                }
                continue;
            }
            if let Some((team, channel)) = name.split_once('/') {
                let Some(t) = self.find(GroupKind::Team, None, team, stats)? else {
                    return Ok(Err(format!(
                        "channels: {name:?}: no team {team:?} on the server"
                    )));
                };
                match self.find(GroupKind::Channel, Some(&t), channel, stats)? {
                    Some(g) => {
                        // The channel's team comes first.
                        push_new(&mut w.teams, t);
                        push_new(&mut w.channels, g);
                    }
                    None => {
                        return Ok(Err(format!(
                            "channels: no channel {channel:?} in team {team:?} on the server"
                        )));
                    }
                }
                continue;
            }
            // Looked for in every team first; made (--create-missing-channels) only when no
            // team has it, in the row's first team: never a second channel of that name.
            let mut found = Vec::new();
            for t in &w.teams {
                if let Some(g) = self.find_with(GroupKind::Channel, Some(t), name, stats, false)? {
                    found.push((t.name.clone(), g));
                }
            }
            if found.is_empty()
                && self.create_missing
                && let Some(t) = w.teams.first()
                && let Some(g) = self.find_with(GroupKind::Channel, Some(t), name, stats, true)?
            {
                found.push((t.name.clone(), g));
            }
            match found.len() {
                1 => push_new(&mut w.channels, found.remove(0).1),
                0 if w.teams.is_empty() => {
                    return Ok(Err(format!(
                        "channels: {name:?} needs a team on Mattermost: list it in teams, or write team/{name}"
                    )));
                }
                0 => {
                    return Ok(Err(format!(
                        "channels: no channel {name:?} in the row's teams ({})",
                        w.teams
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                _ => {
                    return Ok(Err(format!(
                        "channels: {name:?} is in several of the row's teams ({}): write team/{name}",
                        found
                            .iter()
                            .map(|(t, _)| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        Ok(Ok(w))
    }

    /// A team or channel by the path a plan or the ledger recorded (`team/channel` for a
    /// Mattermost channel); `Ok(None)` when the server has none by that path now.
    pub fn find_path(
        &self,
        kind: GroupKind,
        path: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        match (kind, self.target.flavor(), path.split_once('/')) {
            (GroupKind::Channel, Flavor::Mattermost, Some((team, channel))) => {
                match self.find(GroupKind::Team, None, team, stats)? {
                    Some(t) => self.find(GroupKind::Channel, Some(&t), channel, stats),
                    None => Ok(None),
                }
            }
            (GroupKind::Channel, Flavor::Mattermost, None) => Ok(None),
            _ => self.find(kind, None, path, stats),
        }
    }

    /// Which of `paths` (memberships roster manages, or groups the job file manages) the
    /// account `user_id` is still in though `wanted` no longer lists them: what a sync
    /// removes. Default channels are never among them.
    pub fn to_remove(
        &self,
        kind: GroupKind,
        paths: &[String],
        wanted: Option<&Wanted>,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        let listed: Vec<&Group> = match (wanted, kind) {
            (Some(w), GroupKind::Team) => w.teams.iter().collect(),
            (Some(w), GroupKind::Channel) => w.channels.iter().collect(),
            (None, _) => Vec::new(),
        };
        let mut out: Vec<Group> = Vec::new();
        for p in paths {
            let Some(g) = self.find_path(kind, p, stats)? else {
                continue;
            };
            if g.default || listed.iter().any(|l| l.id == g.id) || out.iter().any(|o| o.id == g.id)
            {
                continue;
            }
            if self.is_member(&g, user_id, stats)? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// Whether `user_id` is a member of `g`, reading the group's members on first use.
    fn is_member(
        &self,
        g: &Group,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Result<bool, CallError> {
        let cell = {
            let mut m = self.members.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(g.id.clone()).or_default().clone()
        };
        let mut set = cell.lock().unwrap_or_else(|e| e.into_inner());
        if set.is_none() {
            *set = Some(self.target.member_ids(g, stats)?);
        }
        Ok(set.as_ref().is_some_and(|s| s.contains(user_id)))
    }

    /// The groups of `wanted` the account `user_id` is not in (all of them for an account
    /// still to be made), teams first: what a plan shows as `+ team: NAME`.
    pub fn lacking(
        &self,
        wanted: &Wanted,
        user_id: Option<&str>,
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        let mut out = Vec::new();
        for g in wanted.teams.iter().chain(&wanted.channels) {
            let member = match user_id {
                Some(id) => self.is_member(g, id, stats)?,
                None => false,
            };
            if !member {
                out.push(g.clone());
            }
        }
        Ok(out)
    }

    fn remember(&self, g: &Group, user_ids: impl IntoIterator<Item = String>) {
        let cell = {
            let mut m = self.members.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(g.id.clone()).or_default().clone()
        };
        let mut set = cell.lock().unwrap_or_else(|e| e.into_inner());
        set.get_or_insert_with(HashSet::new).extend(user_ids);
    }

    /// Adds the memberships the batch's rows lack: one request per group (and per
    /// server batch size) for the whole batch, teams first. A row whose membership could
    /// not be added fails, saying which and why; its account stays as written.
    pub fn settle(&self, rows: &mut [(u64, Option<Finished>)]) {
        self.remove_planned(rows);
        for kind in [GroupKind::Team, GroupKind::Channel] {
            // Group id → (group, the rows (index) and user ids that lack it).
            let mut lacking: BTreeMap<String, (Group, Vec<(usize, String)>)> = BTreeMap::new();
            for (i, (_, f)) in rows.iter_mut().enumerate() {
                let Some(f) = f.as_mut() else { continue };
                let Some(wanted) = f.done.groups.as_ref() else {
                    continue;
                };
                // The account must exist and stay active: a row that failed after its
                // write (an avatar the server refused) still gets its memberships; a
                // deactivated account gets none (Mattermost refuses it in a channel, and
                // Rocket.Chat lists only active members, so it would be invited every night).
                if !account_ready(f) {
                    continue;
                }
                let groups = match kind {
                    GroupKind::Team => wanted.teams.clone(),
                    GroupKind::Channel => wanted.channels.clone(),
                };
                let id = f.done.entry.id.clone();
                let mut stats = CallStats::default();
                for g in &groups {
                    match self.is_member(g, &id, &mut stats) {
                        Ok(true) => {}
                        Ok(false) => lacking
                            .entry(g.id.clone())
                            .or_insert_with(|| (g.clone(), Vec::new()))
                            .1
                            .push((i, id.clone())),
                        Err(e) => fail(f, kind, &g.name, &e.to_string()),
                    }
                }
                f.done.entry.attempts += stats.requests;
            }
            for (g, who) in lacking.into_values() {
                self.add(kind, &g, who, rows);
            }
        }
    }

    /// The removals the plan gave each row, channels before teams (leaving a Mattermost
    /// team leaves its channels too). One request per membership: neither server removes
    /// several users in one.
    fn remove_planned(&self, rows: &mut [(u64, Option<Finished>)]) {
        for (_, f) in rows.iter_mut() {
            let Some(f) = f.as_mut() else { continue };
            let Some(mut wanted) = f.done.groups.take() else {
                continue;
            };
            let ok = f.done.server_user.is_some()
                && f.done.entry.status != Status::Rejected
                && !f.done.entry.id.is_empty();
            if !ok {
                // Not removed: still managed.
                wanted.kept = wanted.remove.clone();
                f.done.groups = Some(wanted);
                continue;
            }
            let removed = self.remove_now(&f.done.entry.id, &wanted.remove);
            f.done.groups = Some(wanted);
            removed.apply_to(&mut f.done);
        }
    }

    /// Removes `user_id` from `groups` now, channels before teams (a deactivation's
    /// removals, made before the account is deactivated).
    pub fn remove_now(&self, user_id: &str, groups: &[Group]) -> RemovedFirst {
        let mut out = RemovedFirst {
            done: Vec::new(),
            failed: Vec::new(),
            requests: 0,
        };
        let mut order = groups.to_vec();
        order.sort_by_key(|g| std::cmp::Reverse(g.kind));
        for g in order {
            let mut stats = CallStats::default();
            let r = if self.dry_run || user_id.is_empty() {
                Ok(())
            } else {
                self.target.remove_member(&g, user_id, &mut stats)
            };
            out.requests += stats.requests;
            match r {
                Ok(()) => {
                    self.counts.removed.fetch_add(1, Ordering::Relaxed);
                    self.forget(&g, user_id);
                    out.done.push(g);
                }
                Err(e) => out.failed.push((g, e)),
            }
        }
        out
    }

    fn forget(&self, g: &Group, user_id: &str) {
        let cell = {
            let mut m = self.members.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(g.id.clone()).or_default().clone()
        };
        let mut set = cell.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = set.as_mut() {
            s.remove(user_id);
        }
    }

    fn add(
        &self,
        kind: GroupKind,
        g: &Group,
        who: Vec<(usize, String)>,
        rows: &mut [(u64, Option<Finished>)],
    ) {
        let ids: Vec<String> = who.iter().map(|(_, id)| id.clone()).collect();
        let mut stats = CallStats::default();
        let result = if self.dry_run {
            Ok(Vec::new())
        } else {
            self.target.add_members(g, &ids, &mut stats)
        };
        self.counts
            .calls
            .fetch_add(u64::from(stats.requests), Ordering::Relaxed);
        // The requests are the batch's, not one row's: the first row counts them.
        if let Some((i, _)) = who.first()
            && let Some(f) = rows[*i].1.as_mut()
        {
            f.done.entry.attempts += stats.requests;
        }
        match result {
            Ok(not_added) => {
                let refused: HashMap<&str, &str> = not_added
                    .iter()
                    .map(|n| (n.user_id.as_str(), n.reason.as_str()))
                    .collect();
                let mut added = Vec::new();
                for (i, id) in &who {
                    let Some(f) = rows[*i].1.as_mut() else {
                        continue;
                    };
                    match refused.get(id.as_str()) {
                        Some(why) => fail(f, kind, &g.name, why),
                        None => {
                            added.push(id.clone());
                            self.counts.added.fetch_add(1, Ordering::Relaxed);
                            let field = kind.field().to_string();
                            if !f.done.entry.changed.contains(&field) {
                                f.done.entry.changed.push(field);
                            }
                            if f.done.entry.action == Action::None {
                                f.done.entry.action = Action::Update;
                            }
                        }
                    }
                }
                self.remember(g, added);
            }
            Err(e) => {
                for (i, _) in &who {
                    if let Some(f) = rows[*i].1.as_mut() {
                        fail(f, kind, &g.name, &e.to_string());
                        if let CallError::Fatal(m) = &e {
                            f.done.fatal.get_or_insert_with(|| m.clone());
                        }
                    }
                }
            }
        }
    }
}

/// Whether a row's account was written (or found) and is active after it.
fn account_ready(f: &Finished) -> bool {
    f.done
        .server_user
        .as_ref()
        .is_some_and(|u| u.active != Some(false))
        && f.done.entry.status != Status::Rejected
        && f.done.entry.action != Action::Deactivate
        && !f.done.entry.id.is_empty()
}

/// Removals made before a row's write (a deactivation's), to fold into its outcome.
pub struct RemovedFirst {
    done: Vec<Group>,
    failed: Vec<(Group, CallError)>,
    requests: u32,
}

impl RemovedFirst {
    pub fn apply_to(self, done: &mut super::Done) {
        done.entry.attempts += self.requests;
        for g in &self.done {
            let field = g.kind.field().to_string();
            if !done.entry.changed.contains(&field) {
                done.entry.changed.push(field);
            }
            if done.entry.action == Action::None {
                done.entry.action = Action::Update;
            }
        }
        let w = done.groups.get_or_insert_with(Default::default);
        for (g, e) in self.failed {
            if let CallError::Fatal(m) = &e {
                done.fatal.get_or_insert_with(|| m.clone());
            }
            let msg = format!(
                "{}: not removed from {} {:?}: {e}",
                g.kind.field(),
                g.kind.noun(),
                g.path
            );
            failed(&mut done.entry, msg);
            w.kept.push(g);
        }
    }
}

fn push_new(list: &mut Vec<Group>, g: Group) {
    if !list.iter().any(|x| x.id == g.id) {
        list.push(g);
    }
}

/// A membership the row could not get: the row fails, saying which (its account was
/// written all the same; the next run adds what is missing).
fn fail(f: &mut Finished, kind: GroupKind, name: &str, why: &str) {
    let msg = format!(
        "{}: not added to {} {name:?}: {why}",
        kind.field(),
        kind.noun()
    );
    failed(&mut f.done.entry, msg);
}

/// The row fails, `msg` joining whatever it already said.
fn failed(e: &mut crate::report::ReportEntry, msg: String) {
    e.status = Status::Failed;
    e.error = if e.error.is_empty() {
        msg
    } else {
        format!("{}; {msg}", e.error)
    };
}
