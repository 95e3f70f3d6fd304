//! Passwords and tokens of other users (`roster do reset-password` and `create-token`,
//! issue 14), after /work/shared/docs/rocketchat-members-and-ops.md §4 and §5 and
//! rocketchat-api.md §6:
//!
//! - `POST users.forgotPassword {email}` (`apps/meteor/app/api/server/v1/users.ts`;
//!   `apps/meteor/server/meteor-methods/auth/sendForgotPasswordEmail.ts` @318d2882): the
//!   route is not `authRequired`, so it is answered before authentication and the limiter
//!   always runs, keyed by client IP (nobody's bypass applies: there is no user);
//!   `{email: string}` is required (400 `invalid-params`); `Accounts_PasswordReset` off →
//!   400 `{"success":false,"error":"Password reset is not enabled"}`; otherwise 200
//!   `{success: true}` whatever happens next: an unknown address (matched ignoring case,
//!   after trimming) sends nothing, and a mail that fails is logged and swallowed. A user
//!   without a local password is mailed too (`Accounts_AllowPasswordChangeForOAuthUsers`
//!   is on by default).
//! - `POST users.createToken {userId, secret}`, the 8.x route
//!   (`apps/meteor/server/meteor-methods/auth/createToken.ts` @d7c37a60,
//!   `generateAccessToken`): both strings required (400 `invalid-params`); two-factor
//!   (`twoFactorRequired`); `secret` not equal to the server's environment variable
//!   `CREATE_TOKENS_FOR_USERS_SECRET` ([`crate::SandboxConfig::rc_create_tokens_secret`];
//!   unset: never equal) → 400 `Not authorized [error-not-authorized]`; the same for
//!   another user's token without `user-generate-access-token` (admin only by default);
//!   then a stamped login token is inserted (a resume token like a login's, `when` = now)
//!   and the answer is `{data: {userId, authToken}, success: true}`. An unknown `userId`
//!   gets a token that is stored nowhere, as `Accounts._insertLoginToken` updates no
//!   document. Not emulated: the 90-day `Accounts_LoginExpiration` (tokens never expire
//!   here) and `User.ensureLoginTokensLimit`.
//! - `GET permissions.listAll[?updatedSince]` (`apps/meteor/app/api/server/v1/permissions.ts`):
//!   any logged-in user; `{update: [{_id, roles, _updatedAt}], remove: [], success: true}`
//!   for the permissions the emulator checks, each with the roles that hold it
//!   ([`super::has_perm`]); `updatedSince` filters on `_updatedAt` (all of them date from
//!   the server's start).
//!
//! The password set through `users.update` is in `users.rs` (`saveUser.ts`: applied only
//! with `edit-other-user-password` and a password the policy accepts, silently ignored
//! otherwise; it unsets every login token of the user) and its policy,
//! `Accounts_Password_Policy_Enabled` ([`crate::SandboxConfig::rc_password_policy`]), is
//! [`policy_error`], after `packages/password-policies/src/PasswordPolicyClass.ts`
//! @6d1dc19b with the settings' defaults of `apps/meteor/server/settings/accounts.ts`.

use serde_json::{Value, json};

use super::store::LoginToken;
use super::{Ctx, RocketChat, has_perm};
use crate::http::Response;
use crate::util;

/// POST users.forgotPassword, answered before authentication.
pub(super) fn forgot_password(rc: &RocketChat, params: &Value) -> Response {
    let email = match params.get("email") {
        Some(Value::String(e)) => e.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return RocketChat::invalid_params("must be string"),
        None => return RocketChat::invalid_params("must have required property 'email'"),
    };
    if !rc.settings.password_reset {
        return RocketChat::failure("Password reset is not enabled");
    }
    let wanted = email.trim().to_lowercase();
    let found = rc
        .read()
        .by_email(&wanted)
        .and_then(|u| u.emails.first().map(|e| e.address.clone()));
    if let Some(to) = found
        && rc.settings.smtp
    {
        rc.send_mail(&to, "reset-password");
    }
    RocketChat::success(json!({}))
}

/// POST users.createToken (8.x: `{userId, secret}`).
pub(super) fn create_token(rc: &RocketChat, ctx: &Ctx) -> Response {
    let p = &ctx.params;
    if let Some(Value::Object(m)) = Some(p)
        && let Some(k) = m
            .keys()
            .find(|k| !["userId", "secret"].contains(&k.as_str()))
    {
        return RocketChat::invalid_params(&format!("must NOT have additional properties ({k})"));
    }
    for key in ["userId", "secret"] {
        match p.get(key) {
            Some(Value::String(_)) => {}
            Some(_) => return RocketChat::invalid_params("must be string"),
            None => {
                return RocketChat::invalid_params(&format!("must have required property '{key}'"));
            }
        }
    }
    if let Err(r) = rc.check_two_factor(ctx) {
        return r;
    }
    let user_id = p["userId"].as_str().unwrap_or_default().to_string();
    let secret = p["secret"].as_str().unwrap_or_default();
    let matches = rc
        .settings
        .create_tokens_secret
        .as_ref()
        .is_some_and(|s| s.expose() == secret);
    let not_authorized =
        || RocketChat::meteor_error("error-not-authorized", "Not authorized", None);
    if !matches {
        return not_authorized();
    }
    if ctx.caller.user.id != user_id && !ctx.caller.can("user-generate-access-token") {
        return not_authorized();
    }
    let token = util::random_token(43);
    let hashed = util::sha256_hex(&token);
    let now = util::now_ms();
    rc.write().update(&user_id, |u| {
        u.tokens.push(LoginToken {
            hashed,
            when: now,
            tfa_until: None,
            tfa_hash: None,
        });
    });
    RocketChat::success(json!({"data": {"userId": user_id, "authToken": token}}))
}

/// The permissions the emulator checks somewhere.
const PERMISSIONS: &[&str] = &[
    "add-team-member",
    "add-user-to-any-c-room",
    "add-user-to-any-p-room",
    "api-bypass-rate-limit",
    "assign-admin-role",
    "assign-roles",
    "create-c",
    "create-p",
    "create-personal-access-tokens",
    "create-team",
    "create-user",
    "delete-user",
    "edit-other-user-active-status",
    "edit-other-user-avatar",
    "edit-other-user-info",
    "edit-other-user-password",
    "edit-other-user-totp",
    "edit-team-member",
    "kick-user-from-any-c-room",
    "kick-user-from-any-p-room",
    "logout-other-user",
    "manage-moderation-actions",
    "remove-user",
    "run-import",
    "user-generate-access-token",
    "view-all-teams",
    "view-d-room",
    "view-full-other-user-info",
    "view-other-user-channels",
    "view-room-administration",
];

/// GET permissions.listAll.
pub(super) fn list_all_permissions(rc: &RocketChat, ctx: &Ctx) -> Response {
    let since = match ctx.params.get("updatedSince").and_then(Value::as_str) {
        Some(s) => match humantime::parse_rfc3339_weak(s) {
            Ok(t) => Some(
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
            ),
            Err(_) => {
                return RocketChat::meteor_error(
                    "error-updatedSince-param-invalid",
                    "The \"updatedSince\" query parameter must be a valid date.",
                    None,
                );
            }
        },
        None => None,
    };
    let updated = rc.started_ms;
    let update: Vec<Value> = if since.is_some_and(|s| s >= updated) {
        Vec::new()
    } else {
        PERMISSIONS
            .iter()
            .map(|p| {
                let roles: Vec<&str> = super::roles::role_ids()
                    .filter(|r| has_perm(&[r.to_string()], p))
                    .collect();
                json!({"_id": p, "roles": roles, "_updatedAt": util::iso_ms(updated)})
            })
            .collect()
    };
    RocketChat::success(json!({"update": update, "remove": []}))
}

/// `PasswordPolicy.validate` with the default settings once the policy is on: the
/// thrown plain `Error`'s text (REST answers it as `{success: false, error: <text>}`), or
/// None when the password passes.
pub(super) fn policy_error(password: &str) -> Option<String> {
    let chars: Vec<char> = password.chars().collect();
    let mut reasons = 0;
    // minLength 7; maxLength -1 (none); forbidRepeatingCharactersCount 3: `(.)\1{3,}`.
    if chars.len() < 7 {
        reasons += 1;
    }
    if chars.windows(4).any(|w| w.iter().all(|c| *c == w[0])) {
        reasons += 1;
    }
    let any = |f: fn(&char) -> bool| chars.iter().any(f);
    if !any(char::is_ascii_lowercase) {
        reasons += 1;
    }
    if !any(char::is_ascii_uppercase) {
        reasons += 1;
    }
    if !any(char::is_ascii_digit) {
        reasons += 1;
    }
    if !any(|c| !c.is_ascii_alphanumeric() && *c != ' ') {
        reasons += 1;
    }
    (reasons > 0).then(|| {
        // `${reasons}` of an array of objects.
        let objects = vec!["[object Object]"; reasons].join(",");
        format!(
            "ERROR: error-password-policy-not-met -- MESSAGE: The password provided does not meet the server's password policy. -- REASON: {objects}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::policy_error;

    #[test]
    fn the_default_policy() {
        assert_eq!(policy_error("Abcdef1!"), None);
        let short = policy_error("Ab1!").unwrap();
        assert!(short.ends_with("REASON: [object Object]"), "{short}");
        let repeats = policy_error("Abbbbc1!").unwrap();
        assert!(
            repeats.contains("error-password-policy-not-met"),
            "{repeats}"
        );
        assert_eq!(policy_error("Abbbc1!x"), None, "three in a row are fine");
        let many = policy_error("abcdefgh").unwrap();
        assert!(
            many.ends_with("[object Object],[object Object],[object Object]"),
            "{many}"
        );
    }
}
