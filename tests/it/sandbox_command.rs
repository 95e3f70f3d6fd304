//! `roster sandbox`, the command: it prints its URL, serves either flavor with the
//! limiter flags given, saves its state on SIGTERM and refuses bad flags (exit 2). The
//! emulators themselves are tested in crates/roster-sandbox.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{BIN, client, login_raw, mm_login_raw, send};

#[test]
fn the_binary_prints_its_url_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(BIN)
        .args(["sandbox", "--flavor", "rocketchat", "--port", "0"])
        .args(["--bcrypt-cost", "4", "--rate-limit-calls", "5", "--state"])
        .arg(&state)
        .env_remove("ROSTER_SANDBOX_ADMIN_PASSWORD")
        .env_remove("ROSTER_SANDBOX_ADMIN_PASSWORD_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("roster runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let password = line
        .trim()
        .strip_prefix("roster sandbox: generated admin password: ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();

    let c = client();
    let info = send(c.get(format!("{url}/api/info")));
    assert_eq!(info.status, 200);
    assert_eq!(info.body["success"], true);
    let r = login_raw(&c, &url, "importer", &password);
    assert_eq!(r.status, 200, "the importer shares the admin's password");
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("5"));

    // SIGTERM stops it cleanly and saves the state.
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["flavor"], "rocketchat");

    // The password from the environment; bad flags are usage errors.
    let mut child = Command::new(BIN)
        .args(["sandbox", "--port", "0", "--bcrypt-cost", "4"])
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", "from-env-pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let r = login_raw(&c, url.trim(), "admin", "from-env-pw");
    assert_eq!(r.status, 200);
    let _ = child.kill();
    let _ = child.wait();

    let out = Command::new(BIN)
        .args(["sandbox", "--fault-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_binary_serves_mattermost_with_its_limiter_flags() {
    let mut child = Command::new(BIN)
        .args([
            "sandbox",
            "--flavor",
            "mattermost",
            "--port",
            "0",
            "--bcrypt-cost",
            "4",
        ])
        .args(["--rate-limit", "--mm-per-sec", "2", "--mm-burst", "3"])
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", "bin-admin-pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("roster runs");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    let c = client();
    let r = send(c.get(format!("{url}/api/v4/system/ping")));
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("4"));
    let r = mm_login_raw(&c, &url, "importer", "bin-admin-pw");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["roles"], "system_user system_admin");
    let _ = child.kill();
    let _ = child.wait();

    let out = Command::new(BIN)
        .args(["sandbox", "--flavor", "mattermost", "--mm-per-sec", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
