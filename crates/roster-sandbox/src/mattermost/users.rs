//! The `/users` handlers of MM `api4/user.go`, with the app and store steps they run
//! (mattermost-api.md §1.2, §3, §4).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::decode::{self, Kind, get_bool, get_map, get_str};
use super::store::{MmUser, Session, StringMap, View};
use super::validate::{self, go_lower, sanitize_unicode};
use super::{AppErr, Ctx, HandlerResult, Mattermost, Out, SESSION_LENGTH_MS, random_id};
use crate::util;

/// `model.User` as `json.Decode` sees it.
const USER_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("create_at", Kind::Int),
    ("update_at", Kind::Int),
    ("delete_at", Kind::Int),
    ("username", Kind::Str),
    ("password", Kind::Str),
    ("auth_data", Kind::Str),
    ("auth_service", Kind::Str),
    ("email", Kind::Str),
    ("email_verified", Kind::Bool),
    ("nickname", Kind::Str),
    ("first_name", Kind::Str),
    ("last_name", Kind::Str),
    ("position", Kind::Str),
    ("roles", Kind::Str),
    ("allow_marketing", Kind::Bool),
    ("props", Kind::Map),
    ("notify_props", Kind::Map),
    ("last_password_update", Kind::Int),
    ("last_picture_update", Kind::Int),
    ("failed_attempts", Kind::Int),
    ("locale", Kind::Str),
    ("timezone", Kind::Map),
    ("mfa_active", Kind::Bool),
    ("mfa_secret", Kind::Str),
    ("remote_id", Kind::Str),
    ("last_activity_at", Kind::Int),
    ("is_bot", Kind::Bool),
    ("bot_description", Kind::Str),
    ("bot_last_icon_update", Kind::Int),
    ("terms_of_service_id", Kind::Str),
    ("terms_of_service_create_at", Kind::Int),
    ("disable_welcome_email", Kind::Bool),
    ("last_login", Kind::Int),
];

/// `model.UserPatch`: every field a pointer, so only the non-null ones apply.
const PATCH_FIELDS: &[(&str, Kind)] = &[
    ("username", Kind::Str),
    ("password", Kind::Str),
    ("nickname", Kind::Str),
    ("first_name", Kind::Str),
    ("last_name", Kind::Str),
    ("position", Kind::Str),
    ("email", Kind::Str),
    ("props", Kind::Map),
    ("notify_props", Kind::Map),
    ("locale", Kind::Str),
    ("timezone", Kind::Map),
    ("remote_id", Kind::Str),
];

/// Auth services whose users are OAuth users (`IsOAuthUser`).
const OAUTH_SERVICES: &[&str] = &["gitlab", "google", "office365", "openid"];

/// Unmasked login errors (the deferred block of `login`); every other one becomes 401
/// `api.user.login.invalid_credentials_email_username`.
const LOGIN_UNMASKED: &[&str] = &[
    "api.user.login.blank_pwd.app_error",
    "api.user.login.bot_login_forbidden.app_error",
    "api.user.login.inactive.app_error",
    "api.user.login.not_verified.app_error",
    "api.user.check_user_login_attempts.too_many.app_error",
    "mfa.validate_token.authenticate.app_error",
];

/// `SetDefaultNotifications`.
pub(crate) fn default_notify_props() -> StringMap {
    [
        ("channel", "true"),
        ("comments", "never"),
        ("desktop", "mention"),
        ("desktop_sound", "true"),
        ("desktop_threads", "all"),
        ("email", "true"),
        ("email_threads", "all"),
        ("first_name", "false"),
        ("mention_keys", ""),
        ("push", "mention"),
        ("push_status", "away"),
        ("push_threads", "all"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `timezones.DefaultUserTimezone`.
pub(crate) fn default_timezone() -> StringMap {
    [
        ("automaticTimezone", ""),
        ("manualTimezone", ""),
        ("useAutomaticTimezone", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `RemoveSessionCookie`.
pub(crate) fn expired_cookies() -> Vec<(String, String)> {
    ["MMAUTHTOKEN", "MMUSERID", "MMCSRF"]
        .iter()
        .map(|name| {
            let http_only = if *name == "MMAUTHTOKEN" {
                "; HttpOnly"
            } else {
                ""
            };
            (
                "Set-Cookie".to_string(),
                format!("{name}=; Path=/; Max-Age=0{http_only}"),
            )
        })
        .collect()
}

fn parse_go_bool(s: Option<String>) -> bool {
    matches!(
        s.as_deref(),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True")
    )
}

/// The length `json.Marshal` gives a `StringMap`, in runes: Go also escapes `<`, `>`, `&`,
/// U+2028 and U+2029 as `\uXXXX`.
fn go_json_runes(m: &StringMap) -> usize {
    let s = serde_json::to_string(m).unwrap_or_default();
    s.chars().count()
        + 5 * s
            .chars()
            .filter(|c| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'))
            .count()
}

/// `User.IsValid`, in its order (the password is already hashed, so `password_limit`
/// cannot fire).
fn is_valid(u: &MmUser) -> Result<(), AppErr> {
    let runes = |s: &str| s.chars().count();
    if !validate::is_valid_id(&u.id) {
        return Err(AppErr::invalid_user("id"));
    }
    if u.create_at == 0 {
        return Err(AppErr::invalid_user("create_at"));
    }
    if u.update_at == 0 {
        return Err(AppErr::invalid_user("update_at"));
    }
    if !validate::is_valid_username(&u.username) {
        return Err(AppErr::invalid_user("username"));
    }
    if u.email.len() > 128 || u.email.is_empty() || !validate::is_valid_email(&u.email) {
        return Err(AppErr::invalid_user("email"));
    }
    if runes(&u.nickname) > 64 {
        return Err(AppErr::invalid_user("nickname"));
    }
    if runes(&u.position) > 128 {
        return Err(AppErr::invalid_user("position"));
    }
    if runes(&u.first_name) > 64 {
        return Err(AppErr::invalid_user("first_name"));
    }
    if runes(&u.last_name) > 64 {
        return Err(AppErr::invalid_user("last_name"));
    }
    let auth_data = u.auth_data.as_deref().unwrap_or("");
    if auth_data.len() > 128 {
        return Err(AppErr::invalid_user("auth_data"));
    }
    if !auth_data.is_empty() && u.auth_service.is_empty() {
        return Err(AppErr::invalid_user("auth_data_type"));
    }
    if !u.password.is_empty() && !auth_data.is_empty() {
        return Err(AppErr::invalid_user("auth_data_pwd"));
    }
    if !validate::is_valid_locale(&u.locale) {
        return Err(AppErr::invalid_user("locale"));
    }
    if !u.timezone.is_empty() && go_json_runes(&u.timezone) > 256 {
        return Err(AppErr::invalid_user("timezone_limit"));
    }
    if u.roles.len() > 256 {
        return Err(AppErr::invalid_user("roles_limit"));
    }
    Ok(())
}

/// `App.UpdateUser` → `SqlUserStore.Update(user, trusted)`: PreUpdate, IsValid, the fields
/// the store keeps from the stored row, then the unique indexes.
fn store_update(mm: &Mattermost, mut u: MmUser, trusted: bool) -> Result<MmUser, AppErr> {
    // PreUpdate
    u.username = go_lower(&sanitize_unicode(&u.username));
    u.first_name = sanitize_unicode(&u.first_name);
    u.last_name = sanitize_unicode(&u.last_name);
    u.nickname = sanitize_unicode(&u.nickname);
    u.email = go_lower(&u.email);
    u.update_at = util::now_ms();
    if u.auth_data.as_deref() == Some("") {
        u.auth_data = None;
    }
    if u.notify_props.is_empty() {
        u.notify_props = default_notify_props();
    }
    is_valid(&u)?;
    let mut st = mm.write();
    let Some(old) = st.get(&u.id).cloned() else {
        return Err(AppErr::new("app.user.update.find.app_error", 400));
    };
    u.create_at = old.create_at;
    u.auth_data = old.auth_data.clone();
    u.auth_service = old.auth_service.clone();
    u.password = old.password.clone();
    u.last_password_update = old.last_password_update;
    u.last_picture_update = old.last_picture_update;
    u.email_verified = old.email_verified;
    u.failed_attempts = old.failed_attempts;
    u.mfa_active = old.mfa_active;
    u.last_login = old.last_login;
    if !trusted {
        u.roles = old.roles.clone();
        u.delete_at = old.delete_at;
    }
    if OAUTH_SERVICES.contains(&u.auth_service.as_str()) {
        if !trusted {
            u.email = old.email.clone();
        }
    } else if u.is_ldap() && !trusted {
        if u.username != old.username || u.email != old.email {
            return Err(AppErr::new("app.user.update.find.app_error", 400));
        }
    } else if u.email != old.email {
        u.email_verified = false;
    }
    if u.username != old.username && st.by_username(&u.username).is_some() {
        return Err(AppErr::new("app.user.save.username_exists.app_error", 400));
    }
    if u.email != old.email && st.by_email(&u.email).is_some() {
        return Err(AppErr::new("app.user.save.email_exists.app_error", 400));
    }
    st.replace(u.clone());
    Ok(u)
}

/// How the caller sees another user (`SanitizeProfile(asAdmin)`).
fn profile_view(ctx: &Ctx, u: &MmUser) -> Value {
    u.view(if ctx.is_admin() {
        View::Admin
    } else {
        View::Public
    })
}

/// Yourself in full, others as a profile.
fn user_view(ctx: &Ctx, u: &MmUser) -> Value {
    if u.id == ctx.user_id() {
        u.view(View::Full)
    } else {
        profile_view(ctx, u)
    }
}

/// `User.Etag(showFullName, showEmail)`.
fn etag(mm: &Mattermost, u: &MmUser) -> String {
    format!(
        "{}.{}.{}..0.true.true.0",
        mm.settings().version,
        u.id,
        u.update_at
    )
}

/// `HandleEtag` then the user: 304 when `If-None-Match` is current.
fn with_etag(mm: &Mattermost, ctx: &Ctx, u: &MmUser, body: Value) -> HandlerResult {
    let tag = etag(mm, u);
    if ctx.req.header("if-none-match") == Some(tag.as_str()) {
        return Ok(Out {
            status: 304,
            body: Vec::new(),
            headers: Vec::new(),
        }
        .header("ETag", tag));
    }
    Ok(Out::json(200, &body).header("ETag", tag))
}

/// `checkUserLoginAttempts` + `checkUserPassword`: a wrong password counts a failed attempt.
pub(crate) fn check_password(mm: &Mattermost, user: &MmUser, password: &str) -> Result<(), AppErr> {
    if user.failed_attempts >= super::MAX_LOGIN_ATTEMPTS {
        return Err(AppErr::new(
            "api.user.check_user_login_attempts.too_many.app_error",
            401,
        ));
    }
    let ok = !password.is_empty()
        && !user.password.is_empty()
        && match user.password.strip_prefix(crate::util::UNHASHED) {
            Some(d) => d == crate::util::sha256_hex(password),
            None => bcrypt::verify(password, &user.password).unwrap_or(false),
        };
    let mut st = mm.write();
    if let Some(mut u) = st.get(&user.id).cloned() {
        let attempts = if ok { 0 } else { u.failed_attempts + 1 };
        if u.failed_attempts != attempts {
            u.failed_attempts = attempts;
            st.replace(u);
        }
    }
    if ok {
        Ok(())
    } else {
        Err(AppErr::new(
            "api.user.check_user_password.invalid.app_error",
            401,
        ))
    }
}

// ----- login / logout ---------------------------------------------------------------------

/// `POST /users/login`: 200 (never 201) with the session token in the `Token` header.
pub(crate) fn login(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    match login_inner(mm, ctx) {
        Err(e) if !LOGIN_UNMASKED.contains(&e.id.as_str()) => Err(AppErr::new(
            "api.user.login.invalid_credentials_email_username",
            401,
        )),
        other => other,
    }
}

fn login_inner(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let props = decode::map_from_json(&ctx.req.body);
    let get = |k: &str| props.get(k).map(String::as_str).unwrap_or("");
    let (id, login_id, password) = (get("id"), get("login_id"), get("password"));
    let ldap_only = get("ldap_only") == "true";
    if password.is_empty() {
        return Err(AppErr::new("api.user.login.blank_pwd.app_error", 400));
    }
    // GetUserForLogin: by id, else `Username = lower(?) OR Email = lower(?)`, exactly one.
    let user = {
        let st = mm.read();
        if !id.is_empty() {
            st.get(id).cloned()
        } else {
            let l = go_lower(login_id);
            match (st.by_username(&l), st.by_email(&l)) {
                (Some(a), Some(b)) if a.id != b.id => None,
                (Some(a), _) | (None, Some(a)) => Some(a.clone()),
                (None, None) => None,
            }
        }
    };
    let Some(user) = user else {
        return Err(AppErr::new("app.user.get_for_login.app_error", 400));
    };
    // `AuthenticateUserForLogin`: bots never log in with a password.
    if user.is_bot {
        return Err(AppErr::new(
            "api.user.login.bot_login_forbidden.app_error",
            401,
        ));
    }
    if ldap_only && !user.is_ldap() {
        return Err(AppErr::new("api.user.login.invalid_credentials", 401));
    }
    // No directory to bind against, and no SSO provider: such users cannot log in here.
    if user.is_ldap() {
        return Err(AppErr::new(
            "api.user.login_ldap.not_available.app_error",
            501,
        ));
    }
    if !user.auth_service.is_empty() {
        return Err(AppErr::new(
            "api.user.login.use_auth_service.app_error",
            400,
        ));
    }
    check_password(mm, &user, password)?;
    if !user.is_active() {
        return Err(AppErr::new("api.user.login.inactive.app_error", 401));
    }
    let now = util::now_ms();
    let (token, csrf) = (random_id(), random_id());
    let session = Session {
        id: random_id(),
        token_hash: util::sha256_hex(&token),
        user_id: user.id.clone(),
        create_at: now,
        expires_at: now + SESSION_LENGTH_MS,
        csrf_hash: util::sha256_hex(&csrf),
    };
    let current = {
        let mut st = mm.write();
        st.add_session(session.clone());
        // `App.DoLogin` → `UpdateLastLogin(user, session.CreateAt)`.
        if let Some(mut u) = st.get(&user.id).cloned() {
            u.last_login = session.create_at;
            st.replace(u);
        }
        st.get(&user.id).cloned().unwrap_or(user)
    };
    let mut out = Out::json(200, &current.view(View::Full)).header("Token", token.clone());
    // Cookies only for browsers (`X-Requested-With: XMLHttpRequest`).
    if ctx.req.header("x-requested-with") == Some("XMLHttpRequest") {
        let max_age = SESSION_LENGTH_MS / 1000;
        let expires = httpdate::fmt_http_date(
            std::time::SystemTime::now() + std::time::Duration::from_secs(max_age as u64),
        );
        for (name, value, http_only) in [
            ("MMAUTHTOKEN", &token, "; HttpOnly"),
            ("MMUSERID", &current.id, ""),
            ("MMCSRF", &csrf, ""),
        ] {
            out = out.header(
                "Set-Cookie",
                format!(
                    "{name}={value}; Path=/; Expires={expires}; Max-Age={max_age}{http_only}; SameSite=Lax"
                ),
            );
        }
    }
    Ok(out)
}

/// `POST /users/logout`: revokes the session if there is one; always OK.
pub(crate) fn logout(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    if let Some(s) = &ctx.session {
        mm.write().revoke_session(&s.token_hash);
    }
    let mut out = Out::status_ok();
    out.headers = expired_cookies();
    Ok(out)
}

// ----- create -----------------------------------------------------------------------------

/// `POST /users`: the admin path with `manage_system`, the signup path otherwise.
pub(crate) fn create(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let f = decode::decode_struct(&ctx.req.body, USER_FIELDS)
        .map_err(|_| AppErr::invalid_body("user"))?;
    let s = |n: &str| get_str(&f, n).unwrap_or_default();
    let admin = ctx.is_admin();
    let mut auth_data = get_str(&f, "auth_data");
    let mut auth_service = s("auth_service");
    let mut email_verified = get_bool(&f, "email_verified").unwrap_or(false);
    // SanitizeInput(isAdmin)
    if !admin {
        auth_data = None;
        auth_service.clear();
        email_verified = false;
    }
    let email = s("email").trim().to_string();
    if !admin {
        // CreateUserFromSignup: signup with email and user creation are on by default; an
        // open server is not, and the first user exists.
        if !mm.settings().open_server {
            return Err(AppErr::new("api.user.create_user.no_open_server", 403));
        }
        email_verified = false;
    }
    // CreateUser: the client's roles are replaced; an unsupported locale becomes "en".
    let mut locale = s("locale");
    if !validate::is_supported_locale(&locale) {
        locale = "en".to_string();
    }
    let password = s("password");
    if auth_service.is_empty() {
        let policy = mm.settings().password;
        policy.check(&password).map_err(|id| AppErr {
            param: Some(policy.minimum_length.to_string()),
            ..AppErr::new(&id, 400)
        })?;
    }
    // SqlUserStore.Save refuses a user that already has an id.
    if !s("id").is_empty() {
        return Err(AppErr::new("app.user.save.existing.app_error", 400));
    }
    // PreSave
    let now = util::now_ms();
    let mut username = s("username");
    if username.is_empty() {
        username = mm.new_user_id();
    }
    if auth_data.as_deref() == Some("") {
        auth_data = None;
    }
    let create_at = get_int(&f, "create_at").filter(|&t| t != 0).unwrap_or(now);
    let notify_props = get_map(&f, "notify_props")
        .filter(|m| !m.is_empty())
        .unwrap_or_else(default_notify_props);
    let hash = if password.is_empty() {
        String::new()
    } else {
        mm.hash_password(&password)?
    };
    let user = MmUser {
        id: mm.new_user_id(),
        create_at,
        update_at: create_at,
        delete_at: 0,
        username: go_lower(&sanitize_unicode(&username)),
        password: hash,
        auth_data,
        auth_service,
        email: go_lower(&email),
        email_verified,
        nickname: sanitize_unicode(&s("nickname")),
        first_name: sanitize_unicode(&s("first_name")),
        last_name: sanitize_unicode(&s("last_name")),
        position: s("position"),
        roles: "system_user".to_string(),
        props: get_map(&f, "props").unwrap_or_default(),
        notify_props,
        last_password_update: create_at,
        last_picture_update: 0,
        failed_attempts: 0,
        locale,
        timezone: get_map(&f, "timezone").unwrap_or_else(default_timezone),
        disable_welcome_email: get_bool(&f, "disable_welcome_email").unwrap_or(false),
        // `SanitizeInput` clears a client's mfa_active; LastLogin is no input at all.
        last_login: 0,
        mfa_active: false,
        mfa_secret: String::new(),
        is_bot: false,
    };
    is_valid(&user)?;
    // The unique indexes, in the order the table declares them.
    let mut st = mm.write();
    if st.by_username(&user.username).is_some() {
        return Err(AppErr::new("app.user.save.username_exists.app_error", 400));
    }
    if st.by_email(&user.email).is_some() {
        return Err(AppErr::new("app.user.save.email_exists.app_error", 400));
    }
    if let Some(a) = &user.auth_data
        && st.by_auth_data(a).is_some()
    {
        return Err(AppErr::new("app.user.save.existing.app_error", 400));
    }
    st.insert(user.clone());
    Ok(Out::json(201, &user.view(View::Full)))
}

fn get_int(f: &HashMap<&'static str, Value>, name: &str) -> Option<i64> {
    f.get(name).and_then(Value::as_i64)
}

// ----- reads ------------------------------------------------------------------------------

/// `GET /users/{id}` (also `me`).
pub(crate) fn get(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let user = mm.read().get(&id).cloned();
    let Some(user) = user else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    with_etag(mm, ctx, &user, user_view(ctx, &user))
}

/// `GET /users/username/{username}`: the path must already be a valid (lowercase) username.
pub(crate) fn get_by_username(mm: &Mattermost, ctx: &Ctx, username: &str) -> HandlerResult {
    if !validate::is_valid_username(username) {
        return Err(AppErr::invalid_body("username"));
    }
    let user = mm.read().by_username(username).cloned();
    let Some(user) = user else {
        return Err(AppErr::new("app.user.get_by_username.app_error", 404));
    };
    with_etag(mm, ctx, &user, profile_view(ctx, &user))
}

/// `GET /users/email/{email}`: lowercased, then validated.
pub(crate) fn get_by_email(mm: &Mattermost, ctx: &Ctx, email: &str) -> HandlerResult {
    let email = go_lower(email);
    if !validate::is_valid_email(&email) {
        return Err(AppErr::invalid_url("email"));
    }
    let user = mm.read().by_email(&email).cloned();
    let Some(user) = user else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    with_etag(mm, ctx, &user, profile_view(ctx, &user))
}

/// `POST /users/usernames`: exact (case-sensitive) matches, unknown names left out,
/// deactivated users included, sorted by username.
pub(crate) fn by_usernames(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let names =
        decode::string_array(&ctx.req.body).map_err(|_| AppErr::invalid_body("usernames"))?;
    if names.is_empty() {
        return Err(AppErr::invalid_body("usernames"));
    }
    let st = mm.read();
    let mut found: Vec<&MmUser> = names.iter().filter_map(|n| st.by_username(n)).collect();
    found.sort_by(|a, b| a.username.cmp(&b.username));
    let list: Vec<Value> = found.iter().map(|u| profile_view(ctx, u)).collect();
    Ok(Out::json(200, &Value::Array(list)))
}

/// `POST /users/ids`, with `?since=` (update_at strictly after).
pub(crate) fn by_ids(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let ids = decode::string_array(&ctx.req.body).map_err(|_| AppErr::invalid_body("user_ids"))?;
    if ids.is_empty() {
        return Err(AppErr::invalid_body("user_ids"));
    }
    let since = match ctx.req.query_param("since").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| AppErr::invalid_body("since"))?,
        ),
        None => None,
    };
    let st = mm.read();
    let mut found: Vec<&MmUser> = ids
        .iter()
        .filter_map(|id| st.get(id))
        .filter(|u| since.is_none_or(|t| u.update_at > t))
        .collect();
    found.sort_by(|a, b| a.username.cmp(&b.username));
    let list: Vec<Value> = found.iter().map(|u| profile_view(ctx, u)).collect();
    Ok(Out::json(200, &Value::Array(list)))
}

/// `GET /users/stats`: active users.
pub(crate) fn stats(mm: &Mattermost) -> HandlerResult {
    let n = mm.read().sorted().filter(|u| u.is_active()).count();
    Ok(Out::json(200, &serde_json::json!({"total_users_count": n})))
}

/// `GET /users/stats/filtered` (api4/user.go getFilteredUsersStats): the users count,
/// deactivated ones too with `include_deleted=true` (bots: the sandbox has none).
pub(crate) fn stats_filtered(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let deleted = ctx.req.query_param("include_deleted").as_deref() == Some("true");
    let n = mm
        .read()
        .sorted()
        .filter(|u| deleted || u.is_active())
        .count();
    Ok(Out::json(200, &serde_json::json!({"total_users_count": n})))
}

/// `strconv.Atoi` with the server's fallbacks (`web/params.go`).
fn atoi(s: Option<String>) -> Option<i64> {
    s.and_then(|v| v.parse::<i64>().ok())
}

/// `GET /users`: 60 per page by default, at most 200 (larger values are clamped), sorted by
/// username, deactivated users included unless `active=true`.
pub(crate) fn list(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let q = |k: &str| ctx.req.query_param(k);
    let qs = |k: &str| q(k).unwrap_or_default();
    let page = atoi(q("page")).filter(|&p| p >= 0).unwrap_or(0);
    let per_page = match atoi(q("per_page")).or_else(|| atoi(q("pageSize"))) {
        Some(n) if n < 0 => 60,
        Some(n) => n.min(200),
        None => 60,
    };
    let sort = qs("sort");
    let (in_team, not_in_team) = (qs("in_team"), qs("not_in_team"));
    let (in_channel, in_group) = (qs("in_channel"), qs("in_group"));
    if !sort.is_empty()
        && ![
            "last_activity_at",
            "create_at",
            "status",
            "admin",
            "display_name",
        ]
        .contains(&sort.as_str())
    {
        return Err(AppErr::invalid_url("sort"));
    }
    let sort_ok = match sort.as_str() {
        "last_activity_at" | "create_at" => !in_team.is_empty() && not_in_team.is_empty(),
        "status" | "admin" => !in_channel.is_empty(),
        "display_name" => !in_group.is_empty(),
        _ => true,
    };
    if !sort_ok {
        return Err(AppErr::invalid_url("sort"));
    }
    // There are no teams: only an admin may look inside one, and it is empty.
    if !in_team.is_empty() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let inactive = parse_go_bool(q("inactive"));
    let active = parse_go_bool(q("active"));
    let role = qs("role");
    let roles: Vec<String> = qs("roles")
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    let empty_scope = !in_team.is_empty() || !in_channel.is_empty() || !in_group.is_empty();
    let list: Vec<Value> = if empty_scope {
        Vec::new()
    } else {
        let st = mm.read();
        st.sorted()
            .filter(|u| {
                if inactive {
                    !u.is_active()
                } else if active {
                    u.is_active()
                } else {
                    true
                }
            })
            // `Roles LIKE %role%`: a substring match, as the SQL does it.
            .filter(|u| role.is_empty() || u.roles.contains(role.as_str()))
            .filter(|u| roles.is_empty() || roles.iter().any(|r| u.roles.contains(r.as_str())))
            .skip(usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX))
            .take(usize::try_from(per_page).unwrap_or(0))
            .map(|u| profile_view(ctx, u))
            .collect()
    };
    let mut out = Out::json(200, &Value::Array(list));
    if inactive && active {
        // The handler sets the error without returning: the list is written, then the
        // error JSON is appended to the same 200 body.
        let e = AppErr::invalid_url("inactive");
        out.body
            .extend(serde_json::to_vec(&e.body(&ctx.request_id)).unwrap_or_default());
    }
    Ok(out)
}

// ----- writes -----------------------------------------------------------------------------

/// The fields a login provider owns that a patch would change (`CheckProviderAttributes`).
fn provider_conflict(u: &MmUser, p: &HashMap<&'static str, Value>) -> Option<&'static str> {
    let changing = |field: &str, current: &str| get_str(p, field).is_some_and(|new| new != current);
    if !u.auth_service.is_empty() && changing("username", &u.username) {
        return Some("username");
    }
    if u.is_ldap() {
        // Every profile attribute is mapped in the emulated LdapSettings.
        for (field, current) in [
            ("first_name", &u.first_name),
            ("last_name", &u.last_name),
            ("nickname", &u.nickname),
            ("email", &u.email),
            ("position", &u.position),
        ] {
            if changing(field, current) {
                return Some(field);
            }
        }
    } else if OAUTH_SERVICES.contains(&u.auth_service.as_str())
        && (changing("first_name", &u.first_name) || changing("last_name", &u.last_name))
    {
        return Some("full name");
    }
    None
}

/// `PUT /users/{id}/patch`: only the fields present and non-null change; `props` and
/// `notify_props` replace the whole map.
pub(crate) fn patch(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let p = decode::decode_struct(&ctx.req.body, PATCH_FIELDS)
        .map_err(|_| AppErr::invalid_body("user"))?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let Some(old) = mm.read().get(&id).cloned() else {
        return Err(AppErr::invalid_body("user_id"));
    };
    if old.is_system_admin() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    if let Some(field) = provider_conflict(&old, &p) {
        return Err(AppErr {
            param: Some(field.to_string()),
            ..AppErr::new(
                "api.user.patch_user.login_provider_attribute_set.app_error",
                409,
            )
        });
    }
    if let Some(email) = get_str(&p, "email")
        && email != old.email
        && id == ctx.user_id()
    {
        match get_str(&p, "password") {
            None => return Err(AppErr::invalid_body("password")),
            Some(pw) => check_password(mm, &old, &pw)?,
        }
    }
    let mut u = old.clone();
    let set = |field: &str, target: &mut String| {
        if let Some(v) = get_str(&p, field) {
            *target = v;
        }
    };
    set("username", &mut u.username);
    set("nickname", &mut u.nickname);
    set("first_name", &mut u.first_name);
    set("last_name", &mut u.last_name);
    set("position", &mut u.position);
    set("email", &mut u.email);
    set("locale", &mut u.locale);
    if let Some(m) = get_map(&p, "props") {
        u.props = m;
    }
    if let Some(m) = get_map(&p, "notify_props") {
        u.notify_props = m;
    }
    if let Some(m) = get_map(&p, "timezone") {
        u.timezone = m;
    }
    let saved = store_update(mm, u, false)?;
    Ok(Out::json(200, &user_view(ctx, &saved)))
}

/// `PUT /users/{id}`: every field of the body replaces the stored one (absent = empty);
/// roles, deactivation, password and auth fields are kept.
pub(crate) fn update(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let f = decode::decode_struct(&ctx.req.body, USER_FIELDS)
        .map_err(|_| AppErr::invalid_body("user"))?;
    let s = |n: &str| get_str(&f, n).unwrap_or_default();
    if s("id") != id {
        return Err(AppErr::invalid_body("user_id"));
    }
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let Some(old) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    if old.is_system_admin() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    // `user.ToPatch()`: every field counts as sent.
    let mut as_patch: HashMap<&'static str, Value> = HashMap::new();
    for field in [
        "username",
        "first_name",
        "last_name",
        "nickname",
        "email",
        "position",
    ] {
        as_patch.insert(field, Value::String(s(field)));
    }
    if let Some(field) = provider_conflict(&old, &as_patch) {
        return Err(AppErr {
            param: Some(field.to_string()),
            ..AppErr::new(
                "api.user.update_user.login_provider_attribute_set.app_error",
                409,
            )
        });
    }
    let email = s("email");
    if !email.is_empty()
        && email != old.email
        && id == ctx.user_id()
        && check_password(mm, &old, &s("password")).is_err()
    {
        return Err(AppErr::invalid_body("password"));
    }
    let u = MmUser {
        username: s("username"),
        nickname: s("nickname"),
        first_name: s("first_name"),
        last_name: s("last_name"),
        position: s("position"),
        email,
        locale: s("locale"),
        props: get_map(&f, "props").unwrap_or_default(),
        notify_props: get_map(&f, "notify_props").unwrap_or_default(),
        timezone: get_map(&f, "timezone").unwrap_or_default(),
        disable_welcome_email: get_bool(&f, "disable_welcome_email").unwrap_or(false),
        ..old
    };
    let saved = store_update(mm, u, false)?;
    Ok(Out::json(200, &user_view(ctx, &saved)))
}

/// `PUT /users/{id}/roles` with `{"roles": "system_user system_admin"}`.
pub(crate) fn update_roles(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    // MapFromJSON: a non-string `roles` (an array, say) reads as "" and clears the roles.
    let props = decode::map_from_json(&ctx.req.body);
    let roles = props.get("roles").cloned().unwrap_or_default();
    if !validate::is_valid_user_roles(&roles) {
        return Err(AppErr::invalid_body("roles"));
    }
    if !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let Some(mut u) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 400));
    };
    if roles.split_whitespace().any(|r| !Mattermost::known_role(r)) {
        return Err(AppErr::new(
            "app.role.check_roles_exist.role_not_found",
            400,
        ));
    }
    // `strings.Contains(newRoles, "system_admin")`.
    if u.is_system_admin()
        && !roles.contains("system_admin")
        && mm.read().count_active_admins() <= 1
    {
        return Err(AppErr::new("app.user.update.lastAdmin.app_error", 400));
    }
    u.roles = roles;
    store_update(mm, u, true)?;
    Ok(Out::status_ok())
}

/// `App.UpdateActive`: delete_at set (or cleared), sessions revoked on deactivation.
fn set_active(mm: &Mattermost, mut u: MmUser, active: bool) -> Result<(), AppErr> {
    let now = util::now_ms();
    u.update_at = now;
    u.delete_at = if active { 0 } else { now };
    let id = u.id.clone();
    store_update(mm, u, true)?;
    if !active {
        mm.write().revoke_all_sessions(&id);
    }
    Ok(())
}

/// `PUT /users/{id}/active` with `{"active": bool}` (a JSON boolean, nothing else).
pub(crate) fn update_active(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let props = decode::string_interface_from_json(&ctx.req.body);
    let Some(active) = props.get("active").and_then(Value::as_bool) else {
        return Err(AppErr::invalid_body("active"));
    };
    let self_deactivate = !active && id == ctx.user_id();
    if !self_deactivate && !ctx.is_admin() {
        return Err(AppErr::new(
            "api.user.update_active.permissions.app_error",
            403,
        ));
    }
    // TeamSettings.EnableUserDeactivation is off.
    if self_deactivate {
        return Err(AppErr::new(
            "api.user.update_active.not_enable.app_error",
            401,
        ));
    }
    let Some(u) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    if u.is_system_admin() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    if u.is_ldap() {
        return Err(AppErr::new(
            "api.user.update_active.cannot_modify_status_when_user_is_managed_by_ldap.app_error",
            403,
        ));
    }
    // GuestAccountsSettings.Enable is off.
    if active && u.has_role("system_guest") {
        return Err(AppErr::new(
            "api.user.update_active.cannot_enable_guest_when_guest_feature_is_disabled.app_error",
            401,
        ));
    }
    set_active(mm, u, active)?;
    Ok(Out::status_ok())
}

/// `GET /users/{id}/sessions` (`getSessions` in `server/channels/api4/user.go`): every
/// stored session of the user, newest activity first, tokens blanked
/// (`Session.Sanitize`). Self or an admin (`SessionHasPermissionToUser`), else 403.
pub(crate) fn sessions(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let st = mm.read();
    let mut v: Vec<_> = st
        .sessions_sorted()
        .into_iter()
        .filter(|s| s.user_id == id)
        .collect();
    v.reverse();
    let list: Vec<Value> = v
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "token": "", "create_at": s.create_at,
                "expires_at": s.expires_at, "last_activity_at": s.create_at,
                "user_id": s.user_id, "device_id": "", "roles": "", "is_oauth": false,
                "expired_notify": false, "props": {}, "local": false,
            })
        })
        .collect();
    Ok(Out::json(200, &Value::Array(list)))
}

/// `POST /users/{id}/sessions/revoke/all` (`revokeAllSessionsForUser` in
/// `server/channels/api4/user.go`): self or an admin (`SessionHasPermissionToUser`, else
/// 403 edit_other_users); deletes every session row (`App.RevokeAllSessions`); personal
/// access tokens stay. Repeating it is harmless.
pub(crate) fn revoke_all_sessions(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    mm.write().revoke_all_sessions(&id);
    Ok(Out::status_ok())
}

/// `DELETE /users/{id}`: deactivation; `?permanent=true` only with EnableAPIUserDeletion.
pub(crate) fn delete(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    if id == ctx.user_id() && !ctx.is_admin() {
        return Err(AppErr::new(
            "api.user.update_active.not_enable.app_error",
            401,
        ));
    }
    let Some(u) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    if u.is_system_admin() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    if parse_go_bool(ctx.req.query_param("permanent")) {
        if !mm.settings().enable_api_user_deletion {
            return Err(AppErr::new(
                "api.user.delete_user.not_enabled.app_error",
                401,
            ));
        }
        mm.write().remove(&id);
    } else {
        set_active(mm, u, false)?;
    }
    Ok(Out::status_ok())
}
