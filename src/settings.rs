//! Typed settings: what each operation runs with, after the command line, the job file
//! (`--config`) and the defaults were merged, once, by the binary's `cli::settings`.
//! Everything below reads these and never looks at a flag or the job file again. Defaults
//! are named constants, each defined once (the worker and attempt counts in `client`,
//! re-exported here) or the `Default` of the type they fill.

pub use crate::report::summary::FailOn;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::client::connect::Pacing;
use crate::source::SourceOptions;
use crate::validate::Profile;

// The vocabulary the binary resolves flags into.
pub use crate::client::connect::ServerSettings;
pub use crate::client::pacer::Rate;
pub use crate::client::{CreateOptions, Flavor, MatchKey};
pub use crate::config::JobConfig;
pub use crate::exec::Mode;
pub use crate::exec::actions::{
    AuthData, AuthService, DoAction, Preferences, Presence, RoleChange,
};
pub use crate::exec::engine::WriteGuard;
pub use crate::exec::journal::path_for as journal_path;
pub use crate::plan::planner::{Scope, Threshold};

pub use crate::client::{DEFAULT_MAX_ATTEMPTS, DEFAULT_WORKERS};

/// Workers and pacing, flags over the job file's `[import]` table.
#[derive(Clone, Copy, Debug)]
pub struct ExecSettings {
    /// The most requests in flight (the ceiling when adaptive).
    pub workers: usize,
    /// `--fixed-workers`: always `workers` in flight instead of adapting under it.
    pub fixed_workers: bool,
    pub rate: Option<Rate>,
    pub max_attempts: u32,
}

impl Default for ExecSettings {
    fn default() -> Self {
        ExecSettings {
            workers: DEFAULT_WORKERS,
            fixed_workers: false,
            rate: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl ExecSettings {
    pub fn pacing(&self) -> Pacing {
        Pacing {
            workers: self.workers,
            adaptive: !self.fixed_workers,
            rate: self.rate,
            max_attempts: self.max_attempts,
        }
    }
}

/// The per-row report, the rejects file and how the summary is shown.
#[derive(Clone, Debug, Default)]
pub struct ReportSettings {
    pub report: Option<PathBuf>,
    pub rejects: Option<PathBuf>,
    /// The summary as JSON on stdout.
    pub json: bool,
    /// No progress and no summary on stderr.
    pub quiet: bool,
}

/// The source and how its rows become checked users.
#[derive(Clone, Debug, Default)]
pub struct SourceSettings {
    /// A path, `-` or an LDAP URL.
    pub spec: String,
    pub opts: SourceOptions,
    /// The job file's `[mapping]` table.
    pub mapping: BTreeMap<String, toml::Value>,
    /// `--map FIELD=TEMPLATE`, over the table.
    pub maps: Vec<String>,
    /// `None`: the operation's default (the server's rules, or generic offline).
    pub profile: Option<Profile>,
    pub allow_unusual_emails: bool,
}

/// How rows are written: the options `import`, `sync` and `apply` share.
#[derive(Clone, Debug, Default)]
pub struct WriteSettings {
    pub match_key: MatchKey,
    pub mode: Mode,
    pub create: CreateOptions,
    pub guard: WriteGuard,
}

/// `roster import`.
#[derive(Clone, Debug, Default)]
pub struct ImportSettings {
    pub write: WriteSettings,
    pub exec: ExecSettings,
    pub dump: Option<PathBuf>,
    pub resume: bool,
    pub dry_run: bool,
    /// The sync ledger: anchors read before, imported users added after.
    pub state: Option<PathBuf>,
}

/// What changes what a sync decides (`plan` and `sync`).
#[derive(Clone, Debug, Default)]
pub struct SyncSettings {
    pub write: WriteSettings,
    pub deactivate_missing: bool,
    pub threshold: Threshold,
    pub force: bool,
    /// The ledger of managed users.
    pub state: Option<PathBuf>,
    pub reactivate: bool,
    /// Server users managed besides the ledger (`--manage`, `[sync] manage`).
    pub manage: Vec<Scope>,
    /// Deprecation warnings met while resolving (`--scope domain=…`, `[sync] scope`),
    /// shown with the run's other warnings.
    pub warnings: Vec<String>,
    /// Which rejected or failed rows make a sync exit 1 (`--fail-on`).
    pub fail_on: FailOn,
    /// Teams and channels whose memberships the sync manages whoever added them.
    pub manage_teams: Vec<String>,
    pub manage_channels: Vec<String>,
    /// A deactivated user also leaves the teams and channels roster manages for them.
    pub remove_memberships_on_deactivate: bool,
}

/// The `NAME_FILE` variables that may name a file holding a credential: the server's
/// (`ROSTER_TOKEN_FILE`, ...) and the LDAP bind password's.
pub fn credential_file_vars() -> impl Iterator<Item = String> {
    crate::client::auth::VARS
        .into_iter()
        .chain([
            crate::source::ldap::PASSWORD_VAR,
            crate::exec::secrets::CREATE_TOKENS_SECRET_VAR,
        ])
        .map(crate::secret::file_var)
}
