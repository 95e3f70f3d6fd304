//! `roster do ACTION`: one operation on every matched account, decided per row by the
//! [`super::Engine`] (lookup → not on the server: skipped → protected: skipped → the
//! action), so the worker pool, pacer, retries, journal, `--resume` and reports are those
//! of `import`.

use serde::{Deserialize, Serialize};

use crate::report::Action;

pub use crate::client::{Preferences, Presence, StatusChange};

/// An action of `roster do`; its name is the report's `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DoAction {
    /// Deactivate (reversible; ends the user's sessions on both servers).
    Deactivate,
    /// Activate a deactivated account.
    Activate,
    /// Log the user out everywhere.
    RevokeSessions,
    /// Delete the account for good (needs --yes-delete-permanently).
    Delete,
    /// Deactivate, then revoke every session: the leaver procedure.
    Offboard,
    /// Replace the roles (--role), or add and remove some (--add-role, --remove-role).
    SetRoles,
    /// Back to the server's default avatar (the user's initials).
    ResetAvatar,
    /// Set the presence status (--status), and on Rocket.Chat the status message
    /// (--message).
    SetStatus,
    /// Turn off the account's two-factor authentication (a lost phone): it is set up
    /// again at the next login where the server requires it.
    ResetMfa,
    /// Set preferences, from --preferences JSON and the source's pref.KEY columns.
    SetPreferences,
    /// Mattermost: move email-and-password accounts to LDAP or SAML sign-in
    /// (--auth-service).
    MigrateAuth,
    /// Mattermost: turn the account into a bot account.
    ConvertToBot,
    /// Set a random password, written to --passwords-out FILE only, or have the server
    /// mail its reset link (--send-reset-email).
    ResetPassword,
    /// A new token for each account (service accounts), written to --tokens-out FILE only.
    CreateToken,
}

impl DoAction {
    pub const ALL: [DoAction; 14] = [
        DoAction::Deactivate,
        DoAction::Activate,
        DoAction::RevokeSessions,
        DoAction::Delete,
        DoAction::Offboard,
        DoAction::SetRoles,
        DoAction::ResetAvatar,
        DoAction::SetStatus,
        DoAction::ResetMfa,
        DoAction::SetPreferences,
        DoAction::MigrateAuth,
        DoAction::ConvertToBot,
        DoAction::ResetPassword,
        DoAction::CreateToken,
    ];

    /// The report's `action` for it.
    pub fn report_action(self) -> Action {
        match self {
            DoAction::Deactivate => Action::Deactivate,
            DoAction::Activate => Action::Activate,
            DoAction::RevokeSessions => Action::RevokeSessions,
            DoAction::Delete => Action::Delete,
            DoAction::Offboard => Action::Offboard,
            DoAction::SetRoles => Action::SetRoles,
            DoAction::ResetAvatar => Action::ResetAvatar,
            DoAction::SetStatus => Action::SetStatus,
            DoAction::ResetMfa => Action::ResetMfa,
            DoAction::SetPreferences => Action::SetPreferences,
            DoAction::MigrateAuth => Action::MigrateAuth,
            DoAction::ConvertToBot => Action::ConvertToBot,
            DoAction::ResetPassword => Action::ResetPassword,
            DoAction::CreateToken => Action::CreateToken,
        }
    }

    /// The name on the command line (and in the report).
    pub fn name(self) -> &'static str {
        self.report_action().name()
    }

    /// The server calls it makes, for `roster help do`: Rocket.Chat's, then Mattermost's.
    pub fn calls(self) -> (&'static str, &'static str) {
        match self {
            DoAction::Deactivate => (
                "POST users.setActiveStatus {userId, activeStatus: false}",
                "DELETE /users/{id}",
            ),
            DoAction::Activate => (
                "POST users.setActiveStatus {userId, activeStatus: true}",
                "PUT /users/{id}/active {active: true}",
            ),
            DoAction::RevokeSessions => (
                "POST users.logout {userId} (logout-other-user; personal access tokens go too)",
                "POST /users/{id}/sessions/revoke/all",
            ),
            DoAction::Delete => (
                "POST users.delete {userId, confirmRelinquish} (delete-user)",
                "DELETE /users/{id}?permanent=true (ServiceSettings.EnableAPIUserDeletion)",
            ),
            DoAction::Offboard => (
                "deactivate's call, then revoke-sessions'; --remove-memberships: GET users.info {includeUserRooms}, rooms.info, then channels.kick / groups.kick from each room but the default ones",
                "deactivate's call, then revoke-sessions'; --remove-memberships: GET /users/{id}/teams, then DELETE /teams/{id}/members/{user_id} (the team's channels go with it)",
            ),
            DoAction::SetRoles => (
                "GET roles.list (once), then POST users.update {userId, data: {roles}}; dropping \"admin\": GET users.list to count the other admins",
                "GET /roles (once), then PUT /users/{id}/roles {roles}; dropping \"system_admin\": GET /users to count the other admins",
            ),
            DoAction::ResetAvatar => (
                "POST users.resetAvatar {userId} (edit-other-user-avatar)",
                "DELETE /users/{id}/image",
            ),
            DoAction::SetStatus => (
                "POST users.setStatus {userId, status, message?} (edit-other-user-info; dnd is sent as busy)",
                "PUT /users/{id}/status {user_id, status} (busy is sent as dnd; no --message)",
            ),
            DoAction::ResetPassword => (
                "--passwords-out: GET permissions.listAll (once: edit-other-user-password, which the server needs and otherwise ignores the password without a word), then POST users.update {userId, data: {password, requirePasswordChange: true}} (false with --no-require-change; logs the user out everywhere); --send-reset-email: POST users.forgotPassword {email} (no credentials sent; limited to 10 a minute per client IP whoever runs roster)",
                "--passwords-out with --no-require-change (Mattermost cannot require a change at next login), as a system admin (the only one shown which accounts are LDAP or SSO): PUT /users/{id}/password {new_password} (revokes the user's sessions); --send-reset-email: POST /users/password/reset/send {email}; LDAP and SSO accounts are skipped (a non-admin is not shown them: the server refuses them the mail)",
            ),
            DoAction::CreateToken => (
                "GET permissions.listAll (once: user-generate-access-token), then POST users.createToken {userId, secret} (a login token, no name or --description, expiring with Accounts_LoginExpiration; needs the server's CREATE_TOKENS_FOR_USERS_SECRET in ROSTER_CREATE_TOKENS_SECRET)",
                "POST /users/{id}/tokens {description} (ServiceSettings.EnableUserAccessTokens); after a lost answer, GET /users/{id}/tokens names the token to revoke, or shows none was made (then --resume sends it again)",
            ),
            DoAction::ResetMfa => (
                "POST users.resetTOTP {userId} (edit-other-user-totp; two-factor authentication on; mails the user's verified addresses)",
                "PUT /users/{id}/mfa {activate: false}",
            ),
            DoAction::SetPreferences => (
                "POST users.setPreferences {userId, data: {KEY: VALUE}} (edit-other-user-info)",
                "PUT /users/{id}/preferences [{user_id, category, name, value}] (100 a request)",
            ),
            DoAction::MigrateAuth => (
                "none: Rocket.Chat links an LDAP or SAML login to the account with the same username or email by itself (LDAP_Merge_Existing_Users, SAML_Custom_Default_mail_overwrite)",
                "PUT /users/{id}/auth {auth_service, auth_data} (system admin)",
            ),
            DoAction::ConvertToBot => (
                "none: Rocket.Chat has no conversion of a user to a bot through its REST API",
                "POST /users/{id}/convert_to_bot (manage_system; ends the account's sessions)",
            ),
        }
    }

    /// Why a server lacks this action, when it does: the run stops before any request
    /// that writes (exit 2).
    pub fn lacking_on(self, flavor: crate::client::Flavor) -> Option<&'static str> {
        use crate::client::Flavor;
        match (self, flavor) {
            (DoAction::MigrateAuth, Flavor::Rocketchat) => Some(
                "Rocket.Chat has no migrate-auth: its LDAP and SAML logins take over the account with the same username or email by themselves (LDAP_Merge_Existing_Users)",
            ),
            (DoAction::ConvertToBot, Flavor::Rocketchat) => Some(
                "Rocket.Chat has no convert-to-bot: its REST API cannot turn a user into a bot",
            ),
            _ => None,
        }
    }
}

/// set-roles: what becomes of the account's roles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChange {
    /// `--role`: the roles the account ends with (replaces them all); `None`: adjust.
    pub set: Option<Vec<String>>,
    /// `--add-role`.
    pub add: Vec<String>,
    /// `--remove-role`.
    pub remove: Vec<String>,
}

impl RoleChange {
    /// The roles `current` ends with, each once, in the order given (kept roles first).
    pub fn apply(&self, current: &[String]) -> Vec<String> {
        let kept: Vec<&String> = match &self.set {
            Some(set) => set.iter().collect(),
            None => current
                .iter()
                .filter(|r| !self.remove.contains(r))
                .collect(),
        };
        let mut out: Vec<String> = Vec::new();
        for r in kept.into_iter().chain(&self.add) {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        out
    }

    /// Every role named on the command line.
    pub fn named(&self) -> impl Iterator<Item = &String> {
        self.set
            .iter()
            .flatten()
            .chain(&self.add)
            .chain(&self.remove)
    }
}

/// How the engine runs an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionOptions {
    pub action: DoAction,
    /// Rocket.Chat `users.delete {confirmRelinquish: true}`: a last room owner is deleted
    /// all the same (rooms get a new owner, or are removed).
    pub confirm_relinquish: bool,
    /// offboard: also leave every team and channel but the default ones.
    pub remove_memberships: bool,
    /// set-roles: the roles to give.
    pub roles: RoleChange,
    /// set-status: the status to set.
    pub status: Option<StatusChange>,
    /// reset-password: how.
    pub reset: Option<PasswordReset>,
    /// create-token: what to ask for, and the file the tokens go to.
    pub token: Option<TokenAction>,
    /// set-preferences: `--preferences`, for every row (a row's `pref.KEY` columns win).
    pub preferences: Preferences,
    /// migrate-auth: where to move the accounts.
    pub auth: Option<AuthMove>,
}

/// The sign-in method `migrate-auth` moves accounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthService {
    Ldap,
    Saml,
}

impl AuthService {
    pub fn name(self) -> &'static str {
        match self {
            AuthService::Ldap => "ldap",
            AuthService::Saml => "saml",
        }
    }
}

/// Where `migrate-auth` takes each account's `auth_data` from: the server's key for the
/// directory entry (LDAP: its IdAttribute value; SAML: its Id attribute, or the email).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthData {
    /// The row's external_id (entryUUID, objectGUID, employee number).
    #[default]
    ExternalId,
    Username,
    Email,
}

/// `migrate-auth`'s target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthMove {
    pub service: AuthService,
    pub data: AuthData,
}

/// reset-password: a random password, or the server's reset mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordReset {
    /// `--send-reset-email`.
    Email,
    /// `--passwords-out FILE`: a new password per account, written there only.
    Random {
        out: std::sync::Arc<super::secrets::SecretOut>,
        /// False with `--no-require-change` (and needed so on Mattermost).
        require_change: bool,
    },
}

/// create-token: the request, and where the tokens go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenAction {
    pub request: crate::client::TokenRequest,
    /// `--tokens-out FILE`.
    pub out: std::sync::Arc<super::secrets::SecretOut>,
}

#[cfg(test)]
mod tests {
    use super::RoleChange;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn role_changes() {
        let cur = v(&["user", "bot", "admin"]);
        let set = RoleChange {
            set: Some(v(&["user", "guest", "user"])),
            ..RoleChange::default()
        };
        assert_eq!(set.apply(&cur), v(&["user", "guest"]));
        let adjust = RoleChange {
            set: None,
            add: v(&["guest", "user", "guest"]),
            remove: v(&["admin", "nope"]),
        };
        assert_eq!(adjust.apply(&cur), v(&["user", "bot", "guest"]));
        assert_eq!(RoleChange::default().apply(&cur), cur);
    }
}
