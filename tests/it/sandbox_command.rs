//! `roster sandbox`, the command: it prints its URL, serves either flavor with the
//! limiter flags given, saves its state on SIGTERM and refuses bad flags (exit 2); each of its
//! switches has the effect its help states, seen over HTTP from a child process. The
//! emulators themselves are tested in crates/roster-sandbox.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::support::{
    ADMIN_PW, BIN, Reply, Session, UA, client, jsonl, login_raw, mm_login_raw, send, tmp,
    wait_for_lines,
};

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

/// `roster sandbox --port 0 --bcrypt-cost 4 ARGS` with the admin password [`ADMIN_PW`],
/// killed when dropped.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sandbox(args: &[&str]) -> Running {
    sandbox_env(args, &[])
}

/// [`sandbox`] with these environment variables set too.
fn sandbox_env(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--port", "0", "--bcrypt-cost", "4"])
        .args(args)
        .env_remove("CREATE_TOKENS_FOR_USERS_SECRET")
        .envs(env.iter().copied())
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .env_remove("ROSTER_SANDBOX_ADMIN_PASSWORD_FILE")
        .env_remove("ROSTER_SANDBOX_IMPORTER_PASSWORD")
        .env_remove("ROSTER_SANDBOX_IMPORTER_PASSWORD_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("roster runs");
    let mut url = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut url).unwrap();
    }
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{args:?}: {url:?}");
    Running { child, url }
}

/// A Rocket.Chat session on a sandbox run as a child process.
fn rc_session(url: &str, user: &str, password: &str) -> Session {
    let client = client();
    let r = login_raw(&client, url, user, password);
    assert_eq!(r.status, 200, "login as {user}: {}", r.text);
    Session {
        base: url.to_string(),
        client,
        user_id: r.body["data"]["userId"].as_str().unwrap().to_string(),
        token: r.body["data"]["authToken"].as_str().unwrap().to_string(),
        ua: UA.to_string(),
    }
}

fn create_ann(s: &Session) -> Reply {
    s.post(
        "/api/v1/users.create",
        &json!({"username": "ann", "email": "ann@example.org", "name": "Ann",
                "password": "ann-pw-12345"}),
    )
}

#[test]
fn sandbox_passwords_from_the_command_line() {
    let sb = sandbox(&[
        "--admin-password",
        "flag-admin-pw",
        "--importer-password",
        "flag-importer-pw",
    ]);
    let c = client();
    // The flag wins over ROSTER_SANDBOX_ADMIN_PASSWORD, and the importer has its own.
    assert_eq!(login_raw(&c, &sb.url, "admin", "flag-admin-pw").status, 200);
    assert_eq!(login_raw(&c, &sb.url, "admin", ADMIN_PW).status, 401);
    assert_eq!(
        login_raw(&c, &sb.url, "importer", "flag-importer-pw").status,
        200
    );
    assert_eq!(
        login_raw(&c, &sb.url, "importer", "flag-admin-pw").status,
        401
    );
}

#[test]
fn sandbox_seed_gives_the_same_ids_twice() {
    let id = |seed: &str| {
        let sb = sandbox(&["--seed", seed, "--no-rate-limit"]);
        let r = create_ann(&rc_session(&sb.url, "admin", ADMIN_PW));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["user"]["_id"].as_str().unwrap().to_string()
    };
    let first = id("42");
    assert_eq!(first, id("42"));
    assert_ne!(first, id("43"));
}

#[test]
fn sandbox_log_writes_one_line_per_request() {
    let dir = tmp();
    let log = dir.path().join("requests.jsonl");
    let sb = sandbox(&["--log", log.to_str().unwrap()]);
    let c = client();
    assert_eq!(send(c.get(format!("{}/api/info", sb.url))).status, 200);
    assert_eq!(login_raw(&c, &sb.url, "admin", ADMIN_PW).status, 200);
    assert_eq!(send(c.get(format!("{}/api/info", sb.url))).status, 200);
    wait_for_lines(&log, 3);
    let lines = jsonl(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(Value::is_object), "{lines:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(ADMIN_PW), "no passwords in the log: {text}");
}

fn elapsed_ms(c: &Client, url: &str) -> u128 {
    let t = Instant::now();
    assert_eq!(send(c.get(format!("{url}/api/info"))).status, 200);
    t.elapsed().as_millis()
}

#[test]
fn sandbox_latency_and_jitter_delay_answers() {
    let c = client();
    let sb = sandbox(&["--latency", "300"]);
    for _ in 0..2 {
        let ms = elapsed_ms(&c, &sb.url);
        assert!(ms >= 300, "--latency 300 answered in {ms} ms");
    }
    // Uniform in 0..=400 ms: six draws all under 40 ms would be a one-in-a-million case
    // (and with a fixed seed the draws are the same every run).
    let sb = sandbox(&["--jitter", "400", "--seed", "5"]);
    let slowest = (0..6).map(|_| elapsed_ms(&c, &sb.url)).max().unwrap_or(0);
    assert!(slowest >= 40, "--jitter 400: slowest answer {slowest} ms");
}

#[test]
fn sandbox_capacity_slows_then_refuses_requests_beyond_it() {
    let sb = sandbox(&["--capacity", "1", "--latency", "300"]);
    // Six at once against a capacity of one: past four in flight, 503 at once.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let all: Vec<_> = (0..6)
            .map(|_| s.spawn(|| send(client().get(format!("{}/api/info", sb.url))).status))
            .collect();
        all.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

#[test]
fn sandbox_drop_rate_closes_connections_but_not_logins() {
    let sb = sandbox(&["--drop-rate", "1", "--no-rate-limit"]);
    let r = client().get(format!("{}/api/info", sb.url)).send();
    assert!(r.is_err(), "--drop-rate 1 answered: {r:?}");
    assert_eq!(login_raw(&client(), &sb.url, "admin", ADMIN_PW).status, 200);
}

#[test]
fn sandbox_fault_phase_decides_whether_the_write_happened() {
    for (phase, applied) in [("before", false), ("after", true)] {
        let sb = sandbox(&[
            "--fault-rate",
            "1",
            "--fault-phase",
            phase,
            "--no-rate-limit",
        ]);
        let admin = rc_session(&sb.url, "admin", ADMIN_PW);
        let r = create_ann(&admin);
        assert!(r.status >= 500, "{phase}: {} {}", r.status, r.text);
        // Reads are never faulted.
        let r = admin.get("/api/v1/users.info?username=ann");
        assert_eq!(
            r.body["success"], applied,
            "--fault-phase {phase}: {}",
            r.text
        );
    }
}

#[test]
fn sandbox_custom_fields_setting_is_enforced() {
    let sb = sandbox(&[
        "--custom-fields",
        r#"{"dept":{"type":"text","required":true}}"#,
        "--no-rate-limit",
    ]);
    let admin = rc_session(&sb.url, "admin", ADMIN_PW);
    let user = |fields: Value| {
        json!({"username": "ann", "email": "ann@example.org", "name": "Ann",
               "password": "ann-pw-12345", "customFields": fields})
    };
    let r = admin.post("/api/v1/users.create", &user(json!({"other": "x"})));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Field dept is required"), "{}", r.text);
    let r = admin.post("/api/v1/users.create", &user(json!({"dept": "IT"})));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["customFields"]["dept"], "IT", "{}", r.text);
}

#[test]
fn sandbox_rate_limit_window_ms_sets_the_window() {
    let sb = sandbox(&["--rate-limit-calls", "1", "--rate-limit-window-ms", "2000"]);
    let importer = rc_session(&sb.url, "importer", ADMIN_PW);
    let refused = (0..3)
        .map(|_| importer.get("/api/v1/me"))
        .find(|r| r.status == 429)
        .expect("one call per window");
    let wait: i64 = refused
        .error()
        .strip_prefix("Error, too many requests. Please slow down. You must wait ")
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}", refused.text));
    assert!((1..=2).contains(&wait), "a 2 s window, wait {wait} s");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(importer.get("/api/v1/me").status, 200);
}

/// Mattermost: the admin's session token.
fn mm_token(c: &Client, url: &str) -> String {
    let r = mm_login_raw(c, url, "admin", ADMIN_PW);
    assert_eq!(r.status, 200, "{}", r.text);
    r.header("token").expect("a Token header")
}

#[test]
fn sandbox_mm_open_server_and_api_user_deletion() {
    let c = client();
    let zed = json!({"username": "zed", "email": "zed@example.org", "password": "Passw0rd-long"});
    let run = |args: &[&str]| -> (u16, u16) {
        let sb = sandbox(&[&["--flavor", "mattermost"], args].concat());
        let anonymous = send(c.post(format!("{}/api/v4/users", sb.url)).json(&zed));
        let token = mm_token(&c, &sb.url);
        let r = send(
            c.post(format!("{}/api/v4/users", sb.url))
                .bearer_auth(&token)
                .json(&json!({"username": "amy", "email": "amy@example.org",
                              "password": "Passw0rd-long"})),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap();
        let deleted = send(
            c.delete(format!("{}/api/v4/users/{id}?permanent=true", sb.url))
                .bearer_auth(&token),
        );
        (anonymous.status, deleted.status)
    };
    assert_eq!(run(&[]), (403, 401), "both off by default");
    assert_eq!(
        run(&["--mm-open-server", "--mm-enable-api-user-deletion"]),
        (201, 200)
    );
}

#[test]
fn sandbox_tokens_for_other_users_need_their_switches() {
    let c = client();
    let run = |args: &[&str]| -> u16 {
        let sb = sandbox(&[&["--flavor", "mattermost"], args].concat());
        let token = mm_token(&c, &sb.url);
        let me = send(
            c.get(format!("{}/api/v4/users/me", sb.url))
                .bearer_auth(&token),
        );
        let id = me.body["id"].as_str().unwrap().to_string();
        send(
            c.post(format!("{}/api/v4/users/{id}/tokens", sb.url))
                .bearer_auth(&token)
                .json(&json!({"description": "ci"})),
        )
        .status
    };
    assert_eq!(run(&[]), 501, "off by default");
    assert_eq!(run(&["--mm-enable-user-access-tokens"]), 200);
    let rc = |env: &[(&str, &str)]| -> String {
        let sb = sandbox_env(&[], env);
        let admin = rc_session(&sb.url, "admin", ADMIN_PW);
        let code = roster_test_support::sha256_hex(ADMIN_PW);
        let r = admin.post_h(
            "/api/v1/users.createToken",
            &json!({"userId": admin.user_id, "secret": "s"}),
            &[("x-2fa-method", "password"), ("x-2fa-code", &code)],
        );
        if r.status == 200 {
            "made".into()
        } else {
            r.error().to_string()
        }
    };
    assert_eq!(rc(&[]), "Not authorized [error-not-authorized]");
    assert_eq!(rc(&[("CREATE_TOKENS_FOR_USERS_SECRET", "s")]), "made");
}

fn mm_ping(c: &Client, url: &str, tenant: &str) -> Reply {
    send(
        c.get(format!("{url}/api/v4/system/ping"))
            .header("X-Tenant", tenant),
    )
}

/// A limit of 2 (burst 1) refilled once a second.
const MM_TIGHT: &[&str] = &[
    "--flavor",
    "mattermost",
    "--rate-limit",
    "--mm-per-sec",
    "1",
    "--mm-burst",
    "1",
];

#[test]
fn sandbox_mm_vary_by_header_and_memory_store_size() {
    let sb = sandbox(&[MM_TIGHT, &["--mm-vary-by-header", "X-Tenant"]].concat());
    let c = client();
    let remaining = |r: &Reply| r.header("x-ratelimit-remaining");
    assert_eq!(remaining(&mm_ping(&c, &sb.url, "a")).as_deref(), Some("1"));
    assert_eq!(remaining(&mm_ping(&c, &sb.url, "a")).as_deref(), Some("0"));
    assert_eq!(
        mm_ping(&c, &sb.url, "A").status,
        429,
        "values are lowercased"
    );
    assert_eq!(remaining(&mm_ping(&c, &sb.url, "b")).as_deref(), Some("1"));

    // A store of one key: tenant b evicts a, whose bucket starts afresh.
    let sb = sandbox(
        &[
            MM_TIGHT,
            &[
                "--mm-vary-by-header",
                "X-Tenant",
                "--mm-memory-store-size",
                "1",
            ],
        ]
        .concat(),
    );
    for _ in 0..2 {
        mm_ping(&c, &sb.url, "a");
    }
    assert_eq!(mm_ping(&c, &sb.url, "a").status, 429);
    assert_eq!(mm_ping(&c, &sb.url, "b").status, 200);
    let r = mm_ping(&c, &sb.url, "a");
    assert_eq!(r.status, 200);
    assert_eq!(remaining(&r).as_deref(), Some("1"));
}

/// A client whose connections come from `127.0.0.N`.
fn client_from(n: u8) -> Client {
    let _ = client();
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[test]
fn sandbox_mm_no_vary_by_remote_addr_shares_one_bucket() {
    let (one, two) = (client_from(1), client_from(2));
    let second_address_after_the_first = |args: &[&str]| {
        let sb = sandbox(&[MM_TIGHT, args].concat());
        for _ in 0..2 {
            mm_ping(&one, &sb.url, "");
        }
        assert_eq!(mm_ping(&one, &sb.url, "").status, 429);
        mm_ping(&two, &sb.url, "").status
    };
    assert_eq!(
        second_address_after_the_first(&[]),
        200,
        "a bucket per address"
    );
    assert_eq!(
        second_address_after_the_first(&["--mm-no-vary-by-remote-addr"]),
        429,
        "one global bucket"
    );
}

#[test]
fn sandbox_mm_vary_by_user_adds_a_second_set_of_headers() {
    let c = client();
    let limits = |args: &[&str]| {
        let sb = sandbox(&[&["--flavor", "mattermost", "--rate-limit"], args].concat());
        let token = mm_token(&c, &sb.url);
        let r = send(
            c.get(format!("{}/api/v4/users/me", sb.url))
                .bearer_auth(&token),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        let values: Vec<String> = r
            .headers
            .get_all("x-ratelimit-limit")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect();
        values
    };
    assert_eq!(limits(&[]), ["101"]);
    assert_eq!(limits(&["--mm-vary-by-user"]), ["101", "101"]);
}

#[test]
fn sandbox_teams_channels_and_team_limit_flags() {
    let c = client();
    // Mattermost: --team with its default channels, --channel TEAM/NAME, the team limit.
    let sb = sandbox(&[
        "--flavor",
        "mattermost",
        "--team",
        "crew",
        "--channel",
        "crew/dev",
        "--mm-max-users-per-team",
        "1",
    ]);
    let token = mm_token(&c, &sb.url);
    let get = |path: &str| {
        send(
            c.get(format!("{}/api/v4{path}", sb.url))
                .bearer_auth(&token),
        )
    };
    let team = get("/teams/name/crew");
    assert_eq!(team.status, 200, "{}", team.text);
    let id = team.body["id"].as_str().unwrap().to_string();
    for ch in ["dev", "town-square", "off-topic"] {
        assert_eq!(
            get(&format!("/teams/{id}/channels/name/{ch}")).status,
            200,
            "{ch}"
        );
    }
    let me = get("/users/me").body["id"].as_str().unwrap().to_string();
    let add = |uid: &str| {
        send(
            c.post(format!("{}/api/v4/teams/{id}/members", sb.url))
                .bearer_auth(&token)
                .json(&json!({"team_id": id, "user_id": uid})),
        )
    };
    assert_eq!(add(&me).status, 201);
    let other = send(
        c.post(format!("{}/api/v4/users", sb.url))
            .bearer_auth(&token)
            .json(&json!({"username": "amy", "email": "amy@example.org", "password": "Passw0rd-long"})),
    );
    let r = add(other.body["id"].as_str().unwrap());
    assert_eq!(
        r.body["id"], "app.team.join_user_to_team.save_member.max_accounts.app_error",
        "{}",
        r.text
    );
    drop(sb);

    // Rocket.Chat: a team's main room and a standalone channel.
    let sb = sandbox(&[
        "--team",
        "crew",
        "--channel",
        "lobby",
        "--channel",
        "crew/dev",
    ]);
    let s = rc_session(&sb.url, "admin", ADMIN_PW);
    assert_eq!(s.get("/api/v1/teams.info?teamName=crew").status, 200);
    assert_eq!(s.get("/api/v1/channels.info?roomName=lobby").status, 200);
    let dev = s.get("/api/v1/channels.info?roomName=dev");
    assert!(dev.body["channel"]["teamId"].is_string(), "{}", dev.text);
}

#[test]
fn sandbox_channel_needs_a_team_on_mattermost() {
    let out = Command::new(BIN)
        .args([
            "sandbox",
            "--port",
            "0",
            "--flavor",
            "mattermost",
            "--channel",
            "dev",
        ])
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .output()
        .expect("roster runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a team"), "{err}");
    let out = Command::new(BIN)
        .args(["sandbox", "--port", "0", "--channel", "crew/"])
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .output()
        .expect("roster runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NAME or TEAM/NAME"));
}
