//! Run control through the binary: one run per report (a lock), Ctrl-C that stops
//! promptly (rate-limit waits, a hung LDAP server), resume after a crash that reports
//! what an uninterrupted run reports, the retries count, and bounded LDAP messages.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    Ran, as_importer, config, jsonl, roster, server_users, spawn_as_importer, start, tmp,
    wait_for_lines, write,
};
use roster_sandbox::{Sandbox, SandboxConfig};
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
    // 10 users at 4 calls per 400 ms: the first run lasts about 2 s.
    write(d.path(), "u.csv", &users(10, 1));
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
    assert_eq!(rep.len(), 10, "one row per input row: {rep:?}");
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 10);
    // The lock ends with the run: the next one may use the report.
    let again = roster(d.path(), &args, &as_importer());
    assert_eq!(again.code(), 0, "{}", again.stderr());
}

/// The roster binary in the background with the given environment (ROSTER_* cleared).
fn spawn_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut c = Command::new(crate::support::BIN);
    c.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for k in [
        "ROSTER_TOKEN",
        "ROSTER_USER_ID",
        "ROSTER_USERNAME",
        "ROSTER_PASSWORD",
        "ROSTER_PASSWORD_FILE",
        "ROSTER_LDAP_PASSWORD",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().expect("spawn roster")
}

#[test]
fn ctrl_c_during_a_rate_limit_wait_stops_at_once_and_resume_finishes() {
    // 3 calls per route per minute: the 4th lookup waits about 60 s.
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 3,
        rc_limit_window_ms: 60_000,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(8, 1));
    let child = spawn_as_importer(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
            "--workers",
            "1",
        ],
    );
    wait_for_lines(&d.path().join("r.jsonl.journal"), 3);
    // Now the 4th lookup waits for the window to end.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    sigint(&child);
    let out = child.wait_with_output().expect("run ends");
    let took = t.elapsed();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 3, "the rows done, no row not sent: {rep:?}");
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 3);

    // The admin is not rate limited: --resume finishes the other 5 at once.
    let r = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
            "--resume",
        ],
        &[
            ("ROSTER_USERNAME", "admin"),
            ("ROSTER_PASSWORD", crate::support::ADMIN_PW),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 8, "{rep:?}");
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 8);
}

#[test]
fn ctrl_c_during_a_hung_ldap_bind_exits_130_at_once() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    // An LDAP server that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let d = tmp();
    let url = format!("ldap://127.0.0.1:{port}/ou=people,dc=example,dc=org??sub");
    let mut env = as_importer();
    env.push(("ROSTER_LDAP_PASSWORD", "reader-pw"));
    let child = spawn_with(
        d.path(),
        &[
            "import",
            &url,
            "--server",
            &sb.url(),
            "--bind-dn",
            "cn=reader,dc=example,dc=org",
            "--random-password",
            "--report",
            "r.jsonl",
        ],
        &env,
    );
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    sigint(&child);
    let out = child.wait_with_output().expect("run ends");
    let took = t.elapsed();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");
    assert_eq!(server_users(&sb).len(), 0);
}

/// (origin, username, action, status) of each report row, sorted by origin.
fn rows(path: &Path) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = jsonl(path)
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("origin"), s("username"), s("action"), s("status"))
        })
        .collect();
    v.sort();
    v
}

fn counter(sb: &Sandbox, route: &str, f: fn(&roster_sandbox::RouteCounters) -> u64) -> u64 {
    sb.counters()
        .iter()
        .filter(|(k, _)| k.contains(route))
        .map(|(_, c)| f(c))
        .sum()
}

#[test]
fn a_create_cut_off_by_sigkill_is_reported_as_a_create_after_resume() {
    for mode in ["upsert", "create"] {
        let d = tmp();
        write(d.path(), "u.csv", &users(6, 1));
        let args = |report: &'static str| {
            vec![
                "import".to_string(),
                "u.csv".into(),
                "--report".into(),
                report.into(),
                "--workers".into(),
                "1".into(),
                "--mode".into(),
                mode.into(),
                "--max-attempts".into(),
                "50".into(),
            ]
        };
        let with_server = |mut a: Vec<String>, url: &str| {
            a.push("--server".into());
            a.push(url.into());
            a
        };

        // What an uninterrupted run reports.
        let fresh = start(SandboxConfig {
            rate_limit: Some(false),
            ..config()
        });
        let a = with_server(args("ref.jsonl"), &fresh.url());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let r = roster(d.path(), &a, &as_importer());
        assert_eq!(r.code(), 0, "{mode}: {}", r.stderr());
        let reference = rows(&d.path().join("ref.jsonl"));
        assert_eq!(reference.len(), 6);

        // Two rows go through, then every create is applied and answered 500 slowly:
        // SIGKILL as soon as one is applied, while its row cannot have finished (the
        // lookup that would resolve it takes 300 ms).
        let sb = start(SandboxConfig {
            rate_limit: Some(false),
            latency_ms: 20,
            fault_phase: roster_sandbox::FaultPhase::After,
            ..config()
        });
        let a = with_server(args("r.jsonl"), &sb.url());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut child = spawn_as_importer(d.path(), &a);
        let deadline = Instant::now() + Duration::from_secs(20);
        while server_users(&sb).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        sb.set_latency(300, 0);
        sb.set_faults(1.0, 0.0);
        while counter(&sb, "users.create", |c| c.faults_after) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            counter(&sb, "users.create", |c| c.faults_after) > 0,
            "{mode}"
        );
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        sb.set_faults(0.0, 0.0);
        sb.set_latency(0, 0);
        let created = server_users(&sb).len();
        let journaled = std::fs::read_to_string(d.path().join("r.jsonl.journal"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"entry\""))
            .count();
        assert!(
            journaled < created && created < 6,
            "{mode}: a user created but not journaled ({journaled} journaled, {created} created)"
        );

        let mut a = with_server(args("r.jsonl"), &sb.url());
        a.push("--resume".into());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let r = roster(d.path(), &a, &as_importer());
        assert_eq!(r.code(), 0, "{mode}: {}", r.stderr());
        assert_eq!(
            rows(&d.path().join("r.jsonl")),
            reference,
            "{mode}: the report after resume is the uninterrupted run's"
        );
        assert_eq!(server_users(&sb).len(), 6, "{mode}");
    }
}

#[test]
fn the_summary_counts_every_re_sent_request_as_a_retry() {
    // Creates answered 5xx and lookups and creates dropped, always before anything is
    // applied: each failure is re-sent (creates after a lookup finds nobody).
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        fault_rate: 0.3,
        drop_rate: 0.15,
        fault_phase: roster_sandbox::FaultPhase::Before,
        ..config()
    });
    let d = tmp();
    let n = 30u64;
    write(d.path(), "u.csv", &users(n as usize, 1));
    let r = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--max-attempts",
            "30",
            "--json",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let summary: Value = serde_json::from_slice(&r.stdout).expect("--json summary");
    let lookups = counter(&sb, "users.info", |c| c.requests);
    let creates = counter(&sb, "users.create", |c| c.requests);
    let lists = counter(&sb, "users.list", |c| c.requests);
    let failed_creates = counter(&sb, "users.create", |c| c.faults + c.drops);
    assert!(failed_creates > 0, "some creates failed");
    // First sends: users.list's one page, which also tells the total (cheaper than 30
    // lookups), a lookup after each failed create (nobody created twice: they all failed
    // before applying), one create per row.
    let first_sends = 1 + failed_creates + n;
    assert_eq!(server_users(&sb).len() as u64, n);
    assert_eq!(
        summary["retries"].as_u64(),
        Some(lookups + creates + lists - first_sends),
        "{summary}"
    );
    assert!(summary["retries"].as_u64() > Some(0));
}

/// An LDAP server that answers the bind with a message announcing 2 GiB, then streams
/// zeros for as long as the client reads.
fn hostile_ldap_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut req = [0u8; 4096];
                if s.read(&mut req).unwrap_or(0) == 0 {
                    return;
                }
                // SEQUENCE, length 0x80000000 in four bytes.
                if s.write_all(&[0x30, 0x84, 0x80, 0, 0, 0]).is_err() {
                    return;
                }
                let zeros = vec![0u8; 1 << 16];
                let end = Instant::now() + Duration::from_secs(30);
                while Instant::now() < end && s.write_all(&zeros).is_ok() {}
            });
        }
    });
    port
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_huge_ldap_message_ends_the_read_with_an_error_not_the_memory() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let port = hostile_ldap_server();
    let d = tmp();
    let url = format!("ldap://127.0.0.1:{port}/ou=people,dc=example,dc=org??sub");
    let mut env = as_importer();
    env.push(("ROSTER_LDAP_PASSWORD", "reader-pw"));
    let server = sb.url();
    write(
        d.path(),
        "job.toml",
        "[source]\nldap_max_message = 1048576\n",
    );
    for extra in [
        None,
        Some(["--ldap-max-message", "1M"]),
        Some(["--config", "job.toml"]),
    ] {
        let mut args = vec![
            "import",
            &url,
            "--server",
            &server,
            "--bind-dn",
            "cn=reader,dc=example,dc=org",
            "--random-password",
        ];
        if let Some(more) = extra {
            args.extend(more);
        }
        let mut child = spawn_with(d.path(), &args, &env);
        let pid = child.id();
        let t = Instant::now();
        let mut peak = 0;
        let status = loop {
            peak = peak.max(peak_rss_kib(pid));
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            // Stop early when the memory grows: the machine is shared.
            if t.elapsed() > Duration::from_secs(10) || peak > 300 * 1024 {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{extra:?}: still running after {:?}, peak RSS {peak} KiB",
                    t.elapsed()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        use std::io::Read;
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("stderr");
        assert_eq!(status.code(), Some(2), "{extra:?}: {stderr}");
        eprintln!("{extra:?}: {stderr}");
        let limit = if extra.is_some() {
            "1048576"
        } else {
            "16777216"
        };
        assert!(
            stderr.contains("an LDAP message of 2147483654 bytes")
                && stderr.contains(&format!("the limit of {limit} bytes")),
            "{extra:?}: {stderr}"
        );
        assert!(peak < 200 * 1024, "{extra:?}: peak RSS {peak} KiB");
        assert_eq!(server_users(&sb).len(), 0);
    }
}

#[test]
fn a_directory_entry_over_the_limit_stops_the_search_with_an_error() {
    use crate::support::slapd::{PEOPLE, READER_DN, READER_PW, Slapd, SlapdOptions};
    use roster::secret::Secret;
    use roster::source::Source;
    use roster::source::ldap::{LdapOptions, LdapSource, LdapSourceError};
    let ldap = Slapd::start(SlapdOptions {
        users: 5,
        tls: true,
        ..Default::default()
    });
    let plain = format!("{}/{PEOPLE}??sub?(objectClass=inetOrgPerson)", ldap.url());
    let ldaps = format!(
        "{}/{PEOPLE}??sub?(objectClass=inetOrgPerson)",
        ldap.ldaps_url()
    );
    // Plain, StartTLS and ldaps: the relay sees every message in clear.
    for (url, starttls) in [(&plain, false), (&plain, true), (&ldaps, false)] {
        let opts = |max| LdapOptions {
            bind_dn: Some(READER_DN.into()),
            password: Some(Secret::new(READER_PW)),
            ca_file: Some(ldap.ca_file()),
            starttls,
            max_message: max,
            ..Default::default()
        };
        // The default limit reads everyone.
        let mut src = LdapSource::open(url, &opts(None)).expect("open");
        let mut n = 0;
        while src.next_item().expect("read").is_some() {
            n += 1;
        }
        assert_eq!(n, 5, "{url} starttls={starttls}");
        // 100 bytes: the bind answer fits, a user entry does not.
        let err = match LdapSource::open(url, &opts(Some(100))) {
            Ok(mut src) => loop {
                match src.next_item() {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("{url}: the search ended without an error"),
                    Err(e) => break e,
                }
            },
            Err(e) => e,
        };
        let roster::source::SourceError::Ldap(err) = err else {
            panic!("not an LDAP error: {err:?}");
        };
        assert!(matches!(err, LdapSourceError::Oversized { .. }), "{err}");
        assert!(
            err.to_string().contains("more than the limit of 100 bytes"),
            "{err}"
        );
    }
}
