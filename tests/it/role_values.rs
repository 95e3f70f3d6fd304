//! Role values checked against the roles the server has, on both sandboxes: a row naming
//! a role the server lacks is rejected before any write, in `import` (and its dry run),
//! `plan`, `sync` and `apply` alike, and the listing is read once per run.

use crate::support::{
    Ran, config, jsonl, requests, rocketchat, roster, roster_as_importer, start, tmp, user, write,
    writes,
};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

const RC_LIST: &str = "GET /api/v1/roles.list";
const MM_LIST: &str = "GET /api/v4/roles";
const RC_TYPO: &str = r#"roles: "admn" is not a role on this server (roles: admin, anonymous, app, bot, guest, leader, livechat-agent, livechat-manager, livechat-monitor, moderator, owner, provisioner, user)"#;

/// Requests to exactly this route key.
fn exact(sb: &Sandbox, key: &str) -> u64 {
    sb.counters().get(key).map(|c| c.requests).unwrap_or(0)
}

fn report_of(d: &std::path::Path, file: &str, username: &str) -> Value {
    jsonl(&d.join(file))
        .into_iter()
        .find(|e| e["username"] == username)
        .unwrap_or_else(|| panic!("{username} not in {file}"))
}

const RC_CSV: &str = "username,email,name,password,roles\n\
                      ann,ann@example.org,Ann,Pw-ann-long,user\n\
                      typo,typo@example.org,Typo,Pw-typo-long,user;admn\n\
                      bob,bob@example.org,Bob,Pw-bob-long,user;bot\n";

#[test]
fn rocketchat_rejects_a_role_typo_in_every_command_reading_the_roles_once_per_run() {
    let sb = rocketchat();
    let url = sb.url();
    let d = tmp();
    write(d.path(), "in.csv", RC_CSV);

    // import --dry-run: the row is rejected, nothing is written.
    let o = roster_as_importer(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &url,
            "--dry-run",
            "--report",
            "dry.jsonl",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let e = report_of(d.path(), "dry.jsonl", "typo");
    assert_eq!(
        (e["status"].as_str(), e["error"].as_str()),
        (Some("rejected"), Some(RC_TYPO))
    );
    assert_eq!(report_of(d.path(), "dry.jsonl", "ann")["status"], "ok");
    assert_eq!(writes(&sb), 0);
    assert_eq!(exact(&sb, RC_LIST), 1);

    // plan: the row is rejected, its reason counted; the other rows are planned.
    let o = roster_as_importer(
        d.path(),
        &["plan", "in.csv", "--server", &url, "-o", "plan.json"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("rejected          1"), "{text}");
    assert!(
        text.contains(r#"1  roles: "…" is not a role on this server (roles: admin,"#),
        "{text}"
    );
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["rejected"], 1);
    let creates: Vec<&str> = plan["creates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["username"].as_str())
        .collect();
    assert_eq!(creates, ["ann", "bob"]);
    assert_eq!(exact(&sb, RC_LIST), 2);
    assert_eq!(writes(&sb), 0);

    // apply: the server lost a role since the plan was made (here: the plan names one it
    // never had); that create is rejected, the other goes ahead.
    plan["creates"][1]["user"]["roles"] = serde_json::json!(["user", "gone"]);
    write(d.path(), "plan.json", &plan.to_string());
    let o = roster_as_importer(
        d.path(),
        &[
            "apply",
            "plan.json",
            "--server",
            &url,
            "--report",
            "applied.jsonl",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let e = report_of(d.path(), "applied.jsonl", "bob");
    assert_eq!(e["status"], "rejected");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with(r#"roles: "gone" is not a role on this server"#),
        "{e}"
    );
    assert_eq!(user(&sb, "ann")["roles"], serde_json::json!(["user"]));
    assert_eq!(user(&sb, "bob"), Value::Null);
    assert_eq!(requests(&sb, "users.create"), 1);
    assert_eq!(exact(&sb, RC_LIST), 3);

    // import: the typo row is rejected and never created, the others are imported.
    let o = roster_as_importer(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &url,
            "--report",
            "r.jsonl",
            "--rejects",
            "fix.csv",
        ],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(report_of(d.path(), "r.jsonl", "typo")["error"], RC_TYPO);
    assert_eq!(report_of(d.path(), "r.jsonl", "bob")["action"], "create");
    assert_eq!(
        user(&sb, "bob")["roles"],
        serde_json::json!(["user", "bot"])
    );
    assert_eq!(user(&sb, "typo"), Value::Null);
    assert_eq!(
        requests(&sb, "users.create"),
        2,
        "no create for the typo row"
    );
    let fix = std::fs::read_to_string(d.path().join("fix.csv")).unwrap();
    assert!(
        fix.contains("typo,typo@example.org") && fix.contains("admn"),
        "{fix}"
    );
    assert_eq!(fix.lines().count(), 2, "{fix}");
    assert_eq!(exact(&sb, RC_LIST), 4);

    // sync: planned and applied in one run, the listing still read once.
    let before = writes(&sb);
    let o = roster_as_importer(
        d.path(),
        &["sync", "in.csv", "--server", &url, "--report", "s.jsonl"],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(report_of(d.path(), "s.jsonl", "typo")["error"], RC_TYPO);
    assert_eq!(writes(&sb), before, "nothing else to do");
    assert_eq!(exact(&sb, RC_LIST), 5);

    // Rows without roles never need the listing.
    write(
        d.path(),
        "plain.csv",
        "username,email,name,password\ncy,cy@example.org,Cy,Pw-cy-long\n",
    );
    let o = roster_as_importer(d.path(), &["import", "plain.csv", "--server", &url]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(exact(&sb, RC_LIST), 5);
}

fn mm() -> Sandbox {
    start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    })
}

const MM_CSV: &str = "username,email,first_name,last_name,password,roles\n\
                      ann,ann@example.org,Ann,Lee,Pw-ann-long,user\n\
                      typo,typo@example.org,Ty,Po,Pw-typo-long,user;admn\n\
                      boss,boss@example.org,Bo,Ss,Pw-boss-long,admin\n\
                      team,team@example.org,Te,Am,Pw-team-long,team_admin\n";

#[test]
fn mattermost_compares_system_roles_after_translation() {
    let sb = mm();
    let url = sb.url();
    let d = tmp();
    write(d.path(), "in.csv", MM_CSV);
    let o = roster_as_importer(
        d.path(),
        &["import", "in.csv", "--server", &url, "--report", "r.jsonl"],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let e = report_of(d.path(), "r.jsonl", "typo");
    assert_eq!(e["status"], "rejected");
    assert_eq!(
        e["error"],
        r#"roles: "admn" is not a role on this server (roles: system_admin, system_custom_group_admin, system_guest, system_manager, system_post_all, system_post_all_public, system_read_only_admin, system_user, system_user_access_token, system_user_manager)"#
    );
    // A team role is a role, but not one a user holds system-wide.
    let e = report_of(d.path(), "r.jsonl", "team");
    assert_eq!(e["status"], "rejected");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with(r#"roles: "team_admin" is not a role on this server"#),
        "{e}"
    );
    // `admin` is system_admin once translated: accepted, and set after the create.
    assert_eq!(report_of(d.path(), "r.jsonl", "boss")["status"], "ok");
    assert_eq!(user(&sb, "boss")["roles"], "system_user system_admin");
    assert_eq!(user(&sb, "typo"), Value::Null);
    assert_eq!(user(&sb, "team"), Value::Null);
    assert_eq!(exact(&sb, "POST /api/v4/users"), 2, "ann and boss only");
    assert_eq!(exact(&sb, MM_LIST), 1);

    // sync plans and applies with one listing; the rows rejected before are again.
    let before = writes(&sb);
    let o = roster_as_importer(
        d.path(),
        &["sync", "in.csv", "--server", &url, "--report", "s.jsonl"],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(report_of(d.path(), "s.jsonl", "typo")["status"], "rejected");
    assert_eq!(report_of(d.path(), "s.jsonl", "team")["status"], "rejected");
    assert_eq!(writes(&sb), before);
    assert_eq!(exact(&sb, MM_LIST), 2);
}

#[test]
fn roles_the_account_may_not_list_are_not_checked_and_said_once() {
    let sb = mm();
    sb.seed_users(&[SeedUser {
        username: "plain".into(),
        email: "plain@example.org".into(),
        name: "Plain User".into(),
        password: Some("Plain-pw-long".into()),
        active: true,
        roles: vec![],
    }])
    .unwrap();
    let d = tmp();
    write(d.path(), "in.csv", MM_CSV);
    // GET /roles needs manage_system: a dry run as a plain user cannot read them.
    let o = roster(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &sb.url(),
            "--dry-run",
            "--report",
            "r.jsonl",
        ],
        &[
            ("ROSTER_USERNAME", "plain"),
            ("ROSTER_PASSWORD", "Plain-pw-long"),
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        jsonl(&d.path().join("r.jsonl"))
            .iter()
            .all(|e| e["status"] == "ok"),
        "unchecked, not rejected"
    );
    let err = o.stderr();
    assert_eq!(
        err.matches("roster: warning: role values were not checked")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("api.context.permissions.app_error"), "{err}");
    assert_eq!(exact(&sb, MM_LIST), 1, "tried once");
    assert_eq!(writes(&sb), 0);
}
