//! `PUT` and `GET /users/{user_id}/status` (`roster do set-status`), after
//! /work/shared/docs/mattermost-members-and-ops.md §10 and mattermost-api.md (MM
//! `server/channels/api4/status.go` `updateUserStatus`, `getUserStatus`;
//! `app/platform/status.go`).
//!
//! - `PUT` body `{user_id, status, dnd_end_time?}`: `user_id` must equal the path's (400
//!   {user_id}); `status` is one of `online|offline|away|dnd` (anything else, `ooo`
//!   included, is 400 {status}); yourself or `edit_other_users`, else 403. The answer is
//!   the fresh status, `manual: true`.
//! - `GET`: any session; the user's existence is not checked, and a user never seen gets
//!   a synthesised `offline` status.
//!
//! - `POST /users/status/ids` (`getUserStatusesByIds`; `roster export --fields status`):
//!   any session; the body is a JSON array of ids (400 `api.payload.parse.error` when it
//!   is not one); an empty array or an id whose length is not 26 is 400 {user_ids}. The
//!   answer holds one status per distinct id, not in input order: the statuses the
//!   server has (cache hits, then database rows), then synthesised `offline` ones for ids
//!   it has never seen, existing users or not (`PlatformService.GetUserStatusesByIds`).
//!
//! Simplified: `ServiceSettings.EnableUserStatuses` is on (its default), so its 404 never
//! happens; `dnd_end_time` is kept as given, never expires; no custom status
//! (`/users/{user_id}/status/custom`) is emulated.

use serde_json::{Value, json};

use super::{AppErr, Ctx, HandlerResult, Mattermost, Out, decode, util};

const STATUSES: [&str; 4] = ["online", "offline", "away", "dnd"];

fn offline(id: &str) -> Value {
    json!({"user_id": id, "status": "offline", "manual": false, "last_activity_at": 0, "dnd_end_time": 0})
}

/// `PUT /users/{user_id}/status`.
pub(crate) fn put(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let props = decode::string_interface_from_json(&ctx.req.body);
    if props.get("user_id").and_then(Value::as_str) != Some(id.as_str()) {
        return Err(AppErr::invalid_body("user_id"));
    }
    let Some(status) = props
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| STATUSES.contains(s))
    else {
        return Err(AppErr::invalid_body("status"));
    };
    if !ctx.can_edit_user(&id) {
        return Err(AppErr::permission());
    }
    let dnd_end = props
        .get("dnd_end_time")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let fresh = json!({
        "user_id": id,
        "status": status,
        "manual": true,
        "last_activity_at": util::now_ms(),
        "dnd_end_time": if status == "dnd" { dnd_end } else { 0 },
    });
    mm.write().statuses.insert(id, fresh.clone());
    Ok(Out::json(200, &fresh))
}

/// `GET /users/{user_id}/status`.
pub(crate) fn get(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = ctx.require_user_id(raw)?;
    let v = mm.read().statuses.get(&id).cloned();
    Ok(Out::json(200, &v.unwrap_or_else(|| offline(&id))))
}

/// The status stored for a user, `offline` when none.
pub(crate) fn of(mm: &Mattermost, id: &str) -> String {
    mm.read()
        .statuses
        .get(id)
        .and_then(|v| v["status"].as_str().map(str::to_string))
        .unwrap_or_else(|| "offline".into())
}

/// `POST /users/status/ids`.
pub(crate) fn by_ids(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let ids = decode::string_array(&ctx.req.body)
        .map_err(|_| AppErr::new("api.payload.parse.error", 400))?;
    if ids.is_empty() || ids.iter().any(|id| id.len() != 26) {
        return Err(AppErr::invalid_body("user_ids"));
    }
    let st = mm.read();
    let mut seen = std::collections::HashSet::new();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for id in &ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        match st.statuses.get(id) {
            Some(v) => known.push(v.clone()),
            None => unknown.push(offline(id)),
        }
    }
    known.extend(unknown);
    Ok(Out::json(200, &Value::Array(known)))
}
