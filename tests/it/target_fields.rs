//! Fields each server stores, against the sandboxes through the binary: what a source
//! maps reaches the server in the server's own fields, nothing is reported as changed
//! that was not sent, and fields without a place are named once (issue 10 items 4, 5).

use crate::support::requests;
use crate::support::{Ran, as_importer, config, jsonl, roster, start, write, writes};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};
use serde_json::Value;

const PW: &str = "Sekr3t-fields-pw-1";

fn mm() -> Sandbox {
    start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    })
}

fn user(sb: &Sandbox, name: &str) -> Value {
    sb.users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("{name} on the server"))
}

fn names_csv(anna: &str) -> String {
    format!(
        "username,email,name,password,require_password_change\n\
         anna,anna@example.org,{anna},{PW},true\n\
         cher,cher@example.org,Cher,{PW},true\n\
         jps,jps@example.org,Jean Paul Sartre,{PW},true\n"
    )
}

#[test]
fn mattermost_gets_first_and_last_name_from_name_and_a_rename_is_an_update() {
    let sb = mm();
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "u.csv", &names_csv("Anna Li"));
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url, "--report", "r.jsonl"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let anna = user(&sb, "anna");
    assert_eq!(
        (&anna["first_name"], &anna["last_name"]),
        (&"Anna".into(), &"Li".into())
    );
    let jps = user(&sb, "jps");
    assert_eq!(jps["first_name"], "Jean Paul");
    assert_eq!(jps["last_name"], "Sartre");
    let cher = user(&sb, "cher");
    assert_eq!(
        (&cher["first_name"], &cher["last_name"]),
        (&"Cher".into(), &"".into())
    );

    // `changed` of a create names only what Mattermost stores and was sent.
    let rep = jsonl(&d.path().join("r.jsonl"));
    for e in &rep {
        assert_eq!(e["action"], "create", "{e}");
        let changed: Vec<&str> = e["changed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(changed.contains(&"first_name"), "{e}");
        assert!(!changed.contains(&"name"), "{e}");
        assert!(!changed.contains(&"require_password_change"), "{e}");
    }
    // The field without a place is named once in the summary.
    let err = o.stderr();
    assert_eq!(err.matches("no place for").count(), 1, "one warning: {err}");
    assert!(err.contains("require_password_change"), "{err}");

    // A re-run changes nothing.
    let w = writes(&sb);
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url, "--report", "r2.jsonl"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        jsonl(&d.path().join("r2.jsonl"))
            .iter()
            .all(|e| e["action"] == "none")
    );
    assert_eq!(writes(&sb), w);

    // A rename at the source is planned, then applied, as a last_name update.
    write(d.path(), "u.csv", &names_csv("Anna Lind"));
    let o = roster(
        d.path(),
        &["plan", "u.csv", "--server", &url, "-o", "plan.json"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("plan.json")).unwrap())
            .unwrap();
    let updates = plan["updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 1, "{plan}");
    assert_eq!(updates[0]["username"], "anna");
    let fields: Vec<&str> = updates[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["last_name"], "{plan}");
    let o = roster(
        d.path(),
        &["sync", "u.csv", "--server", &url, "--quiet"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(user(&sb, "anna")["last_name"], "Lind");
    assert_eq!(writes(&sb), w + 1, "one patch");
}

#[test]
fn rocket_chat_gets_name_from_first_and_last_and_names_what_it_cannot_keep() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(
        d.path(),
        "u.csv",
        &format!(
            "username,email,first_name,last_name,position,password\n\
             anna,anna@example.org,Anna,Li,Engineer,{PW}\n\
             bob,bob@example.org,Bob,Roe,Clerk,{PW}\n"
        ),
    );
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url, "--report", "r.jsonl"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(user(&sb, "anna")["name"], "Anna Li");
    for e in jsonl(&d.path().join("r.jsonl")) {
        let changed = e["changed"].to_string();
        assert!(changed.contains("\"name\""), "{e}");
        for f in ["first_name", "last_name", "position"] {
            assert!(!changed.contains(f), "{f} was not sent: {e}");
        }
    }
    let err = o.stderr();
    assert_eq!(err.matches("no place for").count(), 1, "{err}");
    assert!(
        err.contains("Rocket.Chat has no place for the mapped field(s) position"),
        "{err}"
    );
}

fn dept_csv(dept: &str) -> String {
    format!(
        "username,email,name,password,custom_fields.dept\n\
         anna,anna@example.org,Anna Li,{PW},{dept}\n\
         bob,bob@example.org,Bob Roe,{PW},{dept}\n\
         carl,carl@example.org,Carl Poe,{PW},{dept}\n"
    )
}

/// Item 5: a custom field the server does not keep (no Accounts_CustomFields entry) is
/// named once and never rewritten night after night.
#[test]
fn rocket_chat_custom_fields_the_server_drops_are_not_rewritten() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        rc_custom_fields: None,
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "u.csv", &dept_csv("R&D"));
    let import = |report: &str| {
        roster(
            d.path(),
            &["import", "u.csv", "--server", &url, "--report", report],
            &as_importer(),
        )
    };
    let o = import("r1.jsonl");
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let err = o.stderr();
    assert_eq!(err.matches("custom field 'dept'").count(), 1, "{err}");
    assert!(err.contains("not kept by the server"), "{err}");
    for e in jsonl(&d.path().join("r1.jsonl")) {
        assert!(!e["changed"].to_string().contains("dept"), "not sent: {e}");
    }

    let updates = requests(&sb, "users.update");
    let o = import("r2.jsonl");
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        requests(&sb, "users.update"),
        updates,
        "a re-run writes nothing"
    );
    assert!(
        jsonl(&d.path().join("r2.jsonl"))
            .iter()
            .all(|e| e["action"] == "none")
    );
    assert_eq!(o.stderr().matches("custom field 'dept'").count(), 1);

    // A sync plans nothing for it either.
    write(d.path(), "u.csv", &dept_csv("Sales"));
    let o = roster(
        d.path(),
        &["sync", "u.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(requests(&sb, "users.update"), updates);
    assert!(o.stderr().contains("custom field 'dept'"), "{}", o.stderr());
}

/// A key the setting defines is kept, sent and updated as before.
#[test]
fn rocket_chat_custom_fields_the_server_keeps_are_still_synced() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        rc_custom_fields: Some(serde_json::json!({"dept": {"type": "text"}})),
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "u.csv", &dept_csv("R&D"));
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(!o.stderr().contains("custom field"), "{}", o.stderr());
    assert_eq!(user(&sb, "anna")["customFields"]["dept"], "R&D");
    write(d.path(), "u.csv", &dept_csv("Sales"));
    let updates = requests(&sb, "users.update");
    let o = roster(
        d.path(),
        &["import", "u.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(requests(&sb, "users.update"), updates + 3);
    assert_eq!(user(&sb, "anna")["customFields"]["dept"], "Sales");
}
