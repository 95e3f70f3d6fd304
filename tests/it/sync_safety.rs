//! What `plan`, `sync` and `apply` show is what they do, and they never hurt the
//! accounts they must not: `sync --dry-run` writes nothing, a rejected row never
//! deactivates its user, admins and the running account are never rewritten, and the
//! counts of a plan, its report and the sync that applies it agree.

use std::process::Output;

use crate::support::{
    Ran, config, jsonl, rocketchat, roster_as_importer, start, synced, user, users_csv, writes,
};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};
use serde_json::Value;

fn mattermost() -> Sandbox {
    start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    })
}

fn active(sb: &Sandbox, name: &str) -> bool {
    let u = user(sb, name);
    // Rocket.Chat: `active`; Mattermost: `delete_at` = 0.
    u.get("active")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| u["delete_at"].as_i64() == Some(0))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn sync_dry_run_writes_nothing_and_says_what_sync_would_do() {
    let sb = rocketchat();
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("users.csv"), users_csv(5)).unwrap();
    let url = sb.url();
    let before = writes(&sb);
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "users.csv",
            "--server",
            &url,
            "--dry-run",
            "--random-password",
            "--report",
            "r.jsonl",
            "--dump",
            "dump.jsonl",
        ],
    );
    assert_eq!(o.code(), 3, "changes pending: {}", o.stderr());
    assert!(o.stderr().contains("no dump"), "{}", o.stderr());
    assert!(!d.path().join("dump.jsonl").exists());
    assert_eq!(writes(&sb), before, "--dry-run wrote");
    assert!(user(&sb, "u0001").is_null(), "created under --dry-run");
    // The report says what would be done to every row.
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report.len(), 5);
    assert!(report.iter().all(|e| e["action"] == "create"), "{report:?}");

    // --resume is accepted with a warning and changes nothing about a sync.
    let o = roster_as_importer(
        d.path(),
        &["sync", "users.csv", "--server", &url, "--resume", "--quiet"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("--resume has no effect"),
        "{}",
        o.stderr()
    );
    assert!(active(&sb, "u0005"));

    // --mode update never creates; --mode create never updates.
    std::fs::write(
        d.path().join("more.csv"),
        users_csv(6).replace("User 1,", "User One,"),
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync", "more.csv", "--server", &url, "--mode", "update", "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(user(&sb, "u0006").is_null(), "--mode update created");
    assert_eq!(user(&sb, "u0001")["name"], "User One");
    std::fs::write(
        d.path().join("more.csv"),
        users_csv(6).replace("User 2,", "User Two,"),
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync", "more.csv", "--server", &url, "--mode", "create", "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        !user(&sb, "u0006").is_null(),
        "--mode create did not create"
    );
    assert_eq!(
        user(&sb, "u0002")["name"],
        "User 2",
        "--mode create updated"
    );
}

#[test]
fn apply_dry_run_writes_nothing_and_hidden_flags_warn() {
    let (sb, d) = synced(3);
    let url = sb.url();
    std::fs::write(
        d.path().join("hr.csv"),
        users_csv(4).replace("User 1,", "User One,"),
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--random-password",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        stdout(&o).contains("+ u0004"),
        "plan creates with --random-password: {}",
        stdout(&o)
    );
    let before = writes(&sb);
    let o = roster_as_importer(
        d.path(),
        &[
            "apply",
            "plan.json",
            "--server",
            &url,
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(writes(&sb), before, "apply --dry-run wrote");
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["actions"]["create"], 1, "{summary}");
    assert_eq!(summary["actions"]["update"], 1, "{summary}");
    // --flavor and --match that differ from the plan's are refused, not silently ignored.
    let o = roster_as_importer(
        d.path(),
        &[
            "apply",
            "plan.json",
            "--server",
            &url,
            "--flavor",
            "mattermost",
        ],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    // Apply has no source rows to reject: it offers no --rejects.
    let o = roster_as_importer(
        d.path(),
        &["apply", "plan.json", "--server", &url, "--rejects", "x.csv"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(!d.path().join("x.csv").exists());
    let o = roster_as_importer(
        d.path(),
        &["apply", "plan.json", "--server", &url, "--match", "email"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert_eq!(writes(&sb), before);
    let o = roster_as_importer(
        d.path(),
        &[
            "apply",
            "plan.json",
            "--server",
            &url,
            "--mode",
            "create",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("--mode has no effect"),
        "{}",
        o.stderr()
    );
    assert_eq!(user(&sb, "u0001")["name"], "User One");
    assert!(active(&sb, "u0004"));
}

#[test]
fn a_rejected_row_never_deactivates_its_user() {
    let (sb, d) = synced(20);
    let url = sb.url();
    // u0003's email lost its dot, u0007's username is broken: both rejected, both
    // still name their server user (by username and by email).
    let csv = users_csv(20)
        .replace("u0003@example.org", "u0003@example")
        .replace("u0007,u0007@", "u 0007,u0007@");
    std::fs::write(d.path().join("hr.csv"), csv).unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--force",
            "--report",
            "r.jsonl",
        ],
    );
    assert_eq!(o.code(), 1, "rows rejected: {}", o.stderr());
    assert!(active(&sb, "u0003"), "a rejected row deactivated its user");
    assert!(active(&sb, "u0007"), "a rejected row deactivated its user");
    let report = jsonl(&d.path().join("r.jsonl"));
    assert!(
        report.iter().all(|e| e["action"] != "deactivate"),
        "{report:?}"
    );

    // A rejected row that names nobody (a garbled identity): nobody missing is
    // deactivated, the rest of the sync goes ahead, exit 4 says why.
    let csv = users_csv(20)
        .replace(
            "u0020,u0020@example.org,User 20,",
            "??,nobody@example,User 20,",
        )
        .replace("User 1,", "User One,");
    std::fs::write(d.path().join("hr.csv"), csv).unwrap();
    let before = writes(&sb);
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
        ],
    );
    assert_eq!(o.code(), 4, "{}", o.stderr());
    assert!(
        stdout(&o).contains("DEACTIVATIONS REFUSED"),
        "{}",
        stdout(&o)
    );
    assert_eq!(writes(&sb), before, "plan wrote");
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 4, "{}", o.stderr());
    assert!(o.stderr().contains("name no server user"), "{}", o.stderr());
    assert!(
        active(&sb, "u0020"),
        "deactivated on a source with an unknown row"
    );
    assert_eq!(
        user(&sb, "u0001")["name"],
        "User One",
        "updates still apply"
    );
    // The next night still manages u0020 (the ledger kept it), and --force overrides.
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--force",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert!(
        !active(&sb, "u0020"),
        "--force deactivates the missing user"
    );
}

#[test]
fn admins_and_the_running_account_are_never_rewritten() {
    let sb = mattermost();
    let url = sb.url();
    let d = tempfile::tempdir().unwrap();
    let admin_email = user(&sb, "admin")["email"].clone();
    // `admin` is a valid Mattermost username; a source row with that name must not
    // demote the system admin or take its email. `importer` is the running account.
    let csv = "username,email,first_name,last_name,roles,password\n\
               admin,hijack@example.org,Ad,Min,user,Pw-admin-long-1\n\
               importer,imp@example.org,Im,Porter,user,Pw-imp-long-12\n\
               carol,carol@example.org,Carol,C,user,Pw-carol-long-1\n";
    std::fs::write(d.path().join("hr.csv"), csv).unwrap();
    for cmd in ["import", "sync"] {
        let o = roster_as_importer(
            d.path(),
            &[cmd, "hr.csv", "--server", &url, "--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{cmd}: {}", o.stderr());
        let a = user(&sb, "admin");
        assert_eq!(a["email"], admin_email, "{cmd} rewrote the admin: {a}");
        assert!(
            a["roles"].as_str().unwrap_or("").contains("system_admin"),
            "{cmd} demoted the admin: {a}"
        );
        let i = user(&sb, "importer");
        assert_ne!(i["email"], "imp@example.org", "{cmd} rewrote itself");
        let report = jsonl(&d.path().join("r.jsonl"));
        for name in ["admin", "importer"] {
            let e = report.iter().find(|e| e["username"] == name).unwrap();
            assert_eq!(e["status"], "skipped", "{cmd} {e}");
            assert!(e["error"].as_str().unwrap().contains("protected"), "{e}");
        }
    }
    // Named in the job file, the admin's fields may be written, but its admin role stays
    // unless demotion is allowed too.
    std::fs::write(
        d.path().join("job.toml"),
        "[safety]\nwrite_privileged = [\"admin\"]\n",
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync", "hr.csv", "--server", &url, "--config", "job.toml", "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let a = user(&sb, "admin");
    assert_eq!(a["email"], "hijack@example.org", "{a}");
    assert!(a["roles"].as_str().unwrap().contains("system_admin"), "{a}");
    std::fs::write(
        d.path().join("job.toml"),
        "[safety]\nwrite_privileged = [\"admin\"]\ndemote_admins = true\n",
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync", "hr.csv", "--server", &url, "--config", "job.toml", "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let a = user(&sb, "admin");
    assert!(
        !a["roles"].as_str().unwrap().contains("system_admin"),
        "{a}"
    );
}

#[test]
fn plan_counts_agree_with_its_report_and_with_sync_and_apply() {
    let (sb, d) = synced(12);
    let url = sb.url();
    // New rows without passwords (rejected: no password and no --random-password),
    // two rows disabled at the source, two users missing, one invalid row.
    let mut csv = String::from("username,email,name,password,active\n");
    for i in 1..=12 {
        if i == 11 || i == 12 {
            continue; // missing
        }
        let active = if i <= 2 { "false" } else { "true" };
        csv.push_str(&format!(
            "u{i:04},u{i:04}@example.org,User {i},Pw-{i:04}-long,{active}\n"
        ));
    }
    for i in 13..=15 {
        csv.push_str(&format!("u{i:04},u{i:04}@example.org,User {i},,true\n"));
    }
    csv.push_str("bad one,bad@example.org,Bad,Pw-bad-long-12,true\n");
    std::fs::write(d.path().join("hr.csv"), &csv).unwrap();
    let args = [
        "hr.csv",
        "--server",
        &url,
        "--state",
        "state.jsonl",
        "--deactivate-missing",
        "--force",
    ];
    let mut plan_args = vec!["plan"];
    plan_args.extend(args);
    plan_args.extend(["--report", "plan.jsonl", "-o", "plan.json"]);
    let o = roster_as_importer(d.path(), &plan_args);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = stdout(&o);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    let report = jsonl(&d.path().join("plan.jsonl"));
    let count = |key: &str, val: &str| report.iter().filter(|e| e[key] == val).count() as u64;
    // The header counts what the report holds, rejections by reason.
    assert_eq!(plan["rejected"], count("status", "rejected"), "{text}");
    assert_eq!(plan["rejected"], 4, "{text}");
    assert!(text.contains("password: is required"), "{text}");
    assert_eq!(plan["deactivations"].as_array().unwrap().len(), 4, "{text}");
    assert_eq!(count("action", "deactivate"), 4, "{report:?}");
    assert_eq!(plan["updates"].as_array().unwrap().len(), 0, "{text}");

    // sync does what the plan said, and its summary counts it the same way.
    let mut sync_args = vec!["sync"];
    sync_args.extend(args);
    sync_args.push("--json");
    let o = roster_as_importer(d.path(), &sync_args);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["actions"]["deactivate"], 4, "{summary}");
    assert!(summary["actions"].get("update").is_none(), "{summary}");
    assert_eq!(summary["rejected"], 4, "{summary}");
    for name in ["u0001", "u0002", "u0011", "u0012"] {
        assert!(!active(&sb, name), "{name} still active");
    }
}

#[test]
fn apply_refuses_when_what_it_would_write_changed_since_the_plan() {
    let (sb, d) = synced(3);
    let url = sb.url();
    std::fs::write(d.path().join("hr.csv"), users_csv(4)).unwrap();
    let o = roster_as_importer(
        d.path(),
        &["plan", "hr.csv", "--server", &url, "-o", "plan.json"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // Someone takes the new user's email under another name meanwhile.
    let admin = crate::support::Session::admin(&sb);
    admin.create_user("squatter", "u0004@example.org", "Pw-squat-long-1");
    let before = writes(&sb);
    let o = roster_as_importer(d.path(), &["apply", "plan.json", "--server", &url]);
    assert_eq!(o.code(), 4, "{}", o.stderr());
    assert!(o.stderr().contains("u0004@example.org"), "{}", o.stderr());
    assert_eq!(writes(&sb), before, "nothing written");
}

#[test]
fn manage_replaces_the_sync_meaning_of_scope_which_still_works_with_a_warning() {
    let (sb, d) = synced(4);
    let url = sb.url();
    std::fs::write(d.path().join("hr.csv"), users_csv(3)).unwrap();
    // No ledger: only --manage (or the old --scope) makes u0004 managed.
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--deactivate-missing",
            "--max-deactivate",
            "1",
            "--manage",
            "domain=example.org",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(stdout(&o).contains("- u0004"), "{}", stdout(&o));
    assert!(!o.stderr().contains("warning"), "{}", o.stderr());
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--deactivate-missing",
            "--max-deactivate",
            "1",
            "--scope",
            "domain=example.org",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(stdout(&o).contains("- u0004"), "{}", stdout(&o));
    assert!(
        o.stderr().contains("--manage domain=example.org"),
        "{}",
        o.stderr()
    );
    // The job file's [sync] manage works too; [sync] scope warns.
    std::fs::write(
        d.path().join("job.toml"),
        "[sync]\nmanage = [\"role=user\"]\n",
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--deactivate-missing",
            "--max-deactivate",
            "1",
            "--config",
            "job.toml",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(stdout(&o).contains("- u0004"), "{}", stdout(&o));
    std::fs::write(d.path().join("job.toml"), "[sync]\nscope = \"all\"\n").unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--deactivate-missing",
            "--max-deactivate",
            "1",
            "--config",
            "job.toml",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(stdout(&o).contains("- u0004"), "{}", stdout(&o));
    assert!(o.stderr().contains("[sync] manage"), "{}", o.stderr());
}

#[test]
fn apply_never_turns_a_planned_create_into_an_update_of_someone_else() {
    let (sb, d) = synced(2);
    let url = sb.url();
    std::fs::write(
        d.path().join("hr.csv"),
        "username,email,name,password\nanna.li,anna@example.org,Anna Li,Pw-anna-long-1\n",
    )
    .unwrap();
    let o = roster_as_importer(
        d.path(),
        &["plan", "hr.csv", "--server", &url, "-o", "plan.json"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // Meanwhile someone else gets the name under another spelling (Rocket.Chat's
    // users.info matches usernames exactly, so a lookup does not see it).
    let admin = crate::support::Session::admin(&sb);
    admin.create_user("ANNA.LI", "someone@example.org", "Pw-someone-long-1");
    let o = roster_as_importer(
        d.path(),
        &[
            "apply",
            "plan.json",
            "--server",
            &url,
            "--report",
            "r.jsonl",
        ],
    );
    assert!(o.code() <= 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report.len(), 1);
    assert_ne!(report[0]["status"], "ok", "{report:?}");
    assert_ne!(report[0]["action"], "update", "{report:?}");
    let other = user(&sb, "ANNA.LI");
    assert_eq!(
        other["emails"][0]["address"], "someone@example.org",
        "{other}"
    );
    assert_eq!(other["name"], "ANNA.LI", "{other}");
}

#[test]
fn ctrl_c_while_sync_reads_the_server_exits_130_at_once() {
    let (sb, d) = synced(3);
    // Every answer now takes 20 s: the snapshot read hangs.
    sb.set_latency(20_000, 0);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "sync",
            "hr.csv",
            "--server",
            &sb.url(),
            "--deactivate-missing",
        ])
        .current_dir(d.path())
        .env("ROSTER_USERNAME", "importer")
        .env("ROSTER_PASSWORD", crate::support::IMPORTER_PW)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let t = std::time::Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    sb.set_latency(0, 0);
    assert!(active(&sb, "u0003"));
}
