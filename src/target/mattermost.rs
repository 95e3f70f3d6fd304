//! Mattermost REST API client (issue 6): placeholder until the Mattermost target lands.

use reqwest::header::HeaderMap;

use super::auth::Credentials;
use super::http::Http;
use super::{CallError, CallStats, CreateOptions, Flavor, MatchKey, Page, Target};
use crate::exec::pacer::RateInfo;
use crate::model::{Field, User};

/// Usernames per POST /users/usernames call.
pub const LOOKUP_BATCH: usize = 100;

pub struct Mattermost {
    _http: Http,
}

impl Mattermost {
    pub fn connect(http: Http, _creds: &Credentials) -> Result<Mattermost, CallError> {
        let _ = Mattermost { _http: http };
        Err(CallError::Fatal("Mattermost is not supported yet".into()))
    }
}

impl Target for Mattermost {
    fn flavor(&self) -> Flavor {
        Flavor::Mattermost
    }
    fn whoami(&self, _: &mut CallStats) -> Result<User, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn lookup(&self, _: MatchKey, _: &str, _: &mut CallStats) -> Result<Option<User>, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn create(&self, _: &User, _: &CreateOptions, _: &mut CallStats) -> Result<User, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn update(
        &self,
        _: &User,
        _: &User,
        _: &[Field],
        _: &mut CallStats,
    ) -> Result<User, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn deactivate(&self, _: &User, _: &mut CallStats) -> Result<User, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn list(&self, _: u64, _: &mut CallStats) -> Result<Page, CallError> {
        Err(CallError::Fatal("unsupported".into()))
    }
    fn page_size(&self) -> u64 {
        200
    }
    fn fields(&self) -> &'static [Field] {
        &[]
    }
    fn is_protected(&self, _: &User) -> bool {
        true
    }
}

/// Mattermost's rate-limit headers: Reset and Retry-After are seconds from now.
pub fn parse_rate(_h: &HeaderMap, _status: u16, _body: &str) -> RateInfo {
    RateInfo::default()
}

pub fn detect(client: &reqwest::blocking::Client, base: &str) -> bool {
    let url = format!("{}/api/v4/system/ping", base.trim_end_matches('/'));
    matches!(client.get(url).send(), Ok(r) if r.status().is_success())
}
