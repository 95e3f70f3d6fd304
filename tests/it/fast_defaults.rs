//! What the defaults cost (issue 15): requests per user (a listing instead of a lookup per
//! row when it is cheaper), pooled connections, and concurrency that adapts to the server
//! under `--workers` unless `--fixed-workers`. Request and connection counts are
//! deterministic; timings are benchmarks (examples/bench.rs), never asserted here.

use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

use crate::support::{
    ADMIN_PW, config, jsonl, requests, rocketchat, roster, seed_people, server_users, start, tmp,
    users_csv, write, writes,
};

fn as_admin() -> Vec<(&'static str, &'static str)> {
    vec![("ROSTER_USERNAME", "admin"), ("ROSTER_PASSWORD", ADMIN_PW)]
}

fn total(sb: &Sandbox) -> u64 {
    sb.counters().values().map(|c| c.requests).sum()
}

fn import(sb: &Sandbox, dir: &std::path::Path, flavor: &str, extra: &[&str]) {
    let url = sb.url();
    let mut args = vec![
        "import", "u.csv", "--server", &url, "--flavor", flavor, "--quiet",
    ];
    args.extend_from_slice(extra);
    let r = roster(dir, &args, &as_admin());
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A first import of N new users costs at most N + ⌈S/page⌉ + 3 requests (S users on the
/// server already); running it again reads the listing and writes nothing.
fn requests_per_user(flavor: FlavorKind, name: &str, page: u64, seeded: usize, n: usize) {
    let sb = start(SandboxConfig {
        flavor,
        rate_limit: Some(false),
        ..config()
    });
    seed_people(&sb, seeded, |_| true);
    let s = sb.users().len() as u64;
    let d = tmp();
    write(d.path(), "u.csv", &users_csv(n));
    import(&sb, d.path(), name, &[]);
    let n = n as u64;
    let first = total(&sb);
    assert_eq!(server_users(&sb).len() as u64, s - 2 + n);
    assert!(
        first <= n + s.div_ceil(page) + 3,
        "{name}: first import: {first} requests for {n} new users and {s} on the server: {:?}",
        sb.counters()
    );
    let writes_before = writes(&sb);
    import(&sb, d.path(), name, &[]);
    let again = total(&sb) - first;
    assert_eq!(writes(&sb), writes_before, "{name}: the second run wrote");
    assert!(
        again <= (s + n).div_ceil(page) + 3,
        "{name}: second import: {again} requests: {:?}",
        sb.counters()
    );
}

#[test]
fn rocketchat_a_first_import_costs_a_request_per_new_user_and_a_rerun_only_the_listing() {
    requests_per_user(FlavorKind::RocketChat, "rocketchat", 100, 250, 300);
}

#[test]
fn mattermost_a_first_import_costs_a_request_per_new_user_and_a_rerun_only_the_listing() {
    requests_per_user(FlavorKind::Mattermost, "mattermost", 200, 450, 300);
}

/// Five users on the server (to be updated) and five new, imported once where the listing
/// is cheaper and once where lookups are (many more users on the server): the same report,
/// the same users.
#[test]
fn the_listing_and_the_lookups_give_the_same_report_and_end_state() {
    let existing: Vec<SeedUser> = (1..=5)
        .map(|i| SeedUser {
            username: format!("u{i:04}"),
            email: format!("u{i:04}@example.org"),
            name: format!("Old name {i}"),
            password: None,
            active: i != 3,
            roles: vec![],
        })
        .collect();
    let run = |extra: usize| {
        let sb = rocketchat();
        sb.seed_users(&existing).expect("seed");
        seed_people(&sb, extra, |_| true);
        let d = tmp();
        write(d.path(), "u.csv", &users_csv(10));
        import(&sb, d.path(), "rocketchat", &["--report", "r.jsonl"]);
        let report: Vec<Value> = jsonl(&d.path().join("r.jsonl"))
            .into_iter()
            .map(|e| {
                let keep = ["origin", "username", "action", "status", "changed", "error"];
                keep.iter()
                    .map(|k| (k.to_string(), e[*k].clone()))
                    .collect()
            })
            .collect();
        let users: Vec<Value> = (1..=10)
            .map(|i| {
                let u = crate::support::user(&sb, &format!("u{i:04}"));
                serde_json::json!([u["username"], u["name"], u["emails"], u["active"]])
            })
            .collect();
        (report, users, requests(&sb, "users.info"))
    };
    let (listed, listed_users, lookups_a) = run(0);
    let (looked_up, looked_up_users, lookups_b) = run(1500);
    assert_eq!(
        lookups_a, 0,
        "7 users on the server: the listing is cheaper"
    );
    assert_eq!(
        lookups_b, 10,
        "1,507 users on the server: lookups are cheaper"
    );
    assert_eq!(listed, looked_up);
    assert_eq!(listed_users, looked_up_users);
    assert!(listed.iter().filter(|e| e["action"] == "update").count() == 5);
    assert!(listed.iter().filter(|e| e["action"] == "create").count() == 5);
}

#[test]
fn connections_are_kept_alive_and_pooled() {
    let sb = rocketchat();
    let d = tmp();
    write(d.path(), "u.csv", &users_csv(300));
    import(&sb, d.path(), "rocketchat", &["--workers", "8"]);
    let (reqs, conns) = (total(&sb), sb.connections());
    assert!(reqs >= 300, "{reqs}");
    assert!(conns <= 8 + 3, "{conns} connections for {reqs} requests");
}

/// Capacity 4 at 50 ms (latency grows past 4 in flight, 503 past 16): adaptive concurrency stays
/// near it without a 503; 32 fixed workers overload it.
#[test]
fn adaptive_concurrency_stays_near_the_servers_capacity_and_fixed_workers_do_not() {
    let run = |extra: &[&str]| {
        let sb = start(SandboxConfig {
            rate_limit: Some(false),
            latency_ms: 50,
            capacity: Some(4),
            ..config()
        });
        let d = tmp();
        write(d.path(), "u.csv", &users_csv(150));
        let url = sb.url();
        let mut args = vec![
            "import",
            "u.csv",
            "--server",
            &url,
            "--quiet",
            "--mode",
            "create",
            "--workers",
            "32",
        ];
        args.extend_from_slice(extra);
        // Exit 0 or 1 (a row that failed): what matters is what the server saw.
        let _ = roster(d.path(), &args, &as_admin());
        let faults: u64 = sb.counters().values().map(|c| c.faults).sum();
        (sb.peak_in_flight(), faults, server_users(&sb).len())
    };
    let (peak, faults, created) = run(&[]);
    assert_eq!(created, 150);
    // A busy machine's noise may let it probe one past four times the capacity, once or twice.
    assert!(peak <= 17, "adaptive: {peak} in flight at once");
    assert!(faults <= 2, "adaptive: {faults} 503s");
    // (Its peak says little: a 503 comes back at once, and its row then backs off.)
    let (_, fixed_faults, _) = run(&["--fixed-workers"]);
    assert!(
        fixed_faults > 10,
        "fixed: {fixed_faults} 503s past four times the capacity"
    );
}
