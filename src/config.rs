//! The TOML job file (`--config job.toml`). Every table is optional and every key has a
//! default; flags given on the command line win over the file. Unknown keys are errors,
//! so a typo does not silently fall back to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::{Flavor, MatchKey};
use crate::exec::Mode;
use crate::source::{Encoding, Format};
use crate::validate::Profile;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read job file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("job file {path}: {message}")]
    Parse { path: String, message: String },
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobConfig {
    pub source: SourceConfig,
    /// `field = "template"`; custom fields under `[mapping.custom_fields]`.
    pub mapping: BTreeMap<String, toml::Value>,
    pub validate: ValidateConfig,
    pub server: ServerConfig,
    pub import: ImportConfig,
    pub sync: SyncConfig,
    pub safety: SafetyConfig,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceConfig {
    /// A path or an LDAP URL, used when the command line gives none.
    pub path: Option<String>,
    pub format: Option<Format>,
    pub delimiter: Option<String>,
    pub no_headers: Option<bool>,
    pub columns: Option<Vec<String>>,
    pub encoding: Option<Encoding>,
    pub multi_sep: Option<char>,
    /// LDIF `file://` values may be read from this folder only (`--allow-file-urls`).
    pub allow_file_urls: Option<PathBuf>,
    /// Largest record read, in bytes (`--max-record-size`).
    pub max_record_size: Option<u64>,
    // LDAP
    pub base: Option<String>,
    pub scope: Option<String>,
    pub filter: Option<String>,
    pub attrs: Option<Vec<String>>,
    pub page_size: Option<u32>,
    pub no_paging: Option<bool>,
    pub starttls: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub bind_dn: Option<String>,
    /// Largest LDAP message accepted from the server, in bytes.
    pub ldap_max_message: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidateConfig {
    pub profile: Option<Profile>,
    pub allow_unusual_emails: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub url: Option<String>,
    pub flavor: Option<Flavor>,
    pub ca_file: Option<PathBuf>,
    /// Credentials over plain http:// to a host that is not loopback (`--allow-http`).
    pub allow_http: Option<bool>,
    /// A JSON line per HTTP request, appended to this file (`--log`; `-`: stderr).
    pub log: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    pub mode: Option<Mode>,
    #[serde(rename = "match")]
    pub match_key: Option<MatchKey>,
    /// The most requests in flight (`--workers`).
    pub workers: Option<usize>,
    /// `--fixed-workers`.
    pub fixed_workers: Option<bool>,
    pub rate: Option<String>,
    pub max_attempts: Option<u32>,
    pub random_password: Option<bool>,
    pub join_default_channels: Option<bool>,
    pub send_welcome_email: Option<bool>,
    pub auth_service: Option<String>,
    /// The sync ledger an import reads anchors from and adds its users to.
    pub state: Option<PathBuf>,
    /// `--create-missing-channels`.
    pub create_missing_channels: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    pub deactivate_missing: Option<bool>,
    pub max_deactivate: Option<String>,
    pub protect: Option<Vec<String>>,
    /// Server users the sync manages besides its ledger (`--manage`).
    pub manage: Option<Vec<String>>,
    /// Deprecated: the one management scope, now `manage`.
    pub scope: Option<String>,
    pub state: Option<PathBuf>,
    pub reactivate: Option<bool>,
    /// `--fail-on`: `any` (default) or `new`.
    pub fail_on: Option<crate::report::summary::FailOn>,
    /// Teams and channels (`team/channel` on Mattermost) whose memberships the sync
    /// manages whoever added them (`--manage-team`, `--manage-channel`).
    pub manage_teams: Option<Vec<String>>,
    pub manage_channels: Option<Vec<String>>,
    /// `--remove-memberships-on-deactivate`.
    pub remove_memberships_on_deactivate: Option<bool>,
}

/// Explicit opt-ins to write accounts roster otherwise never touches.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyConfig {
    /// Usernames or emails that import, sync and apply may update or deactivate although
    /// they are admins, bots, the account roster runs as, or protected.
    pub write_privileged: Option<Vec<String>>,
    /// Allow removing the admin role (Rocket.Chat `admin`, Mattermost `system_admin`).
    pub demote_admins: Option<bool>,
}

impl JobConfig {
    pub fn load(path: &Path) -> Result<JobConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            source: e,
        })?;
        JobConfig::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<JobConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Loads the file when a path is given, else the defaults.
    pub fn load_opt(path: Option<&Path>) -> Result<JobConfig, ConfigError> {
        match path {
            Some(p) => JobConfig::load(p),
            None => Ok(JobConfig::default()),
        }
    }
}
