//! Benchmarks against the sandbox (commands, not tests; figures go in the README).
//!
//! ```text
//! cargo build --release && cargo run --release --example bench -- pacing
//! cargo run --release --example bench -- workers     # unthrottled, 10 ms latency, 4/8/16 workers
//! cargo run --release --example bench -- python      # roster against a sequential rocketchat-api loop
//! cargo run --release --example bench -- mm-pacing   # Mattermost GCRA 10/s burst 100, 2,000 users
//! cargo run --release --example bench -- sync        # 10,000 managed users, 1 % changed
//! cargo run --release --example bench -- capacity    # adaptive concurrency vs a sweep of fixed workers
//! cargo run --release --example bench -- do          # roster do vs import --mode update, same accounts
//! ```
//! Each prints its figures as ratios against what the same run measures as ideal.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use roster::secret::Secret;
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

const ADMIN_PW: &str = "Bench-admin-pw-1";
const IMPORTER_PW: &str = "Bench-importer-pw-2";

fn roster_bin() -> PathBuf {
    // `cargo run --example bench` builds the example, not the binary it drives: build that
    // too, so a benchmark never measures a stale roster (a no-op when it is current).
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--bin", "roster"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cargo build --release --bin roster failed");
    });
    let exe = std::env::current_exe().expect("own path");
    // target/release/examples/bench → target/release/roster
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("roster"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release ({})",
        bin.display()
    );
    bin
}

fn sandbox(cfg: SandboxConfig) -> Sandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Sandbox::start(SandboxConfig {
        admin_password: Some(Secret::new(ADMIN_PW)),
        importer_password: Some(Secret::new(IMPORTER_PW)),
        bcrypt_cost: 4,
        seed: Some(7),
        ..cfg
    })
    .expect("sandbox")
}

fn csv(dir: &Path, n: usize, start: usize) -> PathBuf {
    let mut s = String::from("username,email,first_name,last_name,name,password\n");
    for i in start..start + n {
        s.push_str(&format!(
            "b{i:06},b{i:06}@example.org,First{i},Last{i},Bench User {i},Pw-{i:06}-long\n"
        ));
    }
    let p = dir.join(format!("bench-{n}-{start}.csv"));
    std::fs::write(&p, s).expect("write input");
    p
}

fn run(args: &[&str], user: &str, pw: &str) -> (Duration, i32, String) {
    let t = Instant::now();
    let out = Command::new(roster_bin())
        .args(args)
        .env("ROSTER_USERNAME", user)
        .env("ROSTER_PASSWORD", pw)
        .stdin(Stdio::null())
        .output()
        .expect("roster runs");
    (
        t.elapsed(),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn count(sb: &Sandbox, key_part: &str) -> (u64, u64) {
    sb.counters()
        .iter()
        .filter(|(k, _)| k.contains(key_part))
        .fold((0, 0), |(r, l), (_, c)| {
            (r + c.requests, l + c.rate_limited)
        })
}

/// Samples a counter every 5 ms: when it first moved and when it reached `n`.
fn watch(
    sb: &Sandbox,
    key: &'static str,
    n: u64,
    stop: &AtomicBool,
) -> (Option<Instant>, Option<Instant>) {
    let (mut first, mut last) = (None, None);
    while !stop.load(Ordering::Relaxed) && last.is_none() {
        let ok = sb
            .counters()
            .get(key)
            .map(|c| c.requests - c.rate_limited)
            .unwrap_or(0);
        let now = Instant::now();
        if ok > 0 && first.is_none() {
            first = Some(now);
        }
        if ok >= n {
            last = Some(now);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (first, last)
}

fn pacing() {
    let (n, limit, window_ms) = (600u64, 20u32, 2000u64);
    let sb = Arc::new(sandbox(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: limit,
        rc_limit_window_ms: window_ms,
        ..SandboxConfig::default()
    }));
    let d = tempfile::tempdir().unwrap();
    let input = csv(d.path(), n as usize, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (sb, stop) = (sb.clone(), stop.clone());
        std::thread::spawn(move || watch(&sb, "POST /api/v1/users.create", n, &stop))
    };
    let (wall, code, _) = run(
        &[
            "import",
            input.to_str().unwrap(),
            "--server",
            &sb.url(),
            "--quiet",
        ],
        "importer",
        IMPORTER_PW,
    );
    stop.store(true, Ordering::Relaxed);
    let (first, last) = watcher.join().unwrap();
    let (Some(first), Some(last)) = (first, last) else {
        panic!("creates did not complete (exit {code})");
    };
    // The creates occupied the windows from the first to the last: count each in full.
    let span = last.duration_since(first).as_secs_f64() + window_ms as f64 / 1000.0;
    let allowed = limit as f64 / (window_ms as f64 / 1000.0);
    let achieved = n as f64 / span;
    let (_, create_429) = count(&sb, "users.create");
    let (_, info_429) = count(&sb, "users.info");
    let windows = (n as f64 / limit as f64).ceil();
    println!(
        "pacing: Rocket.Chat limiter {limit} calls / {window_ms} ms per route, importer account, {n} new users, default options"
    );
    println!("  exit {code}, wall {:.1} s", wall.as_secs_f64());
    println!(
        "  creates/s achieved {achieved:.2}, allowed {allowed:.2}: ratio {:.3}",
        achieved / allowed
    );
    println!(
        "  429s: users.create {create_429}, users.info {info_429} over {windows} windows each ({:.2} per window)",
        (create_429 + info_429) as f64 / (2.0 * windows)
    );
}

/// A sandbox in its own process (as administrators would run it), logging requests.
fn external_sandbox(extra: &[&str], log: &Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(roster_bin())
        .args([
            "sandbox",
            "--port",
            "0",
            "--admin-password",
            ADMIN_PW,
            "--log",
            log.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("URL line");
    (child, line.trim().to_string())
}

/// First and last time of a route in a sandbox log, in seconds.
fn log_span(log: &Path, route: &str) -> (f64, usize) {
    let text = std::fs::read_to_string(log).expect("log");
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["route"] == route && v["status"] == 200)
        .filter_map(|v| {
            v["time"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339(t).ok())
        })
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
        })
        .collect();
    let (lo, hi) = times
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
    (hi - lo, times.len())
}

fn workers() {
    let latency = 10u64;
    let n = 2000usize;
    println!(
        "workers: admin (no limiter), sandbox latency {latency} ms, no bcrypt on the server, {n} new users"
    );
    println!(
        "  (rate = creates between the first and the last create in the sandbox's log, so start-up is not counted)"
    );
    for w in [4usize, 8, 16] {
        for mode in ["create", "upsert"] {
            let d = tempfile::tempdir().unwrap();
            let log = d.path().join("log.jsonl");
            let lat = latency.to_string();
            let (mut sb, url) = external_sandbox(
                &["--no-rate-limit", "--bcrypt-cost", "0", "--latency", &lat],
                &log,
            );
            let input = csv(d.path(), n, 1);
            let ws = w.to_string();
            let (_, code, _) = run(
                &[
                    "import",
                    input.to_str().unwrap(),
                    "--server",
                    &url,
                    "--workers",
                    &ws,
                    "--fixed-workers",
                    "--mode",
                    mode,
                    "--quiet",
                ],
                "admin",
                ADMIN_PW,
            );
            let _ = Command::new("kill")
                .args(["-INT", &sb.id().to_string()])
                .status();
            let _ = sb.wait();
            let (span, creates) = log_span(&log, "POST /api/v1/users.create");
            let rate = (creates.saturating_sub(1)) as f64 / span;
            let target = 0.9 * w as f64 / (latency as f64 / 1000.0);
            let text = std::fs::read_to_string(&log).unwrap();
            let reqs = text.lines().count();
            println!(
                "  {w:>2} workers, --mode {mode:<6}: exit {code}, {rate:>7.1} creates/s; 0.9 x workers / latency = {target:.0}: ratio {:.2}; {:.2} requests per user",
                rate / target,
                reqs as f64 / n as f64
            );
        }
    }
}

fn python() {
    let py = std::env::var("ROSTER_TEST_PYTHON")
        .unwrap_or_else(|_| "target/test-venv/bin/python".into());
    assert!(
        Path::new(&py).exists(),
        "needs the test venv: scripts/test creates it ({py})"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_baseline.py");
    let n = 600usize;
    for (label, cfg) in [
        (
            "limited (importer, 20 calls / 2 s per route)",
            SandboxConfig {
                rate_limit: Some(true),
                rc_limit_calls: 20,
                rc_limit_window_ms: 2000,
                two_factor: false,
                ..SandboxConfig::default()
            },
        ),
        (
            "unlimited (admin), 10 ms latency",
            SandboxConfig {
                rate_limit: Some(false),
                latency_ms: 10,
                two_factor: false,
                ..SandboxConfig::default()
            },
        ),
        (
            "unlimited (admin), 50 ms latency",
            SandboxConfig {
                rate_limit: Some(false),
                latency_ms: 50,
                two_factor: false,
                ..SandboxConfig::default()
            },
        ),
    ] {
        let (user, pw) = if label.starts_with("limited") {
            ("importer", IMPORTER_PW)
        } else {
            ("admin", ADMIN_PW)
        };
        let sb = sandbox(cfg.clone());
        let d = tempfile::tempdir().unwrap();
        let input = csv(d.path(), n, 1);
        let t = Instant::now();
        let st = Command::new(&py)
            .args([
                script.to_str().unwrap(),
                &sb.url(),
                user,
                pw,
                input.to_str().unwrap(),
            ])
            .status()
            .expect("python runs");
        let py_wall = t.elapsed();
        assert!(st.success(), "python baseline failed");
        let sb2 = sandbox(cfg);
        let (wall, code, _) = run(
            &[
                "import",
                input.to_str().unwrap(),
                "--server",
                &sb2.url(),
                "--quiet",
            ],
            user,
            pw,
        );
        let reqs: u64 = sb2.counters().values().map(|c| c.requests).sum();
        println!(
            "python: {label}, {n} users: rocketchat-api loop {:.1} s, roster (default options) {:.2} s (exit {code}, {reqs} requests, {} connections): roster is {:.2}x faster",
            py_wall.as_secs_f64(),
            wall.as_secs_f64(),
            sb2.connections(),
            py_wall.as_secs_f64() / wall.as_secs_f64()
        );
    }
}

/// Adaptive concurrency against a server that serves `capacity` requests at once (beyond,
/// latency grows and, past four times as many, 503s): the default run against the best of a
/// sweep of fixed worker counts, all in this run.
fn capacity() {
    let (n, cap, latency) = (1000usize, 4usize, 20u64);
    println!(
        "capacity: Rocket.Chat sandbox serving {cap} requests at once at {latency} ms (latency grows beyond, 503 past {}), admin, {n} new users",
        4 * cap
    );
    let go = |extra: &[&str]| {
        let sb = sandbox(SandboxConfig {
            rate_limit: Some(false),
            two_factor: false,
            latency_ms: latency,
            capacity: Some(cap),
            ..SandboxConfig::default()
        });
        let d = tempfile::tempdir().unwrap();
        let input = csv(d.path(), n, 1);
        let url = sb.url();
        let mut args = vec![
            "import",
            input.to_str().unwrap(),
            "--server",
            &url,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let (wall, code, _) = run(&args, "admin", ADMIN_PW);
        let (reqs, faults) = sb
            .counters()
            .values()
            .fold((0u64, 0u64), |(r, f), c| (r + c.requests, f + c.faults));
        let rate = n as f64 / wall.as_secs_f64();
        (rate, code, reqs, faults, sb.peak_in_flight())
    };
    let mut best = (0.0f64, 0usize);
    for w in [2usize, 4, 6, 8, 10, 12, 16, 24, 32] {
        let ws = w.to_string();
        let (rate, code, reqs, faults, _) = go(&["--workers", &ws, "--fixed-workers"]);
        println!(
            "  --workers {w:>2} --fixed-workers: exit {code}, {rate:>6.1} users/s, 503s {faults} of {reqs} ({:.2} %)",
            100.0 * faults as f64 / reqs as f64
        );
        if rate > best.0 {
            best = (rate, w);
        }
    }
    let (rate, code, reqs, faults, peak) = go(&[]);
    println!(
        "  default (adaptive, ceiling 32): exit {code}, {rate:.1} users/s, peak {peak} in flight; 503s {faults} of {reqs} ({:.2} %)",
        100.0 * faults as f64 / reqs as f64
    );
    println!(
        "  adaptive ÷ best fixed ({} workers, {:.1} users/s): ratio {:.3}",
        best.1,
        best.0,
        rate / best.0
    );
}

fn mm_pacing() {
    let (n, per_sec, burst) = (2000u64, 10u32, 100u32);
    let sb = Arc::new(sandbox(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        rate_limit: Some(true),
        mm_per_sec: per_sec,
        mm_max_burst: burst,
        ..SandboxConfig::default()
    }));
    let d = tempfile::tempdir().unwrap();
    let input = csv(d.path(), n as usize, 1);
    let stop = Arc::new(AtomicBool::new(false));
    // Total requests over time: the achieved rate after the burst is spent.
    let sampler = {
        let (sb, stop) = (sb.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (r, l) = sb.counters().values().fold((0u64, 0u64), |(r, l), c| {
                    (r + c.requests, l + c.rate_limited)
                });
                samples.push((Instant::now(), r - l));
                std::thread::sleep(Duration::from_millis(20));
            }
            samples
        })
    };
    let (wall, code, _) = run(
        &[
            "import",
            input.to_str().unwrap(),
            "--server",
            &sb.url(),
            "--quiet",
        ],
        "importer",
        IMPORTER_PW,
    );
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    let (total, limited) = sb.counters().values().fold((0u64, 0u64), |(r, l), c| {
        (r + c.requests, l + c.rate_limited)
    });
    let t0 = samples
        .iter()
        .find(|(_, ok)| *ok > u64::from(burst))
        .copied()
        .expect("burst spent");
    let t1 = samples.last().copied().unwrap();
    let achieved = (t1.1 - t0.1) as f64 / t1.0.duration_since(t0.0).as_secs_f64();
    let lookups = sb
        .counters()
        .get("POST /api/v4/users/usernames")
        .map(|c| c.requests)
        .unwrap_or(0);
    println!(
        "mm-pacing: Mattermost GCRA {per_sec}/s, burst {burst}, importer, {n} new users, default options"
    );
    println!(
        "  exit {code}, wall {:.1} s, {total} requests",
        wall.as_secs_f64()
    );
    println!(
        "  after the burst: {achieved:.2} requests/s, allowed {per_sec}: ratio {:.3}",
        achieved / per_sec as f64
    );
    println!(
        "  429s: {limited} of {total} ({:.2} %)",
        100.0 * limited as f64 / total as f64
    );
    println!(
        "  lookup calls per user: {:.3} ({lookups} batched calls)",
        lookups as f64 / n as f64
    );
}

fn sync() {
    let n = 10_000usize;
    let sb = sandbox(SandboxConfig {
        rate_limit: Some(false),
        ..SandboxConfig::default()
    });
    let d = tempfile::tempdir().unwrap();
    let input = csv(d.path(), n, 1);
    let state = d.path().join("state.jsonl");
    let url = sb.url();
    let args = |src: &Path| {
        vec![
            "sync".to_string(),
            src.to_str().unwrap().to_string(),
            "--server".into(),
            url.clone(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--deactivate-missing".into(),
            "--quiet".into(),
        ]
    };
    let a: Vec<String> = args(&input);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (seed, code, _) = run(&a, "admin", ADMIN_PW);
    assert_eq!(code, 0, "seeding sync");
    let total = |sb: &Sandbox| {
        sb.counters()
            .iter()
            .filter(|(k, _)| k.contains("/api/v1/"))
            .map(|(_, c)| c.requests)
            .sum::<u64>()
    };
    let before = total(&sb);
    let (noop, code, _) = run(&a, "admin", ADMIN_PW);
    let noop_reqs = total(&sb) - before;
    // One night, 1 % changed: 100 renamed users.
    let text = std::fs::read_to_string(&input).unwrap();
    let changed: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i > 0 && i % 100 == 0 {
                l.replace("Bench User", "Renamed User")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let night = d.path().join("night.csv");
    std::fs::write(&night, changed + "\n").unwrap();
    let b: Vec<String> = args(&night);
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let before = total(&sb);
    let (nightly, code2, _) = run(&b, "admin", ADMIN_PW);
    let night_reqs = total(&sb) - before;
    let users = n as u64 + 2;
    let ideal = users.div_ceil(100) + 100;
    println!("sync: {n} managed users on Rocket.Chat (admin), page size 100");
    println!("  first sync (creates {n}): {:.1} s", seed.as_secs_f64());
    println!(
        "  no-op sync: exit {code}, {:.2} s, {noop_reqs} requests (ideal {} reads + 0 writes, plus login/me/info)",
        noop.as_secs_f64(),
        users.div_ceil(100)
    );
    println!(
        "  1 % changed: exit {code2}, {:.2} s, {night_reqs} requests; ideal {ideal} ({} reads + 100 writes): ratio {:.3}",
        nightly.as_secs_f64(),
        users.div_ceil(100),
        night_reqs as f64 / ideal as f64
    );
}

/// Issue 13's no-op sync: 10,000 users in 10 teams with a channel each and an avatar
/// each, synced once (creates, memberships, avatars), then again: the second night should
/// cost only the reads (the user list and each group's members) and write nothing.
fn members_sync(flavor: FlavorKind) {
    use base64::Engine as _;
    let n = 10_000usize;
    let teams = 10usize;
    let sb = sandbox(SandboxConfig {
        flavor,
        rate_limit: Some(false),
        mm_max_users_per_team: 100_000,
        ..SandboxConfig::default()
    });
    for t in 0..teams {
        let name = format!("dept{t}");
        sb.seed_team(&name, false).expect("team");
        let team = (flavor == FlavorKind::Mattermost).then_some(name.as_str());
        sb.seed_channel(team, &format!("dept{t}-news"), false)
            .expect("channel");
    }
    let d = tempfile::tempdir().unwrap();
    // A 1×1 PNG per user, inline (the source's image, as LDAP's jpegPhoto would be).
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    let _ = base64::engine::general_purpose::STANDARD
        .decode(png)
        .expect("png");
    let mut text =
        String::from("username,email,first_name,last_name,name,password,teams,channels,avatar\n");
    for i in 0..n {
        let t = i % teams;
        text.push_str(&format!(
            "m{i:06},m{i:06}@example.org,First{i},Last{i},Member {i},Pw-{i:06}-long,dept{t},dept{t}-news,\"data:image/png;base64,{png}\"\n"
        ));
    }
    let input = d.path().join("members.csv");
    std::fs::write(&input, text).expect("write input");
    let state = d.path().join("state.jsonl");
    let url = sb.url();
    let a: Vec<String> = vec![
        "sync".into(),
        input.to_str().unwrap().into(),
        "--server".into(),
        url.clone(),
        "--state".into(),
        state.to_str().unwrap().into(),
        "--quiet".into(),
    ];
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let total = |sb: &Sandbox| {
        let c = sb.counters();
        (
            c.values().map(|c| c.requests).sum::<u64>(),
            roster_sandbox::writes_in(&c),
        )
    };
    let (seed, code, _) = run(&a, "admin", ADMIN_PW);
    assert_eq!(code, 0, "seeding sync");
    let (seed_reqs, _) = total(&sb);
    let before = total(&sb);
    let (noop, code, _) = run(&a, "admin", ADMIN_PW);
    let after = total(&sb);
    let (reqs, writes) = (after.0 - before.0, after.1 - before.1);
    let (page, members_page) = match flavor {
        FlavorKind::RocketChat => (100u64, 100u64),
        FlavorKind::Mattermost => (200, 200),
    };
    let users = n as u64 + 2;
    let per_group = (n / teams) as u64;
    // Users pages + each team's and each channel's member pages (a channel has its
    // team's members; Mattermost channels also hold nobody else).
    let ideal = users.div_ceil(page)
        + 2 * teams as u64 * per_group.div_ceil(members_page)
        + 2 * teams as u64;
    println!(
        "members-sync ({flavor:?}): {n} users in {teams} teams with a channel each, an avatar each"
    );
    println!(
        "  first sync: {:.1} s, {seed_reqs} requests (creates, memberships, avatars)",
        seed.as_secs_f64()
    );
    println!(
        "  no-op sync: exit {code}, {:.2} s, {reqs} requests, {writes} writes; reads needed: {} user pages + {} member pages + {} name lookups = {ideal}: ratio {:.3}",
        noop.as_secs_f64(),
        users.div_ceil(page),
        2 * teams as u64 * per_group.div_ceil(members_page),
        2 * teams,
        reqs as f64 / ideal as f64
    );
}

/// `roster do set-preferences` and `roster do deactivate` over N accounts, against an
/// `import --mode update` of the same accounts in the same run (both look each account
/// up and write once): the engine `do` shares with import should cost no more.
fn do_actions() {
    let n = 2000usize;
    let latency = 5u64;
    for flavor in [FlavorKind::Mattermost, FlavorKind::RocketChat] {
        let sb = sandbox(SandboxConfig {
            flavor,
            rate_limit: Some(false),
            latency_ms: latency,
            ..SandboxConfig::default()
        });
        let d = tempfile::tempdir().unwrap();
        let input = csv(d.path(), n, 1);
        let url = sb.url();
        let path = input.to_str().unwrap();
        let (_, code, _) = run(
            &["import", path, "--server", &url, "--quiet"],
            "admin",
            ADMIN_PW,
        );
        assert_eq!(code, 0, "seeding import");
        // The same rows with a changed nickname: one lookup and one update each.
        let text = std::fs::read_to_string(&input).unwrap();
        // username,email,first_name,last_name,name,password: Rocket.Chat's rows need a name.
        let mut changed = String::from("username,email,name,nickname\n");
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            changed.push_str(&format!(
                "{},{},{},nick-{}\n",
                cells[0], cells[1], cells[4], cells[0]
            ));
        }
        let upd = d.path().join("update.csv");
        std::fs::write(&upd, changed).unwrap();
        let before = sb.counters().values().map(|c| c.requests).sum::<u64>();
        let (t_import, c1, _) = run(
            &[
                "import",
                upd.to_str().unwrap(),
                "--server",
                &url,
                "--mode",
                "update",
                "--quiet",
            ],
            "admin",
            ADMIN_PW,
        );
        let mid = sb.counters().values().map(|c| c.requests).sum::<u64>();
        let prefs = match flavor {
            FlavorKind::Mattermost => r#"{"display_settings": {"use_military_time": "true"}}"#,
            FlavorKind::RocketChat => r#"{"useEmojis": false}"#,
        };
        let (t_prefs, c2, _) = run(
            &[
                "do",
                "set-preferences",
                path,
                "--server",
                &url,
                "--preferences",
                prefs,
                "--quiet",
            ],
            "admin",
            ADMIN_PW,
        );
        let after = sb.counters().values().map(|c| c.requests).sum::<u64>();
        let (t_deact, c3, _) = run(
            &["do", "deactivate", path, "--server", &url, "--quiet"],
            "admin",
            ADMIN_PW,
        );
        let end = sb.counters().values().map(|c| c.requests).sum::<u64>();
        let name = match flavor {
            FlavorKind::Mattermost => "Mattermost",
            FlavorKind::RocketChat => "Rocket.Chat",
        };
        println!(
            "do: {name}, {n} accounts, sandbox latency {latency} ms, no limiter, admin, default workers"
        );
        println!(
            "  import --mode update (baseline): exit {c1}, {:.2} s, {:.2} requests per row",
            t_import.as_secs_f64(),
            (mid - before) as f64 / n as f64
        );
        println!(
            "  do set-preferences: exit {c2}, {:.2} s, {:.2} requests per row; time ratio to the baseline {:.2}",
            t_prefs.as_secs_f64(),
            (after - mid) as f64 / n as f64,
            t_prefs.as_secs_f64() / t_import.as_secs_f64()
        );
        println!(
            "  do deactivate: exit {c3}, {:.2} s, {:.2} requests per row; time ratio to the baseline {:.2}",
            t_deact.as_secs_f64(),
            (end - after) as f64 / n as f64,
            t_deact.as_secs_f64() / t_import.as_secs_f64()
        );
    }
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    match what.as_str() {
        "pacing" => pacing(),
        "workers" => workers(),
        "python" => python(),
        "mm-pacing" => mm_pacing(),
        "sync" => sync(),
        "capacity" => capacity(),
        "do" => do_actions(),
        "members-sync" => {
            members_sync(FlavorKind::RocketChat);
            members_sync(FlavorKind::Mattermost);
        }
        _ => {
            eprintln!("usage: bench pacing|workers|python|mm-pacing|sync|capacity|members-sync|do");
            std::process::exit(2);
        }
    }
}
