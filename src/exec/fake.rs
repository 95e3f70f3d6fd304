//! An in-memory server for fast unit tests of the engine's decisions: a list of users,
//! admins marked by role, the running account, and creates whose answer can be "lost"
//! (the server decided, the client saw a 502). The real clients are tested against the
//! sandbox servers; this fake only lets the decision table run without HTTP.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::client::{
    CallError, CallStats, CreateOptions, Flavor, Group, GroupKind, Image, MatchKey, NotAdded, Page,
    RoleCache, ServerRoles, UserApi,
};
use crate::model::{Field, User};

const FIELDS: &[Field] = &[
    Field::Username,
    Field::Email,
    Field::Name,
    Field::Active,
    Field::Roles,
];

pub struct FakeServer {
    users: Mutex<Vec<User>>,
    me: String,
    /// Every create's answer is lost: whatever the server did, the client sees a 502.
    pub lose_answers: AtomicBool,
    /// The writes made, as `create NAME` / `update NAME fields` / `deactivate NAME`.
    pub writes: Mutex<Vec<String>>,
    /// Lookups of these usernames take this long (rows that finish late).
    pub slow: Mutex<HashMap<String, Duration>>,
    /// What the role listing answers: the server's roles, or the error it fails with.
    pub role_list: Mutex<Result<BTreeSet<String>, CallError>>,
    /// Role listings read.
    pub role_reads: AtomicUsize,
    roles: RoleCache,
    /// Teams and channels by name, with their members' ids.
    pub groups: Mutex<HashMap<String, (Group, BTreeSet<String>)>>,
    /// Requests that listed or added members, and that set avatars.
    pub member_reads: AtomicUsize,
    pub member_adds: AtomicUsize,
    pub avatars: Mutex<HashMap<String, usize>>,
    /// Review probe: a lookup of this key fails fatally (a 401 mid-run).
    pub fatal_on: Mutex<Option<String>>,
}

impl FakeServer {
    /// A server with `admin` (an administrator), `importer` (the running account) and
    /// the given plain users.
    pub fn new(users: &[(&str, &str)]) -> FakeServer {
        let mut all = vec![
            user("admin", "admin@example.org", &["user", "admin"]),
            user("importer", "importer@example.org", &["user"]),
        ];
        all.extend(users.iter().map(|(n, e)| user(n, e, &["user"])));
        FakeServer {
            users: Mutex::new(all),
            me: "id-importer".into(),
            lose_answers: AtomicBool::new(false),
            writes: Mutex::new(Vec::new()),
            slow: Mutex::new(HashMap::new()),
            role_list: Mutex::new(Ok(["admin", "bot", "guest", "user"]
                .into_iter()
                .map(String::from)
                .collect())),
            role_reads: AtomicUsize::new(0),
            roles: RoleCache::default(),
            groups: Mutex::new(HashMap::new()),
            member_reads: AtomicUsize::new(0),
            member_adds: AtomicUsize::new(0),
            avatars: Mutex::new(HashMap::new()),
            fatal_on: Mutex::new(None),
        }
    }

    /// A team or channel named `name` (no members).
    pub fn add_group(&self, kind: GroupKind, name: &str) {
        let g = Group {
            kind,
            id: format!("g-{name}"),
            name: name.into(),
            path: name.into(),
            default: false,
            parent: None,
            private: false,
        };
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.into(), (g, BTreeSet::new()));
    }

    /// The groups of one kind, by name.
    fn groups_of(&self, kind: GroupKind) -> Vec<Group> {
        let mut v: Vec<Group> = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|(g, _)| g.kind == kind)
            .map(|(g, _)| g.clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The members of a group, by username.
    pub fn members_of(&self, name: &str) -> Vec<String> {
        let ids: Vec<String> = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|(_, m)| m.iter().cloned().collect())
            .unwrap_or_default();
        let users = self.lock();
        let mut names: Vec<String> = users
            .iter()
            .filter(|u| u.id.as_ref().is_some_and(|id| ids.contains(id)))
            .map(|u| u.username.clone())
            .collect();
        names.sort();
        names
    }

    /// Adds `u`, or replaces the user of the same username (a deactivated user, one in
    /// another domain or with another role).
    pub fn put(&self, u: User) {
        let mut users = self.lock();
        match users.iter_mut().find(|x| x.username == u.username) {
            Some(x) => *x = u,
            None => users.push(u),
        }
    }

    pub fn get(&self, username: &str) -> Option<User> {
        self.lock().iter().find(|u| u.username == username).cloned()
    }

    pub fn writes(&self) -> Vec<String> {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<User>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wrote(&self, what: String) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

pub fn user(name: &str, email: &str, roles: &[&str]) -> User {
    User {
        id: Some(format!("id-{name}")),
        username: name.into(),
        email: Some(email.into()),
        name: Some(name.to_uppercase()),
        active: Some(true),
        roles: Some(roles.iter().map(|r| r.to_string()).collect()),
        ..User::default()
    }
}

impl UserApi for FakeServer {
    fn flavor(&self) -> Flavor {
        Flavor::Rocketchat
    }

    fn whoami(&self, _stats: &mut CallStats) -> Result<User, CallError> {
        self.get("importer")
            .ok_or_else(|| CallError::Fatal("no importer".into()))
    }

    fn lookup(
        &self,
        by: MatchKey,
        key: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        stats.requests += 1;
        let delay = self
            .slow
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied();
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        if self
            .fatal_on
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
            == Some(key)
        {
            return Err(CallError::Fatal("401 (probe)".into()));
        }
        let key = key.to_lowercase();
        Ok(self
            .lock()
            .iter()
            .find(|u| by.of(u).as_deref() == Some(key.as_str()))
            .cloned())
    }

    fn lookup_id(&self, id: &str, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        stats.requests += 1;
        Ok(self
            .lock()
            .iter()
            .find(|u| u.id.as_deref() == Some(id))
            .cloned())
    }

    fn create(
        &self,
        u: &User,
        _opts: &CreateOptions,
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        stats.requests += 1;
        let outcome = {
            let mut users = self.lock();
            let taken = users.iter().any(|x| {
                x.username.eq_ignore_ascii_case(&u.username)
                    || (x.email.is_some() && x.email == u.email)
            });
            if taken {
                Err(CallError::Conflict {
                    field: "username".into(),
                    message: "already in use".into(),
                })
            } else {
                let mut new = u.clone();
                new.id = Some(format!("id-{}", u.username));
                new.password = None;
                users.push(new.clone());
                Ok(new)
            }
        };
        if outcome.is_ok() {
            self.wrote(format!("create {}", u.username));
        }
        if self.lose_answers.load(Ordering::SeqCst) {
            return Err(CallError::Transient("502 (answer lost)".into()));
        }
        outcome
    }

    fn update(
        &self,
        current: &User,
        desired: &User,
        fields: &[Field],
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        stats.requests += 1;
        let names: Vec<String> = fields.iter().map(|f| f.name().into_owned()).collect();
        self.wrote(format!("update {} {}", current.username, names.join(",")));
        let mut users = self.lock();
        let Some(u) = users.iter_mut().find(|u| u.id == current.id) else {
            return Err(CallError::Rejected {
                status: 404,
                code: None,
                message: "no such user".into(),
            });
        };
        for f in fields {
            match f {
                Field::Username => u.username = desired.username.clone(),
                Field::Email => u.email = desired.email.clone(),
                Field::Name => u.name = desired.name.clone(),
                Field::Active => u.active = desired.active,
                Field::Roles => u.roles = desired.roles.clone(),
                _ => {}
            }
        }
        Ok(u.clone())
    }

    /// With `lose_answers`, the delete happens and its answer is lost.
    fn delete(
        &self,
        current: &User,
        _confirm_relinquish: bool,
        stats: &mut CallStats,
    ) -> Result<crate::client::Deleted, CallError> {
        stats.requests += 1;
        let mut users = self.lock();
        let Some(at) = users.iter().position(|u| u.id == current.id) else {
            return Ok(crate::client::Deleted::Gone);
        };
        users.remove(at);
        drop(users);
        self.wrote(format!("delete {}", current.username));
        if self.lose_answers.load(Ordering::SeqCst) {
            return Err(CallError::Transient("502 (answer lost)".into()));
        }
        Ok(crate::client::Deleted::Now)
    }

    fn deactivate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        stats.requests += 1;
        self.wrote(format!("deactivate {}", current.username));
        let mut users = self.lock();
        match users.iter_mut().find(|u| u.id == current.id) {
            Some(u) => {
                u.active = Some(false);
                Ok(u.clone())
            }
            None => Err(CallError::Rejected {
                status: 404,
                code: None,
                message: "no such user".into(),
            }),
        }
    }

    fn list(&self, page: u64, stats: &mut CallStats) -> Result<Page, CallError> {
        stats.requests += 1;
        let users = if page == 0 {
            self.lock().clone()
        } else {
            Vec::new()
        };
        Ok(Page {
            users,
            more: false,
            total: None,
        })
    }

    fn user_total(&self, stats: &mut CallStats) -> Result<Option<u64>, CallError> {
        stats.requests += 1;
        Ok(Some(self.lock().len() as u64))
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn protection(&self, u: &User) -> Option<&'static str> {
        if u.id.as_deref() == Some(self.me.as_str()) {
            Some("the account roster runs as")
        } else if u
            .roles
            .as_ref()
            .is_some_and(|r| r.iter().any(|r| r == "admin"))
        {
            Some("an administrator")
        } else {
            None
        }
    }

    fn admin_role(&self) -> &'static str {
        "admin"
    }

    fn roles(&self) -> &ServerRoles {
        self.roles.get_or_read(|| {
            self.role_reads.fetch_add(1, Ordering::SeqCst);
            self.role_list
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    fn warnings(&self) -> Vec<String> {
        self.roles.warning().into_iter().collect()
    }

    fn backoff(&self, _attempt: u32, stats: &mut CallStats) -> Result<(), CallError> {
        stats.retries += 1;
        Ok(())
    }

    fn find_team(&self, name: &str, stats: &mut CallStats) -> Result<Option<Group>, CallError> {
        self.find_channel(None, name, stats)
            .map(|g| g.filter(|g| g.kind == GroupKind::Team))
    }

    fn find_channel(
        &self,
        _team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        stats.requests += 1;
        Ok(self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|(g, _)| g.clone()))
    }

    fn list_teams(&self, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        stats.requests += 1;
        Ok(self.groups_of(GroupKind::Team))
    }

    fn list_channels(
        &self,
        _teams: &[Group],
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        stats.requests += 1;
        Ok(self.groups_of(GroupKind::Channel))
    }

    fn member_ids(
        &self,
        group: &Group,
        stats: &mut CallStats,
    ) -> Result<std::collections::HashSet<String>, CallError> {
        stats.requests += 1;
        self.member_reads.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&group.name)
            .map(|(_, m)| m.iter().cloned().collect())
            .unwrap_or_default())
    }

    fn add_members(
        &self,
        group: &Group,
        user_ids: &[String],
        stats: &mut CallStats,
    ) -> Result<Vec<NotAdded>, CallError> {
        stats.requests += 1;
        self.member_adds.fetch_add(1, Ordering::SeqCst);
        let mut g = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let Some((_, members)) = g.get_mut(&group.name) else {
            return Err(CallError::Rejected {
                status: 400,
                code: None,
                message: "no such group".into(),
            });
        };
        // A user id the server does not know is refused, the others are added.
        let known: Vec<String> = self.lock().iter().filter_map(|u| u.id.clone()).collect();
        let mut refused = Vec::new();
        for id in user_ids {
            if known.contains(id) {
                members.insert(id.clone());
            } else {
                refused.push(NotAdded {
                    user_id: id.clone(),
                    reason: "unknown user".into(),
                });
            }
        }
        Ok(refused)
    }

    fn set_avatar(
        &self,
        user: &User,
        image: &Image,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        stats.requests += 1;
        let size = match image {
            Image::Url(u) => u.len(),
            Image::Bytes { data, .. } => data.len(),
        };
        self.avatars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.username.clone(), size);
        Ok(())
    }
}
