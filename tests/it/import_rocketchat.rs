//! `roster import` against the Rocket.Chat sandbox, through the binary as an
//! administrator runs it: upserts, rejects before any call, the rate limiter, faults
//! before and after apply, SIGKILL then --resume, credentials, 2FA, and secrets.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::requests;
use crate::support::{
    ADMIN_PW, IMPORTER_PW, Ran, as_importer, config, jsonl, roster, server_users,
    spawn_as_importer, start, tmp, wait_for_lines, write,
};
use roster_sandbox::{FaultPhase, SandboxConfig};
use serde_json::Value;

/// Passwords of imported users: they must never appear in any output.
const USER_PW: &str = "Sekr3t-user-pw";

fn csv(rows: &[(&str, &str, &str)]) -> String {
    let mut s = String::from("username,email,name,password,roles\n");
    for (u, e, n) in rows {
        s.push_str(&format!("{u},{e},{n},{USER_PW}-{u},user\n"));
    }
    s
}

fn users(n: usize, start: usize) -> String {
    let rows: Vec<(String, String, String)> = (start..start + n)
        .map(|i| {
            (
                format!("u{i:04}"),
                format!("u{i:04}@example.org"),
                format!("User {i}"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    csv(&refs)
}

fn as_admin() -> Vec<(&'static str, &'static str)> {
    vec![("ROSTER_USERNAME", "admin"), ("ROSTER_PASSWORD", ADMIN_PW)]
}

#[test]
fn upsert_creates_then_updates_only_what_changed() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "users.csv", &users(5, 1));
    let url = sb.url();
    let r = roster(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            &url,
            "--report",
            "r1.jsonl",
            "--dump",
            "dump.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r1.jsonl"));
    assert_eq!(rep.len(), 5);
    assert!(rep.iter().all(|e| e["action"] == "create"
        && e["status"] == "ok"
        && !e["id"].as_str().unwrap_or("").is_empty()));
    assert_eq!(server_users(&sb).len(), 5);
    let dump = jsonl(&d.path().join("dump.jsonl"));
    assert_eq!(dump.len(), 5);
    assert!(dump.iter().all(|u| u["id"].is_string()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("dump.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // One changed name, one new user, three unchanged.
    let mut text = users(5, 1).replace("User 3,", "User Three,");
    text.push_str(&format!(
        "u0100,u0100@example.org,User 100,{USER_PW}-x,user\n"
    ));
    write(d.path(), "users.csv", &text);
    let creates = requests(&sb, "users.create");
    let updates = requests(&sb, "users.update");
    let r = roster(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            &url,
            "--report",
            "r2.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r2.jsonl"));
    let by = |u: &str| rep.iter().find(|e| e["username"] == u).cloned().unwrap();
    assert_eq!(by("u0003")["action"], "update");
    assert_eq!(by("u0003")["changed"], serde_json::json!(["name"]));
    assert_eq!(by("u0001")["action"], "none");
    assert_eq!(by("u0100")["action"], "create");
    assert_eq!(
        requests(&sb, "users.create") - creates,
        1,
        "only the new user is created"
    );
    assert_eq!(
        requests(&sb, "users.update") - updates,
        1,
        "no write for unchanged users"
    );
    let u3 = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "u0003")
        .unwrap();
    assert_eq!(u3["name"], "User Three");
}

#[test]
fn bad_rows_are_rejected_before_any_call() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    let text = "username,email,name,password\n\
                good1,good1@example.org,Good One,Pw-1-long-enough\n\
                good1,other@example.org,Dup Name,Pw-2-long-enough\n\
                bad user,bad@example.org,Bad,Pw-3-long-enough\n\
                noemail,,No Email,Pw-4-long-enough\n\
                admin,root@example.org,Admin Two,Pw-5-long-enough\n\
                good2,GOOD1@example.org,Dup Email,Pw-6-long-enough\n";
    write(d.path(), "in.csv", text);
    let r = roster(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.csv",
            "--rejects",
            "fix.csv",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 1, "some rows rejected: exit 1\n{}", r.stderr());
    // Only the one valid row reached the server (one lookup, one create).
    assert_eq!(requests(&sb, "users.info"), 1);
    assert_eq!(requests(&sb, "users.create"), 1);
    let fix = std::fs::read_to_string(d.path().join("fix.csv")).unwrap();
    let lines: Vec<&str> = fix.lines().collect();
    assert_eq!(lines[0], "username,email,name,password,error");
    assert_eq!(lines.len(), 6, "{fix}");
    assert!(fix.contains("duplicate of in.csv:2"), "{fix}");
    assert!(fix.contains("is reserved on Rocket.Chat"), "{fix}");
    assert!(!fix.contains("Pw-"), "passwords never written back: {fix}");
    let rep = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
    assert_eq!(rep.lines().count(), 7, "one entry per input row: {rep}");
}

#[test]
fn a_quote_left_open_rejects_its_row_and_imports_the_rows_after_it() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(
        d.path(),
        "in.csv",
        "username,email,name,password\n\
         a1,a1@example.org,Ann,\"Pw-a1-long-enough\n\
         b1,b1@example.org,Bob,Pw-b1-long-enough\n\
         c1,c1@example.org,Cy,Pw-c1-long-enough\n",
    );
    let r = roster(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &sb.url(),
            "--report",
            "r.jsonl",
            "--quiet",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 1, "a rejected row: exit 1\n{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    // Rows are reported as they finish, in any order.
    let mut rows: Vec<(&str, &str, &str)> = rep
        .iter()
        .map(|e| {
            (
                e["origin"].as_str().unwrap(),
                e["username"].as_str().unwrap_or(""),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("in.csv:2", "a1", "rejected"),
            ("in.csv:3", "b1", "ok"),
            ("in.csv:4", "c1", "ok")
        ],
        "{rep:?}"
    );
    assert!(
        rep[0]["error"]
            .as_str()
            .unwrap()
            .contains("password: a quote opened at line 2 is never closed"),
        "{}",
        rep[0]
    );
    assert!(
        !rep[0].to_string().contains("Pw-"),
        "no password in the report"
    );
    let mut names: Vec<String> = server_users(&sb)
        .iter()
        .filter_map(|u| u["username"].as_str().map(str::to_string))
        .filter(|u| u.len() == 2)
        .collect();
    names.sort();
    assert_eq!(names, ["b1", "c1"]);
}

#[test]
fn rate_limited_run_loses_no_row_and_respects_the_window() {
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 5,
        rc_limit_window_ms: 500,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(24, 1));
    let t = Instant::now();
    let r = roster(
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
            "--json",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 24);
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 24);
    // 24 lookups and 24 creates at 5 per 500 ms per route: at least 4 windows each.
    assert!(
        t.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        t.elapsed()
    );
    let limited: u64 = sb.counters().values().map(|c| c.rate_limited).sum();
    assert!(
        limited <= 2,
        "the pacer keeps to the budget: {limited} 429s"
    );
    let summary: Value = serde_json::from_slice(&r.stdout).expect("--json summary");
    assert_eq!(summary["ok"], 24);
}

#[test]
fn faults_before_and_after_apply_create_nobody_twice() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        fault_rate: 0.35,
        drop_rate: 0.1,
        fault_phase: FaultPhase::Random,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(40, 1));
    let r = roster(
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
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 40);
    assert!(rep.iter().all(|e| e["status"] == "ok"), "{rep:?}");
    let held = server_users(&sb);
    assert_eq!(held.len(), 40, "every user exactly once");
    let faults: u64 = sb
        .counters()
        .values()
        .map(|c| c.faults_after + c.drops_after)
        .sum();
    assert!(
        faults > 0,
        "some writes were applied but answered with an error"
    );
}

#[test]
fn sigkill_then_resume_ends_as_an_uninterrupted_run() {
    for cut in [3usize, 11, 25] {
        let sb = start(SandboxConfig {
            rate_limit: Some(false),
            latency_ms: 15,
            ..config()
        });
        let d = tmp();
        write(d.path(), "u.csv", &users(30, 1));
        let mut child = spawn_as_importer(
            d.path(),
            &[
                "import",
                "u.csv",
                "--server",
                &sb.url(),
                "--report",
                "r.jsonl",
                "--workers",
                "2",
            ],
        );
        wait_for_lines(&d.path().join("r.jsonl.journal"), cut);
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let before = server_users(&sb).len();
        assert!(before < 30, "cut {cut}: the run was cut short ({before})");
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
            &as_importer(),
        );
        assert_eq!(r.code(), 0, "cut {cut}: {}", r.stderr());
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(
            rep.len(),
            30,
            "cut {cut}: one report entry per row after resume"
        );
        let mut names: Vec<&str> = rep
            .iter()
            .map(|e| e["username"].as_str().unwrap())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 30);
        assert!(
            rep.iter().all(|e| e["status"] == "ok"),
            "cut {cut}: {rep:?}"
        );
        assert_eq!(
            server_users(&sb).len(),
            30,
            "cut {cut}: nobody twice, nobody missing"
        );
    }
}

#[test]
fn wrong_credentials_exit_2_with_a_clear_message() {
    let sb = start(config());
    let d = tmp();
    write(d.path(), "u.csv", &users(2, 1));
    let r = roster(
        d.path(),
        &["import", "u.csv", "--server", &sb.url()],
        &[
            ("ROSTER_USERNAME", "importer"),
            ("ROSTER_PASSWORD", "wrong-password"),
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("login as importer failed"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("wrong-password"));
    let r = roster(
        d.path(),
        &["import", "u.csv", "--server", &sb.url()],
        &[
            ("ROSTER_USER_ID", "nobody"),
            ("ROSTER_TOKEN", "not-a-token"),
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("authentication failed"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("not-a-token"));
    let r = roster(d.path(), &["import", "u.csv", "--server", &sb.url()], &[]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no credentials"), "{}", r.stderr());
    // A password without a username: say which is missing.
    let r = roster(
        d.path(),
        &["import", "u.csv", "--server", &sb.url()],
        &[("ROSTER_PASSWORD", "Some-password-1")],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr()
            .contains("a password is given (ROSTER_PASSWORD or --password-file) but ROSTER_USERNAME is not set"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("Some-password-1"));
    assert_eq!(server_users(&sb).len(), 0);
}

#[test]
fn two_factor_is_answered_with_the_password_and_explained_without_it() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(2, 1));
    let url = sb.url();
    assert_eq!(
        roster(
            d.path(),
            &["import", "u.csv", "--server", &url],
            &as_admin()
        )
        .code(),
        0
    );
    // A login token, but no password: the update needs 2FA and roster explains.
    let c = crate::support::client();
    let login = crate::support::login_raw(&c, &url, "admin", ADMIN_PW);
    let uid = login.body["data"]["userId"].as_str().unwrap().to_string();
    let tok = login.body["data"]["authToken"]
        .as_str()
        .unwrap()
        .to_string();
    write(
        d.path(),
        "u.csv",
        &users(2, 1).replace("User 1,", "User One,"),
    );
    let r = roster(
        d.path(),
        &["import", "u.csv", "--server", &url],
        &[("ROSTER_USER_ID", &uid), ("ROSTER_TOKEN", &tok)],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("two-factor"), "{}", r.stderr());
    assert!(r.stderr().contains("bypassTwoFactor"), "{}", r.stderr());
    // The same token with the password: the x-2fa-code header answers the check.
    let r = roster(
        d.path(),
        &["import", "u.csv", "--server", &url, "--report", "r.jsonl"],
        &[
            ("ROSTER_USER_ID", &uid),
            ("ROSTER_TOKEN", &tok),
            ("ROSTER_PASSWORD", ADMIN_PW),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert!(
        rep.iter()
            .any(|e| e["action"] == "update" && e["status"] == "ok")
    );
}

#[test]
fn secrets_never_reach_any_output() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    let mut text = users(4, 1);
    text.push_str(&format!("bad user,x@example.org,X,{USER_PW}-bad,user\n"));
    write(d.path(), "u.csv", &text);
    let pwfile = write(d.path(), "pw", &format!("{IMPORTER_PW}\n"));
    let r = roster(
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
            "--password-file",
            pwfile.to_str().unwrap(),
        ],
        &[("ROSTER_USERNAME", "importer")],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    for f in ["r.csv", "x.csv", "d.jsonl", "r.csv.journal"] {
        let body = std::fs::read_to_string(d.path().join(f)).unwrap();
        assert!(!body.contains(USER_PW), "{f} holds a user password");
        assert!(
            !body.contains(IMPORTER_PW),
            "{f} holds the importer's password"
        );
    }
    assert!(!r.stderr().contains(USER_PW) && !stdout.contains(USER_PW));
    assert!(!r.stderr().contains(IMPORTER_PW) && !stdout.contains(IMPORTER_PW));
}

#[test]
fn ldif_change_records_update_and_deactivate() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(3, 1));
    let url = sb.url();
    assert_eq!(
        roster(
            d.path(),
            &["import", "u.csv", "--server", &url],
            &as_importer()
        )
        .code(),
        0
    );
    let ldif = "version: 1\n\n\
dn: uid=u0001,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: displayName\ndisplayName: First User\n-\n\n\
dn: uid=u0002,ou=people,dc=example,dc=org\nchangetype: delete\n\n\
dn: uid=u0999,ou=people,dc=example,dc=org\nchangetype: delete\n";
    write(d.path(), "c.ldif", ldif);
    let r = roster(
        d.path(),
        &["import", "c.ldif", "--server", &url, "--report", "r.jsonl"],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    let by = |u: &str| rep.iter().find(|e| e["username"] == u).cloned().unwrap();
    assert_eq!(by("u0001")["action"], "update");
    assert_eq!(by("u0001")["changed"], serde_json::json!(["name"]));
    assert_eq!(by("u0002")["action"], "deactivate");
    assert_eq!(by("u0999")["status"], "skipped");
    let users = sb.users();
    let u = |n: &str| users.iter().find(|u| u["username"] == n).cloned().unwrap();
    assert_eq!(u("u0001")["name"], "First User");
    assert_eq!(
        u("u0001")["emails"][0]["address"],
        "u0001@example.org",
        "untouched fields stay"
    );
    assert_eq!(u("u0002")["active"], false);
    assert_eq!(u("u0003")["active"], true);
}

#[test]
fn dry_run_and_modes_write_nothing_they_should_not() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(3, 1));
    let url = sb.url();
    let r = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            &url,
            "--dry-run",
            "--report",
            "r.jsonl",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        jsonl(&d.path().join("r.jsonl"))
            .iter()
            .all(|e| e["action"] == "create")
    );
    assert_eq!(server_users(&sb).len(), 0, "a dry run writes nothing");
    assert_eq!(requests(&sb, "users.create"), 0);

    assert_eq!(
        roster(
            d.path(),
            &[
                "import", "u.csv", "--server", &url, "--mode", "update", "--report", "r.jsonl"
            ],
            &as_importer()
        )
        .code(),
        0
    );
    assert!(
        jsonl(&d.path().join("r.jsonl"))
            .iter()
            .all(|e| e["status"] == "skipped")
    );
    assert_eq!(server_users(&sb).len(), 0);

    assert_eq!(
        roster(
            d.path(),
            &["import", "u.csv", "--server", &url, "--mode", "create"],
            &as_importer()
        )
        .code(),
        0
    );
    write(
        d.path(),
        "u.csv",
        &users(4, 1).replace("User 1,", "Renamed,"),
    );
    assert_eq!(
        roster(
            d.path(),
            &[
                "import", "u.csv", "--server", &url, "--mode", "create", "--report", "r.jsonl"
            ],
            &as_importer()
        )
        .code(),
        0
    );
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.iter().filter(|e| e["status"] == "skipped").count(), 3);
    assert_eq!(rep.iter().filter(|e| e["action"] == "create").count(), 1);
    let u1 = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "u0001")
        .unwrap();
    assert_eq!(u1["name"], "User 1", "create mode never updates");
}

#[test]
fn sigint_finishes_rows_in_flight_and_exits_130() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        latency_ms: 30,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users(200, 1));
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
            "2",
        ],
    );
    std::thread::sleep(Duration::from_millis(800));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert!(!rep.is_empty() && rep.len() < 200);
    assert!(
        rep.iter().all(|e| e["status"] == "ok"),
        "rows in flight were finished, not failed"
    );
    assert_eq!(
        server_users(&sb).len(),
        rep.len(),
        "the report covers every write"
    );
}

/// Issue 10 item 7: users.info?username= is an exact, case-sensitive match on the real
/// server while users.create's "in use" check ignores case; a re-run of capitalised
/// usernames must find them and change nothing.
#[test]
fn rerun_with_capitalised_usernames_is_a_no_op() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(
        d.path(),
        "users.csv",
        &csv(&[
            ("ANNA.LI", "anna.li@example.org", "Anna Li"),
            ("Bob.Roe", "Bob.Roe@Example.org", "Bob Roe"),
            ("carl", "carl@example.org", "Carl"),
        ]),
    );
    let url = sb.url();
    let run = |report: &str| {
        roster(
            d.path(),
            &["import", "users.csv", "--server", &url, "--report", report],
            &as_importer(),
        )
    };
    let r = run("r1.jsonl");
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let names: Vec<String> = server_users(&sb)
        .iter()
        .map(|u| u["username"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        names.contains(&"ANNA.LI".to_string()),
        "case kept: {names:?}"
    );
    let creates = requests(&sb, "users.create");
    let updates = requests(&sb, "users.update");
    let r = run("r2.jsonl");
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let rep = jsonl(&d.path().join("r2.jsonl"));
    assert_eq!(rep.len(), 3);
    assert!(
        rep.iter()
            .all(|e| e["action"] == "none" && e["status"] == "ok"),
        "{rep:?}"
    );
    assert_eq!(
        requests(&sb, "users.create"),
        creates,
        "no create attempted"
    );
    assert_eq!(requests(&sb, "users.update"), updates, "no update either");

    // Spelt yet another way: users.info misses both spellings, users.create says "in
    // use", and the user is found ignoring case: nothing fails, nobody is duplicated.
    write(
        d.path(),
        "users.csv",
        &csv(&[
            ("Anna.Li", "anna.li@example.org", "Anna Li"),
            ("bob.roe", "Bob.Roe@Example.org", "Bob Roe"),
            ("carl", "carl@example.org", "Carl"),
        ]),
    );
    let r = run("r3.jsonl");
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(server_users(&sb).len(), 3);
    let rep = jsonl(&d.path().join("r3.jsonl"));
    assert!(rep.iter().all(|e| e["status"] == "ok"), "{rep:?}");
    assert_eq!(requests(&sb, "users.update"), updates, "no update either");
}
