//! Sandbox servers: local emulators of the Rocket.Chat and Mattermost user-management REST
//! APIs, for tests, demos, benchmarks and migration rehearsals. `roster sandbox` runs one.
//!
//! The core ([`server`]) owns the listener (127.0.0.1 only), keep-alive connections, fault
//! injection (5xx before or after a write is applied, dropped connections), latency, the
//! per-route counters, the JSON-lines request log and state persistence. A [`Flavor`]
//! owns the API itself: routing, authentication, its own rate limiter, validation and the
//! users. Rocket.Chat is [`rocketchat`]; Mattermost plugs in the same way.
//!
//! Seeded accounts (both flavors):
//! - `admin`, with the admin role (holds `api-bypass-rate-limit`, `edit-other-user-info`, ...);
//! - `importer`, a non-admin provisioning account (Rocket.Chat: roles `user` + `provisioner`,
//!   which holds `create-user`, `edit-other-user-info`, `edit-other-user-active-status`,
//!   `edit-other-user-password`, `view-full-other-user-info`, `assign-roles`, `run-import`,
//!   and for memberships and avatars `add-user-to-any-c-room`, `add-user-to-any-p-room`,
//!   `kick-user-from-any-c-room`, `kick-user-from-any-p-room`, `remove-user`, `add-team-member`,
//!   `edit-team-member`, `view-all-teams`, `view-other-user-channels`,
//!   `edit-other-user-avatar`, but NOT `api-bypass-rate-limit`, so the limiter applies to
//!   it). Mattermost: both are
//!   system admins, because only `manage_system` reaches the admin path of `POST /users`;
//!   Mattermost's limiter exempts nobody (see [`mattermost`]).
//!
//! Their passwords come from [`SandboxConfig::admin_password`] /
//! [`SandboxConfig::importer_password`] (the importer's defaults to the admin's) and are
//! (re)set at every start, also over a loaded state file, so the printed password works.

pub mod clock;
pub mod http;
pub mod image;
pub mod mattermost;
pub mod multipart;
pub mod rocketchat;
pub mod server;
pub mod util;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use clock::ManualClock;
pub use http::{Request, Response};
pub use server::{CapturedRequest, RouteCounters};

pub use roster_secret::Secret;

/// Requests in `counters` that changed something: every POST but the logins, the
/// caller's own logouts and the lookups that are POSTs (Mattermost `usernames`, `ids`),
/// and every PUT and DELETE. Rocket.Chat's `users.logout` (of another user) is a write.
pub fn writes_in(counters: &BTreeMap<String, RouteCounters>) -> u64 {
    counters
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            (k.starts_with("POST")
                && !k.contains("usernames")
                && !k.contains("login")
                && (!k.contains("logout") || k.contains("users.logout"))
                && !k.contains("/ids"))
                || k.starts_with("PUT")
                || k.starts_with("DELETE")
        })
        .map(|(_, c)| c.requests)
        .sum()
}

/// Which server to emulate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FlavorKind {
    #[default]
    #[value(name = "rocketchat")]
    RocketChat,
    #[value(name = "mattermost")]
    Mattermost,
}

impl FlavorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlavorKind::RocketChat => "rocketchat",
            FlavorKind::Mattermost => "mattermost",
        }
    }
}

/// When an injected 5xx or drop happens relative to applying the write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultPhase {
    /// Half before, half after (the default; chosen by the seeded generator).
    #[default]
    Random,
    /// Always before the write is applied: nothing changed on the server.
    Before,
    /// Always after the write is applied: it happened, the client sees an error.
    After,
}

/// Everything a sandbox needs. `Default` gives the documented defaults, flavor rocketchat.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub flavor: FlavorKind,
    /// 0 = any free port.
    pub port: u16,
    /// Loaded at start when it exists, saved at stop.
    pub state_file: Option<PathBuf>,
    /// One JSON line per request (no secrets, no bodies).
    pub log_file: Option<PathBuf>,
    /// None = generate a random one ([`Sandbox::admin_password`] tells it).
    pub admin_password: Option<Secret>,
    /// None = the admin's password.
    pub importer_password: Option<Secret>,
    /// Seeds the fault/latency generator and user ids; None = random.
    pub seed: Option<u64>,
    /// The flavor's REST rate limiter; None = the real server's default (Rocket.Chat
    /// `API_Enable_Rate_Limiter`: on; Mattermost `RateLimitSettings.Enable`: off).
    pub rate_limit: Option<bool>,
    /// Callers holding `api-bypass-rate-limit` (the admin) skip the limiter (default true).
    pub admin_bypass: bool,
    /// Rocket.Chat calls per window per route and client IP (default 10).
    pub rc_limit_calls: u32,
    /// Rocket.Chat window length in ms (default 60000).
    pub rc_limit_window_ms: u64,
    /// Rocket.Chat REST 2FA on users.update (default on).
    pub two_factor: bool,
    /// Rocket.Chat `Accounts_CustomFields` (a JSON object of field definitions); None = the
    /// setting is empty: customFields are accepted and silently dropped.
    pub rc_custom_fields: Option<serde_json::Value>,
    /// The version `/api/info` reports.
    pub rc_version: String,
    /// Fraction of writes (non-GET, not login) answered 500/502/503.
    pub fault_rate: f64,
    /// Fraction of requests (not login, not `/__sandbox/`) whose connection is dropped
    /// without a response.
    pub drop_rate: f64,
    /// Whether faults and drops happen before or after the write is applied.
    pub fault_phase: FaultPhase,
    /// Added to every request.
    pub latency_ms: u64,
    /// Uniform extra delay in 0..=jitter_ms.
    pub jitter_ms: u64,
    /// Requests the server serves at once at its normal latency (None = unlimited). Beyond
    /// it each request's latency grows in proportion (`latency_ms × in flight ÷ capacity`:
    /// throughput stays flat), and a request arriving with more than four times the capacity
    /// in flight is answered 503 at once (login excepted), as an overloaded proxy would.
    pub capacity: Option<usize>,
    /// bcrypt cost for stored passwords (10 like the real servers; tests use 4).
    pub bcrypt_cost: u32,
    /// Mattermost `RateLimitSettings.PerSec` (default 10).
    pub mm_per_sec: u32,
    /// Mattermost `RateLimitSettings.MaxBurst` (default 100); `X-Ratelimit-Limit` is one more.
    pub mm_max_burst: u32,
    /// Mattermost `RateLimitSettings.MemoryStoreSize`: keys kept by the limiter's LRU (10000).
    pub mm_memory_store_size: usize,
    /// Mattermost `RateLimitSettings.VaryByRemoteAddr` (default true).
    pub mm_vary_by_remote_addr: bool,
    /// Mattermost `RateLimitSettings.VaryByUser` (default false): key by token, plus a
    /// second check per user id that adds a second set of headers.
    pub mm_vary_by_user: bool,
    /// Mattermost `RateLimitSettings.VaryByHeader` (default none).
    pub mm_vary_by_header: Option<String>,
    /// For tests: both flavors' rate limiters read this clock instead of the real one.
    pub clock: Option<ManualClock>,
    /// Mattermost `ServiceSettings.EnableAPIUserDeletion` (default false).
    pub mm_enable_api_user_deletion: bool,
    /// Mattermost `TeamSettings.EnableOpenServer` (default false): anonymous sign-up.
    pub mm_open_server: bool,
    /// Mattermost: usernames that [`Sandbox::seed_users`] makes LDAP-managed accounts
    /// (auth_service `ldap`, auth_data = the username, no password).
    pub mm_ldap_users: Vec<String>,
    /// The Mattermost version `X-Version-Id` reports.
    pub mm_version: String,
    /// For the referee tests: keep every request (method, route, query, body) in memory for
    /// [`Sandbox::captured`]. Off by default; bodies hold passwords, so they are never
    /// written anywhere by the sandbox itself (the `--log` file never has them).
    pub capture_requests: bool,
    /// Mattermost `TeamSettings.MaxUsersPerTeam`: active users with an active membership
    /// per team. The server's default is 50 (`TeamSettingsDefaultMaxUsersPerTeam`), and so
    /// is this one; tests and demos that import more users into one team raise it.
    pub mm_max_users_per_team: u32,
    /// Whether the server can send mail (an SMTP server is configured and answers; default
    /// true, the mails are kept for [`Sandbox::mails`]). Off: Rocket.Chat's reset mail
    /// fails silently (users.forgotPassword still answers 200), Mattermost's password reset
    /// answers 500 `api.user.send_password_reset.send.app_error`.
    pub smtp: bool,
    /// Rocket.Chat `Accounts_PasswordReset` (default true): off, users.forgotPassword
    /// answers 400 `Password reset is not enabled`.
    pub rc_password_reset: bool,
    /// Rocket.Chat `Accounts_Password_Policy_Enabled` (default false), with the policy's
    /// default settings (at least 7 characters, no 3 same characters in a row, a lowercase,
    /// an uppercase, a digit and a symbol), applied where the server applies it: a password
    /// set through users.update.
    pub rc_password_policy: bool,
    /// Rocket.Chat's environment variable `CREATE_TOKENS_FOR_USERS_SECRET` (default unset:
    /// users.createToken refuses every call, as the server does).
    pub rc_create_tokens_secret: Option<Secret>,
    /// Mattermost `ServiceSettings.EnableUserAccessTokens` (default false, as on the
    /// server): off, creating a token for a user who is not a bot answers 501
    /// `app.user_access_token.disabled`, and existing tokens do not log in.
    pub mm_enable_user_access_tokens: bool,
    /// Mattermost `PasswordSettings.MinimumLength` (default 8).
    pub mm_password_minimum_length: usize,
    /// Mattermost: (role, permission) pairs added to the roles' defaults, as an
    /// administrator grants them under System Console > User Management > System Roles
    /// (`PATCH /roles/{id}/patch`, not emulated). System admins hold every permission
    /// anyway. The emulator asks only for `sysconsole_write_user_management_users`
    /// (setting another user's password), which no other role holds by default.
    pub mm_role_permissions: Vec<(String, String)>,
}

/// A mail the sandbox's server sent ([`Sandbox::mails`]); no secret is kept (a reset
/// mail's link, a token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The address it went to.
    pub to: String,
    /// What it was: `reset-password` (a reset link), `totp-reset` (Rocket.Chat, before
    /// users.resetTOTP), `password-changed` (Mattermost tells a
    /// user whose password an admin set), `token-created` (Mattermost, a new access token).
    pub kind: String,
}

/// Defaults of [`SandboxConfig`] that the `roster sandbox` command line shows too: the real
/// servers' own defaults.
pub mod defaults {
    /// Rocket.Chat `API_Enable_Rate_Limiter_Limit_Calls_Default`.
    pub const RC_LIMIT_CALLS: u32 = 10;
    /// Rocket.Chat `API_Enable_Rate_Limiter_Limit_Time_Default`, in milliseconds.
    pub const RC_LIMIT_WINDOW_MS: u64 = 60_000;
    /// Both servers hash passwords with bcrypt at cost 10.
    pub const BCRYPT_COST: u32 = 10;
    /// Mattermost `RateLimitSettings.PerSec`.
    pub const MM_PER_SEC: u32 = 10;
    /// Mattermost `RateLimitSettings.MaxBurst`.
    pub const MM_MAX_BURST: u32 = 100;
    /// Mattermost `RateLimitSettings.MemoryStoreSize`.
    pub const MM_MEMORY_STORE_SIZE: usize = 10_000;
    /// Mattermost `TeamSettings.MaxUsersPerTeam`.
    pub const MM_MAX_USERS_PER_TEAM: u32 = 50;
    /// Mattermost `PasswordSettings.MinimumLength`.
    pub const MM_PASSWORD_MINIMUM_LENGTH: usize = 8;
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            flavor: FlavorKind::RocketChat,
            port: 0,
            state_file: None,
            log_file: None,
            admin_password: None,
            importer_password: None,
            seed: None,
            rate_limit: None,
            admin_bypass: true,
            rc_limit_calls: defaults::RC_LIMIT_CALLS,
            rc_limit_window_ms: defaults::RC_LIMIT_WINDOW_MS,
            two_factor: true,
            rc_custom_fields: None,
            rc_version: "7.10.0".to_string(),
            fault_rate: 0.0,
            drop_rate: 0.0,
            fault_phase: FaultPhase::Random,
            latency_ms: 0,
            jitter_ms: 0,
            capacity: None,
            bcrypt_cost: defaults::BCRYPT_COST,
            mm_per_sec: defaults::MM_PER_SEC,
            mm_max_burst: defaults::MM_MAX_BURST,
            mm_memory_store_size: defaults::MM_MEMORY_STORE_SIZE,
            mm_vary_by_remote_addr: true,
            mm_vary_by_user: false,
            mm_vary_by_header: None,
            clock: None,
            mm_enable_api_user_deletion: false,
            mm_open_server: false,
            mm_ldap_users: Vec::new(),
            mm_version: "10.11.0".to_string(),
            capture_requests: false,
            mm_max_users_per_team: defaults::MM_MAX_USERS_PER_TEAM,
            smtp: true,
            rc_password_reset: true,
            rc_password_policy: false,
            rc_create_tokens_secret: None,
            mm_enable_user_access_tokens: false,
            mm_password_minimum_length: defaults::MM_PASSWORD_MINIMUM_LENGTH,
            mm_role_permissions: Vec::new(),
        }
    }
}

/// A user to put straight into the store (no validation, no rate limit), for tests and
/// benchmarks that need a populated server.
#[derive(Clone, Debug, Default)]
pub struct SeedUser {
    pub username: String,
    pub email: String,
    pub name: String,
    /// None = the user cannot log in.
    pub password: Option<String>,
    pub active: bool,
    /// Empty = the flavor's default roles.
    pub roles: Vec<String>,
}

/// What the API records about an account only over time or through routes the sandbox
/// does not emulate (a login months ago, a directory sign-in, a bot): set straight in the
/// store by [`Sandbox::set_account_facts`], for tests and demos, never through the
/// emulated API. `None` leaves a fact as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountFacts {
    /// Creation time, in milliseconds since the epoch (Mattermost `create_at`, Rocket.Chat
    /// `createdAt`).
    pub created_at: Option<i64>,
    /// The last successful login, in milliseconds; `Some(None)`: never logged in.
    pub last_login: Option<Option<i64>>,
    /// Two-factor authentication on (Mattermost `mfa_active`; Rocket.Chat TOTP).
    pub mfa_active: Option<bool>,
    /// How the account signs in: Mattermost `auth_service` (`ldap`, `saml`, `gitlab`, ...;
    /// `""` for email and password); on Rocket.Chat `ldap` sets `ldap: true`, anything else
    /// clears it.
    pub auth_service: Option<String>,
    /// A bot account (Mattermost: a row in Bots, `is_bot`; Rocket.Chat: `type: bot`).
    pub bot: Option<bool>,
}

/// A user's active memberships, by name, sorted ([`Sandbox::memberships`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memberships {
    pub teams: Vec<String>,
    pub channels: Vec<String>,
}

/// What the core needs from an emulated server.
pub trait Flavor: Send + Sync {
    /// `rocketchat` or `mattermost`.
    fn name(&self) -> &'static str;
    /// Counter and log key, e.g. `POST /api/v1/users.create`; path parameters must be
    /// replaced by placeholders so the set of keys stays small.
    fn route_key(&self, req: &Request) -> String;
    /// The login route: never faulted or dropped (clients need a session to test anything).
    fn is_login(&self, req: &Request) -> bool;
    /// Whether a 5xx may be injected: by default every non-GET request except login.
    fn is_write(&self, req: &Request) -> bool {
        !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS") && !self.is_login(req)
    }
    /// Answers one request. The flavor runs its own auth and rate limiter.
    fn handle(&self, req: &Request) -> Response;
    /// The body the application itself sends for an unexpected error (status 500).
    fn internal_error(&self) -> Response;
    /// Every user, as JSON, in the flavor's admin view (no password hashes).
    fn users(&self) -> Vec<serde_json::Value>;
    /// Inserts users directly; returns their ids.
    fn seed(&self, users: &[SeedUser]) -> Result<Vec<String>, String>;
    /// The persistent state (users, tokens, ...).
    fn save_state(&self) -> serde_json::Value;
    /// Replaces the state with a saved one, then re-seeds the built-in accounts' passwords.
    fn load_state(&self, state: serde_json::Value) -> Result<(), String>;
    /// A team (Mattermost: with town-square and off-topic; Rocket.Chat: with its main
    /// room); returns its id.
    fn seed_team(&self, name: &str, private: bool) -> Result<String, String>;
    /// A channel, in a team or (Rocket.Chat only) standalone; returns its id.
    fn seed_channel(&self, team: Option<&str>, name: &str, private: bool)
    -> Result<String, String>;
    /// A user's active memberships.
    fn memberships(&self, username: &str) -> Memberships;
    /// The custom picture stored for a user.
    fn avatar(&self, username: &str) -> Option<Vec<u8>>;
    /// Adds a user to a team or channel by name, without any check but existence.
    fn add_member(&self, group: &str, username: &str) -> Result<(), String>;
    /// A user's status and status message (Mattermost: no message; a user never given
    /// one is `offline`).
    fn status(&self, username: &str) -> Option<(String, String)>;
    /// Whether a user has two-factor authentication (TOTP) on; None: no such user.
    fn mfa(&self, username: &str) -> Option<bool>;
    /// A user's stored preferences: Mattermost `CATEGORY.NAME` → value, Rocket.Chat key →
    /// value.
    fn preferences(&self, username: &str) -> BTreeMap<String, serde_json::Value>;
    /// Sets what [`AccountFacts`] holds on a user, straight in the store.
    fn set_account_facts(&self, username: &str, facts: &AccountFacts) -> Result<(), String>;
    /// The mails sent so far, oldest first.
    fn mails(&self) -> Vec<Mail> {
        Vec::new()
    }
}

/// Builds the flavor for a configuration.
fn make_flavor(cfg: &SandboxConfig, admin_password: &Secret) -> io::Result<Arc<dyn Flavor>> {
    match cfg.flavor {
        FlavorKind::RocketChat => Ok(Arc::new(rocketchat::RocketChat::new(cfg, admin_password)?)),
        FlavorKind::Mattermost => Ok(Arc::new(mattermost::Mattermost::new(cfg, admin_password)?)),
    }
}

/// A running sandbox. Stops (and saves its state, if configured) on [`Sandbox::stop`] or drop.
pub struct Sandbox {
    server: server::Server,
    admin_password: Secret,
    generated_password: bool,
}

impl Sandbox {
    /// Binds 127.0.0.1:`cfg.port` (0 = ephemeral), loads the state file if it exists,
    /// seeds the built-in accounts and starts serving.
    pub fn start(cfg: SandboxConfig) -> io::Result<Sandbox> {
        let (admin_password, generated_password) = match &cfg.admin_password {
            Some(p) if !p.is_empty() => (p.clone(), false),
            _ => (Secret::new(util::random_password(20)), true),
        };
        let flavor = make_flavor(&cfg, &admin_password)?;
        if let Some(path) = &cfg.state_file {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let state = server::parse_state_file(&bytes, flavor.name()).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("state file {}: {e}", path.display()),
                        )
                    })?;
                    flavor.load_state(state).map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("state file {}: {e}", path.display()),
                        )
                    })?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot read state file {}: {e}", path.display()),
                    ));
                }
            }
        }
        let server = server::Server::start(&cfg, flavor)?;
        Ok(Sandbox {
            server,
            admin_password,
            generated_password,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// The admin's password (generated when the configuration had none).
    pub fn admin_password(&self) -> &Secret {
        &self.admin_password
    }

    /// Whether [`Sandbox::admin_password`] was generated at start.
    pub fn admin_password_generated(&self) -> bool {
        self.generated_password
    }

    /// Every user in the flavor's admin view (as `users.info` shows them to an admin).
    pub fn users(&self) -> Vec<serde_json::Value> {
        self.server.flavor().users()
    }

    /// TCP connections accepted since the start.
    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    /// The most requests served at once since the start (login included).
    pub fn peak_in_flight(&self) -> usize {
        self.server.peak_in_flight()
    }

    /// Per-route counters: requests, 429s, injected 5xx, drops.
    pub fn counters(&self) -> BTreeMap<String, RouteCounters> {
        self.server.counters()
    }

    /// The requests received so far, oldest first, when [`SandboxConfig::capture_requests`]
    /// is on (empty otherwise).
    pub fn captured(&self) -> Vec<CapturedRequest> {
        self.server.captured()
    }

    /// The same JSON as `GET /__sandbox/state`.
    pub fn state_json(&self) -> serde_json::Value {
        self.server.state_json()
    }

    /// Inserts users directly (no validation, no rate limit); returns their ids.
    pub fn seed_users(&self, users: &[SeedUser]) -> Result<Vec<String>, String> {
        self.server.flavor().seed(users)
    }

    /// Creates a team directly (no validation, no rate limit) and returns its id. Mattermost
    /// also creates its `town-square` and `off-topic` channels; Rocket.Chat its main room
    /// (a `c` room for a public team, `p` for a private one, named like the team).
    /// A name already taken is an error ending in `" exists"` (`roster sandbox` relies on it
    /// to keep teams loaded from `--state`).
    pub fn seed_team(&self, name: &str, private: bool) -> Result<String, String> {
        self.server.flavor().seed_team(name, private)
    }

    /// Creates a channel directly and returns its id. Mattermost needs the team's name;
    /// Rocket.Chat: None = a standalone room, Some(team) = a room of that team. A name already
    /// taken is an error ending in `" exists"`.
    pub fn seed_channel(
        &self,
        team: Option<&str>,
        name: &str,
        private: bool,
    ) -> Result<String, String> {
        self.server.flavor().seed_channel(team, name, private)
    }

    /// The user's active team and channel memberships, by name, sorted (empty for an
    /// unknown user), one entry per membership: on Mattermost a channel name shows twice
    /// when the user is in two teams' channels of that name (`town-square` of each team).
    /// Rocket.Chat: `teams` are its teams, `channels` the `c`/`p` rooms that are not a
    /// team's main room.
    pub fn memberships(&self, username: &str) -> Memberships {
        self.server.flavor().memberships(username)
    }

    /// The custom picture stored for the user, as uploaded; None when the user has the
    /// default one (never set, or reset) or does not exist.
    pub fn avatar(&self, username: &str) -> Option<Vec<u8>> {
        self.server.flavor().avatar(username)
    }

    /// The user's status and status message; None when the user does not exist.
    pub fn status(&self, username: &str) -> Option<(String, String)> {
        self.server.flavor().status(username)
    }

    /// The mails the server sent so far, oldest first (needs [`SandboxConfig::smtp`]).
    pub fn mails(&self) -> Vec<Mail> {
        self.server.flavor().mails()
    }

    /// Whether the user has two-factor authentication (TOTP) on; None: no such user.
    pub fn mfa(&self, username: &str) -> Option<bool> {
        self.server.flavor().mfa(username)
    }

    /// The user's stored preferences (Mattermost: `CATEGORY.NAME` → value).
    pub fn preferences(&self, username: &str) -> BTreeMap<String, serde_json::Value> {
        self.server.flavor().preferences(username)
    }

    /// Sets facts the API changes only over time (creation, last login) or by routes not
    /// emulated (directory sign-in, two-factor, bots), for tests that need, say, accounts
    /// idle for a year. Not part of the emulated API.
    pub fn set_account_facts(&self, username: &str, facts: &AccountFacts) -> Result<(), String> {
        self.server.flavor().set_account_facts(username, facts)
    }

    /// Makes the user a member of a team or channel by name, with no permission or limit
    /// check (Mattermost: a channel name is looked up in every team; joining a channel
    /// does not join its team).
    pub fn add_member(&self, group: &str, username: &str) -> Result<(), String> {
        self.server.flavor().add_member(group, username)
    }

    /// Changes the fault and drop rates at run time.
    pub fn set_faults(&self, fault_rate: f64, drop_rate: f64) {
        self.server.set_faults(fault_rate, drop_rate);
    }

    /// Answers requests for `path` (exact, without the query) with 307 to `location`,
    /// as a misconfigured reverse proxy would; None stops it.
    pub fn set_redirect(&self, redirect: Option<(&str, &str)>) {
        self.server
            .set_redirect(redirect.map(|(p, l)| (p.to_string(), l.to_string())));
    }

    /// Changes the fault phase at run time.
    pub fn set_fault_phase(&self, phase: FaultPhase) {
        self.server.set_fault_phase(phase);
    }

    /// Changes latency and jitter at run time.
    pub fn set_latency(&self, latency_ms: u64, jitter_ms: u64) {
        self.server.set_latency(latency_ms, jitter_ms);
    }

    /// Stops serving, closes every connection and saves the state if configured.
    pub fn stop(mut self) -> io::Result<()> {
        self.server.stop()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.server.stop();
    }
}
