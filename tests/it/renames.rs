//! Renames at the source (issue 18): a person keeps their account when HR changes their
//! username and email, found through the `--state` ledger's anchor (`external_id`), on
//! both sandbox flavors; a rename onto a name another account holds fails that row only;
//! an account the ledger ties to another person is never handed to someone new.

use crate::support::{Ran, as_importer, config, jsonl, rocketchat, roster, start, write, writes};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};
use serde_json::Value;

const PW: &str = "Rename-test-pw-1";

fn sandbox(flavor: FlavorKind) -> Sandbox {
    match flavor {
        // Without its default limiter (10 calls a minute per route for non-admins).
        FlavorKind::RocketChat => rocketchat(),
        FlavorKind::Mattermost => start(SandboxConfig { flavor, ..config() }),
    }
}

fn id_field(flavor: FlavorKind) -> &'static str {
    match flavor {
        FlavorKind::RocketChat => "_id",
        FlavorKind::Mattermost => "id",
    }
}

fn email_of(u: &Value) -> String {
    u["emails"][0]["address"]
        .as_str()
        .or(u["email"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn find(sb: &Sandbox, username: &str) -> Option<Value> {
    sb.users().into_iter().find(|u| u["username"] == username)
}

/// Three people with anchors (entryUUID-like), one without.
fn hr(jane: (&str, &str), bob: (&str, &str)) -> String {
    format!(
        "username,email,first_name,last_name,password,external_id\n\
         {},{},Jane,Doe,{PW},5a1c0e2e-0001-4c6b-9a57-000000000001\n\
         {},{},Bob,Jones,{PW},5a1c0e2e-0002-4c6b-9a57-000000000002\n\
         carol.white,carol.white@example.org,Carol,White,{PW},5a1c0e2e-0003-4c6b-9a57-000000000003\n\
         dan.grey,dan.grey@example.org,Dan,Grey,{PW},\n",
        jane.0, jane.1, bob.0, bob.1
    )
}

fn sync(dir: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sync",
        "hr.csv",
        "--server",
        url,
        "--state",
        "state.jsonl",
        "--deactivate-missing",
        "--json",
        "--report",
        "report.jsonl",
    ];
    args.extend_from_slice(extra);
    roster(dir, &args, &as_importer())
}

fn renamed_keeps_the_account(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let jane = ("jane.doe", "jane.doe@example.org");
    let bob = ("bob.jones", "bob.jones@example.org");
    write(d.path(), "hr.csv", &hr(jane, bob));
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").expect("jane.doe created")[id_field(flavor)].clone();
    let users_before = sb.users().len();

    // The ledger ties each anchor to its account.
    let ledger = jsonl(&d.path().join("state.jsonl"));
    let jane_line = ledger
        .iter()
        .find(|u| u["username"] == "jane.doe")
        .expect("jane.doe in the ledger");
    assert_eq!(jane_line["id"], id);
    assert_eq!(
        jane_line["external_id"],
        "5a1c0e2e-0001-4c6b-9a57-000000000001"
    );

    // HR renames Jane: a new username and a new email, the same anchor.
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.smith", "jane.smith@example.org"), bob),
    );
    let o = roster(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "-o",
            "plan.json",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &o.stderr();
    assert!(text.contains("~ jane.doe → jane.smith"), "{text}");
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["creates"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["deactivations"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["updates"][0]["renamed_from"], "jane.doe", "{plan}");

    let before = writes(&sb);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let summary: Value = serde_json::from_slice(&o.stdout).expect("summary JSON");
    assert_eq!(summary["actions"]["create"], Value::Null, "{summary}");
    assert_eq!(summary["actions"]["deactivate"], Value::Null, "{summary}");
    assert_eq!(summary["actions"]["update"], 1, "{summary}");
    assert_eq!(writes(&sb) - before, 1, "one request renames");
    let now = find(&sb, "jane.smith").expect("renamed");
    assert_eq!(now[id_field(flavor)], id, "the same account");
    assert_eq!(email_of(&now), "jane.smith@example.org");
    assert!(find(&sb, "jane.doe").is_none());
    assert_eq!(sb.users().len(), users_before, "nobody created");
    let report = jsonl(&d.path().join("report.jsonl"));
    let row = report
        .iter()
        .find(|e| e["username"] == "jane.smith")
        .expect("report row");
    assert_eq!(row["renamed_from"], "jane.doe", "{row}");
    assert_eq!(row["action"], "update");
    assert_eq!(row["id"], id);
    // The ledger follows: the next night is quiet.
    let before = writes(&sb);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(writes(&sb), before, "a quiet night after the rename");

    // An account made by hand, outside the source and the ledger.
    write(
        d.path(),
        "hand.csv",
        &format!(
            "username,email,first_name,last_name,password\nerin.black,erin.black@example.org,Erin,Black,{PW}\n"
        ),
    );
    let o = roster(
        d.path(),
        &["import", "hand.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // Bob renamed onto Erin's username, and Carol's email changed: Bob's row fails
    // naming both accounts, Carol's change goes through, nobody is deactivated.
    write(
        d.path(),
        "hr.csv",
        &hr(
            ("jane.smith", "jane.smith@example.org"),
            ("erin.black", "bob.jones@example.org"),
        )
        .replacen(
            "carol.white,carol.white@example.org,",
            "carol.white,carol.w@example.org,",
            1,
        ),
    );
    let before = writes(&sb);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("report.jsonl"));
    let failed: Vec<&Value> = report.iter().filter(|e| e["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    let err = failed[0]["error"].as_str().unwrap();
    assert!(
        err.contains("rename \"bob.jones\" → \"erin.black\"")
            && err.contains("held by another account (\"erin.black\""),
        "{err}"
    );
    assert_eq!(failed[0]["renamed_from"], "bob.jones");
    assert_eq!(
        writes(&sb) - before,
        1,
        "only Carol's change is written: {report:?}"
    );
    assert_eq!(
        email_of(&find(&sb, "carol.white").unwrap()),
        "carol.w@example.org"
    );
    assert!(find(&sb, "erin.black").is_some());
    assert!(find(&sb, "bob.jones").is_some(), "Bob keeps his account");
    assert!(
        report.iter().all(|e| e["action"] != "deactivate"),
        "nobody deactivated: {report:?}"
    );
}

#[test]
fn rocketchat_renamed_person_keeps_their_account() {
    renamed_keeps_the_account(FlavorKind::RocketChat);
}

#[test]
fn mattermost_renamed_person_keeps_their_account() {
    renamed_keeps_the_account(FlavorKind::Mattermost);
}

#[test]
fn an_import_with_a_ledger_renames_instead_of_creating() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let import = |extra: &[&str]| {
        let mut args = vec!["import", "hr.csv", "--server", &url, "--state", "s.jsonl"];
        args.extend_from_slice(extra);
        roster(d.path(), &args, &as_importer())
    };
    let o = import(&[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").unwrap()["_id"].clone();
    let ledger = jsonl(&d.path().join("s.jsonl"));
    assert_eq!(ledger.len(), 5, "a header and four users: {ledger:?}");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.smith", "jane.smith@example.org"), bob),
    );
    // A dry run shows the rename and writes nothing, the ledger included.
    let before = (
        writes(&sb),
        std::fs::read(d.path().join("s.jsonl")).unwrap(),
    );
    let o = import(&["--dry-run", "--report", "dry.jsonl"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let dry = jsonl(&d.path().join("dry.jsonl"));
    assert_eq!(dry[0]["renamed_from"], "jane.doe", "{dry:?}");
    assert_eq!(
        (
            writes(&sb),
            std::fs::read(d.path().join("s.jsonl")).unwrap()
        ),
        before
    );
    let o = import(&["--report", "r.csv"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let now = find(&sb, "jane.smith").expect("renamed");
    assert_eq!(now["_id"], id);
    assert!(find(&sb, "jane.doe").is_none(), "no second account");
    let report = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
    assert!(
        report
            .lines()
            .next()
            .unwrap()
            .ends_with(",error,renamed_from"),
        "{report}"
    );
    assert!(report.contains(",update,ok,"), "{report}");
    assert!(report.contains(",jane.doe\n"), "{report}");
    // The ledger has the new name under the same id and anchor.
    let ledger = jsonl(&d.path().join("s.jsonl"));
    let line = ledger
        .iter()
        .find(|u| u["id"] == id)
        .expect("in the ledger");
    assert_eq!(line["username"], "jane.smith");
    assert_eq!(line["external_id"], "5a1c0e2e-0001-4c6b-9a57-000000000001");
    assert_eq!(ledger.len(), 5, "{ledger:?}");
}

#[test]
fn adopt_starts_the_ledger_on_a_server_that_has_its_users() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    // Users put there before roster kept a ledger.
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").unwrap()["id"].clone();
    // --adopt needs a ledger to write.
    let o = roster(
        d.path(),
        &["sync", "hr.csv", "--server", &url, "--adopt"],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--state"), "{}", o.stderr());
    let before = writes(&sb);
    let o = sync(d.path(), &url, &["--adopt"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(writes(&sb), before, "--adopt writes nothing to the server");
    let summary: Value = serde_json::from_slice(&o.stdout).expect("summary JSON");
    assert_eq!(summary["adopted"]["accounts"], 4, "{summary}");
    assert_eq!(summary["adopted"]["anchored"], 3, "{summary}");
    // The next night follows a rename.
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.smith", "jane.smith@example.org"), bob),
    );
    let users = sb.users().len();
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(find(&sb, "jane.smith").expect("renamed")["id"], id);
    assert_eq!(sb.users().len(), users);
}

/// The README's two-night walkthrough, with the sample files it names.
#[test]
fn the_readme_rename_walkthrough() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let url = sb.url();
    let mut env = as_importer();
    env.push(("ROSTER_SERVER", &url));
    let night = |cmd: &str, file: &str| {
        let path = samples.join(file);
        let mut args = vec![
            cmd,
            path.to_str().unwrap(),
            "--state",
            "hr.state.jsonl",
            "--deactivate-missing",
        ];
        // The summary as JSON, to count; the plan as the README shows it.
        if cmd == "sync" {
            args.push("--json");
        }
        roster(d.path(), &args, &env)
    };
    let o = night("sync", "hr-monday.csv");
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["actions"]["create"], 3, "{summary}");
    let id = find(&sb, "jane.doe").unwrap()["id"].clone();
    let o = night("plan", "hr-tuesday.csv");
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &o.stderr();
    assert!(text.contains("~ jane.doe → jane.smith"), "{text}");
    let o = night("sync", "hr-tuesday.csv");
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["actions"]["update"], 1, "{summary}");
    assert_eq!(summary["actions"]["create"], Value::Null, "{summary}");
    assert_eq!(summary["actions"]["deactivate"], Value::Null, "{summary}");
    assert_eq!(find(&sb, "jane.smith").unwrap()["id"], id);
}

/// A saved plan with a rename: `apply` finds the account under its current name, checks
/// it, renames it; applied twice, it refuses (the account changed since the plan).
#[test]
fn apply_carries_out_a_planned_rename() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").unwrap()["_id"].clone();
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.smith", "jane.smith@example.org"), bob),
    );
    let o = roster(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "-o",
            "plan.json",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let apply = || {
        roster(
            d.path(),
            &["apply", "plan.json", "--server", &url],
            &as_importer(),
        )
    };
    let o = apply();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(find(&sb, "jane.smith").expect("renamed")["_id"], id);
    let o = apply();
    assert_eq!(o.code(), 4, "{}", o.stderr());
}

/// Jane leaves (her account is deactivated as missing), then a new hire (another anchor)
/// gets her username: night after night the new hire's row fails, and Jane's account
/// stays hers, deactivated and tied to her anchor in the ledger.
#[test]
fn an_account_is_never_handed_to_another_person_on_any_night() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    let full = hr(("jane.doe", "jane.doe@example.org"), bob);
    write(d.path(), "hr.csv", &full);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").unwrap()["_id"].clone();
    // Night 2: Jane left.
    let without_jane: String = full
        .lines()
        .filter(|l| !l.starts_with("jane.doe"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(d.path(), "hr.csv", &without_jane);
    let o = sync(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // The ledger manages everyone from the first night on.
    assert!(
        !o.stderr().contains("no user is managed yet"),
        "{}",
        o.stderr()
    );
    assert_eq!(find(&sb, "jane.doe").unwrap()["active"], false);
    // Nights 3 and 4: a new hire got the username jane.doe.
    let csv = hr(("jane.doe", "jane.doe2@example.org"), bob).replace(
        "5a1c0e2e-0001-4c6b-9a57-000000000001",
        "5a1c0e2e-0009-4c6b-9a57-000000000009",
    );
    write(d.path(), "hr.csv", &csv);
    for night in 3..=4 {
        let o = sync(d.path(), &url, &["--reactivate"]);
        assert_eq!(o.code(), 1, "night {night}: {}", o.stderr());
        let report = jsonl(&d.path().join("report.jsonl"));
        let failed: Vec<&Value> = report.iter().filter(|e| e["status"] == "failed").collect();
        assert_eq!(failed.len(), 1, "night {night}: {report:?}");
        assert!(
            failed[0]["error"]
                .as_str()
                .unwrap()
                .contains("belongs to another person"),
            "{failed:?}"
        );
        let now = find(&sb, "jane.doe").unwrap();
        assert_eq!(now["_id"], id);
        assert_eq!(now["active"], false, "night {night}");
        assert_eq!(email_of(&now), "jane.doe@example.org", "night {night}");
        let ledger = jsonl(&d.path().join("state.jsonl"));
        let line = ledger
            .iter()
            .find(|u| u["id"] == id)
            .expect("in the ledger");
        assert_eq!(
            line["external_id"], "5a1c0e2e-0001-4c6b-9a57-000000000001",
            "night {night}"
        );
        assert_eq!(line["active"], false);
    }
}

#[test]
fn import_never_writes_its_ledger_over_its_source() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let csv = hr(
        ("jane.doe", "jane.doe@example.org"),
        ("bob.jones", "bob.jones@example.org"),
    );
    write(d.path(), "hr.csv", &csv);
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &url, "--state", "hr.csv"],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--state"), "{}", o.stderr());
    assert_eq!(
        std::fs::read_to_string(d.path().join("hr.csv")).unwrap(),
        csv
    );
    assert!(find(&sb, "jane.doe").is_none(), "nothing was imported");
}

#[test]
fn a_create_only_import_with_a_ledger_renames_nobody_twice() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let import = || {
        roster(
            d.path(),
            &[
                "import", "hr.csv", "--server", &url, "--state", "s.jsonl", "--mode", "create",
                "--report", "r.jsonl",
            ],
            &as_importer(),
        )
    };
    let o = import();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let users = sb.users().len();
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.smith", "jane.smith@example.org"), bob),
    );
    let o = import();
    assert!(o.code() <= 1, "{}", o.stderr());
    assert_eq!(sb.users().len(), users, "no second account for Jane");
    assert!(
        find(&sb, "jane.smith").is_none(),
        "create mode changes no one"
    );
    let report = jsonl(&d.path().join("r.jsonl"));
    assert!(report.iter().all(|e| e["action"] != "create"), "{report:?}");
}

#[test]
fn adopt_again_keeps_the_ledgers_other_accounts_and_refuses_an_empty_source() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // The source's anchor attribute changed (new ids for everyone) and Dan is not in
    // this export: adopting again re-keys the three it has and keeps Dan managed.
    let rekeyed = hr(("jane.doe", "jane.doe@example.org"), bob)
        .replace("5a1c0e2e-", "77770000-")
        .lines()
        .filter(|l| !l.starts_with("dan.grey"))
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    write(d.path(), "hr.csv", &rekeyed);
    let before = writes(&sb);
    let o = sync(d.path(), &url, &["--adopt"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(writes(&sb), before);
    let summary: Value = serde_json::from_slice(&o.stdout).expect("summary JSON");
    assert_eq!(summary["adopted"]["accounts"], 3, "{summary}");
    assert_eq!(summary["adopted"]["reanchored"], 3, "{summary}");
    assert_eq!(summary["adopted"]["kept"], 1, "{summary}");
    let ledger = jsonl(&d.path().join("state.jsonl"));
    let names: Vec<&str> = ledger
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(names.contains(&"dan.grey"), "{names:?}");
    let jane = ledger.iter().find(|u| u["username"] == "jane.doe").unwrap();
    assert_eq!(jane["external_id"], "77770000-0001-4c6b-9a57-000000000001");
    // An empty export adopts nothing and leaves the ledger as it was.
    let kept = std::fs::read(d.path().join("state.jsonl")).unwrap();
    write(
        d.path(),
        "hr.csv",
        "username,email,first_name,last_name,password,external_id\n",
    );
    let o = sync(d.path(), &url, &["--adopt"]);
    assert_eq!(o.code(), 4, "{}", o.stderr());
    assert!(o.stderr().contains("no valid rows"), "{}", o.stderr());
    assert_eq!(std::fs::read(d.path().join("state.jsonl")).unwrap(), kept);
}

const JANE_ANCHOR: &str = "5a1c0e2e-0001-4c6b-9a57-000000000001";

/// Re-adopting while Jane's row is rejected (a bad email): her account is "matched" by
/// the rejected row's username and goes into the ledger without her anchor, so the next
/// rename of Jane creates a second account and deactivates the first.
#[test]
fn adopt_keeps_the_anchor_of_a_person_whose_row_is_rejected() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    write(d.path(), "hr.csv", &hr(("jane.doe", "not-an-email"), bob));
    let o = sync(d.path(), &url, &["--adopt"]);
    assert!(o.code() <= 1, "{}", o.stderr());
    let ledger = jsonl(&d.path().join("state.jsonl"));
    let jane = ledger
        .iter()
        .find(|u| u["username"] == "jane.doe")
        .expect("jane in the ledger");
    assert_eq!(jane["external_id"], JANE_ANCHOR, "{jane}");
}

/// Re-adopting ties Jane's anchor to the account the source now matches (jane.d), but
/// the old ledger's line for jane.doe (not matched, so "kept") still carries the same
/// anchor and comes later in the file: read back, the anchor leads to jane.doe again.
#[test]
fn adopt_moves_an_anchor_for_good() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    write(
        d.path(),
        "hand.csv",
        &format!(
            "username,email,first_name,last_name,password\njane.d,jane.d@example.org,Jane,Doe,{PW}\n"
        ),
    );
    let o = roster(
        d.path(),
        &["import", "hand.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.d", "jane.d@example.org"), bob),
    );
    let o = sync(d.path(), &url, &["--adopt"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let ledger = jsonl(&d.path().join("state.jsonl"));
    let tied: Vec<&Value> = ledger
        .iter()
        .filter(|u| u["external_id"] == JANE_ANCHOR)
        .collect();
    assert_eq!(tied.len(), 1, "one anchor, two ledger lines: {tied:?}");
    // What the next night does with it.
    let o = roster(
        d.path(),
        &["plan", "hr.csv", "--server", &url, "--state", "state.jsonl"],
        &as_importer(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &o.stderr();
    assert!(!text.contains("jane.doe"), "{text}");
}

/// A sync whose report cannot be written still made its writes (a create here), but
/// leaves the ledger as it was: the new person's anchor is never learned, and when HR
/// renames her the next night she gets a second account.
#[test]
fn sync_saves_the_ledger_when_the_report_fails() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let erin = |name: &str| {
        hr(("jane.doe", "jane.doe@example.org"), bob)
            + &format!(
                "{name},{name}@example.org,Erin,Black,{PW},5a1c0e2e-0005-4c6b-9a57-000000000005\n"
            )
    };
    write(d.path(), "hr.csv", &erin("erin.black"));
    let o = roster(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--report",
            "/dev/full",
        ],
        &as_importer(),
    );
    assert_ne!(o.code(), 0, "{}", o.stderr());
    assert!(find(&sb, "erin.black").is_some(), "created: {}", o.stderr());
    let users = sb.users().len();
    write(d.path(), "hr.csv", &erin("erin.white"));
    let o = sync(d.path(), &url, &[]);
    assert!(o.code() <= 1, "{}", o.stderr());
    assert_eq!(sb.users().len(), users, "a second account for Erin");
}

/// An import whose report cannot be written still saves the ledger.
#[test]
fn import_saves_the_ledger_when_the_report_fails() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    write(
        d.path(),
        "hr.csv",
        &hr(("jane.doe", "jane.doe@example.org"), bob),
    );
    let o = roster(
        d.path(),
        &[
            "import",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "s.jsonl",
            "--report",
            "/dev/full",
        ],
        &as_importer(),
    );
    assert_ne!(o.code(), 0, "{}", o.stderr());
    let ledger = jsonl(&d.path().join("s.jsonl"));
    assert!(
        ledger.iter().any(|u| u["external_id"] == JANE_ANCHOR),
        "{}: {ledger:?}",
        o.stderr()
    );
}

/// Jane leaves (deactivated, kept in the ledger tied to her anchor); a new hire gets her
/// username. The operator re-adopts (say, after adding a column): --adopt matches by
/// username only and ties Jane's deactivated account to the new hire's anchor, so the
/// next `sync --reactivate` hands Jane's account (history, DMs) to the new hire.
#[test]
fn adopt_never_ties_a_leavers_account_to_another_person() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    let full = hr(("jane.doe", "jane.doe@example.org"), bob);
    write(d.path(), "hr.csv", &full);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let id = find(&sb, "jane.doe").unwrap()["_id"].clone();
    let without_jane: String = full
        .lines()
        .filter(|l| !l.starts_with("jane.doe"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(d.path(), "hr.csv", &without_jane);
    let o = sync(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // The ledger manages everyone from the first night on.
    assert!(
        !o.stderr().contains("no user is managed yet"),
        "{}",
        o.stderr()
    );
    assert_eq!(find(&sb, "jane.doe").unwrap()["active"], false);
    let csv = hr(("jane.doe", "jane.doe2@example.org"), bob).replace(
        "5a1c0e2e-0001-4c6b-9a57-000000000001",
        "5a1c0e2e-0009-4c6b-9a57-000000000009",
    );
    write(d.path(), "hr.csv", &csv);
    let o = sync(d.path(), &url, &["--adopt"]);
    assert!(o.code() <= 1, "{}", o.stderr());
    let o = sync(d.path(), &url, &["--reactivate"]);
    let now = find(&sb, "jane.doe").unwrap();
    assert_eq!(now["_id"], id);
    assert_eq!(
        (now["active"].clone(), email_of(&now)),
        (Value::Bool(false), "jane.doe@example.org".to_string()),
        "Jane's account was handed to the new hire: {}",
        o.stderr()
    );
}

/// A sync whose report cannot be written saves the ledger with tonight's planned problems
/// in its header: a new bad row, never reported (the run ended on the report error), is
/// "known" the next night and `--fail-on new` never alerts on it.
#[test]
fn a_problem_first_met_by_an_unfinished_sync_is_still_new() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bob = ("bob.jones", "bob.jones@example.org");
    let base = hr(("jane.doe", "jane.doe@example.org"), bob);
    write(d.path(), "hr.csv", &base);
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let bad = base.clone()
        + &format!(
            "erin.black,erin.black@example.org,Erin,Black,{PW},5a1c0e2e-0005-4c6b-9a57-000000000005\n"
        )
        + &format!("bad.one,not-an-email,Bad,One,{PW},5a1c0e2e-0006-4c6b-9a57-000000000006\n");
    write(d.path(), "hr.csv", &bad);
    let o = roster(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--report",
            "/dev/full",
        ],
        &as_importer(),
    );
    assert_ne!(o.code(), 0, "{}", o.stderr());
    let o = sync(d.path(), &url, &["--fail-on", "new"]);
    assert_eq!(
        o.code(),
        1,
        "bad.one was never reported, yet it is a known problem now: {}",
        o.stderr()
    );
}
