//! `--log FILE`: one JSON line per HTTP attempt, the audit trail change control asks for.
//!
//! A line holds only what can be handed to anyone: when the request went out, its method,
//! its path with the query's names (values of secret-sounding names replaced), the status
//! or the transport error, the duration, the attempt and the rate-limit headers the server
//! sent. Never request headers (`X-Auth-Token`, `X-User-Id`, `Authorization`, the 2FA
//! code, cookies), never bodies (the login password, users' passwords), never other answer
//! headers (Mattermost answers a login with the session token in `Token`).
//!
//! Each line is one `write` of an unbuffered file opened for appending, under a mutex:
//! lines from many workers never interleave, and a line is in the file as soon as its
//! answer arrived, so neither the end of a run nor Ctrl-C has anything left to flush.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use reqwest::header::HeaderMap;
use serde::Serialize;

/// The answer headers a line keeps: both servers' rate-limit headers (Rocket.Chat's
/// `X-RateLimit-*`, Mattermost's `X-Ratelimit-*`: header names ignore case) and
/// `Retry-After`.
const RATE_HEADERS: [&str; 4] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
];

/// Query parameter names whose values are dropped: a name holding one of these (case
/// and punctuation ignored) may carry a credential. Over-matching costs a value in a log
/// line; under-matching would leak a secret.
const SECRET_NAMES: [&str; 11] = [
    "token",
    "password",
    "passwd",
    "pwd",
    "secret",
    "auth",
    "key",
    "session",
    "cookie",
    "code",
    "credential",
];

/// What replaces a secret query value.
pub const REDACTED: &str = "REDACTED";

/// True once a request log writes to stderr: the progress display then stays off, as
/// its redraws would cut the lines.
static ON_STDERR: AtomicBool = AtomicBool::new(false);

pub fn on_stderr() -> bool {
    ON_STDERR.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the request log {path}: {source}")]
pub struct LogError {
    path: String,
    source: io::Error,
}

enum Sink {
    File(File),
    Stderr,
}

/// Where the lines go.
pub struct RequestLog {
    sink: Mutex<Sink>,
    /// Named in the warning when a write fails.
    name: String,
    /// A failed write is reported once, not once per request.
    warned: AtomicBool,
}

/// One request as it went out, until its answer (or failure) is logged.
pub struct Sent {
    method: String,
    route: String,
    attempt: u32,
    at: SystemTime,
    started: Instant,
}

impl Sent {
    /// Taken right before the request is sent: `attempt` counts from 1 for this request.
    pub fn new(req: &reqwest::blocking::Request, attempt: u32) -> Sent {
        Sent {
            method: req.method().as_str().to_string(),
            route: route(req.url()),
            attempt,
            at: SystemTime::now(),
            started: Instant::now(),
        }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    method: &'a str,
    route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    duration_ms: f64,
    attempt: u32,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    rate_limit: BTreeMap<&'static str, String>,
}

impl RequestLog {
    /// Opens `path` for appending (nightly runs add to one file), creating it mode 0600
    /// (its routes name users); `-` is stderr. An existing file keeps its mode.
    pub fn open(path: &Path) -> Result<RequestLog, LogError> {
        if path.as_os_str() == "-" {
            ON_STDERR.store(true, Ordering::Relaxed);
            return Ok(RequestLog {
                sink: Mutex::new(Sink::Stderr),
                name: "on stderr".into(),
                warned: AtomicBool::new(false),
            });
        }
        let mut o = std::fs::OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let f = o.open(path).map_err(|e| LogError {
            path: path.display().to_string(),
            source: e,
        })?;
        Ok(RequestLog {
            sink: Mutex::new(Sink::File(f)),
            name: path.display().to_string(),
            warned: AtomicBool::new(false),
        })
    }

    /// Logs an answer: its status and rate-limit headers.
    pub fn answered(&self, sent: &Sent, status: u16, headers: &HeaderMap) {
        let mut rate_limit = BTreeMap::new();
        for name in RATE_HEADERS {
            // Mattermost may send a header twice (per IP and per user): keep both.
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !values.is_empty() {
                rate_limit.insert(name, values.join(", "));
            }
        }
        self.write(sent, Some(status), None, rate_limit);
    }

    /// Logs a request that got no answer (`error`: timed out, cannot connect, ...).
    pub fn failed(&self, sent: &Sent, error: &str) {
        self.write(sent, None, Some(error), BTreeMap::new());
    }

    fn write(
        &self,
        sent: &Sent,
        status: Option<u16>,
        error: Option<&str>,
        rate_limit: BTreeMap<&'static str, String>,
    ) {
        let ms = sent.started.elapsed().as_secs_f64() * 1000.0;
        let line = Line {
            ts: humantime::format_rfc3339_millis(sent.at).to_string(),
            method: &sent.method,
            route: &sent.route,
            status,
            error,
            duration_ms: (ms * 10.0).round() / 10.0,
            attempt: sent.attempt,
            rate_limit,
        };
        let mut text = match serde_json::to_string(&line) {
            Ok(t) => t,
            Err(_) => return,
        };
        text.push('\n');
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let written = match &mut *sink {
            Sink::File(f) => f.write_all(text.as_bytes()),
            Sink::Stderr => io::stderr().lock().write_all(text.as_bytes()),
        };
        // The run goes on without its log rather than stop halfway through the rows.
        if let Err(e) = written
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "roster: warning: cannot write the request log {}: {e}; requests go on unlogged",
                self.name
            );
        }
    }
}

/// The path and the query of `url`, the values of secret-sounding query names replaced
/// (`users.info?username=anna` stays as it is; `?access_token=…` does not).
pub fn route(url: &reqwest::Url) -> String {
    let mut out = url.path().to_string();
    let Some(query) = url.query() else {
        return out;
    };
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if secret_name(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// Whether a (percent-encoded) query name looks like it carries a credential.
fn secret_name(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let folded: String = decoded
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_NAMES.iter().any(|s| folded.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn route_of(u: &str) -> String {
        route(&reqwest::Url::parse(u).expect("a URL"))
    }

    #[test]
    fn routes_keep_the_path_and_harmless_query_values() {
        assert_eq!(
            route_of("https://chat.example.org/api/v1/users.info?username=anna.li"),
            "/api/v1/users.info?username=anna.li"
        );
        assert_eq!(
            route_of("https://mm.example.org/api/v4/users?page=2&per_page=200"),
            "/api/v4/users?page=2&per_page=200"
        );
        assert_eq!(
            route_of("https://u:pw@chat.example.org/base/api/v1/me"),
            "/base/api/v1/me",
            "never the URL's user info"
        );
    }

    #[test]
    fn secret_query_values_are_replaced() {
        let r = route_of(
            "https://x.org/api?access_token=abc&X-Auth-Token=def&user=ann&Pass%77ord=ghi&2fa_code=1&flag",
        );
        assert_eq!(
            r,
            "/api?access_token=REDACTED&X-Auth-Token=REDACTED&user=ann&Pass%77ord=REDACTED&2fa_code=REDACTED&flag"
        );
        for secret in ["abc", "def", "ghi"] {
            assert!(!r.contains(secret), "{r}");
        }
    }

    #[test]
    fn a_line_holds_the_rate_limit_headers_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("requests.jsonl");
        let log = RequestLog::open(&path).expect("opens");
        let url = reqwest::Url::parse("https://x.org/api/v4/users/login").expect("a URL");
        let mut req = reqwest::blocking::Request::new(reqwest::Method::POST, url);
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_static("Bearer tok-123"));
        *req.body_mut() = Some("{\"password\":\"pw-456\"}".into());
        let sent = Sent::new(&req, 2);
        let mut h = HeaderMap::new();
        h.append("X-Ratelimit-Remaining", HeaderValue::from_static("3"));
        h.append("X-Ratelimit-Remaining", HeaderValue::from_static("9"));
        h.insert("Retry-After", HeaderValue::from_static("1"));
        h.insert("Token", HeaderValue::from_static("session-789"));
        log.answered(&sent, 429, &h);
        log.failed(&Sent::new(&req, 3), "timed out");
        let text = std::fs::read_to_string(&path).expect("read");
        for secret in ["tok-123", "pw-456", "session-789"] {
            assert!(!text.contains(secret), "{text}");
        }
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["status"], 429);
        assert_eq!(lines[0]["attempt"], 2);
        assert_eq!(lines[0]["route"], "/api/v4/users/login");
        assert_eq!(lines[0]["rate_limit"]["x-ratelimit-remaining"], "3, 9");
        assert_eq!(lines[0]["rate_limit"]["retry-after"], "1");
        assert!(lines[0]["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(lines[1]["error"], "timed out");
        assert!(lines[1].get("status").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
