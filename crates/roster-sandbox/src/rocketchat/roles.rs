//! The roles the emulated server has, and `GET /api/v1/roles.list`.
//!
//! The defaults are those `upsertPermissions` creates at startup
//! (`apps/meteor/app/authorization/server/functions/upsertPermissions.ts`, through
//! `apps/meteor/server/lib/roles/createOrUpdateProtectedRole.ts`: `_id` = name,
//! `protected: true`, `mandatory2fa: false`), plus the Enterprise `livechat-monitor` and
//! the custom `provisioner` role of the seeded `importer` (a custom role is not
//! protected). users.create and users.update accept exactly these ids (`validateUserData.ts`
//! compares the given roles with `getRoleIds()`, every scope), and so does the bulk import.
//!
//! roles.list (`apps/meteor/app/api/server/v1/roles.ts`) is `authRequired` only, with no
//! permission: every logged-in user reads every role, `_updatedAt` projected out.

use serde_json::{Value, json};

use super::{Ctx, RocketChat};
use crate::http::Response;

/// One role document.
struct Role {
    id: &'static str,
    scope: &'static str,
    description: &'static str,
    protected: bool,
}

const fn role(id: &'static str, scope: &'static str, description: &'static str) -> Role {
    Role {
        id,
        scope,
        description,
        protected: true,
    }
}

const ROLES: &[Role] = &[
    role("admin", "Users", "Admin"),
    role("moderator", "Subscriptions", "Moderator"),
    role("leader", "Subscriptions", "Leader"),
    role("owner", "Subscriptions", "Owner"),
    role("user", "Users", ""),
    role("bot", "Users", ""),
    role("app", "Users", ""),
    role("guest", "Users", ""),
    role("anonymous", "Users", ""),
    role("livechat-agent", "Users", "Livechat Agent"),
    role("livechat-manager", "Users", "Livechat Manager"),
    role("livechat-monitor", "Users", "Livechat Monitor"),
    Role {
        protected: false,
        ..role("provisioner", "Users", "")
    },
];

/// Whether a role has this id (ids are case-sensitive, as MongoDB compares them).
pub(crate) fn is_known_role(id: &str) -> bool {
    ROLES.iter().any(|r| r.id == id)
}

/// Every role id, in the order the server creates them.
pub(crate) fn role_ids() -> impl Iterator<Item = &'static str> {
    ROLES.iter().map(|r| r.id)
}

/// GET /api/v1/roles.list: `{roles: [...], success: true}`.
pub(super) fn list(_rc: &RocketChat, _ctx: &Ctx) -> Response {
    let roles: Vec<Value> = ROLES
        .iter()
        .map(|r| {
            json!({
                "_id": r.id,
                "name": r.id,
                "scope": r.scope,
                "description": r.description,
                "protected": r.protected,
                "mandatory2fa": false,
            })
        })
        .collect();
    RocketChat::success(json!({ "roles": roles }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_case_sensitive() {
        let mut ids: Vec<&str> = ROLES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ROLES.len());
        assert!(is_known_role("admin") && is_known_role("provisioner"));
        assert!(!is_known_role("Admin") && !is_known_role("admn"));
    }
}
