//! Rocket.Chat REST API client (7.x primary, 6.x and 8.x tolerated).
//!
//! Facts it relies on (see the README's server notes):
//! - Auth: `X-User-Id` + `X-Auth-Token`; POST /api/v1/login gives both.
//! - users.update (and users.create on 8.x) require two-factor: `x-2fa-method: password`
//!   and `x-2fa-code` = lowercase SHA-256 hex of the caller's own password.
//! - Rate limits: per route and client IP, fixed windows; `X-RateLimit-Reset` is an
//!   epoch in milliseconds; 429 bodies say "You must wait N seconds"; no Retry-After.
//!   Callers with api-bypass-rate-limit (admins) get no headers at all.
//! - Errors are 400 `{"error":"<reason> [<code>]","errorType":"<code>"}`; conflicts are
//!   400 `error-field-unavailable`, never 409.
//! - customFields keys not defined in the `Accounts_CustomFields` setting are silently
//!   dropped, all of them when it is empty (`validateCustomFields.ts`,
//!   `saveCustomFieldsWithoutValidation.ts` in `apps/meteor/app/lib/server/functions/`).
//!   The setting is public (`apps/meteor/server/settings/accounts.ts`), so it is read
//!   once from GET /api/v1/settings.public and such keys are never sent nor diffed; when
//!   it cannot be read, the keys an answer leaves out are learned and dropped from then on.
//! - Roles: users.create and users.update accept only existing role ids, of any scope
//!   (`validateUserData.ts` in `apps/meteor/app/lib/server/functions/saveUser/` compares
//!   them with `getRoleIds()`); GET /api/v1/roles.list answers every role to any
//!   logged-in user (`apps/meteor/app/api/server/v1/roles.ts`), so a run reads it once.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::auth::Credentials;
use super::http::{Http, Reply};
use super::{
    Account, AccountPage, CallError, CallStats, CreateOptions, Deleted, Fact, Facts, Flavor, Group,
    GroupKind, Image, LastLogin, MatchKey, NotAdded, Page, RoleCache, ServerRoles, Support,
    UserApi, Want,
};
use crate::client::pacer::RateInfo;
use crate::model::{Field, User};
use crate::secret::Secret;

/// users.list's largest page (larger counts are silently clamped by the server).
pub const PAGE_SIZE: u64 = 100;

/// Users per channels.invite / groups.invite / teams.addMembers call: the server sets no
/// limit (rocketchat-members-and-ops.md §1, §2); this keeps one request's body and its
/// sequential work on the server modest.
pub const INVITE_BATCH: usize = 100;

const FIELDS: &[Field] = &[
    Field::Username,
    Field::Email,
    Field::Name,
    Field::Nickname,
    Field::Active,
    Field::Roles,
    Field::Verified,
    Field::RequirePasswordChange,
];

pub struct RocketChat {
    http: Http,
    user_id: String,
    token: Secret,
    /// SHA-256 hex of the caller's password, for the 2FA header.
    two_factor: Option<String>,
    /// Who we are, to never deactivate ourselves.
    pub me: Option<User>,
    /// Keys `Accounts_CustomFields` defines: `Some(None)` when the setting could not be
    /// read. Read on the first user with custom fields.
    kept_custom: OnceLock<Option<BTreeSet<String>>>,
    /// Custom-field keys the server does not keep, met so far (for the warning).
    discarded_custom: Mutex<BTreeSet<String>>,
    /// Usernames (lowercase) users.create called "in use" although users.info, which
    /// is case-sensitive, found neither spelling: looked up ignoring case next time.
    in_use: Mutex<BTreeSet<String>>,
    /// The server's role ids, read on the first row with roles.
    roles: RoleCache,
}

impl RocketChat {
    /// Authenticates (logging in when given a username and password) and checks the
    /// credentials with GET /api/v1/me.
    pub fn connect(http: Http, creds: &Credentials) -> Result<RocketChat, CallError> {
        let two_factor = creds.password().map(|p| sha256_hex(p.expose()));
        let mut stats = CallStats::default();
        let (user_id, token) = match creds {
            Credentials::Token { user_id, token, .. } => {
                (user_id.clone().unwrap_or_default(), token.clone())
            }
            Credentials::Login { username, password } => {
                let body = json!({"user": username, "password": password.expose()});
                let r = http.send("login", "login", true, &mut stats, |c| {
                    c.post(http.url("/api/v1/login")).json(&body)
                })?;
                if r.status == 401 || r.status == 403 {
                    return Err(CallError::Fatal(format!(
                        "login as {username} failed: {} (check ROSTER_USERNAME and the password)",
                        error_text(&r)
                    )));
                }
                let v = r.json().unwrap_or(Value::Null);
                let uid = v["data"]["userId"].as_str();
                let tok = v["data"]["authToken"].as_str();
                match (uid, tok) {
                    (Some(u), Some(t)) if r.status == 200 => (u.to_string(), Secret::new(t)),
                    _ => {
                        return Err(CallError::Fatal(format!(
                            "login as {username} failed: HTTP {}: {}",
                            r.status,
                            error_text(&r)
                        )));
                    }
                }
            }
        };
        let mut rc = RocketChat {
            http,
            user_id,
            token,
            two_factor,
            me: None,
            kept_custom: OnceLock::new(),
            discarded_custom: Mutex::new(BTreeSet::new()),
            in_use: Mutex::new(BTreeSet::new()),
            roles: RoleCache::default(),
        };
        let me = rc.whoami(&mut stats)?;
        rc.me = Some(me);
        Ok(rc)
    }

    fn auth(&self, rb: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        rb.header("X-User-Id", &self.user_id)
            .header("X-Auth-Token", self.token.expose())
    }

    fn with_2fa(&self, rb: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.two_factor {
            Some(code) => rb
                .header("x-2fa-method", "password")
                .header("x-2fa-code", code),
            None => rb,
        }
    }

    fn get(
        &self,
        route: &str,
        query: &[(&str, &str)],
        stats: &mut CallStats,
    ) -> Result<Reply, CallError> {
        let url = self.http.url(&format!("/api/v1/{route}"));
        let r = self.http.send(route, route, true, stats, |c| {
            self.auth(c.get(&url).query(query))
        })?;
        check_common(&r, route, self.two_factor.is_some())?;
        Ok(r)
    }

    fn post(
        &self,
        route: &str,
        body: &Value,
        retry: bool,
        stats: &mut CallStats,
    ) -> Result<Reply, CallError> {
        let url = self.http.url(&format!("/api/v1/{route}"));
        let r = self.http.send(route, route, retry, stats, |c| {
            self.with_2fa(self.auth(c.post(&url).json(body)))
        })?;
        check_common(&r, route, self.two_factor.is_some())?;
        Ok(r)
    }

    /// `users.setActiveStatus {userId, activeStatus}`.
    fn set_active_status(
        &self,
        current: &User,
        active: bool,
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let body = json!({"userId": id, "activeStatus": active});
        let r = self.post("users.setActiveStatus", &body, true, stats)?;
        if r.status == 200 {
            let mut u = current.clone();
            u.active = Some(active);
            return Ok(u);
        }
        Err(rejected(&r, "users.setActiveStatus"))
    }

    /// The keys `Accounts_CustomFields` defines, from the public settings (no
    /// credentials needed, none sent); `None` when the server does not say.
    fn read_kept_custom(&self) -> Option<BTreeSet<String>> {
        let url = self.http.url("/api/v1/settings.public");
        let mut stats = CallStats::default();
        let r = self
            .http
            .send(
                "settings.public",
                "settings.public",
                true,
                &mut stats,
                |c| c.get(&url).query(&[("_id", "Accounts_CustomFields")]),
            )
            .ok()?;
        if r.status != 200 {
            return None;
        }
        let v = r.json()?;
        // Servers that ignore `_id` answer a page of other settings: no conclusion.
        let setting = v["settings"]
            .as_array()?
            .iter()
            .find(|s| s["_id"] == "Accounts_CustomFields")?;
        match &setting["value"] {
            Value::String(text) if text.trim().is_empty() => Some(BTreeSet::new()),
            Value::String(text) => serde_json::from_str::<Value>(text)
                .ok()?
                .as_object()
                .map(|m| m.keys().cloned().collect()),
            _ => None,
        }
    }

    /// The ids of the server's roles (`roles.list`: `{roles: [{_id, name, scope, ...}]}`).
    /// Ids, not names: a user's `roles` hold ids, and a custom role's id is random.
    fn read_roles(&self) -> Result<BTreeSet<String>, CallError> {
        let url = self.http.url("/api/v1/roles.list");
        // The run's listing, not a row's: its requests count in no row's attempts.
        let mut stats = CallStats::default();
        let r = self
            .http
            .send("roles.list", "roles.list", true, &mut stats, |c| {
                self.auth(c.get(&url))
            })?;
        if r.status != 200 {
            return Err(rejected(&r, "roles.list"));
        }
        let v = r.json().unwrap_or(Value::Null);
        let Some(list) = v["roles"].as_array() else {
            return Err(CallError::Rejected {
                status: r.status,
                code: None,
                message: "roles.list: the answer has no list of roles".into(),
            });
        };
        Ok(list
            .iter()
            .filter_map(|role| role["_id"].as_str())
            .map(str::to_string)
            .collect())
    }

    /// A membership request: answered 200, or why not (its own 403 message: the
    /// permissions a membership needs are not a user's).
    fn member_call(
        &self,
        route: &str,
        body: &Value,
        stats: &mut CallStats,
    ) -> Result<Result<(), String>, CallError> {
        let url = self.http.url(&format!("/api/v1/{route}"));
        let r = self.http.send(route, route, true, stats, |c| {
            self.auth(c.post(&url).json(body))
        })?;
        match r.status {
            200 => Ok(Ok(())),
            401 => Err(CallError::Fatal(format!(
                "{route}: authentication failed ({})",
                error_text(&r)
            ))),
            403 => Err(CallError::Fatal(format!(
                "{route}: permission denied ({}); adding users to rooms and teams needs add-user-to-joined-room, add-user-to-any-c-room (public channels), add-user-to-any-p-room (private groups, no role has it by default) and add-team-member",
                error_text(&r)
            ))),
            _ => Ok(Err(format!("{route}: {}", error_text(&r)))),
        }
    }

    /// Every item of an offset-paged listing (`key` in its answer), 100 a page, until
    /// `total` is reached or a page is empty.
    fn paged(
        &self,
        route: &str,
        key: &str,
        extra: &[(&str, &str)],
        stats: &mut CallStats,
    ) -> Result<Vec<Value>, CallError> {
        let mut all = Vec::new();
        loop {
            let off = all.len().to_string();
            let count = PAGE_SIZE.to_string();
            let mut query = vec![("offset", off.as_str()), ("count", count.as_str())];
            query.extend_from_slice(extra);
            let r = self.get(route, &query, stats)?;
            if r.status != 200 {
                return Err(rejected(&r, route));
            }
            let v = r.json().unwrap_or(Value::Null);
            let list = v[key].as_array().cloned().unwrap_or_default();
            let n = list.len();
            all.extend(list);
            if n == 0 || all.len() as u64 >= v["total"].as_u64().unwrap_or(0) {
                break;
            }
        }
        Ok(all)
    }

    /// One page of users.list: its documents, whether more follow, and the total. `extra`
    /// adds `,"key":1` pairs to the projection.
    fn list_page(
        &self,
        page: u64,
        extra: &str,
        stats: &mut CallStats,
    ) -> Result<(Vec<Value>, bool, Option<u64>), CallError> {
        let offset = (page * PAGE_SIZE).to_string();
        let count = PAGE_SIZE.to_string();
        // customFields and the rest are only listed when asked for (`fields`, deprecated
        // but honoured by 6.x-8.x); without them a sync would see changes every night.
        let fields = format!(
            r#"{{"name":1,"username":1,"emails":1,"roles":1,"active":1,"type":1,"nickname":1,"requirePasswordChange":1,"customFields":1,"avatarOrigin":1,"avatarETag":1{extra}}}"#
        );
        let r = self.get(
            "users.list",
            &[
                ("offset", &offset),
                ("count", &count),
                ("fields", &fields),
                ("sort", r#"{"username":1}"#),
            ],
            stats,
        )?;
        if r.status != 200 {
            return Err(rejected(&r, "users.list"));
        }
        let mut v = r.json().unwrap_or(Value::Null);
        let docs = match v.get_mut("users").map(Value::take) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let total = v["total"].as_u64();
        let more = match total {
            Some(t) => (page + 1) * PAGE_SIZE < t,
            None => docs.len() as u64 == PAGE_SIZE,
        };
        Ok((docs, more, total))
    }

    /// A room or team by name: `Ok(None)` on the server's "not found".
    fn find_room(
        &self,
        route: &str,
        query: &[(&str, &str)],
        stats: &mut CallStats,
    ) -> Result<Option<Value>, CallError> {
        let url = self.http.url(&format!("/api/v1/{route}"));
        let r = self.http.send(route, route, true, stats, |c| {
            self.auth(c.get(&url).query(query))
        })?;
        match r.status {
            200 => Ok(r.json()),
            401 | 403 => {
                check_common(&r, route, self.two_factor.is_some())?;
                Err(rejected(&r, route))
            }
            _ => {
                let text = error_text(&r);
                let v = r.json().unwrap_or(Value::Null);
                let code = v["errorType"].as_str().unwrap_or("");
                if code == "error-room-not-found"
                    || text.contains("team-does-not-exist")
                    || text.contains("Team not found")
                    || text.contains("error-room-not-found")
                {
                    Ok(None)
                } else {
                    Err(rejected(&r, route))
                }
            }
        }
    }

    fn kept_custom(&self) -> Option<&BTreeSet<String>> {
        self.kept_custom
            .get_or_init(|| self.read_kept_custom())
            .as_ref()
    }

    fn lock_discarded(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.discarded_custom
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a write that sent `sent`: the keys with a value that the saved user (a
    /// full view, which lists customFields) does not hold were dropped by the server.
    fn learn_discarded(&self, sent: &std::collections::BTreeMap<String, String>, answer: &Value) {
        if sent.is_empty() || answer.get("roles").is_none() {
            return;
        }
        let saved = super::string_map(&answer["customFields"]);
        let mut d = self.lock_discarded();
        for (k, v) in sent {
            if !v.trim().is_empty() && !saved.contains_key(k) {
                d.insert(k.clone());
            }
        }
    }

    /// A user by username ignoring case: users.getStatus goes through
    /// `getUserFromParams` (`findOneByUsernameIgnoringCase`) and answers the id, which
    /// users.info then resolves. Used only after users.create said the name is in use.
    fn lookup_ignoring_case(
        &self,
        username: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        let r = self.get("users.getStatus", &[("username", username)], stats)?;
        if r.status != 200 {
            let text = error_text(&r);
            if r.status == 400 && text.contains("error-invalid-user") {
                return Ok(None);
            }
            return Err(rejected(&r, "users.getStatus"));
        }
        let v = r.json().unwrap_or(Value::Null);
        let Some(id) = v["_id"].as_str().filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let r = self.get("users.info", &[("userId", id)], stats)?;
        if r.status == 200 {
            let v = r.json().unwrap_or(Value::Null);
            return Ok(Some(user_from_json(&v["user"])));
        }
        Err(rejected(&r, "users.info"))
    }

    fn lookup_exact(
        &self,
        by: MatchKey,
        key: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        self.users_info(by.name(), key, stats)
    }

    /// `users.info?PARAM=VALUE`; `Ok(None)` when no user has it.
    fn users_info(
        &self,
        param: &str,
        value: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        let r = self.get("users.info", &[(param, value)], stats)?;
        if r.status == 200 {
            let v = r.json().unwrap_or(Value::Null);
            return Ok(Some(user_from_json(&v["user"])));
        }
        let text = error_text(&r);
        if r.status == 400
            && (text.starts_with("User not found") || text.contains("[error-invalid-user]"))
        {
            return Ok(None);
        }
        Err(rejected(&r, "users.info"))
    }
}

impl UserApi for RocketChat {
    fn flavor(&self) -> Flavor {
        Flavor::Rocketchat
    }

    fn backoff(&self, attempt: u32, stats: &mut CallStats) -> Result<(), CallError> {
        self.http.backoff(attempt, stats)
    }

    fn whoami(&self, stats: &mut CallStats) -> Result<User, CallError> {
        let r = self.get("me", &[], stats)?;
        let v = r.json().unwrap_or(Value::Null);
        if r.status != 200 || v.get("_id").is_none() {
            return Err(CallError::Fatal(format!(
                "GET /api/v1/me: HTTP {}: {}",
                r.status,
                error_text(&r)
            )));
        }
        Ok(user_from_json(&v))
    }

    fn lookup(
        &self,
        by: MatchKey,
        key: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError> {
        let found = self.lookup_exact(by, key, stats)?;
        if found.is_some() || by != MatchKey::Username {
            return Ok(found);
        }
        // users.info matches usernames exactly; servers usually hold them lowercase.
        let lower = key.to_lowercase();
        if key != lower
            && let Some(u) = self.lookup_exact(by, &lower, stats)?
        {
            return Ok(Some(u));
        }
        let in_use = self
            .in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&lower);
        if in_use {
            return self.lookup_ignoring_case(key, stats);
        }
        Ok(None)
    }

    fn lookup_id(&self, id: &str, stats: &mut CallStats) -> Result<Option<User>, CallError> {
        self.users_info("userId", id.trim(), stats)
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
        body.insert("name".into(), user.name.clone().unwrap_or_default().into());
        // The schema requires a password even with setRandomPassword (the server
        // replaces it); a random one never leaves this process otherwise.
        let password = match (&user.password, opts.random_password) {
            (Some(p), false) => p.expose().to_string(),
            _ => random_password(),
        };
        body.insert("password".into(), password.into());
        if opts.random_password {
            body.insert("setRandomPassword".into(), true.into());
        }
        if let Some(n) = &user.nickname {
            body.insert("nickname".into(), n.clone().into());
        }
        if let Some(a) = user.active {
            body.insert("active".into(), a.into());
        }
        if let Some(r) = &user.roles {
            body.insert("roles".into(), r.clone().into());
        }
        if let Some(v) = user.verified {
            body.insert("verified".into(), v.into());
        }
        if let Some(v) = user.require_password_change {
            body.insert("requirePasswordChange".into(), v.into());
        }
        if !user.custom_fields.is_empty() {
            body.insert("customFields".into(), json!(user.custom_fields));
        }
        if let Some(j) = opts.join_default_channels {
            body.insert("joinDefaultChannels".into(), j.into());
        }
        if let Some(s) = opts.send_welcome_email {
            body.insert("sendWelcomeEmail".into(), s.into());
        }
        let r = self.post("users.create", &Value::Object(body), false, stats)?;
        if r.status == 200 {
            let v = r.json().unwrap_or(Value::Null);
            self.learn_discarded(&user.custom_fields, &v["user"]);
            return Ok(user_from_json(&v["user"]));
        }
        let e = conflict_or_rejected(&r, "users.create", user);
        if matches!(&e, CallError::Conflict { field, .. } if field == "username") {
            self.in_use
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.username.trim().to_lowercase());
        }
        Err(e)
    }

    fn update(
        &self,
        current: &User,
        desired: &User,
        fields: &[Field],
        stats: &mut CallStats,
    ) -> Result<User, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let mut data = Map::new();
        let mut custom_changed = false;
        for f in fields {
            match f {
                Field::Username => {
                    data.insert("username".into(), desired.username.clone().into());
                }
                Field::Email => {
                    data.insert(
                        "email".into(),
                        desired.email.clone().unwrap_or_default().into(),
                    );
                }
                Field::Name => {
                    data.insert(
                        "name".into(),
                        desired.name.clone().unwrap_or_default().into(),
                    );
                }
                Field::Nickname => {
                    data.insert(
                        "nickname".into(),
                        desired.nickname.clone().unwrap_or_default().into(),
                    );
                }
                Field::Active => {
                    data.insert("active".into(), desired.active.unwrap_or(true).into());
                }
                Field::Roles => {
                    data.insert(
                        "roles".into(),
                        desired.roles.clone().unwrap_or_default().into(),
                    );
                }
                Field::Verified => {
                    data.insert("verified".into(), desired.verified.unwrap_or(false).into());
                }
                Field::RequirePasswordChange => {
                    data.insert(
                        "requirePasswordChange".into(),
                        desired.require_password_change.unwrap_or(false).into(),
                    );
                }
                Field::Custom(_) => custom_changed = true,
                _ => {}
            }
        }
        if custom_changed {
            // The server replaces the whole object: send the current one with the
            // changes on top, so keys the source does not mention survive.
            let mut merged = current.custom_fields.clone();
            merged.extend(desired.custom_fields.clone());
            data.insert("customFields".into(), json!(merged));
        }
        let body = json!({"userId": id, "data": Value::Object(data)});
        loop {
            let r = self.post("users.update", &body, true, stats)?;
            if r.status == 200 {
                let v = r.json().unwrap_or(Value::Null);
                if custom_changed {
                    self.learn_discarded(&desired.custom_fields, &v["user"]);
                }
                return Ok(user_from_json(&v["user"]));
            }
            // The hard-coded 1-per-60-s limit on name/email/username changes for callers
            // without edit-other-user-info comes back as a Meteor error, not a 429.
            if let Some(wait) = method_rate_limit(&r) {
                stats.rate_limited += 1;
                // Up to 60 s: Ctrl-C must not wait for it (the update was refused, not sent).
                if !crate::interrupt::sleep(wait) {
                    return Err(CallError::Interrupted);
                }
                continue;
            }
            return Err(conflict_or_rejected(&r, "users.update", desired));
        }
    }

    fn deactivate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        self.set_active_status(current, false, stats)
    }

    fn activate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        self.set_active_status(current, true, stats)
    }

    /// `users.logout {userId}` (logout-other-user): empties the user's login tokens, so
    /// every device is logged out (personal access tokens go too). Idempotent.
    fn revoke_sessions(&self, current: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let id = current.id.clone().unwrap_or_default();
        let r = self.post("users.logout", &json!({"userId": id}), true, stats)?;
        if r.status == 200 {
            return Ok(());
        }
        Err(rejected(&r, "users.logout"))
    }

    /// `users.delete {userId, confirmRelinquish}` (delete-user). Sent once: a lost answer
    /// is looked into by the caller. `error-invalid-user`: the account is gone.
    fn delete(
        &self,
        current: &User,
        confirm_relinquish: bool,
        stats: &mut CallStats,
    ) -> Result<Deleted, CallError> {
        let id = current.id.clone().unwrap_or_default();
        let mut body = json!({"userId": id});
        if confirm_relinquish {
            body["confirmRelinquish"] = true.into();
        }
        let r = self.post("users.delete", &body, false, stats)?;
        if r.status == 200 {
            return Ok(Deleted::Now);
        }
        let v = r.json().unwrap_or(Value::Null);
        if v["errorType"] == "error-invalid-user" {
            return Ok(Deleted::Gone);
        }
        if v["errorType"] == "user-last-owner" {
            let rooms = |k: &str| -> Vec<String> {
                v["details"][k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (change, remove) = (rooms("shouldChangeOwner"), rooms("shouldBeRemoved"));
            return Err(CallError::Rejected {
                status: r.status,
                code: Some("user-last-owner".into()),
                message: format!(
                    "users.delete: the user is the last owner of rooms (new owner needed: {}; removed with the user: {}); not deleted: hand them over first, or rerun with --confirm-relinquish",
                    list_or_none(&change),
                    list_or_none(&remove)
                ),
            });
        }
        Err(rejected(&r, "users.delete"))
    }

    fn page_size(&self) -> u64 {
        PAGE_SIZE
    }

    /// users.list's `total`, from a page of one.
    fn user_total(&self, stats: &mut CallStats) -> Result<Option<u64>, CallError> {
        let r = self.get(
            "users.list",
            &[("count", "1"), ("fields", r#"{"username":1}"#)],
            stats,
        )?;
        if r.status != 200 {
            return Err(rejected(&r, "users.list"));
        }
        Ok(r.json().and_then(|v| v["total"].as_u64()))
    }

    fn list(&self, page: u64, stats: &mut CallStats) -> Result<Page, CallError> {
        let (docs, more, total) = self.list_page(page, "", stats)?;
        let users = docs.iter().map(user_from_json).collect();
        Ok(Page { users, more, total })
    }

    /// users.list with the export's facts in the same request: `status` and `lastLogin`
    /// are in its default projection, `createdAt` and `ldap` are asked for by name. The
    /// server strips `createdAt` and `lastLogin` for callers without
    /// view-full-other-user-info (`limitedUserFieldsToExclude`), so a page without them
    /// stops the export rather than report everyone as never logged in.
    fn list_accounts(
        &self,
        page: u64,
        want: &Want,
        stats: &mut CallStats,
    ) -> Result<AccountPage, CallError> {
        let mut extra = String::new();
        if want.last_login || want.created_at {
            extra.push_str(r#","createdAt":1,"lastLogin":1"#);
        }
        if want.status {
            extra.push_str(r#","status":1"#);
        }
        if want.auth_service {
            extra.push_str(r#","ldap":1"#);
        }
        let (docs, more, _) = self.list_page(page, &extra, stats)?;
        let dated = want.last_login || want.created_at;
        if dated && docs.iter().any(|d| d["createdAt"].is_null()) {
            return Err(CallError::Fatal(
                "users.list left out createdAt and lastLogin: the account roster runs as needs the view-full-other-user-info permission (admin) for last_login, created_at and --idle-days".into(),
            ));
        }
        let accounts = docs
            .iter()
            .map(|d| Account {
                user: user_from_json(d),
                facts: Facts {
                    status: want
                        .status
                        .then(|| d["status"].as_str().map(str::to_string))
                        .flatten(),
                    last_login: if !dated {
                        LastLogin::Unknown
                    } else {
                        match date_ms(&d["lastLogin"]) {
                            Some(t) => LastLogin::At(t),
                            None => LastLogin::Never,
                        }
                    },
                    created_at: dated.then(|| date_ms(&d["createdAt"])).flatten(),
                    auth_service: (want.auth_service && d["ldap"].as_bool() == Some(true))
                        .then(|| "ldap".to_string()),
                    mfa_active: None,
                    // Rocket.Chat's lastLogin moves at every resumed session too.
                    last_active: None,
                },
            })
            .collect();
        Ok(AccountPage { accounts, more })
    }

    fn fact_support(&self, fact: Fact) -> Support {
        match fact {
            Fact::Status | Fact::LastLogin | Fact::CreatedAt => Support::Full,
            Fact::AuthService => Support::Partial(
                "auth_service: Rocket.Chat's REST API shows another user's sign-in services only as `ldap: true` (users.list never returns `services`), so auth_service is `ldap` for directory accounts and empty for every other one (password, SAML, OAuth alike)",
            ),
            Fact::MfaActive => Support::None(
                "mfa_active: Rocket.Chat's REST API never shows another user's two-factor settings (they live under `services`, which users.list and users.info leave out for everyone but the user)",
            ),
        }
    }

    /// teams.info?teamName= (teams.ts): exact names.
    fn find_team(&self, name: &str, stats: &mut CallStats) -> Result<Option<Group>, CallError> {
        let Some(v) = self.find_room("teams.info", &[("teamName", name.trim())], stats)? else {
            return Ok(None);
        };
        let t = &v["teamInfo"];
        let found = t["name"].as_str().unwrap_or(name).to_string();
        Ok(t["_id"].as_str().map(|id| Group {
            kind: GroupKind::Team,
            id: id.to_string(),
            path: found.clone(),
            name: found,
            default: false,
            parent: t["roomId"].as_str().map(str::to_string),
            private: t["type"].as_i64() == Some(1),
        }))
    }

    /// rooms.info?roomName= (rooms.ts): any room type, exact names. Rocket.Chat's
    /// channels do not belong to a team's namespace, so `team` is not used.
    fn find_channel(
        &self,
        _team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        let Some(v) = self.find_room("rooms.info", &[("roomName", name.trim())], stats)? else {
            return Ok(None);
        };
        let room = &v["room"];
        let t = room["t"].as_str().unwrap_or("");
        if !matches!(t, "c" | "p") {
            // A direct or livechat room is no channel.
            return Ok(None);
        }
        let found = room["name"].as_str().unwrap_or(name).to_string();
        Ok(room["_id"].as_str().map(|id| Group {
            kind: GroupKind::Channel,
            id: id.to_string(),
            path: found.clone(),
            name: found,
            // Rooms every new user joins (joinDefaultChannels: `default: true`).
            default: room["default"].as_bool() == Some(true),
            parent: room["teamId"].as_str().map(str::to_string),
            private: t == "p",
        }))
    }

    /// channels.members / groups.members / teams.members, 100 a page (active users only:
    /// a deactivated member is invited again, which the server takes as a no-op).
    fn member_ids(
        &self,
        group: &Group,
        stats: &mut CallStats,
    ) -> Result<std::collections::HashSet<String>, CallError> {
        let (route, key) = match (group.kind, group.private) {
            (GroupKind::Team, _) => ("teams.members", "teamId"),
            (GroupKind::Channel, false) => ("channels.members", "roomId"),
            (GroupKind::Channel, true) => ("groups.members", "roomId"),
        };
        let mut ids = std::collections::HashSet::new();
        let mut offset = 0u64;
        loop {
            let off = offset.to_string();
            let count = PAGE_SIZE.to_string();
            let r = self.get(
                route,
                &[(key, &group.id), ("offset", &off), ("count", &count)],
                stats,
            )?;
            if r.status != 200 {
                return Err(rejected(&r, route));
            }
            let v = r.json().unwrap_or(Value::Null);
            let list = v["members"].as_array().cloned().unwrap_or_default();
            ids.extend(list.iter().filter_map(|m| {
                m["_id"]
                    .as_str()
                    .or(m["user"]["_id"].as_str())
                    .map(str::to_string)
            }));
            offset += list.len() as u64;
            let total = v["total"].as_u64().unwrap_or(0);
            if list.is_empty() || offset >= total {
                break;
            }
        }
        Ok(ids)
    }

    /// channels.invite / groups.invite with `userIds`, teams.addMembers with `members`
    /// (an existing member is no error). One failing user fails the request while others
    /// may be in already, so a refused batch is retried one user at a time to learn who.
    fn add_members(
        &self,
        group: &Group,
        user_ids: &[String],
        stats: &mut CallStats,
    ) -> Result<Vec<NotAdded>, CallError> {
        let route = match (group.kind, group.private) {
            (GroupKind::Team, _) => "teams.addMembers",
            (GroupKind::Channel, false) => "channels.invite",
            (GroupKind::Channel, true) => "groups.invite",
        };
        let body = |ids: &[String]| match group.kind {
            GroupKind::Team => json!({
                "teamId": group.id,
                "members": ids.iter().map(|u| json!({"userId": u})).collect::<Vec<_>>(),
            }),
            GroupKind::Channel => json!({"roomId": group.id, "userIds": ids}),
        };
        let mut failed = Vec::new();
        for chunk in user_ids.chunks(INVITE_BATCH) {
            if self.member_call(route, &body(chunk), stats)?.is_ok() {
                continue;
            }
            for u in chunk {
                if let Err(reason) =
                    self.member_call(route, &body(std::slice::from_ref(u)), stats)?
                {
                    failed.push(NotAdded {
                        user_id: u.clone(),
                        reason,
                    });
                }
            }
        }
        Ok(failed)
    }

    /// channels.create {name} (channels.ts): a public channel.
    fn create_channel(
        &self,
        _team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Group, CallError> {
        let route = "channels.create";
        let r = self.post(route, &json!({"name": name.trim()}), false, stats)?;
        if r.status != 200 {
            return Err(rejected(&r, route));
        }
        let v = r.json().unwrap_or(Value::Null);
        let c = &v["channel"];
        let found = c["name"].as_str().unwrap_or(name).to_string();
        c["_id"]
            .as_str()
            .map(|id| Group {
                kind: GroupKind::Channel,
                id: id.to_string(),
                path: found.clone(),
                name: found,
                default: false,
                parent: None,
                private: false,
            })
            .ok_or_else(|| CallError::Rejected {
                status: r.status,
                code: None,
                message: "channels.create: the answer has no channel".into(),
            })
    }

    /// users.info with the user's rooms (`includeUserRooms`; 8.x reads `fields`
    /// `{"userRooms": 1}`: both are sent; needs view-other-user-channels), then each
    /// channel or group by name (rooms.info) for its kind and whether it is a default room.
    fn memberships(&self, user: &User, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        let id = user.id.clone().unwrap_or_default();
        let r = self.get(
            "users.info",
            &[
                ("userId", id.as_str()),
                ("includeUserRooms", "true"),
                ("fields", r#"{"userRooms":1}"#),
            ],
            stats,
        )?;
        if r.status != 200 {
            return Err(rejected(&r, "users.info"));
        }
        let v = r.json().unwrap_or(Value::Null);
        let Some(rooms) = v["user"]["rooms"].as_array() else {
            return Err(CallError::Fatal(
                "users.info: the answer lists no rooms; the account roster runs as needs the view-other-user-channels permission".into(),
            ));
        };
        let mut out = Vec::new();
        for room in rooms {
            if !matches!(room["t"].as_str(), Some("c" | "p")) {
                continue;
            }
            let Some(name) = room["name"].as_str() else {
                continue;
            };
            if let Some(g) = self.find_channel(None, name, stats)? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// teams.removeMember {teamId, userId} (member-does-not-exist: done), channels.kick /
    /// groups.kick {roomId, userId}.
    fn remove_member(
        &self,
        group: &Group,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let (route, body) = match (group.kind, group.private) {
            (GroupKind::Team, _) => (
                "teams.removeMember",
                json!({"teamId": group.id, "userId": user_id}),
            ),
            (GroupKind::Channel, false) => (
                "channels.kick",
                json!({"roomId": group.id, "userId": user_id}),
            ),
            (GroupKind::Channel, true) => (
                "groups.kick",
                json!({"roomId": group.id, "userId": user_id}),
            ),
        };
        match self.member_call(route, &body, stats)? {
            Ok(()) => Ok(()),
            Err(why)
                if why.contains("member-does-not-exist")
                    || why.contains("error-user-not-in-room") =>
            {
                Ok(())
            }
            Err(why) => Err(CallError::Rejected {
                status: 400,
                code: None,
                message: why,
            }),
        }
    }

    /// teams.listAll (teams.ts, `view-all-teams`), 100 a page.
    fn list_teams(&self, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        Ok(self
            .paged("teams.listAll", "teams", &[], stats)?
            .iter()
            .filter_map(|t| {
                let name = t["name"].as_str()?.to_string();
                Some(Group {
                    kind: GroupKind::Team,
                    id: t["_id"].as_str()?.to_string(),
                    path: name.clone(),
                    name,
                    default: false,
                    parent: t["roomId"].as_str().map(str::to_string),
                    private: t["type"].as_i64() == Some(1),
                })
            })
            .collect())
    }

    /// rooms.adminRooms with `types[]` c and p (rooms.ts, `view-room-administration`),
    /// 100 a page; a team's main room stands for the team and is left out, as are
    /// archived rooms (`groups.members` refuses them). `teams` is not needed: a room's
    /// name is unique on the whole server.
    fn list_channels(
        &self,
        _teams: &[Group],
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        let types = [("types[]", "c"), ("types[]", "p")];
        Ok(self
            .paged("rooms.adminRooms", "rooms", &types, stats)?
            .iter()
            .filter(|r| r["teamMain"].as_bool() != Some(true))
            .filter(|r| r["archived"].as_bool() != Some(true))
            .filter_map(|r| {
                let t = r["t"].as_str()?;
                let name = r["name"].as_str()?.to_string();
                matches!(t, "c" | "p").then(|| Group {
                    kind: GroupKind::Channel,
                    id: r["_id"].as_str().unwrap_or_default().to_string(),
                    path: name.clone(),
                    name,
                    default: r["default"].as_bool() == Some(true),
                    parent: r["teamId"].as_str().map(str::to_string),
                    private: t == "p",
                })
            })
            .filter(|g| !g.id.is_empty())
            .collect())
    }

    /// GET /avatar/{username} (the server's avatar route, outside the REST API), for an
    /// account whose avatar is its own (`avatarOrigin`/`avatarETag`); the others are a
    /// generated SVG. The session goes as the `rc_uid`/`rc_token` cookies, which the
    /// route reads when `Accounts_AvatarBlockUnauthenticatedAccess` is on. A redirect
    /// (an external avatar provider) is refused by the HTTP layer, never followed.
    fn avatar_image(
        &self,
        user: &User,
        stats: &mut CallStats,
    ) -> Result<Option<Vec<u8>>, CallError> {
        if !user.server_avatar || user.username.is_empty() {
            return Ok(None);
        }
        let name = percent_encoding::utf8_percent_encode(
            &user.username,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let url = self.http.url(&format!("/avatar/{name}"));
        let route = "avatar";
        let cookie = format!("rc_uid={}; rc_token={}", self.user_id, self.token.expose());
        let r = self
            .http
            .send(route, "GET /avatar/{username}", true, stats, |c| {
                c.get(&url).header(reqwest::header::COOKIE, &cookie)
            })?;
        match r.status {
            200 if !r.image.is_empty() => Ok(Some(r.image)),
            200 | 404 => Ok(None),
            _ => Err(rejected(&r, "GET /avatar/{username}")),
        }
    }

    /// users.setAvatar (users.ts): `avatarUrl` for the server to fetch, or the bytes as
    /// multipart `image` with the `userId` form field.
    fn set_avatar(
        &self,
        user: &User,
        image: &Image,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let route = "users.setAvatar";
        let id = user.id.clone().unwrap_or_default();
        let url = self.http.url(&format!("/api/v1/{route}"));
        let r = match image {
            Image::Url(u) => {
                let body = json!({"avatarUrl": u, "userId": id});
                self.http.send(route, route, true, stats, |c| {
                    self.auth(c.post(&url).json(&body))
                })?
            }
            Image::Bytes { data, mime } => self.http.send(route, route, true, stats, |c| {
                let ext = mime.rsplit('/').next().unwrap_or("png");
                let part = reqwest::blocking::multipart::Part::bytes(data.to_vec())
                    .file_name(format!("avatar.{ext}"))
                    .mime_str(mime)
                    .unwrap_or_else(|_| reqwest::blocking::multipart::Part::bytes(data.to_vec()));
                let form = reqwest::blocking::multipart::Form::new()
                    .text("userId", id.clone())
                    .part("image", part);
                self.auth(c.post(&url).multipart(form))
            })?,
        };
        if r.status == 200 {
            return Ok(());
        }
        check_common(&r, route, self.two_factor.is_some())?;
        Err(rejected(&r, route))
    }

    /// `users.resetAvatar {userId}` (edit-other-user-avatar): back to the initials;
    /// idempotent.
    fn reset_avatar(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let r = self.post("users.resetAvatar", &json!({"userId": id}), true, stats)?;
        if r.status == 200 {
            return Ok(());
        }
        Err(rejected(&r, "users.resetAvatar"))
    }

    /// `users.resetTOTP {userId}` (edit-other-user-totp; two-factor with no remembering):
    /// the server mails the user's verified addresses first, then unsets the TOTP secret
    /// and logs the user out. `{success: true}` for a user without TOTP too.
    fn reset_mfa(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let r = self.post("users.resetTOTP", &json!({"userId": id}), true, stats)?;
        if r.status == 200 {
            return Ok(());
        }
        let v = r.json().unwrap_or(Value::Null);
        let text = format!("users.resetTOTP: {}", error_text(&r));
        let federated = v["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("Federated"));
        match v["errorType"].as_str() {
            Some("error-not-allowed") if !federated => Err(CallError::Fatal(format!(
                "{text}; the account roster runs as needs the edit-other-user-totp permission (admin)"
            ))),
            Some("error-two-factor-not-enabled") => Err(CallError::Fatal(format!(
                "{text}: two-factor authentication is off on this server (Accounts_TwoFactorAuthentication_Enabled), so there is none to reset"
            ))),
            Some("error-email-send-failed") => Err(CallError::Fatal(format!(
                "{text}: the server mails the user before resetting and could not (check its SMTP settings); nothing was reset"
            ))),
            _ => Err(rejected(&r, "users.resetTOTP")),
        }
    }

    /// `users.setPreferences {userId, data}` (edit-other-user-info): merged key by key.
    /// A source column's `true`, `false`, number or JSON array is sent as such (the
    /// server checks each key's type); anything else as text.
    fn set_preferences(
        &self,
        user: &User,
        prefs: &super::Preferences,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let data: serde_json::Map<String, Value> = prefs
            .iter()
            .map(|(k, v)| (k.clone(), typed_preference(v)))
            .collect();
        let r = self.post(
            "users.setPreferences",
            &json!({"userId": id, "data": data}),
            true,
            stats,
        )?;
        if r.status == 200 {
            return Ok(());
        }
        let v = r.json().unwrap_or(Value::Null);
        if v["errorType"] == "error-action-not-allowed" {
            return Err(CallError::Fatal(format!(
                "users.setPreferences: {}; the account roster runs as needs the edit-other-user-info permission (admin)",
                error_text(&r)
            )));
        }
        let mut e = rejected(&r, "users.setPreferences");
        // ajv names no key: say which were sent, so an unknown one is found.
        if let CallError::Rejected { message, .. } = &mut e
            && v["errorType"] == "invalid-params"
        {
            let keys: Vec<&str> = prefs.keys().map(String::as_str).collect();
            message.push_str(&format!(" (keys sent: {})", keys.join(", ")));
        }
        Err(e)
    }

    /// `users.setStatus {userId, status, message?}` (edit-other-user-info): Rocket.Chat
    /// has `busy`, not `dnd`.
    fn set_status(
        &self,
        user: &User,
        status: &super::StatusChange,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        use super::Presence;
        let id = user.id.clone().unwrap_or_default();
        let s = match status.status {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Busy | Presence::Dnd => "busy",
            Presence::Offline => "offline",
        };
        let mut body = json!({"userId": id, "status": s});
        if let Some(m) = &status.message {
            body["message"] = m.clone().into();
        }
        let r = self.post("users.setStatus", &body, true, stats)?;
        if r.status == 200 {
            return Ok(());
        }
        Err(rejected(&r, "users.setStatus"))
    }

    /// `users.update {userId, data: {password, requirePasswordChange}}` (2FA): the server
    /// applies the password only for holders of `edit-other-user-password` and ignores it
    /// silently otherwise (checked before the first row: [`UserApi::missing_permissions`]);
    /// it logs the user out everywhere. A password its policy refuses stops the run.
    fn set_password(
        &self,
        user: &User,
        password: &Secret,
        require_change: bool,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let id = user.id.clone().unwrap_or_default();
        let body = json!({
            "userId": id,
            "data": {"password": password.expose(), "requirePasswordChange": require_change},
        });
        let r = self.post("users.update", &body, true, stats)?;
        if r.status == 200 {
            return Ok(());
        }
        let text = error_text(&r);
        if text.contains("password-policy-not-met") {
            return Err(CallError::Fatal(format!(
                "users.update: {text}: the server's password policy (Accounts > Password Policy) refuses the passwords roster generates (random, with upper and lower case letters, digits and symbols)"
            )));
        }
        let v = r.json().unwrap_or(Value::Null);
        if v["errorType"] == "error-action-not-allowed" {
            return Err(CallError::Fatal(format!(
                "users.update: {text}; the account roster runs as needs edit-other-user-info and edit-other-user-password (admin by default)"
            )));
        }
        Err(rejected(&r, "users.update"))
    }

    /// `users.forgotPassword {email}`: not an authenticated route, so roster sends no
    /// credentials and the server's limiter applies whoever runs roster (10 a minute per
    /// client IP by default). 200 whether or not the address is known or the mail went out.
    fn send_password_reset(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let route = "users.forgotPassword";
        let url = self.http.url(&format!("/api/v1/{route}"));
        let body = json!({"email": user.email.clone().unwrap_or_default()});
        let r = self
            .http
            .send(route, route, true, stats, |c| c.post(&url).json(&body))?;
        if r.status == 200 {
            return Ok(());
        }
        let text = error_text(&r);
        if text == "Password reset is not enabled" {
            return Err(CallError::Fatal(format!(
                "{route}: {text}: an administrator turns on Accounts_PasswordReset (Administration > Settings > Accounts > Password Reset)"
            )));
        }
        Err(rejected(&r, route))
    }

    /// `users.createToken {userId, secret}` (2FA), sent once: a login token, as a login
    /// would make (it has no name, and expires with Accounts_LoginExpiration, 90 days by
    /// default). 8.x needs the server's CREATE_TOKENS_FOR_USERS_SECRET; 7.x ignores it
    /// and needs CREATE_TOKENS_FOR_USERS=true. A refusal stops the run.
    fn create_token(
        &self,
        user: &User,
        request: &super::TokenRequest,
        stats: &mut CallStats,
    ) -> Result<super::NewToken, CallError> {
        let route = "users.createToken";
        let id = user.id.clone().unwrap_or_default();
        let mut body = json!({"userId": id});
        if let Some(secret) = &request.server_secret {
            body["secret"] = secret.expose().into();
        }
        let r = self.post(route, &body, false, stats)?;
        let v = r.json().unwrap_or(Value::Null);
        if r.status == 200 {
            let token = v["data"]["authToken"].as_str().filter(|t| !t.is_empty());
            return match token {
                Some(t) => Ok(super::NewToken {
                    id: None,
                    user_id: v["data"]["userId"].as_str().unwrap_or(&id).to_string(),
                    token: Secret::new(t),
                }),
                None => Err(CallError::Rejected {
                    status: r.status,
                    code: None,
                    message: format!("{route}: answered without a token"),
                }),
            };
        }
        let text = error_text(&r);
        let missing_secret = v["errorType"] == "invalid-params" && text.contains("secret");
        if missing_secret || v["errorType"] == "error-not-authorized" {
            let given = if request.server_secret.is_some() {
                "the secret in ROSTER_CREATE_TOKENS_SECRET is not the server's"
            } else {
                "ROSTER_CREATE_TOKENS_SECRET is not set"
            };
            return Err(CallError::Fatal(format!(
                "{route}: {text}: the server makes tokens for other users only when started with CREATE_TOKENS_FOR_USERS_SECRET (8.x; give roster the same value in ROSTER_CREATE_TOKENS_SECRET) or CREATE_TOKENS_FOR_USERS=true (7.x), and for holders of user-generate-access-token (admin by default); {given}"
            )));
        }
        Err(rejected(&r, route))
    }

    /// `GET permissions.listAll` (any logged-in user): each permission with the roles
    /// holding it, against the roles of the account roster runs as. Empty when the listing
    /// cannot be read (an older server): the run is then not checked.
    fn missing_permissions(
        &self,
        permissions: &[&str],
        stats: &mut CallStats,
    ) -> Result<Vec<String>, CallError> {
        let r = self.get("permissions.listAll", &[], stats)?;
        if r.status != 200 {
            return Ok(Vec::new());
        }
        let v = r.json().unwrap_or(Value::Null);
        let Some(list) = v["update"].as_array() else {
            return Ok(Vec::new());
        };
        let mine: Vec<String> = self
            .me
            .as_ref()
            .and_then(|m| m.roles.clone())
            .unwrap_or_default();
        let missing = permissions
            .iter()
            .filter(|p| {
                list.iter().find(|e| e["_id"] == **p).is_some_and(|e| {
                    !e["roles"].as_array().is_some_and(|rs| {
                        rs.iter()
                            .any(|r| r.as_str().is_some_and(|r| mine.iter().any(|m| m == r)))
                    })
                })
            })
            .map(|p| p.to_string())
            .collect();
        Ok(missing)
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    /// Rocket.Chat has one display name: first_name/last_name are carried by `name`
    /// (the default mapping builds it from them), or become it when no name is given.
    fn normalize(&self, user: &User) -> User {
        let mut u = user.clone();
        if u.name.is_none() && (u.first_name.is_some() || u.last_name.is_some()) {
            let parts = [u.first_name.as_deref(), u.last_name.as_deref()];
            let joined: Vec<&str> = parts
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if !joined.is_empty() {
                u.name = Some(joined.join(" "));
            }
        }
        u.first_name = None;
        u.last_name = None;
        if !u.custom_fields.is_empty() {
            // Keys the server would drop are neither sent nor compared: otherwise every
            // run would rewrite them.
            let kept = self.kept_custom();
            let mut discarded = self.lock_discarded();
            u.custom_fields.retain(|k, _| match kept {
                Some(kept) if !kept.contains(k) => {
                    discarded.insert(k.clone());
                    false
                }
                _ => !discarded.contains(k),
            });
        }
        u
    }

    fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .lock_discarded()
            .iter()
            .map(|k| {
                format!(
                    "custom field '{k}' is not kept by the server (no Accounts_CustomFields entry); roster stops sending it"
                )
            })
            .collect();
        out.extend(self.roles.warning());
        out
    }

    fn unsupported(&self, u: &User) -> Vec<&'static str> {
        let mut out = Vec::new();
        // external_id is roster's own key (Mattermost auth_data), not a server field.
        for (set, name) in [
            (u.position.is_some(), "position"),
            (u.locale.is_some(), "locale"),
        ] {
            if set {
                out.push(name);
            }
        }
        out
    }

    fn protection(&self, user: &User) -> Option<&'static str> {
        let is_me = self
            .me
            .as_ref()
            .is_some_and(|m| m.id.is_some() && m.id == user.id);
        let has = |name: &str| {
            user.roles
                .as_ref()
                .is_some_and(|r| r.iter().any(|r| r == name))
        };
        if is_me {
            Some("the account roster runs as")
        } else if has("admin") {
            Some("an administrator")
        } else if has("bot") || has("app") || user.server_kind.is_some() {
            Some("a bot or app account")
        } else {
            None
        }
    }

    fn admin_role(&self) -> &'static str {
        "admin"
    }

    fn roles(&self) -> &ServerRoles {
        self.roles.get_or_read(|| self.read_roles())
    }
}

/// A Rocket.Chat user document → canonical user.
pub fn user_from_json(v: &Value) -> User {
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let email = v["emails"].as_array().and_then(|a| a.first());
    let custom = super::string_map(&v["customFields"]);
    User {
        id: s("_id"),
        username: s("username").unwrap_or_default(),
        email: email
            .and_then(|e| e["address"].as_str())
            .map(str::to_string),
        name: s("name"),
        nickname: s("nickname"),
        active: v["active"].as_bool(),
        roles: v["roles"].as_array().map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        }),
        verified: email.and_then(|e| e["verified"].as_bool()),
        require_password_change: v["requirePasswordChange"].as_bool(),
        custom_fields: custom,
        // Set only by users.setAvatar (`rest`, `url`); reset unsets both.
        server_avatar: v["avatarOrigin"].is_string() || v["avatarETag"].is_string(),
        // Bots and apps are recognisable by `type`.
        server_kind: v["type"]
            .as_str()
            .filter(|t| *t != "user")
            .map(str::to_string),
        ..User::default()
    }
}

/// A date as Rocket.Chat's REST answers give it (an ISO-8601 string; EJSON `{"$date":
/// ms}` in older answers), in milliseconds since the epoch.
fn date_ms(v: &Value) -> Option<i64> {
    if let Some(ms) = v["$date"].as_i64().or_else(|| v.as_i64()) {
        return Some(ms);
    }
    let t = humantime::parse_rfc3339_weak(v.as_str()?.trim()).ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Rocket.Chat's rate-limit headers: `X-RateLimit-Reset` is an epoch in ms. The
/// server's clock may differ from ours: the Date header corrects skews larger than
/// its one-second resolution.
pub fn parse_rate(h: &HeaderMap, status: u16, body: &str) -> RateInfo {
    let num = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
    };
    let mut info = RateInfo {
        limit: num("x-ratelimit-limit")
            .filter(|v| v.is_finite())
            .map(|v| v as u64),
        remaining: num("x-ratelimit-remaining")
            .filter(|v| v.is_finite())
            .map(|v| v.max(0.0) as u64),
        ..RateInfo::default()
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    if let Some(reset_ms) = num("x-ratelimit-reset")
        .filter(|v| v.is_finite())
        .map(|v| v as i64)
    {
        let server_now = h
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64);
        let skew = match server_now {
            Some(s) if (s - now_ms).abs() > 2000 => s - now_ms,
            _ => 0,
        };
        let wait_ms = (reset_ms - (now_ms + skew)).clamp(0, 24 * 3600 * 1000) as u64;
        info.reset_at = Some(Instant::now() + Duration::from_millis(wait_ms));
        info.window = Some(reset_ms as u64);
    }
    if status == 429 {
        info.retry_after = match info.reset_at {
            Some(r) => Some(r.saturating_duration_since(Instant::now())),
            None => wait_seconds(body).map(Duration::from_secs),
        };
    }
    info
}

/// "You must wait N seconds" in a rate-limit error.
fn wait_seconds(body: &str) -> Option<u64> {
    let i = body.find("must wait ")?;
    let rest = &body[i + "must wait ".len()..];
    let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    n.parse().ok()
}

fn method_rate_limit(r: &Reply) -> Option<Duration> {
    if r.status != 400 || !r.body.contains("too-many-requests") {
        return None;
    }
    Some(
        Duration::from_secs(wait_seconds(&r.body).unwrap_or(60).clamp(1, 120))
            + Duration::from_millis(100),
    )
}

/// The `error` text of an answer (never the request).
pub fn error_text(r: &Reply) -> String {
    match r.json() {
        Some(v) => v["error"]
            .as_str()
            .map(str::to_string)
            .or_else(|| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| truncate(&r.body)),
        None => truncate(&r.body),
    }
}

fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// Answers that mean the run cannot go on, whatever the row.
/// The permissions a route needs, for the message of a 403 (which stops the run).
fn permissions_for(route: &str) -> &'static str {
    match route {
        "users.logout" => "the logout-other-user permission (admin by default)",
        "users.delete" => "the delete-user permission (admin by default)",
        "users.setAvatar" | "users.resetAvatar" => {
            "the edit-other-user-avatar permission (admin by default)"
        }
        "users.setStatus" | "users.setPreferences" => {
            "the edit-other-user-info permission (admin by default)"
        }
        _ => {
            "the create-user, edit-other-user-info, edit-other-user-active-status and view-full-other-user-info permissions"
        }
    }
}

fn check_common(r: &Reply, route: &str, have_password: bool) -> Result<(), CallError> {
    match r.status {
        401 => Err(CallError::Fatal(format!(
            "{route}: authentication failed ({}); check ROSTER_USER_ID/ROSTER_TOKEN or ROSTER_USERNAME/ROSTER_PASSWORD",
            error_text(r)
        ))),
        403 => Err(CallError::Fatal(format!(
            "{route}: permission denied ({}); the account roster runs as needs {}",
            error_text(r),
            permissions_for(route)
        ))),
        400 => {
            let v = r.json().unwrap_or(Value::Null);
            let code = v["errorType"].as_str().unwrap_or("");
            if code == "totp-required" {
                return Err(CallError::Fatal(if have_password {
                    format!(
                        "{route}: the server asks for a two-factor code ({}); the password-based code was not accepted, so the account probably has TOTP or email 2FA: use a personal access token created with bypassTwoFactor",
                        error_text(r)
                    )
                } else {
                    format!(
                        "{route}: the server requires two-factor authentication ({}). Give the account's password too (ROSTER_PASSWORD or --password-file) so roster can answer it, or use a personal access token created with bypassTwoFactor",
                        error_text(r)
                    )
                }));
            }
            if code == "totp-invalid" || code == "totp-max-attempts" {
                return Err(CallError::Fatal(format!(
                    "{route}: two-factor check failed ({}); the password given does not match the account roster runs as",
                    error_text(r)
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// A preference as users.setPreferences types it: text that reads as a JSON boolean,
/// number or array (a CSV cell) is sent as that.
fn typed_preference(v: &Value) -> Value {
    if let Value::String(s) = v {
        let t = s.trim();
        let looks_typed = matches!(t, "true" | "false")
            || t.starts_with('[')
            || t.parse::<f64>().is_ok_and(f64::is_finite);
        if looks_typed && let Ok(parsed) = serde_json::from_str::<Value>(t) {
            return parsed;
        }
    }
    v.clone()
}

fn rejected(r: &Reply, route: &str) -> CallError {
    let v = r.json().unwrap_or(Value::Null);
    CallError::Rejected {
        status: r.status,
        code: v["errorType"].as_str().map(str::to_string),
        message: format!("{route}: {}", error_text(r)),
    }
}

fn conflict_or_rejected(r: &Reply, route: &str, user: &User) -> CallError {
    let v = r.json().unwrap_or(Value::Null);
    if v["errorType"].as_str() == Some("error-field-unavailable") {
        let taken = v["details"]["field"].as_str().unwrap_or("").to_lowercase();
        let is_email = user
            .email
            .as_ref()
            .is_some_and(|e| e.to_lowercase() == taken)
            || taken.contains('@');
        return CallError::Conflict {
            field: if is_email { "email" } else { "username" }.to_string(),
            message: format!("{route}: {}", error_text(r)),
        };
    }
    rejected(r, route)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A throwaway password for creates that need one (never shown, never stored).
pub fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=";
    let mut rng = rand::rng();
    let mut s: String = (0..24)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    // Satisfy common password policies: one of each class.
    s.push_str("aA7!");
    s
}

/// True when `GET /api/info` answers like Rocket.Chat; a redirect is an error (roster
/// would then talk to a URL other than the one given).
pub fn detect(
    client: &reqwest::blocking::Client,
    base: &str,
    log: Option<&super::request_log::RequestLog>,
) -> Result<bool, String> {
    let url = format!("{}/api/info", base.trim_end_matches('/'));
    match super::http::probe(client, &url, log) {
        Ok(r) if r.status().is_redirection() => {
            let loc = r.headers().get("location").and_then(|v| v.to_str().ok());
            Err(super::http::redirect_error(base, "GET /api/info", loc))
        }
        Ok(r) if r.status().is_success() => Ok(r
            .json::<Value>()
            .map(|v| v.get("version").is_some() || v["success"].as_bool() == Some(true))
            .unwrap_or(false)),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// A client that never connects (nothing here sends a request).
    fn offline_client() -> RocketChat {
        let opts = super::super::http::HttpOptions::default();
        let pacer = std::sync::Arc::new(crate::client::pacer::Pacer::new(
            crate::client::pacer::Limiter::FixedWindow,
            None,
        ));
        let http = Http::new(
            "http://127.0.0.1:9",
            super::super::http::client(&opts).unwrap(),
            pacer,
            parse_rate,
            1,
        )
        .unwrap();
        RocketChat {
            http,
            user_id: "u1".into(),
            token: Secret::new("t"),
            two_factor: None,
            me: None,
            kept_custom: OnceLock::new(),
            discarded_custom: Mutex::new(BTreeSet::new()),
            in_use: Mutex::new(BTreeSet::new()),
            roles: RoleCache::default(),
        }
    }

    #[test]
    fn custom_keys_a_saved_user_lacks_are_dropped_when_the_setting_is_unreadable() {
        let rc = offline_client();
        // As when GET settings.public did not say.
        rc.kept_custom.set(None).unwrap();
        let mut u = User {
            username: "anna".into(),
            ..User::default()
        };
        u.custom_fields.insert("dept".into(), "R&D".into());
        u.custom_fields.insert("floor".into(), "3".into());
        assert_eq!(rc.normalize(&u).custom_fields.len(), 2, "nothing known yet");
        // A limited view (no roles, no customFields) proves nothing.
        rc.learn_discarded(&u.custom_fields, &json!({"_id": "x", "username": "anna"}));
        assert_eq!(rc.normalize(&u).custom_fields.len(), 2);
        assert!(rc.warnings().is_empty());
        // The saved user kept floor only.
        rc.learn_discarded(
            &u.custom_fields,
            &json!({"_id": "x", "roles": ["user"], "customFields": {"floor": "3"}}),
        );
        let n = rc.normalize(&u);
        assert_eq!(n.custom_fields.keys().collect::<Vec<_>>(), ["floor"]);
        let w = rc.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("'dept'"), "{w:?}");
    }

    #[test]
    fn reset_is_epoch_milliseconds() {
        let mut h = HeaderMap::new();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now_ms + 5000).to_string()).unwrap(),
        );
        let i = parse_rate(&h, 429, "");
        let wait = i.retry_after.unwrap();
        assert!(
            wait > Duration::from_millis(4800) && wait <= Duration::from_millis(5000),
            "{wait:?}"
        );
        assert_eq!(i.remaining, Some(0));
        assert_eq!(i.window, Some(now_ms + 5000));
    }

    #[test]
    fn skewed_server_clock_is_corrected() {
        let mut h = HeaderMap::new();
        let server_now = SystemTime::now() + Duration::from_secs(3600);
        let reset = server_now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64 + 10_000;
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        h.insert(
            "date",
            HeaderValue::from_str(&httpdate::fmt_http_date(server_now)).unwrap(),
        );
        let i = parse_rate(&h, 200, "");
        let wait = i
            .reset_at
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert!(
            wait > Duration::from_secs(8) && wait <= Duration::from_secs(11),
            "{wait:?}"
        );
    }

    #[test]
    fn body_gives_the_wait_when_headers_do_not() {
        let body = r#"{"success":false,"error":"Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}"#;
        assert_eq!(
            parse_rate(&HeaderMap::new(), 429, body).retry_after,
            Some(Duration::from_secs(42))
        );
    }

    #[test]
    fn two_factor_code_is_sha256_hex() {
        assert_eq!(
            sha256_hex("password"),
            "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        );
    }
}
