//! `roster sandbox --flavor rocketchat|mattermost [--port N] [--state FILE] [--log FILE]
//!  [--admin-password P] [--importer-password P] [--seed N] [--rate-limit-calls N]
//!  [--rate-limit-window-ms MS] [--rate-limit | --no-rate-limit] [--no-admin-bypass] [--no-2fa]
//!  [--fault-rate F] [--drop-rate F] [--fault-phase random|before|after] [--latency MS]
//!  [--jitter MS] [--capacity N] [--bcrypt-cost N] [--custom-fields JSON] [--mm-per-sec N] [--mm-burst N]
//!  [--mm-memory-store-size N] [--mm-vary-by-user] [--mm-no-vary-by-remote-addr]
//!  [--mm-vary-by-header NAME] [--mm-enable-api-user-deletion] [--mm-open-server]
//!  [--mm-max-users-per-team N] [--mm-enable-user-access-tokens] [--team NAME]...
//!  [--channel [TEAM/]NAME]...`
//!
//! Runs a local emulator of the server's user-management REST API on 127.0.0.1 and prints
//! its URL on one line on stdout once it accepts connections. Ctrl-C (or SIGTERM) stops it,
//! saving the state to `--state` first; the exit code is then 0.
//!
//! Seeded accounts: `admin` (admin role: not rate limited by default) and `importer`
//! (provisioning rights, rate limited). On Mattermost both are system admins and the
//! limiter (off by default, `--rate-limit`) applies to both. The password comes from `--admin-password`, else
//! ROSTER_SANDBOX_ADMIN_PASSWORD(_FILE), else is generated and printed on stderr; the
//! importer's is the same unless `--importer-password` / ROSTER_SANDBOX_IMPORTER_PASSWORD.
//! Rocket.Chat's users.createToken works when CREATE_TOKENS_FOR_USERS_SECRET is set, as on
//! the server.

use std::path::PathBuf;

use anyhow::{Context, bail};

use roster::secret::{self, Secret};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, defaults};

const AFTER_HELP: &str = "\
Seeded accounts:
  admin     admin role: holds api-bypass-rate-limit (not rate limited unless
            --no-admin-bypass), edit-other-user-info, delete-user, ...
  importer  provisioning role: create-user, edit-other-user-info,
            edit-other-user-active-status, edit-other-user-password, assign-roles,
            run-import, add-user-to-any-c/p-room, kick-user-from-any-c/p-room,
            remove-user, add-team-member, edit-team-member, view-all-teams,
            edit-other-user-avatar,
            but NOT api-bypass-rate-limit: the limiter applies to it.
Mattermost: admin and importer are both system admins (roles 'system_user
system_admin'): only manage_system reaches the admin path of POST /api/v4/users. The
rate limiter is off as on a real server; --rate-limit turns it on for everyone (GCRA,
--mm-per-sec and --mm-burst; X-Ratelimit-Limit is burst + 1).
Passwords: --admin-password or ROSTER_SANDBOX_ADMIN_PASSWORD(_FILE), else generated and
printed on stderr; the importer uses the same unless --importer-password or
ROSTER_SANDBOX_IMPORTER_PASSWORD(_FILE). They are reset at every start, also over --state.

GET /__sandbox/state returns the users and per-route counters (requests, 429s, injected
faults, drops) as JSON. Ctrl-C or SIGTERM stops the server (exit code 0).

Rocket.Chat's users.createToken makes tokens for other users only when the environment
variable CREATE_TOKENS_FOR_USERS_SECRET is set, as on the server (the callers give the same
value); Mattermost's personal access tokens need --mm-enable-user-access-tokens.";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Which server to emulate.
    #[arg(long, value_enum, default_value = "rocketchat")]
    pub flavor: FlavorKind,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Load users from this file at start (if it exists) and save them there on exit.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Append one JSON line per request (no passwords, tokens or bodies).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Password of the seeded `admin` (a local test server's; also
    /// ROSTER_SANDBOX_ADMIN_PASSWORD). Default: generated and printed on stderr.
    #[arg(long, value_name = "P")]
    pub admin_password: Option<String>,
    /// Password of the seeded `importer` (also ROSTER_SANDBOX_IMPORTER_PASSWORD). Default: the admin's.
    #[arg(long, value_name = "P")]
    pub importer_password: Option<String>,
    /// Seed for faults, jitter and ids: the same seed gives the same sequence.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Rocket.Chat: calls allowed per window, per route and client IP.
    #[arg(long, default_value_t = defaults::RC_LIMIT_CALLS, help_heading = "Rate limiting")]
    pub rate_limit_calls: u32,
    /// Rocket.Chat: window length in milliseconds.
    #[arg(long, default_value_t = defaults::RC_LIMIT_WINDOW_MS, help_heading = "Rate limiting")]
    pub rate_limit_window_ms: u64,
    /// Turn the REST rate limiter off (default: as the real server, on for Rocket.Chat).
    #[arg(long, help_heading = "Rate limiting", conflicts_with = "rate_limit")]
    pub no_rate_limit: bool,
    /// Turn the REST rate limiter on (for flavors where the real server has it off).
    #[arg(long, help_heading = "Rate limiting")]
    pub rate_limit: bool,
    /// Limit the admin too (normally `api-bypass-rate-limit` exempts it).
    #[arg(long, help_heading = "Rate limiting")]
    pub no_admin_bypass: bool,
    /// Mattermost `RateLimitSettings.PerSec`: sustained requests per second.
    #[arg(long, default_value_t = defaults::MM_PER_SEC, value_name = "N", help_heading = "Rate limiting",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000_000))]
    pub mm_per_sec: u32,
    /// Mattermost `RateLimitSettings.MaxBurst`: extra burst allowance.
    #[arg(long, default_value_t = defaults::MM_MAX_BURST, value_name = "N", help_heading = "Rate limiting",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub mm_burst: u32,
    /// Mattermost `RateLimitSettings.MemoryStoreSize`: keys the limiter remembers.
    #[arg(long, default_value_t = defaults::MM_MEMORY_STORE_SIZE as u64, value_name = "N", help_heading = "Rate limiting",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mm_memory_store_size: u64,
    /// Mattermost `VaryByUser`: key by token, plus a second check per user id.
    #[arg(long, help_heading = "Rate limiting")]
    pub mm_vary_by_user: bool,
    /// Mattermost: turn `VaryByRemoteAddr` off (with nothing else, one global bucket).
    #[arg(long, help_heading = "Rate limiting")]
    pub mm_no_vary_by_remote_addr: bool,
    /// Mattermost `VaryByHeader`: append this header's lowercased value to the key.
    #[arg(long, value_name = "NAME", help_heading = "Rate limiting")]
    pub mm_vary_by_header: Option<String>,

    /// Mattermost `EnableAPIUserDeletion`: allow DELETE /users/{id}?permanent=true.
    #[arg(long)]
    pub mm_enable_api_user_deletion: bool,
    /// Mattermost `EnableOpenServer`: anonymous POST /users creates accounts.
    #[arg(long)]
    pub mm_open_server: bool,
    /// Mattermost `TeamSettings.MaxUsersPerTeam`: active members a team may have.
    #[arg(long, default_value_t = defaults::MM_MAX_USERS_PER_TEAM, value_name = "N")]
    pub mm_max_users_per_team: u32,
    /// Mattermost `EnableUserAccessTokens`: allow personal access tokens.
    #[arg(long)]
    pub mm_enable_user_access_tokens: bool,

    /// Create this public team at start (repeatable; kept if --state already has it).
    /// Mattermost also creates its town-square and off-topic; Rocket.Chat its main room.
    #[arg(long, value_name = "NAME", help_heading = "Teams and channels")]
    pub team: Vec<String>,
    /// Create this public channel at start, in TEAM (a --team) or, on Rocket.Chat, on its
    /// own (repeatable; kept if --state already has it). Mattermost needs the team.
    #[arg(long, value_name = "[TEAM/]NAME", help_heading = "Teams and channels")]
    pub channel: Vec<String>,

    /// Rocket.Chat: no 2FA on users.update.
    #[arg(long = "no-2fa")]
    pub no_2fa: bool,
    /// Rocket.Chat `Accounts_CustomFields` JSON, e.g. '{"dept":{"type":"text","required":true}}'.
    /// Default: empty (custom fields are accepted and dropped).
    #[arg(long, value_name = "JSON")]
    pub custom_fields: Option<String>,

    /// Fraction of writes (not login) answered 500/502/503, half before and half after
    /// the write is applied.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction, help_heading = "Faults")]
    pub fault_rate: f64,
    /// Fraction of requests (not login) whose connection is closed without a response.
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction, help_heading = "Faults")]
    pub drop_rate: f64,
    /// Whether faults happen before or after the write is applied.
    #[arg(long, value_enum, default_value = "random", help_heading = "Faults")]
    pub fault_phase: FaultPhase,
    /// Milliseconds added to every request.
    #[arg(long, default_value_t = 0, help_heading = "Faults")]
    pub latency: u64,
    /// Up to this many extra milliseconds, uniformly.
    #[arg(long, default_value_t = 0, help_heading = "Faults")]
    pub jitter: u64,
    /// Requests served at once at the normal latency; beyond, latency grows in proportion,
    /// and past four times as many in flight requests are answered 503 (default: unlimited).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Faults")]
    pub capacity: Option<u64>,
    /// bcrypt cost of stored passwords (10 like the real servers; 4 is the fastest bcrypt;
    /// 0 stores SHA-256 digests instead, to benchmark clients without the server's hashing).
    #[arg(long, default_value_t = defaults::BCRYPT_COST, value_parser = clap::value_parser!(u32).range(0..=31))]
    pub bcrypt_cost: u32,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("expected a number from 0 to 1, not {s:?}")),
    }
}

fn password(flag: Option<String>, var: &str) -> anyhow::Result<Option<Secret>> {
    match flag {
        Some(p) if !p.is_empty() => Ok(Some(Secret::new(p))),
        Some(_) => bail!("the password given on the command line is empty"),
        None => Ok(secret::from_env(var)?),
    }
}

/// The configuration these arguments describe.
pub fn config(args: Args) -> anyhow::Result<SandboxConfig> {
    let custom_fields = match &args.custom_fields {
        Some(text) => {
            let v: serde_json::Value =
                serde_json::from_str(text).context("--custom-fields is not valid JSON")?;
            if !v.is_object() {
                bail!("--custom-fields must be a JSON object of field definitions");
            }
            Some(v)
        }
        None => None,
    };
    Ok(SandboxConfig {
        flavor: args.flavor,
        port: args.port,
        state_file: args.state,
        log_file: args.log,
        admin_password: password(args.admin_password, "ROSTER_SANDBOX_ADMIN_PASSWORD")?,
        importer_password: password(args.importer_password, "ROSTER_SANDBOX_IMPORTER_PASSWORD")?,
        seed: args.seed,
        rate_limit: match (args.rate_limit, args.no_rate_limit) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        admin_bypass: !args.no_admin_bypass,
        rc_limit_calls: args.rate_limit_calls,
        rc_limit_window_ms: args.rate_limit_window_ms,
        two_factor: !args.no_2fa,
        rc_custom_fields: custom_fields,
        fault_rate: args.fault_rate,
        drop_rate: args.drop_rate,
        fault_phase: args.fault_phase,
        latency_ms: args.latency,
        jitter_ms: args.jitter,
        capacity: args.capacity.map(|c| c as usize),
        bcrypt_cost: args.bcrypt_cost,
        mm_per_sec: args.mm_per_sec,
        mm_max_burst: args.mm_burst,
        mm_memory_store_size: usize::try_from(args.mm_memory_store_size).unwrap_or(usize::MAX),
        mm_vary_by_user: args.mm_vary_by_user,
        mm_vary_by_remote_addr: !args.mm_no_vary_by_remote_addr,
        mm_vary_by_header: args.mm_vary_by_header,
        mm_enable_api_user_deletion: args.mm_enable_api_user_deletion,
        mm_open_server: args.mm_open_server,
        mm_max_users_per_team: args.mm_max_users_per_team,
        mm_enable_user_access_tokens: args.mm_enable_user_access_tokens,
        // The server's own variable, read as the server reads it.
        rc_create_tokens_secret: std::env::var("CREATE_TOKENS_FOR_USERS_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(Secret::new),
        ..SandboxConfig::default()
    })
}

/// `--channel [TEAM/]NAME`: (team, name).
fn split_channel(spec: &str) -> anyhow::Result<(Option<&str>, &str)> {
    let (team, name) = match spec.split_once('/') {
        Some((t, n)) => (Some(t), n),
        None => (None, spec),
    };
    if name.is_empty() || team.is_some_and(str::is_empty) {
        bail!("--channel {spec:?}: expected NAME or TEAM/NAME");
    }
    Ok((team, name))
}

/// Creates the `--team`s and `--channel`s that the state does not have yet.
fn seed_groups(sandbox: &Sandbox, teams: &[String], channels: &[String]) -> anyhow::Result<()> {
    // The sandbox refuses a name it has (from --state) with "... exists": nothing to do.
    let exists = |e: &str| e.ends_with(" exists");
    for t in teams {
        if let Err(e) = sandbox.seed_team(t, false)
            && !exists(&e)
        {
            bail!("--team {t}: {e}");
        }
    }
    for c in channels {
        let (team, name) = split_channel(c)?;
        if let Err(e) = sandbox.seed_channel(team, name, false)
            && !exists(&e)
        {
            bail!("--channel {c}: {e}");
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<i32> {
    let flavor = args.flavor;
    let (teams, channels) = (args.team.clone(), args.channel.clone());
    for c in &channels {
        split_channel(c)?;
    }
    let cfg = config(args)?;
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = tx.try_send(());
    })
    .context("cannot install the Ctrl-C handler")?;
    let sandbox = Sandbox::start(cfg)
        .with_context(|| format!("cannot start the {} sandbox", flavor.as_str()))?;
    seed_groups(&sandbox, &teams, &channels)?;
    // The URL alone on the first stdout line: scripts read it to find the port.
    println!("{}", sandbox.url());
    if sandbox.admin_password_generated() {
        eprintln!(
            "roster sandbox: generated admin password: {}",
            sandbox.admin_password().expose()
        );
    }
    eprintln!(
        "roster sandbox: {} emulator at {} (accounts: admin, importer); Ctrl-C to stop",
        flavor.as_str(),
        sandbox.url()
    );
    let _ = rx.recv();
    sandbox.stop().context("stopping the sandbox")?;
    eprintln!("roster sandbox: stopped");
    Ok(0)
}
