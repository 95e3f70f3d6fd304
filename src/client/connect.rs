//! Reaching a server: build the HTTP client, detect the flavor, log in and check the
//! credentials, before any row is read, so a bad token fails at once with exit code 2.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use super::auth::{self, Credentials};
use super::concurrency::Concurrency;
use super::http::{self, Http, HttpOptions};
use super::pacer::{Limiter, Pacer, Rate};
use super::request_log::RequestLog;
use super::{Flavor, UserApi, mattermost, rocketchat};
use crate::exit::{self, ExitError};

/// Which server and how to reach it, flags already merged over the job file's `[server]`.
#[derive(Clone, Debug, Default)]
pub struct ServerSettings {
    /// `None`: neither `--server` nor `[server] url`; connecting says so.
    pub url: Option<String>,
    /// `None`: detected (GET /api/info, GET /api/v4/system/ping).
    pub flavor: Option<Flavor>,
    pub password_file: Option<PathBuf>,
    pub allow_http: bool,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    /// `--log`: a JSON line per HTTP attempt, appended (`-`: stderr).
    pub log: Option<PathBuf>,
}

/// How hard a run may use the connection.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Parallel workers: the connection pool's size, and the most requests in flight.
    pub workers: usize,
    /// Whether requests in flight adapt to the server under `workers` (AIMD), or stay at
    /// `workers` (`--fixed-workers`).
    pub adaptive: bool,
    pub rate: Option<Rate>,
    pub max_attempts: u32,
}

/// A client ready for work, with what the run needs of it.
pub struct Connected {
    pub target: Arc<dyn UserApi>,
    pub http: Arc<http::Counters>,
    pub pacer: Arc<Pacer>,
    pub concurrency: Arc<Concurrency>,
}

/// Connects with the credentials of the environment (`ROSTER_*`, `--password-file`).
pub fn connect(server: &ServerSettings, pacing: Pacing) -> Result<Connected> {
    let creds_for = |flavor| auth::from_env(flavor, server.password_file.as_deref());
    connect_with(server, pacing, &creds_for)
}

/// Connects with the credentials `creds_for` gives for the server's flavor.
pub fn connect_with(
    server: &ServerSettings,
    pacing: Pacing,
    creds_for: &dyn Fn(Flavor) -> Result<Credentials, auth::AuthError>,
) -> Result<Connected> {
    let url = server.url.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "no server: give --server URL (or [server] url in the job file, or ROSTER_SERVER)"
        )
    })?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ExitError::new(
            exit::USAGE,
            format!("server URL {url:?} must start with http:// or https://"),
        )
        .into());
    }
    if !server.allow_http
        && let Some(why) = http::clear_text_refusal(&url)
    {
        return Err(ExitError::new(exit::USAGE, why).into());
    }
    if server.insecure {
        eprintln!(
            "roster: WARNING: --insecure: TLS certificates are NOT verified; anyone on the path can read the credentials"
        );
    }
    let hopts = HttpOptions {
        ca_file: server.ca_file.clone(),
        insecure: server.insecure,
        max_attempts: pacing.max_attempts,
        pool: pacing.workers,
        ..HttpOptions::default()
    };
    // Opened before the first request, detection included: every request is in it.
    let log = match &server.log {
        Some(path) => Some(Arc::new(
            RequestLog::open(path).map_err(|e| ExitError::new(exit::USAGE, e.to_string()))?,
        )),
        None => None,
    };
    let client = http::client(&hopts)?;
    let flavor = match server.flavor {
        Some(f) => f,
        None => detect(&client, &url, log.as_deref())?,
    };
    let creds = creds_for(flavor).map_err(|e| ExitError::new(exit::USAGE, e.to_string()))?;
    let (limiter, parser): (Limiter, http::RateParser) = match flavor {
        Flavor::Rocketchat => (Limiter::FixedWindow, rocketchat::parse_rate),
        Flavor::Mattermost => (Limiter::Gcra, mattermost::parse_rate),
    };
    let pacer = Arc::new(Pacer::new(limiter, pacing.rate));
    // reqwest clients share their pool when cloned: the copy serves the mismatch check.
    let h = Http::new(
        &url,
        client.clone(),
        pacer.clone(),
        parser,
        hopts.max_attempts,
    )?
    .with_log(log.clone())
    .with_concurrency(Arc::new(Concurrency::new(pacing.workers, pacing.adaptive)));
    let counters = h.counters.clone();
    let concurrency = h.concurrency.clone();
    // A login that fails under a given --flavor: say so when the server is the other kind.
    let failed = |e: String| {
        let mismatch = server.flavor.and_then(|given| {
            detect(&client, &url, log.as_deref())
                .ok()
                .filter(|f| *f != given)
        });
        let msg = match mismatch {
            Some(is) => format!(
                "{url} looks like {} (--flavor {} was given): drop --flavor or use --flavor {}",
                is.display(),
                flavor.name(),
                is.name()
            ),
            None => format!("{url}: {}", with_tls_hint(&e)),
        };
        ExitError::new(exit::USAGE, msg)
    };
    let target: Arc<dyn UserApi> = match flavor {
        Flavor::Rocketchat => {
            Arc::new(rocketchat::RocketChat::connect(h, &creds).map_err(|e| failed(e.to_string()))?)
        }
        Flavor::Mattermost => {
            Arc::new(mattermost::Mattermost::connect(h, &creds).map_err(|e| failed(e.to_string()))?)
        }
    };
    Ok(Connected {
        target,
        http: counters,
        pacer,
        concurrency,
    })
}

/// rustls's words for a server that answered a TLS hello in plain HTTP, explained.
fn with_tls_hint(msg: &str) -> String {
    if msg.contains("InvalidContentType") || msg.contains("corrupt message") {
        format!(
            "{msg} (the server answered in plain HTTP, not TLS: use http://, with --allow-http unless it is on this machine, or the server's TLS port)"
        )
    } else {
        msg.to_string()
    }
}

fn detect(
    client: &reqwest::blocking::Client,
    url: &str,
    log: Option<&RequestLog>,
) -> Result<Flavor> {
    let redirected = |e: String| ExitError::new(exit::USAGE, format!("{url}: {e}"));
    if rocketchat::detect(client, url, log).map_err(redirected)? {
        return Ok(Flavor::Rocketchat);
    }
    if mattermost::detect(client, url, log).map_err(redirected)? {
        return Ok(Flavor::Mattermost);
    }
    // Neither answered: say "cannot connect" when nothing answers at all, rather than
    // "not a server" (asked only now, so a server that answers costs no extra request).
    if let Err(e) = http::probe(client, url, log)
        && (e.is_connect() || e.is_timeout())
    {
        let cause = format!(" ({})", http::root_cause(&e));
        return Err(ExitError::new(
            exit::USAGE,
            with_tls_hint(&format!(
                "cannot connect to {url}{cause}; check the URL and that the server is reachable"
            )),
        )
        .into());
    }
    Err(ExitError::new(
        exit::USAGE,
        format!("{url} answers neither like Rocket.Chat (GET /api/info) nor like Mattermost (GET /api/v4/system/ping); check the URL or give --flavor"),
    )
    .into())
}
