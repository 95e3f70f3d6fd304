//! Rocket.Chat's own request schemas (`@rocket.chat/rest-typings` 8.8.1, run by
//! tests/referees/rc_schemas.mjs) judge every request roster sends during an import, a sync
//! with renames and deactivations, an update-only import and an export: the sandbox captures
//! them, and each query or body must pass its route's schema.

use crate::support::{Ran, as_importer, config, roster, run_referee, start, write};
use roster_sandbox::SandboxConfig;

#[test]
fn every_request_roster_sends_to_rocket_chat_passes_the_servers_schema() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        capture_requests: true,
        rc_custom_fields: Some(serde_json::json!({"dept": {"type": "text"}})),
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let run = |args: &[&str]| {
        let o = roster(d.path(), args, &as_importer());
        assert!(o.code() <= 1, "roster {args:?}: {}", o.stderr());
    };
    write(
        d.path(),
        "hr.csv",
        "username,email,name,password,custom_fields.dept,require_password_change\n\
         anna,anna@example.org,Anna Li,Pw-anna-long-1,R&D,true\n\
         bert,bert@example.org,Bert Ma,Pw-bert-long-1,Sales,false\n\
         cleo,cleo@example.org,Cleo Ng,Pw-cleo-long-1,Ops,false\n\
         dora,dora@example.org,Dora Oz,,Ops,false\n",
    );
    run(&["import", "hr.csv", "--server", &url, "--random-password"]);
    // A rename, a changed field, one row gone (deactivated), then back.
    write(
        d.path(),
        "hr2.csv",
        "username,email,name,password,custom_fields.dept\n\
         anna,anna@example.org,Anna Lee,Pw-anna-long-1,R&D\n\
         bert,bert@example.org,Bert Ma,Pw-bert-long-1,Finance\n\
         dora,dora.new@example.org,Dora Oz,Pw-dora-long-1,Ops\n",
    );
    let sync = |file: &str| {
        run(&[
            "sync",
            file,
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--max-deactivate",
            "1",
            "--quiet",
        ])
    };
    sync("hr2.csv");
    sync("hr.csv");
    run(&["import", "hr2.csv", "--server", &url, "--mode", "update"]);
    run(&["export", "--server", &url, "-o", "all.csv"]);
    run(&[
        "export",
        "--server",
        &url,
        "-o",
        "active.jsonl",
        "--active-only",
        // The membership listings (teams.listAll, rooms.adminRooms, *.members) too.
        "--memberships",
    ]);

    let captured = sb.captured();
    let writes = captured
        .iter()
        .filter(|r| r.route.contains("users.create") || r.route.contains("users.update"))
        .count();
    assert!(writes >= 6, "roster's writes were captured: {captured:?}");
    let lines: String = captured
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    let file = d.path().join("captured.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = run_referee("rc_schemas.mjs", &["captured", file.to_str().unwrap()], &[]);
    println!("{out}");
    for route in ["users.create", "users.update", "users.list"] {
        assert!(
            out.contains(&format!("× POST /api/v1/{route}"))
                || out.contains(&format!("× GET /api/v1/{route}")),
            "{route} was checked:\n{out}"
        );
    }
}
