//! Account settings an administrator changes for another user (`roster do reset-mfa`,
//! `set-preferences`, `migrate-auth`, `convert-to-bot`), after
//! /work/shared/docs/mattermost-members-and-ops.md §5, §7, §9 and §11
//! (MM `server/channels/api4/user.go` `updateUserMfa`, `updateUserAuth`,
//! `convertUserToBot`; `api4/preference.go` `updatePreferences`, `getPreferences`;
//! `model/preference.go` `Preference.IsValid`; `app/user.go` `ConvertUserToBot`).
//!
//! - `PUT /users/{id}/mfa {activate, code?}`: `activate` must be a JSON boolean (400
//!   {activate}); yourself or `edit_other_users`, else 403. `activate: false` clears the
//!   secret, with no setting or licence consulted, and is idempotent; `activate: true`
//!   needs `EnableMultifactorAuthentication`, off here, so it is 501
//!   `mfa.mfa_disabled.app_error`. Answer `{"status":"OK"}`.
//! - `PUT /users/{id}/preferences [{user_id, category, name, value}]`: 1 to 100 items (400
//!   {preferences}); each item's `user_id` must be the path's (403
//!   `api.preference.update_preferences.set.app_error`); yourself or `edit_other_users`;
//!   `category` 1–32 bytes, `name` at most 32, `value` at most 20,000 characters, a `theme`
//!   value a JSON object (400 `model.preference.is_valid.*`). All or nothing; upserts.
//! - `GET /users/{id}/preferences`: the user's rows (yourself or `edit_other_users`).
//! - `PUT /users/{id}/auth {auth_service, auth_data}`: system admins only (403); a body
//!   that is not JSON is 400 {user}, an empty field 400
//!   `api.user.update_user_auth.invalid_request`; `auth_data` another account has is 400
//!   `app.user.update_auth_data.email_exists.app_error`. Blanks the password. Answers 200
//!   with the UserAuth it was given.
//! - `POST /users/{id}/convert_to_bot`: the user is looked up first (404
//!   `app.user.missing_account.const`), then `manage_system` (403); a bot already is 500
//!   `app.bot.createbot.internal_error`. Revokes every session; answers the Bot.
//!
//! Simplified: no OAuth sessions exist here (their 403 on `/mfa` never happens), MFA
//! enforcement is off, and `auth_service` is not validated (neither is it on the server).

use serde_json::{Value, json};

use super::{AppErr, Ctx, HandlerResult, Mattermost, Out, util};

/// `maxUpdatePreferences`.
const MAX_PREFERENCES: usize = 100;

/// `PUT /users/{user_id}/mfa`.
pub(crate) fn mfa(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let body: Value = serde_json::from_slice(&ctx.req.body).unwrap_or(Value::Null);
    let Some(activate) = body.get("activate").and_then(Value::as_bool) else {
        return Err(AppErr::invalid_body("activate"));
    };
    if activate
        && body
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        return Err(AppErr::invalid_body("code"));
    }
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    if activate {
        return Err(AppErr::new("mfa.mfa_disabled.app_error", 501));
    }
    let mut store = mm.write();
    let Some(mut u) = store.get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    u.mfa_active = false;
    u.mfa_secret.clear();
    store.replace(u);
    Ok(Out::status_ok())
}

/// `PUT /users/{user_id}/preferences`.
pub(crate) fn put_preferences(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let items: Vec<Value> = match serde_json::from_slice(&ctx.req.body) {
        Ok(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_PREFERENCES => items,
        _ => return Err(AppErr::invalid_body("preferences")),
    };
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let field = |item: &Value, k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    // Every item's user first (403), then each item's validity (400), as the handler does.
    if items.iter().any(|item| field(item, "user_id") != id) {
        return Err(AppErr::new(
            "api.preference.update_preferences.set.app_error",
            403,
        ));
    }
    let mut rows = Vec::with_capacity(items.len());
    for item in &items {
        let (category, name, value) = (
            field(item, "category"),
            field(item, "name"),
            field(item, "value"),
        );
        if category.is_empty() || category.len() > 32 {
            return Err(AppErr::new(
                "model.preference.is_valid.category.app_error",
                400,
            ));
        }
        if name.len() > 32 {
            return Err(AppErr::new("model.preference.is_valid.name.app_error", 400));
        }
        if value.chars().count() > 20_000 {
            return Err(AppErr::new(
                "model.preference.is_valid.value.app_error",
                400,
            ));
        }
        if category == "theme"
            && !matches!(serde_json::from_str::<Value>(&value), Ok(Value::Object(_)))
        {
            return Err(AppErr::new(
                "model.preference.is_valid.theme.app_error",
                400,
            ));
        }
        rows.push((category, name, value));
    }
    let mut store = mm.write();
    if store.get(&id).is_none() {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    }
    let prefs = store.preferences.entry(id).or_default();
    for (category, name, value) in rows {
        prefs.insert((category, name), value);
    }
    Ok(Out::status_ok())
}

/// `GET /users/{user_id}/preferences`.
pub(crate) fn get_preferences(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let store = mm.read();
    let rows: Vec<Value> = store
        .preferences
        .get(&id)
        .into_iter()
        .flatten()
        .map(|((category, name), value)| {
            json!({"user_id": id, "category": category, "name": name, "value": value})
        })
        .collect();
    Ok(Out::json(200, &Value::Array(rows)))
}

/// `PUT /users/{user_id}/auth`.
pub(crate) fn auth(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&ctx.req.body) else {
        return Err(AppErr::invalid_body("user"));
    };
    // TrustRequester route, but the handler checks IsSystemAdmin, not edit_other_users.
    if !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (service, data) = (text("auth_service"), text("auth_data"));
    if service.is_empty() || data.is_empty() {
        return Err(AppErr::new(
            "api.user.update_user_auth.invalid_request",
            400,
        ));
    }
    let mut store = mm.write();
    if store
        .by_auth_data(&data)
        .is_some_and(|other| other.id != id)
    {
        return Err(AppErr::new(
            "app.user.update_auth_data.email_exists.app_error",
            400,
        ));
    }
    // An unknown id updates no row and is still answered 200 (inferred in the notes).
    if let Some(mut u) = store.get(&id).cloned() {
        u.auth_service = service.clone();
        u.auth_data = Some(data.clone());
        u.password.clear();
        u.last_password_update = util::now_ms();
        u.failed_attempts = 0;
        store.replace(u);
    }
    Ok(Out::json(
        200,
        &json!({"auth_service": service, "auth_data": data}),
    ))
}

/// `POST /users/{user_id}/convert_to_bot`.
pub(crate) fn convert_to_bot(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let Some(mut u) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    if !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    if u.is_bot {
        return Err(AppErr::new("app.bot.createbot.internal_error", 500));
    }
    let now = util::now_ms();
    // An SSO account's sign-in is cleared first, which blanks the password too.
    if !u.auth_service.is_empty() {
        u.auth_service.clear();
        u.auth_data = None;
        u.password.clear();
    }
    u.is_bot = true;
    u.update_at = now;
    let bot = json!({
        "user_id": u.id,
        "username": u.username,
        "display_name": u.first_name,
        "description": "",
        "owner_id": u.id,
        "create_at": now,
        "update_at": now,
        "delete_at": 0,
    });
    let mut store = mm.write();
    store.replace(u);
    store.revoke_all_sessions(&id);
    Ok(Out::json(200, &bot))
}
