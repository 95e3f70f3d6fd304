//! `--log FILE`: one JSON line per HTTP request, through the binary against both
//! sandboxes: as many lines as requests reached the server, the fields every line has,
//! no credential anywhere (tokens, passwords, the 2FA code), mode 0600, appending across
//! runs, `-` for stderr, the job file's `[server] log`, and the rate-limit headers.

use std::path::Path;

use crate::support::{
    IMPORTER_PW, Ran, as_importer, client, config, mm_login_raw, roster, sha256_hex, start, tmp,
    users_csv, write,
};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig};
use serde_json::Value;

/// The keys a line may have: anything else could be a leak.
const KEYS: [&str; 8] = [
    "ts",
    "method",
    "route",
    "status",
    "error",
    "duration_ms",
    "attempt",
    "rate_limit",
];
const RATE_HEADERS: [&str; 4] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
];
/// Detection's requests, sent before there is a session (not in the summary's count).
const PROBES: [&str; 3] = ["/", "/api/info", "/api/v4/system/ping"];

/// Every request that reached the sandbox.
fn served(sb: &Sandbox) -> usize {
    sb.counters().values().map(|c| c.requests as usize).sum()
}

fn rate_limited(sb: &Sandbox) -> usize {
    sb.counters()
        .values()
        .map(|c| c.rate_limited as usize)
        .sum()
}

/// The log's lines, each checked: JSON, the fields, nothing else.
fn lines_of(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let o = v.as_object().expect("a JSON object");
            assert!(o.keys().all(|k| KEYS.contains(&k.as_str())), "{l}");
            let ts = v["ts"].as_str().expect("ts");
            assert!(
                ts.len() == 24 && ts.as_bytes()[10] == b'T' && ts.ends_with('Z'),
                "RFC 3339 UTC: {ts}"
            );
            assert!(v["method"].is_string() && v["route"].is_string(), "{l}");
            assert!(v["status"].is_u64() != v["error"].is_string(), "{l}");
            assert!(v["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{l}");
            assert!(v["attempt"].as_u64().is_some_and(|a| a >= 1), "{l}");
            if let Some(h) = v.get("rate_limit") {
                let h = h.as_object().expect("rate_limit is an object");
                assert!(h.keys().all(|k| RATE_HEADERS.contains(&k.as_str())), "{l}");
            }
            v
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the request log exists")
}

fn assert_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).expect("log").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

fn assert_no_secret(text: &str, secrets: &[impl AsRef<str>]) {
    for s in secrets.iter().map(AsRef::as_ref) {
        assert!(!text.contains(s), "{s:?} is in the request log");
    }
}

fn route(v: &Value) -> &str {
    v["route"].as_str().unwrap_or("")
}

#[test]
fn rocketchat_log_has_a_line_per_request_appends_and_holds_no_secret() {
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 100,
        rc_limit_window_ms: 1000,
        ..config()
    });
    // Enough users on the server that looking the 6 rows up is cheaper than listing all.
    crate::support::seed_people(&sb, 1000, |_| true);
    let d = tmp();
    write(d.path(), "users.csv", &users_csv(6));
    let url = sb.url();
    // A token and the password (which answers users.update's two-factor check).
    let session = crate::support::Session::importer(&sb);
    let env = [
        ("ROSTER_USER_ID", session.user_id.as_str()),
        ("ROSTER_TOKEN", session.token.as_str()),
        ("ROSTER_PASSWORD", IMPORTER_PW),
    ];
    let log = d.path().join("requests.jsonl");
    let import = |name: &str| {
        let before = served(&sb);
        let o = roster(
            d.path(),
            &[
                "import",
                name,
                "--server",
                &url,
                "--log",
                "requests.jsonl",
                "--json",
                "--workers",
                "3",
            ],
            &env,
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let summary: Value = serde_json::from_slice(&o.stdout).expect("--json summary");
        (served(&sb) - before, summary)
    };

    let (served1, summary) = import("users.csv");
    let first = read(&log);
    let lines = lines_of(&first);
    assert_eq!(lines.len(), served1, "one line per request the server saw");
    let probes = lines.iter().filter(|l| PROBES.contains(&route(l))).count();
    assert_eq!(probes, 1, "GET /api/info tells the server");
    assert_eq!(summary["requests"], (lines.len() - probes) as u64);
    assert!(
        lines
            .iter()
            .any(|l| route(l) == "/api/v1/users.info?username=u0001"),
        "a lookup keeps its username"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| route(l) == "/api/v1/users.create")
            .count(),
        6
    );
    // The limiter is on: every user call carries its headers, as the server sent them.
    for l in lines
        .iter()
        .filter(|l| route(l).starts_with("/api/v1/users."))
    {
        for h in &RATE_HEADERS[..3] {
            assert!(l["rate_limit"][h].is_string(), "{h} missing: {l}");
        }
    }
    assert_private(&log);

    // A second run (updates: two-factor) appends to the same file.
    write(
        d.path(),
        "renamed.csv",
        &users_csv(6).replace(",User ", ",Renamed "),
    );
    let (served2, _) = import("renamed.csv");
    let both = read(&log);
    assert!(both.starts_with(&first), "the first run's lines are kept");
    let added = lines_of(&both[first.len()..]);
    assert_eq!(added.len(), served2);
    assert_eq!(
        added
            .iter()
            .filter(|l| route(l) == "/api/v1/users.update" && l["status"] == 200)
            .count(),
        6
    );
    assert_private(&log);

    let mut secrets = vec![
        session.token.clone(),
        IMPORTER_PW.to_string(),
        // users.update's x-2fa-code.
        sha256_hex(IMPORTER_PW),
    ];
    secrets.extend((1..=6).map(|i| format!("Pw-{i:04}-long")));
    assert_no_secret(&both, &secrets);
}

#[test]
fn rocketchat_login_is_logged_without_its_body_on_stderr() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    let before = served(&sb);
    let o = roster(
        d.path(),
        &[
            "export",
            "--server",
            &sb.url(),
            "-o",
            "all.csv",
            "--log",
            "-",
            "--quiet",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let stderr = o.stderr();
    let json: String = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| format!("{l}\n"))
        .collect();
    let lines = lines_of(&json);
    assert_eq!(lines.len(), served(&sb) - before, "{stderr}");
    let login = lines
        .iter()
        .find(|l| route(l) == "/api/v1/login")
        .expect("the login is logged");
    assert_eq!(
        (login["method"].as_str(), login["status"].as_u64()),
        (Some("POST"), Some(200))
    );
    assert_no_secret(&stderr, &[IMPORTER_PW]);
    assert!(!d.path().join("-").exists(), "`-` is stderr, not a file");
}

#[test]
fn mattermost_sync_plan_apply_and_export_each_log_every_request() {
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    });
    let d = tmp();
    let url = sb.url();
    let login = mm_login_raw(&client(), &url, "importer", IMPORTER_PW);
    let token = login.header("token").expect("a session token");
    let env = [("ROSTER_TOKEN", token.as_str())];
    write(d.path(), "hr.csv", &users_csv(5));
    write(
        d.path(),
        "hr2.csv",
        &users_csv(5).replace("User 2,", "Someone Else,"),
    );
    write(d.path(), "job.toml", "[server]\nlog = \"mm.jsonl\"\n");
    let log = d.path().join("mm.jsonl");
    let runs: [&[&str]; 4] = [
        &["sync", "hr.csv", "--state", "s.jsonl", "--log", "mm.jsonl"],
        &[
            "plan",
            "hr2.csv",
            "--state",
            "s.jsonl",
            "-o",
            "plan.json",
            "--log",
            "mm.jsonl",
        ],
        &["apply", "plan.json", "--log", "mm.jsonl"],
        // The job file's [server] log.
        &["export", "-o", "all.jsonl", "--config", "job.toml"],
    ];
    let mut seen = 0;
    for args in runs {
        let before = served(&sb);
        let mut all = args.to_vec();
        all.extend(["--server", url.as_str(), "--quiet"]);
        let o = roster(d.path(), &all, &env);
        assert_eq!(o.code(), 0, "{args:?}: {}", o.stderr());
        let lines = lines_of(&read(&log));
        assert_eq!(lines.len() - seen, served(&sb) - before, "{args:?}");
        seen = lines.len();
    }
    let text = read(&log);
    let lines = lines_of(&text);
    assert!(
        lines
            .iter()
            .any(|l| l["method"] == "PUT" && route(l).ends_with("/patch") && l["status"] == 200),
        "apply's update is logged"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["method"] == "POST" && route(l) == "/api/v4/users")
            .count(),
        5,
        "sync's creates"
    );
    assert_private(&log);
    let mut secrets = vec![token.clone(), IMPORTER_PW.to_string()];
    secrets.extend((1..=5).map(|i| format!("Pw-{i:04}-long")));
    assert_no_secret(&text, &secrets);
}

#[test]
fn mattermost_rate_limited_attempts_show_the_headers_and_retry_after() {
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        rate_limit: Some(true),
        mm_per_sec: 1,
        mm_max_burst: 1,
        ..config()
    });
    let d = tmp();
    let url = sb.url();
    // Spend the budget of this address, so that roster's login meets a 429.
    let c = client();
    for _ in 0..3 {
        let _ = c.get(format!("{url}/api/v4/system/ping")).send();
    }
    let limited_before = rate_limited(&sb);
    let before = served(&sb);
    let o = roster(
        d.path(),
        &[
            "export",
            "--server",
            &url,
            "--flavor",
            "mattermost",
            "-o",
            "all.csv",
            "--log",
            "mm.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let lines = lines_of(&read(&d.path().join("mm.jsonl")));
    assert_eq!(lines.len(), served(&sb) - before);
    let limited: Vec<&Value> = lines.iter().filter(|l| l["status"] == 429).collect();
    assert_eq!(limited.len(), rate_limited(&sb) - limited_before);
    assert!(!limited.is_empty(), "{lines:?}");
    for l in &limited {
        for h in RATE_HEADERS {
            assert!(l["rate_limit"][h].is_string(), "{h} missing: {l}");
        }
    }
    // One line per attempt: the login's 429s, then its success, numbered on.
    let logins: Vec<&Value> = lines
        .iter()
        .filter(|l| route(l) == "/api/v4/users/login")
        .collect();
    assert_eq!(logins[0]["status"], 429, "{logins:?}");
    let numbers: Vec<u64> = logins
        .iter()
        .filter_map(|l| l["attempt"].as_u64())
        .collect();
    assert_eq!(numbers, (1..=logins.len() as u64).collect::<Vec<_>>());
    assert_eq!(logins.last().map(|l| l["status"].clone()), Some(200.into()));
}

#[test]
fn failed_attempts_are_numbered_on_and_transport_errors_logged() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        fault_rate: 1.0,
        fault_phase: FaultPhase::Before,
        ..config()
    });
    let d = tmp();
    write(d.path(), "one.csv", &users_csv(1));
    let url = sb.url();
    let run = |log: &str, attempts: &str| {
        roster(
            d.path(),
            &[
                "import",
                "one.csv",
                "--server",
                &url,
                "--flavor",
                "rocketchat",
                "--max-attempts",
                attempts,
                "--log",
                log,
            ],
            &as_importer(),
        )
    };
    // Every write fails: the create is tried three times, each after a lookup; its
    // lines count on across the lookups.
    let o = run("faults.jsonl", "3");
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let lines = lines_of(&read(&d.path().join("faults.jsonl")));
    let creates: Vec<&Value> = lines
        .iter()
        .filter(|l| route(l) == "/api/v1/users.create")
        .collect();
    let numbers: Vec<u64> = creates
        .iter()
        .filter_map(|l| l["attempt"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2, 3], "{creates:?}");
    assert!(
        creates
            .iter()
            .all(|l| l["status"].as_u64().is_some_and(|s| s >= 500))
    );

    // Every answer but the login's is dropped: GET /me is retried, and each attempt is
    // a line with the error and no status.
    sb.set_faults(0.0, 1.0);
    let o = run("drops.jsonl", "2");
    assert_eq!(o.code(), 2, "{}", o.stderr());
    let lines = lines_of(&read(&d.path().join("drops.jsonl")));
    let me: Vec<&Value> = lines.iter().filter(|l| route(l) == "/api/v1/me").collect();
    assert_eq!(me.len(), 2, "{lines:?}");
    for (i, l) in me.iter().enumerate() {
        assert_eq!(l["attempt"].as_u64(), Some(i as u64 + 1));
        assert!(l.get("status").is_none(), "{l}");
        assert!(
            l["error"].as_str().is_some_and(|e| !e.contains("http://")),
            "an error without the URL: {l}"
        );
    }
}

#[test]
fn a_log_naming_the_source_is_refused_before_anything() {
    let d = tmp();
    let src = write(d.path(), "users.csv", &users_csv(2));
    let o = roster(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            "http://127.0.0.1:9",
            "--log",
            "users.csv",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--log"), "{}", o.stderr());
    assert_eq!(read(&src), users_csv(2), "the source is untouched");
}
