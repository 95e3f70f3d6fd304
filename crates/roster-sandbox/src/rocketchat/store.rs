//! Rocket.Chat users in memory, with the case-insensitive indexes the server's queries use.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::util::iso_ms;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Email {
    pub address: String,
    pub verified: bool,
}

/// A resume token, stored hashed like Meteor's `services.resume.loginTokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginToken {
    pub hashed: String,
    pub when: i64,
    /// 2FA "remember": valid until (ms) for this fingerprint (User-Agent + client IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfa_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfa_hash: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RcUser {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub emails: Vec<Email>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub active: bool,
    #[serde(default = "default_type")]
    pub user_type: String,
    #[serde(default = "default_status")]
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub last_login: Option<i64>,
    #[serde(default)]
    pub require_password_change: Option<bool>,
    #[serde(default)]
    pub bio: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub status_text: Option<String>,
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    #[serde(default)]
    pub import_ids: Vec<String>,
    /// `services.password.bcrypt`: bcrypt of the SHA-256 hex of the password.
    #[serde(default)]
    pub bcrypt: Option<String>,
    #[serde(default)]
    pub tokens: Vec<LoginToken>,
    /// `avatarOrigin`: `url` or `rest` after users.setAvatar; None = the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_origin: Option<String>,
    /// `avatarETag`: new on every users.setAvatar, unset by users.resetAvatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_etag: Option<String>,
    /// `services.totp.enabled`: the user set up an authenticator app.
    #[serde(default)]
    pub totp: bool,
    /// `settings.preferences`, as users.setPreferences stored them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub preferences: Map<String, Value>,
    /// `ldap: true`: the account comes from the LDAP sync (its other `services.*` sign-ins
    /// are kept under `services`, which no REST route shows another user).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ldap: bool,
}

fn default_type() -> String {
    "user".into()
}
fn default_status() -> String {
    "offline".into()
}

impl RcUser {
    pub fn new(id: String, username: String, now: i64) -> Self {
        RcUser {
            id,
            username,
            name: None,
            emails: Vec::new(),
            roles: vec!["user".into()],
            active: true,
            user_type: default_type(),
            status: default_status(),
            created_at: now,
            updated_at: now,
            last_login: None,
            require_password_change: None,
            bio: None,
            nickname: None,
            status_text: None,
            custom_fields: None,
            import_ids: Vec::new(),
            bcrypt: None,
            tokens: Vec::new(),
            avatar_origin: None,
            avatar_etag: None,
            totp: false,
            preferences: Map::new(),
            ldap: false,
        }
    }

    fn emails_json(&self) -> Value {
        Value::Array(
            self.emails
                .iter()
                .map(|e| json!({"address": e.address, "verified": e.verified}))
                .collect(),
        )
    }

    fn put_avatar(&self, m: &mut Map<String, Value>) {
        if let Some(v) = &self.avatar_etag {
            m.insert("avatarETag".into(), json!(v));
        }
    }

    fn put_optional(&self, m: &mut Map<String, Value>) {
        self.put_avatar(m);
        if let Some(v) = &self.bio {
            m.insert("bio".into(), json!(v));
        }
        if let Some(v) = &self.nickname {
            m.insert("nickname".into(), json!(v));
        }
        if let Some(v) = &self.status_text {
            m.insert("statusText".into(), json!(v));
        }
        if let Some(v) = self.last_login {
            m.insert("lastLogin".into(), json!(iso_ms(v)));
        }
        if let Some(v) = self.require_password_change {
            m.insert("requirePasswordChange".into(), json!(v));
        }
    }

    /// The document users.create / users.update return to a caller with
    /// `view-full-other-user-info` (everything but services, importIds, e2e, ...).
    pub fn full_view(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        m.insert("createdAt".into(), json!(iso_ms(self.created_at)));
        m.insert("username".into(), json!(self.username));
        m.insert("emails".into(), self.emails_json());
        m.insert("type".into(), json!(self.user_type));
        m.insert("status".into(), json!(self.status));
        m.insert("active".into(), json!(self.active));
        m.insert("roles".into(), json!(self.roles));
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
        }
        m.insert("settings".into(), json!({}));
        if let Some(cf) = &self.custom_fields {
            m.insert("customFields".into(), Value::Object(cf.clone()));
        }
        self.put_optional(&mut m);
        m.insert("_updatedAt".into(), json!(iso_ms(self.updated_at)));
        Value::Object(m)
    }

    /// The same for callers without `view-full-other-user-info`.
    pub fn limited_view(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        m.insert("username".into(), json!(self.username));
        m.insert("type".into(), json!(self.user_type));
        m.insert("status".into(), json!(self.status));
        m.insert("active".into(), json!(self.active));
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
        }
        m.insert("_updatedAt".into(), json!(iso_ms(self.updated_at)));
        Value::Object(m)
    }

    /// users.info (`getFullUserData`): `full` for yourself or holders of
    /// `view-full-other-user-info`; custom fields only then (no field is public here).
    pub fn info_view(&self, full: bool, is_self: bool) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
        }
        m.insert("username".into(), json!(self.username));
        if let Some(v) = &self.nickname {
            m.insert("nickname".into(), json!(v));
        }
        m.insert("status".into(), json!(self.status));
        m.insert("type".into(), json!(self.user_type));
        m.insert("active".into(), json!(self.active));
        if let Some(v) = &self.bio {
            m.insert("bio".into(), json!(v));
        }
        if let Some(v) = &self.status_text {
            m.insert("statusText".into(), json!(v));
        }
        if full {
            m.insert("emails".into(), self.emails_json());
            m.insert("statusConnection".into(), json!("offline"));
            m.insert("createdAt".into(), json!(iso_ms(self.created_at)));
            if let Some(v) = self.last_login {
                m.insert("lastLogin".into(), json!(iso_ms(v)));
            }
            if let Some(v) = self.require_password_change {
                m.insert("requirePasswordChange".into(), json!(v));
            }
            m.insert("roles".into(), json!(self.roles));
            if !self.import_ids.is_empty() {
                m.insert("importIds".into(), json!(self.import_ids));
            }
            if let Some(cf) = &self.custom_fields {
                m.insert("customFields".into(), Value::Object(cf.clone()));
            }
        }
        if is_self {
            m.insert(
                "services".into(),
                json!({"password": self.bcrypt.is_some()}),
            );
        }
        self.put_avatar(&mut m);
        if full && let Some(o) = &self.avatar_origin {
            m.insert("avatarOrigin".into(), json!(o));
        }
        m.insert("canViewAllInfo".into(), json!(full));
        Value::Object(m)
    }

    /// users.list's default projection (plus the `nameInsensitive` its pipeline adds).
    pub fn list_view(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
            m.insert("nameInsensitive".into(), json!(n.to_lowercase()));
        }
        m.insert("username".into(), json!(self.username));
        m.insert("emails".into(), self.emails_json());
        m.insert("roles".into(), json!(self.roles));
        m.insert("status".into(), json!(self.status));
        m.insert("active".into(), json!(self.active));
        if let Some(v) = self.last_login {
            m.insert("lastLogin".into(), json!(iso_ms(v)));
        }
        m.insert("type".into(), json!(self.user_type));
        self.put_avatar(&mut m);
        Value::Object(m)
    }

    /// `/me` and login's `data.me`.
    pub fn me_view(&self) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        m.insert("username".into(), json!(self.username));
        if let Some(n) = &self.name {
            m.insert("name".into(), json!(n));
        }
        m.insert("emails".into(), self.emails_json());
        if let Some(e) = self.emails.first() {
            m.insert("email".into(), json!(e.address));
        }
        m.insert("status".into(), json!(self.status));
        m.insert("statusConnection".into(), json!("online"));
        m.insert("active".into(), json!(self.active));
        m.insert("roles".into(), json!(self.roles));
        m.insert("settings".into(), json!({"preferences": {}}));
        if let Some(v) = self.require_password_change {
            m.insert("requirePasswordChange".into(), json!(v));
        }
        m.insert(
            "avatarUrl".into(),
            json!(format!("/avatar/{}", self.username)),
        );
        Value::Object(m)
    }

    /// What the sandbox's own state endpoint shows: the full view plus import ids.
    pub fn state_view(&self) -> Value {
        let mut v = self.full_view();
        if let Value::Object(m) = &mut v
            && !self.import_ids.is_empty()
        {
            m.insert("importIds".into(), json!(self.import_ids));
        }
        v
    }
}

/// Case-insensitive comparison the way a JavaScript `/^...$/i` regex does it.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// A room (`rocketchat_room`): a channel (`c`) or a private group (`p`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Room {
    pub id: String,
    pub name: String,
    /// `c` or `p`.
    pub t: String,
    /// Joined by new users (`joinDefaultChannels`).
    #[serde(default)]
    pub default: bool,
    /// The main room of a team.
    #[serde(default)]
    pub team_main: bool,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub archived: bool,
    /// The creator (`u`): id and username; None for seeded rooms.
    #[serde(default)]
    pub creator: Option<(String, String)>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Room {
    /// The room document as channels.info / groups.info return it.
    pub fn view(&self, users_count: usize) -> Value {
        let mut m = Map::new();
        m.insert("_id".into(), json!(self.id));
        m.insert("fname".into(), json!(self.name));
        m.insert("name".into(), json!(self.name));
        m.insert("t".into(), json!(self.t));
        m.insert("msgs".into(), json!(0));
        m.insert("usersCount".into(), json!(users_count));
        if let Some((id, username)) = &self.creator {
            m.insert("u".into(), json!({"_id": id, "username": username}));
        }
        m.insert("ts".into(), json!(iso_ms(self.created_at)));
        m.insert("ro".into(), json!(false));
        m.insert("default".into(), json!(self.default));
        m.insert("sysMes".into(), json!(true));
        if self.team_main {
            m.insert("teamMain".into(), json!(true));
        }
        if let Some(t) = &self.team_id {
            m.insert("teamId".into(), json!(t));
        }
        if self.archived {
            m.insert("archived".into(), json!(true));
        }
        m.insert("_updatedAt".into(), json!(iso_ms(self.updated_at)));
        Value::Object(m)
    }
}

/// A subscription: a user's membership of a room, with its room roles (`owner`, ...).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    pub rid: String,
    pub uid: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub ts: i64,
}

/// A team (`rocketchat_team`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RcTeam {
    pub id: String,
    pub name: String,
    /// 0 public, 1 private.
    #[serde(rename = "type")]
    pub team_type: u8,
    pub room_id: String,
    #[serde(default)]
    pub created_by: Option<(String, String)>,
    pub created_at: i64,
}

impl RcTeam {
    pub fn view(&self) -> Value {
        let (id, username) = self.created_by.clone().unwrap_or_default();
        json!({
            "_id": self.id,
            "name": self.name,
            "type": self.team_type,
            "roomId": self.room_id,
            "createdBy": {"_id": id, "username": username},
            "createdAt": iso_ms(self.created_at),
            "_updatedAt": iso_ms(self.created_at),
        })
    }
}

/// A team membership (`rocketchat_team_member`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RcTeamMember {
    pub team_id: String,
    pub user_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub created_by: Option<(String, String)>,
    pub created_at: i64,
}

/// Users by id with the indexes the emulated queries need.
#[derive(Default)]
pub struct Store {
    /// Rooms by id.
    pub rooms: BTreeMap<String, Room>,
    /// (room id, user id) → subscription.
    pub subs: BTreeMap<(String, String), Subscription>,
    /// Teams by id.
    pub teams: BTreeMap<String, RcTeam>,
    /// (team id, user id) → membership.
    pub team_members: BTreeMap<(String, String), RcTeamMember>,
    /// Uploaded or fetched avatars by user id.
    pub avatars: HashMap<String, Vec<u8>>,
    users: HashMap<String, RcUser>,
    by_username: HashMap<String, String>,
    by_email: HashMap<String, String>,
    /// Exact usernames in byte order: users.list's default `{username: 1}` sort.
    sorted: BTreeMap<String, String>,
    tokens: HashMap<String, String>,
}

impl Store {
    pub fn count(&self) -> usize {
        self.users.len()
    }

    pub fn get(&self, id: &str) -> Option<&RcUser> {
        self.users.get(id)
    }

    pub fn by_username(&self, username: &str) -> Option<&RcUser> {
        self.by_username
            .get(&fold(username.trim()))
            .and_then(|id| self.users.get(id))
    }

    pub fn by_email(&self, email: &str) -> Option<&RcUser> {
        self.by_email
            .get(&fold(email.trim()))
            .and_then(|id| self.users.get(id))
    }

    /// The user owning this hashed token.
    pub fn by_token(&self, hashed: &str) -> Option<&RcUser> {
        self.tokens.get(hashed).and_then(|id| self.users.get(id))
    }

    /// `findOneByIdOrUsername(OrImportId)`: exact id, exact username or an import id.
    pub fn by_id_username_or_import_id(&self, v: &str) -> Option<&RcUser> {
        if let Some(u) = self.users.get(v) {
            return Some(u);
        }
        if let Some(u) = self.sorted.get(v).and_then(|id| self.users.get(id)) {
            return Some(u);
        }
        self.users
            .values()
            .find(|u| u.import_ids.iter().any(|i| i == v))
    }

    /// Users sorted by exact username.
    pub fn sorted_users(&self) -> impl Iterator<Item = &RcUser> {
        self.sorted.values().filter_map(|id| self.users.get(id))
    }

    pub fn count_active_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.active && u.roles.iter().any(|r| r == "admin"))
            .count()
    }

    pub fn count_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.roles.iter().any(|r| r == "admin"))
            .count()
    }

    /// Inserts a user (the caller has checked uniqueness).
    pub fn insert(&mut self, user: RcUser) {
        self.index(&user);
        self.users.insert(user.id.clone(), user);
    }

    fn index(&mut self, u: &RcUser) {
        self.by_username.insert(fold(&u.username), u.id.clone());
        self.sorted.insert(u.username.clone(), u.id.clone());
        for e in &u.emails {
            self.by_email.insert(fold(&e.address), u.id.clone());
        }
        for t in &u.tokens {
            self.tokens.insert(t.hashed.clone(), u.id.clone());
        }
    }

    fn unindex(&mut self, u: &RcUser) {
        if self.by_username.get(&fold(&u.username)) == Some(&u.id) {
            self.by_username.remove(&fold(&u.username));
        }
        if self.sorted.get(&u.username) == Some(&u.id) {
            self.sorted.remove(&u.username);
        }
        for e in &u.emails {
            if self.by_email.get(&fold(&e.address)) == Some(&u.id) {
                self.by_email.remove(&fold(&e.address));
            }
        }
        for t in &u.tokens {
            self.tokens.remove(&t.hashed);
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<RcUser> {
        let u = self.users.remove(id)?;
        self.unindex(&u);
        // A deleted user leaves every room and team and loses the avatar.
        self.subs.retain(|(_, uid), _| uid != id);
        self.team_members.retain(|(_, uid), _| uid != id);
        self.avatars.remove(id);
        Some(u)
    }

    /// `Rooms.findOneByName`: exact.
    pub fn room_by_name(&self, name: &str) -> Option<&Room> {
        self.rooms.values().find(|r| r.name == name)
    }

    /// `Rooms.findOneById` then `findOneByName`.
    pub fn room_by_id_or_name(&self, v: &str) -> Option<&Room> {
        self.rooms.get(v).or_else(|| self.room_by_name(v))
    }

    /// `Team.getOneByName`: exact.
    pub fn team_by_name(&self, name: &str) -> Option<&RcTeam> {
        self.teams.values().find(|t| t.name == name)
    }

    pub fn sub(&self, rid: &str, uid: &str) -> Option<&Subscription> {
        self.subs.get(&(rid.to_string(), uid.to_string()))
    }

    pub fn users_count(&self, rid: &str) -> usize {
        self.subs.keys().filter(|(r, _)| r == rid).count()
    }

    /// `addUserToRoom`: a subscription; in a team's main room also the team membership.
    /// False when the user was already subscribed (nothing changes then).
    pub fn subscribe(&mut self, rid: &str, uid: &str, roles: Vec<String>, now: i64) -> bool {
        let key = (rid.to_string(), uid.to_string());
        if self.subs.contains_key(&key) {
            return false;
        }
        self.subs.insert(
            key,
            Subscription {
                rid: rid.to_string(),
                uid: uid.to_string(),
                roles: roles.clone(),
                ts: now,
            },
        );
        let team = self
            .rooms
            .get(rid)
            .filter(|r| r.team_main)
            .and_then(|r| r.team_id.clone());
        if let Some(team_id) = team {
            self.team_members
                .entry((team_id.clone(), uid.to_string()))
                .or_insert(RcTeamMember {
                    team_id,
                    user_id: uid.to_string(),
                    roles: if roles.is_empty() {
                        vec!["member".into()]
                    } else {
                        roles
                    },
                    created_by: None,
                    created_at: now,
                });
        }
        true
    }

    /// `removeUserFromRoom`: the subscription; in a team's main room also the membership.
    pub fn unsubscribe(&mut self, rid: &str, uid: &str) {
        self.subs.remove(&(rid.to_string(), uid.to_string()));
        let team = self
            .rooms
            .get(rid)
            .filter(|r| r.team_main)
            .and_then(|r| r.team_id.clone());
        if let Some(team_id) = team {
            self.team_members.remove(&(team_id, uid.to_string()));
        }
    }

    /// Changes a user with `f`, keeping every index right.
    pub fn update<R>(&mut self, id: &str, f: impl FnOnce(&mut RcUser) -> R) -> Option<R> {
        let mut u = self.users.remove(id)?;
        self.unindex(&u);
        let r = f(&mut u);
        self.index(&u);
        self.users.insert(id.to_string(), u);
        Some(r)
    }

    pub fn clear(&mut self) {
        *self = Store::default();
    }
}
