//! Helpers shared by the integration tests of roster and roster-sandbox, each defined once
//! (as cargo's `cargo-test-support`): start a sandbox on an ephemeral port and talk to it
//! over HTTP with reqwest as any client would ([`Session`], [`send`]), run the Python
//! conformance clients ([`run_conformance`]), run the roster binary ([`roster_at`]) and read
//! what it wrote ([`Ran`], [`jsonl`]), run it on a pseudo-terminal ([`pty`]), and a
//! throwaway OpenLDAP server ([`slapd`]).

pub mod pty;
pub mod slapd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};
use roster_sandbox::{Sandbox, SandboxConfig, Secret, SeedUser};
use serde_json::{Value, json};

pub const ADMIN_PW: &str = "Admin-test-pw-1";
pub const IMPORTER_PW: &str = "Importer-test-pw-2";
pub const UA: &str = "roster-tests/1";

/// Defaults for tests: fast bcrypt, known passwords, a fixed seed.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        admin_password: Some(Secret::new(ADMIN_PW)),
        importer_password: Some(Secret::new(IMPORTER_PW)),
        bcrypt_cost: 4,
        seed: Some(42),
        ..SandboxConfig::default()
    }
}

/// Seeds `n` plain users `seed.000`… (`seed.000@example.org`, `Seed 0`, no password), the
/// population the referee clients page through; `active(i)` says which are active.
pub fn seed_people(sb: &Sandbox, n: usize, active: impl Fn(usize) -> bool) {
    let users: Vec<SeedUser> = (0..n)
        .map(|i| SeedUser {
            username: format!("seed.{i:03}"),
            email: format!("seed.{i:03}@example.org"),
            name: format!("Seed {i}"),
            password: None,
            active: active(i),
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed");
}

pub fn start(cfg: SandboxConfig) -> Sandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Sandbox::start(cfg).expect("sandbox starts")
}

/// A Rocket.Chat sandbox with its rate limiter off, for tests about what is written.
pub fn rocketchat() -> Sandbox {
    start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    })
}

pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

pub fn send(rb: RequestBuilder) -> Reply {
    let resp = rb.send().expect("request reaches the sandbox");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// POST /api/v1/login without a session.
pub fn login_raw(client: &Client, base: &str, user: &str, password: &str) -> Reply {
    send(
        client
            .post(format!("{base}/api/v1/login"))
            .header("User-Agent", UA)
            .json(&json!({"user": user, "password": password})),
    )
}

/// Mattermost's POST /api/v4/users/login without a session.
pub fn mm_login_raw(client: &Client, base: &str, login_id: &str, password: &str) -> Reply {
    send(
        client
            .post(format!("{base}/api/v4/users/login"))
            .json(&json!({"login_id": login_id, "password": password})),
    )
}

/// A logged-in client.
pub struct Session {
    pub base: String,
    pub client: Client,
    pub user_id: String,
    pub token: String,
    pub ua: String,
}

impl Session {
    pub fn login(sb: &Sandbox, user: &str, password: &str) -> Session {
        let client = client();
        let r = login_raw(&client, &sb.url(), user, password);
        assert_eq!(r.status, 200, "login as {user}: {}", r.text);
        Session {
            base: sb.url(),
            client,
            user_id: r.body["data"]["userId"]
                .as_str()
                .expect("userId")
                .to_string(),
            token: r.body["data"]["authToken"]
                .as_str()
                .expect("authToken")
                .to_string(),
            ua: UA.to_string(),
        }
    }

    pub fn admin(sb: &Sandbox) -> Session {
        Session::login(sb, "admin", ADMIN_PW)
    }

    pub fn importer(sb: &Sandbox) -> Session {
        Session::login(sb, "importer", IMPORTER_PW)
    }

    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        self.auth_as(rb, &self.ua)
    }

    fn auth_as(&self, rb: RequestBuilder, ua: &str) -> RequestBuilder {
        rb.header("X-User-Id", &self.user_id)
            .header("X-Auth-Token", &self.token)
            .header("User-Agent", ua)
    }

    pub fn get(&self, path: &str) -> Reply {
        send(self.auth(self.client.get(format!("{}{path}", self.base))))
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_h(path, body, &[])
    }

    pub fn post_h(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
        // A User-Agent given here replaces the session's (headers would otherwise repeat).
        let ua = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
            .map(|(_, v)| *v)
            .unwrap_or(&self.ua);
        let mut rb = self.auth_as(
            self.client.post(format!("{}{path}", self.base)).json(body),
            ua,
        );
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("user-agent") {
                rb = rb.header(*k, *v);
            }
        }
        send(rb)
    }

    /// users.create with the required fields; panics unless it succeeds.
    pub fn create_user(&self, username: &str, email: &str, password: &str) -> String {
        let r = self.post(
            "/api/v1/users.create",
            &json!({"username": username, "email": email, "name": username, "password": password}),
        );
        assert_eq!(r.status, 200, "create {username}: {}", r.text);
        r.body["user"]["_id"].as_str().expect("_id").to_string()
    }
}

/// Lowercase hex SHA-256, the `x-2fa-code` for the password method.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

pub const VENV_HELP: &str = "python3 -m venv target/test-venv && target/test-venv/bin/pip install rocketchat-api mattermostdriver";

/// The workspace root: scripts/test and the venv live there.
pub fn workspace_root() -> PathBuf {
    // This crate sits at crates/roster-test-support.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with the two client packages: `$ROSTER_TEST_PYTHON`, else
/// `target/test-venv/bin/python` (scripts/test creates it). Missing is a failure, not a skip.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ROSTER_TEST_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "ROSTER_TEST_PYTHON={} does not exist; unset it or create the venv: {VENV_HELP}",
            p.display()
        );
        return p;
    }
    let root = workspace_root();
    let p = root.join("target/test-venv/bin/python");
    assert!(
        p.exists(),
        "no Python for the conformance test: set ROSTER_TEST_PYTHON or run, in {}: {VENV_HELP}",
        root.display()
    );
    p
}

/// Runs SCRIPT (a path) against a sandbox (the URL and the number of seeded users as
/// arguments) and checks it reports success; returns its stdout.
pub fn run_conformance(script: &Path, url: &str, seeded: usize, package: &str) -> String {
    let out = Command::new(python())
        .arg(script)
        .arg(url)
        .arg(seeded.to_string())
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .output()
        .expect("the Python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}\n(if {package} is missing: {VENV_HELP})",
        script.display(),
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    stdout
}

/// Runs the roster binary `bin` in `dir` with only the given ROSTER_* credentials set.
/// `bin` comes from the calling test crate (`env!("CARGO_BIN_EXE_roster")` is set only
/// for roster's own tests).
pub fn roster_at(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin);
    c.args(args).current_dir(dir).stdin(Stdio::null());
    for k in [
        "ROSTER_TOKEN",
        "ROSTER_USER_ID",
        "ROSTER_USERNAME",
        "ROSTER_PASSWORD",
        "ROSTER_PASSWORD_FILE",
        "ROSTER_CREATE_TOKENS_SECRET",
        "ROSTER_CREATE_TOKENS_SECRET_FILE",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("roster runs")
}

/// Starts the roster binary `bin` in `dir` in the background, as the seeded `importer`;
/// stdout is discarded, stderr is kept to read after the run.
pub fn spawn_as_importer_at(bin: &Path, dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env_remove("ROSTER_TOKEN")
        .env_remove("ROSTER_USER_ID")
        .env("ROSTER_USERNAME", "importer")
        .env("ROSTER_PASSWORD", IMPORTER_PW)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn roster")
}

/// Waits (up to 30 s) until `path` has at least `n` lines: a journal filling up.
pub fn wait_for_lines(path: &Path, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < n
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The seeded `importer`'s credentials.
pub fn as_importer() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ROSTER_USERNAME", "importer"),
        ("ROSTER_PASSWORD", IMPORTER_PW),
    ]
}

/// What tests ask of a finished run.
pub trait Ran {
    /// The exit code (-1 when killed by a signal).
    fn code(&self) -> i32;
    fn stderr(&self) -> String;
}

impl Ran for Output {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A JSON Lines file (report, dump), one value per line.
pub fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("file exists")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Requests that changed something, on either server: every POST but the logins and the
/// lookups that are POSTs (Mattermost `usernames`, `ids`), and every PUT and DELETE. So
/// Rocket.Chat's `users.create`, `users.update`, `users.setActiveStatus`, `users.delete`,
/// `channels.invite`, `teams.addMembers`, `users.setAvatar`... all count.
pub fn writes(sb: &Sandbox) -> u64 {
    roster_sandbox::writes_in(&sb.counters())
}

/// Requests to every route whose key contains `route` (`users.create`, `/patch`, ...).
pub fn requests(sb: &Sandbox, route: &str) -> u64 {
    sb.counters()
        .iter()
        .filter(|(k, _)| k.contains(route))
        .map(|(_, c)| c.requests)
        .sum()
}

/// The sandbox's record of user `name` (`Null` when there is none).
pub fn user(sb: &Sandbox, name: &str) -> Value {
    sb.users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap_or(Value::Null)
}

/// The sandbox's users but the two seeded accounts.
pub fn server_users(sb: &Sandbox) -> Vec<Value> {
    sb.users()
        .into_iter()
        .filter(|u| !matches!(u["username"].as_str(), Some("admin" | "importer")))
        .collect()
}

/// `n` valid Rocket.Chat-style rows (`u0001`, ...) with username, email, name, password.
pub fn users_csv(n: usize) -> String {
    let mut s = String::from("username,email,name,password\n");
    for i in 1..=n {
        s.push_str(&format!(
            "u{i:04},u{i:04}@example.org,User {i},Pw-{i:04}-long\n"
        ));
    }
    s
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Writes an input file into `dir`; returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write input");
    p
}

/// How to install the Node referees when they are missing.
pub const REFEREES_HELP: &str = "scripts/test installs them; by hand: apt-get install nodejs npm, then `npm ci --no-audit --no-fund` in tests/referees";

/// tests/referees: the Node scripts and their lockfile (the servers' own code as referees).
pub fn referees_dir() -> PathBuf {
    workspace_root().join("tests/referees")
}

/// Node.js: `$ROSTER_TEST_NODE`, else `node` on the PATH. The referees' packages must be
/// installed (tests/referees/node_modules); missing is a failure, not a skip.
pub fn node() -> PathBuf {
    let dir = referees_dir();
    assert!(
        dir.join("node_modules/ajv").is_dir()
            && dir.join("node_modules/@mattermost/client").is_dir(),
        "the referees' npm packages are not installed in {}: {REFEREES_HELP}",
        dir.display()
    );
    PathBuf::from(std::env::var_os("ROSTER_TEST_NODE").unwrap_or_else(|| "node".into()))
}

/// Runs tests/referees/SCRIPT with Node (through the rest-typings resolve hook) and the given
/// arguments and environment; on failure, panics with everything it printed (the referee's
/// disagreements, as diffs). Returns stdout, which must end with the referee's
/// `N passed, 0 failed` line.
pub fn run_referee(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = referees_dir();
    let mut c = Command::new(node());
    c.current_dir(&dir)
        .arg("--import")
        .arg("./register.mjs")
        .arg(script)
        .args(args)
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("node runs ({e}); {REFEREES_HELP}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "referee {script} disagrees with the sandbox ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}\n{stderr}");
    stdout
}
