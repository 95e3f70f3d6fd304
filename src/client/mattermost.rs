//! Mattermost REST API v4 client.
//!
//! Facts it relies on (from the server's code, which wins over the API reference):
//! - Auth: `Authorization: Bearer <token>`; POST /users/login returns the session token
//!   in the `Token` header (read case-insensitively). On POST /users an invalid token is
//!   silently treated as anonymous, so credentials are checked first with GET /users/me.
//! - Create: POST /users (201); client-sent roles are ignored, so roles and a deactivated
//!   state are set after creating (PUT /users/{id}/roles, PUT /users/{id}/active).
//! - Update: PUT /users/{id}/patch with only the changed fields (never PUT /users/{id},
//!   which clears omitted ones); `props` replaces the whole map, so it is merged first.
//! - Lookups: POST /users/usernames takes many names at once (exact, lowercase match).
//! - Deactivate: DELETE /users/{id} (never `permanent=true`).
//! - Rate limits (when enabled): one GCRA bucket for the whole API; `X-Ratelimit-Reset`
//!   and `Retry-After` are seconds from now; a 429 body is plain text; the headers may
//!   come twice (per token and per user): the most restrictive wins.
//! - Roles: PUT /users/{id}/roles refuses a name no role has
//!   (`app.role.check_roles_exist.role_not_found`), after POST /users has created the
//!   user. GET /roles lists every role to holders of `manage_system`
//!   (`server/channels/api4/role.go`, getAllRoles), which creating users needs anyway;
//!   a run reads it once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::auth::Credentials;
use super::http::{Http, Reply};
use super::{
    Account, AccountPage, CallError, CallStats, CreateOptions, Deleted, Fact, Facts, Flavor, Group,
    GroupKind, Image, LastLogin, LoginPage, MatchKey, NotAdded, Page, ReportCursor, RoleCache,
    ServerRoles, Support, UserApi, Want,
};
use crate::client::pacer::RateInfo;
use crate::model::{Field, User};
use crate::secret::Secret;

/// Users per POST /teams/{id}/members/batch (`MaxAddMembersBatch`, api4/team.go).
pub const TEAM_BATCH: usize = 256;
/// Users per POST /channels/{id}/members `user_ids` (`maxListSize`, api4/channel.go).
pub const CHANNEL_BATCH: usize = 1000;
/// Members per page of GET /teams/{id}/members and /channels/{id}/members.
const MEMBERS_PAGE: usize = 200;

/// Usernames per POST /users/usernames call.
pub const LOOKUP_BATCH: usize = 100;
/// GET /users per_page maximum (larger values are clamped).
pub const PAGE_SIZE: u64 = 200;
/// GET /reports/users page_size maximum (`model.ReportingMaxPageSize`; more is a 400).
const REPORT_PAGE: usize = 100;
/// The whole API shares one rate-limit bucket.
const BUCKET: &str = "api";

const FIELDS: &[Field] = &[
    Field::Username,
    Field::Email,
    Field::FirstName,
    Field::LastName,
    Field::Nickname,
    Field::Position,
    Field::Locale,
    Field::Roles,
    Field::Active,
];

pub struct Mattermost {
    http: Http,
    token: Secret,
    pub me: Option<User>,
    /// The server's system roles, read on the first row with roles.
    roles: RoleCache,
}

impl Mattermost {
    /// Authenticates and checks the token with GET /users/me.
    pub fn connect(http: Http, creds: &Credentials) -> Result<Mattermost, CallError> {
        let mut stats = CallStats::default();
        let token = match creds {
            Credentials::Token { token, .. } => token.clone(),
            Credentials::Login { username, password } => {
                let body = json!({"login_id": username, "password": password.expose()});
                let url = http.url("/api/v4/users/login");
                let r = http.send(BUCKET, "users/login", true, &mut stats, |c| {
                    c.post(&url).json(&body)
                })?;
                if r.status != 200 {
                    return Err(CallError::Fatal(format!(
                        "login as {username} failed: {} (check ROSTER_USERNAME and the password)",
                        error_text(&r)
                    )));
                }
                match r.header("token") {
                    Some(t) if !t.is_empty() => Secret::new(t),
                    _ => {
                        return Err(CallError::Fatal(
                            "login answered without a Token header".into(),
                        ));
                    }
                }
            }
        };
        let mut mm = Mattermost {
            http,
            token,
            me: None,
            roles: RoleCache::default(),
        };
        let me = mm.whoami(&mut stats)?;
        mm.me = Some(me);
        Ok(mm)
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        retry: bool,
        stats: &mut CallStats,
    ) -> Result<Reply, CallError> {
        let url = self.http.url(&format!("/api/v4{path}"));
        let what = format!("{method} {}", route_name(path));
        let r = self.http.send(BUCKET, &what, retry, stats, |c| {
            let rb = c
                .request(method.clone(), &url)
                .bearer_auth(self.token.expose());
            match body {
                Some(b) => rb.json(b),
                None => rb,
            }
        })?;
        if r.status == 401 && !setting_off(&r) {
            return Err(CallError::Fatal(format!(
                "{what}: authentication failed ({}); check ROSTER_TOKEN or ROSTER_USERNAME/ROSTER_PASSWORD",
                error_text(&r)
            )));
        }
        Ok(r)
    }

    fn set_roles(
        &self,
        id: &str,
        roles: &[String],
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let body = json!({"roles": roles.join(" ")});
        let r = self.send(
            reqwest::Method::PUT,
            &format!("/users/{id}/roles"),
            Some(&body),
            true,
            stats,
        )?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(failure(&r, "PUT /users/{id}/roles"))
        }
    }

    fn set_active(&self, id: &str, active: bool, stats: &mut CallStats) -> Result<(), CallError> {
        let body = json!({"active": active});
        let r = self.send(
            reqwest::Method::PUT,
            &format!("/users/{id}/active"),
            Some(&body),
            true,
            stats,
        )?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(failure(&r, "PUT /users/{id}/active"))
        }
    }

    /// The names of the server's system roles, from GET /roles (an array of
    /// `model.Role`: `{id, name, delete_at, ...}`, every scope). The check roster makes
    /// is stricter than the server's, which takes any existing role: a team or channel
    /// role (`team_admin`) among a user's roles would grant its permissions on every team
    /// and channel, since a session's roles are the user's system roles.
    fn read_roles(&self) -> Result<BTreeSet<String>, CallError> {
        // The run's listing, not a row's: its requests count in no row's attempts.
        let mut stats = CallStats::default();
        let r = self.send(reqwest::Method::GET, "/roles", None, true, &mut stats)?;
        if r.status != 200 {
            return Err(failure(&r, "GET /roles"));
        }
        let v = r.json().unwrap_or(Value::Null);
        let Some(list) = v.as_array() else {
            return Err(CallError::Rejected {
                status: r.status,
                code: None,
                message: "GET /roles: the answer is not a list of roles".into(),
            });
        };
        Ok(list
            .iter()
            .filter(|role| role["delete_at"].as_i64().unwrap_or(0) == 0)
            .filter_map(|role| role["name"].as_str())
            .filter(|name| name.starts_with("system_"))
            .map(str::to_string)
            .collect())
    }

    fn group_from(kind: GroupKind, v: &Value) -> Option<Group> {
        let name = v["name"].as_str().unwrap_or_default().to_string();
        Some(Group {
            kind,
            id: v["id"].as_str()?.to_string(),
            // The caller that knows the team makes a channel's path `team/channel`.
            path: name.clone(),
            // App.DefaultChannelNames (app/channel.go): town-square always, off-topic
            // unless ExperimentalDefaultChannels says otherwise (not readable here).
            default: kind == GroupKind::Channel
                && matches!(name.as_str(), "town-square" | "off-topic"),
            name,
            parent: v["team_id"].as_str().map(str::to_string),
            private: matches!(v["type"].as_str(), Some("P" | "I")),
        })
    }

    /// A team or channel by name: 200 is it, 404 (or an archived one) is none.
    fn find_group(
        &self,
        kind: GroupKind,
        path: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        let r = self.send(reqwest::Method::GET, path, None, true, stats)?;
        match r.status {
            200 => {
                let v = r.json().unwrap_or(Value::Null);
                // GET /teams lists archived teams too; a team by name may be one.
                if v["delete_at"].as_i64().unwrap_or(0) != 0 {
                    return Ok(None);
                }
                Ok(Self::group_from(kind, &v))
            }
            404 => Ok(None),
            _ => Err(failure(&r, &format!("GET {}", route_name(path)))),
        }
    }

    /// One user into a channel, for the reason a batch left them out.
    fn add_one_to_channel(
        &self,
        channel: &str,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Option<String> {
        let path = format!("/channels/{channel}/members");
        match self.send(
            reqwest::Method::POST,
            &path,
            Some(&json!({"user_id": user_id})),
            true,
            stats,
        ) {
            Ok(r) if r.status == 201 || r.status == 200 => None,
            Ok(r) => Some(error_text(&r)),
            Err(e) => Some(e.to_string()),
        }
    }

    /// Every item of a paged listing (`page`, `per_page` at its maximum, 200), page by
    /// page until a short one.
    fn list_all(&self, base: &str, stats: &mut CallStats) -> Result<Vec<Value>, CallError> {
        let sep = if base.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        for page in 0.. {
            let path = format!("{base}{sep}page={page}&per_page={MEMBERS_PAGE}");
            let r = self.send(reqwest::Method::GET, &path, None, true, stats)?;
            if r.status != 200 {
                return Err(failure(&r, &format!("GET {}", route_name(base))));
            }
            let list = match r.json() {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            };
            let n = list.len();
            all.extend(list);
            if n < MEMBERS_PAGE {
                break;
            }
        }
        Ok(all)
    }

    /// One page of GET /users, as the server sent it.
    fn list_page(&self, page: u64, stats: &mut CallStats) -> Result<Vec<Value>, CallError> {
        let path = format!("/users?page={page}&per_page={PAGE_SIZE}");
        let r = self.send(reqwest::Method::GET, &path, None, true, stats)?;
        if r.status != 200 {
            return Err(failure(&r, "GET /users"));
        }
        Ok(match r.json() {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        })
    }

    /// Presence by user id: POST /users/status/ids (api4/status.go getUserStatusesByIds),
    /// which answers in an order of its own and refuses ids that are not 26 characters.
    fn statuses(
        &self,
        ids: &[String],
        stats: &mut CallStats,
    ) -> Result<HashMap<String, String>, CallError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE_SIZE as usize) {
            let body = Value::Array(chunk.iter().map(|i| json!(i)).collect());
            let r = self.send(
                reqwest::Method::POST,
                "/users/status/ids",
                Some(&body),
                true,
                stats,
            )?;
            if r.status != 200 {
                return Err(failure(&r, "POST /users/status/ids"));
            }
            if let Some(Value::Array(a)) = r.json() {
                for v in a {
                    if let (Some(id), Some(st)) = (v["user_id"].as_str(), v["status"].as_str()) {
                        out.insert(id.to_string(), st.to_string());
                    }
                }
            }
        }
        Ok(out)
    }

    fn get_user(&self, path: &str, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        let r = self.send(reqwest::Method::GET, path, None, true, stats)?;
        match r.status {
            200 => Ok(Some(user_from_json(&r.json().unwrap_or(Value::Null)))),
            404 => Ok(None),
            _ => Err(failure(&r, &format!("GET {}", route_name(path)))),
        }
    }
}

impl Mattermost {
    /// One idempotent request about `user` at `/users/{id}/SUFFIX` that `roster do`
    /// sends, so retried: anything but 200 is the failure [`action_failure`] makes of it
    /// (a missing permission or setting stops the run).
    fn user_request(
        &self,
        method: reqwest::Method,
        user: &User,
        suffix: &str,
        body: Option<&Value>,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let id = user.id.as_deref().unwrap_or_default();
        let what = format!("{method} /users/{{id}}/{suffix}");
        let r = self.send(method, &format!("/users/{id}/{suffix}"), body, true, stats)?;
        if r.status != 200 {
            return Err(action_failure(&r, &what));
        }
        Ok(())
    }
}

impl UserApi for Mattermost {
    fn flavor(&self) -> Flavor {
        Flavor::Mattermost
    }

    fn backoff(&self, attempt: u32, stats: &mut CallStats) -> Result<(), CallError> {
        self.http.backoff(attempt, stats)
    }

    fn whoami(&self, stats: &mut CallStats) -> Result<User, CallError> {
        match self.get_user("/users/me", stats)? {
            Some(u) if u.id.is_some() => Ok(u),
            _ => Err(CallError::Fatal(
                "GET /users/me did not return the account".into(),
            )),
        }
    }

    fn lookup(
        &self,
        by: MatchKey,
        key: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        let key = key.trim().to_lowercase();
        let enc = percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let path = match by {
            MatchKey::Username => format!("/users/username/{enc}"),
            MatchKey::Email => format!("/users/email/{enc}"),
        };
        self.get_user(&path, stats)
    }

    fn lookup_id(&self, id: &str, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        let enc =
            percent_encoding::utf8_percent_encode(id.trim(), percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        self.get_user(&format!("/users/{enc}"), stats)
    }

    fn lookup_many(
        &self,
        usernames: &[String],
        stats: &mut CallStats,
    ) -> Option<Result<Vec<User>, CallError>> {
        let names: Vec<String> = usernames.iter().map(|u| u.trim().to_lowercase()).collect();
        let body = json!(names);
        Some(
            self.send(
                reqwest::Method::POST,
                "/users/usernames",
                Some(&body),
                true,
                stats,
            )
            .and_then(|r| {
                if r.status == 200 {
                    Ok(r.json()
                        .and_then(|v| v.as_array().map(|a| a.iter().map(user_from_json).collect()))
                        .unwrap_or_default())
                } else {
                    Err(failure(&r, "POST /users/usernames"))
                }
            }),
        )
    }

    fn create(
        &self,
        user: &User,
        opts: &CreateOptions,
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        let mut body = Map::new();
        body.insert("username".into(), user.username.clone().into());
        body.insert(
            "email".into(),
            user.email.clone().unwrap_or_default().into(),
        );
        for (k, v) in [
            ("first_name", &user.first_name),
            ("last_name", &user.last_name),
            ("nickname", &user.nickname),
            ("position", &user.position),
            ("locale", &user.locale),
        ] {
            if let Some(v) = v {
                body.insert(k.into(), v.clone().into());
            }
        }
        if !user.custom_fields.is_empty() {
            body.insert("props".into(), json!(user.custom_fields));
        }
        match &opts.auth_service {
            Some(service) => {
                // Directory accounts: no password; auth_data is the directory's login id.
                body.insert("auth_service".into(), service.clone().into());
                let data = user
                    .external_id
                    .clone()
                    .unwrap_or_else(|| user.username.clone());
                body.insert("auth_data".into(), data.into());
            }
            None => {
                let password = match (&user.password, opts.random_password) {
                    (Some(p), false) => p.expose().to_string(),
                    _ => super::rocketchat::random_password(),
                };
                body.insert("password".into(), password.into());
            }
        }
        if let Some(v) = user.verified {
            body.insert("email_verified".into(), v.into());
        }
        if let Some(false) = opts.send_welcome_email {
            body.insert("disable_welcome_email".into(), true.into());
        }
        let r = self.send(
            reqwest::Method::POST,
            "/users",
            Some(&Value::Object(body)),
            false,
            stats,
        )?;
        if r.status != 201 && r.status != 200 {
            return Err(failure(&r, "POST /users"));
        }
        let mut created = user_from_json(&r.json().unwrap_or(Value::Null));
        let id = created.id.clone().unwrap_or_default();
        // Roles and a deactivated state cannot be given to POST /users.
        if let Some(roles) = &user.roles {
            let mut want: Vec<String> = roles.clone();
            want.sort();
            let mut have = created.roles.clone().unwrap_or_default();
            have.sort();
            if want != have && !want.is_empty() {
                self.set_roles(&id, roles, stats)
                    .map_err(|e| after_create(&id, "roles were not set", e))?;
                created.roles = Some(roles.clone());
            }
        }
        if user.active == Some(false) {
            self.set_active(&id, false, stats)
                .map_err(|e| after_create(&id, "it was not deactivated", e))?;
            created.active = Some(false);
        }
        Ok(created)
    }

    fn update(
        &self,
        current: &User,
        desired: &User,
        fields: &[Field],
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let mut patch = Map::new();
        let mut props = false;
        let mut out = current.clone();
        for f in fields {
            let text = |v: &Option<String>| Value::from(v.clone().unwrap_or_default());
            match f {
                Field::Username => {
                    patch.insert("username".into(), desired.username.clone().into());
                }
                Field::Email => {
                    patch.insert("email".into(), text(&desired.email));
                }
                Field::FirstName => {
                    patch.insert("first_name".into(), text(&desired.first_name));
                }
                Field::LastName => {
                    patch.insert("last_name".into(), text(&desired.last_name));
                }
                Field::Nickname => {
                    patch.insert("nickname".into(), text(&desired.nickname));
                }
                Field::Position => {
                    patch.insert("position".into(), text(&desired.position));
                }
                Field::Locale => {
                    patch.insert("locale".into(), text(&desired.locale));
                }
                Field::Custom(_) => props = true,
                _ => {}
            }
        }
        if props {
            let mut merged: BTreeMap<String, String> = current.custom_fields.clone();
            merged.extend(desired.custom_fields.clone());
            patch.insert("props".into(), json!(merged));
        }
        if !patch.is_empty() {
            let r = self.send(
                reqwest::Method::PUT,
                &format!("/users/{id}/patch"),
                Some(&Value::Object(patch)),
                true,
                stats,
            )?;
            if r.status != 200 {
                return Err(failure(&r, "PUT /users/{id}/patch"));
            }
            out = user_from_json(&r.json().unwrap_or(Value::Null));
        }
        if fields.contains(&Field::Roles)
            && let Some(roles) = &desired.roles
        {
            self.set_roles(&id, roles, stats)?;
            out.roles = Some(roles.clone());
        }
        if fields.contains(&Field::Active)
            && let Some(a) = desired.active
        {
            self.set_active(&id, a, stats)?;
            out.active = Some(a);
        }
        Ok(out)
    }

    fn deactivate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let r = self.send(
            reqwest::Method::DELETE,
            &format!("/users/{id}"),
            None,
            true,
            stats,
        )?;
        if r.status != 200 {
            return Err(failure(&r, "DELETE /users/{id}"));
        }
        let mut u = current.clone();
        u.active = Some(false);
        Ok(u)
    }

    /// `PUT /users/{id}/active {"active": true}`.
    fn activate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        self.user_request(
            reqwest::Method::PUT,
            current,
            "active",
            Some(&json!({"active": true})),
            stats,
        )?;
        let mut u = current.clone();
        u.active = Some(true);
        Ok(u)
    }

    /// `POST /users/{id}/sessions/revoke/all`: idempotent. Personal access tokens stay.
    fn revoke_sessions(&self, current: &User, stats: &mut CallStats) -> Result<(), CallError> {
        self.user_request(
            reqwest::Method::POST,
            current,
            "sessions/revoke/all",
            None,
            stats,
        )
    }

    /// `DELETE /users/{id}/image`: back to the generated default picture; idempotent.
    fn reset_avatar(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        self.user_request(reqwest::Method::DELETE, user, "image", None, stats)
    }

    /// `PUT /users/{id}/mfa {activate: false}`: clears the secret; no setting or licence
    /// is consulted, and it is idempotent.
    fn reset_mfa(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let body = json!({"activate": false});
        self.user_request(reqwest::Method::PUT, user, "mfa", Some(&body), stats)
    }

    /// `PUT /users/{id}/preferences`, at most 100 items a request (the server's limit);
    /// each request is all or nothing and idempotent.
    fn set_preferences(
        &self,
        user: &User,
        prefs: &super::Preferences,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let items = preference_items(&id, prefs)?;
        for chunk in items.chunks(MAX_PREFERENCES) {
            let body = Value::Array(chunk.to_vec());
            self.user_request(
                reqwest::Method::PUT,
                user,
                "preferences",
                Some(&body),
                stats,
            )?;
        }
        Ok(())
    }

    fn preference_problem(&self, prefs: &super::Preferences) -> Option<String> {
        preference_items("", prefs).err().map(|e| e.to_string())
    }

    /// `PUT /users/{id}/auth {auth_service, auth_data}`: system admins only; the server
    /// blanks the password, so the account signs in through the directory from then on.
    fn set_auth(
        &self,
        user: &User,
        service: &str,
        auth_data: &str,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let body = json!({"auth_service": service, "auth_data": auth_data});
        let r = self.send(
            reqwest::Method::PUT,
            &format!("/users/{id}/auth"),
            Some(&body),
            true,
            stats,
        )?;
        if r.status != 200 {
            let v = r.json().unwrap_or(Value::Null);
            if v["id"].as_str() == Some("app.user.update_auth_data.email_exists.app_error") {
                return Err(CallError::Conflict {
                    field: "auth_data".into(),
                    message: format!(
                        "PUT /users/{{id}}/auth: {}: another account already signs in with auth_data {auth_data:?}",
                        error_text(&r)
                    ),
                });
            }
            return Err(action_failure(&r, "PUT /users/{id}/auth"));
        }
        Ok(())
    }

    /// `POST /users/{id}/convert_to_bot` (manage_system): the server ends the account's
    /// sessions and makes it its own bot's owner. Sent once, as it is not idempotent (a
    /// second one is a 500 on the bot it made): the caller settles a lost answer by
    /// looking the account up.
    fn convert_to_bot(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let id = user.id.as_deref().unwrap_or_default();
        let path = format!("/users/{id}/convert_to_bot");
        let r = self.send(reqwest::Method::POST, &path, None, false, stats)?;
        if r.status != 200 {
            return Err(action_failure(&r, "POST /users/{id}/convert_to_bot"));
        }
        Ok(())
    }

    /// `PUT /users/{id}/status {user_id, status}`: Mattermost has `dnd`, not `busy`, and
    /// no status message outside custom statuses, which roster does not set.
    fn set_status(
        &self,
        user: &User,
        status: &super::StatusChange,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        use super::Presence;
        if status.message.is_some() {
            return Err(CallError::Fatal(
                "set-status --message: Mattermost keeps no status message roster can set (only custom statuses, which roster does not write); drop --message".into(),
            ));
        }
        let id = user.id.clone().unwrap_or_default();
        let s = match status.status {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Busy | Presence::Dnd => "dnd",
            Presence::Offline => "offline",
        };
        let body = json!({"user_id": id, "status": s});
        self.user_request(reqwest::Method::PUT, user, "status", Some(&body), stats)
    }

    /// `PUT /users/{id}/password {new_password}` (the admin path: no current password;
    /// `manage_system` for an admin's, `sysconsole_write_user_management_users` for
    /// others'; roster runs it as a system admin only, who alone is shown the auth_service
    /// [`UserApi::password_elsewhere`] reads). Mattermost has no "change at next login":
    /// `require_change` is refused before any write (roster's options never ask for it
    /// here). The server revokes the user's sessions (TerminateSessionsOnPasswordChange)
    /// and mails the user.
    fn set_password(
        &self,
        user: &User,
        password: &Secret,
        require_change: bool,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        if require_change {
            return Err(CallError::Fatal(
                "Mattermost cannot make a user change a password at the next login".into(),
            ));
        }
        let id = user.id.clone().unwrap_or_default();
        let body = json!({"new_password": password.expose()});
        let what = "PUT /users/{id}/password";
        let r = self.send(
            reqwest::Method::PUT,
            &format!("/users/{id}/password"),
            Some(&body),
            true,
            stats,
        )?;
        if r.status == 200 {
            return Ok(());
        }
        let v = r.json().unwrap_or(Value::Null);
        let code = v["id"].as_str().unwrap_or("");
        if code.starts_with("model.user.is_valid.pwd") {
            return Err(CallError::Fatal(format!(
                "{what}: {}: the server's password policy (PasswordSettings) refuses the passwords roster generates (random, with upper and lower case letters, digits and symbols)",
                error_text(&r)
            )));
        }
        if r.status == 403 {
            return Err(CallError::Fatal(format!(
                "{what}: {}; roster sets Mattermost passwords only as a system admin (manage_system), the one role shown which accounts sign in through LDAP or SSO",
                error_text(&r)
            )));
        }
        Err(failure(&r, what))
    }

    /// `POST /users/password/reset/send {email}`: 200 for any address (even unknown); an
    /// LDAP or SSO account is 400; a server that cannot send mail answers 500
    /// `api.user.send_password_reset.send.app_error`, which stops the run.
    fn send_password_reset(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let what = "POST /users/password/reset/send";
        let body = json!({"email": user.email.clone().unwrap_or_default()});
        let r = match self.send(
            reqwest::Method::POST,
            "/users/password/reset/send",
            Some(&body),
            true,
            stats,
        ) {
            Err(CallError::Transient(m))
                if m.contains("api.user.send_password_reset.send.app_error") =>
            {
                return Err(CallError::Fatal(format!(
                    "{m}: the server could not send the reset mail; an administrator checks its SMTP settings (System Console > Environment > SMTP)"
                )));
            }
            other => other?,
        };
        if r.status == 200 {
            return Ok(());
        }
        Err(failure(&r, what))
    }

    /// An LDAP or SSO account: an admin's password set would turn it into an email one.
    fn password_elsewhere(&self, user: &User) -> Option<String> {
        user.server_auth.as_ref().map(|a| {
            format!(
                "logs in through {a}: its password is not Mattermost's (setting one would turn it into an email-and-password account, and it gets no reset mail); not changed"
            )
        })
    }

    /// `POST /users/{id}/tokens {description}`, sent once: 200 `{id, token, user_id,
    /// description, is_active}`; 501 `app.user_access_token.disabled` while
    /// EnableUserAccessTokens is off stops the run.
    fn create_token(
        &self,
        user: &User,
        request: &super::TokenRequest,
        stats: &mut CallStats,
    ) -> Result<super::NewToken, CallError> {
        let id = user.id.clone().unwrap_or_default();
        let what = "POST /users/{id}/tokens";
        let body = json!({"description": request.description.clone().unwrap_or_default()});
        let r = self.send(
            reqwest::Method::POST,
            &format!("/users/{id}/tokens"),
            Some(&body),
            false,
            stats,
        )?;
        if r.status == 200 || r.status == 201 {
            let v = r.json().unwrap_or(Value::Null);
            return match v["token"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => Ok(super::NewToken {
                    id: v["id"].as_str().map(str::to_string),
                    user_id: v["user_id"].as_str().unwrap_or(&id).to_string(),
                    token: Secret::new(t),
                }),
                None => Err(CallError::Rejected {
                    status: r.status,
                    code: None,
                    message: format!("{what}: answered without a token"),
                }),
            };
        }
        let v = r.json().unwrap_or(Value::Null);
        if v["id"] == "app.user_access_token.disabled" {
            return Err(CallError::Fatal(format!(
                "{what}: {}: the server does not allow personal access tokens; an administrator turns on ServiceSettings.EnableUserAccessTokens (System Console > Integrations > Integration Management > Enable Personal Access Tokens)",
                error_text(&r)
            )));
        }
        if r.status == 403 {
            return Err(CallError::Fatal(format!(
                "{what}: {}; the account roster runs as needs create_user_access_token and edit_other_users (manage_system for an admin's token)",
                error_text(&r)
            )));
        }
        Err(failure(&r, what))
    }

    /// `GET /users/{id}/tokens`, every page: the ids of those described `description`
    /// (the secrets are never listed).
    fn tokens_described(
        &self,
        user: &User,
        description: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Vec<String>>, CallError> {
        const PER_PAGE: usize = 200;
        let id = user.id.clone().unwrap_or_default();
        let mut found = Vec::new();
        for page in 0.. {
            let path = format!("/users/{id}/tokens?page={page}&per_page={PER_PAGE}");
            let r = self.send(reqwest::Method::GET, &path, None, true, stats)?;
            if r.status != 200 {
                return Err(failure(&r, "GET /users/{id}/tokens"));
            }
            let list = r
                .json()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            found.extend(
                list.iter()
                    .filter(|t| t["description"].as_str() == Some(description))
                    .filter_map(|t| t["id"].as_str().map(str::to_string)),
            );
            if list.len() < PER_PAGE {
                break;
            }
        }
        Ok(Some(found))
    }

    /// `DELETE /users/{id}?permanent=true`, sent once (the caller looks a lost answer
    /// up). Needs ServiceSettings.EnableAPIUserDeletion; 404: the account is gone. A 202
    /// (the profile image's folder was not removed) comes after the user is deleted.
    fn delete(
        &self,
        current: &User,
        _confirm_relinquish: bool,
        stats: &mut CallStats,
    ) -> Result<Deleted, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let r = self.send(
            reqwest::Method::DELETE,
            &format!("/users/{id}?permanent=true"),
            None,
            false,
            stats,
        )?;
        match r.status {
            200 | 202 => Ok(Deleted::Now),
            404 => Ok(Deleted::Gone),
            _ => Err(action_failure(&r, "DELETE /users/{id}?permanent=true")),
        }
    }

    fn page_size(&self) -> u64 {
        PAGE_SIZE
    }

    /// `GET /users/stats`: `total_users_count` (active users; deactivated ones are listed
    /// too, so the listing may take a page more than it says).
    /// GET /users/stats/filtered with deactivated users and bots (api4/user.go
    /// getFilteredUsersStats): `GET /users` lists them too, and plain /users/stats counts
    /// active users only, which would make the listing look cheaper than it is.
    fn user_total(&self, stats: &mut CallStats) -> Result<Option<u64>, CallError> {
        let path = "/users/stats/filtered?include_deleted=true&include_bots=true";
        let r = self.send(reqwest::Method::GET, path, None, true, stats)?;
        if r.status != 200 {
            return Err(failure(&r, "GET /users/stats/filtered"));
        }
        Ok(r.json().and_then(|v| v["total_users_count"].as_u64()))
    }

    fn list(&self, page: u64, stats: &mut CallStats) -> Result<Page, CallError> {
        let users: Vec<User> = self
            .list_page(page, stats)?
            .iter()
            .map(user_from_json)
            .collect();
        let more = users.len() as u64 == PAGE_SIZE;
        Ok(Page {
            users,
            more,
            total: None,
        })
    }

    /// GET /users, plus one POST /users/status/ids per page for presence. `create_at`,
    /// `auth_service` and `mfa_active` are on the user object; `last_login` is not
    /// (`User.Sanitize` zeroes it): it comes from [`UserApi::login_report`].
    fn list_accounts(
        &self,
        page: u64,
        want: &Want,
        stats: &mut CallStats,
    ) -> Result<AccountPage, CallError> {
        let docs = self.list_page(page, stats)?;
        let more = docs.len() as u64 == PAGE_SIZE;
        let mut accounts: Vec<Account> = docs
            .iter()
            .map(|d| {
                let user = user_from_json(d);
                let facts = Facts {
                    created_at: d["create_at"].as_i64().filter(|t| *t > 0),
                    // user_from_json leaves email-and-password as None.
                    auth_service: want
                        .auth_service
                        .then(|| user.server_auth.clone().unwrap_or_else(|| "email".into())),
                    mfa_active: want.mfa_active.then_some(user.server_mfa == Some(true)),
                    ..Facts::default()
                };
                Account { user, facts }
            })
            .collect();
        if want.status && !accounts.is_empty() {
            let ids: Vec<String> = accounts
                .iter()
                .filter_map(|a| a.user.id.clone())
                .filter(|id| id.len() == 26)
                .collect();
            let status = self.statuses(&ids, stats)?;
            for a in &mut accounts {
                a.facts.status = a.user.id.as_ref().and_then(|id| status.get(id).cloned());
            }
        }
        Ok(AccountPage { accounts, more })
    }

    fn fact_support(&self, fact: Fact) -> Support {
        let admin = self
            .me
            .as_ref()
            .and_then(|m| m.roles.as_ref())
            .is_some_and(|r| r.iter().any(|r| r == "system_admin"));
        match fact {
            // `SanitizeProfile` blanks auth_service unless the caller is an admin.
            Fact::AuthService if !admin => Support::None(
                "auth_service: Mattermost shows another user's auth_service only to system admins; run as one",
            ),
            _ => Support::Full,
        }
    }

    fn logins_in_listing(&self) -> bool {
        false
    }

    /// `GET /reports/users` (api4/report.go getUsersForReporting): 100 rows a page (its
    /// most), in username order like GET /users, keyset-paged on (username, id); bots
    /// are not in it. It needs sysconsole_read_user_management_users, and exists from
    /// about 9.9.
    fn login_report(
        &self,
        after: Option<&ReportCursor>,
        stats: &mut CallStats,
    ) -> Result<LoginPage, CallError> {
        let mut path =
            format!("/reports/users?page_size={REPORT_PAGE}&sort_column=Username&direction=next");
        if let Some(c) = after {
            path.push_str(&format!(
                "&from_column_value={}&from_id={}",
                enc(&c.value),
                enc(&c.id)
            ));
        }
        let r = self.send(reqwest::Method::GET, &path, None, true, stats)?;
        match r.status {
            200 => {}
            403 => {
                return Err(CallError::Fatal(format!(
                    "GET /reports/users: {}; Mattermost gives last logins only through the System Console's user report: the account roster runs as needs the sysconsole_read_user_management_users permission (a system admin or user manager)",
                    error_text(&r)
                )));
            }
            404 | 405 => {
                return Err(CallError::Fatal(format!(
                    "GET /reports/users: {}; this server has no user report (it came with Mattermost 9.9), the only place Mattermost gives last logins",
                    error_text(&r)
                )));
            }
            _ => return Err(failure(&r, "GET /reports/users")),
        }
        let rows: Vec<Value> = match r.json() {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let next = if rows.len() == REPORT_PAGE {
            rows.last().and_then(|v| {
                Some(ReportCursor {
                    value: v["username"].as_str()?.to_string(),
                    id: v["id"].as_str()?.to_string(),
                })
            })
        } else {
            None
        };
        let rows = rows
            .iter()
            .filter_map(|v| {
                let id = v["id"].as_str()?.to_string();
                // omitempty: absent (0) is never.
                let at = match v["last_login"].as_i64() {
                    Some(t) if t > 0 => LastLogin::At(t),
                    _ => LastLogin::Never,
                };
                let active = v["last_status_at"].as_i64().filter(|t| *t > 0);
                Some((id, at, active))
            })
            .collect();
        Ok(LoginPage { rows, next })
    }

    /// GET /teams/name/{name} (api4/team.go getTeamByName): names are lowercase on the
    /// server, so roster asks in lowercase.
    fn find_team(&self, name: &str, stats: &mut CallStats) -> Result<Option<Group>, CallError> {
        let name = enc(&name.trim().to_lowercase());
        self.find_group(GroupKind::Team, &format!("/teams/name/{name}"), stats)
    }

    /// GET /teams/{team_id}/channels/name/{name} (api4/channel.go getChannelByName).
    fn find_channel(
        &self,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        let Some(team) = team else {
            return Ok(None);
        };
        let path = format!(
            "/teams/{}/channels/name/{}",
            enc(&team.id),
            enc(&name.trim().to_lowercase())
        );
        Ok(self
            .find_group(GroupKind::Channel, &path, stats)?
            .map(|mut g| {
                g.path = format!("{}/{}", team.name, g.name);
                g
            }))
    }

    /// POST /channels (api4/channel.go createChannel): a public channel in `team`, its
    /// display name the name.
    fn create_channel(
        &self,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Group, CallError> {
        let Some(team) = team else {
            return Err(CallError::Rejected {
                status: 0,
                code: None,
                message: format!("channel {name:?}: a Mattermost channel needs a team"),
            });
        };
        let name = name.trim().to_lowercase();
        let body = json!({"team_id": team.id, "name": name, "display_name": name, "type": "O"});
        let r = self.send(
            reqwest::Method::POST,
            "/channels",
            Some(&body),
            false,
            stats,
        )?;
        if r.status != 201 && r.status != 200 {
            return Err(failure(&r, "POST /channels"));
        }
        let mut g = Self::group_from(GroupKind::Channel, &r.json().unwrap_or(Value::Null))
            .ok_or_else(|| CallError::Rejected {
                status: r.status,
                code: None,
                message: "POST /channels: the answer has no channel".into(),
            })?;
        g.path = format!("{}/{}", team.name, g.name);
        Ok(g)
    }

    /// GET /users/{id}/teams (api4/team.go getTeamsForUser): the teams the user is an
    /// active member of.
    fn memberships(&self, user: &User, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        let id = user.id.clone().unwrap_or_default();
        let r = self.send(
            reqwest::Method::GET,
            &format!("/users/{}/teams", enc(&id)),
            None,
            true,
            stats,
        )?;
        if r.status != 200 {
            return Err(action_failure(&r, "GET /users/{id}/teams"));
        }
        Ok(r.json()
            .and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter(|t| t["delete_at"].as_i64().unwrap_or(0) == 0)
                        .filter_map(|t| Self::group_from(GroupKind::Team, t))
                        .collect()
                })
            })
            .unwrap_or_default())
    }

    /// DELETE /teams/{id}/members/{user_id} (a user never in the team: 400, done) and
    /// DELETE /channels/{id}/members/{user_id} (not a member: 404, done).
    fn remove_member(
        &self,
        group: &Group,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let (path, what) = match group.kind {
            GroupKind::Team => (
                format!("/teams/{}/members/{}", enc(&group.id), enc(user_id)),
                "DELETE /teams/{id}/members/{user_id}",
            ),
            GroupKind::Channel => (
                format!("/channels/{}/members/{}", enc(&group.id), enc(user_id)),
                "DELETE /channels/{id}/members/{user_id}",
            ),
        };
        let r = self.send(reqwest::Method::DELETE, &path, None, true, stats)?;
        let id = r.json().and_then(|v| v["id"].as_str().map(str::to_string));
        match (r.status, id.as_deref()) {
            (200, _) => Ok(()),
            (400, Some("api.team.remove_user_from_team.missing.app_error"))
            | (404, Some("app.channel.get_member.missing.app_error")) => Ok(()),
            _ => Err(failure(&r, what)),
        }
    }

    /// GET /teams/{id}/members or /channels/{id}/members, 200 a page until a short one.
    fn member_ids(
        &self,
        group: &Group,
        stats: &mut CallStats,
    ) -> Result<std::collections::HashSet<String>, CallError> {
        let base = match group.kind {
            GroupKind::Team => format!("/teams/{}/members", enc(&group.id)),
            GroupKind::Channel => format!("/channels/{}/members", enc(&group.id)),
        };
        let mut ids = std::collections::HashSet::new();
        for page in 0.. {
            let path = format!("{base}?page={page}&per_page={MEMBERS_PAGE}");
            let r = self.send(reqwest::Method::GET, &path, None, true, stats)?;
            if r.status != 200 {
                return Err(failure(&r, &format!("GET {}", route_name(&base))));
            }
            let v = r.json().unwrap_or(Value::Null);
            let list = v.as_array().cloned().unwrap_or_default();
            ids.extend(
                list.iter()
                    .filter(|m| m["delete_at"].as_i64().unwrap_or(0) == 0)
                    .filter_map(|m| m["user_id"].as_str().map(str::to_string)),
            );
            if list.len() < MEMBERS_PAGE {
                break;
            }
        }
        Ok(ids)
    }

    /// Teams: POST /teams/{id}/members/batch?graceful=true, 256 a call; each entry says
    /// whether its user was added (`model.TeamMemberWithError`). Channels: POST
    /// /channels/{id}/members with `user_ids`, 1000 a call; users the server could not
    /// add are left out of its answer, so each of them is tried alone to learn why
    /// (mattermost-members-and-ops.md §1.3, §2.2).
    fn add_members(
        &self,
        group: &Group,
        user_ids: &[String],
        stats: &mut CallStats,
    ) -> Result<Vec<NotAdded>, CallError> {
        let mut failed = Vec::new();
        match group.kind {
            GroupKind::Team => {
                let path = format!("/teams/{}/members/batch?graceful=true", enc(&group.id));
                for chunk in user_ids.chunks(TEAM_BATCH) {
                    let body: Vec<Value> = chunk
                        .iter()
                        .map(|u| json!({"team_id": group.id, "user_id": u}))
                        .collect();
                    let r = self.send(
                        reqwest::Method::POST,
                        &path,
                        Some(&json!(body)),
                        true,
                        stats,
                    )?;
                    if r.status != 201 && r.status != 200 {
                        return Err(failure(&r, "POST /teams/{id}/members/batch"));
                    }
                    let v = r.json().unwrap_or(Value::Null);
                    for e in v.as_array().into_iter().flatten() {
                        if !e["error"].is_null() {
                            failed.push(NotAdded {
                                user_id: e["user_id"].as_str().unwrap_or_default().to_string(),
                                reason: e["error"]["message"]
                                    .as_str()
                                    .or(e["error"]["id"].as_str())
                                    .unwrap_or("not added")
                                    .to_string(),
                            });
                        }
                    }
                }
            }
            GroupKind::Channel => {
                let path = format!("/channels/{}/members", enc(&group.id));
                for chunk in user_ids.chunks(CHANNEL_BATCH) {
                    let r = self.send(
                        reqwest::Method::POST,
                        &path,
                        Some(&json!({"user_ids": chunk})),
                        true,
                        stats,
                    )?;
                    let added: BTreeSet<String> = match r.status {
                        200 | 201 => {
                            let v = r.json().unwrap_or(Value::Null);
                            let list = match v {
                                Value::Array(a) => a,
                                Value::Null => Vec::new(),
                                one => vec![one],
                            };
                            list.iter()
                                .filter_map(|m| m["user_id"].as_str().map(str::to_string))
                                .collect()
                        }
                        // Nobody could be added (the last error), or a server before
                        // 9.11 that takes one `user_id` only: one by one.
                        _ => BTreeSet::new(),
                    };
                    for u in chunk.iter().filter(|u| !added.contains(*u)) {
                        if let Some(reason) = self.add_one_to_channel(&group.id, u, stats) {
                            failed.push(NotAdded {
                                user_id: u.clone(),
                                reason,
                            });
                        }
                    }
                }
            }
        }
        Ok(failed)
    }

    /// GET /teams (api4/team.go getAllTeams), which lists archived teams too: those
    /// are left out here.
    fn list_teams(&self, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        Ok(self
            .list_all("/teams", stats)?
            .iter()
            .filter(|t| t["delete_at"].as_i64().unwrap_or(0) == 0)
            .filter_map(|t| Self::group_from(GroupKind::Team, t))
            .collect())
    }

    /// Per team, GET /teams/{id}/channels (public; `list_team_channels`) and GET
    /// /teams/{id}/channels/private (`manage_system`): api4/channel.go
    /// getPublicChannelsForTeam and getPrivateChannelsForTeam, both without archived
    /// channels. Paths are `team/channel`: a channel's name is unique only in its team.
    fn list_channels(
        &self,
        teams: &[Group],
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        let mut out = Vec::new();
        for team in teams.iter().filter(|t| t.kind == GroupKind::Team) {
            for listing in ["channels", "channels/private"] {
                let base = format!("/teams/{}/{listing}", enc(&team.id));
                for c in self.list_all(&base, stats)? {
                    if c["delete_at"].as_i64().unwrap_or(0) != 0 {
                        continue;
                    }
                    if let Some(mut g) = Self::group_from(GroupKind::Channel, &c) {
                        g.path = format!("{}/{}", team.name, g.name);
                        out.push(g);
                    }
                }
            }
        }
        Ok(out)
    }

    /// GET /users/{id}/image (api4/user.go getProfileImage). Only for an account with an
    /// uploaded image: for the others the server makes up an initials image.
    fn avatar_image(
        &self,
        user: &User,
        stats: &mut CallStats,
    ) -> Result<Option<Vec<u8>>, CallError> {
        let Some(id) = user.id.as_deref().filter(|_| user.server_avatar) else {
            return Ok(None);
        };
        let r = self.send(
            reqwest::Method::GET,
            &format!("/users/{}/image", enc(id)),
            None,
            true,
            stats,
        )?;
        match r.status {
            200 if !r.image.is_empty() => Ok(Some(r.image)),
            404 => Ok(None),
            _ => Err(failure(&r, "GET /users/{id}/image")),
        }
    }

    /// POST /users/{id}/image, multipart field `image` (api4/user.go setProfileImage).
    /// Mattermost does not fetch URLs: roster hands it the bytes.
    fn set_avatar(
        &self,
        user: &User,
        image: &Image,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let Image::Bytes { data, mime } = image else {
            return Err(CallError::Rejected {
                status: 0,
                code: None,
                message: "Mattermost takes an avatar's bytes, not its URL".into(),
            });
        };
        let id = user.id.as_deref().unwrap_or_default();
        let url = self.http.url(&format!("/api/v4/users/{}/image", enc(id)));
        let what = "POST /users/{id}/image";
        let r = self.http.send(BUCKET, what, true, stats, |c| {
            let part = reqwest::blocking::multipart::Part::bytes(data.to_vec())
                .file_name(format!(
                    "profile.{}",
                    mime.rsplit('/').next().unwrap_or("png")
                ))
                .mime_str(mime)
                .unwrap_or_else(|_| reqwest::blocking::multipart::Part::bytes(data.to_vec()));
            let form = reqwest::blocking::multipart::Form::new().part("image", part);
            c.post(&url)
                .bearer_auth(self.token.expose())
                .multipart(form)
        })?;
        match r.status {
            200 => Ok(()),
            401 => Err(CallError::Fatal(format!(
                "{what}: authentication failed ({})",
                error_text(&r)
            ))),
            _ => Err(failure(&r, what)),
        }
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    /// Mattermost stores usernames and emails lowercased and trimmed, and names roles
    /// `system_*`: the common names (user, admin, guest) are translated.
    ///
    /// Mattermost has no display-name field: a `name` given without first_name and
    /// last_name becomes them, split at the last space ("Jean Paul Sartre" is first
    /// "Jean Paul", last "Sartre"; one word is a first name and empties the last), so
    /// create, diff and patch all see the same first/last and a rename at the source is
    /// an update. When first/last are given, `name` is only their sum and is dropped.
    fn normalize(&self, user: &User) -> User {
        let mut u = user.clone();
        u.username = u.username.trim().to_lowercase();
        u.email = u.email.map(|e| e.trim().to_lowercase());
        u.roles = u.roles.map(|r| roles(&r));
        if u.first_name.is_none()
            && u.last_name.is_none()
            && let Some(name) = u.name.as_deref().map(str::trim).filter(|n| !n.is_empty())
        {
            let (first, last) = match name.rsplit_once(char::is_whitespace) {
                Some((f, l)) => (f.trim().to_string(), l.trim().to_string()),
                None => (name.to_string(), String::new()),
            };
            u.first_name = Some(first);
            u.last_name = Some(last);
        }
        // Not a Mattermost field: carried by first/last (given, or derived above).
        u.name = None;
        u
    }

    fn unsupported(&self, u: &User) -> Vec<&'static str> {
        let mut out = Vec::new();
        if u.require_password_change.is_some() {
            out.push("require_password_change");
        }
        out
    }

    fn protection(&self, user: &User) -> Option<&'static str> {
        let is_me = self
            .me
            .as_ref()
            .is_some_and(|m| m.id.is_some() && m.id == user.id);
        if is_me {
            Some("the account roster runs as")
        } else if user.server_kind.is_some() {
            Some("a bot account")
        } else if user
            .roles
            .as_ref()
            .is_some_and(|r| r.iter().any(|r| r == "system_admin"))
        {
            Some("a system administrator")
        } else {
            None
        }
    }

    fn admin_role(&self) -> &'static str {
        "system_admin"
    }

    fn roles(&self) -> &ServerRoles {
        self.roles.get_or_read(|| self.read_roles())
    }

    fn warnings(&self) -> Vec<String> {
        self.roles.warning().into_iter().collect()
    }
}

/// Role names as Mattermost has them: `user`, `admin` and `guest` become `system_user`,
/// `system_admin` and `system_guest`; every account but a guest keeps `system_user`
/// (the server refuses `system_admin` alone). Other names pass through.
pub fn roles(given: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in given {
        let r = role_name(r);
        if !r.is_empty() && !out.contains(&r) {
            out.push(r);
        }
    }
    if !out.iter().any(|r| r == "system_guest") && !out.iter().any(|r| r == "system_user") {
        out.insert(0, "system_user".to_string());
    }
    out
}

/// One role name as Mattermost has it: `user`, `admin` and `guest` become `system_user`,
/// `system_admin` and `system_guest`; other names pass through, trimmed.
pub fn role_name(given: &str) -> String {
    match given.trim().to_ascii_lowercase().as_str() {
        "user" | "users" => "system_user".to_string(),
        "admin" | "administrator" => "system_admin".to_string(),
        "guest" => "system_guest".to_string(),
        _ => given.trim().to_string(),
    }
}

/// A Mattermost user object → canonical user.
pub fn user_from_json(v: &Value) -> User {
    let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let custom = super::string_map(&v["props"]);
    let kind = if v["is_bot"].as_bool() == Some(true) {
        Some("bot".to_string())
    } else {
        None
    };
    User {
        id: s("id"),
        username: v["username"].as_str().unwrap_or_default().to_string(),
        email: s("email"),
        first_name: s("first_name"),
        last_name: s("last_name"),
        nickname: s("nickname"),
        position: s("position"),
        locale: s("locale"),
        active: v["delete_at"].as_i64().map(|d| d == 0),
        roles: v["roles"]
            .as_str()
            .map(|r| r.split_whitespace().map(str::to_string).collect()),
        verified: v["email_verified"].as_bool(),
        custom_fields: custom,
        external_id: s("auth_data"),
        server_kind: kind,
        // 0 (absent): never set; negative: reset to the generated default.
        server_avatar: v["last_picture_update"].as_i64().is_some_and(|t| t > 0),
        // "" and "email" both mean email and password.
        server_auth: s("auth_service").filter(|a| a != "email"),
        // omitempty: absent is off, for an admin's view.
        server_mfa: Some(v["mfa_active"].as_bool() == Some(true)),
        ..User::default()
    }
}

/// A second call after a create failed: the user exists, say so (a rerun completes it).
fn after_create(id: &str, what: &str, e: CallError) -> CallError {
    let message = format!("user created (id {id}), but {what}: {e}");
    match e {
        CallError::Fatal(_) => CallError::Fatal(message),
        CallError::Transient(_) => CallError::Transient(message),
        CallError::Rejected { status, code, .. } => CallError::Rejected {
            status,
            code,
            message,
        },
        CallError::Conflict { field, .. } => CallError::Conflict { field, message },
        other => other,
    }
}

/// Mattermost's rate-limit headers, in its units: Reset and Retry-After are seconds from
/// now (not epochs). Duplicate headers (token and user checks) → the most restrictive.
pub fn parse_rate(h: &HeaderMap, status: u16, _body: &str) -> RateInfo {
    let all = |name: &str| -> Vec<f64> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .collect()
    };
    let min = |v: Vec<f64>| v.into_iter().reduce(f64::min);
    let max = |v: Vec<f64>| v.into_iter().reduce(f64::max);
    let now = Instant::now();
    let mut info = RateInfo {
        limit: min(all("x-ratelimit-limit")).map(|v| v as u64),
        remaining: min(all("x-ratelimit-remaining")).map(|v| v as u64),
        reset_at: max(all("x-ratelimit-reset")).map(|s| now + Duration::from_secs_f64(s)),
        window: None,
        retry_after: None,
    };
    if status == 429 {
        info.retry_after = Some(
            max(all("retry-after"))
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::from_secs(1)),
        );
    }
    info
}

/// Detects Mattermost: GET /api/v4/system/ping answers `{"status":"OK"}`; a redirect
/// is an error (roster would then talk to a URL other than the one given).
pub fn detect(
    client: &reqwest::blocking::Client,
    base: &str,
    log: Option<&super::request_log::RequestLog>,
) -> Result<bool, String> {
    let url = format!("{}/api/v4/system/ping", base.trim_end_matches('/'));
    match super::http::probe(client, &url, log) {
        Ok(r) if r.status().is_redirection() => {
            let loc = r.headers().get("location").and_then(|v| v.to_str().ok());
            Err(super::http::redirect_error(
                base,
                "GET /api/v4/system/ping",
                loc,
            ))
        }
        Ok(r) if r.status().is_success() => Ok(r
            .json::<Value>()
            .map(|v| {
                v["status"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("ok"))
            })
            .unwrap_or(false)),
        _ => Ok(false),
    }
}

/// `/users/abc.../patch` → `/users/{id}/patch` for messages (no user data in logs).
/// A path segment, percent-encoded.
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn route_name(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .map(|seg| {
            if seg.len() == 26 && seg.chars().all(|c| c.is_ascii_alphanumeric()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn error_text(r: &Reply) -> String {
    match r.json() {
        Some(v) => v["message"]
            .as_str()
            .map(|m| match v["id"].as_str() {
                Some(id) => format!("{m} [{id}]"),
                None => m.to_string(),
            })
            .unwrap_or_else(|| r.body.trim().to_string()),
        None => r.body.trim().chars().take(200).collect(),
    }
}

/// A 401 that names a server setting that is off, not a credential the server refused.
fn setting_off(r: &Reply) -> bool {
    r.json()
        .and_then(|v| v["id"].as_str().map(|id| id.contains("not_enabled")))
        .unwrap_or(false)
}

/// `maxUpdatePreferences`: the most items one `PUT /users/{id}/preferences` takes.
const MAX_PREFERENCES: usize = 100;

/// `Preference` items for a user: `CATEGORY.NAME` keys (`--preferences` objects are
/// flattened to them); values are strings, anything else sent as its JSON text (a theme
/// is a JSON object in a string).
fn preference_items(id: &str, prefs: &super::Preferences) -> Result<Vec<Value>, CallError> {
    let mut items = Vec::with_capacity(prefs.len());
    for (key, value) in prefs {
        let Some((category, name)) = key.split_once('.').filter(|(c, _)| !c.is_empty()) else {
            return Err(CallError::Rejected {
                status: 0,
                code: None,
                message: format!(
                    "preference {key:?}: Mattermost preferences are CATEGORY.NAME (a pref.CATEGORY.NAME column, or {{\"CATEGORY\": {{\"NAME\": \"VALUE\"}}}} in --preferences)"
                ),
            });
        };
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // `CATEGORY.` is the name "" (the theme of every team).
        items.push(json!({"user_id": id, "category": category, "name": name, "value": value}));
    }
    Ok(items)
}

/// The failure of a `roster do` action: a missing permission or a setting that is off
/// refuses every row alike, so it stops the run with one message.
fn action_failure(r: &Reply, what: &str) -> CallError {
    let v = r.json().unwrap_or(Value::Null);
    let id = v["id"].as_str().unwrap_or("");
    let text = format!("{what}: {}", error_text(r));
    if id.starts_with("api.user.delete_user.not_enabled") {
        return CallError::Fatal(format!(
            "{text}: the server does not allow deleting users through the API; an administrator turns on ServiceSettings.EnableAPIUserDeletion (System Console > Experimental > Features > Enable API User Deletion), or use `roster do deactivate`"
        ));
    }
    if r.status == 403 {
        return CallError::Fatal(format!(
            "{text}; the account roster runs as needs the manage_system permission (system admin)"
        ));
    }
    failure(r, what)
}

fn failure(r: &Reply, what: &str) -> CallError {
    let v = r.json().unwrap_or(Value::Null);
    let id = v["id"].as_str().unwrap_or("").to_string();
    let text = format!("{what}: {}", error_text(r));
    if id == "app.user.save.username_exists.app_error" {
        return CallError::Conflict {
            field: "username".into(),
            message: text,
        };
    }
    if id == "app.user.save.email_exists.app_error" {
        return CallError::Conflict {
            field: "email".into(),
            message: text,
        };
    }
    if id.contains("managed_by_ldap") || id.contains("login_provider_attribute_set") {
        return CallError::Rejected {
            status: r.status,
            code: Some(id),
            message: format!(
                "{text}: the account is managed by LDAP/SSO; change it in the directory"
            ),
        };
    }
    match r.status {
        // Anonymous create (signup disabled or not an open server) means the token was
        // not taken; a permission error affects every row alike.
        403 if what.starts_with("POST /users") && !what.contains("usernames") => {
            CallError::Fatal(format!(
                "{text}; the account roster runs as needs the manage_system permission (system admin)"
            ))
        }
        501 => CallError::Fatal(format!(
            "{text}; the token was not accepted or user creation is disabled"
        )),
        403 => CallError::Rejected {
            status: r.status,
            code: Some(id),
            message: text,
        },
        _ => CallError::Rejected {
            status: r.status,
            code: (!id.is_empty()).then_some(id),
            message: text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reset_is_seconds_from_now_and_duplicates_take_the_strictest() {
        let mut h = HeaderMap::new();
        h.append("x-ratelimit-limit", HeaderValue::from_static("101"));
        h.append("x-ratelimit-remaining", HeaderValue::from_static("7"));
        h.append("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.append("x-ratelimit-reset", HeaderValue::from_static("1"));
        h.append("x-ratelimit-reset", HeaderValue::from_static("11"));
        h.append("retry-after", HeaderValue::from_static("1"));
        let i = parse_rate(&h, 429, "limit exceeded\n");
        assert_eq!(i.remaining, Some(0));
        assert_eq!(i.limit, Some(101));
        let reset = i
            .reset_at
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert!(reset > Duration::from_secs(10) && reset <= Duration::from_secs(11));
        assert_eq!(i.retry_after, Some(Duration::from_secs(1)));
    }

    #[test]
    fn role_names_are_translated() {
        let r = |v: &[&str]| roles(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(r(&["user"]), ["system_user"]);
        assert_eq!(r(&["admin"]), ["system_user", "system_admin"]);
        assert_eq!(r(&["user", "admin"]), ["system_user", "system_admin"]);
        assert_eq!(r(&["guest"]), ["system_guest"]);
        assert_eq!(
            r(&["system_user", "custom_role"]),
            ["system_user", "custom_role"]
        );
    }

    #[test]
    fn route_names_hide_ids() {
        assert_eq!(
            route_name("/users/abcdefghijklmnopqrstuvwxyz/patch"),
            "/users/{id}/patch"
        );
        assert_eq!(route_name("/users?page=1"), "/users");
    }
}
