//! `roster import` against the Mattermost sandbox, through the binary: the same guarantees
//! as on Rocket.Chat (upsert, rejects before any call, pacing, faults, resume, credentials,
//! secrets) with Mattermost's own semantics (lowercasing, batched lookups, patch-only
//! updates, roles after create, LDAP-managed accounts, pre-provisioned directory logins).

use std::time::{Duration, Instant};

use crate::support::requests;
use crate::support::write;
use crate::support::{
    ADMIN_PW, IMPORTER_PW, Ran, as_importer, config, jsonl, roster, spawn_as_importer, start,
    wait_for_lines,
};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

const USER_PW: &str = "Sekr3t-mm-user-pw";

fn mm(cfg: SandboxConfig) -> Sandbox {
    start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..cfg
    })
}

fn mm_config() -> SandboxConfig {
    SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    }
}

fn users(n: usize, start: usize) -> String {
    let mut s = String::from("username,email,first_name,last_name,nickname,password,roles\n");
    for i in start..start + n {
        s.push_str(&format!(
            "User{i:04},USER{i:04}@Example.org,First{i},Last{i},nick{i},{USER_PW}-{i},user\n"
        ));
    }
    s
}

fn people(sb: &Sandbox) -> Vec<Value> {
    sb.users()
        .into_iter()
        .filter(|u| !matches!(u["username"].as_str(), Some("admin" | "importer")))
        .collect()
}

/// Requests to exactly this route key (`POST /api/v4/users` is the create).
fn exact(sb: &Sandbox, key: &str) -> u64 {
    sb.counters().get(key).map(|c| c.requests).unwrap_or(0)
}

#[test]
fn upsert_lowercases_batches_lookups_and_patches_only_changes() {
    let sb = mm(mm_config());
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "u.csv", &users(150, 1));
    let url = sb.url();
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &url,
            "--report",
            "r.jsonl",
            "--dump",
            "dump.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    let held = people(&sb);
    assert_eq!(held.len(), 150);
    let u1 = held
        .iter()
        .find(|u| u["username"] == "user0001")
        .expect("lowercased username");
    assert_eq!(u1["email"], "user0001@example.org");
    assert_eq!(u1["first_name"], "First1");
    assert_eq!(u1["roles"], "system_user");
    // Lookups are batched: POST /users/usernames, 100 names per call, no per-user GET.
    assert!(requests(&sb, "usernames") <= 4, "{:?}", sb.counters());
    assert_eq!(requests(&sb, "/users/username/"), 0);
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert!(
        rep.iter()
            .all(|e| e["action"] == "create" && e["status"] == "ok")
    );

    // A changed nickname, an added admin role, everything else the same.
    let text = users(150, 1).replace("nick7,", "nickname-seven,").replace(
        &format!("{USER_PW}-9,user"),
        &format!("{USER_PW}-9,user;admin"),
    );
    write(d.path(), "u.csv", &text);
    let patches = requests(&sb, "/patch");
    // The role changes, not the run's listing of the server's roles (GET /roles).
    let put_roles = "PUT /api/v4/users/{user_id}/roles";
    let roles = exact(&sb, put_roles);
    let creates = exact(&sb, "POST /api/v4/users");
    assert_eq!(
        creates,
        150,
        "{:?}",
        sb.counters().keys().collect::<Vec<_>>()
    );
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url, "--report", "r2.jsonl"],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    let rep = jsonl(&d.path().join("r2.jsonl"));
    let by = |u: &str| rep.iter().find(|e| e["username"] == u).cloned().unwrap();
    assert_eq!(by("user0007")["changed"], serde_json::json!(["nickname"]));
    assert_eq!(by("user0009")["changed"], serde_json::json!(["roles"]));
    assert_eq!(by("user0001")["action"], "none");
    assert_eq!(
        requests(&sb, "/patch") - patches,
        1,
        "one patch, for the one changed field"
    );
    assert_eq!(exact(&sb, put_roles) - roles, 1);
    assert_eq!(exact(&sb, "POST /api/v4/users") - creates, 0);
    let u7 = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "user0007")
        .unwrap();
    assert_eq!(u7["nickname"], "nickname-seven");
    assert_eq!(
        u7["first_name"], "First7",
        "a patch leaves other fields alone"
    );
    let u9 = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "user0009")
        .unwrap();
    assert_eq!(u9["roles"], "system_user system_admin");
}

#[test]
fn gcra_pacing_loses_nothing_and_rarely_hits_429() {
    let sb = mm(SandboxConfig {
        rate_limit: Some(true),
        mm_per_sec: 40,
        mm_max_burst: 20,
        ..mm_config()
    });
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "u.csv", &users(120, 1));
    let t = Instant::now();
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
            "--workers",
            "4",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    assert_eq!(people(&sb).len(), 120);
    assert!(
        jsonl(&d.path().join("r.jsonl"))
            .iter()
            .all(|e| e["status"] == "ok")
    );
    let total: u64 = sb.counters().values().map(|c| c.requests).sum();
    let limited: u64 = sb.counters().values().map(|c| c.rate_limited).sum();
    // ~125 requests at 40/s after a burst of 21: at least ~2.5 s.
    assert!(
        t.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        t.elapsed()
    );
    assert!(
        limited * 20 <= total,
        "{limited} of {total} requests answered 429"
    );
}

#[test]
fn faults_create_nobody_twice_and_resume_completes() {
    let sb = mm(SandboxConfig {
        fault_rate: 0.3,
        drop_rate: 0.1,
        fault_phase: FaultPhase::Random,
        ..mm_config()
    });
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "u.csv", &users(40, 1));
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
            "--max-attempts",
            "8",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    assert_eq!(people(&sb).len(), 40);
    assert!(
        jsonl(&d.path().join("r.jsonl"))
            .iter()
            .all(|e| e["status"] == "ok")
    );

    // SIGKILL in the middle, then --resume.
    sb.set_faults(0.0, 0.0);
    sb.set_latency(20, 0);
    write(d.path(), "v.csv", &users(30, 100));
    let mut child = spawn_as_importer(
        d.path(),
        &[
            "import",
            "v.csv",
            "--server",
            &sb.url(),
            "--report",
            "v.jsonl",
            "--workers",
            "2",
        ],
    );
    wait_for_lines(&d.path().join("v.jsonl.journal"), 8);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(people(&sb).len() < 70);
    let o = roster(
        d.path(),
        &[
            "import",
            "v.csv",
            "--server",
            &sb.url(),
            "--report",
            "v.jsonl",
            "--resume",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    assert_eq!(jsonl(&d.path().join("v.jsonl")).len(), 30);
    assert_eq!(people(&sb).len(), 70);
}

#[test]
fn a_rejected_token_is_caught_before_any_write() {
    let sb = mm(mm_config());
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "u.csv", &users(3, 1));
    // POST /users would take a bad token as anonymous: roster checks it with /users/me.
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &sb.url()],
        &[("ROSTER_TOKEN", "notavalidtoken0000000000000")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr());
    assert!(
        o.stderr().contains("authentication failed"),
        "{}",
        o.stderr()
    );
    assert!(!o.stderr().contains("notavalidtoken"));
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &sb.url()],
        &[
            ("ROSTER_USERNAME", "importer"),
            ("ROSTER_PASSWORD", "wrong"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr());
    assert!(
        o.stderr().contains("login as importer failed"),
        "{}",
        o.stderr()
    );
    assert_eq!(exact(&sb, "POST /api/v4/users"), 0);
    assert_eq!(people(&sb).len(), 0);
}

#[test]
fn ldap_managed_accounts_are_reported_not_retried_and_auth_service_preprovisions() {
    let sb = mm(SandboxConfig {
        mm_ldap_users: vec!["dir.user".into()],
        ..mm_config()
    });
    sb.seed_users(&[SeedUser {
        username: "dir.user".into(),
        email: "dir.user@example.org".into(),
        name: "Dir User".into(),
        password: None,
        active: true,
        roles: vec!["system_user".into()],
    }])
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "c.ldif",
        "version: 1\n\ndn: uid=dir.user,ou=people,dc=example,dc=org\nchangetype: delete\n",
    );
    let o = roster(
        d.path(),
        &[
            "import",
            "c.ldif",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "deactivated through DELETE, which LDAP users allow: {}",
        o.stderr()
    );
    // A field the directory owns cannot be patched: the 409 is reported as such, once.
    write(
        d.path(),
        "p.csv",
        "username,email,first_name\ndir.user,dir.user@example.org,Renamed\n",
    );
    let before = requests(&sb, "/patch");
    let o = roster(
        d.path(),
        &[
            "import",
            "p.csv",
            "--server",
            &sb.url(),
            "--report",
            "p.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr());
    let rep = jsonl(&d.path().join("p.jsonl"));
    assert!(
        rep[0]["error"]
            .as_str()
            .unwrap()
            .contains("managed by LDAP"),
        "{rep:?}"
    );
    assert_eq!(requests(&sb, "/patch") - before, 1, "not retried");

    // --auth-service ldap creates accounts that log in through the directory: no password.
    write(
        d.path(),
        "n.csv",
        "username,email,first_name,external_id\nnew.user,new.user@example.org,New,CN-4242\n",
    );
    let o = roster(
        d.path(),
        &[
            "import",
            "n.csv",
            "--server",
            &sb.url(),
            "--auth-service",
            "ldap",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    let u = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "new.user")
        .unwrap();
    assert_eq!(u["auth_service"], "ldap");
    assert_eq!(u["auth_data"], "CN-4242");
}

#[test]
fn rejects_before_calls_and_secrets_stay_out() {
    let sb = mm(mm_config());
    let d = tempfile::tempdir().unwrap();
    let mut text = users(3, 1);
    text.push_str(&format!("channel,c@example.org,C,D,n,{USER_PW}-c,user\n"));
    text.push_str(&format!("bad name,b@example.org,B,D,n,{USER_PW}-b,user\n"));
    text.push_str(&format!(
        "user0001,dup@example.org,D,D,n,{USER_PW}-d,user\n"
    ));
    write(d.path(), "u.csv", &text);
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.csv",
            "--rejects",
            "x.csv",
            "--dump",
            "d.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr());
    assert_eq!(people(&sb).len(), 3);
    let fix = std::fs::read_to_string(d.path().join("x.csv")).unwrap();
    assert_eq!(fix.lines().count(), 4, "{fix}");
    assert!(fix.contains("reserved on Mattermost"), "{fix}");
    for f in ["r.csv", "x.csv", "d.jsonl", "r.csv.journal"] {
        let body = std::fs::read_to_string(d.path().join(f)).unwrap();
        assert!(
            !body.contains(USER_PW) && !body.contains(IMPORTER_PW) && !body.contains(ADMIN_PW),
            "{f}"
        );
    }
}
