//! Passwords and access tokens of other users (`roster do reset-password` and
//! `create-token`, issue 14), after /work/shared/docs/mattermost-members-and-ops.md §6 and
//! §8 and mattermost-api.md §1.3 and §4 (`server/channels/api4/user.go`: `updatePassword`,
//! `sendPasswordReset`, `createUserAccessToken`, `getUserAccessTokensForUser`;
//! `server/channels/app/user.go` `UpdatePassword`, `SendPasswordReset`;
//! `server/channels/app/session.go` `CreateUserAccessToken`,
//! `createSessionForUserAccessToken`):
//!
//! - `PUT /users/{id}/password {new_password}`: the body is `MapFromJSON` (non-strings read
//!   as ""); for yourself `current_password` is required (400 {current_password}) and
//!   checked; for another user the caller needs `sysconsole_write_user_management_users`
//!   (system admins, and a role granted it: [`crate::SandboxConfig::mm_role_permissions`];
//!   a user manager may then set the password of an LDAP account it is not shown as one),
//!   and `manage_system` when the target is a system admin; else, and for an unknown user
//!   too, 403 `api.user.update_password.context.app_error`. Then the
//!   password policy (`PasswordSettings`, 400 `model.user.is_valid.pwd*`), the store's
//!   `UPDATE Users SET Password=…, AuthData=NULL, AuthService=''` (an LDAP or SSO account
//!   becomes an email one, silently), the user's sessions revoked
//!   (`TerminateSessionsOnPasswordChange`, true on new servers; access tokens stay), a
//!   "password changed" mail, and 200 `{"status":"OK"}`.
//! - `POST /users/password/reset/send {email}`, no session needed: the email lowercased,
//!   "" → 400 {email}; an unknown address → 200 (accounts cannot be enumerated); an
//!   account with `auth_data` (LDAP, SSO) → 400 `api.user.send_password_reset.sso.app_error`;
//!   a mail the server cannot send ([`crate::SandboxConfig::smtp`] off) → 500
//!   `api.user.send_password_reset.send.app_error`; else the reset mail and 200 OK.
//! - `POST /users/{id}/tokens {description}`: a body that is not a JSON object → 400
//!   {user_access_token}; "" → 400 {description}; `create_user_access_token` (system
//!   admins), then yourself or `edit_other_users`, then `manage_system` for an admin's
//!   token, else 403; an unknown user → 404 `app.user.missing_account.const`;
//!   `EnableUserAccessTokens` off ([`crate::SandboxConfig::mm_enable_user_access_tokens`])
//!   → 501 `app.user_access_token.disabled` unless the user is a bot;
//!   a description over 255 characters → 400
//!   `model.user_access_token.is_valid.description.app_error`; else 200 (not 201) with
//!   `{id, token, user_id, description, is_active}`, the token shown this once, and a
//!   mail to the user.
//! - `GET /users/{id}/tokens?page&per_page`: yourself or an admin; the user's tokens in
//!   the order they were made, without `token`.
//! - An access token logs in like a session token (`Authorization: Bearer`): the first
//!   request mints a session for it (listed by `GET /users/{id}/sessions`, revoked by
//!   revoke/all, minted again on the next request), while `EnableUserAccessTokens` is on
//!   (or the user is a bot), the token active and its user active; otherwise 401
//!   `api.context.session_expired.app_error`.
//!
//! Not emulated: `POST /users/tokens/revoke|disable|enable`, `expires_at`, bot managers
//! (`manage_bots`), remote users and magic-link guests, `ExperimentalEnableHardenedMode`.

use serde_json::{Value, json};

use super::decode;
use super::store::AccessToken;
use super::validate::go_lower;
use super::{AppErr, Ctx, HandlerResult, Mattermost, Out, random_id};

/// `PUT /users/{id}/password`.
pub(crate) fn update_password(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let props = decode::map_from_json(&ctx.req.body);
    let get = |k: &str| props.get(k).cloned().unwrap_or_default();
    let new_password = get("new_password");
    let target = mm.read().get(&id).cloned();
    if id == ctx.user_id() {
        let current = get("current_password");
        if current.is_empty() {
            return Err(AppErr::invalid_body("current_password"));
        }
        let Some(me) = &target else {
            return Err(AppErr::new("app.user.missing_account.const", 404));
        };
        super::users::check_password(mm, me, &current)
            .map_err(|_| AppErr::new("api.user.update_password.incorrect.app_error", 400))?;
    } else {
        let allowed = ctx.has_permission(mm, "sysconsole_write_user_management_users")
            && target
                .as_ref()
                .is_some_and(|t| !t.is_system_admin() || ctx.is_admin());
        if !allowed {
            return Err(AppErr::new(
                "api.user.update_password.context.app_error",
                403,
            ));
        }
    }
    let Some(mut user) = target else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    let policy = mm.settings().password;
    policy.check(&new_password).map_err(|id| AppErr {
        param: Some(policy.minimum_length.to_string()),
        ..AppErr::new(&id, 400)
    })?;
    user.password = mm.hash_password(&new_password)?;
    user.auth_data = None;
    user.auth_service = String::new();
    user.last_password_update = crate::util::now_ms();
    user.failed_attempts = 0;
    let email = user.email.clone();
    {
        let mut st = mm.write();
        st.replace(user);
        st.revoke_all_sessions(&id);
    }
    mm.send_mail(&email, "password-changed");
    Ok(Out::status_ok())
}

/// `POST /users/password/reset/send`.
pub(crate) fn send_password_reset(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let props = decode::map_from_json(&ctx.req.body);
    let email = go_lower(props.get("email").map(String::as_str).unwrap_or(""));
    if email.is_empty() {
        return Err(AppErr::invalid_body("email"));
    }
    let Some(user) = mm.read().by_email(&email).cloned() else {
        return Ok(Out::status_ok());
    };
    if user.auth_data.as_deref().is_some_and(|a| !a.is_empty()) {
        return Err(AppErr::new(
            "api.user.send_password_reset.sso.app_error",
            400,
        ));
    }
    if !mm.settings().smtp {
        return Err(AppErr::new(
            "api.user.send_password_reset.send.app_error",
            500,
        ));
    }
    mm.send_mail(&user.email, "reset-password");
    Ok(Out::status_ok())
}

/// `model.UserAccessToken.IsValid`'s description limit.
const DESCRIPTION_MAX: usize = 255;

/// `POST /users/{id}/tokens`.
pub(crate) fn create_token(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let body = match serde_json::from_slice::<Value>(&ctx.req.body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(AppErr::invalid_body("user_access_token")),
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if description.is_empty() {
        return Err(AppErr::invalid_body("description"));
    }
    // create_user_access_token, then SessionHasPermissionToUserOrBot: system admins hold
    // both; anyone else only for themselves, and no built-in role of theirs has the first.
    if !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let Some(user) = mm.read().get(&id).cloned() else {
        return Err(AppErr::new("app.user.missing_account.const", 404));
    };
    if !mm.settings().enable_user_access_tokens && !user.is_bot {
        return Err(AppErr::new("app.user_access_token.disabled", 501));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(AppErr::new(
            "model.user_access_token.is_valid.description.app_error",
            400,
        ));
    }
    // `model.NewId()`: shown in this answer only; the store keeps its digest.
    let plain = random_id();
    let token = AccessToken {
        id: mm.new_user_id(),
        token_hash: crate::util::sha256_hex(&plain),
        user_id: id.clone(),
        description: description.clone(),
        is_active: true,
    };
    let view = json!({
        "id": token.id,
        "token": plain,
        "user_id": token.user_id,
        "description": token.description,
        "is_active": true,
    });
    mm.write().add_access_token(token);
    // Bots get no mail.
    if !user.is_bot {
        mm.send_mail(&user.email, "token-created");
    }
    Ok(Out::json(200, &view))
}

/// `GET /users/{id}/tokens`.
pub(crate) fn list_tokens(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let page = ctx
        .req
        .query_param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0);
    let per_page = ctx
        .req
        .query_param("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(60)
        .min(200);
    let list: Vec<Value> = mm
        .read()
        .access_tokens_of(&id)
        .into_iter()
        .skip(page * per_page)
        .take(per_page)
        .map(|t| {
            json!({
                "id": t.id,
                "user_id": t.user_id,
                "description": t.description,
                "is_active": t.is_active,
            })
        })
        .collect();
    Ok(Out::json(200, &Value::Array(list)))
}

/// The user an access token logs in, when tokens are on and both are active.
pub(crate) fn token_user(mm: &Mattermost, token_hash: &str) -> Option<String> {
    let st = mm.read();
    let t = st.access_token(token_hash)?;
    let u = st.get(&t.user_id)?;
    let allowed = mm.settings().enable_user_access_tokens || u.is_bot;
    (allowed && t.is_active && u.is_active()).then(|| u.id.clone())
}
