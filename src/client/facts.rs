//! What `roster export` reads about an account beyond its profile: presence, last login,
//! creation time, sign-in service, two-factor. None of it is a [`User`] field: a source
//! never sets it, and an import never writes it.

use crate::model::User;

/// A fact an export may ask a server for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    Status,
    LastLogin,
    CreatedAt,
    AuthService,
    MfaActive,
}

impl Fact {
    pub const ALL: [Fact; 5] = [
        Fact::Status,
        Fact::LastLogin,
        Fact::CreatedAt,
        Fact::AuthService,
        Fact::MfaActive,
    ];

    /// The column name (`status`, `last_login`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Fact::Status => "status",
            Fact::LastLogin => "last_login",
            Fact::CreatedAt => "created_at",
            Fact::AuthService => "auth_service",
            Fact::MfaActive => "mfa_active",
        }
    }
}

/// The facts a listing is asked for; the client makes only the requests they need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Want {
    pub status: bool,
    pub last_login: bool,
    pub created_at: bool,
    pub auth_service: bool,
    pub mfa_active: bool,
}

impl Want {
    pub fn add(&mut self, f: Fact) {
        match f {
            Fact::Status => self.status = true,
            Fact::LastLogin => self.last_login = true,
            Fact::CreatedAt => self.created_at = true,
            Fact::AuthService => self.auth_service = true,
            Fact::MfaActive => self.mfa_active = true,
        }
    }

    pub fn has(&self, f: Fact) -> bool {
        match f {
            Fact::Status => self.status,
            Fact::LastLogin => self.last_login,
            Fact::CreatedAt => self.created_at,
            Fact::AuthService => self.auth_service,
            Fact::MfaActive => self.mfa_active,
        }
    }
}

/// A last login as far as the server tells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LastLogin {
    /// Not read, or the server did not say (never to be taken as "never").
    #[default]
    Unknown,
    /// The server says the account never logged in.
    Never,
    /// Milliseconds since the epoch.
    At(i64),
}

/// What the server says about one account; `None` where it was not asked or not told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Presence as the server names it (Rocket.Chat `online|away|busy|offline`,
    /// Mattermost `online|away|dnd|offline`).
    pub status: Option<String>,
    pub last_login: LastLogin,
    /// The last time the server saw the account active (Mattermost `last_status_at`),
    /// which a long-lived session moves on without a login; milliseconds.
    pub last_active: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: Option<i64>,
    /// `email` (password), `ldap`, `saml`, `gitlab`, ... as the server names it.
    pub auth_service: Option<String>,
    pub mfa_active: Option<bool>,
}

/// An account as an export reads it.
#[derive(Clone, Debug, Default)]
pub struct Account {
    pub user: User,
    pub facts: Facts,
}

/// A page of [`crate::client::UserApi::list_accounts`].
#[derive(Debug, Default)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub more: bool,
}

/// How far a server gives a fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// For every account, with the listing or a few requests more.
    Full,
    /// Only in part: the warning to print once.
    Partial(&'static str),
    /// Not at all, with why.
    None(&'static str),
}

/// Where a keyset-paged report continues: after the row with this sort value and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportCursor {
    pub value: String,
    pub id: String,
}

/// One page of a server's login report (Mattermost `GET /reports/users`).
#[derive(Debug, Default)]
pub struct LoginPage {
    /// (user id, last login, last activity in milliseconds when the report says) in the
    /// report's order.
    pub rows: Vec<(String, LastLogin, Option<i64>)>,
    /// `None`: the last page.
    pub next: Option<ReportCursor>,
}
