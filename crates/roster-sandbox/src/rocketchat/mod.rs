//! The Rocket.Chat flavor (7.x behaviour), after /work/shared/docs/rocketchat-api.md.
//!
//! Request pipeline, in the real server's order: authentication (401) → the REST rate
//! limiter (429; skipped for holders of `api-bypass-rate-limit`) → ajv parameter validation
//! (400 `invalid-params`) → `permissionsRequired` (403) → 2FA → the action.
//!
//! The hard-coded 1-call-per-60-s limiters of `setUsername`, `setRealName` and `setEmail`
//! apply, as on the real server, to callers WITHOUT `edit-other-user-info`: in practice to
//! users editing themselves through users.update (the seeded `admin` and `importer` both
//! hold the permission and are not affected).
//!
//! Parameter validation is refereed by the server's own compiled schemas
//! (`@rocket.chat/rest-typings` 8.8.1, `tests/referees/rc_schemas.mjs`): the schemas in
//! `users.rs` and `import.rs` are 8.8.1's (`packages/rest-typings/src/v1/users/*.ts`,
//! `v1/import/ImportAddUsersParamsPOST.ts`), and `ajv.rs` follows ajv's coercion. A failure
//! is answered as `apps/meteor/app/api/server/ApiClass.ts` (7.x) throws it: `new
//! Meteor.Error('invalid-params', validatorFunc.errors?.map((error) =>
//! error.message).join('\n '))`, validating `this.queryParams` for GET and `this.bodyParams`
//! otherwise. 8.x moved the user routes to typed routes, whose validation in
//! `packages/http-router/src/Router.ts` answers `{success:false, errorType:'invalid-params'
//! (body) | 'error-invalid-params' (query), error:<the same messages>}` without the
//! ` [invalid-params]` suffix: a known difference, listed in the README.
//!
//! Username case, as on the real server (traced in the shared rocketchat-members-and-ops
//! notes, §10): users.create stores the username as given and its "already in use" check
//! ignores case (`apps/meteor/server/lib/users/checkUsernameAvailability.ts` →
//! `Users.findOneByUsernameIgnoringCase`, collation en/2, in
//! `packages/models/src/models/Users.ts`); users.info?username= is exact and
//! case-sensitive (`apps/meteor/server/lib/users/getFullUserData.ts` →
//! `Users.findOneByIdOrUsername`, `$or:[{_id},{username}]` without collation; 6.x/7.x:
//! `apps/meteor/app/lib/server/functions/getFullUserData.ts`). Endpoints that go through
//! `getUserFromParams` (`apps/meteor/app/api/server/helpers/getUserFromParams.ts`) match
//! ignoring case.
//!
//! Logging out and deleting (`roster do`; `apps/meteor/app/api/server/v1/users.ts`, the
//! shared rocketchat-members-and-ops notes §4 and §9): `users.logout {userId}` needs
//! `logout-other-user` for another user (403 `unauthorized` otherwise; admins hold it, the
//! seeded `importer`'s provisioner role does not) and empties the user's login tokens;
//! `users.delete` needs `delete-user` (the provisioner role lacks it too), refuses a last
//! room owner with `[user-last-owner]` and the rooms in `details` unless
//! `confirmRelinquish` (`deleteUser.ts`, `getUserSingleOwnedRooms.ts`,
//! `relinquishRoomOwnerships.ts` in `apps/meteor/app/lib/server/functions/`).
//!
//! users.list and `roster export` (the shared rocketchat-members-and-ops notes §7;
//! `apps/meteor/app/api/server/v1/users.ts`, `helpers/parseJsonQuery.ts`, `lib/users.ts`
//! `getNonEmptyFields`): the default projection holds `status` and `lastLogin` (set at
//! every login); `createdAt` and `ldap` come when asked for in `fields`. For callers
//! without view-full-other-user-info, `limitedUserFieldsToExclude` strips `createdAt`,
//! `lastLogin`, `emails`, `roles` and the rest even from the defaults; `services` (TOTP,
//! SAML, OAuth) is stripped for everyone. The route's limiter bucket is users.list's.
//!
//! Passwords and tokens of other users (`roster do reset-password`, `create-token`):
//! users.update's password (logs the user out everywhere; `Accounts_Password_Policy_Enabled`
//! is `rc_password_policy`), `users.forgotPassword` (`Accounts_PasswordReset`,
//! `rc_password_reset`), the 8.x `users.createToken {userId, secret}` (the server's
//! `CREATE_TOKENS_FOR_USERS_SECRET` is `rc_create_tokens_secret`) and `permissions.listAll`:
//! see [`secrets`].

mod account;
mod ajv;
mod avatar;
mod import;
pub mod limiter;
mod roles;
mod rooms;
mod secrets;
mod status;
mod store;
mod users;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{Map, Value, json};

use super::http::{Request, Response};
use super::util::{self, IdGen};
use super::{Flavor, Mail, SandboxConfig, SeedUser};
use crate::clock::Clock;
use limiter::{FixedWindow, Outcome};
pub(crate) use roles::is_known_role;
use roster_secret::Secret;
use store::{Email, LoginToken, RcUser, Store};

/// `Accounts_TwoFactorAuthentication_RememberFor`, also the "just registered" grace period.
const TFA_REMEMBER_MS: i64 = 1800 * 1000;
/// The custom role of the seeded `importer` account.
const PROVISIONER_PERMS: &[&str] = &[
    "create-user",
    "edit-other-user-info",
    "edit-other-user-active-status",
    "edit-other-user-password",
    "view-full-other-user-info",
    "view-d-room",
    "assign-roles",
    "run-import",
    // Membership and avatars (issue 13): what an admin grants a provisioning role so that
    // it manages rooms it is not in, as the admin role does by default (the two `-p-room`
    // ones no role holds by default).
    "add-user-to-any-c-room",
    "add-user-to-any-p-room",
    "kick-user-from-any-c-room",
    "kick-user-from-any-p-room",
    "remove-user",
    "add-team-member",
    "edit-team-member",
    "view-all-teams",
    // rooms.adminRooms, which `export --memberships` lists the rooms with.
    "view-room-administration",
    "view-other-user-channels",
    "edit-other-user-avatar",
];

/// Permissions that no role holds by default (`permissions.ts`), not even `admin`.
const NO_ROLE_PERMS: &[&str] = &["add-user-to-any-p-room", "kick-user-from-any-p-room"];

/// Whether any of these roles grants the permission. `admin` holds every permission but
/// [`NO_ROLE_PERMS`].
pub(crate) fn has_perm(roles: &[String], perm: &str) -> bool {
    roles.iter().any(|r| {
        let granted: &[&str] = match r.as_str() {
            "admin" => return !NO_ROLE_PERMS.contains(&perm),
            "user" => &[
                "view-d-room",
                "create-personal-access-tokens",
                "create-c",
                "create-p",
                "create-team",
            ],
            "bot" => &["api-bypass-rate-limit", "view-d-room"],
            "app" => &["api-bypass-rate-limit"],
            "provisioner" => PROVISIONER_PERMS,
            _ => &[],
        };
        granted.contains(&perm)
    })
}

/// Fixed settings of this server.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    rate_limit: bool,
    admin_bypass: bool,
    calls: u32,
    window_ms: u64,
    two_factor: bool,
    /// `Accounts_CustomFields`; None = empty setting.
    custom_fields: Option<Value>,
    version: String,
    bcrypt_cost: u32,
    /// An SMTP server answers (mails are kept in [`RocketChat::mails`]).
    smtp: bool,
    /// `Accounts_PasswordReset`.
    password_reset: bool,
    /// `Accounts_Password_Policy_Enabled`.
    password_policy: bool,
    /// The environment variable `CREATE_TOKENS_FOR_USERS_SECRET`.
    create_tokens_secret: Option<Secret>,
}

/// The routes the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Route {
    Login,
    Logout,
    /// Deprecated but still served.
    LogoutGet,
    Me,
    UsersCreate,
    UsersUpdate,
    UsersInfo,
    UsersGetStatus,
    UsersList,
    UsersSetActiveStatus,
    UsersDelete,
    UsersLogout,
    RolesList,
    ImportNew,
    ImportAddUsers,
    ImportRun,
    ImportStatus,
    ChannelsCreate,
    GroupsCreate,
    ChannelsInfo,
    GroupsInfo,
    RoomsInfo,
    ChannelsInvite,
    GroupsInvite,
    ChannelsKick,
    GroupsKick,
    ChannelsMembers,
    GroupsMembers,
    TeamsCreate,
    TeamsInfo,
    TeamsAddMembers,
    TeamsRemoveMember,
    TeamsMembers,
    TeamsListAll,
    RoomsAdminRooms,
    UsersSetAvatar,
    UsersResetAvatar,
    UsersSetStatus,
    UsersGetAvatar,
    UsersResetTotp,
    UsersSetPreferences,
    UsersForgotPassword,
    UsersCreateToken,
    PermissionsListAll,
}

fn route_of(method: &str, name: &str) -> Option<Route> {
    Some(match (method, name) {
        ("POST", "login") => Route::Login,
        ("POST", "logout") => Route::Logout,
        ("GET", "logout") => Route::LogoutGet,
        ("GET", "me") => Route::Me,
        ("POST", "users.create") => Route::UsersCreate,
        ("POST", "users.update") => Route::UsersUpdate,
        ("GET", "users.info") => Route::UsersInfo,
        ("GET", "users.getStatus") => Route::UsersGetStatus,
        ("GET", "users.list") => Route::UsersList,
        ("POST", "users.setActiveStatus") => Route::UsersSetActiveStatus,
        ("POST", "users.delete") => Route::UsersDelete,
        ("POST", "users.logout") => Route::UsersLogout,
        ("GET", "roles.list") => Route::RolesList,
        ("POST", "import.new") => Route::ImportNew,
        ("POST", "import.addUsers") => Route::ImportAddUsers,
        ("POST", "import.run") => Route::ImportRun,
        ("GET", "import.status") => Route::ImportStatus,
        ("POST", "channels.create") => Route::ChannelsCreate,
        ("POST", "groups.create") => Route::GroupsCreate,
        ("GET", "channels.info") => Route::ChannelsInfo,
        ("GET", "groups.info") => Route::GroupsInfo,
        ("GET", "rooms.info") => Route::RoomsInfo,
        ("POST", "channels.invite") => Route::ChannelsInvite,
        ("POST", "groups.invite") => Route::GroupsInvite,
        ("POST", "channels.kick") => Route::ChannelsKick,
        ("POST", "groups.kick") => Route::GroupsKick,
        ("GET", "channels.members") => Route::ChannelsMembers,
        ("GET", "groups.members") => Route::GroupsMembers,
        ("POST", "teams.create") => Route::TeamsCreate,
        ("GET", "teams.info") => Route::TeamsInfo,
        ("POST", "teams.addMembers") => Route::TeamsAddMembers,
        ("POST", "teams.removeMember") => Route::TeamsRemoveMember,
        ("GET", "teams.members") => Route::TeamsMembers,
        ("GET", "teams.listAll") => Route::TeamsListAll,
        ("GET", "rooms.adminRooms") => Route::RoomsAdminRooms,
        ("POST", "users.setAvatar") => Route::UsersSetAvatar,
        ("POST", "users.resetAvatar") => Route::UsersResetAvatar,
        ("POST", "users.setStatus") => Route::UsersSetStatus,
        ("POST", "users.resetTOTP") => Route::UsersResetTotp,
        ("POST", "users.setPreferences") => Route::UsersSetPreferences,
        ("GET", "users.getAvatar") => Route::UsersGetAvatar,
        ("POST", "users.forgotPassword") => Route::UsersForgotPassword,
        ("POST", "users.createToken") => Route::UsersCreateToken,
        ("GET", "permissions.listAll") => Route::PermissionsListAll,
        _ => return None,
    })
}

/// The authenticated caller of a request.
pub(crate) struct Caller {
    pub user: RcUser,
    pub hashed_token: String,
}

impl Caller {
    pub fn can(&self, perm: &str) -> bool {
        has_perm(&self.user.roles, perm)
    }
}

/// What a handler gets.
pub(crate) struct Ctx<'a> {
    pub req: &'a Request,
    pub caller: Caller,
    /// `{...queryParams, ...bodyParams}`.
    pub params: Value,
    pub client_ip: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub struct RocketChat {
    settings: Settings,
    store: Arc<RwLock<Store>>,
    /// One fixed window per route and method, created lazily with the server's start as
    /// the first window start (Meteor registers the rules at startup).
    limiters: Mutex<HashMap<Route, FixedWindow>>,
    /// `RateLimiter.limitFunction` wrappers of setUsername / setRealName / setEmail.
    fn_limiters: Mutex<HashMap<&'static str, FixedWindow>>,
    started_ms: i64,
    /// What the limiters read (epoch ms).
    clock: Clock,
    ids: Arc<IdGen>,
    import: Arc<Mutex<import::ImportState>>,
    admin_password: Secret,
    importer_password: Secret,
    /// The mails sent, oldest first.
    mails: Mutex<Vec<Mail>>,
}

impl RocketChat {
    pub fn new(cfg: &SandboxConfig, admin_password: &Secret) -> io::Result<Self> {
        let importer_password = match &cfg.importer_password {
            Some(p) if !p.is_empty() => p.clone(),
            _ => admin_password.clone(),
        };
        let clock = Clock::new(cfg.clock.clone());
        let rc = RocketChat {
            settings: Settings {
                rate_limit: cfg.rate_limit.unwrap_or(true),
                admin_bypass: cfg.admin_bypass,
                calls: cfg.rc_limit_calls,
                window_ms: cfg.rc_limit_window_ms,
                two_factor: cfg.two_factor,
                custom_fields: cfg.rc_custom_fields.clone(),
                version: cfg.rc_version.clone(),
                bcrypt_cost: cfg.bcrypt_cost,
                smtp: cfg.smtp,
                password_reset: cfg.rc_password_reset,
                password_policy: cfg.rc_password_policy,
                create_tokens_secret: cfg.rc_create_tokens_secret.clone(),
            },
            store: Arc::new(RwLock::new(Store::default())),
            limiters: Mutex::new(HashMap::new()),
            fn_limiters: Mutex::new(HashMap::new()),
            started_ms: clock.now_ms(),
            clock,
            ids: Arc::new(IdGen::new(cfg.seed)),
            import: Arc::new(Mutex::new(import::ImportState::default())),
            admin_password: admin_password.clone(),
            importer_password,
            mails: Mutex::new(Vec::new()),
        };
        rc.ensure_builtin_accounts().map_err(io::Error::other)?;
        rc.ensure_general();
        Ok(rc)
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        match self.store.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        match self.store.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Creates `admin` and `importer`, or resets their passwords when they exist.
    fn ensure_builtin_accounts(&self) -> Result<(), String> {
        let cost = self.settings.bcrypt_cost;
        let admin_hash = util::meteor_password_hash(self.admin_password.expose(), cost)?;
        let importer_hash = if self.importer_password == self.admin_password {
            admin_hash.clone()
        } else {
            util::meteor_password_hash(self.importer_password.expose(), cost)?
        };
        // The built-in accounts predate the sandbox's start: the 2FA "just registered"
        // grace period must not apply to them.
        let created = util::now_ms() - 30 * 24 * 3600 * 1000;
        let accounts = [
            (
                "admin",
                "Administrator",
                vec!["admin".to_string()],
                admin_hash,
            ),
            (
                "importer",
                "Importer",
                vec!["user".to_string(), "provisioner".to_string()],
                importer_hash,
            ),
        ];
        let mut st = self.write();
        for (username, name, roles, hash) in accounts {
            let existing = st.by_username(username).map(|u| u.id.clone());
            match existing {
                Some(id) => {
                    st.update(&id, |u| u.bcrypt = Some(hash));
                }
                None => {
                    let mut u = RcUser::new(self.ids.meteor_id(), username.to_string(), created);
                    u.name = Some(name.to_string());
                    u.emails = vec![Email {
                        address: format!("{username}@example.com"),
                        verified: true,
                    }];
                    u.roles = roles;
                    u.bcrypt = Some(hash);
                    st.insert(u);
                }
            }
        }
        Ok(())
    }

    /// The `GENERAL` room every server has: `general`, public, `default: true`.
    fn ensure_general(&self) {
        let mut st = self.write();
        if st.room_by_name("general").is_some() {
            return;
        }
        let now = util::now_ms() - 30 * 24 * 3600 * 1000;
        st.rooms.insert(
            "GENERAL".into(),
            store::Room {
                id: "GENERAL".into(),
                name: "general".into(),
                t: "c".into(),
                default: true,
                team_main: false,
                team_id: None,
                archived: false,
                creator: None,
                created_at: now,
                updated_at: now,
            },
        );
    }

    // ----- responses -------------------------------------------------------------------

    /// `API.v1.success(payload)`.
    pub(crate) fn success(payload: Value) -> Response {
        let mut m = match payload {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        m.insert("success".into(), json!(true));
        Response::json(200, &Value::Object(m))
    }

    /// A thrown `Meteor.Error(code, reason, details)`: 400, `"<reason> [<code>]"`.
    pub(crate) fn meteor_error(code: &str, reason: &str, details: Option<Value>) -> Response {
        let message = if reason.is_empty() {
            format!("[{code}]")
        } else {
            format!("{reason} [{code}]")
        };
        let mut m = Map::new();
        m.insert("success".into(), json!(false));
        m.insert("error".into(), json!(message));
        m.insert("errorType".into(), json!(code));
        if let Some(d) = details {
            m.insert("details".into(), d);
        }
        Response::json(400, &Value::Object(m))
    }

    /// `API.v1.failure('text')` or a thrown plain `Error`: 400 without errorType.
    pub(crate) fn failure(text: &str) -> Response {
        Response::json(400, &json!({"success": false, "error": text}))
    }

    /// ajv failure.
    pub(crate) fn invalid_params(message: &str) -> Response {
        Self::meteor_error("invalid-params", message, None)
    }

    /// `permissionsRequired` not met.
    pub(crate) fn forbidden_permission() -> Response {
        Response::json(
            403,
            &json!({
                "success": false,
                "error": "User does not have the permissions required for this action [error-unauthorized]"
            }),
        )
    }

    fn not_logged_in() -> Response {
        Response::json(
            401,
            &json!({
                "success": false,
                "error": "You must be logged in to do this.",
                "status": "error",
                "message": "You must be logged in to do this."
            }),
        )
    }

    /// The message of Meteor's `error-too-many-requests`.
    pub(crate) fn too_many_message(outcome: &Outcome) -> String {
        format!(
            "Error, too many requests. Please slow down. You must wait {} seconds before trying this endpoint again. [error-too-many-requests]",
            outcome.wait_seconds()
        )
    }

    fn too_many(outcome: &Outcome) -> Response {
        Response::json(
            429,
            &json!({"success": false, "error": Self::too_many_message(outcome)}),
        )
    }

    // ----- pipeline --------------------------------------------------------------------

    /// X-User-Id + X-Auth-Token → the caller.
    fn authenticate(&self, req: &Request) -> Option<Caller> {
        let user_id = req.header("x-user-id")?;
        let token = req.header("x-auth-token")?;
        if user_id.is_empty() || token.is_empty() {
            return None;
        }
        let hashed = util::sha256_hex(token);
        let st = self.read();
        let user = st.by_token(&hashed)?;
        if user.id != user_id {
            return None;
        }
        Some(Caller {
            user: user.clone(),
            hashed_token: hashed,
        })
    }

    /// Runs the route's limiter; None when it did not run (disabled or exempt).
    fn limit(&self, route: Route, ip: &str) -> Option<Outcome> {
        if !self.settings.rate_limit {
            return None;
        }
        let mut all = lock(&self.limiters);
        let rule = all.entry(route).or_insert_with(|| {
            let (calls, window_ms) = match route {
                // users.setStatus's own `rateLimiterOptions: {numRequestsAllowed: 5,
                // intervalTimeInMS: 60000}` (apps/meteor/app/api/server/v1/users.ts).
                Route::UsersSetStatus => (5, 60_000),
                _ => (self.settings.calls, self.settings.window_ms),
            };
            FixedWindow::new(calls, window_ms, self.started_ms)
        });
        Some(rule.hit(ip, self.clock.now_ms()))
    }

    /// A `RateLimiter.limitFunction(fn, 1, 60000)` wrapper, keyed by the target user id.
    pub(crate) fn limit_function(&self, name: &'static str, user_id: &str) -> Outcome {
        let mut all = lock(&self.fn_limiters);
        let rule = all
            .entry(name)
            .or_insert_with(|| FixedWindow::new(1, 60_000, self.started_ms));
        rule.hit(user_id, self.clock.now_ms())
    }

    fn params(req: &Request) -> Result<Value, Response> {
        let mut m = Map::new();
        for (k, v) in req.query_pairs() {
            m.entry(k).or_insert(Value::String(v));
        }
        let body = trim_ascii(&req.body);
        if !body.is_empty() {
            let ct = req
                .header("content-type")
                .unwrap_or("")
                .to_ascii_lowercase();
            if ct.starts_with("multipart/") {
                // Not parsed into bodyParams (`Router.parseBodyParams`); the avatar
                // upload reads it itself.
            } else if ct.contains("application/x-www-form-urlencoded") {
                let text = String::from_utf8_lossy(body);
                for (k, v) in super::http::parse_urlencoded(&text) {
                    m.insert(k, Value::String(v));
                }
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(b)) => m.extend(b),
                    Ok(_) => {}
                    Err(_) => {
                        return Err(Self::failure("Invalid JSON body"));
                    }
                }
            }
        }
        Ok(Value::Object(m))
    }

    /// REST 2FA (`processTwoFactor`) for the caller's token. Err = the 400 to send.
    pub(crate) fn check_two_factor(&self, ctx: &Ctx) -> Result<(), Response> {
        self.check_two_factor_with(ctx, true)
    }

    /// [`Self::check_two_factor`]; `remember: false` is `disableRememberMe` (users.resetTOTP):
    /// the code is needed on every call.
    pub(crate) fn check_two_factor_with(&self, ctx: &Ctx, remember: bool) -> Result<(), Response> {
        if !self.settings.two_factor {
            return Ok(());
        }
        let now = util::now_ms();
        let user = &ctx.caller.user;
        let ua = ctx.req.header("user-agent").unwrap_or("");
        let fingerprint = util::sha256_hex(&format!("{ua}\n{}", ctx.client_ip));
        // isAuthorizedForToken: registered recently, or remembered for this token+UA+IP.
        if remember && user.created_at + TFA_REMEMBER_MS >= now {
            return Ok(());
        }
        let token = user
            .tokens
            .iter()
            .find(|t| t.hashed == ctx.caller.hashed_token);
        if let Some(t) = token
            && remember
            && t.tfa_until.is_some_and(|until| until >= now)
            && t.tfa_hash.as_deref() == Some(fingerprint.as_str())
        {
            return Ok(());
        }
        // The headers count only when both are present.
        let (code, method) = match (ctx.req.header("x-2fa-code"), ctx.req.header("x-2fa-method")) {
            (Some(c), Some(m)) => (Some(c.to_string()), m.to_string()),
            _ => (None, String::new()),
        };
        // Only totp and email are looked up by name; anything else falls back to the
        // password check (these users have no TOTP or e-mail 2FA).
        let method_name = match method.as_str() {
            "totp" | "email" => method.clone(),
            _ => {
                if user.bcrypt.is_none() {
                    // No method applies (e.g. an account without a local password).
                    return Ok(());
                }
                "password".to_string()
            }
        };
        let details =
            json!({"method": method_name, "codeGenerated": false, "availableMethods": []});
        let Some(code) = code else {
            return Err(Self::meteor_error(
                "totp-required",
                "TOTP Required",
                Some(details),
            ));
        };
        let valid = method_name == "password"
            && user
                .bcrypt
                .as_deref()
                .is_some_and(|h| util::meteor_digest_matches(code.trim(), h));
        if !valid {
            return Err(Self::meteor_error(
                "totp-invalid",
                "TOTP Invalid",
                Some(details),
            ));
        }
        if !remember {
            return Ok(());
        }
        let hashed = ctx.caller.hashed_token.clone();
        self.write().update(&user.id, |u| {
            if let Some(t) = u.tokens.iter_mut().find(|t| t.hashed == hashed) {
                t.tfa_until = Some(now + TFA_REMEMBER_MS);
                t.tfa_hash = Some(fingerprint);
            }
        });
        Ok(())
    }

    /// GET /api/v1/settings.public (no authentication): the public settings, of which
    /// the emulator holds one, `Accounts_CustomFields` (`public: true` in
    /// `apps/meteor/server/settings/accounts.ts`; its value is the JSON text, `''` when
    /// empty). `_id` (comma-separated ids, 6.x+) filters; the limiter is not emulated here.
    fn public_settings(&self, req: &Request) -> Response {
        let value = match &self.settings.custom_fields {
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let all = vec![json!({"_id": "Accounts_CustomFields", "value": value})];
        let settings: Vec<Value> = match req.query_param("_id") {
            Some(ids) => {
                let ids: Vec<&str> = ids.split(',').map(str::trim).collect();
                all.into_iter()
                    .filter(|s| ids.contains(&s["_id"].as_str().unwrap_or("")))
                    .collect()
            }
            None => all,
        };
        let n = settings.len();
        Self::success(json!({"settings": settings, "count": n, "offset": 0, "total": n}))
    }

    fn route_request(&self, req: &Request) -> Response {
        let path = req.path.trim_end_matches('/');
        if path == "/api/info" {
            if req.method == "GET" {
                // Unversioned: never rate limited.
                return Self::success(json!({"version": self.settings.version}));
            }
            return not_found();
        }
        if path == "/api/v1/settings.public" && req.method == "GET" {
            return self.public_settings(req);
        }
        if path.starts_with("/avatar/") && req.method == "GET" {
            // The avatar route is outside the REST API: no limiter.
            let decoded = req.decoded_path();
            let name = decoded.trim_end_matches('/').trim_start_matches("/avatar/");
            return avatar::serve(self, name);
        }
        let Some(name) = path.strip_prefix("/api/v1/") else {
            return not_found();
        };
        let Some(route) = route_of(&req.method, name) else {
            return not_found();
        };
        let client_ip = req.client_ip("x-real-ip");

        if route == Route::UsersForgotPassword {
            // Not `authRequired`: no user, so the limiter runs for every caller.
            let outcome = self.limit(route, &client_ip);
            let resp = match outcome {
                Some(o) if !o.allowed => Self::too_many(&o),
                _ => match Self::params(req) {
                    Ok(p) => secrets::forgot_password(self, &p),
                    Err(r) => r,
                },
            };
            return with_limit_headers(resp, outcome);
        }
        if route == Route::Login {
            // No user yet: the limiter always runs, then the handler.
            let outcome = self.limit(route, &client_ip);
            let resp = match outcome {
                Some(o) if !o.allowed => Self::too_many(&o),
                _ => match Self::params(req) {
                    Ok(p) => users::login(self, req, p),
                    Err(r) => r,
                },
            };
            return with_limit_headers(resp, outcome);
        }

        let Some(caller) = self.authenticate(req) else {
            return Self::not_logged_in();
        };
        let exempt = self.settings.admin_bypass && caller.can("api-bypass-rate-limit");
        let outcome = if exempt {
            None
        } else {
            self.limit(route, &client_ip)
        };
        if let Some(o) = outcome
            && !o.allowed
        {
            return with_limit_headers(Self::too_many(&o), outcome);
        }
        let resp = match Self::params(req) {
            Err(r) => r,
            Ok(params) => {
                let ctx = Ctx {
                    req,
                    caller,
                    params,
                    client_ip,
                };
                match route {
                    Route::Login => unreachable_login(),
                    Route::Logout | Route::LogoutGet => users::logout(self, &ctx),
                    Route::Me => users::me(self, &ctx),
                    Route::UsersCreate => users::create(self, &ctx),
                    Route::UsersUpdate => users::update(self, &ctx),
                    Route::UsersInfo => users::info(self, &ctx),
                    Route::UsersGetStatus => users::get_status(self, &ctx),
                    Route::UsersList => users::list(self, &ctx),
                    Route::UsersSetActiveStatus => users::set_active_status(self, &ctx),
                    Route::UsersDelete => users::delete(self, &ctx),
                    Route::UsersLogout => users::logout_user(self, &ctx),
                    Route::RolesList => roles::list(self, &ctx),
                    Route::ImportNew => import::new_operation(self, &ctx),
                    Route::ImportAddUsers => import::add_users(self, &ctx),
                    Route::ImportRun => import::run(self, &ctx),
                    Route::ImportStatus => import::status(self, &ctx),
                    Route::ChannelsCreate => rooms::channels_create(self, &ctx),
                    Route::GroupsCreate => rooms::groups_create(self, &ctx),
                    Route::ChannelsInfo => rooms::channels_info(self, &ctx),
                    Route::GroupsInfo => rooms::groups_info(self, &ctx),
                    Route::RoomsInfo => rooms::rooms_info(self, &ctx),
                    Route::ChannelsInvite => rooms::channels_invite(self, &ctx),
                    Route::GroupsInvite => rooms::groups_invite(self, &ctx),
                    Route::ChannelsKick => rooms::channels_kick(self, &ctx),
                    Route::GroupsKick => rooms::groups_kick(self, &ctx),
                    Route::ChannelsMembers => rooms::channels_members(self, &ctx),
                    Route::GroupsMembers => rooms::groups_members(self, &ctx),
                    Route::TeamsCreate => rooms::teams_create(self, &ctx),
                    Route::TeamsInfo => rooms::teams_info(self, &ctx),
                    Route::TeamsAddMembers => rooms::teams_add_members(self, &ctx),
                    Route::TeamsRemoveMember => rooms::teams_remove_member(self, &ctx),
                    Route::TeamsMembers => rooms::teams_members(self, &ctx),
                    Route::TeamsListAll => rooms::teams_list_all(self, &ctx),
                    Route::RoomsAdminRooms => rooms::rooms_admin_rooms(self, &ctx),
                    Route::UsersSetAvatar => avatar::set_avatar(self, &ctx),
                    Route::UsersResetAvatar => avatar::reset_avatar(self, &ctx),
                    Route::UsersSetStatus => status::set_status(self, &ctx),
                    Route::UsersResetTotp => account::reset_totp(self, &ctx),
                    Route::UsersSetPreferences => account::set_preferences(self, &ctx),
                    Route::UsersGetAvatar => avatar::get_avatar(self, &ctx),
                    // Answered before authentication (above).
                    Route::UsersForgotPassword => not_found(),
                    Route::UsersCreateToken => secrets::create_token(self, &ctx),
                    Route::PermissionsListAll => secrets::list_all_permissions(self, &ctx),
                }
            }
        };
        with_limit_headers(resp, outcome)
    }

    /// 500 `Internal server error`.
    pub(crate) fn internal(&self) -> Response {
        self.internal_error()
    }

    /// Inserts a prepared user after a last uniqueness check under the write lock.
    pub(crate) fn insert_unique(&self, user: RcUser) -> Result<(), Response> {
        let mut st = self.write();
        if st.by_username(&user.username).is_some() {
            return Err(Self::meteor_error(
                "error-field-unavailable",
                &format!("{} is already in use :(", util::html_escape(&user.username)),
                Some(json!({"method": "insertOrUpdateUser", "field": user.username})),
            ));
        }
        if let Some(e) = user.emails.first()
            && st.by_email(&e.address).is_some()
        {
            return Err(Self::meteor_error(
                "error-field-unavailable",
                &format!("{} is already in use :(", util::html_escape(&e.address)),
                Some(json!({"method": "insertOrUpdateUser", "field": e.address})),
            ));
        }
        st.insert(user);
        Ok(())
    }

    /// Records a mail as sent.
    pub(crate) fn send_mail(&self, to: &str, kind: &str) {
        lock(&self.mails).push(Mail {
            to: to.to_string(),
            kind: kind.to_string(),
        });
    }

    /// Adds a login token to a user; returns the plaintext token.
    pub(crate) fn issue_token(&self, user_id: &str) -> Option<String> {
        let token = util::random_token(43);
        let hashed = util::sha256_hex(&token);
        let now = util::now_ms();
        self.write().update(user_id, |u| {
            u.tokens.push(LoginToken {
                hashed,
                when: now,
                tfa_until: None,
                tfa_hash: None,
            });
            u.last_login = Some(now);
        })?;
        Some(token)
    }
}

fn unreachable_login() -> Response {
    // Login is answered before authentication; keep a defined answer anyway.
    not_found()
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map(|i| i + 1)
        .unwrap_or(start);
    &b[start..end.max(start)]
}

fn not_found() -> Response {
    Response::json(
        404,
        &json!({"success": false, "error": "Resource not found"}),
    )
}

fn with_limit_headers(mut resp: Response, outcome: Option<Outcome>) -> Response {
    if let Some(o) = outcome {
        resp.set_header("X-RateLimit-Limit", o.limit.to_string());
        resp.set_header("X-RateLimit-Remaining", o.remaining.to_string());
        resp.set_header("X-RateLimit-Reset", o.reset_at_ms.to_string());
    }
    resp
}

impl Flavor for RocketChat {
    fn name(&self) -> &'static str {
        "rocketchat"
    }

    fn route_key(&self, req: &Request) -> String {
        let path = req.path.trim_end_matches('/');
        if path == "/api/info" {
            return format!("{} /api/info", req.method);
        }
        if path.starts_with("/avatar/") {
            return format!("{} /avatar/{{username}}", req.method);
        }
        match path.strip_prefix("/api/v1/") {
            Some(name) if route_of(&req.method, name).is_some() => {
                format!("{} /api/v1/{name}", req.method)
            }
            _ => format!("{} (unknown route)", req.method),
        }
    }

    fn is_login(&self, req: &Request) -> bool {
        req.method == "POST" && req.path.trim_end_matches('/') == "/api/v1/login"
    }

    fn handle(&self, req: &Request) -> Response {
        let mut resp = self.route_request(req);
        // The router's headers on every response.
        if resp.get_header("content-type").is_none() {
            resp.set_header("Content-Type", "application/json");
        }
        resp.set_header("Cache-Control", "no-store");
        resp.set_header("Pragma", "no-cache");
        resp
    }

    fn internal_error(&self) -> Response {
        Response::json(
            500,
            &json!({"success": false, "error": "Internal server error"}),
        )
        .header("Cache-Control", "no-store")
        .header("Pragma", "no-cache")
    }

    fn users(&self) -> Vec<Value> {
        self.read().sorted_users().map(RcUser::state_view).collect()
    }

    fn seed(&self, users: &[SeedUser]) -> Result<Vec<String>, String> {
        // One bcrypt per distinct password: seeding thousands of users stays fast.
        let mut hashes: HashMap<String, String> = HashMap::new();
        for s in users {
            if let Some(p) = &s.password
                && !hashes.contains_key(p)
            {
                let h = util::meteor_password_hash(p, self.settings.bcrypt_cost)?;
                hashes.insert(p.clone(), h);
            }
        }
        let now = util::now_ms();
        let mut st = self.write();
        let mut ids = Vec::with_capacity(users.len());
        for s in users {
            if st.by_username(&s.username).is_some() {
                return Err(format!("username {} is already in use", s.username));
            }
            if !s.email.is_empty() && st.by_email(&s.email).is_some() {
                return Err(format!("email {} is already in use", s.email));
            }
            let mut u = RcUser::new(self.ids.meteor_id(), s.username.clone(), now);
            u.name = Some(s.name.clone());
            if !s.email.is_empty() {
                u.emails = vec![Email {
                    address: s.email.clone(),
                    verified: false,
                }];
            }
            if !s.roles.is_empty() {
                u.roles = s.roles.clone();
            }
            u.active = s.active;
            u.bcrypt = s.password.as_ref().and_then(|p| hashes.get(p).cloned());
            ids.push(u.id.clone());
            st.insert(u);
        }
        Ok(ids)
    }

    fn save_state(&self) -> Value {
        let st = self.read();
        let users: Vec<&RcUser> = st.sorted_users().collect();
        let mut avatars: Vec<(&String, &Vec<u8>)> = st.avatars.iter().collect();
        avatars.sort();
        let avatars: Map<String, Value> = avatars
            .into_iter()
            .map(|(id, b)| (id.clone(), json!(util::base64(b))))
            .collect();
        json!({ "users": users, "rooms": rooms::save(&st), "avatars": avatars })
    }

    fn load_state(&self, state: Value) -> Result<(), String> {
        let users: Vec<RcUser> = match state.get("users") {
            Some(u) => serde_json::from_value(u.clone()).map_err(|e| format!("users: {e}"))?,
            None => return Err("no users recorded".into()),
        };
        {
            let mut st = self.write();
            st.clear();
            for u in users {
                if st.by_username(&u.username).is_some() || st.get(&u.id).is_some() {
                    return Err(format!("duplicate user {}", u.username));
                }
                st.insert(u);
            }
            if let Some(r) = state.get("rooms") {
                rooms::load(&mut st, r)?;
            }
            if let Some(Value::Object(avatars)) = state.get("avatars") {
                for (id, b) in avatars {
                    let bytes = b
                        .as_str()
                        .and_then(util::unbase64)
                        .ok_or_else(|| format!("avatars: bad base64 for {id}"))?;
                    st.avatars.insert(id.clone(), bytes);
                }
            }
        }
        self.ensure_general();
        self.ensure_builtin_accounts()
    }

    fn seed_team(&self, name: &str, private: bool) -> Result<String, String> {
        if self.read().team_by_name(name).is_some() {
            return Err(format!("team {name} exists"));
        }
        rooms::create_team(self, name, u8::from(private), None, &[]).map(|t| t.id)
    }

    fn seed_channel(
        &self,
        team: Option<&str>,
        name: &str,
        private: bool,
    ) -> Result<String, String> {
        rooms::seed_channel(self, team, name, private)
    }

    fn memberships(&self, username: &str) -> crate::Memberships {
        rooms::memberships(self, username)
    }

    fn avatar(&self, username: &str) -> Option<Vec<u8>> {
        let st = self.read();
        let u = st.by_username(username)?;
        st.avatars.get(&u.id).cloned()
    }

    fn add_member(&self, group: &str, username: &str) -> Result<(), String> {
        rooms::add_member(self, group, username)
    }

    fn status(&self, username: &str) -> Option<(String, String)> {
        let st = self.read();
        let u = st.by_username(username)?;
        Some((u.status.clone(), u.status_text.clone().unwrap_or_default()))
    }

    fn mails(&self) -> Vec<Mail> {
        lock(&self.mails).clone()
    }

    /// `mfa_active` is the user's TOTP (`services.totp.enabled`).
    fn set_account_facts(&self, username: &str, facts: &crate::AccountFacts) -> Result<(), String> {
        let mut st = self.write();
        let id = st
            .by_username(username)
            .map(|u| u.id.clone())
            .ok_or_else(|| format!("no user {username}"))?;
        st.update(&id, |u| {
            if let Some(t) = facts.created_at {
                u.created_at = t;
            }
            if let Some(t) = facts.last_login {
                u.last_login = t;
            }
            if let Some(a) = &facts.auth_service {
                u.ldap = a == "ldap";
            }
            if let Some(m) = facts.mfa_active {
                u.totp = m;
            }
            if let Some(b) = facts.bot {
                u.user_type = if b { "bot".into() } else { "user".into() };
            }
        });
        Ok(())
    }

    fn mfa(&self, username: &str) -> Option<bool> {
        self.read().by_username(username).map(|u| u.totp)
    }

    fn preferences(&self, username: &str) -> std::collections::BTreeMap<String, Value> {
        self.read()
            .by_username(username)
            .map(|u| u.preferences.clone().into_iter().collect())
            .unwrap_or_default()
    }
}
