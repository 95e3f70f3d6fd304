//! Clients of the servers' user-management REST APIs.
//!
//! Each server has its own file; both sit on [`http::Http`], which paces every request
//! through the per-bucket [`crate::client::pacer::Pacer`] and turns answers into
//! [`CallError`]s with one meaning across servers. Rate-limit headers are parsed by each
//! server's own code: their units differ (epoch milliseconds on Rocket.Chat, seconds
//! from now on Mattermost).

pub mod auth;
pub mod concurrency;
pub mod connect;
pub mod facts;
pub mod groups;
pub mod http;
pub mod mattermost;
pub mod pacer;
pub mod request_log;
pub mod rocketchat;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Field, User};
use crate::secret::Secret;
pub use facts::{
    Account, AccountPage, Fact, Facts, LastLogin, LoginPage, ReportCursor, Support, Want,
};
pub use groups::{Group, GroupKind, Image, NotAdded};

/// The most parallel workers (and pooled connections) when neither `--workers` nor the
/// job file says: the ceiling of the adaptive concurrency ([`concurrency`]), chosen by
/// measurement (README, Benchmarks).
pub const DEFAULT_WORKERS: usize = 32;
/// Attempts of a request that hits 5xx, a timeout or a dropped connection, when neither
/// `--max-attempts` nor the job file says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Rocketchat,
    Mattermost,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Rocketchat => "rocketchat",
            Flavor::Mattermost => "mattermost",
        }
    }
    pub fn display(self) -> &'static str {
        match self {
            Flavor::Rocketchat => "Rocket.Chat",
            Flavor::Mattermost => "Mattermost",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display())
    }
}

/// How input users are matched with server users (`--match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MatchKey {
    #[default]
    Username,
    Email,
}

impl MatchKey {
    /// The key of a user, normalised for comparison (servers compare both ignoring case).
    pub fn of(self, u: &User) -> Option<String> {
        match self {
            MatchKey::Username => Some(u.username.to_lowercase()).filter(|s| !s.is_empty()),
            MatchKey::Email => u
                .email
                .as_ref()
                .map(|e| e.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
        }
    }
    /// The value to look the user up with, as the source spells it: Rocket.Chat's
    /// users.info matches usernames exactly (case-sensitively), so a lowercased key would
    /// miss `ANNA.LI`; clients fold case themselves where their server does.
    pub fn raw(self, u: &User) -> Option<String> {
        match self {
            MatchKey::Username => Some(u.username.trim().to_string()).filter(|s| !s.is_empty()),
            MatchKey::Email => u
                .email
                .as_ref()
                .map(|e| e.trim().to_string())
                .filter(|s| !s.is_empty()),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MatchKey::Username => "username",
            MatchKey::Email => "email",
        }
    }
}

/// What a call ended with, in one vocabulary for both servers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 5xx, timeout, dropped connection: the request may or may not have been applied.
    #[error("{0}")]
    Transient(String),
    /// The server refused the request (4xx): retrying will not help.
    #[error("{message}")]
    Rejected {
        status: u16,
        /// The server's error code (`error-field-unavailable`, `app.user.save.email_exists.app_error`).
        code: Option<String>,
        message: String,
    },
    /// Username or email already taken.
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// The whole run cannot go on: bad credentials, 2FA needed, missing permission.
    #[error("{0}")]
    Fatal(String),
    /// Ctrl-C came before the request was sent: the row is not done (nor failed); the
    /// journal does not record it, so `--resume` does it.
    #[error("interrupted before the request was sent")]
    Interrupted,
    /// Still rate limited after waiting as told many times (should not happen).
    #[error("still rate limited after {0} waits")]
    RateLimited(u32),
}

/// Per-row call accounting: requests made and retries, for the report and summary.
#[derive(Clone, Debug, Default)]
pub struct CallStats {
    pub requests: u32,
    pub retries: u32,
    pub rate_limited: u32,
    /// The sendings of a request that ended transient and that its caller may send
    /// again (a create, looked up in between), so the request log numbers the next
    /// sending on.
    pub resend: u32,
}

/// Options for creating users.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateOptions {
    /// Let the server pick a password (Rocket.Chat setRandomPassword; Mattermost: roster
    /// generates one).
    pub random_password: bool,
    pub join_default_channels: Option<bool>,
    pub send_welcome_email: Option<bool>,
    /// Mattermost: `ldap` or `saml` to pre-provision directory accounts.
    pub auth_service: Option<String>,
    /// Create a public channel a row names and the server lacks.
    #[serde(default)]
    pub create_missing_channels: bool,
}

/// set-status `--status`: a presence as both servers know it (Rocket.Chat has no `dnd`
/// but `busy`, Mattermost no `busy` but `dnd`: each is sent as the other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Online,
    Away,
    Busy,
    Dnd,
    Offline,
}

/// set-status: what to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub status: Presence,
    /// `--message` (Rocket.Chat's status text).
    pub message: Option<String>,
}

/// set-preferences: key → value. On Mattermost a key is `CATEGORY.NAME`, or a category
/// whose value is an object of names; on Rocket.Chat a `users.setPreferences` key.
pub type Preferences = std::collections::BTreeMap<String, serde_json::Value>;

/// A page of users from a listing.
pub struct Page {
    pub users: Vec<User>,
    pub more: bool,
    /// The server's count of all users, when the page says it (Rocket.Chat `total`).
    pub total: Option<u64>,
}

/// A user-management API.
pub trait UserApi: Send + Sync {
    fn flavor(&self) -> Flavor;

    /// The account roster runs as (checks the credentials).
    fn whoami(&self, stats: &mut CallStats) -> Result<User, CallError>;

    /// Finds a user by username or email; `Ok(None)` when there is none.
    fn lookup(
        &self,
        by: MatchKey,
        key: &str,
        stats: &mut CallStats,
    ) -> Result<Option<User>, CallError>;

    /// Finds a user by server id (an anchor recorded in the ledger); `Ok(None)` when the
    /// account is gone.
    fn lookup_id(&self, id: &str, stats: &mut CallStats) -> Result<Option<User>, CallError>;

    /// Finds many users by username in few calls, where the server allows it
    /// (Mattermost POST /users/usernames). `None`: not supported, look up one by one.
    fn lookup_many(
        &self,
        _usernames: &[String],
        _stats: &mut CallStats,
    ) -> Option<Result<Vec<User>, CallError>> {
        None
    }

    /// Creates a user. Not retried inside: a failed create may have been applied, so the
    /// caller looks the user up before trying again.
    fn create(
        &self,
        user: &User,
        opts: &CreateOptions,
        stats: &mut CallStats,
    ) -> Result<User, CallError>;

    /// Changes the listed fields of `current` to the values in `desired`.
    fn update(
        &self,
        current: &User,
        desired: &User,
        fields: &[Field],
        stats: &mut CallStats,
    ) -> Result<User, CallError>;

    /// Deactivates (never deletes) a user.
    fn deactivate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError>;

    /// Activates a deactivated user (`roster do activate`).
    fn activate(&self, current: &User, stats: &mut CallStats) -> Result<User, CallError> {
        let _ = (current, stats);
        Err(lacks(self.flavor(), "activate"))
    }

    /// Ends every session of a user, on every device (`roster do revoke-sessions`).
    fn revoke_sessions(&self, current: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let _ = (current, stats);
        Err(lacks(self.flavor(), "revoke-sessions"))
    }

    /// Deletes an account for good (`roster do delete`): `Ok(Deleted::Gone)` when the
    /// server no longer knows it (an earlier attempt whose answer was lost deleted it).
    /// Sent once, never retried inside: the caller looks the account up before sending
    /// again.
    fn delete(
        &self,
        current: &User,
        confirm_relinquish: bool,
        stats: &mut CallStats,
    ) -> Result<Deleted, CallError> {
        let _ = (current, confirm_relinquish, stats);
        Err(lacks(self.flavor(), "delete"))
    }

    /// One page of all users, `page` from 0, at the server's largest page size.
    fn list(&self, page: u64, stats: &mut CallStats) -> Result<Page, CallError>;

    /// Users per page of [`UserApi::list`].
    fn page_size(&self) -> u64 {
        100
    }

    /// How many users the server has, in one call, to weigh reading them all against
    /// looking rows up one by one; `Ok(None)` when the server cannot say.
    fn user_total(&self, _stats: &mut CallStats) -> Result<Option<u64>, CallError> {
        Ok(None)
    }

    /// One page of [`UserApi::list`] with the [`Facts`] `want` asks for that come with
    /// the listing, or at one request more per page (presence on Mattermost). Last logins
    /// a server keeps out of its listing come from [`UserApi::login_report`].
    fn list_accounts(
        &self,
        page: u64,
        want: &Want,
        stats: &mut CallStats,
    ) -> Result<AccountPage, CallError> {
        let _ = want;
        let p = self.list(page, stats)?;
        Ok(AccountPage {
            accounts: p
                .users
                .into_iter()
                .map(|user| Account {
                    user,
                    facts: Facts::default(),
                })
                .collect(),
            more: p.more,
        })
    }

    /// How far this server gives `fact` to the account roster runs as.
    fn fact_support(&self, fact: Fact) -> Support {
        let _ = fact;
        Support::None("roster's client does not read it from this server")
    }

    /// Whether last logins come with [`UserApi::list_accounts`] (Rocket.Chat) or only
    /// from [`UserApi::login_report`] (Mattermost).
    fn logins_in_listing(&self) -> bool {
        true
    }

    /// One page of the server's report of last logins, after `after` (from the start
    /// when `None`), in the order of [`UserApi::list`].
    fn login_report(
        &self,
        after: Option<&ReportCursor>,
        stats: &mut CallStats,
    ) -> Result<LoginPage, CallError> {
        let _ = (after, stats);
        Err(lacks(self.flavor(), "login report"))
    }

    /// The fields this server stores, which a diff may compare and an update may send.
    fn fields(&self) -> &'static [Field];

    /// The user as this server would store it (Mattermost lowercases username and email).
    fn normalize(&self, user: &User) -> User {
        user.clone()
    }

    /// The fields set in `user` (as [`UserApi::normalize`] left it) that this server has no
    /// place for: they are never sent, so never reported as changed, and the run says so
    /// once ([`unsupported_warning`]).
    fn unsupported(&self, _user: &User) -> Vec<&'static str> {
        Vec::new()
    }

    /// What the run learned about the server that the summary should say once (custom
    /// fields it does not keep, ...).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Why roster must never write this account, if it must not: an admin, a bot or
    /// app, or the account roster runs as.
    fn protection(&self, user: &User) -> Option<&'static str>;

    /// The role that makes an administrator (`admin`, `system_admin`).
    fn admin_role(&self) -> &'static str;

    /// The roles a user may be given on this server, spelled as [`UserApi::normalize`]
    /// leaves them: read on first use and kept for the run (see [`RoleCache`]).
    fn roles(&self) -> &ServerRoles;

    /// A team by name; `Ok(None)` when the server has none by that name.
    fn find_team(&self, name: &str, stats: &mut CallStats) -> Result<Option<Group>, CallError> {
        let _ = (name, stats);
        Err(no_groups(self.flavor()))
    }

    /// A channel by name: within `team` on Mattermost (channels belong to teams), anywhere
    /// on Rocket.Chat; `Ok(None)` when there is none.
    fn find_channel(
        &self,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Group>, CallError> {
        let _ = (team, name, stats);
        Err(no_groups(self.flavor()))
    }

    /// The ids of a team's or channel's active members, every page.
    fn member_ids(
        &self,
        group: &Group,
        stats: &mut CallStats,
    ) -> Result<std::collections::HashSet<String>, CallError> {
        let _ = (group, stats);
        Err(no_groups(self.flavor()))
    }

    /// Adds users to a team or channel, as many per request as the server takes (an
    /// existing member counts as added); returns those it could not add, with why.
    fn add_members(
        &self,
        group: &Group,
        user_ids: &[String],
        stats: &mut CallStats,
    ) -> Result<Vec<NotAdded>, CallError> {
        let _ = (group, user_ids, stats);
        Err(no_groups(self.flavor()))
    }

    /// Creates a public channel: in `team` on Mattermost (required), standalone on
    /// Rocket.Chat.
    fn create_channel(
        &self,
        team: Option<&Group>,
        name: &str,
        stats: &mut CallStats,
    ) -> Result<Group, CallError> {
        let _ = (team, name, stats);
        Err(no_groups(self.flavor()))
    }

    /// Removes a user from a team or channel (not a member: done).
    fn remove_member(
        &self,
        group: &Group,
        user_id: &str,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (group, user_id, stats);
        Err(no_groups(self.flavor()))
    }

    /// The teams and channels a user is in that removing them from undoes (`roster do
    /// offboard --remove-memberships`): on Mattermost the teams (leaving a team leaves its
    /// channels), on Rocket.Chat the channels and private groups (a team's main room
    /// carries the team membership). Default channels come with `default` set.
    fn memberships(&self, user: &User, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        let _ = (user, stats);
        Err(no_groups(self.flavor()))
    }

    /// Sets a user's profile image.
    fn set_avatar(
        &self,
        user: &User,
        image: &Image,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (user, image, stats);
        Err(no_groups(self.flavor()))
    }

    /// Puts back the server's default profile image (`roster do reset-avatar`);
    /// idempotent.
    fn reset_avatar(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let _ = (user, stats);
        Err(no_groups(self.flavor()))
    }

    /// Sets a user's presence status and, where the server has one, its status message
    /// (`roster do set-status`).
    fn set_status(
        &self,
        user: &User,
        status: &StatusChange,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (user, status, stats);
        Err(lacks(self.flavor(), "set-status"))
    }

    /// Turns off the account's two-factor authentication (`roster do reset-mfa`);
    /// idempotent.
    fn reset_mfa(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let _ = (user, stats);
        Err(lacks(self.flavor(), "reset-mfa"))
    }

    /// Sets preferences, merged key by key with the account's own (`roster do
    /// set-preferences`); idempotent. A key or value the server refuses rejects the row.
    fn set_preferences(
        &self,
        user: &User,
        prefs: &Preferences,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (user, prefs, stats);
        Err(lacks(self.flavor(), "set-preferences"))
    }

    /// Why these preferences cannot be sent to this server, before any request (so a dry
    /// run says it too); `None` when the server is left to judge them.
    fn preference_problem(&self, prefs: &Preferences) -> Option<String> {
        let _ = prefs;
        None
    }

    /// Moves the account to another sign-in method (`roster do migrate-auth`): `service`
    /// (`ldap`, `saml`) with the directory's key for it.
    fn set_auth(
        &self,
        user: &User,
        service: &str,
        auth_data: &str,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (user, service, auth_data, stats);
        Err(lacks(self.flavor(), "migrate-auth"))
    }

    /// Turns the account into a bot account (`roster do convert-to-bot`).
    fn convert_to_bot(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let _ = (user, stats);
        Err(lacks(self.flavor(), "convert-to-bot"))
    }

    /// Every team that is not archived, for reading memberships by group (`export
    /// --memberships`).
    fn list_teams(&self, stats: &mut CallStats) -> Result<Vec<Group>, CallError> {
        let _ = stats;
        Err(no_groups(self.flavor()))
    }

    /// Every channel that is not archived, with its path: on Mattermost those of `teams`
    /// (public and private), on Rocket.Chat every public channel and private group but a
    /// team's main room (its membership is the team's).
    fn list_channels(
        &self,
        teams: &[Group],
        stats: &mut CallStats,
    ) -> Result<Vec<Group>, CallError> {
        let _ = (teams, stats);
        Err(no_groups(self.flavor()))
    }

    /// A user's own profile image (none when [`User::server_avatar`] is unset): its
    /// bytes, read from the server without following any redirect.
    fn avatar_image(
        &self,
        user: &User,
        stats: &mut CallStats,
    ) -> Result<Option<Vec<u8>>, CallError> {
        let _ = (user, stats);
        Err(no_groups(self.flavor()))
    }

    /// `roster do reset-password`: gives the account `password`, and where the server
    /// can, makes the user change it at the next login. Sending the same password again is
    /// harmless, so a lost answer is retried inside.
    fn set_password(
        &self,
        user: &User,
        password: &Secret,
        require_change: bool,
        stats: &mut CallStats,
    ) -> Result<(), CallError> {
        let _ = (user, password, require_change, stats);
        Err(lacks(self.flavor(), "reset-password"))
    }

    /// `roster do reset-password --send-reset-email`: the server mails the user its own
    /// password-reset link (to the address it holds).
    fn send_password_reset(&self, user: &User, stats: &mut CallStats) -> Result<(), CallError> {
        let _ = (user, stats);
        Err(lacks(self.flavor(), "reset-password"))
    }

    /// Why this server does not hold the account's password (it logs in through LDAP or
    /// SSO), or `None`.
    fn password_elsewhere(&self, user: &User) -> Option<String> {
        let _ = user;
        None
    }

    /// `roster do create-token`: a new token for the user. Sent once, never retried
    /// inside: its secret is only in the answer, so a lost answer is the caller's to report.
    fn create_token(
        &self,
        user: &User,
        request: &TokenRequest,
        stats: &mut CallStats,
    ) -> Result<NewToken, CallError> {
        let _ = (user, request, stats);
        Err(lacks(self.flavor(), "create-token"))
    }

    /// The ids of the user's tokens with this description, where the server lists them
    /// (Mattermost); `Ok(None)` where it does not (Rocket.Chat's login tokens).
    fn tokens_described(
        &self,
        user: &User,
        description: &str,
        stats: &mut CallStats,
    ) -> Result<Option<Vec<String>>, CallError> {
        let _ = (user, description, stats);
        Ok(None)
    }

    /// Of these permissions, the ones the account roster runs as lacks, where the server
    /// says which roles hold which (Rocket.Chat's permissions.listAll); empty when it
    /// cannot tell. A server that ignores a request it does not permit, silently, is asked
    /// this before the first row.
    fn missing_permissions(
        &self,
        permissions: &[&str],
        stats: &mut CallStats,
    ) -> Result<Vec<String>, CallError> {
        let _ = (permissions, stats);
        Ok(Vec::new())
    }

    /// Waits before the caller re-sends a request it retries itself (a create after an
    /// ambiguous failure) and counts the retry in the run's counters;
    /// `Err(Interrupted)` when Ctrl-C came during the wait.
    fn backoff(&self, attempt: u32, stats: &mut CallStats) -> Result<(), CallError>;
}

/// `roster do create-token`: what to ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// Mattermost's token description (required there; Rocket.Chat's login tokens have
    /// none).
    pub description: Option<String>,
    /// Rocket.Chat 8.x: the server's `CREATE_TOKENS_FOR_USERS_SECRET`.
    pub server_secret: Option<Secret>,
}

/// A token the server made.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// The token's own id (Mattermost: what revokes it); Rocket.Chat's has none.
    pub id: Option<String>,
    /// The user it logs in (Rocket.Chat's `X-User-Id`).
    pub user_id: String,
    pub token: Secret,
}

/// What a delete found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// This request deleted the account.
    Now,
    /// The account was already gone.
    Gone,
}

fn lacks(flavor: Flavor, action: &str) -> CallError {
    CallError::Fatal(format!("{flavor} has no {action} in roster's client"))
}

fn no_groups(flavor: Flavor) -> CallError {
    CallError::Rejected {
        status: 0,
        code: None,
        message: format!("teams, channels and avatars are not supported on {flavor}"),
    }
}

/// What a server said about its roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerRoles {
    /// The role names a user may hold.
    Known(BTreeSet<String>),
    /// The server did not say (the listing is not permitted, or failed): roles are not
    /// checked, and the run's warnings say why once.
    Unknown(String),
    /// Ctrl-C came before the listing was read.
    Interrupted,
}

/// A server's roles, read once per run by whichever row needs them first; rows that
/// come meanwhile wait for that one read rather than making their own.
#[derive(Debug, Default)]
pub struct RoleCache(OnceLock<ServerRoles>);

impl RoleCache {
    pub fn get_or_read(
        &self,
        read: impl FnOnce() -> Result<BTreeSet<String>, CallError>,
    ) -> &ServerRoles {
        self.0.get_or_init(|| match read() {
            // An empty listing would reject every row with roles: it says nothing.
            Ok(names) if names.is_empty() => {
                ServerRoles::Unknown("the server listed no roles".into())
            }
            Ok(names) => ServerRoles::Known(names),
            Err(CallError::Interrupted) => ServerRoles::Interrupted,
            Err(e) => ServerRoles::Unknown(e.to_string()),
        })
    }

    /// The warning for the summary when the roles could not be read.
    pub fn warning(&self) -> Option<String> {
        match self.0.get() {
            Some(ServerRoles::Unknown(why)) => Some(format!(
                "role values were not checked against the server's roles ({why}); a role the server lacks fails at write time"
            )),
            _ => None,
        }
    }
}

/// The summary's warning for mapped fields that `flavor` has no place for (`fields`
/// gathered over the whole run); `None` when there are none.
pub fn unsupported_warning(
    flavor: Flavor,
    fields: &std::collections::BTreeSet<&'static str>,
) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let list: Vec<&str> = fields.iter().copied().collect();
    Some(format!(
        "{} has no place for the mapped field(s) {}: roster does not send them",
        flavor.display(),
        list.join(", ")
    ))
}

/// A JSON object as a string map (custom fields, props): strings as they are, other
/// values as compact JSON, nulls left out.
pub fn string_map(v: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(m) = v.as_object() {
        for (k, val) in m {
            let text = match val {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => continue,
                other => other.to_string(),
            };
            out.insert(k.clone(), text);
        }
    }
    out
}

/// Default timeout of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
