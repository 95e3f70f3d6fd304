//! Mattermost users and sessions in memory. Usernames and emails are stored lowercase (as
//! `PreSave` leaves them), so the indexes are exact.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub type StringMap = BTreeMap<String, String>;

/// `model.User`, the fields the emulator keeps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MmUser {
    pub id: String,
    pub create_at: i64,
    pub update_at: i64,
    /// 0 = active; the deactivation time otherwise.
    pub delete_at: i64,
    pub username: String,
    /// bcrypt of the password; empty = none.
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub auth_data: Option<String>,
    #[serde(default)]
    pub auth_service: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub position: String,
    /// Space-separated, stored exactly as set.
    pub roles: String,
    #[serde(default)]
    pub props: StringMap,
    #[serde(default)]
    pub notify_props: StringMap,
    #[serde(default)]
    pub last_password_update: i64,
    #[serde(default)]
    pub last_picture_update: i64,
    #[serde(default)]
    pub failed_attempts: i64,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub timezone: StringMap,
    #[serde(default)]
    pub disable_welcome_email: bool,
    /// The `create_at` of the session of the last successful login (`UpdateLastLogin`);
    /// 0 = never. `Sanitize` zeroes it, so only `GET /reports/users` shows it.
    #[serde(default)]
    pub last_login: i64,
    #[serde(default)]
    pub mfa_active: bool,
    /// Never shown (`Sanitize` blanks it).
    #[serde(default)]
    pub mfa_secret: String,
    /// A row in the Bots table (`is_bot`), made by `POST /users/{id}/convert_to_bot`:
    /// never listed by `GET /reports/users`.
    #[serde(default)]
    pub is_bot: bool,
}

/// How much of a user a response shows (`Sanitize` / `SanitizeProfile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `Sanitize({})`: yourself, login, create.
    Full,
    /// `SanitizeProfile(asAdmin=true)`: another user seen by a system admin.
    Admin,
    /// `SanitizeProfile(asAdmin=false)`: another user seen by anyone else.
    Public,
}

impl MmUser {
    pub fn is_active(&self) -> bool {
        self.delete_at == 0
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.split_whitespace().any(|r| r == role)
    }

    pub fn is_system_admin(&self) -> bool {
        self.has_role("system_admin")
    }

    pub fn is_ldap(&self) -> bool {
        self.auth_service == "ldap"
    }

    /// The JSON the API returns (Go's field tags: `omitempty` ones only when set).
    pub fn view(&self, view: View) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("create_at".into(), json!(self.create_at));
        m.insert("update_at".into(), json!(self.update_at));
        m.insert("delete_at".into(), json!(self.delete_at));
        m.insert("username".into(), json!(self.username));
        // Sanitize sets a pointer to "": present, empty.
        m.insert("auth_data".into(), json!(""));
        let auth_service = if view == View::Public {
            ""
        } else {
            self.auth_service.as_str()
        };
        m.insert("auth_service".into(), json!(auth_service));
        m.insert("email".into(), json!(self.email));
        if view == View::Full && self.email_verified {
            m.insert("email_verified".into(), json!(true));
        }
        m.insert("nickname".into(), json!(self.nickname));
        m.insert("first_name".into(), json!(self.first_name));
        m.insert("last_name".into(), json!(self.last_name));
        m.insert("position".into(), json!(self.position));
        m.insert("roles".into(), json!(self.roles));
        if self.is_bot {
            // `is_bot`, `bot_description`, `bot_last_icon_update`: omitempty.
            m.insert("is_bot".into(), json!(true));
        }
        if !self.props.is_empty() {
            m.insert("props".into(), json!(self.props));
        }
        if view != View::Public && !self.notify_props.is_empty() {
            m.insert("notify_props".into(), json!(self.notify_props));
        }
        if view == View::Full {
            if self.last_password_update != 0 {
                m.insert(
                    "last_password_update".into(),
                    json!(self.last_password_update),
                );
            }
            if self.failed_attempts != 0 {
                m.insert("failed_attempts".into(), json!(self.failed_attempts));
            }
        }
        if self.last_picture_update != 0 {
            m.insert(
                "last_picture_update".into(),
                json!(self.last_picture_update),
            );
        }
        m.insert("locale".into(), json!(self.locale));
        m.insert("timezone".into(), json!(self.timezone));
        // Neither `Sanitize` nor `SanitizeProfile` touches MfaActive (omitempty).
        if self.mfa_active {
            m.insert("mfa_active".into(), json!(true));
        }
        if self.disable_welcome_email {
            m.insert("disable_welcome_email".into(), json!(true));
        }
        Value::Object(m)
    }

    /// A row of `GET /reports/users` (`UserReportQuery.ToReport`: the whole user after
    /// `ClearNonProfileFields`, so `last_login` stays, with the post statistics beside it).
    pub fn report_view(&self, last_status_at: Option<i64>) -> Value {
        let mut v = self.view(View::Admin);
        if let Value::Object(m) = &mut v {
            // ClearNonProfileFields empties the notify props rather than dropping them.
            m.insert("notify_props".into(), json!({}));
            if self.last_login != 0 {
                m.insert("last_login".into(), json!(self.last_login));
            }
            if let Some(t) = last_status_at {
                m.insert("last_status_at".into(), json!(t));
            }
        }
        v
    }

    /// The sandbox's own state endpoint: the admin's view plus the real `auth_data`.
    pub fn state_view(&self) -> Value {
        let mut v = self.view(View::Full);
        if let Value::Object(m) = &mut v {
            m.insert(
                "auth_data".into(),
                json!(self.auth_data.clone().unwrap_or_default()),
            );
        }
        v
    }
}

/// A login session. Only SHA-256 digests of its secrets are kept (the state file holds no
/// usable token); a restart still keeps clients logged in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub create_at: i64,
    /// Milliseconds since the epoch; 0 = never.
    pub expires_at: i64,
    pub csrf_hash: String,
}

/// `model.UserAccessToken`: only the token's digest is kept, as for sessions.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessToken {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub description: String,
    pub is_active: bool,
}

/// `model.Team`, the fields the emulator keeps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub display_name: String,
    /// `O` (open) or `I` (invite only).
    #[serde(rename = "type")]
    pub team_type: String,
    pub allow_open_invite: bool,
    pub create_at: i64,
    pub update_at: i64,
    /// 0 = not archived.
    pub delete_at: i64,
}

impl Team {
    /// `model.Team` JSON (`SanitizeTeam` for a caller with manage_team: nothing blanked).
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "delete_at": self.delete_at,
            "display_name": self.display_name,
            "name": self.name,
            "description": "",
            "email": "",
            "type": self.team_type,
            "company_name": "",
            "allowed_domains": "",
            "invite_id": "",
            "allow_open_invite": self.allow_open_invite,
            "scheme_id": null,
            "group_constrained": false,
            "policy_id": null,
            "cloud_limits_archived": false,
        })
    }
}

/// `model.TeamMember`: a removed member keeps its row with `delete_at` > 0.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub scheme_admin: bool,
    pub delete_at: i64,
}

impl TeamMember {
    pub fn is_active(&self) -> bool {
        self.delete_at == 0
    }

    /// `model.TeamMember` JSON (`create_at` is `json:"-"`).
    pub fn view(&self) -> Value {
        let roles = match (self.is_active(), self.scheme_admin) {
            (false, _) => "",
            (true, false) => "team_user",
            (true, true) => "team_user team_admin",
        };
        json!({
            "team_id": self.team_id,
            "user_id": self.user_id,
            "roles": roles,
            "delete_at": self.delete_at,
            "scheme_guest": false,
            "scheme_user": self.is_active(),
            "scheme_admin": self.is_active() && self.scheme_admin,
            "explicit_roles": "",
        })
    }
}

/// `model.Channel`, the fields the emulator keeps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Channel {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub display_name: String,
    /// `O` (public) or `P` (private).
    #[serde(rename = "type")]
    pub channel_type: String,
    #[serde(default)]
    pub creator_id: String,
    pub create_at: i64,
    pub update_at: i64,
    pub delete_at: i64,
}

impl Channel {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "create_at": self.create_at,
            "update_at": self.update_at,
            "delete_at": self.delete_at,
            "team_id": self.team_id,
            "type": self.channel_type,
            "display_name": self.display_name,
            "name": self.name,
            "header": "",
            "purpose": "",
            "last_post_at": 0,
            "total_msg_count": 0,
            "extra_update_at": 0,
            "creator_id": self.creator_id,
            "scheme_id": null,
            "props": null,
            "group_constrained": null,
            "shared": null,
            "total_msg_count_root": 0,
            "policy_id": null,
            "last_root_post_at": 0,
        })
    }
}

/// `model.ChannelMember`: hard-deleted on removal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChannelMember {
    pub channel_id: String,
    pub user_id: String,
    pub last_update_at: i64,
}

impl ChannelMember {
    pub fn view(&self) -> Value {
        json!({
            "channel_id": self.channel_id,
            "user_id": self.user_id,
            "roles": "channel_user",
            "last_viewed_at": 0,
            "msg_count": 0,
            "mention_count": 0,
            "mention_count_root": 0,
            "urgent_mention_count": 0,
            "msg_count_root": 0,
            "notify_props": {
                "desktop": "default", "email": "default", "ignore_channel_mentions": "default",
                "mark_unread": "all", "push": "default", "channel_auto_follow_threads": "off",
            },
            "last_update_at": self.last_update_at,
            "scheme_guest": false,
            "scheme_user": true,
            "scheme_admin": false,
            "explicit_roles": "",
        })
    }
}

#[derive(Default)]
pub struct Store {
    /// Teams by id.
    pub teams: BTreeMap<String, Team>,
    /// (team_id, user_id) → membership, active or removed.
    pub team_members: BTreeMap<(String, String), TeamMember>,
    /// Channels by id.
    pub channels: BTreeMap<String, Channel>,
    /// (channel_id, user_id) → membership.
    pub channel_members: BTreeMap<(String, String), ChannelMember>,
    /// Custom profile images by user id, as uploaded.
    pub images: HashMap<String, Vec<u8>>,
    /// Statuses set by `PUT /users/{id}/status`, by user id, as answered.
    pub statuses: HashMap<String, serde_json::Value>,
    /// Preferences by user id: (category, name) → value.
    pub preferences: HashMap<String, BTreeMap<(String, String), String>>,
    users: HashMap<String, MmUser>,
    by_username: BTreeMap<String, String>,
    by_email: HashMap<String, String>,
    by_auth_data: HashMap<String, String>,
    sessions: HashMap<String, Session>,
    /// Personal access tokens, in the order they were made.
    access_tokens: Vec<AccessToken>,
}

impl Store {
    pub fn get(&self, id: &str) -> Option<&MmUser> {
        self.users.get(id)
    }

    /// Exact match on the stored (lowercase) username.
    pub fn by_username(&self, username: &str) -> Option<&MmUser> {
        self.by_username
            .get(username)
            .and_then(|id| self.users.get(id))
    }

    pub fn by_email(&self, email: &str) -> Option<&MmUser> {
        self.by_email.get(email).and_then(|id| self.users.get(id))
    }

    pub fn by_auth_data(&self, auth_data: &str) -> Option<&MmUser> {
        self.by_auth_data
            .get(auth_data)
            .and_then(|id| self.users.get(id))
    }

    /// Users in username order (`ORDER BY Username ASC`, bytewise).
    pub fn sorted(&self) -> impl Iterator<Item = &MmUser> {
        self.by_username
            .values()
            .filter_map(|id| self.users.get(id))
    }

    pub fn count_active_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.is_active() && u.is_system_admin())
            .count()
    }

    /// Inserts a user whose username, email and auth data are free (the caller checked).
    pub fn insert(&mut self, u: MmUser) {
        self.index(&u);
        self.users.insert(u.id.clone(), u);
    }

    fn index(&mut self, u: &MmUser) {
        self.by_username.insert(u.username.clone(), u.id.clone());
        self.by_email.insert(u.email.clone(), u.id.clone());
        if let Some(a) = u.auth_data.as_ref().filter(|a| !a.is_empty()) {
            self.by_auth_data.insert(a.clone(), u.id.clone());
        }
    }

    fn unindex(&mut self, u: &MmUser) {
        if self.by_username.get(&u.username) == Some(&u.id) {
            self.by_username.remove(&u.username);
        }
        if self.by_email.get(&u.email) == Some(&u.id) {
            self.by_email.remove(&u.email);
        }
        if let Some(a) = &u.auth_data
            && self.by_auth_data.get(a) == Some(&u.id)
        {
            self.by_auth_data.remove(a);
        }
    }

    /// Replaces a stored user, keeping the indexes right.
    pub fn replace(&mut self, u: MmUser) {
        if let Some(old) = self.users.remove(&u.id) {
            self.unindex(&old);
        }
        self.insert(u);
    }

    pub fn remove(&mut self, id: &str) -> Option<MmUser> {
        let u = self.users.remove(id)?;
        self.unindex(&u);
        self.revoke_all_sessions(id);
        // A permanent delete removes the memberships and the picture too.
        self.team_members.retain(|(_, uid), _| uid != id);
        self.channel_members.retain(|(_, uid), _| uid != id);
        self.images.remove(id);
        self.access_tokens.retain(|t| t.user_id != id);
        Some(u)
    }

    pub fn add_access_token(&mut self, t: AccessToken) {
        self.access_tokens.push(t);
    }

    pub fn access_token(&self, token_hash: &str) -> Option<&AccessToken> {
        self.access_tokens
            .iter()
            .find(|t| t.token_hash == token_hash)
    }

    pub fn access_tokens_of(&self, user_id: &str) -> Vec<&AccessToken> {
        self.access_tokens
            .iter()
            .filter(|t| t.user_id == user_id)
            .collect()
    }

    /// Every access token, for the state file.
    pub fn access_tokens(&self) -> &[AccessToken] {
        &self.access_tokens
    }

    pub fn session(&self, token_hash: &str) -> Option<&Session> {
        self.sessions.get(token_hash)
    }

    pub fn add_session(&mut self, s: Session) {
        self.sessions.insert(s.token_hash.clone(), s);
    }

    pub fn revoke_session(&mut self, token_hash: &str) {
        self.sessions.remove(token_hash);
    }

    pub fn revoke_all_sessions(&mut self, user_id: &str) {
        self.sessions.retain(|_, s| s.user_id != user_id);
    }

    /// Sessions in a stable order, for the state file.
    pub fn sessions_sorted(&self) -> Vec<&Session> {
        let mut v: Vec<&Session> = self.sessions.values().collect();
        v.sort_by(|a, b| (a.create_at, &a.id).cmp(&(b.create_at, &b.id)));
        v
    }

    pub fn clear(&mut self) {
        *self = Store::default();
    }

    pub fn team_by_name(&self, name: &str) -> Option<&Team> {
        self.teams.values().find(|t| t.name == name)
    }

    /// `SqlChannelStore.getByName`: in the team (or team-less), archived ones only if asked.
    pub fn channel_by_name(
        &self,
        team_id: &str,
        name: &str,
        include_deleted: bool,
    ) -> Option<&Channel> {
        self.channels.values().find(|c| {
            c.name == name
                && (c.team_id == team_id || c.team_id.is_empty())
                && (include_deleted || c.delete_at == 0)
        })
    }

    pub fn team_member(&self, team_id: &str, user_id: &str) -> Option<&TeamMember> {
        self.team_members
            .get(&(team_id.to_string(), user_id.to_string()))
    }

    pub fn is_active_team_member(&self, team_id: &str, user_id: &str) -> bool {
        self.team_member(team_id, user_id)
            .is_some_and(TeamMember::is_active)
    }

    pub fn channel_member(&self, channel_id: &str, user_id: &str) -> Option<&ChannelMember> {
        self.channel_members
            .get(&(channel_id.to_string(), user_id.to_string()))
    }

    /// `GetActiveMemberCount`: active memberships of active users.
    pub fn active_member_count(&self, team_id: &str) -> usize {
        self.team_members
            .values()
            .filter(|m| {
                m.team_id == team_id
                    && m.is_active()
                    && self.users.get(&m.user_id).is_some_and(MmUser::is_active)
            })
            .count()
    }
}
