//! Teams, channels and their memberships (issue 13), after
//! /work/shared/docs/mattermost-members-and-ops.md §1, §2 and §15: MM `api4/team.go`
//! (`getAllTeams`, `getTeamByName`, `getTeam`, `createTeam`, `addTeamMember`,
//! `addTeamMembers`, `removeTeamMember`, `getTeamMembers`, `getTeamsForUser`,
//! `getTeamMembersForUser`), `api4/channel.go` (`createChannel`, `getChannel`,
//! `getChannelByName`, `getPublicChannelsForTeam`, `getPrivateChannelsForTeam`,
//! `addChannelMember`, `removeChannelMember`, `getChannelMembers`,
//! `getChannelMembersForTeamForUser`), `app/teams/teams.go` (`JoinUserToTeam`),
//! `app/channel.go` (`AddUserToChannel`, `JoinDefaultChannels`, `DefaultChannelNames`),
//! `model/team.go` and `model/channel.go` (`IsValid`, `IsValidTeamName`,
//! `IsValidChannelIdentifier`).
//!
//! Simplifications:
//! - Permissions: the sandbox has no role scheme. A system admin holds every permission.
//!   Anyone else holds, on a team where they have an active membership, what `team_user`
//!   holds by default (`view_team`, `add_user_to_team`, `create_public_channel`,
//!   `create_private_channel`, `join_public_channels`, `read_public_channel`), plus
//!   `remove_user_from_team` where they are team admin (the team's creator); on a channel
//!   they are a member of they hold what `channel_user` holds (`read_channel`,
//!   `manage_public_channel_members`, `manage_private_channel_members`). Outside
//!   any team a user holds `join_public_teams` and `create_team` (`system_user`).
//! - No group-constrained teams or channels, no allowed-domain restriction, no guests, no
//!   plugins, no system posts, no sidebar categories; DMs/GMs cannot be created, so their
//!   400s never happen.
//! - `POST /channels` for a team that does not exist answers 404
//!   `app.team.get.find.app_error` (the real server stores an orphan channel).
//! - `GET /channels/{id}/members` is ordered by user id (the real store adds no ORDER BY).
//! - `TeamSettings.MaxUsersPerTeam` is [`crate::SandboxConfig::mm_max_users_per_team`]
//!   (default 50, as on the server).

use serde_json::{Map, Value, json};

use super::decode::{self, Kind, get_bool, get_str};
use super::store::{Channel, ChannelMember, Store, Team, TeamMember};
use super::validate;
use super::{AppErr, Ctx, HandlerResult, Mattermost, Out};
use crate::util;

/// `MaxAddMembersBatch`.
const MAX_ADD_MEMBERS_BATCH: usize = 256;
/// `maxListSize` of `addChannelMember`.
const MAX_CHANNEL_ADD: usize = 1000;
/// `ChannelDisplayNameMaxRunes`, `TeamDisplayNameMaxRunes`.
const DISPLAY_NAME_MAX: usize = 64;
/// `ChannelNameMaxLength`, `TeamNameMaxLength`.
const NAME_MAX: usize = 64;
/// `model.reservedName` (`IsReservedTeamName`).
const RESERVED_TEAM_NAMES: &[&str] = &[
    "admin",
    "api",
    "channel",
    "claim",
    "error",
    "files",
    "help",
    "landing",
    "login",
    "mfa",
    "oauth",
    "plug",
    "plugins",
    "post",
    "signup",
    "boards",
    "playbooks",
];
/// `DefaultChannelNames` with `ExperimentalDefaultChannels` empty.
pub(crate) const DEFAULT_CHANNELS: &[&str] = &["town-square", "off-topic"];

// ----- names ------------------------------------------------------------------------------

/// `IsValidTeamName`: `^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$`, 2 to 64 bytes.
pub(crate) fn is_valid_team_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || b.len() > NAME_MAX {
        return false;
    }
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
        return false;
    }
    if b.iter().all(|c| alnum(c) || *c == b'-') {
        return true;
    }
    // The other branch: two alphanumeric runs joined by exactly one "__".
    match s.split_once("__") {
        Some((l, r)) => {
            !l.is_empty()
                && !r.is_empty()
                && l.bytes().all(|c| alnum(&c))
                && r.bytes().all(|c| alnum(&c))
        }
        None => false,
    }
}

/// `IsValidChannelIdentifier`: `^[a-z0-9]+([a-z\-\_0-9]+|(__)?)[a-z0-9]*$`, at least one byte.
pub(crate) fn is_valid_channel_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_'))
}

// ----- permissions (see the module docs) -------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum TeamPerm {
    View,
    AddUser,
    RemoveUser,
    CreateChannel,
}

fn has_team_perm(st: &Store, ctx: &Ctx, team_id: &str, perm: TeamPerm) -> bool {
    if ctx.is_admin() {
        return true;
    }
    match st.team_member(team_id, ctx.user_id()) {
        Some(m) if m.is_active() => perm != TeamPerm::RemoveUser || m.scheme_admin,
        _ => false,
    }
}

/// `manage_public_channel_members` / `manage_private_channel_members`: `channel_user`'s, so
/// a member of the channel (or a system admin).
fn can_manage_members(st: &Store, ctx: &Ctx, ch: &Channel) -> bool {
    ctx.is_admin() || st.channel_member(&ch.id, ctx.user_id()).is_some()
}

/// `read_channel` (private) / `read_public_channel` (public, `team_user`'s) on a channel.
fn has_channel_perm(st: &Store, ctx: &Ctx, ch: &Channel) -> bool {
    if ctx.is_admin() {
        return true;
    }
    if ch.channel_type == "O" {
        st.is_active_team_member(&ch.team_id, ctx.user_id())
    } else {
        st.channel_member(&ch.id, ctx.user_id()).is_some()
    }
}

// ----- helpers ----------------------------------------------------------------------------

fn require_id(raw: &str, param: &str) -> Result<String, AppErr> {
    if validate::is_valid_id(raw) {
        Ok(raw.to_string())
    } else {
        Err(AppErr::invalid_url(param))
    }
}

/// `page` and `per_page` (default 60, at most 200), as `web/params.go` reads them.
fn paging(ctx: &Ctx) -> (usize, usize) {
    let n = |k: &str| ctx.req.query_param(k).and_then(|v| v.parse::<i64>().ok());
    let page = n("page").filter(|&p| p >= 0).unwrap_or(0);
    let per_page = match n("per_page") {
        Some(p) if p >= 0 => p.min(200),
        _ => 60,
    };
    (
        usize::try_from(page).unwrap_or(0),
        usize::try_from(per_page).unwrap_or(60),
    )
}

fn page_of<T>(items: Vec<T>, (page, per_page): (usize, usize)) -> Vec<T> {
    items
        .into_iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .collect()
}

fn team_404() -> AppErr {
    AppErr::new("app.team.get.find.app_error", 404)
}
fn user_404() -> AppErr {
    AppErr::new("app.user.missing_account.const", 404)
}
fn channel_404() -> AppErr {
    AppErr::new("app.channel.get.existing.app_error", 404)
}

fn array(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Array(items.into_iter().collect())
}

/// `JoinDefaultChannels`: the public, unarchived default channels of the team.
fn join_default_channels(st: &mut Store, team_id: &str, user_id: &str, now: i64) {
    let guest = st.get(user_id).is_some_and(|u| u.has_role("system_guest"));
    if guest {
        return;
    }
    for name in DEFAULT_CHANNELS {
        let Some(ch) = st.channel_by_name(team_id, name, false) else {
            continue;
        };
        if ch.channel_type != "O" {
            continue;
        }
        let channel_id = ch.id.clone();
        let key = (channel_id.clone(), user_id.to_string());
        st.channel_members
            .entry(key)
            .or_insert_with(|| ChannelMember {
                channel_id,
                user_id: user_id.to_string(),
                last_update_at: now,
            });
    }
}

/// `TeamService.JoinUserToTeam` (the user exists): the member, new, reactivated or as it was.
fn join_team(st: &mut Store, max: u32, team_id: &str, user_id: &str) -> Result<Value, AppErr> {
    let now = util::now_ms();
    let key = (team_id.to_string(), user_id.to_string());
    let full = st.active_member_count(team_id) >= max as usize;
    match st.team_members.get(&key) {
        Some(m) if m.is_active() => return Ok(m.view()),
        Some(_) => {
            if full {
                return Err(AppErr::new(
                    "app.team.join_user_to_team.max_accounts.app_error",
                    400,
                ));
            }
        }
        None => {
            if full {
                return Err(AppErr::new(
                    "app.team.join_user_to_team.save_member.max_accounts.app_error",
                    400,
                ));
            }
        }
    }
    let member = TeamMember {
        team_id: team_id.to_string(),
        user_id: user_id.to_string(),
        scheme_admin: false,
        delete_at: 0,
    };
    let view = member.view();
    st.team_members.insert(key, member);
    join_default_channels(st, team_id, user_id, now);
    Ok(view)
}

/// `App.AddUserToTeam`: the user must exist.
fn add_user_to_team(mm: &Mattermost, team_id: &str, user_id: &str) -> Result<Value, AppErr> {
    let max = mm.max_users_per_team();
    let mut st = mm.write();
    if st.get(user_id).is_none() {
        return Err(user_404());
    }
    join_team(&mut st, max, team_id, user_id)
}

/// The default channels of a new team.
fn create_default_channels(mm: &Mattermost, st: &mut Store, team_id: &str, creator: &str) {
    let now = util::now_ms();
    for (name, display) in [("town-square", "Town Square"), ("off-topic", "Off-Topic")] {
        let id = mm.new_user_id();
        st.channels.insert(
            id.clone(),
            Channel {
                id,
                team_id: team_id.to_string(),
                name: name.to_string(),
                display_name: display.to_string(),
                channel_type: "O".to_string(),
                creator_id: creator.to_string(),
                create_at: now,
                update_at: now,
                delete_at: 0,
            },
        );
    }
}

/// Inserts a team with its default channels (the caller checked the name).
pub(crate) fn insert_team(
    mm: &Mattermost,
    st: &mut Store,
    name: &str,
    display_name: &str,
    team_type: &str,
    open: bool,
    creator: &str,
) -> Team {
    let now = util::now_ms();
    let team = Team {
        id: mm.new_user_id(),
        name: name.to_string(),
        display_name: display_name.to_string(),
        team_type: team_type.to_string(),
        allow_open_invite: open,
        create_at: now,
        update_at: now,
        delete_at: 0,
    };
    st.teams.insert(team.id.clone(), team.clone());
    create_default_channels(mm, st, &team.id, creator);
    team
}

// ----- teams ------------------------------------------------------------------------------

const TEAM_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("name", Kind::Str),
    ("display_name", Kind::Str),
    ("description", Kind::Str),
    ("email", Kind::Str),
    ("type", Kind::Str),
    ("company_name", Kind::Str),
    ("allowed_domains", Kind::Str),
    ("invite_id", Kind::Str),
    ("allow_open_invite", Kind::Bool),
];

/// `POST /teams` (`createTeam` → `CreateTeamWithUser`): the creator becomes team admin.
pub(crate) fn create_team(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let f = decode::decode_struct(&ctx.req.body, TEAM_FIELDS)
        .map_err(|_| AppErr::invalid_body("team"))?;
    let name = get_str(&f, "name").unwrap_or_default();
    let display = get_str(&f, "display_name").unwrap_or_default();
    let ty = get_str(&f, "type").unwrap_or_default();
    let email = get_str(&f, "email").unwrap_or_default();
    let invalid = |what: &str| {
        Err(AppErr::new(
            &format!("model.team.is_valid.{what}.app_error"),
            400,
        ))
    };
    // `Team.IsValid`, in its order.
    let display_runes = display.chars().count();
    if display_runes == 0 || display_runes > DISPLAY_NAME_MAX {
        return invalid("name");
    }
    if name.len() > NAME_MAX {
        return invalid("url");
    }
    if !email.is_empty() && !validate::is_valid_email(&email) {
        return invalid("email");
    }
    if RESERVED_TEAM_NAMES.iter().any(|r| name.starts_with(r)) {
        return invalid("reserved");
    }
    if !is_valid_team_name(&name) {
        return invalid("characters");
    }
    if ty != "O" && ty != "I" {
        return invalid("type");
    }
    let open = get_bool(&f, "allow_open_invite").unwrap_or(false);
    let mut st = mm.write();
    if st.team_by_name(&name).is_some() {
        return Err(AppErr::new("app.team.save.existing.app_error", 400));
    }
    let team = insert_team(mm, &mut st, &name, &display, &ty, open, ctx.user_id());
    let uid = ctx.user_id().to_string();
    let now = util::now_ms();
    st.team_members.insert(
        (team.id.clone(), uid.clone()),
        TeamMember {
            team_id: team.id.clone(),
            user_id: uid.clone(),
            scheme_admin: true,
            delete_at: 0,
        },
    );
    join_default_channels(&mut st, &team.id, &uid, now);
    Ok(Out::json(201, &team.view()))
}

/// `GET /teams`: every team to an admin, the open-invite ones to others, by display name.
pub(crate) fn list_teams(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let st = mm.read();
    let mut teams: Vec<&Team> = st
        .teams
        .values()
        .filter(|t| ctx.is_admin() || t.allow_open_invite)
        .collect();
    teams.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    let total = teams.len();
    let page: Vec<Value> = page_of(teams, paging(ctx))
        .into_iter()
        .map(Team::view)
        .collect();
    if ctx.req.query_param("include_total_count").as_deref() == Some("true") {
        return Ok(Out::json(
            200,
            &json!({"teams": page, "total_count": total}),
        ));
    }
    Ok(Out::json(200, &array(page)))
}

fn visible_team(st: &Store, ctx: &Ctx, t: &Team) -> Result<(), AppErr> {
    let open = t.team_type == "O" && t.allow_open_invite;
    if open || has_team_perm(st, ctx, &t.id, TeamPerm::View) {
        Ok(())
    } else {
        Err(AppErr::permission())
    }
}

/// `GET /teams/name/{name}`.
pub(crate) fn team_by_name(mm: &Mattermost, ctx: &Ctx, name: &str) -> HandlerResult {
    if !is_valid_team_name(name) {
        return Err(AppErr::invalid_url("team_name"));
    }
    let st = mm.read();
    let Some(t) = st.team_by_name(name) else {
        return Err(AppErr::new("app.team.get_by_name.missing.app_error", 404));
    };
    visible_team(&st, ctx, t)?;
    Ok(Out::json(200, &t.view()))
}

/// `GET /teams/{team_id}`.
pub(crate) fn get_team(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = require_id(raw, "team_id")?;
    let st = mm.read();
    let t = st.teams.get(&id).ok_or_else(team_404)?;
    visible_team(&st, ctx, t)?;
    Ok(Out::json(200, &t.view()))
}

const TEAM_MEMBER_FIELDS: &[(&str, Kind)] = &[
    ("team_id", Kind::Str),
    ("user_id", Kind::Str),
    ("roles", Kind::Str),
    ("delete_at", Kind::Int),
    ("scheme_guest", Kind::Bool),
    ("scheme_user", Kind::Bool),
    ("scheme_admin", Kind::Bool),
    ("explicit_roles", Kind::Str),
];

/// `POST /teams/{team_id}/members` (§1.2): 201 with the member, also when it already was one.
pub(crate) fn add_team_member(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let team_id = require_id(raw, "team_id")?;
    let f = decode::decode_struct(&ctx.req.body, TEAM_MEMBER_FIELDS)
        .map_err(|_| AppErr::new("api.team.add_team_member.invalid_body.app_error", 400))?;
    if get_str(&f, "team_id").unwrap_or_default() != team_id {
        return Err(AppErr::invalid_body("team_id"));
    }
    let user_id = get_str(&f, "user_id").unwrap_or_default();
    if !validate::is_valid_id(&user_id) {
        return Err(AppErr::invalid_body("user_id"));
    }
    {
        let st = mm.read();
        if user_id == ctx.user_id() {
            // Self-add: the team first, then join_public_teams / join_private_teams.
            let t = st.teams.get(&team_id).ok_or_else(team_404)?;
            if !t.allow_open_invite && !ctx.is_admin() {
                return Err(AppErr::permission());
            }
        } else if !has_team_perm(&st, ctx, &team_id, TeamPerm::AddUser) {
            return Err(AppErr::permission());
        }
        if !st.teams.contains_key(&team_id) {
            return Err(team_404());
        }
    }
    let member = add_user_to_team(mm, &team_id, &user_id)?;
    Ok(Out::json(201, &member))
}

/// `model.AppError` nested in a graceful batch entry: marshalled directly, so no
/// `request_id` and `detailed_error` as it is.
fn nested_error(e: &AppErr) -> Value {
    let mut v = e.body("");
    if let Value::Object(m) = &mut v {
        m.remove("request_id");
    }
    v
}

/// `POST /teams/{team_id}/members/batch[?graceful=…]` (§1.3).
pub(crate) fn add_team_members(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let team_id = require_id(raw, "team_id")?;
    // graceful is on for any non-empty value, `false` included.
    let graceful = ctx
        .req
        .query_param("graceful")
        .is_some_and(|v| !v.is_empty());
    let entries: Vec<Map<String, Value>> = match decode::first_value(&ctx.req.body) {
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(m) => out.push(m),
                    Value::Null => out.push(Map::new()),
                    _ => return Err(AppErr::invalid_body("members")),
                }
            }
            out
        }
        Some(Value::Null) => Vec::new(),
        _ => return Err(AppErr::invalid_body("members")),
    };
    if entries.len() > MAX_ADD_MEMBERS_BATCH {
        return Err(AppErr::invalid_body("too many members in batch"));
    }
    if entries.is_empty() {
        return Err(AppErr::invalid_body("no members in batch"));
    }
    {
        let st = mm.read();
        if !st.teams.contains_key(&team_id) {
            return Err(team_404());
        }
        if !has_team_perm(&st, ctx, &team_id, TeamPerm::AddUser) {
            return Err(AppErr::permission());
        }
    }
    let mut user_ids = Vec::with_capacity(entries.len());
    for e in &entries {
        let tid = e.get("team_id").and_then(Value::as_str).unwrap_or("");
        let uid = e.get("user_id").and_then(Value::as_str).unwrap_or("");
        if tid != team_id {
            return Err(AppErr::invalid_body(&format!(
                "team_id for member with user_id={uid}"
            )));
        }
        if !validate::is_valid_id(uid) {
            return Err(AppErr::invalid_body("user_id"));
        }
        user_ids.push(uid.to_string());
    }
    let mut out = Vec::with_capacity(user_ids.len());
    for uid in user_ids {
        match add_user_to_team(mm, &team_id, &uid) {
            Ok(m) if graceful => out.push(json!({"user_id": uid, "member": m, "error": null})),
            Ok(m) => out.push(m),
            // Sequential, no transaction: the users before stay added.
            Err(e) if !graceful => return Err(e),
            Err(e) => out.push(json!({"user_id": uid, "member": null, "error": nested_error(&e)})),
        }
    }
    Ok(Out::json(201, &array(out)))
}

/// `DELETE /teams/{team_id}/members/{user_id}` (§1.4): a soft delete that also removes the
/// user from every channel of the team.
pub(crate) fn remove_team_member(
    mm: &Mattermost,
    ctx: &Ctx,
    raw_team: &str,
    raw_user: &str,
) -> HandlerResult {
    let team_id = require_id(raw_team, "team_id")?;
    let user_id = ctx.require_user_id(raw_user)?;
    let mut st = mm.write();
    if user_id != ctx.user_id() && !has_team_perm(&st, ctx, &team_id, TeamPerm::RemoveUser) {
        return Err(AppErr::permission());
    }
    if !st.teams.contains_key(&team_id) {
        return Err(team_404());
    }
    if st.get(&user_id).is_none() {
        return Err(user_404());
    }
    let key = (team_id.clone(), user_id.clone());
    if !st.team_members.contains_key(&key) {
        return Err(AppErr::new(
            "api.team.remove_user_from_team.missing.app_error",
            400,
        ));
    }
    let now = util::now_ms();
    if let Some(m) = st.team_members.get_mut(&key) {
        m.delete_at = now;
        m.scheme_admin = false;
    }
    let team_channels: Vec<String> = st
        .channels
        .values()
        .filter(|c| c.team_id == team_id)
        .map(|c| c.id.clone())
        .collect();
    for cid in team_channels {
        st.channel_members.remove(&(cid, user_id.clone()));
    }
    Ok(Out::status_ok())
}

/// `GET /teams/{team_id}/members`: active memberships, by user id or `sort=Username`.
pub(crate) fn team_members(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let team_id = require_id(raw, "team_id")?;
    let st = mm.read();
    if !has_team_perm(&st, ctx, &team_id, TeamPerm::View) {
        return Err(AppErr::permission());
    }
    let exclude_deleted = ctx.req.query_param("exclude_deleted_users").as_deref() == Some("true");
    let mut members: Vec<(&str, &TeamMember)> = st
        .team_members
        .values()
        .filter(|m| m.team_id == team_id && m.is_active())
        .filter_map(|m| {
            let u = st.get(&m.user_id)?;
            (!exclude_deleted || u.is_active()).then_some((u.username.as_str(), m))
        })
        .collect();
    match ctx.req.query_param("sort").as_deref() {
        None | Some("") => members.sort_by(|a, b| a.1.user_id.cmp(&b.1.user_id)),
        Some("Username") => members.sort_by(|a, b| a.0.cmp(b.0)),
        // Any other value: no ORDER BY on the real server; insertion order here.
        Some(_) => {}
    }
    let page = page_of(members, paging(ctx));
    Ok(Out::json(
        200,
        &array(page.into_iter().map(|(_, m)| m.view())),
    ))
}

/// `GET /teams/{team_id}/members/{user_id}`: removed members too; 404 only if never one.
pub(crate) fn team_member(
    mm: &Mattermost,
    ctx: &Ctx,
    raw_team: &str,
    raw_user: &str,
) -> HandlerResult {
    let team_id = require_id(raw_team, "team_id")?;
    let user_id = ctx.require_user_id(raw_user)?;
    let st = mm.read();
    if !has_team_perm(&st, ctx, &team_id, TeamPerm::View) {
        return Err(AppErr::permission());
    }
    match st.team_member(&team_id, &user_id) {
        Some(m) => Ok(Out::json(200, &m.view())),
        None => Err(AppErr::new("app.team.get_member.missing.app_error", 404)),
    }
}

/// `GET /users/{user_id}/teams`: active memberships of unarchived teams.
pub(crate) fn teams_for_user(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    if user_id != ctx.user_id() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let st = mm.read();
    let teams = st
        .team_members
        .values()
        .filter(|m| m.user_id == user_id && m.is_active())
        .filter_map(|m| st.teams.get(&m.team_id))
        .filter(|t| t.delete_at == 0)
        .map(Team::view);
    Ok(Out::json(200, &array(teams)))
}

/// `GET /users/{user_id}/teams/members`: removed memberships included.
pub(crate) fn team_members_for_user(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&user_id) {
        return Err(AppErr::permission());
    }
    let st = mm.read();
    let members = st
        .team_members
        .values()
        .filter(|m| m.user_id == user_id)
        .map(TeamMember::view);
    Ok(Out::json(200, &array(members)))
}

// ----- channels ---------------------------------------------------------------------------

const CHANNEL_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("team_id", Kind::Str),
    ("type", Kind::Str),
    ("display_name", Kind::Str),
    ("name", Kind::Str),
    ("header", Kind::Str),
    ("purpose", Kind::Str),
    ("creator_id", Kind::Str),
];

/// `POST /channels` (`createChannel` → `CreateChannelWithUser`): 201 with the channel; the
/// creator becomes its member.
pub(crate) fn create_channel(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let f = decode::decode_struct(&ctx.req.body, CHANNEL_FIELDS)
        .map_err(|_| AppErr::invalid_body("channel"))?;
    let s = |k: &str| get_str(&f, k).unwrap_or_default();
    let (team_id, ty, name, display) = (s("team_id"), s("type"), s("name"), s("display_name"));
    {
        let st = mm.read();
        if (ty == "O" || ty == "P") && !has_team_perm(&st, ctx, &team_id, TeamPerm::CreateChannel) {
            return Err(AppErr::permission());
        }
    }
    if ty == "D" || ty == "G" {
        return Err(AppErr::new(
            "api.channel.create_channel.direct_channel.app_error",
            400,
        ));
    }
    if name.find("__").is_some_and(|i| i > 0) {
        return Err(AppErr::new(
            "api.channel.create_channel.invalid_character.app_error",
            400,
        ));
    }
    // `Channel.IsValid`, in its order.
    let invalid = |what: &str| {
        Err(AppErr::new(
            &format!("model.channel.is_valid.{what}.app_error"),
            400,
        ))
    };
    let runes = display.chars().count();
    if runes == 0 || runes > DISPLAY_NAME_MAX {
        return invalid("display_name");
    }
    if name.len() > NAME_MAX {
        return invalid("name");
    }
    if !is_valid_channel_name(&name) {
        return invalid("2_or_more");
    }
    if ty != "O" && ty != "P" {
        return invalid("type");
    }
    if s("header").chars().count() > 1024 {
        return invalid("header");
    }
    if s("purpose").chars().count() > 250 {
        return invalid("purpose");
    }
    let mut st = mm.write();
    if !st.teams.contains_key(&team_id) {
        return Err(team_404());
    }
    if st.channel_by_name(&team_id, &name, true).is_some() {
        return Err(AppErr::new(
            "store.sql_channel.save_channel.exists.app_error",
            400,
        ));
    }
    let now = util::now_ms();
    let ch = Channel {
        id: mm.new_user_id(),
        team_id,
        name,
        display_name: display,
        channel_type: ty,
        creator_id: ctx.user_id().to_string(),
        create_at: now,
        update_at: now,
        delete_at: 0,
    };
    st.channels.insert(ch.id.clone(), ch.clone());
    let uid = ctx.user_id().to_string();
    st.channel_members.insert(
        (ch.id.clone(), uid.clone()),
        ChannelMember {
            channel_id: ch.id.clone(),
            user_id: uid,
            last_update_at: now,
        },
    );
    Ok(Out::json(201, &ch.view()))
}

/// `GET /channels/{channel_id}`.
pub(crate) fn get_channel(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let id = require_id(raw, "channel_id")?;
    let st = mm.read();
    let ch = st.channels.get(&id).ok_or_else(channel_404)?;
    if !has_channel_perm(&st, ctx, ch) {
        return Err(AppErr::permission());
    }
    Ok(Out::json(200, &ch.view()))
}

/// `GET /teams/{team_id}/channels/name/{channel_name}[?include_deleted=true]` (§2.1).
pub(crate) fn channel_by_name(
    mm: &Mattermost,
    ctx: &Ctx,
    raw_team: &str,
    name: &str,
) -> HandlerResult {
    let team_id = require_id(raw_team, "team_id")?;
    if !is_valid_channel_name(name) {
        return Err(AppErr::invalid_url("channel_name"));
    }
    let include_deleted = ctx.req.query_param("include_deleted").as_deref() == Some("true");
    let st = mm.read();
    let missing = || AppErr::new("app.channel.get_by_name.missing.app_error", 404);
    let ch = st
        .channel_by_name(&team_id, name, include_deleted)
        .ok_or_else(missing)?;
    if !has_channel_perm(&st, ctx, ch) {
        // A private channel the caller cannot read looks like a missing one (the caller
        // has no manage_team either: that is an admin permission here).
        return Err(if ch.channel_type == "P" {
            missing()
        } else {
            AppErr::permission()
        });
    }
    Ok(Out::json(200, &ch.view()))
}

/// `GET /teams/{team_id}/channels` (`getPublicChannelsForTeam`: `list_team_channels` on
/// the team, `team_user`'s) and `GET /teams/{team_id}/channels/private`
/// (`getPrivateChannelsForTeam`: `manage_system`), paged; archived channels are not
/// listed, and the store orders by display name (`SqlChannelStore.GetPublicChannelsForTeam`,
/// `GetPrivateChannelsForTeam`).
pub(crate) fn team_channels(
    mm: &Mattermost,
    ctx: &Ctx,
    raw: &str,
    channel_type: &str,
) -> HandlerResult {
    let team_id = require_id(raw, "team_id")?;
    let st = mm.read();
    let allowed = if channel_type == "P" {
        ctx.is_admin()
    } else {
        has_team_perm(&st, ctx, &team_id, TeamPerm::View)
    };
    if !allowed {
        return Err(AppErr::permission());
    }
    let mut channels: Vec<&Channel> = st
        .channels
        .values()
        .filter(|c| c.team_id == team_id && c.channel_type == channel_type && c.delete_at == 0)
        .collect();
    channels.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    let page = page_of(channels, paging(ctx));
    Ok(Out::json(200, &array(page.into_iter().map(Channel::view))))
}

/// `App.AddChannelMember` + `AddUserToChannel` for one user.
fn add_to_channel(st: &mut Store, ch: &Channel, user_id: &str) -> Result<Value, AppErr> {
    let Some(u) = st.get(user_id) else {
        return Err(user_404());
    };
    if !u.is_active() {
        return Err(AppErr::new(
            "app.channel.add_member.deleted_user.app_error",
            403,
        ));
    }
    match st.team_member(&ch.team_id, user_id) {
        None => return Err(AppErr::new("app.team.get_member.missing.app_error", 404)),
        Some(m) if !m.is_active() => {
            return Err(AppErr::new(
                "api.channel.add_user.to.channel.failed.deleted.app_error",
                400,
            ));
        }
        Some(_) => {}
    }
    let m = ChannelMember {
        channel_id: ch.id.clone(),
        user_id: user_id.to_string(),
        last_update_at: util::now_ms(),
    };
    let view = m.view();
    st.channel_members
        .insert((ch.id.clone(), user_id.to_string()), m);
    Ok(view)
}

/// `POST /channels/{channel_id}/members` with `user_id` or `user_ids` (§2.2).
pub(crate) fn add_channel_member(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let channel_id = require_id(raw, "channel_id")?;
    let props = decode::string_interface_from_json(&ctx.req.body);
    let (user_ids, single) = match props.get("user_ids") {
        Some(Value::Array(items)) => {
            if items.len() > MAX_CHANNEL_ADD {
                return Err(AppErr::invalid_body("user_ids"));
            }
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(id) if validate::is_valid_id(id) => ids.push(id.to_string()),
                    _ => return Err(AppErr::invalid_body("user_id in user_ids")),
                }
            }
            (ids, false)
        }
        _ => match props.get("user_id").and_then(Value::as_str) {
            Some(id) if validate::is_valid_id(id) => (vec![id.to_string()], true),
            _ => return Err(AppErr::invalid_body("user_id or user_ids")),
        },
    };
    // No posts exist in the sandbox: any root post id is invalid.
    if props
        .get("post_root_id")
        .and_then(Value::as_str)
        .is_some_and(|p| !p.is_empty())
    {
        return Err(AppErr::invalid_body("post_root_id"));
    }
    let mut st = mm.write();
    let ch = st
        .channels
        .get(&channel_id)
        .cloned()
        .ok_or_else(channel_404)?;
    let (can_add_self, can_add_others) = if ch.channel_type == "O" {
        // join_public_channels (team_user) for yourself, manage_public_channel_members
        // (channel_user) for others.
        let team = st.is_active_team_member(&ch.team_id, ctx.user_id()) || ctx.is_admin();
        (team, can_manage_members(&st, ctx, &ch))
    } else {
        if !can_manage_members(&st, ctx, &ch) {
            return Err(AppErr::permission());
        }
        (true, true)
    };
    let mut members = Vec::new();
    let mut last_err = None;
    for uid in &user_ids {
        if let Some(existing) = st.channel_member(&channel_id, uid) {
            members.push(existing.view());
            continue;
        }
        let allowed = if uid == ctx.user_id() {
            can_add_self
        } else {
            can_add_others
        };
        if !allowed {
            last_err = Some(AppErr::permission());
            continue;
        }
        match add_to_channel(&mut st, &ch, uid) {
            Ok(m) => members.push(m),
            // Failed users are left out of the answer.
            Err(e) => last_err = Some(e),
        }
    }
    if members.is_empty()
        && let Some(e) = last_err
    {
        return Err(e);
    }
    if single && members.len() == 1 {
        return Ok(Out::json(201, &members[0]));
    }
    if user_ids.is_empty() {
        return Ok(Out::json(201, &Value::Null));
    }
    Ok(Out::json(201, &array(members)))
}

/// `DELETE /channels/{channel_id}/members/{user_id}` (§2.3): a hard delete, 404 when not a
/// member, 400 for town-square.
pub(crate) fn remove_channel_member(
    mm: &Mattermost,
    ctx: &Ctx,
    raw_channel: &str,
    raw_user: &str,
) -> HandlerResult {
    let channel_id = require_id(raw_channel, "channel_id")?;
    let user_id = ctx.require_user_id(raw_user)?;
    let mut st = mm.write();
    let ch = st
        .channels
        .get(&channel_id)
        .cloned()
        .ok_or_else(channel_404)?;
    if st.get(&user_id).is_none() {
        return Err(user_404());
    }
    if user_id != ctx.user_id() && !can_manage_members(&st, ctx, &ch) {
        return Err(AppErr::permission());
    }
    if ch.name == "town-square" {
        return Err(AppErr {
            param: Some("town-square".into()),
            ..AppErr::new("api.channel.remove.default.app_error", 400)
        });
    }
    if st.channel_members.remove(&(channel_id, user_id)).is_none() {
        return Err(AppErr::new("app.channel.get_member.missing.app_error", 404));
    }
    Ok(Out::status_ok())
}

/// `GET /channels/{channel_id}/members` (paged; by user id here).
pub(crate) fn channel_members(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let channel_id = require_id(raw, "channel_id")?;
    let st = mm.read();
    let ch = st.channels.get(&channel_id).ok_or_else(channel_404)?;
    if !has_channel_perm(&st, ctx, ch) {
        return Err(AppErr::permission());
    }
    let members: Vec<&ChannelMember> = st
        .channel_members
        .values()
        .filter(|m| m.channel_id == channel_id)
        .collect();
    let page = page_of(members, paging(ctx));
    Ok(Out::json(
        200,
        &array(page.into_iter().map(ChannelMember::view)),
    ))
}

/// `GET /users/{user_id}/teams/{team_id}/channels/members`: not paged.
pub(crate) fn channel_members_for_team_user(
    mm: &Mattermost,
    ctx: &Ctx,
    raw_user: &str,
    raw_team: &str,
) -> HandlerResult {
    let user_id = ctx.require_user_id(raw_user)?;
    let team_id = require_id(raw_team, "team_id")?;
    let st = mm.read();
    if !has_team_perm(&st, ctx, &team_id, TeamPerm::View) {
        return Err(AppErr::permission());
    }
    if user_id != ctx.user_id() && !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let members = st
        .channel_members
        .values()
        .filter(|m| {
            m.user_id == user_id
                && st
                    .channels
                    .get(&m.channel_id)
                    .is_some_and(|c| c.team_id == team_id || c.team_id.is_empty())
        })
        .map(ChannelMember::view);
    Ok(Out::json(200, &array(members)))
}

/// `GET /users/{user_id}/channel_members?page&per_page` (Self/EOU).
pub(crate) fn channel_members_for_user(mm: &Mattermost, ctx: &Ctx, raw: &str) -> HandlerResult {
    let user_id = ctx.require_user_id(raw)?;
    if !ctx.can_edit_user(&user_id) {
        return Err(AppErr::permission());
    }
    let st = mm.read();
    let members: Vec<&ChannelMember> = st
        .channel_members
        .values()
        .filter(|m| m.user_id == user_id)
        .collect();
    let page = page_of(members, paging(ctx));
    Ok(Out::json(
        200,
        &array(page.into_iter().map(ChannelMember::view)),
    ))
}

// ----- the Sandbox test API ------------------------------------------------------------------

pub(crate) fn seed_team(mm: &Mattermost, name: &str, private: bool) -> Result<String, String> {
    let mut st = mm.write();
    if st.team_by_name(name).is_some() {
        return Err(format!("team {name} exists"));
    }
    let display = name.to_string();
    let ty = if private { "I" } else { "O" };
    Ok(insert_team(mm, &mut st, name, &display, ty, !private, "").id)
}

pub(crate) fn seed_channel(
    mm: &Mattermost,
    team: Option<&str>,
    name: &str,
    private: bool,
) -> Result<String, String> {
    let team = team.ok_or("a Mattermost channel needs a team")?;
    let mut st = mm.write();
    let team_id = st
        .team_by_name(team)
        .map(|t| t.id.clone())
        .ok_or_else(|| format!("no team {team}"))?;
    if st.channel_by_name(&team_id, name, true).is_some() {
        return Err(format!("channel {team}/{name} exists"));
    }
    let now = util::now_ms();
    let ch = Channel {
        id: mm.new_user_id(),
        team_id,
        name: name.to_string(),
        display_name: name.to_string(),
        channel_type: if private { "P" } else { "O" }.to_string(),
        creator_id: String::new(),
        create_at: now,
        update_at: now,
        delete_at: 0,
    };
    let id = ch.id.clone();
    st.channels.insert(id.clone(), ch);
    Ok(id)
}

pub(crate) fn memberships(mm: &Mattermost, username: &str) -> crate::Memberships {
    let st = mm.read();
    let Some(u) = st.by_username(&validate::go_lower(username)) else {
        return crate::Memberships::default();
    };
    let mut teams: Vec<String> = st
        .team_members
        .values()
        .filter(|m| m.user_id == u.id && m.is_active())
        .filter_map(|m| st.teams.get(&m.team_id).map(|t| t.name.clone()))
        .collect();
    let mut channels: Vec<String> = st
        .channel_members
        .values()
        .filter(|m| m.user_id == u.id)
        .filter_map(|m| st.channels.get(&m.channel_id).map(|c| c.name.clone()))
        .collect();
    teams.sort();
    channels.sort();
    crate::Memberships { teams, channels }
}

pub(crate) fn add_member(mm: &Mattermost, group: &str, username: &str) -> Result<(), String> {
    let mut st = mm.write();
    let uid = st
        .by_username(&validate::go_lower(username))
        .map(|u| u.id.clone())
        .ok_or_else(|| format!("no user {username}"))?;
    let now = util::now_ms();
    if let Some(t) = st.team_by_name(group).cloned() {
        st.team_members.insert(
            (t.id.clone(), uid.clone()),
            TeamMember {
                team_id: t.id.clone(),
                user_id: uid.clone(),
                scheme_admin: false,
                delete_at: 0,
            },
        );
        join_default_channels(&mut st, &t.id, &uid, now);
        return Ok(());
    }
    let ids: Vec<String> = st
        .channels
        .values()
        .filter(|c| c.name == group)
        .map(|c| c.id.clone())
        .collect();
    if ids.is_empty() {
        return Err(format!("no team or channel {group}"));
    }
    for cid in ids {
        st.channel_members.insert(
            (cid.clone(), uid.clone()),
            ChannelMember {
                channel_id: cid,
                user_id: uid.clone(),
                last_update_at: now,
            },
        );
    }
    Ok(())
}

/// The state file's part: teams, channels and memberships.
pub(crate) fn save(st: &Store) -> Value {
    json!({
        "teams": st.teams.values().collect::<Vec<_>>(),
        "team_members": st.team_members.values().collect::<Vec<_>>(),
        "channels": st.channels.values().collect::<Vec<_>>(),
        "channel_members": st.channel_members.values().collect::<Vec<_>>(),
    })
}

pub(crate) fn load(st: &mut Store, state: &Value) -> Result<(), String> {
    fn list<T: serde::de::DeserializeOwned>(state: &Value, key: &str) -> Result<Vec<T>, String> {
        match state.get(key) {
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("{key}: {e}")),
            None => Ok(Vec::new()),
        }
    }
    for t in list::<Team>(state, "teams")? {
        st.teams.insert(t.id.clone(), t);
    }
    for m in list::<TeamMember>(state, "team_members")? {
        st.team_members
            .insert((m.team_id.clone(), m.user_id.clone()), m);
    }
    for c in list::<Channel>(state, "channels")? {
        st.channels.insert(c.id.clone(), c);
    }
    for m in list::<ChannelMember>(state, "channel_members")? {
        st.channel_members
            .insert((m.channel_id.clone(), m.user_id.clone()), m);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_and_channel_names() {
        for ok in ["ab", "a-b", "a__b", "team1", "x-y-z9"] {
            assert!(is_valid_team_name(ok), "{ok}");
        }
        for bad in ["a", "Ab", "-ab", "ab-", "a_b", "a__b__c", "a___b", ""] {
            assert!(!is_valid_team_name(bad), "{bad}");
        }
        for ok in ["a", "town-square", "a_b", "ab-", "x__y"] {
            assert!(is_valid_channel_name(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "A", "a b"] {
            assert!(!is_valid_channel_name(bad), "{bad}");
        }
    }
}
