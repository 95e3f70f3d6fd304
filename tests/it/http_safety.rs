//! Credentials stay with the server they were meant for: no redirect is followed with
//! them (issue 10 item 11), and plain http:// to a host that is not loopback is refused
//! unless the administrator opts in (item 12).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{IMPORTER_PW, Ran, as_importer, config, roster, start};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

const USER_PW: &str = "Sekr3t-redirect-user-pw";

/// A server that records every byte it receives and answers 200 `{}`: where a redirect
/// points. Nothing roster holds may ever reach it.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
}

impl Recorder {
    fn start() -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (s, c) = (seen.clone(), connections.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                *c.lock().unwrap() += 1;
                conn.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    s.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        Recorder {
            port,
            seen,
            connections,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Fails unless nothing at all reached the recorder.
    fn assert_untouched(&self) {
        // A followed redirect would have arrived before roster exited; allow a moment.
        std::thread::sleep(Duration::from_millis(100));
        let seen = String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned();
        assert_eq!(
            *self.connections.lock().unwrap(),
            0,
            "the redirect target was contacted: {seen}"
        );
    }
}

/// A server that answers every request 307 to `location`, after reading it whole.
fn redirector(location: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let mut w = conn;
            let _ = write!(
                w,
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

fn users_csv(dir: &Path) {
    std::fs::write(
        dir.join("u.csv"),
        format!(
            "username,email,name,password\nanna,anna@example.org,Anna Li,{USER_PW}\nbob,bob@example.org,Bob Roe,{USER_PW}\n"
        ),
    )
    .unwrap();
}

fn assert_redirect_refused(o: &std::process::Output, rec: &Recorder) {
    rec.assert_untouched();
    let err = o.stderr();
    assert_eq!(o.code(), 2, "{err}");
    assert!(err.contains("redirect"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{}", rec.port)),
        "names the redirect's origin: {err}"
    );
    assert!(!err.contains("leak=1"), "no query string echoed: {err}");
    assert!(
        !err.contains(IMPORTER_PW) && !err.contains(USER_PW),
        "{err}"
    );
}

#[test]
fn a_redirect_at_login_sends_nothing_elsewhere_on_either_server() {
    let d = tempfile::tempdir().unwrap();
    users_csv(d.path());
    for flavor in ["rocketchat", "mattermost"] {
        let rec = Recorder::start();
        let port = redirector(rec.url("/api/login?leak=1"));
        let server = format!("http://127.0.0.1:{port}");
        // A login body with the password, then a token with a 2FA password.
        let login = as_importer();
        let token = vec![
            ("ROSTER_TOKEN", "tok-secret-123"),
            ("ROSTER_USER_ID", "uid123"),
            ("ROSTER_PASSWORD", IMPORTER_PW),
        ];
        for env in [&login, &token] {
            let o = roster(
                d.path(),
                &["import", "u.csv", "--server", &server, "--flavor", flavor],
                env,
            );
            assert_redirect_refused(&o, &rec);
            assert!(!o.stderr().contains("tok-secret-123"));
        }
        // Without --flavor, the detection probes are not followed either.
        let o = roster(d.path(), &["import", "u.csv", "--server", &server], &login);
        assert_redirect_refused(&o, &rec);
    }
}

#[test]
fn a_redirect_after_login_stops_the_run_and_sends_nothing_elsewhere() {
    let d = tempfile::tempdir().unwrap();
    users_csv(d.path());
    for (kind, create) in [
        (FlavorKind::RocketChat, "/api/v1/users.create"),
        (FlavorKind::Mattermost, "/api/v4/users"),
    ] {
        let sb: Sandbox = start(SandboxConfig {
            flavor: kind,
            rate_limit: Some(false),
            two_factor: false,
            ..config()
        });
        let rec = Recorder::start();
        let location = rec.url(&format!("{create}?leak=1"));
        sb.set_redirect(Some((create, &location)));
        let o = roster(
            d.path(),
            &["import", "u.csv", "--server", &sb.url(), "--workers", "1"],
            &as_importer(),
        );
        assert_redirect_refused(&o, &rec);
        assert!(
            o.stderr().contains("users"),
            "names the call: {}",
            o.stderr()
        );
    }
}

/// Item 12: credentials never go in clear to a host that is not loopback, unless asked.
#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let d = tempfile::tempdir().unwrap();
    users_csv(d.path());
    for server in [
        "http://10.255.255.1:9",
        "http://127.0.0.1.roster-test.invalid:9",
        "http://localhost.roster-test.invalid/",
    ] {
        let t = Instant::now();
        let o = roster(
            d.path(),
            &["import", "u.csv", "--server", server],
            &as_importer(),
        );
        let err = o.stderr();
        assert_eq!(o.code(), 2, "{server}: {err}");
        assert!(err.contains("--allow-http"), "{server}: {err}");
        assert!(err.contains("not loopback"), "{server}: {err}");
        // Refused before connecting: 10.255.255.1 would take the 10 s connect timeout.
        assert!(t.elapsed() < Duration::from_secs(5), "{server}: {err}");
    }
    // The other commands that log in share the check.
    for cmd in [
        vec!["plan", "u.csv"],
        vec!["sync", "u.csv"],
        vec!["export", "-o", "out.csv"],
    ] {
        let mut args = cmd.clone();
        args.extend(["--server", "http://10.255.255.1:9"]);
        let o = roster(d.path(), &args, &as_importer());
        assert_eq!(o.code(), 2, "{cmd:?}: {}", o.stderr());
        assert!(
            o.stderr().contains("--allow-http"),
            "{cmd:?}: {}",
            o.stderr()
        );
    }
}

#[test]
fn allow_http_and_loopback_get_past_the_check() {
    let d = tempfile::tempdir().unwrap();
    users_csv(d.path());
    // --allow-http: the run goes on and fails to resolve the name, not at the check.
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            "http://roster-test.invalid/",
            "--allow-http",
        ],
        &as_importer(),
    );
    let err = o.stderr();
    assert_eq!(o.code(), 2, "{err}");
    assert!(!err.contains("--allow-http"), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    // The same from the job file.
    std::fs::write(d.path().join("job.toml"), "[server]\nallow_http = true\n").unwrap();
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            "http://roster-test.invalid/",
            "--config",
            "job.toml",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("cannot connect"), "{}", o.stderr());
    // Loopback in every spelling needs no flag: a real import over http://localhost.
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let sb = start(SandboxConfig {
            rate_limit: Some(false),
            two_factor: false,
            ..config()
        });
        let port = sb.url().rsplit(':').next().unwrap().to_string();
        let url = format!("http://{host}:{port}");
        let o = roster(
            d.path(),
            &["import", "u.csv", "--server", &url],
            &as_importer(),
        );
        if host == "[::1]" {
            // The sandbox listens on IPv4 only: reaching the connect step is the point.
            assert!(!o.stderr().contains("--allow-http"), "{}", o.stderr());
        } else {
            assert_eq!(o.code(), 0, "{url}: {}", o.stderr());
        }
    }
}

/// Two mistakes said plainly: `https://` to a server that speaks plain HTTP (rustls would say
/// "received corrupt message"), and a `--flavor` that is not the server's.
#[test]
fn https_to_plain_http_and_the_wrong_flavor_are_explained() {
    let sb = crate::support::start(roster_sandbox::SandboxConfig {
        rate_limit: Some(false),
        ..crate::support::config()
    });
    let d = crate::support::tmp();
    crate::support::write(d.path(), "u.csv", &crate::support::users_csv(1));
    let https = sb.url().replace("http://", "https://");
    for args in [
        vec!["import", "u.csv", "--server", https.as_str()],
        vec![
            "import",
            "u.csv",
            "--server",
            https.as_str(),
            "--flavor",
            "rocketchat",
        ],
    ] {
        let o = crate::support::roster(d.path(), &args, &crate::support::as_importer());
        assert_eq!(o.code(), 2, "{args:?}: {}", o.stderr());
        assert!(
            o.stderr()
                .contains("the server answered in plain HTTP, not TLS: use http://"),
            "{args:?}: {}",
            o.stderr()
        );
    }
    let url = sb.url();
    let o = crate::support::roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &url,
            "--flavor",
            "mattermost",
        ],
        &crate::support::as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains(
            "looks like Rocket.Chat (--flavor mattermost was given): drop --flavor or use --flavor rocketchat"
        ),
        "{}",
        o.stderr()
    );
    assert!(crate::support::server_users(&sb).is_empty());
}
