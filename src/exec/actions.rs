//! `roster do ACTION`: one operation on every matched account, decided per row by the
//! [`super::Engine`] (lookup → not on the server: skipped → protected: skipped → the
//! action), so the worker pool, pacer, retries, journal, `--resume` and reports are those
//! of `import`.

use serde::{Deserialize, Serialize};

use crate::report::Action;

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
}

impl DoAction {
    pub const ALL: [DoAction; 5] = [
        DoAction::Deactivate,
        DoAction::Activate,
        DoAction::RevokeSessions,
        DoAction::Delete,
        DoAction::Offboard,
    ];

    /// The report's `action` for it.
    pub fn report_action(self) -> Action {
        match self {
            DoAction::Deactivate => Action::Deactivate,
            DoAction::Activate => Action::Activate,
            DoAction::RevokeSessions => Action::RevokeSessions,
            DoAction::Delete => Action::Delete,
            DoAction::Offboard => Action::Offboard,
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
        }
    }
}

/// How the engine runs an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionOptions {
    pub action: DoAction,
    /// Rocket.Chat `users.delete {confirmRelinquish: true}`: a last room owner is deleted
    /// all the same (rooms get a new owner, or are removed).
    pub confirm_relinquish: bool,
    /// offboard: also leave every team and channel but the default ones.
    pub remove_memberships: bool,
}
