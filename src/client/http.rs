//! The HTTP layer every target shares: one blocking client (one connection pool), the
//! pacer, retries with backoff for what may be retried, and counters.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::HeaderMap;

use super::request_log::{RequestLog, Sent};
use super::{CallError, CallStats, REQUEST_TIMEOUT};
use crate::client::concurrency::{Concurrency, Signal};
use crate::client::pacer::{Pacer, RateInfo};

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub timeout: Duration,
    /// Attempts for requests that may be retried (5xx, timeouts, dropped connections).
    pub max_attempts: u32,
    /// Connections to keep open (one per worker).
    pub pool: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            ca_file: None,
            insecure: false,
            timeout: REQUEST_TIMEOUT,
            max_attempts: super::DEFAULT_MAX_ATTEMPTS,
            pool: super::DEFAULT_WORKERS,
        }
    }
}

/// An answer, read whole (user-management answers are small).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// An image answer's bytes (`Content-Type: image/*`; empty for any other): its text
    /// in `body` would be lossy.
    pub image: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Totals across the run.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
}

/// Parses one server's rate-limit headers (and body, for 429s) into [`RateInfo`].
pub type RateParser = fn(&HeaderMap, u16, &str) -> RateInfo;

pub struct Http {
    client: Client,
    base: String,
    pub pacer: Arc<Pacer>,
    parse_rate: RateParser,
    max_attempts: u32,
    pub counters: Arc<Counters>,
    /// `--log`: a line per attempt.
    log: Option<Arc<RequestLog>>,
    /// Requests in flight at once (adaptive under `--workers`, or fixed).
    pub concurrency: Arc<Concurrency>,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("cannot read CA file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("CA file {0} holds no PEM certificate")]
    CaEmpty(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("server URL {0:?} must start with http:// or https://")]
    Url(String),
}

/// Builds the one HTTP client of a run: roster's User-Agent (kept constant: Rocket.Chat
/// remembers a 2FA check per token, agent and IP), TLS verified unless `insecure`.
pub fn client(opts: &HttpOptions) -> Result<Client, HttpSetupError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder()
        .user_agent(crate::USER_AGENT)
        .timeout(opts.timeout)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(opts.pool.max(1))
        .tcp_nodelay(true)
        // Every request carries credentials (headers, login bodies): never let the
        // client replay them to wherever a 3xx points; `Http::send` reports it instead.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &opts.ca_file {
        let pem = std::fs::read(path).map_err(|e| HttpSetupError::CaFile {
            path: path.display().to_string(),
            source: e,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| HttpSetupError::CaEmpty(path.display().to_string()))?;
        if certs.is_empty() {
            return Err(HttpSetupError::CaEmpty(path.display().to_string()));
        }
        b = b.tls_certs_merge(certs);
    }
    if opts.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| HttpSetupError::Client(e.to_string()))
}

impl Http {
    pub fn new(
        base: &str,
        client: Client,
        pacer: Arc<Pacer>,
        parse_rate: RateParser,
        max_attempts: u32,
    ) -> Result<Http, HttpSetupError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(HttpSetupError::Url(base));
        }
        Ok(Http {
            client,
            base,
            pacer,
            parse_rate,
            max_attempts: max_attempts.max(1),
            counters: Arc::new(Counters::default()),
            log: None,
            // No limit of its own: the workers are the limit until a run sets one.
            concurrency: Arc::new(Concurrency::new(usize::MAX, false)),
        })
    }

    /// Keeps requests in flight within `c`.
    pub fn with_concurrency(mut self, c: Arc<Concurrency>) -> Http {
        self.concurrency = c;
        self
    }

    /// Logs every attempt to `log` (`--log`).
    pub fn with_log(mut self, log: Option<Arc<RequestLog>>) -> Http {
        self.log = log;
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request built by `build`, paced through `bucket`. A 429 waits as the
    /// server says and tries again without counting an attempt. 5xx, timeouts and
    /// dropped connections are retried with exponential backoff and jitter when `retry`
    /// is set (idempotent requests); otherwise they come back as
    /// [`CallError::Transient`] for the caller to resolve. Other answers are returned
    /// for the server's own code to interpret.
    pub fn send(
        &self,
        bucket: &str,
        what: &str,
        retry: bool,
        stats: &mut CallStats,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, CallError> {
        let mut attempt: u32 = 0;
        let mut limited: u32 = 0;
        // Every sending, 429s included, numbered for the request log. A request not
        // retried here is retried by its caller (a create, after a lookup): it numbers
        // on from the caller's earlier sendings.
        let mut sendings = if retry {
            0
        } else {
            std::mem::take(&mut stats.resend)
        };
        loop {
            // Ctrl-C during a wait: the request is not sent (rows in flight are those
            // whose request already went out).
            let Some(mut slot) = self.concurrency.acquire(what) else {
                return Err(CallError::Interrupted);
            };
            let Some(permit) = self.pacer.acquire(bucket) else {
                return Err(CallError::Interrupted);
            };
            slot.start();
            stats.requests += 1;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            sendings += 1;
            let request = build(&self.client).build();
            let sent = match (&self.log, &request) {
                (Some(_), Ok(r)) => Some(Sent::new(r, sendings)),
                _ => None,
            };
            let outcome = request
                .and_then(|r| self.client.execute(r))
                .and_then(|resp| {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let is_image = headers
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|t| t.trim_start().starts_with("image/"));
                    if is_image {
                        resp.bytes().map(|b| Reply {
                            status,
                            headers,
                            body: String::new(),
                            image: b.to_vec(),
                        })
                    } else {
                        resp.text().map(|body| Reply {
                            status,
                            headers,
                            body,
                            image: Vec::new(),
                        })
                    }
                });
            if let (Some(log), Some(sent)) = (&self.log, &sent) {
                match &outcome {
                    Ok(reply) => log.answered(sent, reply.status, &reply.headers),
                    Err(e) => log.failed(sent, &transport_error_kind(e)),
                }
            }
            let error = match outcome {
                Err(e) => {
                    self.pacer.abandon(permit);
                    slot.ended(Signal::Overloaded);
                    describe_transport_error(&e, what)
                }
                Ok(reply) => {
                    let info = (self.parse_rate)(&reply.headers, reply.status, &reply.body);
                    let rejected = reply.status == 429;
                    self.pacer.observe(permit, &info, rejected);
                    slot.ended(match reply.status {
                        // The pacer's business, not concurrency's.
                        429 => Signal::Neutral,
                        // A gateway's or an overloaded server's answers; a 500 or 501 is
                        // more often the application's answer to one row.
                        502..=504 => Signal::Overloaded,
                        500.. => Signal::Neutral,
                        _ => Signal::Answered,
                    });
                    if rejected {
                        stats.rate_limited += 1;
                        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                        limited += 1;
                        if limited > 1000 {
                            return Err(CallError::RateLimited(limited));
                        }
                        continue;
                    }
                    if (300..400).contains(&reply.status) {
                        return Err(CallError::Fatal(redirect_error(
                            &self.base,
                            what,
                            reply.header("location"),
                        )));
                    }
                    // 501 Not Implemented is a switched-off feature (Mattermost's
                    // EnableUserAccessTokens), not a passing failure: its caller reads it.
                    if reply.status >= 500 && reply.status != 501 {
                        format!(
                            "{what}: server error {}{}",
                            reply.status,
                            error_id(&reply.body)
                        )
                    } else {
                        return Ok(reply);
                    }
                }
            };
            // The slot is free during the backoff.
            drop(slot);
            attempt += 1;
            if !retry || attempt >= self.max_attempts {
                if !retry {
                    stats.resend = sendings;
                }
                return Err(CallError::Transient(error));
            }
            if !crate::interrupt::sleep(backoff(attempt)) {
                return Err(CallError::Interrupted);
            }
            stats.retries += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sleeps before another attempt of a request the caller retries itself (creates)
    /// and counts the retry; `Err(Interrupted)` when Ctrl-C came during the sleep (the
    /// request is then not sent again).
    pub fn backoff(&self, attempt: u32, stats: &mut CallStats) -> Result<(), CallError> {
        if !crate::interrupt::sleep(backoff(attempt)) {
            return Err(CallError::Interrupted);
        }
        stats.retries += 1;
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Why credentials must not go to `url`: plain `http://` to a host that is not
/// loopback (`localhost`, 127.0.0.0/8, ::1) would carry the login password, tokens and
/// user passwords in clear. `None` when sending is fine.
pub fn clear_text_refusal(url: &str) -> Option<String> {
    let Ok(u) = reqwest::Url::parse(url) else {
        return Some(format!("server URL {url:?} is not a valid URL"));
    };
    if u.scheme() != "http" {
        return None;
    }
    let host = u.host_str().unwrap_or("");
    // The URL parser has already normalised the host (IPv4 forms, lowercase names);
    // IPv6 literals come bracketed.
    let loopback = match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if loopback {
        return None;
    }
    Some(format!(
        "refusing to send credentials in clear: http://{host}{} is plain http:// and {host} is not loopback; use https://, or --allow-http (job file: [server] allow_http = true) if the network is trusted",
        port_part(&u)
    ))
}

/// Why roster stopped at a 3xx answer: where it pointed (origin and path only: a query
/// may hold a secret) and what to do about it.
pub fn redirect_error(base: &str, what: &str, location: Option<&str>) -> String {
    let base_url = reqwest::Url::parse(base).ok();
    let target = match (&base_url, location) {
        (Some(b), Some(l)) => b.join(l.trim()).ok(),
        (None, Some(l)) => reqwest::Url::parse(l.trim()).ok(),
        _ => None,
    };
    let Some(target) = target else {
        return format!(
            "the server answered {what} with a redirect; roster does not follow redirects with credentials: use the final URL as --server"
        );
    };
    let origin = target.origin().ascii_serialization();
    let shown = format!("{origin}{}", target.path());
    let same_host_to_https = base_url.as_ref().is_some_and(|b| {
        b.scheme() == "http" && target.scheme() == "https" && b.host_str() == target.host_str()
    });
    if same_host_to_https {
        let https_base = base_url
            .as_ref()
            .map(|b| {
                format!(
                    "https://{}{}",
                    target.host_str().unwrap_or(""),
                    port_part(&target)
                ) + b.path().trim_end_matches('/')
            })
            .unwrap_or_default();
        return format!(
            "the server redirected {what} to {shown}; roster does not follow redirects with credentials: use {https_base} as --server"
        );
    }
    format!(
        "the server redirected {what} to {shown}; roster does not follow redirects with credentials: use the final URL as --server"
    )
}

fn port_part(u: &reqwest::Url) -> String {
    u.port().map(|p| format!(":{p}")).unwrap_or_default()
}

/// ` [<id>]` when a 5xx answer is a Mattermost AppError with an id (which says what
/// failed, e.g. `api.user.send_password_reset.send.app_error`: no mail server), else "".
/// Only the id: the rest of a body may echo what was sent.
fn error_id(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string))
        .filter(|id| {
            !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_'))
        })
        .map(|id| format!(" [{id}]"))
        .unwrap_or_default()
}

/// Exponential backoff with jitter: 0.25 s, 0.5 s, 1 s, ... up to 15 s, each between half
/// and all of that, so workers that failed together do not retry together.
pub fn backoff(attempt: u32) -> Duration {
    let base = 250u64
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(10))
        .min(15_000);
    let jittered = rand::rng().random_range(base / 2..=base);
    Duration::from_millis(jittered)
}

/// A GET sent outside [`Http::send`] (flavor detection, before there is an `Http`),
/// once, and logged as any request.
pub fn probe(client: &Client, url: &str, log: Option<&RequestLog>) -> reqwest::Result<Response> {
    let request = client.get(url).build()?;
    let Some(log) = log else {
        return client.execute(request);
    };
    let sent = Sent::new(&request, 1);
    let outcome = client.execute(request);
    match &outcome {
        Ok(r) => log.answered(&sent, r.status().as_u16(), r.headers()),
        Err(e) => log.failed(&sent, &transport_error_kind(e)),
    }
    outcome
}

/// A transport error in words an administrator can act on, without any URL query or
/// body (which could hold a secret).
fn describe_transport_error(e: &reqwest::Error, what: &str) -> String {
    format!("{what}: {}", transport_error_kind(e))
}

/// What went wrong with a request that got no answer, without its URL.
fn transport_error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        let mut s = "cannot connect".to_string();
        if let Some(src) = std::error::Error::source(e) {
            s.push_str(&format!(" ({})", root_cause(src)));
        }
        s
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off".to_string()
    } else {
        let mut s = "connection dropped".to_string();
        if let Some(src) = std::error::Error::source(e) {
            s.push_str(&format!(" ({})", root_cause(src)));
        }
        s
    }
}

/// The innermost cause of an error, which is the one that names the problem.
pub fn root_cause(mut e: &dyn std::error::Error) -> String {
    while let Some(s) = e.source() {
        e = s;
    }
    e.to_string()
}
