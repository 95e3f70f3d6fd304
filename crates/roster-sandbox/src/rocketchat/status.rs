//! `POST users.setStatus` (`roster do set-status`), after /work/shared/docs/
//! rocketchat-members-and-ops.md §7 (`apps/meteor/app/api/server/v1/users.ts`,
//! `users.setStatus`; `@rocket.chat/rest-typings` `UsersSetStatusParamsPOST`).
//!
//! - Body `{status?, message?, expiresAt?, userId?|username?|user?}`, no other key
//!   (`additionalProperties: false`, 400 `invalid-params`); `status` is one of
//!   `online|away|offline|busy`.
//! - At least a string `message` or a string `status`, else 400 `Match error`.
//! - Another user needs `edit-other-user-info`, else 403 `unauthorized`.
//! - A status sets `status` (and `statusDefault` on the server); a message sets
//!   `statusText`; a missing status keeps the current one. Response `{success: true}`.
//!
//! Simplified: `Accounts_AllowUserStatusMessageChange` and
//! `Accounts_AllowInvisibleStatusOption` are on (their defaults), so their refusals never
//! happen; `expiresAt` is accepted and ignored. The endpoint's own limiter, 5 calls a
//! minute for callers without `api-bypass-rate-limit`, is in `RocketChat::limit`.

use serde_json::{Value, json};

use super::{Ctx, RocketChat, avatar};
use crate::http::Response;

const KEYS: [&str; 6] = [
    "status",
    "message",
    "expiresAt",
    "userId",
    "username",
    "user",
];
const STATUSES: [&str; 4] = ["online", "away", "offline", "busy"];

pub(super) fn set_status(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Some(Value::Object(m)) = Some(&ctx.params)
        && let Some(k) = m.keys().find(|k| !KEYS.contains(&k.as_str()))
    {
        return RocketChat::invalid_params(&format!("must NOT have additional properties ({k})"));
    }
    let status = ctx.params.get("status").and_then(Value::as_str);
    let message = ctx.params.get("message").and_then(Value::as_str);
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return RocketChat::invalid_params("must be equal to one of the allowed values (status)");
    }
    if status.is_none() && message.is_none() {
        return Response::json(
            400,
            &json!({"success": false, "error": "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation"}),
        );
    }
    let named = ["userId", "username", "user"]
        .iter()
        .any(|k| ctx.params.get(*k).and_then(Value::as_str).is_some());
    let user = if named {
        match avatar::user_from_params(rc, ctx) {
            Ok(u) => u,
            Err(r) => return r,
        }
    } else {
        ctx.caller.user.clone()
    };
    if user.id != ctx.caller.user.id && !ctx.caller.can("edit-other-user-info") {
        return Response::json(403, &json!({"success": false, "error": "unauthorized"}));
    }
    let (status, message) = (status.map(str::to_string), message.map(str::to_string));
    rc.write().update(&user.id, |u| {
        if let Some(s) = status {
            u.status = s;
        }
        if let Some(m) = message {
            u.status_text = Some(m);
        }
    });
    RocketChat::success(json!({}))
}
