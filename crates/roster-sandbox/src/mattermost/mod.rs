//! The Mattermost flavor (server 10.11, Enterprise licence with AD/LDAP), after
//! /work/shared/docs/mattermost-api.md. Where that sheet and the API reference differ, the
//! sheet (the server's code) is followed.
//!
//! Request pipeline, in the real server's order:
//! 1. the global rate limiter (`RateLimitSettings.Enable`, off by default) wraps the whole
//!    router: every request counts, before authentication; a refusal is a plain-text 429
//!    WITHOUT `X-Request-Id`, because the API handler never runs;
//! 2. `Handler.ServeHTTP`: `X-Request-Id`, `X-Version-Id`, `Content-Type: application/json`
//!    (and `Expires: 0` on GET), then the token (MMAUTHTOKEN cookie, then `Authorization:
//!    Bearer`, then `Authorization: Token`, then `?access_token=`), the session, the per-user
//!    rate-limit check (only with VaryByUser), the CSRF check for cookie sessions, the
//!    session requirement, and the handler;
//! 3. errors are `AppError` JSON with `detailed_error` wiped (EnableDeveloper is off).
//!
//! Seeded accounts: `admin` and `importer` are both system admins (`system_user
//! system_admin`). Creating users through the admin path of `POST /users` needs
//! `manage_system`, which no other built-in role holds, so a provisioning account has to
//! be a system admin. Mattermost has no rate-limit exemption: when the limiter is on it
//! applies to both (`admin_bypass` is a Rocket.Chat setting).
//!
//! Configuration emulated: signup by email and user creation on, open server off (anonymous
//! `POST /users` is 403 `api.user.create_user.no_open_server`; `mm_open_server` turns it
//! on), ShowEmailAddress/ShowFullName on, EnableUserDeactivation off, EnableAPIUserDeletion
//! off (`mm_enable_api_user_deletion`), MaximumLoginAttempts 10, web sessions of 720 hours,
//! password policy at its defaults (8 to 72 bytes, no character classes), AD/LDAP licensed
//! and configured with every profile attribute mapped (so LDAP-managed users get the 409
//! provider-attribute errors) but no directory to log in against.
//!
//! Sessions and deletion (`roster do`; `server/channels/api4/user.go`, the shared
//! mattermost-members-and-ops notes §4 and §12): `GET /users/{id}/sessions` lists a user's
//! sessions with tokens blanked; `POST /users/{id}/sessions/revoke/all` (self or admin,
//! else 403) deletes them all, as deactivation does; `DELETE /users/{id}?permanent=true`
//! answers 401 `api.user.delete_user.not_enabled.app_error` while EnableAPIUserDeletion is
//! off, and otherwise removes the user with its sessions, memberships and picture.
//!
//! What `roster export` reads beyond the listing (the shared mattermost-members-and-ops
//! notes §10 and §13): `POST /users/status/ids` (`status.rs`) and the System Console's
//! user report `GET /reports/users` (`reports.rs`, `server/channels/api4/report.go`,
//! `server/public/model/report.go`, `server/channels/store/sqlstore/user_store.go`), the
//! only route that shows `last_login`, which every login sets to its session's
//! `create_at` (`App.DoLogin` → `UpdateLastLogin`) and `User.Sanitize` zeroes everywhere
//! else. Users carry `mfa_active` (shown when on: no sanitize step clears it) and
//! `is_bot`; a bot cannot log in (`api.user.login.bot_login_forbidden.app_error`). Both
//! routes sit behind the one global rate limiter, like every other.
//!
//! Passwords and access tokens (`roster do reset-password`, `create-token`): `PUT
//! /users/{id}/password`, `POST /users/password/reset/send`, `POST`/`GET
//! /users/{id}/tokens` and logging in with an access token, with EnableUserAccessTokens
//! (`mm_enable_user_access_tokens`, off by default as on the server), the password policy's
//! MinimumLength (`mm_password_minimum_length`) and a mail server (`smtp`): see
//! [`secrets`].

mod account;
mod decode;
pub mod limiter;
mod picture;
mod reports;
mod roles;
mod secrets;
mod status;
mod store;
mod teams;
mod users;
mod validate;

pub use crate::clock::ManualClock;

use std::collections::HashSet;
use std::io;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::Rng;
use serde_json::{Value, json};

use super::http::{Request, Response};
use super::util::{self, IdGen};
use super::{Flavor, Mail, SandboxConfig, SeedUser};
use crate::clock::Clock;
use limiter::Gcra;
use roster_secret::Secret;
use store::{MmUser, Session, Store, StringMap};
use validate::PasswordPolicy;

/// `ServiceSettings.SessionLengthWebInHours` = 720.
const SESSION_LENGTH_MS: i64 = 720 * 3600 * 1000;
/// `ServiceSettings.MaximumLoginAttempts`.
const MAX_LOGIN_ATTEMPTS: i64 = 10;
/// `model.NewId`'s base32 alphabet.
pub(crate) const ID_ALPHABET: &[u8] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
/// An unpredictable 26-character id (session tokens, request ids): never seeded.
pub(crate) fn random_id() -> String {
    let mut rng = rand::rng();
    (0..26)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Fixed settings of this server.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    vary_by_remote_addr: bool,
    vary_by_user: bool,
    vary_by_header: Option<String>,
    enable_api_user_deletion: bool,
    open_server: bool,
    ldap_users: HashSet<String>,
    version: String,
    bcrypt_cost: u32,
    password: PasswordPolicy,
    max_users_per_team: u32,
    /// `ServiceSettings.EnableUserAccessTokens`.
    enable_user_access_tokens: bool,
    /// The server can send mail.
    smtp: bool,
    /// Permissions granted to roles beyond their defaults: (role, permission).
    role_permissions: Vec<(String, String)>,
}

/// A `model.AppError` before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppErr {
    pub id: String,
    pub status: u16,
    /// `{{.Name}}` of the invalid-parameter messages, or another template value.
    pub param: Option<String>,
}

impl AppErr {
    pub fn new(id: &str, status: u16) -> Self {
        AppErr {
            id: id.to_string(),
            status,
            param: None,
        }
    }

    /// `c.SetInvalidParam(name)`.
    pub fn invalid_body(name: &str) -> Self {
        AppErr {
            param: Some(name.to_string()),
            ..AppErr::new("api.context.invalid_body_param.app_error", 400)
        }
    }

    /// `c.SetInvalidURLParam(name)`.
    pub fn invalid_url(name: &str) -> Self {
        AppErr {
            param: Some(name.to_string()),
            ..AppErr::new("api.context.invalid_url_param.app_error", 400)
        }
    }

    /// `c.SetPermissionError(...)`.
    pub fn permission() -> Self {
        AppErr::new("api.context.permissions.app_error", 403)
    }

    pub fn session_expired() -> Self {
        AppErr::new("api.context.session_expired.app_error", 401)
    }

    /// `model.user.is_valid.<field>.app_error`, 400 (`InvalidUserError`).
    pub fn invalid_user(field: &str) -> Self {
        AppErr::new(&format!("model.user.is_valid.{field}.app_error"), 400)
    }

    fn message(&self) -> String {
        let p = self.param.as_deref().unwrap_or("");
        // English texts of server/i18n/en.json as far as known (the sheet marks them
        // unconfirmed); an id without a text is shown as itself, as Translate does.
        let text = match self.id.as_str() {
            "api.context.session_expired.app_error" => {
                "Invalid or expired session, please login again."
            }
            "api.context.token_provided.app_error" => {
                "Session is not OAuth but token was provided in the query string."
            }
            "api.context.invalid_body_param.app_error" => {
                return format!("Invalid or missing {p} in request body.");
            }
            "api.context.invalid_url_param.app_error" => {
                return format!("Invalid or missing {p} parameter in request URL.");
            }
            "api.context.permissions.app_error" => "You do not have the appropriate permissions.",
            "api.context.404.app_error" => "Sorry, we could not find the page.",
            "api.user.login.invalid_credentials_email_username" => {
                "Enter a valid email or username and/or password."
            }
            "api.user.login.blank_pwd.app_error" => "Password field must not be blank",
            "api.user.login.inactive.app_error" => {
                "Login failed because your account has been deactivated. Please contact an administrator."
            }
            "api.user.check_user_login_attempts.too_many.app_error" => {
                "Your account is locked because of too many failed password attempts. Please reset your password."
            }
            "api.user.check_user_password.invalid.app_error" => {
                "Login failed because of invalid password"
            }
            "api.user.create_user.no_open_server" => {
                "This server does not allow open signups. Please speak with your Administrator to receive an invitation."
            }
            "api.user.create_user.signup_email_disabled.app_error" => {
                "User sign-up with email is disabled."
            }
            "app.user.save.existing.app_error" => "Must call update for existing user.",
            "app.user.save.email_exists.app_error" => "An account with that email already exists.",
            "app.user.save.username_exists.app_error" => {
                "An account with that username already exists."
            }
            "app.user.missing_account.const" => "Unable to find the user.",
            "app.user.get_by_username.app_error" => {
                "Unable to find an existing account matching your username for this team. This team may require an invite from the team owner to join."
            }
            "app.user.update.find.app_error" => "Unable to find the existing account to update.",
            "app.user.update.lastAdmin.app_error" => "You cannot demote the last system admin.",
            "app.role.check_roles_exist.role_not_found" => "The provided role does not exist",
            "api.user.update_active.permissions.app_error" => {
                "You do not have the appropriate permissions."
            }
            "api.user.update_active.not_enable.app_error" => {
                "You cannot deactivate yourself because this feature is not enabled. Please contact your System Administrator."
            }
            "api.user.update_active.cannot_modify_status_when_user_is_managed_by_ldap.app_error" => {
                "You cannot modify user status. User is managed by LDAP"
            }
            "api.user.delete_user.not_enabled.app_error" => {
                "Permanent delete feature is not enabled. Please contact your System Administrator."
            }
            "api.user.patch_user.login_provider_attribute_set.app_error" => {
                return format!("Field {p} must be set through user's login provider.");
            }
            "api.user.update_user.login_provider_attribute_set.app_error" => {
                return format!("Field {p} must be set through user's login provider.");
            }
            "model.user.is_valid.username.app_error" => {
                "Username must begin with a letter, and contain between 3 to 22 lowercase characters made up of numbers, letters, and the symbols \".\", \"-\", and \"_\"."
            }
            "model.user.is_valid.email.app_error" => "Invalid email.",
            "model.user.is_valid.pwd_min_length.app_error" => {
                return format!("Your password must contain at least {p} characters.");
            }
            "model.user.is_valid.pwd_max_length.app_error" => {
                "Your password must contain no more than 72 characters."
            }
            "model.user.is_valid.auth_data_type.app_error" => {
                "Invalid user, auth data must be set with a valid auth type."
            }
            "model.user.is_valid.auth_data_pwd.app_error" => {
                "Invalid user, password and auth data cannot both be set."
            }
            "model.user.is_valid.auth_data.app_error" => "Invalid auth data.",
            "model.user.is_valid.nickname.app_error" => "Invalid nickname.",
            "model.user.is_valid.position.app_error" => {
                "Invalid position: must not be longer than 128 characters."
            }
            "model.user.is_valid.first_name.app_error" => "Invalid first name.",
            "model.user.is_valid.last_name.app_error" => "Invalid last name.",
            "model.user.is_valid.locale.app_error" => "Invalid locale.",
            "model.user.is_valid.timezone_limit.app_error" => "Invalid timezone.",
            "model.user.is_valid.roles_limit.app_error" => {
                "Invalid user roles longer than 256 characters."
            }
            other if other.starts_with("model.user.is_valid.pwd") => {
                return format!(
                    "Your password does not meet the requirements (at least {p} characters)."
                );
            }
            other => other,
        };
        text.to_string()
    }

    /// The error JSON (`AppError.ToJSON` after `WipeDetailed`).
    fn body(&self, request_id: &str) -> Value {
        json!({
            "id": self.id,
            "message": self.message(),
            "detailed_error": "",
            "request_id": request_id,
            "status_code": self.status,
        })
    }
}

/// A handler's successful answer.
pub(crate) struct Out {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Out {
    pub fn json(status: u16, v: &Value) -> Self {
        Out {
            status,
            body: serde_json::to_vec(v).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    /// `ReturnStatusOK`.
    pub fn status_ok() -> Self {
        Out {
            status: 200,
            body: br#"{"status":"OK"}"#.to_vec(),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

pub(crate) type HandlerResult = Result<Out, AppErr>;

/// The routes of `api4/user.go` and `api4/system.go` the emulator serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Ping,
    Login,
    Logout,
    Create,
    List,
    Stats,
    StatsFiltered,
    Usernames,
    Ids,
    ByUsername(String),
    ByEmail(String),
    Get(String),
    Update(String),
    Delete(String),
    Patch(String),
    Roles(String),
    Active(String),
    Sessions(String),
    RevokeAllSessions(String),
    GetStatus(String),
    PutStatus(String),
    // Account settings (`roster do`; account.rs).
    Mfa(String),
    PutPreferences(String),
    GetPreferences(String),
    Auth(String),
    ConvertToBot(String),
    StatusIds,
    ReportUsers,
    AllRoles,
    // Teams, channels and pictures (issue 13; teams.rs, picture.rs).
    Teams,
    CreateTeam,
    TeamByName(String),
    Team(String),
    AddTeamMember(String),
    AddTeamMembers(String),
    TeamMembers(String),
    TeamMember(String, String),
    RemoveTeamMember(String, String),
    ChannelByName(String, String),
    TeamChannels(String),
    TeamPrivateChannels(String),
    CreateChannel,
    Channel(String),
    AddChannelMember(String),
    ChannelMembers(String),
    RemoveChannelMember(String, String),
    UserTeams(String),
    UserTeamMembers(String),
    UserTeamChannelMembers(String, String),
    UserChannelMembers(String),
    GetImage(String),
    SetImage(String),
    ResetImage(String),
    // Passwords and access tokens (issue 14; secrets.rs).
    Password(String),
    SendPasswordReset,
    CreateToken(String),
    UserTokens(String),
    NotFound,
}

/// A gorilla `{x:[A-Za-z0-9]+}` path segment.
fn alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A `{name:[A-Za-z0-9_-]+}` path segment.
fn name_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The `/teams` and `/channels` routes of `api4/team.go` and `api4/channel.go`.
fn team_channel_route(method: &str, rest: &str) -> Option<Route> {
    let seg: Vec<&str> = rest.split('/').collect();
    let s = |i: usize| seg.get(i).copied().unwrap_or("");
    let r = match (method, seg.as_slice()) {
        ("GET", ["teams"]) => Route::Teams,
        ("POST", ["teams"]) => Route::CreateTeam,
        ("GET", ["teams", "name", n]) if name_segment(n) => Route::TeamByName(s(2).into()),
        ("GET", ["teams", t]) if alnum(t) => Route::Team(s(1).into()),
        ("POST", ["teams", t, "members"]) if alnum(t) => Route::AddTeamMember(s(1).into()),
        ("GET", ["teams", t, "members"]) if alnum(t) => Route::TeamMembers(s(1).into()),
        ("POST", ["teams", t, "members", "batch"]) if alnum(t) => {
            Route::AddTeamMembers(s(1).into())
        }
        ("GET", ["teams", t, "members", u]) if alnum(t) && alnum(u) => {
            Route::TeamMember(s(1).into(), s(3).into())
        }
        ("DELETE", ["teams", t, "members", u]) if alnum(t) && alnum(u) => {
            Route::RemoveTeamMember(s(1).into(), s(3).into())
        }
        ("GET", ["teams", t, "channels", "name", n]) if alnum(t) && name_segment(n) => {
            Route::ChannelByName(s(1).into(), s(4).into())
        }
        ("GET", ["teams", t, "channels"]) if alnum(t) => Route::TeamChannels(s(1).into()),
        ("GET", ["teams", t, "channels", "private"]) if alnum(t) => {
            Route::TeamPrivateChannels(s(1).into())
        }
        ("POST", ["channels"]) => Route::CreateChannel,
        ("GET", ["channels", c]) if alnum(c) => Route::Channel(s(1).into()),
        ("POST", ["channels", c, "members"]) if alnum(c) => Route::AddChannelMember(s(1).into()),
        ("GET", ["channels", c, "members"]) if alnum(c) => Route::ChannelMembers(s(1).into()),
        ("DELETE", ["channels", c, "members", u]) if alnum(c) && alnum(u) => {
            Route::RemoveChannelMember(s(1).into(), s(3).into())
        }
        ("GET", ["users", u, "teams"]) if alnum(u) => Route::UserTeams(s(1).into()),
        ("GET", ["users", u, "teams", "members"]) if alnum(u) => {
            Route::UserTeamMembers(s(1).into())
        }
        ("GET", ["users", u, "teams", t, "channels", "members"]) if alnum(u) && alnum(t) => {
            Route::UserTeamChannelMembers(s(1).into(), s(3).into())
        }
        ("GET", ["users", u, "channel_members"]) if alnum(u) => {
            Route::UserChannelMembers(s(1).into())
        }
        ("GET", ["users", u, "image"]) if alnum(u) => Route::GetImage(s(1).into()),
        ("POST", ["users", u, "image"]) if alnum(u) => Route::SetImage(s(1).into()),
        ("DELETE", ["users", u, "image"]) if alnum(u) => Route::ResetImage(s(1).into()),
        _ => return None,
    };
    Some(r)
}

impl Route {
    /// Matches like the gorilla router: the `/users` routes first, then
    /// `/users/{user_id:[A-Za-z0-9]+}`, then the catch-all 404 (also for a wrong method).
    fn of(method: &str, path: &str) -> Route {
        let Some(rest) = path.strip_prefix("/api/v4/") else {
            return Route::NotFound;
        };
        match (method, rest) {
            ("GET", "system/ping") => return Route::Ping,
            ("POST", "users") => return Route::Create,
            ("GET", "users") => return Route::List,
            ("POST", "users/login") => return Route::Login,
            ("POST", "users/logout") => return Route::Logout,
            ("POST", "users/usernames") => return Route::Usernames,
            ("POST", "users/ids") => return Route::Ids,
            ("POST", "users/status/ids") => return Route::StatusIds,
            ("GET", "reports/users") => return Route::ReportUsers,
            ("GET", "users/stats") => return Route::Stats,
            ("GET", "users/stats/filtered") => return Route::StatsFiltered,
            ("GET", "roles") => return Route::AllRoles,
            ("POST", "users/password/reset/send") => return Route::SendPasswordReset,
            _ => {}
        }
        if let Some(r) = team_channel_route(method, rest) {
            return r;
        }
        if method == "GET" {
            if let Some(u) = rest.strip_prefix("users/username/")
                && !u.is_empty()
                && u.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                return Route::ByUsername(u.to_string());
            }
            if let Some(e) = rest.strip_prefix("users/email/")
                && !e.is_empty()
            {
                return Route::ByEmail(e.to_string());
            }
        }
        let Some(user) = rest.strip_prefix("users/") else {
            return Route::NotFound;
        };
        let (id, suffix) = match user.split_once('/') {
            Some((id, s)) => (id, Some(s)),
            None => (user, None),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Route::NotFound;
        }
        let id = id.to_string();
        match (method, suffix) {
            ("GET", None) => Route::Get(id),
            ("PUT", None) => Route::Update(id),
            ("DELETE", None) => Route::Delete(id),
            ("PUT", Some("patch")) => Route::Patch(id),
            ("PUT", Some("roles")) => Route::Roles(id),
            ("PUT", Some("active")) => Route::Active(id),
            ("GET", Some("sessions")) => Route::Sessions(id),
            ("POST", Some("sessions/revoke/all")) => Route::RevokeAllSessions(id),
            ("GET", Some("status")) => Route::GetStatus(id),
            ("PUT", Some("status")) => Route::PutStatus(id),
            ("PUT", Some("password")) => Route::Password(id),
            ("POST", Some("tokens")) => Route::CreateToken(id),
            ("GET", Some("tokens")) => Route::UserTokens(id),
            ("PUT", Some("mfa")) => Route::Mfa(id),
            ("PUT", Some("preferences")) => Route::PutPreferences(id),
            ("GET", Some("preferences")) => Route::GetPreferences(id),
            ("PUT", Some("auth")) => Route::Auth(id),
            ("POST", Some("convert_to_bot")) => Route::ConvertToBot(id),
            _ => Route::NotFound,
        }
    }

    /// `APISessionRequired` routes; the others are `APIHandler`.
    fn requires_session(&self) -> bool {
        !matches!(
            self,
            Route::Ping
                | Route::Login
                | Route::Logout
                | Route::Create
                | Route::SendPasswordReset
                | Route::NotFound
        )
    }

    fn key(&self, method: &str) -> String {
        let path = match self {
            Route::Ping => "/api/v4/system/ping",
            Route::Login => "/api/v4/users/login",
            Route::Logout => "/api/v4/users/logout",
            Route::Create | Route::List => "/api/v4/users",
            Route::Stats => "/api/v4/users/stats",
            Route::StatsFiltered => "/api/v4/users/stats/filtered",
            Route::Usernames => "/api/v4/users/usernames",
            Route::Ids => "/api/v4/users/ids",
            Route::ByUsername(_) => "/api/v4/users/username/{username}",
            Route::ByEmail(_) => "/api/v4/users/email/{email}",
            Route::Get(_) | Route::Update(_) | Route::Delete(_) => "/api/v4/users/{user_id}",
            Route::Patch(_) => "/api/v4/users/{user_id}/patch",
            Route::Roles(_) => "/api/v4/users/{user_id}/roles",
            Route::Active(_) => "/api/v4/users/{user_id}/active",
            Route::Sessions(_) => "/api/v4/users/{user_id}/sessions",
            Route::RevokeAllSessions(_) => "/api/v4/users/{user_id}/sessions/revoke/all",
            Route::GetStatus(_) | Route::PutStatus(_) => "/api/v4/users/{user_id}/status",
            Route::Mfa(_) => "/api/v4/users/{user_id}/mfa",
            Route::PutPreferences(_) | Route::GetPreferences(_) => {
                "/api/v4/users/{user_id}/preferences"
            }
            Route::Auth(_) => "/api/v4/users/{user_id}/auth",
            Route::ConvertToBot(_) => "/api/v4/users/{user_id}/convert_to_bot",
            Route::StatusIds => "/api/v4/users/status/ids",
            Route::ReportUsers => "/api/v4/reports/users",
            Route::AllRoles => "/api/v4/roles",
            Route::Teams | Route::CreateTeam => "/api/v4/teams",
            Route::TeamByName(_) => "/api/v4/teams/name/{team_name}",
            Route::Team(_) => "/api/v4/teams/{team_id}",
            Route::AddTeamMember(_) | Route::TeamMembers(_) => "/api/v4/teams/{team_id}/members",
            Route::AddTeamMembers(_) => "/api/v4/teams/{team_id}/members/batch",
            Route::TeamMember(..) | Route::RemoveTeamMember(..) => {
                "/api/v4/teams/{team_id}/members/{user_id}"
            }
            Route::ChannelByName(..) => "/api/v4/teams/{team_id}/channels/name/{channel_name}",
            Route::TeamChannels(_) => "/api/v4/teams/{team_id}/channels",
            Route::TeamPrivateChannels(_) => "/api/v4/teams/{team_id}/channels/private",
            Route::CreateChannel => "/api/v4/channels",
            Route::Channel(_) => "/api/v4/channels/{channel_id}",
            Route::AddChannelMember(_) | Route::ChannelMembers(_) => {
                "/api/v4/channels/{channel_id}/members"
            }
            Route::RemoveChannelMember(..) => "/api/v4/channels/{channel_id}/members/{user_id}",
            Route::UserTeams(_) => "/api/v4/users/{user_id}/teams",
            Route::UserTeamMembers(_) => "/api/v4/users/{user_id}/teams/members",
            Route::UserTeamChannelMembers(..) => {
                "/api/v4/users/{user_id}/teams/{team_id}/channels/members"
            }
            Route::UserChannelMembers(_) => "/api/v4/users/{user_id}/channel_members",
            Route::GetImage(_) | Route::SetImage(_) | Route::ResetImage(_) => {
                "/api/v4/users/{user_id}/image"
            }
            Route::Password(_) => "/api/v4/users/{user_id}/password",
            Route::SendPasswordReset => "/api/v4/users/password/reset/send",
            Route::CreateToken(_) | Route::UserTokens(_) => "/api/v4/users/{user_id}/tokens",
            Route::NotFound => return format!("{method} (unknown route)"),
        };
        format!("{method} {path}")
    }
}

/// Where the token came from (`app.TokenLocation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenLocation {
    NotFound,
    Cookie,
    Header,
    QueryString,
}

/// `ParseAuthTokenFromRequest`: the cookie wins over the header, the header over the query.
fn parse_token(req: &Request) -> (String, TokenLocation) {
    for (name, value) in &req.headers {
        if name != "cookie" {
            continue;
        }
        for part in value.split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k.trim() == "MMAUTHTOKEN"
            {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                return (v.to_string(), TokenLocation::Cookie);
            }
        }
    }
    if let Some(h) = req.header("authorization") {
        let b = h.as_bytes();
        if b.len() > 6 && b[..6].eq_ignore_ascii_case(b"bearer") {
            return (
                String::from_utf8_lossy(&b[7..]).into_owned(),
                TokenLocation::Header,
            );
        }
        if b.len() > 5 && b[..5].eq_ignore_ascii_case(b"token") {
            return (
                String::from_utf8_lossy(&b[6..]).into_owned(),
                TokenLocation::Header,
            );
        }
    }
    if let Some(t) = req.query_param("access_token")
        && !t.is_empty()
    {
        return (t, TokenLocation::QueryString);
    }
    (String::new(), TokenLocation::NotFound)
}

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub req: &'a Request,
    /// Also the `X-Request-Id` header and the `request_id` of errors.
    pub request_id: String,
    pub session: Option<Session>,
    /// The session's user, as stored when the request started.
    pub caller: Option<MmUser>,
}

impl Ctx<'_> {
    /// `c.IsSystemAdmin()`: the session holds `manage_system`.
    pub fn is_admin(&self) -> bool {
        self.caller.as_ref().is_some_and(MmUser::is_system_admin)
    }

    pub fn user_id(&self) -> &str {
        self.session
            .as_ref()
            .map(|s| s.user_id.as_str())
            .unwrap_or("")
    }

    /// `c.RequireUserId()`: `me` is the caller; anything but a 26-character id is 400.
    pub fn require_user_id(&self, raw: &str) -> Result<String, AppErr> {
        let id = if raw == "me" { self.user_id() } else { raw };
        if validate::is_valid_id(id) {
            Ok(id.to_string())
        } else {
            Err(AppErr::invalid_url("user_id"))
        }
    }

    /// `SessionHasPermissionTo(permission)`: a system admin holds every permission; another
    /// caller one of whose roles was granted it ([`crate::SandboxConfig::mm_role_permissions`]:
    /// the emulator keeps no other role's defaults for the permissions it asks for by name).
    pub fn has_permission(&self, mm: &Mattermost, permission: &str) -> bool {
        self.is_admin()
            || self.caller.as_ref().is_some_and(|c| {
                mm.settings
                    .role_permissions
                    .iter()
                    .any(|(role, p)| p == permission && c.has_role(role))
            })
    }

    /// `SessionHasPermissionToUser`: yourself, or `edit_other_users`.
    pub fn can_edit_user(&self, id: &str) -> bool {
        !id.is_empty() && (id == self.user_id() || self.is_admin())
    }
}

struct Limiter {
    gcra: Gcra,
    clock: Clock,
}

impl Limiter {
    fn hit(&mut self, key: &str) -> (bool, limiter::RateLimitResult) {
        let now = self.clock.now_ns();
        self.gcra.rate_limit(key, now)
    }
}

pub struct Mattermost {
    settings: Settings,
    store: RwLock<Store>,
    /// None = `RateLimitSettings.Enable` off: no limiter, no headers.
    limiter: Option<Mutex<Limiter>>,
    ids: IdGen,
    admin_password: Secret,
    importer_password: Secret,
    version_id: String,
    roles_created_at: i64,
    /// The mails sent, oldest first.
    mails: Mutex<Vec<Mail>>,
}

impl Mattermost {
    pub fn new(cfg: &SandboxConfig, admin_password: &Secret) -> io::Result<Self> {
        let importer_password = match &cfg.importer_password {
            Some(p) if !p.is_empty() => p.clone(),
            _ => admin_password.clone(),
        };
        let limiter = if cfg.rate_limit.unwrap_or(false) {
            // The server refuses to start with these at 0 (`model.config.is_valid.rate_*`).
            if cfg.mm_max_burst == 0 || cfg.mm_memory_store_size == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the Mattermost rate limiter needs a MaxBurst and a MemoryStoreSize above 0",
                ));
            }
            let gcra = Gcra::new(cfg.mm_per_sec, cfg.mm_max_burst, cfg.mm_memory_store_size)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            Some(Mutex::new(Limiter {
                gcra,
                clock: Clock::new(cfg.clock.clone()),
            }))
        } else {
            None
        };
        let hash = util::sha256_hex(&format!("roster sandbox mattermost {}", cfg.mm_version));
        let mm = Mattermost {
            settings: Settings {
                vary_by_remote_addr: cfg.mm_vary_by_remote_addr,
                vary_by_user: cfg.mm_vary_by_user,
                vary_by_header: cfg.mm_vary_by_header.clone().filter(|h| !h.is_empty()),
                enable_api_user_deletion: cfg.mm_enable_api_user_deletion,
                open_server: cfg.mm_open_server,
                ldap_users: cfg
                    .mm_ldap_users
                    .iter()
                    .map(|u| validate::go_lower(u))
                    .collect(),
                version: cfg.mm_version.clone(),
                bcrypt_cost: if cfg.bcrypt_cost == 0 {
                    0
                } else {
                    cfg.bcrypt_cost.clamp(4, 31)
                },
                password: PasswordPolicy {
                    minimum_length: cfg.mm_password_minimum_length,
                    ..PasswordPolicy::default()
                },
                max_users_per_team: cfg.mm_max_users_per_team,
                enable_user_access_tokens: cfg.mm_enable_user_access_tokens,
                smtp: cfg.smtp,
                role_permissions: cfg.mm_role_permissions.clone(),
            },
            store: RwLock::new(Store::default()),
            limiter,
            ids: IdGen::new(cfg.seed),
            admin_password: admin_password.clone(),
            importer_password,
            // `<version>.<build>.<client config hash>.<licensed>`
            version_id: format!("{}.1.{}.true", cfg.mm_version, &hash[..32]),
            roles_created_at: util::now_ms() - 31 * 24 * 3600 * 1000,
            mails: Mutex::new(Vec::new()),
        };
        mm.ensure_builtin_accounts().map_err(io::Error::other)?;
        Ok(mm)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        match self.store.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        match self.store.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `TeamSettings.MaxUsersPerTeam`.
    pub(crate) fn max_users_per_team(&self) -> u32 {
        self.settings.max_users_per_team
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A new user id (seeded with `--seed`, so ids repeat from run to run).
    pub(crate) fn new_user_id(&self) -> String {
        self.ids.string(ID_ALPHABET, 26)
    }

    pub(crate) fn hash_password(&self, plain: &str) -> Result<String, AppErr> {
        if self.settings.bcrypt_cost == 0 {
            return Ok(format!(
                "{}{}",
                crate::util::UNHASHED,
                crate::util::sha256_hex(plain)
            ));
        }
        bcrypt::hash(plain, self.settings.bcrypt_cost)
            .map_err(|_| AppErr::new("app.user.save.app_error", 500))
    }

    /// Creates `admin` and `importer`, or resets their passwords and failed attempts.
    fn ensure_builtin_accounts(&self) -> Result<(), String> {
        let admin_hash = self
            .hash_password(self.admin_password.expose())
            .map_err(|e| e.message().to_string())?;
        let importer_hash = if self.importer_password == self.admin_password {
            admin_hash.clone()
        } else {
            self.hash_password(self.importer_password.expose())
                .map_err(|e| e.message().to_string())?
        };
        // Older than the sandbox, like accounts of a server that has been running a while.
        let created = util::now_ms() - 30 * 24 * 3600 * 1000;
        let accounts = [
            ("admin", "System", "Administrator", admin_hash),
            ("importer", "Provisioning", "Account", importer_hash),
        ];
        let mut st = self.write();
        for (username, first, last, hash) in accounts {
            if let Some(existing) = st.by_username(username) {
                let mut u = existing.clone();
                u.password = hash;
                u.failed_attempts = 0;
                st.replace(u);
                continue;
            }
            let email = format!("{username}@example.com");
            if st.by_email(&email).is_some() {
                return Err(format!("the state has another user with the email {email}"));
            }
            st.insert(MmUser {
                id: self.new_user_id(),
                create_at: created,
                update_at: created,
                delete_at: 0,
                username: username.to_string(),
                password: hash,
                auth_data: None,
                auth_service: String::new(),
                email,
                email_verified: true,
                nickname: String::new(),
                first_name: first.to_string(),
                last_name: last.to_string(),
                position: String::new(),
                roles: "system_user system_admin".to_string(),
                props: StringMap::new(),
                notify_props: users::default_notify_props(),
                last_password_update: created,
                last_picture_update: 0,
                failed_attempts: 0,
                locale: "en".to_string(),
                timezone: users::default_timezone(),
                disable_welcome_email: false,
                last_login: 0,
                mfa_active: false,
                mfa_secret: String::new(),
                is_bot: false,
            });
        }
        Ok(())
    }

    /// `RateLimiter.GenerateKey`.
    fn limit_key(&self, req: &Request) -> String {
        let ip = || req.peer.ip().to_string();
        let mut key = String::new();
        if self.settings.vary_by_user {
            let (token, location) = parse_token(req);
            if location != TokenLocation::NotFound {
                key.push_str(&token);
            } else if self.settings.vary_by_remote_addr {
                key.push_str(&ip());
            }
        } else if self.settings.vary_by_remote_addr {
            key.push_str(&ip());
        }
        if let Some(h) = &self.settings.vary_by_header {
            key.push_str(&validate::go_lower(req.header(h).unwrap_or("")));
        }
        key
    }

    /// `RateLimitWriter` on one key: the headers to add, and whether it refused.
    fn limit(&self, key: &str) -> Option<(bool, Vec<(String, String)>)> {
        let limiter = self.limiter.as_ref()?;
        let (limited, result) = lock(limiter).hit(key);
        Some((limited, limiter::headers(&result)))
    }

    /// `http.Error(w, "limit exceeded", 429)` on top of the headers written so far.
    fn too_many(mut headers: Vec<(String, String)>) -> Response {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        headers.push((
            "Content-Type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        ));
        headers.push(("X-Content-Type-Options".to_string(), "nosniff".to_string()));
        Response {
            status: 429,
            headers,
            body: b"limit exceeded\n".to_vec(),
        }
    }

    /// `GetSession`: an unexpired session whose user exists; else, for a personal access
    /// token, a new session for it (`createSessionForUserAccessToken`).
    fn session(&self, token: &str) -> Option<(Session, MmUser)> {
        let now = util::now_ms();
        let hash = util::sha256_hex(token);
        {
            let st = self.read();
            if let Some(s) = st.session(&hash) {
                if s.expires_at != 0 && s.expires_at < now {
                    return None;
                }
                let u = st.get(&s.user_id)?;
                return Some((s.clone(), u.clone()));
            }
        }
        let user_id = secrets::token_user(self, &hash)?;
        let session = Session {
            id: random_id(),
            token_hash: hash,
            user_id,
            create_at: now,
            expires_at: 0,
            csrf_hash: String::new(),
        };
        let mut st = self.write();
        st.add_session(session.clone());
        let u = st.get(&session.user_id)?.clone();
        Some((session, u))
    }

    /// Records a mail as sent.
    pub(crate) fn send_mail(&self, to: &str, kind: &str) {
        lock(&self.mails).push(Mail {
            to: to.to_string(),
            kind: kind.to_string(),
        });
    }

    /// `Handler.ServeHTTP` for the API routes.
    fn serve(&self, req: &Request) -> Response {
        let request_id = random_id();
        let mut headers = vec![
            ("X-Request-Id".to_string(), request_id.clone()),
            ("X-Version-Id".to_string(), self.version_id.clone()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        if req.method == "GET" {
            headers.push(("Expires".to_string(), "0".to_string()));
        }
        let route = Route::of(&req.method, &req.decoded_path());
        let mut ctx = Ctx {
            req,
            request_id: request_id.clone(),
            session: None,
            caller: None,
        };
        let mut err: Option<AppErr> = None;
        let (token, location) = parse_token(req);
        if !token.is_empty() {
            match self.session(&token) {
                Some((session, user)) => {
                    if location == TokenLocation::QueryString {
                        err = Some(AppErr::new("api.context.token_provided.app_error", 401));
                    } else {
                        ctx.session = Some(session);
                        ctx.caller = Some(user);
                    }
                }
                None => {
                    if route.requires_session() {
                        headers.extend(users::expired_cookies());
                        err = Some(AppErr::session_expired());
                    }
                }
            }
            // `UserIdRateLimit`: a no-op unless VaryByUser; keyed by the session's user id,
            // "" when the token matched no session.
            if self.settings.vary_by_user
                && let Some((limited, h)) = self.limit(ctx.user_id())
            {
                headers.extend(h);
                if limited {
                    return Self::too_many(headers);
                }
            }
            // CSRF: a cookie session on a non-GET request needs the header.
            if err.is_none()
                && location == TokenLocation::Cookie
                && req.method != "GET"
                && let Some(session) = &ctx.session
            {
                let csrf_ok = req
                    .header("x-csrf-token")
                    .is_some_and(|h| util::sha256_hex(h) == session.csrf_hash)
                    || req.header("x-requested-with") == Some("XMLHttpRequest");
                if !csrf_ok {
                    ctx.session = None;
                    ctx.caller = None;
                    err = Some(AppErr::session_expired());
                }
            }
        }
        if err.is_none() && route.requires_session() && ctx.session.is_none() {
            err = Some(AppErr::session_expired());
        }
        let result = match err {
            Some(e) => Err(e),
            None => self.dispatch(&route, &ctx),
        };
        let (status, body) = match result {
            Ok(out) => {
                // A handler's own Content-Type (the image routes) replaces the JSON one.
                if out
                    .headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                }
                headers.extend(out.headers);
                (out.status, out.body)
            }
            Err(e) => (
                e.status,
                serde_json::to_vec(&e.body(&request_id)).unwrap_or_default(),
            ),
        };
        Response {
            status,
            headers,
            body,
        }
    }

    fn dispatch(&self, route: &Route, ctx: &Ctx) -> HandlerResult {
        match route {
            Route::Ping => Ok(Out::status_ok()),
            Route::Login => users::login(self, ctx),
            Route::Logout => users::logout(self, ctx),
            Route::Create => users::create(self, ctx),
            Route::List => users::list(self, ctx),
            Route::Stats => users::stats(self),
            Route::StatsFiltered => users::stats_filtered(self, ctx),
            Route::Usernames => users::by_usernames(self, ctx),
            Route::Ids => users::by_ids(self, ctx),
            Route::ByUsername(u) => users::get_by_username(self, ctx, u),
            Route::ByEmail(e) => users::get_by_email(self, ctx, e),
            Route::Get(id) => users::get(self, ctx, id),
            Route::Update(id) => users::update(self, ctx, id),
            Route::Delete(id) => users::delete(self, ctx, id),
            Route::Patch(id) => users::patch(self, ctx, id),
            Route::Roles(id) => users::update_roles(self, ctx, id),
            Route::Active(id) => users::update_active(self, ctx, id),
            Route::Sessions(id) => users::sessions(self, ctx, id),
            Route::RevokeAllSessions(id) => users::revoke_all_sessions(self, ctx, id),
            Route::GetStatus(id) => status::get(self, ctx, id),
            Route::PutStatus(id) => status::put(self, ctx, id),
            Route::Mfa(id) => account::mfa(self, ctx, id),
            Route::PutPreferences(id) => account::put_preferences(self, ctx, id),
            Route::GetPreferences(id) => account::get_preferences(self, ctx, id),
            Route::Auth(id) => account::auth(self, ctx, id),
            Route::ConvertToBot(id) => account::convert_to_bot(self, ctx, id),
            Route::StatusIds => status::by_ids(self, ctx),
            Route::ReportUsers => reports::users(self, ctx),
            Route::AllRoles => roles::all(self, ctx),
            Route::Teams => teams::list_teams(self, ctx),
            Route::CreateTeam => teams::create_team(self, ctx),
            Route::TeamByName(n) => teams::team_by_name(self, ctx, n),
            Route::Team(t) => teams::get_team(self, ctx, t),
            Route::AddTeamMember(t) => teams::add_team_member(self, ctx, t),
            Route::AddTeamMembers(t) => teams::add_team_members(self, ctx, t),
            Route::TeamMembers(t) => teams::team_members(self, ctx, t),
            Route::TeamMember(t, u) => teams::team_member(self, ctx, t, u),
            Route::RemoveTeamMember(t, u) => teams::remove_team_member(self, ctx, t, u),
            Route::ChannelByName(t, n) => teams::channel_by_name(self, ctx, t, n),
            Route::TeamChannels(t) => teams::team_channels(self, ctx, t, "O"),
            Route::TeamPrivateChannels(t) => teams::team_channels(self, ctx, t, "P"),
            Route::CreateChannel => teams::create_channel(self, ctx),
            Route::Channel(c) => teams::get_channel(self, ctx, c),
            Route::AddChannelMember(c) => teams::add_channel_member(self, ctx, c),
            Route::ChannelMembers(c) => teams::channel_members(self, ctx, c),
            Route::RemoveChannelMember(c, u) => teams::remove_channel_member(self, ctx, c, u),
            Route::UserTeams(u) => teams::teams_for_user(self, ctx, u),
            Route::UserTeamMembers(u) => teams::team_members_for_user(self, ctx, u),
            Route::UserTeamChannelMembers(u, t) => {
                teams::channel_members_for_team_user(self, ctx, u, t)
            }
            Route::UserChannelMembers(u) => teams::channel_members_for_user(self, ctx, u),
            Route::GetImage(u) => picture::get(self, ctx, u),
            Route::SetImage(u) => picture::set(self, ctx, u),
            Route::ResetImage(u) => picture::reset(self, ctx, u),
            Route::Password(u) => secrets::update_password(self, ctx, u),
            Route::SendPasswordReset => secrets::send_password_reset(self, ctx),
            Route::CreateToken(u) => secrets::create_token(self, ctx, u),
            Route::UserTokens(u) => secrets::list_tokens(self, ctx, u),
            Route::NotFound => Err(AppErr::new("api.context.404.app_error", 404)),
        }
    }

    pub(crate) fn known_role(r: &str) -> bool {
        roles::is_role(r)
    }

    /// When the server stored its default roles: its first start, before any account.
    pub(crate) fn roles_created_at(&self) -> i64 {
        self.roles_created_at
    }
}

impl Flavor for Mattermost {
    fn name(&self) -> &'static str {
        "mattermost"
    }

    fn route_key(&self, req: &Request) -> String {
        Route::of(&req.method, &req.decoded_path()).key(&req.method)
    }

    fn is_login(&self, req: &Request) -> bool {
        Route::of(&req.method, &req.decoded_path()) == Route::Login
    }

    /// Reads sent with POST (the batch lookups) are not writes.
    fn is_write(&self, req: &Request) -> bool {
        match Route::of(&req.method, &req.decoded_path()) {
            Route::Login | Route::Usernames | Route::Ids | Route::StatusIds => false,
            _ => !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS"),
        }
    }

    fn handle(&self, req: &Request) -> Response {
        // The global limiter wraps the whole router; its headers come first.
        let mut limit_headers = Vec::new();
        if self.limiter.is_some()
            && let Some((limited, h)) = self.limit(&self.limit_key(req))
        {
            if limited {
                return Self::too_many(h);
            }
            limit_headers = h;
        }
        let mut resp = self.serve(req);
        limit_headers.append(&mut resp.headers);
        resp.headers = limit_headers;
        resp
    }

    /// What a failed store call answers. The id depends on the call that failed, so the
    /// generic body of `ExperimentalEnableHardenedMode` is used.
    fn internal_error(&self) -> Response {
        let request_id = random_id();
        let body = json!({
            "id": "",
            "message": "Internal Server Error",
            "detailed_error": "",
            "request_id": request_id,
            "status_code": 500,
        });
        Response::json(500, &body)
            .header("X-Request-Id", request_id)
            .header("X-Version-Id", self.version_id.clone())
    }

    fn users(&self) -> Vec<Value> {
        self.read().sorted().map(MmUser::state_view).collect()
    }

    /// Seeds are stored as given except that usernames and emails are lowercased (the
    /// indexes rely on it); `name` is split into first and last name at the first space.
    /// Usernames listed in `mm_ldap_users` become LDAP-managed: auth_service `ldap`,
    /// auth_data the username, no password.
    fn seed(&self, seeds: &[SeedUser]) -> Result<Vec<String>, String> {
        let mut hashes: std::collections::HashMap<String, String> = Default::default();
        for s in seeds {
            if let Some(p) = &s.password
                && !hashes.contains_key(p)
            {
                let h = self.hash_password(p).map_err(|e| e.message().to_string())?;
                hashes.insert(p.clone(), h);
            }
        }
        let now = util::now_ms();
        let mut st = self.write();
        let mut ids = Vec::with_capacity(seeds.len());
        for s in seeds {
            let username = validate::go_lower(&s.username);
            let email = validate::go_lower(&s.email);
            if st.by_username(&username).is_some() {
                return Err(format!("username {username} is already in use"));
            }
            if st.by_email(&email).is_some() {
                return Err(format!("email {email} is already in use"));
            }
            let ldap = self.settings.ldap_users.contains(&username);
            if ldap && st.by_auth_data(&username).is_some() {
                return Err(format!("auth_data {username} is already in use"));
            }
            let (first, last) = match s.name.trim().split_once(' ') {
                Some((f, l)) => (f.to_string(), l.trim().to_string()),
                None => (s.name.trim().to_string(), String::new()),
            };
            let roles = if s.roles.is_empty() {
                "system_user".to_string()
            } else {
                s.roles.join(" ")
            };
            let u = MmUser {
                id: self.new_user_id(),
                create_at: now,
                update_at: now,
                delete_at: if s.active { 0 } else { now },
                username: username.clone(),
                password: match (&s.password, ldap) {
                    (Some(p), false) => hashes.get(p).cloned().unwrap_or_default(),
                    _ => String::new(),
                },
                auth_data: ldap.then(|| username.clone()),
                auth_service: if ldap { "ldap".into() } else { String::new() },
                email,
                email_verified: false,
                nickname: String::new(),
                first_name: first,
                last_name: last,
                position: String::new(),
                roles,
                props: StringMap::new(),
                notify_props: users::default_notify_props(),
                last_password_update: now,
                last_picture_update: 0,
                failed_attempts: 0,
                locale: "en".to_string(),
                timezone: users::default_timezone(),
                disable_welcome_email: false,
                last_login: 0,
                mfa_active: false,
                mfa_secret: String::new(),
                is_bot: false,
            };
            ids.push(u.id.clone());
            st.insert(u);
        }
        Ok(ids)
    }

    fn save_state(&self) -> Value {
        let st = self.read();
        let users: Vec<&MmUser> = st.sorted().collect();
        let mut images: Vec<(&String, &Vec<u8>)> = st.images.iter().collect();
        images.sort();
        let images: serde_json::Map<String, Value> = images
            .into_iter()
            .map(|(id, b)| (id.clone(), json!(util::base64(b))))
            .collect();
        json!({
            "users": users,
            "access_tokens": st.access_tokens(),
            "sessions": st.sessions_sorted(),
            "members": teams::save(&st),
            "images": images,
        })
    }

    fn seed_team(&self, name: &str, private: bool) -> Result<String, String> {
        teams::seed_team(self, name, private)
    }

    fn seed_channel(
        &self,
        team: Option<&str>,
        name: &str,
        private: bool,
    ) -> Result<String, String> {
        teams::seed_channel(self, team, name, private)
    }

    fn memberships(&self, username: &str) -> crate::Memberships {
        teams::memberships(self, username)
    }

    fn avatar(&self, username: &str) -> Option<Vec<u8>> {
        let st = self.read();
        let u = st.by_username(&validate::go_lower(username))?;
        st.images.get(&u.id).cloned()
    }

    fn add_member(&self, group: &str, username: &str) -> Result<(), String> {
        teams::add_member(self, group, username)
    }

    fn status(&self, username: &str) -> Option<(String, String)> {
        let id = self
            .read()
            .by_username(&validate::go_lower(username))?
            .id
            .clone();
        Some((status::of(self, &id), String::new()))
    }

    fn mails(&self) -> Vec<Mail> {
        lock(&self.mails).clone()
    }

    fn mfa(&self, username: &str) -> Option<bool> {
        self.read()
            .by_username(&validate::go_lower(username))
            .map(|u| u.mfa_active)
    }

    fn preferences(&self, username: &str) -> std::collections::BTreeMap<String, Value> {
        let store = self.read();
        let Some(u) = store.by_username(&validate::go_lower(username)) else {
            return Default::default();
        };
        store
            .preferences
            .get(&u.id)
            .into_iter()
            .flatten()
            .map(|((c, n), v)| (format!("{c}.{n}"), Value::String(v.clone())))
            .collect()
    }

    /// A bot keeps its password (bots cannot log in anyway: `bot_login_forbidden`); an
    /// `auth_service` other than email gets the username as `auth_data`, as LDAP seeds do.
    fn set_account_facts(&self, username: &str, facts: &crate::AccountFacts) -> Result<(), String> {
        let mut st = self.write();
        let mut u = st
            .by_username(&validate::go_lower(username))
            .cloned()
            .ok_or_else(|| format!("no user {username}"))?;
        if let Some(t) = facts.created_at {
            u.create_at = t;
        }
        if let Some(t) = facts.last_login {
            u.last_login = t.unwrap_or(0);
        }
        if let Some(m) = facts.mfa_active {
            u.mfa_active = m;
            u.mfa_secret = if m { random_id() } else { String::new() };
        }
        if let Some(a) = &facts.auth_service {
            let email = a.is_empty() || a == "email";
            u.auth_service = if email { String::new() } else { a.clone() };
            u.auth_data = (!email).then(|| u.username.clone());
            if !email {
                u.password = String::new();
            }
        }
        if let Some(b) = facts.bot {
            u.is_bot = b;
        }
        st.replace(u);
        Ok(())
    }

    fn load_state(&self, state: Value) -> Result<(), String> {
        let users: Vec<MmUser> = match state.get("users") {
            Some(u) => serde_json::from_value(u.clone()).map_err(|e| format!("users: {e}"))?,
            None => return Err("no users recorded".into()),
        };
        let sessions: Vec<Session> = match state.get("sessions") {
            Some(s) => serde_json::from_value(s.clone()).map_err(|e| format!("sessions: {e}"))?,
            None => Vec::new(),
        };
        {
            let mut st = self.write();
            st.clear();
            for u in users {
                if st.get(&u.id).is_some()
                    || st.by_username(&u.username).is_some()
                    || st.by_email(&u.email).is_some()
                {
                    return Err(format!("duplicate user {}", u.username));
                }
                st.insert(u);
            }
            for s in sessions {
                if st.get(&s.user_id).is_some() {
                    st.add_session(s);
                }
            }
            if let Some(t) = state.get("access_tokens") {
                let tokens: Vec<store::AccessToken> =
                    serde_json::from_value(t.clone()).map_err(|e| format!("access_tokens: {e}"))?;
                for t in tokens {
                    if st.get(&t.user_id).is_some() {
                        st.add_access_token(t);
                    }
                }
            }
            if let Some(m) = state.get("members") {
                teams::load(&mut st, m)?;
            }
            if let Some(Value::Object(images)) = state.get("images") {
                for (id, b) in images {
                    let bytes = b
                        .as_str()
                        .and_then(util::unbase64)
                        .ok_or_else(|| format!("images: bad base64 for {id}"))?;
                    st.images.insert(id.clone(), bytes);
                }
            }
        }
        self.ensure_builtin_accounts()
    }
}
