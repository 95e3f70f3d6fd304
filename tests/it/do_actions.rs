//! `roster do ACTION SOURCE` on both sandbox flavors: each action, `--dry-run` writes
//! nothing, unmatched rows are skipped and never created, protected accounts are skipped
//! saying why, `delete`'s guards (the flag, the threshold, the server's permission and
//! setting), a delete under faults happens exactly once, and `--resume` never redoes a
//! row the journal holds.

use crate::do_support::{
    PW, act, as_admin, by_name, cut, faulty, flavors, resume, server, source, source_of_first,
};
use crate::support::{Ran, config, jsonl, requests, roster, tmp, write, writes};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

fn active(sb: &Sandbox, name: &str) -> Option<bool> {
    let u = sb.users().into_iter().find(|u| u["username"] == name)?;
    Some(
        u.get("active")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| u["delete_at"].as_i64() == Some(0)),
    )
}

/// Logs `name` in and returns a check that its session still works.
fn logged_in(sb: &Sandbox, flavor: FlavorKind, name: &str) -> impl Fn() -> bool {
    let client = crate::support::client();
    let base = sb.url();
    match flavor {
        FlavorKind::RocketChat => {
            let r = crate::support::login_raw(&client, &base, name, PW);
            assert_eq!(r.status, 200, "{}", r.text);
            let (id, token) = (
                r.body["data"]["userId"].as_str().unwrap().to_string(),
                r.body["data"]["authToken"].as_str().unwrap().to_string(),
            );
            Box::new(move || {
                client
                    .get(format!("{base}/api/v1/me"))
                    .header("X-User-Id", &id)
                    .header("X-Auth-Token", &token)
                    .send()
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false)
            }) as Box<dyn Fn() -> bool>
        }
        FlavorKind::Mattermost => {
            let r = crate::support::mm_login_raw(&client, &base, name, PW);
            assert_eq!(r.status, 200, "{}", r.text);
            let token = r.header("token").unwrap();
            Box::new(move || {
                client
                    .get(format!("{base}/api/v4/users/me"))
                    .bearer_auth(&token)
                    .send()
                    .map(|r| r.status().as_u16() == 200)
                    .unwrap_or(false)
            })
        }
    }
}

#[test]
fn each_action_on_both_servers() {
    for flavor in flavors() {
        let sb = server(flavor, 6, config());
        let url = sb.url();
        let d = tmp();
        source(d.path(), "leavers.csv", &["p01", "p02", "nobody", "admin"]);
        let run = |action: &str, report: &str, extra: &[&str]| {
            let mut a = vec!["do", action, "leavers.csv", "--server", &url];
            a.extend(["--report", report]);
            a.extend(extra);
            let o = as_admin(d.path(), &a);
            assert_eq!(o.code(), 0, "{flavor:?} {action}: {}", o.stderr());
            jsonl(&d.path().join(report))
        };

        // Dry runs write nothing, and say what would be done.
        let before = writes(&sb);
        for action in ["deactivate", "offboard", "revoke-sessions"] {
            let rep = run(action, "dry.jsonl", &["--dry-run"]);
            assert_eq!(by_name(&rep, "p01")["action"], action, "{rep:?}");
            assert_eq!(by_name(&rep, "p01")["status"], "ok");
        }
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        assert_eq!(active(&sb, "p01"), Some(true));

        let session = logged_in(&sb, flavor, "p01");
        let rep = run("deactivate", "d.jsonl", &[]);
        assert_eq!(rep.len(), 4);
        assert_eq!(active(&sb, "p01"), Some(false), "{flavor:?}");
        assert_eq!(active(&sb, "p02"), Some(false));
        let p01 = by_name(&rep, "p01");
        assert_eq!(
            (&p01["action"], &p01["status"], &p01["changed"]),
            (
                &Value::from("deactivate"),
                &Value::from("ok"),
                &serde_json::json!(["active"])
            )
        );
        assert!(!p01["id"].as_str().unwrap_or("").is_empty());
        // Unmatched: skipped, never created. Protected (the running account): skipped.
        let nobody = by_name(&rep, "nobody");
        assert_eq!(nobody["status"], "skipped");
        assert!(
            nobody["error"]
                .as_str()
                .unwrap()
                .contains("not on the server")
        );
        assert_eq!(active(&sb, "nobody"), None, "created");
        let admin = by_name(&rep, "admin");
        assert_eq!(admin["status"], "skipped");
        assert!(
            admin["error"].as_str().unwrap().starts_with("protected"),
            "{admin}"
        );
        assert_eq!(active(&sb, "admin"), Some(true));
        assert!(!session(), "{flavor:?}: deactivation ends the sessions");

        let rep = run("activate", "a.jsonl", &[]);
        assert_eq!(by_name(&rep, "p01")["action"], "activate");
        assert_eq!(active(&sb, "p01"), Some(true), "{flavor:?}");
        assert_eq!(active(&sb, "p02"), Some(true));

        // revoke-sessions ends p01's sessions and leaves the account active.
        let session = logged_in(&sb, flavor, "p01");
        let other = logged_in(&sb, flavor, "p03");
        let rep = run("revoke-sessions", "s.jsonl", &[]);
        assert_eq!(by_name(&rep, "p01")["action"], "revoke-sessions");
        assert_eq!(
            by_name(&rep, "p01")["changed"],
            serde_json::json!(["sessions"])
        );
        assert!(!session(), "{flavor:?}: still logged in");
        assert!(
            other(),
            "{flavor:?}: a user not in the source was logged out"
        );
        assert_eq!(active(&sb, "p01"), Some(true));

        // offboard: deactivated and logged out, in one pass; --protect is honoured.
        let session = logged_in(&sb, flavor, "p02");
        let rep = run("offboard", "o.jsonl", &["--protect", "p01"]);
        let p02 = by_name(&rep, "p02");
        assert_eq!(p02["action"], "offboard");
        assert_eq!(p02["changed"], serde_json::json!(["active", "sessions"]));
        assert_eq!(active(&sb, "p02"), Some(false));
        assert!(!session());
        let p01 = by_name(&rep, "p01");
        assert_eq!(p01["status"], "skipped");
        assert!(p01["error"].as_str().unwrap().contains("--protect"));
        assert_eq!(active(&sb, "p01"), Some(true));
    }
}

#[test]
fn a_missing_permission_stops_the_run_with_one_message() {
    // Rocket.Chat's provisioner role (the importer's) has neither logout-other-user nor
    // delete-user.
    let sb = server(FlavorKind::RocketChat, 6, config());
    let d = tmp();
    source(d.path(), "l.csv", &["p01", "p02", "p03", "p04"]);
    for (action, perm) in [
        ("revoke-sessions", "logout-other-user"),
        ("delete", "delete-user"),
    ] {
        let o = roster(
            d.path(),
            &[
                "do",
                action,
                "l.csv",
                "--server",
                &sb.url(),
                "--yes-delete-permanently",
                "--force",
                "--report",
                "r.jsonl",
            ],
            &crate::support::as_importer(),
        );
        assert_eq!(o.code(), 2, "{action}: {}", o.stderr());
        assert!(o.stderr().contains(perm), "{action}: {}", o.stderr());
        let failed = jsonl(&d.path().join("r.jsonl"))
            .iter()
            .filter(|e| e["status"] == "failed")
            .count();
        assert!(failed <= 1, "{action}: a report of identical failures");
    }
    assert_eq!(active(&sb, "p01"), Some(true));

    // Mattermost without EnableAPIUserDeletion: one clear message.
    let sb = server(FlavorKind::Mattermost, 6, config());
    let o = act(
        d.path(),
        "delete",
        "l.csv",
        &sb.url(),
        &["--yes-delete-permanently", "--force"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("EnableAPIUserDeletion"),
        "{}",
        o.stderr()
    );
    assert_eq!(active(&sb, "p01"), Some(true));
}

#[test]
fn delete_needs_its_flag_stays_under_the_threshold_and_spares_protected_accounts() {
    for flavor in flavors() {
        let sb = server(
            flavor,
            40,
            SandboxConfig {
                mm_enable_api_user_deletion: true,
                ..config()
            },
        );
        let url = sb.url();
        let d = tmp();
        source(
            d.path(),
            "gone.csv",
            &["p01", "p02", "p03", "p04", "admin", "nobody"],
        );
        let before = writes(&sb);
        let o = as_admin(d.path(), &["do", "delete", "gone.csv", "--server", &url]);
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(
            o.stderr().contains("--yes-delete-permanently"),
            "{}",
            o.stderr()
        );
        // 4 of 40 deletable accounts: more than the default 5 % (2).
        let o = act(
            d.path(),
            "delete",
            "gone.csv",
            &url,
            &["--yes-delete-permanently"],
        );
        assert_eq!(o.code(), 4, "{flavor:?}: {}", o.stderr());
        assert!(o.stderr().contains("4 deletions exceed"), "{}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: refused, yet written");
        assert_eq!(active(&sb, "p01"), Some(true));
        // A dry run deletes nothing.
        let o = act(
            d.path(),
            "delete",
            "gone.csv",
            &url,
            &["--yes-delete-permanently", "--force", "--dry-run"],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run deleted");

        let o = act(
            d.path(),
            "delete",
            "gone.csv",
            &url,
            &[
                "--yes-delete-permanently",
                "--max-deactivate",
                "10%",
                "--protect",
                "p04@example.org",
                "--report",
                "r.csv",
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        for gone in ["p01", "p02", "p03"] {
            assert_eq!(active(&sb, gone), None, "{flavor:?}: {gone} not deleted");
        }
        assert_eq!(active(&sb, "p04"), Some(true), "protected, yet deleted");
        assert_eq!(active(&sb, "admin"), Some(true));
        let report = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
        assert!(report.contains("p01,p01@example.org,delete,ok"), "{report}");
        assert!(
            report.contains("never deleted"),
            "{flavor:?}: protected rows say why: {report}"
        );
        assert_eq!(sb.users().len(), 40 + 2 - 3);
    }
}

#[test]
fn a_delete_under_faults_happens_exactly_once() {
    for flavor in flavors() {
        let sb = server(
            flavor,
            30,
            faulty(
                FaultPhase::After,
                SandboxConfig {
                    mm_enable_api_user_deletion: true,
                    ..config()
                },
            ),
        );
        let d = tmp();
        source_of_first(d.path(), "gone.csv", 20);
        let o = act(
            d.path(),
            "delete",
            "gone.csv",
            &sb.url(),
            &[
                "--yes-delete-permanently",
                "--force",
                "--max-attempts",
                "10",
                "--report",
                "r.jsonl",
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(rep.len(), 20);
        assert!(
            rep.iter()
                .all(|e| e["status"] == "ok" && e["action"] == "delete"),
            "{flavor:?}: a retried delete that found its user gone failed: {rep:?}"
        );
        assert_eq!(sb.users().len(), 30 + 2 - 20, "{flavor:?}");
        for i in 21..=30 {
            assert_eq!(active(&sb, &format!("p{i:02}")), Some(true));
        }
    }
}

#[test]
fn resume_after_an_interruption_does_not_redo_done_rows() {
    let sb = server(
        FlavorKind::RocketChat,
        30,
        SandboxConfig {
            latency_ms: 25,
            ..config()
        },
    );
    let d = tmp();
    source_of_first(d.path(), "l.csv", 30);
    let args = [
        "do",
        "deactivate",
        "l.csv",
        "--server",
        &sb.url(),
        "--report",
        "r.jsonl",
        "--workers",
        "2",
    ];
    cut(d.path(), &args, 8);
    let done = (1..=30)
        .filter(|i| active(&sb, &format!("p{i:02}")) == Some(false))
        .count();
    assert!(done < 30, "the run was cut short ({done})");
    let o = resume(d.path(), &args);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 30, "one entry per row");
    assert!(rep.iter().all(|e| e["status"] == "ok"), "{rep:?}");
    assert!((1..=30).all(|i| active(&sb, &format!("p{i:02}")) == Some(false)));
    // Every account deactivated once: no row done before the cut was sent again.
    assert_eq!(requests(&sb, "users.setActiveStatus"), 30);
}

#[test]
fn a_last_room_owner_is_deleted_only_with_confirm_relinquish() {
    let sb = server(FlavorKind::RocketChat, 10, config());
    // p01 owns a channel p02 is in: deleting p01 hands the channel over.
    let p01 = crate::support::Session::login(&sb, "p01", PW);
    let r = p01.post(
        "/api/v1/channels.create",
        &serde_json::json!({"name": "p01-room", "members": ["p02"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let d = tmp();
    source(d.path(), "gone.csv", &["p01"]);
    let url = sb.url();
    let mut args = vec![
        "do",
        "delete",
        "gone.csv",
        "--server",
        &url,
        "--yes-delete-permanently",
        "--force",
        "--report",
        "r.jsonl",
    ];
    let o = as_admin(d.path(), &args);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    let err = rep[0]["error"].as_str().unwrap();
    assert!(
        err.contains("last owner")
            && err.contains("p01-room")
            && err.contains("--confirm-relinquish"),
        "{err}"
    );
    assert_eq!(active(&sb, "p01"), Some(true));
    let mut again: Vec<&str> = args
        .iter()
        .map(|a| if *a == "r.jsonl" { "other.jsonl" } else { a })
        .collect();
    again.push("--confirm-relinquish");
    let o = as_admin(d.path(), &again);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(active(&sb, "p01"), None, "not deleted");
    // The refused delete left no intent behind: resumed, the first run does not claim
    // the account another run deleted.
    args.push("--resume");
    let o = as_admin(d.path(), &args);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    let last = rep.last().unwrap();
    assert_eq!(last["status"], "skipped", "{rep:?}");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("not on the server"),
        "{last}"
    );
}

#[test]
fn a_delete_cut_off_by_sigkill_is_resumed_and_never_sent_twice() {
    let sb = server(
        FlavorKind::Mattermost,
        30,
        SandboxConfig {
            mm_enable_api_user_deletion: true,
            latency_ms: 25,
            ..config()
        },
    );
    let d = tmp();
    source_of_first(d.path(), "gone.csv", 20);
    let url = sb.url();
    let args = [
        "do",
        "delete",
        "gone.csv",
        "--server",
        &url,
        "--yes-delete-permanently",
        "--force",
        "--report",
        "r.jsonl",
        "--workers",
        "2",
    ];
    // The importer is a system admin on Mattermost.
    cut(d.path(), &args, 9);
    let left = sb.users().len() - 2 - 10;
    assert!(left > 0, "the run was cut short");
    let o = resume(d.path(), &args);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 20);
    assert!(
        rep.iter()
            .all(|e| e["status"] == "ok" && e["action"] == "delete"),
        "a row deleted before the cut is reported as done: {rep:?}"
    );
    assert_eq!(sb.users().len(), 2 + 10);
    assert_eq!(
        requests(&sb, "DELETE /api/v4/users/{user_id}"),
        20,
        "a delete sent twice"
    );
}

#[test]
fn rows_matched_by_email_need_only_an_email() {
    for flavor in flavors() {
        let sb = server(flavor, 4, config());
        let d = tmp();
        write(
            d.path(),
            "emails.csv",
            "email\np03@example.org\nP04@Example.org\nghost@example.org\n",
        );
        let o = act(
            d.path(),
            "deactivate",
            "emails.csv",
            &sb.url(),
            &["--match", "email", "--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(active(&sb, "p03"), Some(false), "{flavor:?}");
        assert_eq!(active(&sb, "p04"), Some(false), "{flavor:?}: email case");
        assert_eq!(active(&sb, "p01"), Some(true));
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(rep[2]["status"], "skipped", "{rep:?}");
        // The report names the matched accounts.
        assert_eq!(rep[0]["username"], "p03", "{rep:?}");
        assert_eq!(rep[2]["username"], "", "{rep:?}");
    }
}

#[test]
fn offboard_remove_memberships_leaves_teams_and_channels() {
    for flavor in flavors() {
        let sb = server(flavor, 3, config());
        sb.seed_team("sales", false).expect("team");
        let team = (flavor == FlavorKind::Mattermost).then_some("sales");
        sb.seed_channel(team, "sales-news", false).expect("channel");
        let d = tmp();
        write(
            d.path(),
            "hr.csv",
            &format!(
                "username,email,name,password,teams,channels\n\
                 p01,p01@example.org,Person 1,{PW},sales,sales-news\n\
                 p02,p02@example.org,Person 2,{PW},sales,sales-news\n"
            ),
        );
        let url = sb.url();
        let o = as_admin(d.path(), &["import", "hr.csv", "--server", &url]);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let before = sb.memberships("p01");
        assert!(before.teams.contains(&"sales".to_string()), "{before:?}");
        source(d.path(), "leavers.csv", &["p01"]);
        let args = [
            "do",
            "offboard",
            "leavers.csv",
            "--server",
            &url,
            "--remove-memberships",
            "--report",
            "r.jsonl",
        ];
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        let writes_before = writes(&sb);
        let o = as_admin(d.path(), &dry);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(
            rep[0]["changed"],
            serde_json::json!(["active", "sessions", "memberships"]),
            "{rep:?}"
        );
        assert_eq!(writes(&sb), writes_before, "{flavor:?}: --dry-run wrote");
        let o = as_admin(d.path(), &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let after = sb.memberships("p01");
        assert!(after.teams.is_empty(), "{flavor:?}: {after:?}");
        assert!(
            !after.channels.iter().any(|c| c.contains("sales-news")),
            "{flavor:?}: {after:?}"
        );
        assert_eq!(active(&sb, "p01"), Some(false));
        let kept = sb.memberships("p02");
        assert!(kept.teams.contains(&"sales".to_string()), "{kept:?}");
        // Only with offboard.
        let o = act(
            d.path(),
            "deactivate",
            "leavers.csv",
            &url,
            &["--remove-memberships"],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());
    }
}

/// A user's roles as the sandbox holds them (Rocket.Chat: an array; Mattermost: a
/// space-separated string), sorted.
fn roles_of(sb: &Sandbox, name: &str) -> Vec<String> {
    let u = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} not on the server"));
    let mut v: Vec<String> = match &u["roles"] {
        Value::Array(a) => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn set_roles_replaces_adds_and_removes_and_keeps_the_last_admin() {
    for flavor in flavors() {
        let (admin, user, extra) = match flavor {
            FlavorKind::RocketChat => ("admin", "user", "livechat-agent"),
            _ => ("system_admin", "system_user", "system_user_manager"),
        };
        let sb = server(flavor, 3, config());
        sb.seed_users(&[SeedUser {
            username: "boss".into(),
            email: "boss@example.org".into(),
            name: "Boss".into(),
            password: Some(PW.into()),
            active: true,
            roles: vec![user.into(), admin.into()],
        }])
        .expect("seed");
        let url = sb.url();
        let d = tmp();
        source(d.path(), "staff.csv", &["p01", "p02", "nobody", "boss"]);
        let report = |name: &str| jsonl(&d.path().join(name));

        // Usage: the role options go with set-roles, and --role with neither of the others.
        let o = act(d.path(), "set-roles", "staff.csv", &url, &[]);
        assert_eq!(o.code(), 2, "{}", o.stderr());
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--role", user, "--add-role", extra],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());
        let o = act(
            d.path(),
            "deactivate",
            "staff.csv",
            &url,
            &["--add-role", extra],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(o.stderr().contains("set-roles"), "{}", o.stderr());

        // A dry run writes nothing and says what would change.
        let before = writes(&sb);
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--add-role", extra, "--dry-run", "--report", "dry.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        let rep = report("dry.jsonl");
        let p01 = by_name(&rep, "p01");
        assert_eq!(
            (&p01["action"], &p01["status"], &p01["changed"]),
            (
                &Value::from("set-roles"),
                &Value::from("ok"),
                &serde_json::json!(["roles"])
            )
        );
        assert_eq!(by_name(&rep, "nobody")["status"], "skipped");
        let boss = by_name(&rep, "boss");
        assert_eq!(boss["status"], "skipped", "{boss}");
        assert!(boss["error"].as_str().unwrap().starts_with("protected"));

        // An unknown role rejects every row before any write.
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--add-role", "no-such-role", "--report", "bad.jsonl"],
        );
        assert_ne!(o.code(), 0, "{flavor:?}");
        assert_eq!(writes(&sb), before, "{flavor:?}: an unknown role wrote");
        let p01 = by_name(&report("bad.jsonl"), "p01").clone();
        assert_eq!(p01["status"], "rejected", "{p01}");
        assert!(
            p01["error"].as_str().unwrap().contains("no-such-role"),
            "{p01}"
        );

        // --add-role, then --remove-role, then --role.
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--add-role", extra, "--report", "add.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let mut want = vec![extra.to_string(), user.to_string()];
        want.sort();
        assert_eq!(roles_of(&sb, "p01"), want, "{flavor:?}");
        assert_eq!(roles_of(&sb, "p02"), want);
        assert_eq!(
            by_name(&report("add.jsonl"), "p01")["changed"],
            serde_json::json!(["roles"])
        );
        // Again: nothing left to change.
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--add-role", extra, "--report", "again.jsonl"],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert_eq!(
            by_name(&report("again.jsonl"), "p01")["changed"],
            serde_json::json!([])
        );
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--remove-role", extra],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert_eq!(roles_of(&sb, "p01"), vec![user.to_string()], "{flavor:?}");
        let o = act(
            d.path(),
            "set-roles",
            "staff.csv",
            &url,
            &["--role", user, "--role", extra],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert_eq!(roles_of(&sb, "p02"), want, "{flavor:?}");
        assert_eq!(
            roles_of(&sb, "p03"),
            vec![user.to_string()],
            "not in the source"
        );

        // Named in [safety] write_privileged, with demote_admins, an admin may lose the
        // role while another admin is left; the last one may not.
        write(
            d.path(),
            "job.toml",
            "[safety]\nwrite_privileged = [\"admin\", \"boss\", \"importer\"]\n",
        );
        let demote = |who: &str, rep: &str| {
            source(d.path(), "admins.csv", &[who]);
            let o = act(
                d.path(),
                "set-roles",
                "admins.csv",
                &url,
                &[
                    "--remove-role",
                    "admin",
                    "--config",
                    "job.toml",
                    "--report",
                    rep,
                ],
            );
            (o, by_name(&report(rep), who).clone())
        };
        let (o, boss) = demote("boss", "demote.jsonl");
        assert_ne!(o.code(), 0, "{flavor:?}: demoted without demote_admins");
        assert_eq!(boss["status"], "rejected", "{boss}");
        assert!(
            boss["error"].as_str().unwrap().contains("demote_admins"),
            "{boss}"
        );
        assert!(roles_of(&sb, "boss").contains(&admin.to_string()));
        write(
            d.path(),
            "job.toml",
            "[safety]\nwrite_privileged = [\"admin\", \"boss\", \"importer\"]\ndemote_admins = true\n",
        );
        let (o, boss) = demote("boss", "demote.jsonl");
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(boss["status"], "ok", "{boss}");
        assert!(
            !roles_of(&sb, "boss").contains(&admin.to_string()),
            "{flavor:?}"
        );
        // Mattermost's importer is an admin too.
        let (o, importer) = demote("importer", "importer.jsonl");
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(importer["status"], "ok", "{importer}");
        let (o, last) = demote("admin", "last.jsonl");
        assert_ne!(
            o.code(),
            0,
            "{flavor:?}: the last admin was demoted: {last}"
        );
        assert_eq!(last["status"], "rejected", "{last}");
        assert!(
            last["error"]
                .as_str()
                .unwrap()
                .contains("last active administrator"),
            "{last}"
        );
        assert!(
            roles_of(&sb, "admin").contains(&admin.to_string()),
            "{flavor:?}"
        );
    }
}

#[test]
fn reset_avatar_puts_back_the_default_picture() {
    use base64::Engine as _;
    for flavor in flavors() {
        let sb = server(flavor, 3, config());
        let url = sb.url();
        let d = tmp();
        let png = base64::engine::general_purpose::STANDARD
            .decode(crate::member_fields::PNG_B64)
            .unwrap();
        std::fs::write(d.path().join("p01.png"), &png).unwrap();
        write(
            d.path(),
            "pics.csv",
            &format!(
                "username,email,name,password,avatar\npic,pic@example.org,Pic Ture,{PW},p01.png\n"
            ),
        );
        let o = as_admin(d.path(), &["import", "pics.csv", "--server", &url]);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert!(sb.avatar("pic").is_some(), "{flavor:?}: no avatar to reset");
        source(d.path(), "who.csv", &["pic", "nobody", "admin"]);

        let before = writes(&sb);
        let o = act(
            d.path(),
            "reset-avatar",
            "who.csv",
            &url,
            &["--dry-run", "--report", "dry.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        assert!(sb.avatar("pic").is_some());
        let rep = jsonl(&d.path().join("dry.jsonl"));
        assert_eq!(
            by_name(&rep, "pic")["changed"],
            serde_json::json!(["avatar"])
        );

        let o = act(
            d.path(),
            "reset-avatar",
            "who.csv",
            &url,
            &["--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert!(sb.avatar("pic").is_none(), "{flavor:?}: avatar still set");
        let rep = jsonl(&d.path().join("r.jsonl"));
        let pic = by_name(&rep, "pic");
        assert_eq!(
            (&pic["action"], &pic["status"], &pic["changed"]),
            (
                &Value::from("reset-avatar"),
                &Value::from("ok"),
                &serde_json::json!(["avatar"])
            )
        );
        assert_eq!(by_name(&rep, "nobody")["status"], "skipped");
        assert_eq!(by_name(&rep, "admin")["status"], "skipped");
        // Again: the server's reset is idempotent.
        let o = act(d.path(), "reset-avatar", "who.csv", &url, &[]);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
    }
    // Without the permission, the one message names it.
    let sb = server(FlavorKind::RocketChat, 3, config());
    let d = tmp();
    source(d.path(), "who.csv", &["p01", "p02"]);
    let o = crate::do_support::act_as(
        d.path(),
        "reset-avatar",
        "who.csv",
        &sb.url(),
        &[],
        &[("ROSTER_USERNAME", "p03"), ("ROSTER_PASSWORD", PW)],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("edit-other-user-avatar"),
        "{}",
        o.stderr()
    );
}

#[test]
fn set_status_sets_the_presence_and_on_rocketchat_the_message() {
    for flavor in flavors() {
        let sb = server(flavor, 3, config());
        let url = sb.url();
        let d = tmp();
        source(d.path(), "team.csv", &["p01", "p02", "nobody", "admin"]);

        let o = act(d.path(), "set-status", "team.csv", &url, &[]);
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(o.stderr().contains("--status"), "{}", o.stderr());
        let o = act(
            d.path(),
            "deactivate",
            "team.csv",
            &url,
            &["--status", "away"],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());

        let before = writes(&sb);
        let o = act(
            d.path(),
            "set-status",
            "team.csv",
            &url,
            &["--status", "away", "--dry-run", "--report", "dry.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        let rep = jsonl(&d.path().join("dry.jsonl"));
        assert_eq!(
            by_name(&rep, "p01")["changed"],
            serde_json::json!(["status"])
        );

        let o = act(
            d.path(),
            "set-status",
            "team.csv",
            &url,
            &["--status", "dnd", "--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let dnd = match flavor {
            FlavorKind::RocketChat => "busy",
            _ => "dnd",
        };
        assert_eq!(sb.status("p01").map(|s| s.0).as_deref(), Some(dnd));
        assert_eq!(sb.status("p02").map(|s| s.0).as_deref(), Some(dnd));
        assert_ne!(sb.status("p03").map(|s| s.0).as_deref(), Some(dnd));
        let rep = jsonl(&d.path().join("r.jsonl"));
        let p01 = by_name(&rep, "p01");
        assert_eq!(
            (&p01["action"], &p01["status"], &p01["changed"]),
            (
                &Value::from("set-status"),
                &Value::from("ok"),
                &serde_json::json!(["status"])
            )
        );
        assert_eq!(by_name(&rep, "nobody")["status"], "skipped");
        assert_eq!(by_name(&rep, "admin")["status"], "skipped");

        let o = act(
            d.path(),
            "set-status",
            "team.csv",
            &url,
            &["--status", "busy", "--message", "on leave"],
        );
        match flavor {
            FlavorKind::RocketChat => {
                assert_eq!(o.code(), 0, "{}", o.stderr());
                assert_eq!(
                    sb.status("p01"),
                    Some(("busy".to_string(), "on leave".to_string()))
                );
            }
            _ => {
                // Mattermost has no status message roster can set: one clear message,
                // nothing written.
                assert_eq!(o.code(), 2, "{}", o.stderr());
                assert!(o.stderr().contains("--message"), "{}", o.stderr());
                assert_eq!(sb.status("p01").map(|s| s.0).as_deref(), Some("dnd"));
            }
        }
    }
}

/// The preferences stored for `name`, as the sandbox keeps them.
fn prefs(sb: &Sandbox, name: &str) -> Value {
    Value::Object(sb.preferences(name).into_iter().collect())
}

/// Turns `name`'s two-factor authentication on, as if they had set it up.
fn mfa_on(sb: &Sandbox, name: &str) {
    let facts = roster_sandbox::AccountFacts {
        mfa_active: Some(true),
        ..Default::default()
    };
    sb.set_account_facts(name, &facts).expect("facts");
}

#[test]
fn reset_mfa_turns_two_factor_off_and_says_so_first() {
    for flavor in flavors() {
        let sb = server(flavor, 4, config());
        let url = sb.url();
        let d = tmp();
        source(d.path(), "lost.csv", &["p01", "p02", "admin"]);
        mfa_on(&sb, "p01");
        let session = logged_in(&sb, flavor, "p01");

        let before = writes(&sb);
        let o = act(
            d.path(),
            "reset-mfa",
            "lost.csv",
            &url,
            &["--dry-run", "--report", "dry.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        assert_eq!(sb.mfa("p01"), Some(true));
        let rep = jsonl(&d.path().join("dry.jsonl"));
        assert_eq!(by_name(&rep, "p01")["changed"], serde_json::json!(["mfa"]));
        assert_eq!(by_name(&rep, "admin")["status"], "skipped");

        let o = act(
            d.path(),
            "reset-mfa",
            "lost.csv",
            &url,
            &["--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(sb.mfa("p01"), Some(false), "{flavor:?}");
        let rep = jsonl(&d.path().join("r.jsonl"));
        let p01 = by_name(&rep, "p01");
        assert_eq!(
            (&p01["action"], &p01["status"]),
            (&Value::from("reset-mfa"), &Value::from("ok"))
        );
        // Mattermost shows who has MFA: a user without it is left alone. Rocket.Chat shows
        // no one's TOTP, so the (idempotent) reset goes to every matched user.
        let p02 = &by_name(&rep, "p02")["changed"];
        match flavor {
            FlavorKind::Mattermost => assert_eq!(p02, &serde_json::json!([])),
            FlavorKind::RocketChat => {
                assert_eq!(p02, &serde_json::json!(["mfa"]));
                assert!(!session(), "users.resetTOTP logs the user out");
            }
        }
    }

    // Rocket.Chat without two-factor authentication, or without the permission: one
    // message, exit 2, nothing written.
    let d = tmp();
    source(d.path(), "lost.csv", &["p01", "p02", "p03"]);
    let sb = server(
        FlavorKind::RocketChat,
        3,
        SandboxConfig {
            two_factor: false,
            ..config()
        },
    );
    mfa_on(&sb, "p01");
    let o = act(
        d.path(),
        "reset-mfa",
        "lost.csv",
        &sb.url(),
        &["--report", "off.jsonl"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("Accounts_TwoFactorAuthentication_Enabled"),
        "{}",
        o.stderr()
    );
    assert_eq!(sb.mfa("p01"), Some(true));
    let sb = server(FlavorKind::RocketChat, 3, config());
    mfa_on(&sb, "p01");
    let o = roster(
        d.path(),
        &["do", "reset-mfa", "lost.csv", "--server", &sb.url()],
        &crate::support::as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("edit-other-user-totp"),
        "{}",
        o.stderr()
    );
    assert_eq!(sb.mfa("p01"), Some(true));
    // Rocket.Chat mails the user's verified addresses before it resets: without a mail
    // server nothing is reset, and the first row stops the run.
    for smtp in [true, false] {
        let sb = server(
            FlavorKind::RocketChat,
            3,
            SandboxConfig { smtp, ..config() },
        );
        mfa_on(&sb, "p01");
        write(
            d.path(),
            "verify.csv",
            "username,email,name,verified\np01,p01@example.org,Person 1,true\n",
        );
        let o = as_admin(
            d.path(),
            &[
                "import",
                "verify.csv",
                "--server",
                &sb.url(),
                "--mode",
                "update",
            ],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let o = act(d.path(), "reset-mfa", "lost.csv", &sb.url(), &[]);
        if smtp {
            assert_eq!(o.code(), 0, "{}", o.stderr());
            assert_eq!(sb.mfa("p01"), Some(false));
            let mails = sb.mails();
            assert!(
                mails
                    .iter()
                    .any(|m| m.to == "p01@example.org" && m.kind == "totp-reset"),
                "{mails:?}"
            );
        } else {
            assert_eq!(o.code(), 2, "{}", o.stderr());
            assert!(o.stderr().contains("SMTP"), "{}", o.stderr());
            assert_eq!(sb.mfa("p01"), Some(true), "reset without its mail");
        }
    }
}

#[test]
fn set_preferences_from_the_option_and_the_rows_columns() {
    // Mattermost: CATEGORY.NAME, values are strings.
    let sb = server(FlavorKind::Mattermost, 4, config());
    let d = tmp();
    write(
        d.path(),
        "prefs.csv",
        "username,pref.display_settings.use_military_time,pref.nodot,pref.display_settings.channel_display_mode\n\
         p01,true,,\n\
         p02,false,,full\n\
         p03,,x,\n\
         p04,,,\n",
    );
    let extra = [
        "--preferences",
        r##"{"display_settings": {"channel_display_mode": "centered"}, "sidebar_settings.show_unread_section": true, "theme.": {"sidebarBg": "#000000"}}"##,
        "--report",
    ];
    let before = writes(&sb);
    let o = act(
        d.path(),
        "set-preferences",
        "prefs.csv",
        &sb.url(),
        &[&extra[..], &["dry.jsonl", "--dry-run"]].concat(),
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(writes(&sb), before, "--dry-run wrote");
    let o = act(
        d.path(),
        "set-preferences",
        "prefs.csv",
        &sb.url(),
        &[&extra[..], &["r.jsonl"]].concat(),
    );
    assert_eq!(o.code(), 1, "a rejected row: {}", o.stderr());
    assert_eq!(
        prefs(&sb, "p01"),
        serde_json::json!({
            "display_settings.channel_display_mode": "centered",
            "display_settings.use_military_time": "true",
            "sidebar_settings.show_unread_section": "true",
            "theme.": r##"{"sidebarBg":"#000000"}"##,
        })
    );
    assert_eq!(
        prefs(&sb, "p02")["display_settings.use_military_time"],
        "false"
    );
    let rep = jsonl(&d.path().join("r.jsonl"));
    let dry = jsonl(&d.path().join("dry.jsonl"));
    let p01 = by_name(&rep, "p01");
    assert_eq!(p01["status"], "ok");
    assert_eq!(
        p01["changed"],
        serde_json::json!([
            "pref.display_settings.channel_display_mode",
            "pref.display_settings.use_military_time",
            "pref.sidebar_settings.show_unread_section",
            "pref.theme."
        ])
    );
    assert_eq!(
        by_name(&dry, "p01")["changed"],
        p01["changed"],
        "the dry run says the same"
    );
    // The row's column wins over --preferences for the same key, which is sent once.
    assert_eq!(
        prefs(&sb, "p02")["display_settings.channel_display_mode"],
        "full"
    );
    assert_eq!(by_name(&rep, "p02")["changed"], p01["changed"]);
    // A key without its category rejects the row, with nothing written for it.
    let p03 = by_name(&rep, "p03");
    assert_eq!(p03["status"], "rejected", "{p03}");
    assert!(
        p03["error"].as_str().unwrap().contains("CATEGORY.NAME"),
        "{p03}"
    );
    assert_eq!(prefs(&sb, "p03"), serde_json::json!({}));
    // The option alone is enough for a row without columns.
    assert_eq!(by_name(&rep, "p04")["status"], "ok");

    // Rocket.Chat: users.setPreferences keys, typed by the server's schema.
    let sb = server(FlavorKind::RocketChat, 4, config());
    write(
        d.path(),
        "rc.csv",
        "username,pref.useEmojis,pref.language,pref.idleTimeLimit,pref.bogus\n\
         p01,false,de,300,\n\
         p02,,,,x\n\
         p03,,,,\n",
    );
    let o = act(
        d.path(),
        "set-preferences",
        "rc.csv",
        &sb.url(),
        &[
            "--preferences",
            r#"{"highlights": ["roster"]}"#,
            "--report",
            "rc.jsonl",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(
        prefs(&sb, "p01"),
        serde_json::json!({"useEmojis": false, "language": "de", "idleTimeLimit": 300, "highlights": ["roster"]})
    );
    let rep = jsonl(&d.path().join("rc.jsonl"));
    let p02 = by_name(&rep, "p02");
    assert_eq!(p02["status"], "failed", "{p02}");
    assert!(p02["error"].as_str().unwrap().contains("bogus"), "{p02}");
    assert_eq!(prefs(&sb, "p02"), serde_json::json!({}));
    assert_eq!(by_name(&rep, "p03")["status"], "ok");

    // No preference at all: the row says so. Not a JSON object: usage error.
    let o = act(
        d.path(),
        "set-preferences",
        "rc.csv",
        &sb.url(),
        &["--preferences", "[1]"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--preferences"), "{}", o.stderr());
    // Nor is a category with no name in it.
    let o = act(
        d.path(),
        "set-preferences",
        "rc.csv",
        &sb.url(),
        &["--preferences", r#"{"display_settings": {}}"#],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("sets no preference"), "{}", o.stderr());
    source(d.path(), "bare.csv", &["p03"]);
    let o = act(
        d.path(),
        "set-preferences",
        "bare.csv",
        &sb.url(),
        &["--report", "bare.jsonl"],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let bare = jsonl(&d.path().join("bare.jsonl"));
    assert!(
        bare[0]["error"].as_str().unwrap().contains("no preference"),
        "{bare:?}"
    );
    let o = act(
        d.path(),
        "deactivate",
        "bare.csv",
        &sb.url(),
        &["--preferences", "{\"a\":1}"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
}

fn mm_user(sb: &Sandbox, name: &str) -> Value {
    sb.users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn migrate_auth_moves_mattermost_accounts_to_the_directory() {
    let sb = server(FlavorKind::Mattermost, 6, config());
    let url = sb.url();
    let d = tmp();
    write(
        d.path(),
        "ldap.csv",
        "username,external_id\np01,uid-1\np02,uid-2\np03,\n",
    );
    let o = act(d.path(), "migrate-auth", "ldap.csv", &url, &[]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--auth-service"), "{}", o.stderr());

    let before = writes(&sb);
    let args = ["--auth-service", "ldap", "--report"];
    let o = act(
        d.path(),
        "migrate-auth",
        "ldap.csv",
        &url,
        &[&args[..], &["dry.jsonl", "--dry-run"]].concat(),
    );
    assert_eq!(o.code(), 1, "p03 has no external_id: {}", o.stderr());
    assert_eq!(writes(&sb), before, "--dry-run wrote");
    assert_eq!(mm_user(&sb, "p01")["auth_service"], "");

    let o = act(
        d.path(),
        "migrate-auth",
        "ldap.csv",
        &url,
        &[&args[..], &["r.jsonl"]].concat(),
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let (p01, p02) = (mm_user(&sb, "p01"), mm_user(&sb, "p02"));
    assert_eq!(
        (&p01["auth_service"], &p01["auth_data"]),
        (&Value::from("ldap"), &Value::from("uid-1"))
    );
    assert_eq!(p02["auth_data"], "uid-2");
    // The password is gone: the account signs in through the directory only.
    let client = crate::support::client();
    assert_ne!(
        crate::support::mm_login_raw(&client, &url, "p01", PW).status,
        200
    );
    let rep = jsonl(&d.path().join("r.jsonl"));
    let dry = jsonl(&d.path().join("dry.jsonl"));
    for name in ["p01", "p02", "p03"] {
        let (r, y) = (by_name(&rep, name), by_name(&dry, name));
        assert_eq!(
            (&r["status"], &r["changed"]),
            (&y["status"], &y["changed"]),
            "{name}: the dry run said otherwise"
        );
    }
    assert_eq!(
        by_name(&rep, "p01")["changed"],
        serde_json::json!(["auth_service"])
    );
    let p03 = by_name(&rep, "p03");
    assert_eq!(p03["status"], "rejected");
    assert!(
        p03["error"].as_str().unwrap().contains("external_id"),
        "{p03}"
    );
    // Another account holds uid-1 already: that row fails, saying so.
    write(d.path(), "taken.csv", "username,external_id\np04,uid-1\n");
    let o = act(
        d.path(),
        "migrate-auth",
        "taken.csv",
        &url,
        &[&args[..], &["taken.jsonl"]].concat(),
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let taken = jsonl(&d.path().join("taken.jsonl"));
    let p04 = by_name(&taken, "p04");
    assert_ne!(p04["status"], "ok", "{p04}");
    assert!(p04["error"].as_str().unwrap().contains("uid-1"), "{p04}");
    assert_eq!(mm_user(&sb, "p04")["auth_service"], "");

    // Again: the moved accounts are left alone; a user name as auth_data for the rest.
    let o = act(
        d.path(),
        "migrate-auth",
        "ldap.csv",
        &url,
        &[
            "--auth-service",
            "saml",
            "--auth-data",
            "username",
            "--report",
            "again.jsonl",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let again = jsonl(&d.path().join("again.jsonl"));
    let p01 = by_name(&again, "p01");
    assert_eq!(p01["status"], "skipped", "{p01}");
    assert!(
        p01["error"]
            .as_str()
            .unwrap()
            .contains("signs in with ldap"),
        "{p01}"
    );
    assert_eq!(mm_user(&sb, "p03")["auth_service"], "saml");
    assert_eq!(mm_user(&sb, "p03")["auth_data"], "p03");

    // The email as auth_data (SAML without an Id attribute binds by email).
    source(d.path(), "one.csv", &["p05"]);
    let o = act(
        d.path(),
        "migrate-auth",
        "one.csv",
        &url,
        &["--auth-service", "saml", "--auth-data", "email"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let p05 = mm_user(&sb, "p05");
    assert_eq!(
        (&p05["auth_service"], &p05["auth_data"]),
        (&Value::from("saml"), &Value::from("p05@example.org"))
    );

    // Only a system admin may: one message, nothing written. Rocket.Chat has no such call.
    let o = roster(
        d.path(),
        &[
            "do",
            "migrate-auth",
            "taken.csv",
            "--server",
            &url,
            "--auth-service",
            "ldap",
        ],
        &[("ROSTER_USERNAME", "p06"), ("ROSTER_PASSWORD", PW)],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("system admin"), "{}", o.stderr());
    assert_eq!(mm_user(&sb, "p04")["auth_service"], "");
    let rc = server(FlavorKind::RocketChat, 2, config());
    let before = writes(&rc);
    let o = act(
        d.path(),
        "migrate-auth",
        "one.csv",
        &rc.url(),
        &["--auth-service", "ldap"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("Rocket.Chat has no migrate-auth"),
        "{}",
        o.stderr()
    );
    assert_eq!(writes(&rc), before);
}

#[test]
fn convert_to_bot_on_mattermost_only() {
    let sb = server(FlavorKind::Mattermost, 3, config());
    let url = sb.url();
    let d = tmp();
    source(d.path(), "bots.csv", &["p01", "admin"]);
    let session = logged_in(&sb, FlavorKind::Mattermost, "p01");
    let before = writes(&sb);
    let o = act(d.path(), "convert-to-bot", "bots.csv", &url, &["--dry-run"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(writes(&sb), before);
    let o = act(
        d.path(),
        "convert-to-bot",
        "bots.csv",
        &url,
        &["--report", "r.jsonl"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(mm_user(&sb, "p01")["is_bot"], true);
    assert!(!session(), "converting ends the sessions");
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(by_name(&rep, "p01")["changed"], serde_json::json!(["bot"]));
    assert_eq!(by_name(&rep, "admin")["status"], "skipped");
    // A bot now: protected, as every bot is.
    let o = act(
        d.path(),
        "convert-to-bot",
        "bots.csv",
        &url,
        &["--report", "again.jsonl"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let p01 = by_name(&jsonl(&d.path().join("again.jsonl")), "p01").clone();
    assert_eq!(p01["status"], "skipped", "{p01}");

    let rc = server(FlavorKind::RocketChat, 2, config());
    let o = act(d.path(), "convert-to-bot", "bots.csv", &rc.url(), &[]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("Rocket.Chat has no convert-to-bot"),
        "{}",
        o.stderr()
    );
}

#[test]
fn a_convert_to_bot_whose_answer_was_lost_is_looked_up_not_sent_again() {
    // After: the conversion happened and its answer was lost (looked up, not sent again);
    // before: it never reached the server (sent again).
    for phase in [FaultPhase::After, FaultPhase::Before] {
        let sb = server(FlavorKind::Mattermost, 20, faulty(phase, config()));
        let d = tmp();
        let names = source_of_first(d.path(), "bots.csv", 15);
        let o = act(
            d.path(),
            "convert-to-bot",
            "bots.csv",
            &sb.url(),
            &["--max-attempts", "10", "--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{phase:?}: {}", o.stderr());
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert!(
            rep.iter().all(|e| e["status"] == "ok"),
            "{phase:?}: a conversion that happened, or could, was reported failed: {rep:?}"
        );
        for n in &names {
            assert_eq!(mm_user(&sb, n)["is_bot"], true, "{phase:?} {n}");
        }
        let sent = requests(&sb, "convert_to_bot");
        match phase {
            // Each applied once: a second one would be the server's 500 on a bot.
            FaultPhase::After => assert_eq!(sent, 15),
            _ => assert!(sent > 15, "{phase:?}: nothing was sent again ({sent})"),
        }
        assert_eq!(mm_user(&sb, "p16").get("is_bot"), None);
    }
}
