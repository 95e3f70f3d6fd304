//! Rooms, subscriptions and teams (issue 13), after
//! /work/shared/docs/rocketchat-members-and-ops.md §1, §2 and §11: `apps/meteor/app/api/
//! server/v1/channels.ts`, `groups.ts`, `rooms.ts` and `teams.ts`;
//! `server/api/lib/getUserFromParams.ts` (`getUserListFromParams`);
//! `meteor-methods/rooms/addUsersToRoom.ts` and `removeUserFromRoom.ts`;
//! `server/lib/rooms/addUserToRoom.ts`; `server/services/team/service.ts`;
//! `app/lib/server/functions/createRoom.ts` and `app/utils/server/lib/getValidRoomName.ts`
//! (RocketChat/Rocket.Chat, read for the create handlers' validation);
//! `app/lib/server/functions/getDefaultChannels.ts` (`joinDefaultChannels`);
//! `server/api/lib/rooms.ts` (`findAdminRooms`, behind `rooms.adminRooms`).
//!
//! Pipeline: the sandbox emulates the 7.x order for every route (authentication → the
//! limiter → the handler's own validation and permission checks), so unlike 8.x a 403 or
//! an ajv 400 on these routes has used up one call of the budget. Schema failures use the
//! legacy `"<ajv message> [invalid-params]"` body.
//!
//! Simplifications:
//! - Room roles are `owner` (the creator) and whatever `teams.addMembers` gives; `owner`
//!   and `moderator` grant the room-scoped `add-user-to-joined-room`, `remove-user`,
//!   `add-team-member` and `edit-team-member`, as the default permissions do; the global
//!   ones are the `admin` role's (`add-user-to-any-c-room`, `kick-user-from-any-c-room`,
//!   `view-all-teams`, `view-other-user-channels`); `add-user-to-any-p-room` and
//!   `kick-user-from-any-p-room` have no role, as by default; `create-c`, `create-p` and
//!   `create-team` are the `user` role's.
//! - No system messages, ephemeral "already in here" messages, discussions, broadcast or
//!   read-only rooms, federation, bans, apps or room directives; no DMs (so
//!   `error-cant-invite-for-direct-room` never happens); no team-default child rooms.
//! - `channels.members` / `groups.members` sort by username (no connection status).
//! - `rooms.adminRooms` answers every field of a room (the server projects `adminFields`)
//!   and sorts by `default` first, then name (older servers' `{default: -1, name: 1}`;
//!   newer ones pass no sort).
//! - `teams.addMembers` with an unknown user id answers 400 with the TypeError text
//!   `Cannot read properties of null (reading '_id')` (the sheet derives a TypeError; the
//!   exact text is node's for that access).

use serde_json::{Map, Value, json};

use super::ajv::{self, Obj, Type, nullable, prop};
use super::store::{RcTeam, RcTeamMember, Room, Store};
use super::users::validate_name_chars;
use super::{Ctx, RocketChat};
use crate::http::Response;
use crate::util;

// ----- small helpers ----------------------------------------------------------------------

fn param(ctx: &Ctx, k: &str) -> Option<String> {
    ctx.params
        .get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn unauthorized() -> Response {
    Response::json(403, &json!({"success": false, "error": "unauthorized"}))
}

/// A plain `Error` thrown, or `failure(a, b)`: `error` = a, `errorType` = b.
fn failure2(error: &str, error_type: &str) -> Response {
    Response::json(
        400,
        &json!({"success": false, "error": error, "errorType": error_type}),
    )
}

fn not_found_channel() -> Response {
    RocketChat::meteor_error(
        "error-room-not-found",
        "The required \"roomId\" or \"roomName\" param provided does not match any channel",
        None,
    )
}

fn not_found_group() -> Response {
    RocketChat::meteor_error(
        "error-room-not-found",
        "The required \"roomId\" or \"roomName\" param provided does not match any group",
        None,
    )
}

fn not_allowed(method: &str) -> Response {
    RocketChat::meteor_error(
        "error-not-allowed",
        "Not allowed",
        Some(json!({"method": method})),
    )
}

/// Room roles that grant a room-scoped permission (owner, moderator) or the global role.
fn has_room_perm(st: &Store, ctx: &Ctx, rid: &str, perm: &str) -> bool {
    if ctx.caller.can(perm) {
        return true;
    }
    let scoped = matches!(
        perm,
        "add-user-to-joined-room" | "remove-user" | "add-team-member" | "edit-team-member"
    );
    scoped
        && st
            .sub(rid, &ctx.caller.user.id)
            .is_some_and(|s| s.roles.iter().any(|r| r == "owner" || r == "moderator"))
}

/// `canAccessRoom`: public rooms to everyone, private ones to their members only (no admin
/// override).
fn can_access(st: &Store, ctx: &Ctx, room: &Room) -> bool {
    room.t == "c" || st.sub(&room.id, &ctx.caller.user.id).is_some()
}

/// `findChannelByIdOrName`: `c` rooms, archived ones refused when `checked_archived`.
fn find_channel(st: &Store, ctx: &Ctx, checked_archived: bool) -> Result<Room, Response> {
    let (id, name) = (param(ctx, "roomId"), param(ctx, "roomName"));
    if id.is_none() && name.is_none() {
        return Err(RocketChat::meteor_error(
            "error-roomid-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
            None,
        ));
    }
    let room = match (&id, &name) {
        (Some(id), _) => st.rooms.get(id),
        (None, Some(n)) => st.room_by_name(n),
        _ => None,
    };
    let Some(room) = room.filter(|r| r.t == "c") else {
        return Err(not_found_channel());
    };
    if checked_archived && room.archived {
        return Err(RocketChat::meteor_error(
            "error-room-archived",
            &format!("The channel, {}, is archived", room.name),
            None,
        ));
    }
    Ok(room.clone())
}

/// `findPrivateGroupByIdOrName`: a `p` room the caller is subscribed to.
fn find_group(st: &Store, ctx: &Ctx, checked_archived: bool) -> Result<Room, Response> {
    let (id, name) = (param(ctx, "roomId"), param(ctx, "roomName"));
    if id.is_none() && name.is_none() {
        return Err(RocketChat::meteor_error(
            "error-room-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
            None,
        ));
    }
    let room = match (&id, &name) {
        (Some(id), _) => st.rooms.get(id),
        (None, Some(n)) => st.room_by_name(n),
        _ => None,
    };
    let Some(room) = room.filter(|r| r.t == "p" && can_access(st, ctx, r)) else {
        return Err(not_found_group());
    };
    if checked_archived && room.archived {
        return Err(RocketChat::meteor_error(
            "error-room-archived",
            &format!("The private group, {}, is archived", room.name),
            None,
        ));
    }
    Ok(room.clone())
}

/// `getPaginationItems`: offset, count (default 50, at most 100, 0 = all).
fn pagination(ctx: &Ctx) -> (usize, usize) {
    let n = |k: &str| {
        ctx.params.get(k).and_then(|v| match v {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
    };
    let offset = n("offset").unwrap_or(0).max(0) as usize;
    let count = match n("count").unwrap_or(50).unsigned_abs() as usize {
        0 => usize::MAX,
        c => c.min(100),
    };
    (offset, count)
}

// ----- create -----------------------------------------------------------------------------

/// `getValidRoomName` with the default `UTF8_Channel_Names_Validation`.
fn valid_room_name(st: &Store, name: &str) -> Result<(), Response> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && validate_name_chars(name);
    if !ok {
        let escaped = util::html_escape(name);
        return Err(RocketChat::meteor_error(
            "error-invalid-room-name",
            &format!("{escaped} is not a valid room name."),
            Some(json!({"function": "RocketChat.getValidRoomName", "channel_name": escaped})),
        ));
    }
    if let Some(r) = st.room_by_name(name) {
        let escaped = util::html_escape(name);
        let (code, reason) = if r.archived {
            (
                "error-archived-duplicate-name",
                format!("There's an archived channel with name {escaped}"),
            )
        } else {
            (
                "error-duplicate-channel-name",
                format!("A channel with name '{escaped}' exists"),
            )
        };
        return Err(RocketChat::meteor_error(
            code,
            &reason,
            Some(json!({"function": "RocketChat.getValidRoomName", "channel_name": escaped})),
        ));
    }
    Ok(())
}

/// Inserts a room; the caller checked its name.
pub(crate) fn insert_room(
    rc: &RocketChat,
    st: &mut Store,
    name: &str,
    t: &str,
    team_id: Option<String>,
    creator: Option<(String, String)>,
) -> Room {
    let now = util::now_ms();
    let room = Room {
        id: rc.ids.meteor_id(),
        name: name.to_string(),
        t: t.to_string(),
        default: false,
        team_main: false,
        team_id,
        archived: false,
        creator,
        created_at: now,
        updated_at: now,
    };
    st.rooms.insert(room.id.clone(), room.clone());
    room
}

/// channels.create / groups.create `{name, members?: usernames, readOnly?, excludeSelf?}`.
fn create(rc: &RocketChat, ctx: &Ctx, t: &str) -> Response {
    let perm = if t == "c" { "create-c" } else { "create-p" };
    if !ctx.caller.can(perm) {
        return unauthorized();
    }
    let Some(name) = ctx
        .params
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return RocketChat::failure("Param \"name\" is required");
    };
    let members = match ctx.params.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let names: Option<Vec<String>> =
                a.iter().map(|v| v.as_str().map(str::to_string)).collect();
            match names {
                Some(n) => n,
                None => {
                    return RocketChat::meteor_error(
                        "error-invalid-members",
                        "members should be an array of usernames if provided for rooms other than direct messages",
                        None,
                    );
                }
            }
        }
        Some(_) => return RocketChat::failure("Param \"members\" must be an array if provided"),
    };
    if name.trim().is_empty() {
        return RocketChat::meteor_error(
            "error-invalid-name",
            "Invalid name",
            Some(json!({"function": "RocketChat.createRoom"})),
        );
    }
    let exclude_self = ctx.params.get("excludeSelf").and_then(Value::as_bool) == Some(true);
    let mut st = rc.write();
    let name = name.trim().to_string();
    if let Err(r) = valid_room_name(&st, &name) {
        return r;
    }
    let caller = &ctx.caller.user;
    let room = insert_room(
        rc,
        &mut st,
        &name,
        t,
        None,
        Some((caller.id.clone(), caller.username.clone())),
    );
    let now = util::now_ms();
    if !exclude_self {
        st.subscribe(&room.id, &caller.id, vec!["owner".into()], now);
    }
    // Unknown usernames are skipped (`Users.findUsersByUsernames`).
    for m in members {
        let id = st.by_username(&m).map(|u| u.id.clone());
        if let Some(id) = id {
            st.subscribe(&room.id, &id, Vec::new(), now);
        }
    }
    let view = room.view(st.users_count(&room.id));
    let key = if t == "c" { "channel" } else { "group" };
    RocketChat::success(json!({ key: view }))
}

pub(super) fn channels_create(rc: &RocketChat, ctx: &Ctx) -> Response {
    create(rc, ctx, "c")
}

pub(super) fn groups_create(rc: &RocketChat, ctx: &Ctx) -> Response {
    create(rc, ctx, "p")
}

// ----- info -------------------------------------------------------------------------------

pub(super) fn channels_info(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    let room = match find_channel(&st, ctx, false) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !can_access(&st, ctx, &room) {
        return unauthorized();
    }
    RocketChat::success(json!({"channel": room.view(st.users_count(&room.id))}))
}

pub(super) fn groups_info(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    match find_group(&st, ctx, false) {
        Ok(room) => RocketChat::success(json!({"group": room.view(st.users_count(&room.id))})),
        Err(r) => r,
    }
}

pub(super) fn rooms_info(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    let room = match (param(ctx, "roomId"), param(ctx, "roomName")) {
        (None, None) => {
            return RocketChat::meteor_error(
                "error-roomid-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
                None,
            );
        }
        (Some(id), _) => st.rooms.get(&id),
        (None, Some(n)) => st.room_by_name(&n),
    };
    let Some(room) = room else {
        return not_found_channel();
    };
    if !can_access(&st, ctx, room) {
        return failure2("not-allowed", "Not Allowed");
    }
    let mut body = Map::new();
    body.insert("room".into(), room.view(st.users_count(&room.id)));
    if let Some(team) = room.team_id.as_ref().and_then(|t| st.teams.get(t)) {
        body.insert(
            "team".into(),
            json!({"_id": team.id, "name": team.name, "roomId": team.room_id, "type": team.team_type}),
        );
    }
    RocketChat::success(Value::Object(body))
}

// ----- invite -----------------------------------------------------------------------------

/// `getUserListFromParams`: ids when `userIds`/`userId` is present, usernames (ignoring case)
/// otherwise; unknown entries dropped. Err = `error-users-params-not-provided`.
fn user_list(st: &Store, ctx: &Ctx) -> Result<Vec<String>, Response> {
    let list = |k: &str| -> Vec<String> {
        match ctx.params.get(k) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    let by_ids = ctx.params.get("userIds").is_some() || ctx.params.get("userId").is_some();
    let mut wanted = if ctx.params.get("userIds").is_some() {
        list("userIds")
    } else {
        list("usernames")
    };
    if let Some(one) = param(ctx, "userId")
        .or_else(|| param(ctx, "username"))
        .or_else(|| param(ctx, "user"))
    {
        wanted.push(one);
    }
    wanted.dedup();
    if wanted.is_empty() {
        return Err(RocketChat::meteor_error(
            "error-users-params-not-provided",
            "Please provide \"userId\" or \"username\" or \"userIds\" or \"usernames\" as param",
            None,
        ));
    }
    let mut ids: Vec<String> = wanted
        .iter()
        .filter_map(|w| {
            if by_ids {
                st.get(w).map(|u| u.id.clone())
            } else {
                st.by_username(w).map(|u| u.id.clone())
            }
        })
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// `addUsersToRoomMethod`'s permission chain.
fn may_add(st: &Store, ctx: &Ctx, room: &Room) -> bool {
    let joined = st.sub(&room.id, &ctx.caller.user.id).is_some();
    (joined && has_room_perm(st, ctx, &room.id, "add-user-to-joined-room"))
        || (room.t == "c" && ctx.caller.can("add-user-to-any-c-room"))
        || (room.t == "p" && ctx.caller.can("add-user-to-any-p-room"))
}

fn invite(rc: &RocketChat, ctx: &Ctx, t: &str) -> Response {
    let mut st = rc.write();
    let room = if t == "c" {
        find_channel(&st, ctx, true)
    } else {
        // groups.invite looks the room up without an access check.
        match param(ctx, "roomId").or_else(|| param(ctx, "roomName")) {
            None => Err(RocketChat::meteor_error(
                "error-room-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
                None,
            )),
            Some(v) => st
                .room_by_id_or_name(&v)
                .filter(|r| r.t == "p")
                .cloned()
                .ok_or_else(not_found_group),
        }
    };
    let room = match room {
        Ok(r) => r,
        Err(r) => return r,
    };
    let users = match user_list(&st, ctx) {
        Ok(u) => u,
        Err(r) => return r,
    };
    if users.is_empty() {
        return if t == "c" {
            // `failure('invalid-user-invite-list', 'Cannot invite…')`: reversed on purpose.
            failure2(
                "invalid-user-invite-list",
                "Cannot invite if no users are provided",
            )
        } else {
            RocketChat::meteor_error(
                "error-empty-invite-list",
                "Cannot invite if no valid users are provided",
                None,
            )
        };
    }
    if !may_add(&st, ctx, &room) {
        return not_allowed("addUsersToRoom");
    }
    let now = util::now_ms();
    for uid in users {
        // Already a member: nothing happens, no error.
        st.subscribe(&room.id, &uid, Vec::new(), now);
    }
    let view = room.view(st.users_count(&room.id));
    if t == "c" {
        RocketChat::success(json!({"channel": view}))
    } else {
        RocketChat::success(json!({"group": view}))
    }
}

pub(super) fn channels_invite(rc: &RocketChat, ctx: &Ctx) -> Response {
    invite(rc, ctx, "c")
}

pub(super) fn groups_invite(rc: &RocketChat, ctx: &Ctx) -> Response {
    invite(rc, ctx, "p")
}

// ----- kick -------------------------------------------------------------------------------

/// `isChannelsKickProps`: `oneOf` `{roomId, userId}` / `{roomName, userId}`, no other keys.
fn kick_schema() -> Vec<Obj> {
    ["roomId", "roomName"]
        .into_iter()
        .map(|room| Obj {
            props: vec![prop(room, Type::String), prop("userId", Type::String)],
            required: vec![room, "userId"],
            additional: false,
        })
        .collect()
}

/// `removeUserFromRoomMethod`, the checks of §1 in order.
fn remove_from_room(
    st: &mut Store,
    ctx: &Ctx,
    room: &Room,
    uid: Option<&str>,
) -> Result<(), Response> {
    if !has_room_perm(st, ctx, &room.id, "remove-user") {
        return Err(not_allowed("removeUserFromRoom"));
    }
    let kick_any = if room.t == "c" {
        ctx.caller.can("kick-user-from-any-c-room")
    } else {
        ctx.caller.can("kick-user-from-any-p-room")
    };
    if !kick_any && !can_access(st, ctx, room) {
        return Err(not_found_group());
    }
    let not_in_room =
        || RocketChat::meteor_error("error-user-not-in-room", "User is not in this room", None);
    let Some(uid) = uid else {
        return Err(not_in_room());
    };
    let sub = st.sub(&room.id, uid).cloned();
    if sub.is_none() && !kick_any {
        return Err(not_in_room());
    }
    if let Some(s) = &sub
        && s.roles.iter().any(|r| r == "owner")
    {
        let owners = st
            .subs
            .values()
            .filter(|x| x.rid == room.id && x.roles.iter().any(|r| r == "owner"))
            .count();
        if owners == 1 {
            return Err(RocketChat::meteor_error(
                "error-you-are-last-owner",
                "You are the last owner. Please set new owner before leaving the room.",
                None,
            ));
        }
    }
    st.unsubscribe(&room.id, uid);
    Ok(())
}

pub(super) fn channels_kick(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut checked = ctx.params.clone();
    if let Err(m) = one_of(&kick_schema(), &mut checked) {
        return RocketChat::invalid_params(&m);
    }
    let mut st = rc.write();
    let room = match find_channel(&st, ctx, true) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let uid = param(ctx, "userId").unwrap_or_default();
    if st.get(&uid).is_none() {
        return RocketChat::meteor_error(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        );
    }
    if let Err(r) = remove_from_room(&mut st, ctx, &room, Some(&uid)) {
        return r;
    }
    RocketChat::success(json!({"channel": room.view(st.users_count(&room.id))}))
}

pub(super) fn groups_kick(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut st = rc.write();
    // `getRoomFromParams`: a `p` room, no access check.
    let room = match param(ctx, "roomId").or_else(|| param(ctx, "roomName")) {
        None => {
            return RocketChat::meteor_error(
                "error-room-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
                None,
            );
        }
        Some(v) => match st.room_by_id_or_name(&v).filter(|r| r.t == "p") {
            Some(r) => r.clone(),
            None => return not_found_group(),
        },
    };
    let user = if let Some(id) = param(ctx, "userId") {
        st.get(&id)
    } else if let Some(name) = param(ctx, "username").or_else(|| param(ctx, "user")) {
        st.by_username(&name)
    } else {
        return RocketChat::meteor_error(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        );
    };
    let Some(uid) = user.map(|u| u.id.clone()) else {
        return RocketChat::meteor_error(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        );
    };
    if let Err(r) = remove_from_room(&mut st, ctx, &room, Some(&uid)) {
        return r;
    }
    RocketChat::success(json!({}))
}

// ----- members ----------------------------------------------------------------------------

fn member_view(u: &super::store::RcUser) -> Value {
    let mut m = Map::new();
    m.insert("_id".into(), json!(u.id));
    m.insert("username".into(), json!(u.username));
    if let Some(n) = &u.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(n) = &u.nickname {
        m.insert("nickname".into(), json!(n));
    }
    m.insert("status".into(), json!(u.status));
    if let Some(e) = &u.avatar_etag {
        m.insert("avatarETag".into(), json!(e));
    }
    m.insert("_updatedAt".into(), json!(util::iso_ms(u.updated_at)));
    Value::Object(m)
}

/// `findUsersOfRoom`: active users only, by username, paged.
fn members_of(st: &Store, ctx: &Ctx, rid: &str) -> Response {
    let (offset, count) = pagination(ctx);
    let mut users: Vec<&super::store::RcUser> = st
        .subs
        .values()
        .filter(|s| s.rid == rid)
        .filter_map(|s| st.get(&s.uid))
        .filter(|u| u.active)
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let total = users.len();
    let page: Vec<Value> = users
        .into_iter()
        .skip(offset)
        .take(count)
        .map(member_view)
        .collect();
    let n = page.len();
    RocketChat::success(json!({"members": page, "count": n, "offset": offset, "total": total}))
}

pub(super) fn channels_members(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    let room = match find_channel(&st, ctx, false) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !can_access(&st, ctx, &room) {
        return unauthorized();
    }
    members_of(&st, ctx, &room.id)
}

pub(super) fn groups_members(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    match find_group(&st, ctx, true) {
        Ok(room) => members_of(&st, ctx, &room.id),
        Err(r) => r,
    }
}

/// `user.rooms` of users.info?includeUserRooms=true: the subscriptions, by type and name.
pub(crate) fn user_rooms(st: &Store, uid: &str) -> Value {
    let mut rooms: Vec<(&Room, &super::store::Subscription)> = st
        .subs
        .values()
        .filter(|s| s.uid == uid)
        .filter_map(|s| st.rooms.get(&s.rid).map(|r| (r, s)))
        .collect();
    rooms.sort_by(|a, b| (&a.0.t, &a.0.name).cmp(&(&b.0.t, &b.0.name)));
    Value::Array(
        rooms
            .into_iter()
            .map(|(r, s)| {
                json!({"rid": r.id, "name": r.name, "t": r.t, "roles": s.roles, "unread": 0})
            })
            .collect(),
    )
}

/// `joinDefaultChannels`: every `default: true` room of type c or p.
pub(crate) fn join_default_channels(st: &mut Store, uid: &str) {
    let now = util::now_ms();
    let defaults: Vec<String> = st
        .rooms
        .values()
        .filter(|r| r.default && (r.t == "c" || r.t == "p"))
        .map(|r| r.id.clone())
        .collect();
    for rid in defaults {
        st.subscribe(&rid, uid, Vec::new(), now);
    }
}

// ----- teams ------------------------------------------------------------------------------

/// `teams.create {name, type, members?: userIds, owner?}` (for setup).
pub(super) fn teams_create(rc: &RocketChat, ctx: &Ctx) -> Response {
    if !ctx.caller.can("create-team") {
        return unauthorized();
    }
    let Some(name) = param(ctx, "name") else {
        return RocketChat::failure("Body param \"name\" is required");
    };
    let ty = match ctx.params.get("type") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => 1u8,
        Some(Value::String(s)) if s == "1" => 1,
        _ => 0,
    };
    let members: Vec<String> = match ctx.params.get("members") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let caller = ctx.caller.user.clone();
    match create_team(
        rc,
        &name,
        ty,
        Some((caller.id.clone(), caller.username.clone())),
        &members,
    ) {
        Ok(team) => RocketChat::success(json!({"team": team.view()})),
        Err(e) => RocketChat::failure(&e),
    }
}

/// `Team.create`: the name must be free as a team, a username and a room; the main room
/// gets the creator as owner.
pub(crate) fn create_team(
    rc: &RocketChat,
    name: &str,
    ty: u8,
    creator: Option<(String, String)>,
    members: &[String],
) -> Result<RcTeam, String> {
    let mut st = rc.write();
    if st.team_by_name(name).is_some() || st.by_username(name).is_some() {
        return Err("team-name-already-exists".into());
    }
    if st.room_by_name(name).is_some() {
        return Err("room-name-already-exists".into());
    }
    let now = util::now_ms();
    let team_id = rc.ids.meteor_id();
    let t = if ty == 1 { "p" } else { "c" };
    let mut room = insert_room(rc, &mut st, name, t, Some(team_id.clone()), creator.clone());
    room.team_main = true;
    st.rooms.insert(room.id.clone(), room.clone());
    let team = RcTeam {
        id: team_id,
        name: name.to_string(),
        team_type: ty,
        room_id: room.id.clone(),
        created_by: creator.clone(),
        created_at: now,
    };
    st.teams.insert(team.id.clone(), team.clone());
    if let Some((uid, _)) = &creator {
        st.subscribe(&room.id, uid, vec!["owner".into()], now);
    }
    for m in members {
        if st.get(m).is_some() {
            st.subscribe(&room.id, m, Vec::new(), now);
        }
    }
    Ok(team)
}

/// `getTeamByIdOrName`.
fn find_team(st: &Store, ctx: &Ctx) -> Option<RcTeam> {
    if let Some(id) = param(ctx, "teamId") {
        return st.teams.get(&id).cloned();
    }
    param(ctx, "teamName").and_then(|n| st.team_by_name(&n).cloned())
}

fn team_missing() -> Response {
    RocketChat::failure("team-does-not-exist")
}

/// `teamId` or `teamName` (`oneOf`), for the typed team routes.
fn team_selector(ctx: &Ctx) -> Result<(), Response> {
    let (id, name) = (ctx.params.get("teamId"), ctx.params.get("teamName"));
    match (id, name) {
        (Some(_), Some(_)) | (None, None) => Err(RocketChat::invalid_params(
            "must have required property 'teamId'\n must have required property 'teamName'\n must match exactly one schema in oneOf",
        )),
        _ => Ok(()),
    }
}

pub(super) fn teams_info(rc: &RocketChat, ctx: &Ctx) -> Response {
    if let Err(r) = team_selector(ctx) {
        return r;
    }
    let st = rc.read();
    let Some(team) = find_team(&st, ctx) else {
        return RocketChat::failure("Team not found");
    };
    let Some(room) = st.rooms.get(&team.room_id) else {
        return RocketChat::failure("Room not found");
    };
    if !can_access(&st, ctx, room) && !ctx.caller.can("view-all-teams") {
        return unauthorized();
    }
    RocketChat::success(json!({"teamInfo": team.view()}))
}

/// `isTeamsAddMembersProps` (rest-typings 8.8.1 `v1/teams/TeamsAddMembersProps`), one
/// `oneOf` branch.
fn add_members_schema(selector: &'static str) -> Obj {
    let member = Obj {
        props: vec![
            prop("userId", Type::String),
            nullable("roles", ajv::strings()),
        ],
        required: vec!["userId"],
        additional: false,
    };
    let mut members = prop(
        "members",
        Type::Array(Box::new(Type::Object(Some(Box::new(member))))),
    );
    members.min_items = Some(1);
    members.unique_items = true;
    Obj {
        props: vec![prop(selector, Type::String), members],
        required: vec![selector, "members"],
        additional: false,
    }
}

/// A `oneOf` of object branches (ajv, first error of each failing branch, then its own).
fn one_of(branches: &[Obj], data: &mut Value) -> Result<(), String> {
    ajv::validate_any_of(branches, data).map_err(|m| {
        m.replace(
            "must match a schema in anyOf",
            "must match exactly one schema in oneOf",
        )
    })
}

/// `teams.addMembers`: sequential; an existing member is left alone, then roles are added.
pub(super) fn teams_add_members(rc: &RocketChat, ctx: &Ctx) -> Response {
    let mut checked = ctx.params.clone();
    let schemas = [add_members_schema("teamId"), add_members_schema("teamName")];
    if let Err(m) = one_of(&schemas, &mut checked) {
        return RocketChat::invalid_params(&m);
    }
    let members = checked
        .get("members")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut st = rc.write();
    let Some(team) = find_team(&st, ctx) else {
        return team_missing();
    };
    if !has_room_perm(&st, ctx, &team.room_id, "add-team-member")
        && !has_room_perm(&st, ctx, &team.room_id, "edit-team-member")
    {
        return unauthorized();
    }
    let now = util::now_ms();
    for m in members {
        let uid = m.get("userId").and_then(Value::as_str).unwrap_or("");
        if st.get(uid).is_none() {
            // `Users.findOneById` → null, then `addUserToRoom` reads a property of it.
            return RocketChat::failure("Cannot read properties of null (reading '_id')");
        }
        st.subscribe(&team.room_id, uid, Vec::new(), now);
        let roles: Vec<String> = m
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        // `$addToSet` on the team member and the main-room subscription.
        let key = (team.id.clone(), uid.to_string());
        let entry = st.team_members.entry(key).or_insert(RcTeamMember {
            team_id: team.id.clone(),
            user_id: uid.to_string(),
            roles: vec!["member".into()],
            created_by: None,
            created_at: now,
        });
        for r in &roles {
            if !entry.roles.contains(r) {
                entry.roles.push(r.clone());
            }
        }
        if let Some(s) = st.subs.get_mut(&(team.room_id.clone(), uid.to_string())) {
            for r in &roles {
                if !s.roles.contains(r) {
                    s.roles.push(r.clone());
                }
            }
        }
    }
    RocketChat::success(json!({}))
}

/// `teams.removeMember {teamId|teamName, userId, rooms?}` (`isTeamsRemoveMemberProps`).
pub(super) fn teams_remove_member(rc: &RocketChat, ctx: &Ctx) -> Response {
    let schema = |sel: &'static str| {
        let mut rooms = nullable("rooms", ajv::strings());
        rooms.min_items = Some(1);
        rooms.unique_items = true;
        Obj {
            props: vec![prop(sel, Type::String), prop("userId", Type::String), rooms],
            required: vec![sel, "userId"],
            additional: false,
        }
    };
    let mut checked = ctx.params.clone();
    if let Err(m) = one_of(&[schema("teamId"), schema("teamName")], &mut checked) {
        return RocketChat::invalid_params(&m);
    }
    let mut st = rc.write();
    let Some(team) = find_team(&st, ctx) else {
        return team_missing();
    };
    if !has_room_perm(&st, ctx, &team.room_id, "edit-team-member") {
        return unauthorized();
    }
    let uid = param(ctx, "userId").unwrap_or_default();
    // `Users.findOneActiveById`: a deactivated user cannot be removed this way.
    if !st.get(&uid).is_some_and(|u| u.active) {
        return RocketChat::failure("invalid-user");
    }
    let key = (team.id.clone(), uid.clone());
    let member = st.team_members.get(&key).cloned();
    if member.is_none() && st.sub(&team.room_id, &uid).is_none() {
        return RocketChat::failure("member-does-not-exist");
    }
    if let Some(m) = &member
        && m.roles.iter().any(|r| r == "owner")
    {
        let owners = st
            .team_members
            .values()
            .filter(|x| x.team_id == team.id && x.roles.iter().any(|r| r == "owner"))
            .count();
        if owners == 1 {
            return RocketChat::failure("last-owner-can-not-be-removed");
        }
    }
    st.team_members.remove(&key);
    st.unsubscribe(&team.room_id, &uid);
    if let Some(Value::Array(rooms)) = ctx.params.get("rooms") {
        for r in rooms.iter().filter_map(Value::as_str) {
            if st
                .rooms
                .get(r)
                .is_some_and(|x| x.team_id.as_deref() == Some(&team.id))
            {
                st.unsubscribe(r, &uid);
            }
        }
    }
    RocketChat::success(json!({}))
}

/// `teams.members`: active users; empty for non-members without view-all-teams.
pub(super) fn teams_members(rc: &RocketChat, ctx: &Ctx) -> Response {
    let st = rc.read();
    let Some(team) = find_team(&st, ctx) else {
        return team_missing();
    };
    let (offset, count) = pagination(ctx);
    let member = st
        .team_members
        .contains_key(&(team.id.clone(), ctx.caller.user.id.clone()));
    if !member && !ctx.caller.can("view-all-teams") {
        return RocketChat::success(
            json!({"members": [], "total": 0, "count": 0, "offset": offset}),
        );
    }
    let mut members: Vec<(&RcTeamMember, &super::store::RcUser)> = st
        .team_members
        .values()
        .filter(|m| m.team_id == team.id)
        .filter_map(|m| st.get(&m.user_id).filter(|u| u.active).map(|u| (m, u)))
        .collect();
    members.sort_by(|a, b| a.1.username.cmp(&b.1.username));
    let total = members.len();
    let page: Vec<Value> = members
        .into_iter()
        .skip(offset)
        .take(count)
        .map(|(m, u)| {
            let (cid, cname) = m.created_by.clone().unwrap_or_default();
            json!({
                "user": {"_id": u.id, "username": u.username, "name": u.name, "status": u.status, "settings": {}},
                "roles": m.roles,
                "createdBy": {"_id": cid, "username": cname},
                "createdAt": util::iso_ms(m.created_at),
            })
        })
        .collect();
    let n = page.len();
    RocketChat::success(json!({"members": page, "total": total, "count": n, "offset": offset}))
}

/// `teams.listAll` (`permissionsRequired: ['view-all-teams']`).
pub(super) fn teams_list_all(rc: &RocketChat, ctx: &Ctx) -> Response {
    if !ctx.caller.can("view-all-teams") {
        return RocketChat::forbidden_permission();
    }
    let st = rc.read();
    let (offset, count) = pagination(ctx);
    let mut teams: Vec<&RcTeam> = st.teams.values().collect();
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    let total = teams.len();
    let page: Vec<Value> = teams
        .into_iter()
        .skip(offset)
        .take(count)
        .map(|t| {
            let mut v = t.view();
            if let Value::Object(m) = &mut v {
                let rooms = st
                    .rooms
                    .values()
                    .filter(|r| r.team_id.as_deref() == Some(&t.id) && !r.team_main)
                    .count();
                let users = st
                    .team_members
                    .keys()
                    .filter(|(tid, _)| tid == &t.id)
                    .count();
                m.insert("rooms".into(), json!(rooms));
                m.insert("numberOfUsers".into(), json!(users));
            }
            v
        })
        .collect();
    let n = page.len();
    RocketChat::success(json!({"teams": page, "total": total, "count": n, "offset": offset}))
}

/// `rooms.adminRooms?types[]&filter&offset&count` (`findAdminRooms`): every room of the
/// listed types (all when none), discussions and team main rooms only when `types` has
/// `discussions` / `teams`, whose name contains `filter` (case-insensitive). Without
/// `view-room-administration` the thrown `Error('error-not-authorized')`.
pub(super) fn rooms_admin_rooms(rc: &RocketChat, ctx: &Ctx) -> Response {
    if !ctx.caller.can("view-room-administration") {
        return RocketChat::failure("error-not-authorized");
    }
    // qs reads `types[]=c&types[]=p` as one array; the params map keeps one value a key.
    let types: Vec<String> = ctx
        .req
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "types[]" || k == "types")
        .map(|(_, v)| v)
        .collect();
    let include_teams = types.iter().any(|t| t == "teams");
    let show: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| !matches!(*t, "teams" | "discussions"))
        .collect();
    let filter = ctx
        .params
        .get("filter")
        .and_then(Value::as_str)
        .map(|f| f.trim().to_lowercase())
        .unwrap_or_default();
    let st = rc.read();
    let (offset, count) = pagination(ctx);
    let mut rooms: Vec<&Room> = st
        .rooms
        .values()
        .filter(|r| show.is_empty() || show.contains(&r.t.as_str()))
        .filter(|r| include_teams || !r.team_main)
        .filter(|r| filter.is_empty() || r.name.to_lowercase().contains(&filter))
        .collect();
    rooms.sort_by(|a, b| (!a.default, &a.name).cmp(&(!b.default, &b.name)));
    let total = rooms.len();
    let page: Vec<Value> = rooms
        .into_iter()
        .skip(offset)
        .take(count)
        .map(|r| r.view(st.users_count(&r.id)))
        .collect();
    let n = page.len();
    RocketChat::success(json!({"rooms": page, "count": n, "offset": offset, "total": total}))
}

// ----- the Sandbox test API --------------------------------------------------------------------

pub(crate) fn seed_channel(
    rc: &RocketChat,
    team: Option<&str>,
    name: &str,
    private: bool,
) -> Result<String, String> {
    let mut st = rc.write();
    let team_id = match team {
        Some(t) => Some(
            st.team_by_name(t)
                .map(|t| t.id.clone())
                .ok_or_else(|| format!("no team {t}"))?,
        ),
        None => None,
    };
    if st.room_by_name(name).is_some() {
        return Err(format!("a room named {name} exists"));
    }
    let t = if private { "p" } else { "c" };
    Ok(insert_room(rc, &mut st, name, t, team_id, None).id)
}

pub(crate) fn memberships(rc: &RocketChat, username: &str) -> crate::Memberships {
    let st = rc.read();
    let Some(u) = st.by_username(username) else {
        return crate::Memberships::default();
    };
    let mut teams: Vec<String> = st
        .team_members
        .values()
        .filter(|m| m.user_id == u.id)
        .filter_map(|m| st.teams.get(&m.team_id).map(|t| t.name.clone()))
        .collect();
    let mut channels: Vec<String> = st
        .subs
        .values()
        .filter(|s| s.uid == u.id)
        .filter_map(|s| st.rooms.get(&s.rid))
        .filter(|r| !r.team_main && (r.t == "c" || r.t == "p"))
        .map(|r| r.name.clone())
        .collect();
    teams.sort();
    channels.sort();
    crate::Memberships { teams, channels }
}

pub(crate) fn add_member(rc: &RocketChat, group: &str, username: &str) -> Result<(), String> {
    let mut st = rc.write();
    let uid = st
        .by_username(username)
        .map(|u| u.id.clone())
        .ok_or_else(|| format!("no user {username}"))?;
    let rid = match st.team_by_name(group) {
        Some(t) => t.room_id.clone(),
        None => st
            .room_by_name(group)
            .map(|r| r.id.clone())
            .ok_or_else(|| format!("no team or room {group}"))?,
    };
    st.subscribe(&rid, &uid, Vec::new(), util::now_ms());
    Ok(())
}

/// The state file's part.
pub(crate) fn save(st: &Store) -> Value {
    json!({
        "rooms": st.rooms.values().collect::<Vec<_>>(),
        "subscriptions": st.subs.values().collect::<Vec<_>>(),
        "teams": st.teams.values().collect::<Vec<_>>(),
        "team_members": st.team_members.values().collect::<Vec<_>>(),
    })
}

pub(crate) fn load(st: &mut Store, state: &Value) -> Result<(), String> {
    fn list<T: serde::de::DeserializeOwned>(state: &Value, key: &str) -> Result<Vec<T>, String> {
        match state.get(key) {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("{key}: {e}")),
            None => Ok(Vec::new()),
        }
    }
    for r in list::<Room>(state, "rooms")? {
        st.rooms.insert(r.id.clone(), r);
    }
    for s in list::<super::store::Subscription>(state, "subscriptions")? {
        st.subs.insert((s.rid.clone(), s.uid.clone()), s);
    }
    for t in list::<RcTeam>(state, "teams")? {
        st.teams.insert(t.id.clone(), t);
    }
    for m in list::<RcTeamMember>(state, "team_members")? {
        st.team_members
            .insert((m.team_id.clone(), m.user_id.clone()), m);
    }
    Ok(())
}
