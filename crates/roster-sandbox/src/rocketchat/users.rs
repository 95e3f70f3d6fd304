//! login, logout, me and the users.* endpoints.

use serde_json::{Map, Value, json};

use super::ajv::{self, Obj, Type, nullable, prop, strings};
use super::store::{Email, RcUser, fold};
use super::{Ctx, RocketChat, has_perm, is_known_role};
use crate::http::{Request, Response};
use crate::util;

const MAX_BIO_LENGTH: usize = 260;
const MAX_NICKNAME_LENGTH: usize = 120;
/// `Accounts_SystemBlockedUsernameList` default.
const SYSTEM_BLOCKED: &[&str] = &["admin", "administrator", "system", "user"];

// ----- small helpers --------------------------------------------------------------------

/// JavaScript truthiness of an optional JSON value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(_) => true,
    }
}

fn get_str<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn get_bool(m: &Map<String, Value>, k: &str) -> Option<bool> {
    m.get(k).and_then(Value::as_bool)
}

fn get_roles(m: &Map<String, Value>) -> Option<Vec<String>> {
    m.get("roles").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

/// JS `String(x).trim()` of a custom-field value (undefined → "").
fn js_trim(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string().trim().to_string(),
    }
}

fn user_view(caller_can_view_full: bool, u: &RcUser) -> Value {
    if caller_can_view_full {
        u.full_view()
    } else {
        u.limited_view()
    }
}

/// `validateNameChars`: no `<`, `>`, `\` or `/`, also after `decodeURI`; a name
/// `decodeURI` rejects is invalid too.
pub(crate) fn validate_name_chars(name: &str) -> bool {
    if name.contains(['<', '>', '\\', '/']) {
        return false;
    }
    match decode_uri(name) {
        Some(decoded) => !decoded.contains(['<', '>', '\\', '/']),
        None => false,
    }
}

/// JavaScript `decodeURI`: %XX sequences decoded, except those of reserved characters
/// (`; / ? : @ & = + $ , #`), which stay encoded; malformed input is an error (None).
fn decode_uri(s: &str) -> Option<String> {
    const RESERVED: &[u8] = b";/?:@&=+$,#";
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if b < 0x80 && RESERVED.contains(&b) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b);
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The default `UTF8_User_Names_Validation`: `^[0-9a-zA-Z-_.]+$`.
fn valid_username(u: &str) -> bool {
    !u.is_empty()
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `all`, `here` (Accounts_BlockedUsernameList) and the system list, case-insensitively.
fn blocked_username(u: &str) -> bool {
    let l = fold(u.trim());
    l == "all" || l == "here" || SYSTEM_BLOCKED.contains(&l.as_str())
}

/// `validateEmail` in 'basic' mode.
fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    }
}

fn invalid_email(email: &str) -> Response {
    RocketChat::meteor_error(
        "error-invalid-email",
        &format!("Invalid email {email}"),
        Some(json!({"function": "RocketChat.validateEmailDomain", "email": email})),
    )
}

fn action_not_allowed(reason: &str, action: &str) -> Response {
    RocketChat::meteor_error(
        "error-action-not-allowed",
        reason,
        Some(json!({"method": "insertOrUpdateUser", "action": action})),
    )
}

fn field_required(field: &str) -> Response {
    RocketChat::meteor_error(
        "error-the-field-is-required",
        &format!("The field {field} is required"),
        Some(json!({"method": "insertOrUpdateUser", "field": field})),
    )
}

fn could_not_save_identity() -> Response {
    RocketChat::meteor_error(
        "error-could-not-save-identity",
        "Could not save user identity",
        Some(json!({"method": "saveUser"})),
    )
}

fn too_many_function_calls(o: &super::limiter::Outcome) -> Response {
    Response::json(
        429,
        &json!({"success": false, "error": RocketChat::too_many_message(o)}),
    )
}

fn custom_field_error(reason: String) -> Response {
    RocketChat::meteor_error(
        "error-user-registration-custom-field",
        &reason,
        Some(json!({"method": "registerUser"})),
    )
}

/// `validateCustomFields` against `Accounts_CustomFields` (§7).
fn validate_custom_fields(rc: &RocketChat, fields: &Value) -> Result<(), Response> {
    let Some(setting) = &rc.settings.custom_fields else {
        return Ok(());
    };
    let Value::Object(meta) = setting else {
        return Err(RocketChat::meteor_error(
            "error-invalid-customfield-json",
            "Invalid JSON for Custom Fields",
            None,
        ));
    };
    let empty = Map::new();
    let sent = fields.as_object().unwrap_or(&empty);
    for (name, def) in meta {
        let raw = sent.get(name);
        let value = js_trim(raw);
        let len = value.chars().count();
        if def.get("required").and_then(Value::as_bool) == Some(true) && value.is_empty() {
            return Err(custom_field_error(format!("Field {name} is required")));
        }
        if def.get("type").and_then(Value::as_str) == Some("select") {
            let options = def.get("options").and_then(Value::as_array);
            let ok = match (options, raw) {
                (Some(opts), Some(v)) => opts.contains(v),
                _ => false,
            };
            if !ok {
                return Err(custom_field_error(format!(
                    "Value for field {name} is invalid"
                )));
            }
        }
        if let Some(max) = def.get("maxLength").and_then(Value::as_u64)
            && max > 0
            && len as u64 > max
        {
            return Err(custom_field_error(format!(
                "Max length of field {name} {max}"
            )));
        }
        if let Some(min) = def.get("minLength").and_then(Value::as_u64)
            && min > 0
            && len > 0
            && (len as u64) < min
        {
            return Err(custom_field_error(format!(
                "Min length of field {name} {min}"
            )));
        }
    }
    Ok(())
}

/// What gets stored: None = leave alone (empty setting, values dropped); otherwise the
/// defined keys that were sent, replacing the whole object.
fn stored_custom_fields(rc: &RocketChat, fields: &Value) -> Option<Map<String, Value>> {
    let Some(Value::Object(meta)) = &rc.settings.custom_fields else {
        return None;
    };
    let sent = fields.as_object()?;
    Some(
        meta.keys()
            .filter_map(|k| sent.get(k).map(|v| (k.clone(), v.clone())))
            .collect(),
    )
}

/// `setUserActiveStatus`: Ok(None) when the user does not exist (the server returns
/// `false` and the route answers `{user: null}`).
fn set_active(rc: &RocketChat, user_id: &str, active: bool) -> Result<Option<()>, Response> {
    let mut st = rc.write();
    let Some(u) = st.get(user_id) else {
        return Ok(None);
    };
    if !active && u.roles.iter().any(|r| r == "admin") && st.count_active_admins() == 1 {
        return Err(RocketChat::meteor_error(
            "error-action-not-allowed",
            "Leaving the app without an active admin is not allowed",
            Some(json!({"method": "removeUserFromRole", "action": "Remove_last_admin"})),
        ));
    }
    let now = util::now_ms();
    st.update(user_id, |u| {
        u.active = active;
        u.updated_at = now;
        if !active {
            // Deactivation logs the user out everywhere.
            u.tokens.clear();
        }
    });
    Ok(Some(()))
}

// ----- login / logout / me --------------------------------------------------------------

fn bad_credentials() -> Response {
    Response::json(
        401,
        &json!({
            "success": false,
            "error": 401,
            "status": "error",
            "message": "Incorrect login or password"
        }),
    )
}

fn not_activated() -> Response {
    Response::json(
        401,
        &json!({
            "success": false,
            "error": "error-user-is-not-activated",
            "status": "error",
            "message": "User is not activated"
        }),
    )
}

fn login_success(rc: &RocketChat, user_id: &str) -> Response {
    let Some(token) = rc.issue_token(user_id) else {
        return bad_credentials();
    };
    let me = match rc.read().get(user_id) {
        Some(u) => u.me_view(),
        None => return bad_credentials(),
    };
    RocketChat::success(json!({
        "status": "success",
        "data": {"userId": user_id, "authToken": token, "me": me}
    }))
}

/// POST /api/v1/login: `{user|username|email, password}` or `{resume}`.
pub(super) fn login(rc: &RocketChat, _req: &Request, params: Value) -> Response {
    let empty = Map::new();
    let p = params.as_object().unwrap_or(&empty);
    if let Some(resume) = get_str(p, "resume") {
        let hashed = util::sha256_hex(resume);
        let found = rc
            .read()
            .by_token(&hashed)
            .map(|u| (u.id.clone(), u.active));
        return match found {
            Some((id, true)) => login_success(rc, &id),
            Some((_, false)) => not_activated(),
            None => bad_credentials(),
        };
    }
    let digest = match p.get("password") {
        Some(Value::String(s)) if !s.is_empty() => util::sha256_hex(s),
        Some(Value::Object(o)) => match o.get("hashed").and_then(Value::as_str) {
            Some(h) => h.to_ascii_lowercase(),
            None => return bad_credentials(),
        },
        _ => return bad_credentials(),
    };
    let found = {
        let st = rc.read();
        let user = if let Some(u) = get_str(p, "user") {
            if u.contains('@') {
                st.by_email(u)
            } else {
                st.by_username(u)
            }
        } else if let Some(u) = get_str(p, "username") {
            st.by_username(u)
        } else if let Some(e) = get_str(p, "email") {
            st.by_email(e)
        } else {
            None
        };
        user.map(|u| (u.id.clone(), u.bcrypt.clone(), u.active))
    };
    let Some((id, Some(hash), active)) = found else {
        return bad_credentials();
    };
    // bcrypt outside any lock: at cost 10 it takes a while, like on the real server.
    if !util::meteor_digest_matches(&digest, &hash) {
        return bad_credentials();
    }
    if !active {
        return not_activated();
    }
    login_success(rc, &id)
}

/// POST /api/v1/logout: removes the current token only.
pub(super) fn logout(rc: &RocketChat, ctx: &Ctx) -> Response {
    let hashed = ctx.caller.hashed_token.clone();
    rc.write().update(&ctx.caller.user.id, |u| {
        u.tokens.retain(|t| t.hashed != hashed)
    });
    Response::json(
        200,
        &json!({"status": "success", "data": {"message": "You've been logged out!"}}),
    )
}

/// GET /api/v1/me
pub(super) fn me(rc: &RocketChat, ctx: &Ctx) -> Response {
    match rc.read().get(&ctx.caller.user.id) {
        Some(u) => RocketChat::success(u.me_view()),
        None => RocketChat::failure("User not found"),
    }
}

// ----- users.create ---------------------------------------------------------------------

fn create_schema() -> Obj {
    Obj {
        props: vec![
            prop("email", Type::String),
            prop("name", Type::String),
            prop("password", Type::String),
            prop("username", Type::String),
            nullable("active", Type::Boolean),
            nullable("bio", Type::String),
            nullable("nickname", Type::String),
            nullable("statusText", Type::String),
            prop("roles", strings()),
            nullable("joinDefaultChannels", Type::Boolean),
            nullable("requirePasswordChange", Type::Boolean),
            nullable("setRandomPassword", Type::Boolean),
            nullable("sendWelcomeEmail", Type::Boolean),
            nullable("verified", Type::Boolean),
            prop("customFields", Type::Object(None)),
            nullable("freeSwitchExtension", Type::String),
            nullable("fields", Type::String),
        ],
        required: vec!["email", "name", "password", "username"],
        additional: false,
    }
}

/// POST /api/v1/users.create, in the order of rocketchat-api.md §4.
pub(super) fn create(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&create_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    let Value::Object(p) = params else {
        return RocketChat::invalid_params("must be object");
    };
    let name = get_str(&p, "name").unwrap_or("").to_string();
    let username = get_str(&p, "username").unwrap_or("").to_string();
    let email = get_str(&p, "email").unwrap_or("").to_string();
    let mut password = get_str(&p, "password").unwrap_or("").to_string();
    let caller = &ctx.caller;

    if !name.is_empty() && !validate_name_chars(&name) {
        return RocketChat::failure("Name contains invalid characters");
    }
    let custom = p.get("customFields").filter(|v| truthy(Some(v)));
    if let Some(cf) = custom
        && let Err(r) = validate_custom_fields(rc, cf)
    {
        return r;
    }

    // saveUser → validateUserData
    if !caller.can("create-user") {
        return action_not_allowed("Adding user is not allowed", "Adding_user");
    }
    let roles = get_roles(&p);
    if let Some(roles) = &roles {
        if roles.iter().any(|r| !is_known_role(r)) {
            return action_not_allowed("The field Roles consist invalid role id", "Assign_role");
        }
        if roles.iter().any(|r| r == "admin") && !caller.can("assign-admin-role") {
            return action_not_allowed("Assigning admin is not allowed", "Assign_admin");
        }
    }
    if name.trim().is_empty() {
        return field_required("Name");
    }
    if username.trim().is_empty() {
        return field_required("Username");
    }
    if !valid_username(&username) {
        return RocketChat::meteor_error(
            "error-input-is-not-a-valid-field",
            &format!("{} is not a valid username", util::html_escape(&username)),
            Some(json!({"method": "insertOrUpdateUser", "input": username, "field": "Username"})),
        );
    }
    let random_password = truthy(p.get("setRandomPassword"));
    if password.is_empty() && !random_password {
        return field_required("Password");
    }
    if blocked_username(&username) {
        return RocketChat::meteor_error(
            "error-blocked-username",
            &format!(
                "{} is blocked and can't be used!",
                util::html_escape(&username)
            ),
            Some(json!({"method": "checkUsernameAvailability", "field": username})),
        );
    }
    {
        let st = rc.read();
        if st.by_username(&username).is_some() {
            return RocketChat::meteor_error(
                "error-field-unavailable",
                &format!("{} is already in use :(", util::html_escape(&username)),
                Some(json!({"method": "insertOrUpdateUser", "field": username})),
            );
        }
        if !email.is_empty() && st.by_email(&email).is_some() {
            return RocketChat::meteor_error(
                "error-field-unavailable",
                &format!("{} is already in use :(", util::html_escape(&email)),
                Some(json!({"method": "insertOrUpdateUser", "field": email})),
            );
        }
    }
    let mut require_password_change = get_bool(&p, "requirePasswordChange");
    if random_password {
        password = util::random_password(17);
        require_password_change = Some(true);
    }

    // saveNewUser → validateEmailDomain
    if !valid_email(&email) {
        return invalid_email(&email);
    }
    let hash = match util::meteor_password_hash(&password, rc.settings.bcrypt_cost) {
        Ok(h) => h,
        Err(_) => return rc.internal(),
    };
    let now = util::now_ms();
    let mut user = RcUser::new(rc.ids.meteor_id(), username.clone(), now);
    user.emails = vec![Email {
        address: email.clone(),
        verified: false,
    }];
    user.bcrypt = Some(hash);

    // Accounts.createUser inserts before the profile update, whose bio/nickname checks
    // can still fail: the account then exists although the call answered 400.
    let bio = get_str(&p, "bio").map(str::to_string);
    let nickname = get_str(&p, "nickname").map(str::to_string);
    let profile_error = if bio
        .as_deref()
        .is_some_and(|b| !b.trim().is_empty() && b.chars().count() > MAX_BIO_LENGTH)
    {
        Some(RocketChat::meteor_error(
            "error-bio-size-exceeded",
            &format!("Bio size exceeds {MAX_BIO_LENGTH} characters"),
            Some(json!({"method": "saveUserProfile"})),
        ))
    } else if nickname
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty() && n.chars().count() > MAX_NICKNAME_LENGTH)
    {
        Some(RocketChat::meteor_error(
            "error-nickname-size-exceeded",
            &format!("Nickname size exceeds {MAX_NICKNAME_LENGTH} characters"),
            Some(json!({"method": "saveUserProfile"})),
        ))
    } else {
        None
    };
    if let Some(err) = profile_error {
        return match rc.insert_unique(user) {
            Ok(()) => err,
            Err(r) => r,
        };
    }

    user.name = Some(name);
    user.roles = match roles {
        Some(r) if !r.is_empty() => r,
        _ => vec!["user".into()],
    };
    user.require_password_change = require_password_change;
    if let Some(v) = get_bool(&p, "verified") {
        user.emails[0].verified = v;
    }
    user.bio = bio.filter(|b| !b.trim().is_empty());
    user.nickname = nickname.filter(|n| !n.trim().is_empty());
    if let Some(st) = get_str(&p, "statusText")
        && !st.is_empty()
    {
        user.status_text = Some(st.to_string());
    }
    if let Some(cf) = custom {
        user.custom_fields = stored_custom_fields(rc, cf);
    }
    let id = user.id.clone();
    if let Err(r) = rc.insert_unique(user) {
        return r;
    }
    // REST users.create sets joinDefaultChannels to true when absent.
    if get_bool(&p, "joinDefaultChannels") != Some(false) {
        super::rooms::join_default_channels(&mut rc.write(), &id);
    }
    if let Some(active) = get_bool(&p, "active")
        && let Err(r) = set_active(rc, &id, active)
    {
        return r;
    }
    let full = caller.can("view-full-other-user-info");
    match rc.read().get(&id) {
        Some(u) => RocketChat::success(json!({"user": user_view(full, u)})),
        None => RocketChat::failure("User not found"),
    }
}

// ----- users.update ---------------------------------------------------------------------

fn update_schema() -> Obj {
    let data = Obj {
        props: vec![
            nullable("email", Type::String),
            nullable("name", Type::String),
            nullable("password", Type::String),
            nullable("username", Type::String),
            nullable("bio", Type::String),
            nullable("nickname", Type::String),
            nullable("statusText", Type::String),
            nullable("active", Type::Boolean),
            nullable("roles", strings()),
            nullable("requirePasswordChange", Type::Boolean),
            nullable("setRandomPassword", Type::Boolean),
            nullable("sendWelcomeEmail", Type::Boolean),
            nullable("verified", Type::Boolean),
            nullable("customFields", Type::Object(None)),
            nullable("status", Type::String),
            nullable("freeSwitchExtension", Type::String),
        ],
        required: vec![],
        additional: false,
    };
    let mut user_id = prop("userId", Type::String);
    user_id.min_length = Some(1);
    Obj {
        props: vec![
            user_id,
            prop("confirmRelinquish", Type::Boolean),
            prop("data", Type::Object(Some(Box::new(data)))),
        ],
        required: vec!["userId", "data"],
        additional: false,
    }
}

/// POST /api/v1/users.update (2FA-protected), after `saveUser` / `validateUserEditing`.
pub(super) fn update(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&update_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    if let Err(r) = rc.check_two_factor(ctx) {
        return r;
    }
    let user_id = params
        .get("userId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let empty = Map::new();
    let data = params
        .get("data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let caller = &ctx.caller;
    let editing_myself = caller.user.id == user_id;

    if truthy(data.get("name")) && !validate_name_chars(get_str(data, "name").unwrap_or("")) {
        return RocketChat::failure("Name contains invalid characters");
    }

    // validateUserData (update branch)
    if truthy(data.get("verified")) && editing_myself {
        return RocketChat::meteor_error(
            "error-action-not-allowed",
            "Editing email verification is not allowed",
            Some(json!({"method": "insertOrUpdateUser", "action": "Editing_user"})),
        );
    }
    if !editing_myself && !caller.can("edit-other-user-info") {
        return action_not_allowed("Editing user is not allowed", "Editing_user");
    }
    let roles = get_roles(data);
    if let Some(roles) = &roles {
        if roles.iter().any(|r| !is_known_role(r)) {
            return action_not_allowed("The field Roles consist invalid role id", "Assign_role");
        }
        if roles.iter().any(|r| r == "admin") && !caller.can("assign-admin-role") {
            return action_not_allowed("Assigning admin is not allowed", "Assign_admin");
        }
    }
    let new_username = get_str(data, "username");
    if let Some(u) = new_username
        && !u.is_empty()
        && !valid_username(u)
    {
        return RocketChat::meteor_error(
            "error-input-is-not-a-valid-field",
            &format!("{} is not a valid username", util::html_escape(u)),
            Some(json!({"method": "insertOrUpdateUser", "input": u, "field": "Username"})),
        );
    }
    let mut password = get_str(data, "password").map(str::to_string);
    let mut require_password_change = get_bool(data, "requirePasswordChange");
    if truthy(data.get("setRandomPassword")) {
        password = Some(util::random_password(17));
        require_password_change = Some(true);
    }

    // validateUserEditing
    let Some(target) = rc.read().get(&user_id).cloned() else {
        return RocketChat::meteor_error("error-invalid-user", "Invalid user", None);
    };
    if let Some(new_roles) = &roles {
        let changed = new_roles.iter().any(|r| !target.roles.contains(r))
            || target.roles.iter().any(|r| !new_roles.contains(r));
        if changed && !caller.can("assign-roles") {
            return action_not_allowed("Assign roles is not allowed", "Assign_role");
        }
    }
    let custom = data.get("customFields").filter(|v| truthy(Some(v)));
    if let Some(cf) = custom
        && let Err(r) = validate_custom_fields(rc, cf)
    {
        return r;
    }
    // The hard-coded per-function limiters exempt holders of edit-other-user-info.
    let function_limited = !caller.can("edit-other-user-info");

    // saveUser applies a password only with edit-other-user-password and when the policy
    // (once enabled) accepts it; without the permission it is ignored, silently. A policy
    // refusal is thrown where the password is applied, after the identity and email.
    let settable = password
        .as_deref()
        .map(str::trim)
        .is_some_and(|pw| !pw.is_empty())
        && caller.can("edit-other-user-password");
    let policy_refusal = password
        .as_deref()
        .filter(|_| settable && rc.settings.password_policy)
        .and_then(super::secrets::policy_error);
    // Hash a new password before taking any lock (bcrypt is slow on purpose).
    let password_hash = match password.as_deref().map(str::trim) {
        Some(pw) if settable && policy_refusal.is_none() => {
            match util::meteor_password_hash(pw, rc.settings.bcrypt_cost) {
                Ok(h) => Some(h),
                Err(_) => return rc.internal(),
            }
        }
        _ => None,
    };

    // saveUserIdentity: username, then name.
    if data.contains_key("username") || data.contains_key("name") {
        if let Some(u) = new_username
            && u != target.username
        {
            if function_limited {
                let o = rc.limit_function("setUsername", &user_id);
                if !o.allowed {
                    return too_many_function_calls(&o);
                }
            }
            let u = u.trim();
            if u.is_empty() || blocked_username(u) || !valid_username(u) {
                return could_not_save_identity();
            }
            let mut st = rc.write();
            let taken = st.by_username(u).is_some_and(|other| other.id != user_id);
            if taken {
                return could_not_save_identity();
            }
            let new = u.to_string();
            st.update(&user_id, |x| x.username = new);
        }
        if let Some(n) = get_str(data, "name")
            && Some(n) != target.name.as_deref()
        {
            if function_limited {
                let o = rc.limit_function("setRealName", &user_id);
                if !o.allowed {
                    return too_many_function_calls(&o);
                }
            }
            let n = n.trim().to_string();
            if n.is_empty() {
                return could_not_save_identity();
            }
            rc.write().update(&user_id, |x| x.name = Some(n));
        }
    }
    if let Some(s) = get_str(data, "statusText") {
        let s = s.to_string();
        rc.write()
            .update(&user_id, |x| x.status_text = (!s.is_empty()).then_some(s));
    }
    if let Some(e) = get_str(data, "email").filter(|e| !e.is_empty()) {
        if function_limited {
            let o = rc.limit_function("setEmail", &user_id);
            if !o.allowed {
                return too_many_function_calls(&o);
            }
        }
        let e = e.trim().to_string();
        if !valid_email(&e) {
            return invalid_email(&e);
        }
        let mut st = rc.write();
        let current = st
            .get(&user_id)
            .and_then(|u| u.emails.first())
            .map(|x| x.address.clone());
        if current.as_deref() != Some(e.as_str()) {
            // Any holder, the user included (a change of case only is refused too).
            if st.by_email(&e).is_some() {
                return RocketChat::meteor_error(
                    "error-field-unavailable",
                    &format!("{e} is already in use :("),
                    Some(json!({"function": "_setEmail", "field": e})),
                );
            }
            st.update(&user_id, |x| {
                let verified = false;
                if x.emails.is_empty() {
                    x.emails.push(Email {
                        address: e,
                        verified,
                    });
                } else {
                    x.emails[0] = Email {
                        address: e,
                        verified,
                    };
                }
            });
        }
    }
    if let Some(text) = policy_refusal {
        return RocketChat::failure(&text);
    }
    if let Some(h) = password_hash {
        // setPasswordUpdater(…, logout: true): every login token goes, on every device.
        rc.write().update(&user_id, |x| {
            x.bcrypt = Some(h);
            x.tokens.clear();
        });
    }
    let bio = get_str(data, "bio").map(str::to_string);
    if let Some(b) = &bio
        && !b.trim().is_empty()
        && b.chars().count() > MAX_BIO_LENGTH
    {
        return RocketChat::meteor_error(
            "error-bio-size-exceeded",
            &format!("Bio size exceeds {MAX_BIO_LENGTH} characters"),
            Some(json!({"method": "saveUserProfile"})),
        );
    }
    let nickname = get_str(data, "nickname").map(str::to_string);
    if let Some(n) = &nickname
        && !n.trim().is_empty()
        && n.chars().count() > MAX_NICKNAME_LENGTH
    {
        return RocketChat::meteor_error(
            "error-nickname-size-exceeded",
            &format!("Nickname size exceeds {MAX_NICKNAME_LENGTH} characters"),
            Some(json!({"method": "saveUserProfile"})),
        );
    }
    let verified = get_bool(data, "verified");
    let stored_cf = custom.and_then(|cf| stored_custom_fields(rc, cf));
    let now = util::now_ms();
    rc.write().update(&user_id, |x| {
        if let Some(b) = bio {
            x.bio = (!b.trim().is_empty()).then_some(b);
        }
        if let Some(n) = nickname {
            x.nickname = (!n.trim().is_empty()).then_some(n);
        }
        if let Some(r) = roles {
            x.roles = r;
        }
        if let Some(v) = require_password_change {
            x.require_password_change = Some(v);
        }
        if let (Some(v), Some(first)) = (verified, x.emails.first_mut()) {
            first.verified = v;
        }
        if let Some(cf) = stored_cf {
            x.custom_fields = Some(cf);
        }
        x.updated_at = now;
    });
    if let Some(active) = get_bool(data, "active")
        && let Err(r) = set_active(rc, &user_id, active)
    {
        return r;
    }
    let full = caller.can("view-full-other-user-info") || editing_myself;
    match rc.read().get(&user_id) {
        Some(u) => RocketChat::success(json!({"user": user_view(full, u)})),
        None => RocketChat::failure("User not found"),
    }
}

// ----- users.info / users.list ----------------------------------------------------------

fn info_schema() -> Vec<Obj> {
    [
        "userId",
        "username",
        "importId",
        "email",
        "freeSwitchExtension",
    ]
    .into_iter()
    .map(|key| Obj {
        props: vec![
            prop(key, Type::String),
            prop("includeUserRooms", Type::String),
            nullable("fields", Type::String),
        ],
        required: vec![key],
        additional: false,
    })
    .collect()
}

/// GET /api/v1/users.info?userId=|username=|importId=|email=
/// (`email` as 8.x added it: an exact, case-insensitive match for holders of
/// view-full-other-user-info.)
pub(super) fn info(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate_any_of(&info_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    if params.get("freeSwitchExtension").is_some() {
        // No user of the sandbox has a voice-call extension.
        return RocketChat::failure("User not found.");
    }
    if let Some(email) = params.get("email").and_then(Value::as_str) {
        if !ctx.caller.can("view-full-other-user-info") {
            return RocketChat::forbidden_permission();
        }
        let st = rc.read();
        let Some(user) = st.by_email(email) else {
            return RocketChat::failure("User not found.");
        };
        let is_self = user.id == ctx.caller.user.id;
        return RocketChat::success(json!({"user": user.info_view(true, is_self)}));
    }
    let value = ["userId", "username", "importId"]
        .iter()
        .find_map(|k| params.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let st = rc.read();
    // findOneByIdOrUsername(OrImportId): the value is tried as each of them.
    let Some(user) = st.by_id_username_or_import_id(&value) else {
        return RocketChat::failure("User not found.");
    };
    let is_self = user.id == ctx.caller.user.id;
    let full = is_self || ctx.caller.can("view-full-other-user-info");
    let mut view = user.info_view(full, is_self);
    // includeUserRooms: yourself or view-other-user-channels; silently ignored otherwise.
    if params.get("includeUserRooms").and_then(Value::as_str) == Some("true")
        && (is_self || ctx.caller.can("view-other-user-channels"))
        && let Value::Object(m) = &mut view
    {
        m.insert("rooms".into(), super::rooms::user_rooms(&st, &user.id));
    }
    RocketChat::success(json!({"user": view}))
}

/// GET /api/v1/users.getStatus?userId=|username=|user= through `getUserFromParams`
/// (`apps/meteor/app/api/server/helpers/getUserFromParams.ts`): the id, or the username
/// ignoring case (`findOneByUsernameIgnoringCase`). Another user's answer is
/// `{_id, status}`.
pub(super) fn get_status(rc: &RocketChat, ctx: &Ctx) -> Response {
    let param = |k: &str| {
        ctx.params
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    let st = rc.read();
    let user = if let Some(id) = param("userId") {
        st.get(&id)
    } else if let Some(name) = param("username").or_else(|| param("user")) {
        st.by_username(&name)
    } else {
        return RocketChat::meteor_error(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        );
    };
    let Some(user) = user else {
        return RocketChat::meteor_error(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        );
    };
    RocketChat::success(json!({"_id": user.id, "status": user.status}))
}

/// `parseInt` of a query value; None for absent/empty/NaN.
fn parse_int(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?.trim();
    let digits: String = s
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .map(|(_, c)| c)
        .collect();
    digits.parse().ok()
}

/// `isUsersListParamsGET` (rest-typings 8.8.1 `v1/users/UsersListParamsGET`), compiled with
/// the query instance (`ajvQuery`, `coerceTypes: 'array'`: the same as `true` for the scalar
/// values a query string holds).
fn list_schema() -> Obj {
    let mut email = nullable("email", Type::String);
    email.min_length = Some(1);
    Obj {
        props: vec![
            nullable("fields", Type::String),
            nullable("query", Type::String),
            nullable("count", Type::Number),
            nullable("offset", Type::Number),
            nullable("sort", Type::String),
            email,
        ],
        required: vec![],
        additional: false,
    }
}

/// `API.v1.limitedUserFieldsToExclude` (`apps/meteor/app/api/server/api.ts`): the fields
/// `parseJsonQuery` keeps from callers without `view-full-other-user-info`, asked for or
/// not. Holders of it lose only `services` (`limitedUserFieldsToExcludeIfIsPrivilegedUser`),
/// which no view here holds: a user's TOTP and sign-in services never leave the server.
const LIMITED_USER_FIELDS: &[&str] = &[
    "avatarOrigin",
    "emails",
    "phone",
    "statusConnection",
    "createdAt",
    "lastLogin",
    "services",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "statusDefault",
    "_updatedAt",
    "settings",
];

/// GET /api/v1/users.list?offset=&count=&sort=
pub(super) fn list(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut checked = ctx.params.clone();
    if let Err(m) = ajv::validate(&list_schema(), &mut checked) {
        return RocketChat::invalid_params(&m);
    }
    if !ctx.caller.can("view-d-room") {
        return RocketChat::forbidden_permission();
    }
    let p = &ctx.params;
    let offset = parse_int(p.get("offset")).unwrap_or(0).max(0) as usize;
    // getPaginationItems: default API_Default_Count 50, clamp to API_Upper_Count_Limit
    // 100, 0 = everything (API_Allow_Infinite_Count).
    let mut count = parse_int(p.get("count")).unwrap_or(50).unsigned_abs() as usize;
    if count > 100 {
        count = 100;
    }
    let sort = p
        .get("sort")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let (by_name, descending) = match sort.as_ref().and_then(Value::as_object) {
        Some(m) if m.contains_key("name") => (true, m["name"].as_i64() == Some(-1)),
        Some(m) if m.contains_key("username") => (false, m["username"].as_i64() == Some(-1)),
        _ => (false, false),
    };
    let st = rc.read();
    let total = st.count();
    let mut users: Vec<&RcUser> = st.sorted_users().collect();
    if by_name {
        users.sort_by_key(|u| u.name.as_deref().map(str::to_lowercase));
    }
    if descending {
        users.reverse();
    }
    let take = if count == 0 { usize::MAX } else { count };
    // `fields` (deprecated, still honoured): extra keys a client asks for by name.
    let fields: Vec<String> = p
        .get("fields")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<serde_json::Map<String, Value>>(s).ok())
        .map(|m| {
            m.into_iter()
                .filter(|(_, v)| v.as_i64() == Some(1))
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    let full = ctx.caller.can("view-full-other-user-info");
    let page: Vec<Value> = users
        .into_iter()
        .skip(offset)
        .take(take)
        .map(|u| {
            let mut v = u.list_view();
            if let Some(m) = v.as_object_mut() {
                if !full {
                    // parseJsonQuery adds `limitedUserFieldsToExclude` to the projection,
                    // defaults included: emails, roles and lastLogin go too.
                    for k in LIMITED_USER_FIELDS {
                        m.remove(*k);
                    }
                }
                if let Value::Object(info) = u.info_view(full, false) {
                    for f in &fields {
                        if let Some(x) = info.get(f) {
                            m.entry(f.clone()).or_insert_with(|| x.clone());
                        }
                    }
                }
                // `ldap` is no limited field: anyone may select it.
                if u.ldap && fields.iter().any(|f| f == "ldap") {
                    m.insert("ldap".into(), json!(true));
                }
            }
            v
        })
        .collect();
    RocketChat::success(json!({
        "users": page,
        "count": page.len(),
        "offset": offset,
        "total": total,
    }))
}

// ----- users.setActiveStatus / users.delete ---------------------------------------------

fn set_active_schema() -> Obj {
    Obj {
        props: vec![
            prop("userId", Type::String),
            prop("activeStatus", Type::Boolean),
            nullable("confirmRelinquish", Type::Boolean),
        ],
        required: vec!["userId", "activeStatus"],
        additional: false,
    }
}

/// POST /api/v1/users.setActiveStatus
pub(super) fn set_active_status(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&set_active_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    let roles = &ctx.caller.user.roles;
    if !has_perm(roles, "edit-other-user-active-status")
        && !has_perm(roles, "manage-moderation-actions")
    {
        return RocketChat::forbidden_permission();
    }
    if !has_perm(roles, "edit-other-user-active-status") {
        return RocketChat::meteor_error(
            "error-not-allowed",
            "Not allowed",
            Some(json!({"method": "setUserActiveStatus"})),
        );
    }
    let user_id = params
        .get("userId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let active = params
        .get("activeStatus")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match set_active(rc, &user_id, active) {
        Err(r) => r,
        Ok(None) => RocketChat::success(json!({"user": null})),
        Ok(Some(())) => {
            let st = rc.read();
            let user = st
                .get(&user_id)
                .map(|u| json!({"_id": u.id, "active": u.active}));
            RocketChat::success(json!({"user": user}))
        }
    }
}

/// POST /api/v1/users.delete {userId|username|user, confirmRelinquish?}
/// (`apps/meteor/app/api/server/v1/users.ts`, then `deleteUser.ts` with
/// `getUserSingleOwnedRooms.ts` / `relinquishRoomOwnerships.ts` in
/// `apps/meteor/app/lib/server/functions/`): a last room owner is refused with
/// `[user-last-owner]` and the rooms in `details`, unless `confirmRelinquish` is true: then
/// the earliest-subscribed other active member becomes owner, and the rooms nobody else is
/// left in (not public) are removed with the user. DMs are not emulated.
pub(super) fn delete(rc: &RocketChat, ctx: &Ctx) -> Response {
    if !ctx.caller.can("delete-user") {
        return RocketChat::forbidden_permission();
    }
    let p = &ctx.params;
    let param = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let confirm = p.get("confirmRelinquish").and_then(Value::as_bool) == Some(true);
    let mut st = rc.write();
    let found = if let Some(id) = param("userId") {
        st.get(&id).map(|u| u.id.clone())
    } else if let Some(name) = param("username").or_else(|| param("user")) {
        st.by_username(&name).map(|u| u.id.clone())
    } else {
        return RocketChat::meteor_error(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        );
    };
    let Some(id) = found else {
        return RocketChat::meteor_error(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        );
    };
    let is_admin = st
        .get(&id)
        .is_some_and(|u| u.roles.iter().any(|r| r == "admin"));
    if is_admin && st.count_admins() == 1 {
        return RocketChat::meteor_error(
            "error-action-not-allowed",
            "Leaving the app without admins is not allowed",
            Some(json!({"method": "deleteUser", "action": "Remove_last_admin"})),
        );
    }
    let (change_owner, remove) = single_owned_rooms(&st, &id);
    if !(change_owner.is_empty() && remove.is_empty()) {
        if !confirm {
            let names = |v: &[(String, Option<String>)]| -> Vec<String> {
                v.iter()
                    .filter_map(|(rid, _)| st.rooms.get(rid).map(|r| r.name.clone()))
                    .collect()
            };
            return RocketChat::meteor_error(
                "user-last-owner",
                "",
                Some(json!({
                    "shouldBeRemoved": names(&remove),
                    "shouldChangeOwner": names(&change_owner),
                })),
            );
        }
        for (rid, heir) in &change_owner {
            if let Some(sub) = heir
                .as_ref()
                .and_then(|h| st.subs.get_mut(&(rid.clone(), h.clone())))
                && !sub.roles.iter().any(|r| r == "owner")
            {
                sub.roles.push("owner".into());
            }
        }
        for (rid, _) in &remove {
            st.rooms.remove(rid);
            st.subs.retain(|(r, _), _| r != rid);
        }
    }
    // 7.x/8.x answer `{success: true}` (develop adds `deletedRooms`).
    st.remove(&id);
    RocketChat::success(json!({}))
}

/// `getUserSingleOwnedRooms`: the rooms whose ownership moves when `uid` goes (with the
/// earliest-subscribed other active member, the heir), and those removed with it.
type RoomHeirs = Vec<(String, Option<String>)>;
fn single_owned_rooms(st: &super::store::Store, uid: &str) -> (RoomHeirs, RoomHeirs) {
    let (mut change, mut remove) = (Vec::new(), Vec::new());
    for ((rid, u), sub) in &st.subs {
        if u != uid {
            continue;
        }
        let Some(room) = st.rooms.get(rid) else {
            continue;
        };
        let others: Vec<&super::store::Subscription> = st
            .subs
            .iter()
            .filter(|((r, o), _)| r == rid && o != uid)
            .map(|(_, s)| s)
            .collect();
        let owner = sub.roles.iter().any(|r| r == "owner");
        let other_owner = others.iter().any(|s| s.roles.iter().any(|r| r == "owner"));
        let heir = others
            .iter()
            .filter(|s| st.get(&s.uid).is_some_and(|x| x.active))
            .min_by_key(|s| s.ts)
            .map(|s| s.uid.clone());
        if owner && !other_owner {
            if heir.is_some() {
                change.push((rid.clone(), heir));
            } else if room.t != "c" {
                remove.push((rid.clone(), None));
            }
        } else if !owner && others.is_empty() && room.t != "c" {
            remove.push((rid.clone(), None));
        }
    }
    (change, remove)
}

fn logout_schema() -> Obj {
    Obj {
        props: vec![nullable("userId", Type::String)],
        required: vec![],
        additional: false,
    }
}

/// POST /api/v1/users.logout {userId?} (`apps/meteor/app/api/server/v1/users.ts`, 8.x
/// typed route, no 2FA): another user needs `logout-other-user`, else 403 `forbidden()`
/// (`{"error":"unauthorized"}`). Empties the user's `services.resume.loginTokens`, personal
/// access tokens included, so every device is logged out. An unknown id answers 200 too
/// (`unsetLoginTokens` returns an always-truthy UpdateResult).
pub(super) fn logout_user(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut params = ctx.params.clone();
    if let Err(m) = ajv::validate(&logout_schema(), &mut params) {
        return RocketChat::invalid_params(&m);
    }
    let target = params
        .get("userId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&ctx.caller.user.id)
        .to_string();
    if target != ctx.caller.user.id && !ctx.caller.can("logout-other-user") {
        return Response::json(403, &json!({"success": false, "error": "unauthorized"}));
    }
    rc.write().update(&target, |u| u.tokens.clear());
    RocketChat::success(json!({"message": format!("User {target} has been logged out!")}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_chars_follow_decode_uri() {
        assert!(validate_name_chars("Zoë O'Brien"));
        assert!(!validate_name_chars("a<b"));
        assert!(!validate_name_chars("a%3Cb"));
        assert!(!validate_name_chars("a%5cb"));
        // decodeURI keeps %2F encoded, so it passes.
        assert!(validate_name_chars("a%2Fb"));
        // Malformed escapes make decodeURI throw.
        assert!(!validate_name_chars("100%"));
        assert!(!validate_name_chars("%E0%A4%A"));
    }

    #[test]
    fn usernames() {
        assert!(valid_username("john.doe-1_x"));
        assert!(!valid_username("jöhn"));
        assert!(!valid_username("a b"));
        assert!(blocked_username("Admin"));
        assert!(blocked_username("HERE"));
        assert!(!blocked_username("admins"));
    }

    #[test]
    fn parse_int_like_javascript() {
        assert_eq!(parse_int(Some(&json!("500"))), Some(500));
        assert_eq!(parse_int(Some(&json!("12abc"))), Some(12));
        assert_eq!(parse_int(Some(&json!("abc"))), None);
        assert_eq!(parse_int(None), None);
    }
}
