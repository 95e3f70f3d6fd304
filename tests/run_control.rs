//! Run control through the binary: one run per report (a lock), Ctrl-C that stops
//! promptly (rate-limit waits, a hung LDAP server), resume after a crash that reports
//! what an uninterrupted run reports, the retries count, and bounded LDAP messages.

mod sandbox_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use roster::sandbox::{Sandbox, SandboxConfig};
use sandbox_support::{
    Ran, as_importer, config, jsonl, roster, spawn_as_importer, start, wait_for_lines,
};
use serde_json::Value;

fn users(n: usize, start: usize) -> String {
    let mut s = String::from("username,email,name,password\n");
    for i in start..start + n {
        s.push_str(&format!(
            "u{i:04},u{i:04}@example.org,User {i},Sekr3t-user-pw-{i}\n"
        ));
    }
    s
}

fn server_users(sb: &Sandbox) -> Vec<Value> {
    sb.users()
        .into_iter()
        .filter(|u| !matches!(u["username"].as_str(), Some("admin" | "importer")))
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write input");
    p
}

fn sigint(child: &std::process::Child) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs")
            .success()
    );
}

#[test]
fn a_second_run_on_the_same_report_is_refused() {
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 4,
        rc_limit_window_ms: 400,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(20, 1));
    let args = [
        "import",
        "u.csv",
        "--server",
        &sb.url(),
        "--report",
        "r.jsonl",
        "--workers",
        "2",
    ];
    let first = spawn_as_importer(d.path(), &args);
    wait_for_lines(&d.path().join("r.jsonl.journal"), 2);
    let second = roster(d.path(), &args, &as_importer());
    assert_eq!(second.code(), 2, "{}", second.stderr());
    assert!(
        second
            .stderr()
            .contains("another roster run is using r.jsonl"),
        "{}",
        second.stderr()
    );
    let out = first.wait_with_output().expect("first run ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 20, "one row per input row: {rep:?}");
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 20);
    // The lock ends with the run: the next one may use the report.
    let again = roster(d.path(), &args, &as_importer());
    assert_eq!(again.code(), 0, "{}", again.stderr());
}
