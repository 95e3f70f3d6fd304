//! The roles the emulated server has, and `GET /api/v4/roles`.
//!
//! The roles are those of `MakeDefaultRoles` (`server/public/model/role.go`), which the
//! server stores at startup: every scope (system, team, channel, playbook, custom
//! group). `PUT /users/{id}/roles` accepts any of them (`CheckRolesExist` in
//! `server/channels/app/role.go` only looks the names up), so [`is_role`] is what that
//! endpoint checks.
//!
//! `GET /roles` (`server/channels/api4/role.go`, getAllRoles) needs `manage_system`
//! (403 `api.context.permissions.app_error` otherwise) and answers a JSON array of
//! `model.Role`. Ids are random on a real server (`NewId`); here they derive from the
//! name, so they are the same on every start. `permissions` are left empty: the emulator
//! models no permission but `manage_system` and the grants of
//! [`crate::SandboxConfig::mm_role_permissions`].

use serde_json::{Value, json};

use super::{AppErr, Ctx, HandlerResult, ID_ALPHABET, Mattermost, Out};
use crate::util;

/// One role of `MakeDefaultRoles`: its name, the i18n key stored as its display name
/// (`authentication.roles.<key>.name`), `scheme_managed` and `built_in`.
struct Role {
    name: &'static str,
    key: &'static str,
    scheme_managed: bool,
    built_in: bool,
}

const fn role(name: &'static str, key: &'static str, scheme_managed: bool) -> Role {
    Role {
        name,
        key,
        scheme_managed,
        built_in: true,
    }
}

const ROLES: &[Role] = &[
    Role {
        name: "custom_group_user",
        key: "custom_group_user",
        scheme_managed: false,
        built_in: false,
    },
    role("channel_guest", "channel_guest", true),
    role("channel_user", "channel_user", true),
    role("channel_admin", "channel_admin", true),
    role("team_guest", "team_guest", true),
    role("team_user", "team_user", true),
    role("team_post_all", "team_post_all", false),
    role("team_post_all_public", "team_post_all_public", false),
    role("team_admin", "team_admin", true),
    role("playbook_admin", "playbook_admin", true),
    role("playbook_member", "playbook_member", true),
    role("run_admin", "run_admin", true),
    role("run_member", "run_member", true),
    role("system_guest", "global_guest", true),
    role("system_user", "global_user", true),
    role("system_post_all", "system_post_all", false),
    role("system_post_all_public", "system_post_all_public", false),
    role(
        "system_user_access_token",
        "system_user_access_token",
        false,
    ),
    role("system_user_manager", "system_user_manager", false),
    role("system_read_only_admin", "system_read_only_admin", false),
    role("system_manager", "system_manager", false),
    role(
        "system_custom_group_admin",
        "system_custom_group_admin",
        false,
    ),
    role("system_admin", "global_admin", true),
];

/// Whether a role has this name (`app.role.check_roles_exist`).
pub(crate) fn is_role(name: &str) -> bool {
    ROLES.iter().any(|r| r.name == name)
}

/// A 26-character id in `NewId`'s alphabet, from the role's name.
fn role_id(name: &str) -> String {
    let digest = util::sha256_hex(&format!("roster sandbox role {name}"));
    digest
        .as_bytes()
        .chunks(2)
        .take(26)
        .map(|pair| {
            let byte = std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            ID_ALPHABET[byte as usize % ID_ALPHABET.len()] as char
        })
        .collect()
}

/// `GET /roles`: every role, to system admins.
pub(crate) fn all(mm: &Mattermost, ctx: &Ctx) -> HandlerResult {
    if !ctx.is_admin() {
        return Err(AppErr::permission());
    }
    let at = mm.roles_created_at();
    let roles: Vec<Value> = ROLES
        .iter()
        .map(|r| {
            json!({
                "id": role_id(r.name),
                "name": r.name,
                "display_name": format!("authentication.roles.{}.name", r.key),
                "description": format!("authentication.roles.{}.description", r.key),
                "create_at": at,
                "update_at": at,
                "delete_at": 0,
                "permissions": [],
                "scheme_managed": r.scheme_managed,
                "built_in": r.built_in,
            })
        })
        .collect();
    Ok(Out::json(200, &Value::Array(roles)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_valid_and_ids_stable() {
        let mut names: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ROLES.len());
        assert!(
            ROLES
                .iter()
                .all(|r| super::super::validate::is_valid_role_name(r.name))
        );
        let id = role_id("system_admin");
        assert_eq!(id.len(), 26);
        assert_eq!(id, role_id("system_admin"));
        assert_ne!(id, role_id("system_user"));
        assert!(is_role("team_user") && is_role("system_manager"));
        assert!(!is_role("admin") && !is_role("System_user"));
    }
}
