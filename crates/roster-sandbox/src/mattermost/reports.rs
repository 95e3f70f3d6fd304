//! `GET /api/v4/reports/users`: the System Console's user report, the one place the API
//! shows `last_login` (`User.Sanitize` zeroes it everywhere else), for `roster export`'s
//! last logins and `--idle-days`. After the shared mattermost-members-and-ops notes §13 and
//! the server's code:
//!
//! - `server/channels/api4/report.go` (`getUsersForReporting`, `fillReportingBaseOptions`,
//!   `fillUserReportOptions`): the session needs `sysconsole_read_user_management_users`
//!   (system admins, and the system user manager, system manager and read-only admin roles
//!   hold it), else 403 `api.context.permissions.app_error`; `team_filter` must be empty or
//!   an id (400 `api.getUsersForReporting.invalid_team_filter`); `hide_active` and
//!   `hide_inactive` together are 400 `api.getUsersForReporting.invalid_active_filter`;
//!   `page_size` defaults to 50, and 0, a negative number or more than 100
//!   (`ReportingMaxPageSize`) is 400 `api.getUsersForReporting.invalid_page_size` (a value
//!   that does not parse is the default); `direction` is `next` unless `prev`.
//! - `server/public/model/report.go` (`UserReportOptions.IsValid`): `sort_column` is one of
//!   `CreateAt`, `Username` (the default), `FirstName`, `LastName`, `Nickname`, `Email`,
//!   `Roles`, else 400 `model.user_report_options.is_valid.invalid_sort_column`;
//!   `ToReport` answers the whole user after `ClearNonProfileFields` (so `last_login`,
//!   `auth_service`, `mfa_active` and `delete_at` are there) with its post statistics.
//! - `server/channels/store/sqlstore/user_store.go` (`GetUserReport`): bots are left out
//!   (`u.Id NOT IN (SELECT UserId FROM Bots)`), deactivated users are in unless
//!   `hide_inactive`; the keyset cursor needs both `from_column_value` and `from_id` and
//!   continues after `(column, Id)`; rows are ordered by the column, then the id.
//!
//! Simplified: no post statistics (`last_post_date`, `days_active`, `total_posts` exist
//! only on PostgreSQL, and the sandbox has no posts), so `date_range` changes nothing;
//! `last_status_at` is the `last_activity_at` of a status set through the API;
//! `role_filter` matches one of the user's roles exactly; `search_term` matches the start
//! of the username, first or last name, nickname or email, ignoring case. The global rate
//! limiter applies, as to every route.

use std::cmp::Ordering;

use serde_json::Value;

use super::store::{MmUser, Store};
use super::{AppErr, Ctx, HandlerResult, Mattermost, Out, validate};

/// `model.ReportingMaxPageSize`.
pub const MAX_PAGE_SIZE: i64 = 100;

/// `model.UserReportSortColumns`.
const SORT_COLUMNS: [&str; 7] = [
    "CreateAt",
    "Username",
    "FirstName",
    "LastName",
    "Nickname",
    "Email",
    "Roles",
];

/// Roles holding `sysconsole_read_user_management_users` by default (`model/role.go`).
const READERS: [&str; 4] = [
    "system_admin",
    "system_user_manager",
    "system_manager",
    "system_read_only_admin",
];

/// The value of a sort column, as the SQL compares it.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Int(i64),
    Text(&'a str),
}

fn key<'a>(u: &'a MmUser, column: &str) -> Key<'a> {
    match column {
        "CreateAt" => Key::Int(u.create_at),
        "FirstName" => Key::Text(&u.first_name),
        "LastName" => Key::Text(&u.last_name),
        "Nickname" => Key::Text(&u.nickname),
        "Email" => Key::Text(&u.email),
        "Roles" => Key::Text(&u.roles),
        _ => Key::Text(&u.username),
    }
}

/// The cursor's column value in the column's type (a number that does not parse compares
/// as 0, as the database's cast would make it).
fn cursor_key<'a>(column: &str, value: &'a str) -> Key<'a> {
    if column == "CreateAt" {
        Key::Int(value.trim().parse().unwrap_or(0))
    } else {
        Key::Text(value)
    }
}

fn starts_with_ignoring_case(field: &str, term: &str) -> bool {
    field.to_lowercase().starts_with(&term.to_lowercase())
}

/// `GET /api/v4/reports/users`.
pub(crate) fn users(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    let caller_may = ctx
        .caller
        .as_ref()
        .is_some_and(|c| READERS.iter().any(|r| c.has_role(r)));
    if !caller_may {
        return Err(AppErr::permission());
    }
    let q = |k: &str| ctx.req.query_param(k).unwrap_or_default();
    let sort_column = Some(q("sort_column"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Username".into());
    let prev = q("direction") == "prev";
    let page_size = q("page_size").parse::<i64>().unwrap_or(50);
    let team = q("team_filter");
    if !(team.is_empty() || validate::is_valid_id(&team)) {
        return Err(AppErr::new(
            "api.getUsersForReporting.invalid_team_filter",
            400,
        ));
    }
    let (hide_active, hide_inactive) = (q("hide_active") == "true", q("hide_inactive") == "true");
    if hide_active && hide_inactive {
        return Err(AppErr::new(
            "api.getUsersForReporting.invalid_active_filter",
            400,
        ));
    }
    if page_size <= 0 || page_size > MAX_PAGE_SIZE {
        return Err(AppErr::new(
            "api.getUsersForReporting.invalid_page_size",
            400,
        ));
    }
    if !SORT_COLUMNS.contains(&sort_column.as_str()) {
        return Err(AppErr::new(
            "model.user_report_options.is_valid.invalid_sort_column",
            400,
        ));
    }
    let desc = q("sort_direction") == "desc";
    let (from_value, from_id) = (q("from_column_value"), q("from_id"));
    let role = q("role_filter");
    let has_no_team = q("has_no_team") == "true";
    let terms: Vec<String> = q("search_term")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let st = mm.read();
    let in_team = |u: &MmUser| {
        st.team_members
            .values()
            .any(|m| m.user_id == u.id && m.is_active() && (team.is_empty() || m.team_id == team))
    };
    let mut rows: Vec<&MmUser> = st
        .sorted()
        .filter(|u| !u.is_bot)
        .filter(|u| {
            if u.is_active() {
                !hide_active
            } else {
                !hide_inactive
            }
        })
        .filter(|u| role.is_empty() || u.has_role(&role))
        .filter(|u| {
            if has_no_team {
                !in_team(u)
            } else {
                team.is_empty() || in_team(u)
            }
        })
        .filter(|u| {
            terms.iter().all(|t| {
                [
                    &u.username,
                    &u.first_name,
                    &u.last_name,
                    &u.nickname,
                    &u.email,
                ]
                .iter()
                .any(|f| starts_with_ignoring_case(f, t))
            })
        })
        .collect();
    let order = |a: &&MmUser, b: &&MmUser| -> Ordering {
        key(a, &sort_column)
            .cmp(&key(b, &sort_column))
            .then_with(|| a.id.cmp(&b.id))
    };
    rows.sort_by(order);
    // Reading backwards: "prev" in ascending order, or "next" in descending order.
    let backwards = prev != desc;
    if !from_id.is_empty() && !from_value.is_empty() {
        let cursor = (cursor_key(&sort_column, &from_value), from_id.as_str());
        rows.retain(|u| {
            let here = (key(u, &sort_column), u.id.as_str());
            if backwards {
                here < cursor
            } else {
                here > cursor
            }
        });
    }
    if backwards {
        rows.reverse();
    }
    rows.truncate(usize::try_from(page_size).unwrap_or(0));
    // A page read backwards is answered in the order asked (the outer query of "prev").
    if prev {
        rows.reverse();
    }
    let list: Vec<Value> = rows
        .iter()
        .map(|u| u.report_view(last_status_at(&st, &u.id)))
        .collect();
    Ok(Out::json(200, &Value::Array(list)))
}

/// `MAX(s.LastActivityAt)` of the Status row, when the user has one.
fn last_status_at(st: &Store, id: &str) -> Option<i64> {
    st.statuses
        .get(id)
        .and_then(|s| s["last_activity_at"].as_i64())
}
