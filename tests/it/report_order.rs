//! The report, the rejects file and the dump list rows in input order, whatever the
//! worker count: rows run on 8 workers against sandboxes whose answers are jittered, so
//! they finish out of order (the journal, written as rows finish, shows it), and every
//! human-facing file still follows the input. A sync lists its source's rows in input
//! order, then the server's users missing from the source.

use std::path::Path;

use crate::support::{
    Ran, as_importer, config, jsonl, roster, roster_as_importer, start, synced, tmp, users_csv,
    write,
};
use roster_sandbox::{FlavorKind, SandboxConfig};
use serde_json::Value;

/// `n` rows `u0001`…, every 9th with an email no server takes (rejected before any call).
fn rows_with_rejects(n: usize) -> String {
    let mut s = String::from("username,email,name,password\n");
    for i in 1..=n {
        let email = if i % 9 == 4 {
            format!("u{i:04}-at-example.org")
        } else {
            format!("u{i:04}@example.org")
        };
        s.push_str(&format!("u{i:04},{email},User {i},Pw-{i:04}-long\n"));
    }
    s
}

fn field(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|e| e[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The journal's rows, in the order they finished.
fn finish_order(journal: &Path) -> Vec<String> {
    std::fs::read_to_string(journal)
        .expect("journal")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| l["entry"]["origin"].as_str().map(str::to_string))
        .collect()
}

/// The `username` column of a CSV file with a header (the rejects file), in file order.
fn csv_usernames(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "username")
        .expect("a username column");
    lines
        .map(|l| l.split(',').nth(col).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn import_reports_rows_in_input_order_on_8_workers_with_jittered_answers() {
    // Mattermost looks rows up 100 at a time: 4 batches run side by side.
    for (flavor, n, jitter_ms) in [
        (FlavorKind::RocketChat, 80, 60),
        (FlavorKind::Mattermost, 400, 20),
    ] {
        let sb = start(SandboxConfig {
            flavor,
            rate_limit: Some(false),
            // Up to this much more per request: rows overtake each other.
            jitter_ms,
            // Some creates fail (one attempt each): failed rows go to the rejects file
            // between the rejected ones.
            fault_rate: 0.2,
            seed: Some(7),
            ..config()
        });
        let d = tmp();
        write(d.path(), "u.csv", &rows_with_rejects(n));
        let r = roster(
            d.path(),
            &[
                "import",
                "u.csv",
                "--server",
                &sb.url(),
                "--workers",
                "8",
                "--max-attempts",
                "1",
                "--report",
                "r.jsonl",
                "--rejects",
                "rejects.csv",
                "--dump",
                "dump.jsonl",
                "--quiet",
            ],
            &as_importer(),
        );
        assert!(matches!(r.code(), 0 | 1), "{flavor:?}: {}", r.stderr());
        let report = jsonl(&d.path().join("r.jsonl"));
        let input: Vec<String> = (2..n + 2).map(|l| format!("u.csv:{l}")).collect();
        assert_eq!(field(&report, "origin"), input, "{flavor:?}: input order");

        // The rows did finish out of order: the journal says so.
        let finished = finish_order(&d.path().join("r.jsonl.journal"));
        let in_order: Vec<String> = input
            .iter()
            .filter(|o| finished.contains(o))
            .cloned()
            .collect();
        assert!(finished.len() > n / 2, "{flavor:?}: {}", finished.len());
        assert_ne!(finished, in_order, "{flavor:?}: rows finished out of order");

        // Rejected (no call) and failed (a fault) rows, in the report's order.
        let bad: Vec<String> = report
            .iter()
            .filter(|e| e["status"] == "rejected" || e["status"] == "failed")
            .map(|e| e["username"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            report.iter().any(|e| e["status"] == "failed")
                && report.iter().any(|e| e["status"] == "rejected"),
            "{flavor:?}: both kinds of bad rows"
        );
        let rejects = csv_usernames(&d.path().join("rejects.csv"));
        assert_eq!(rejects, bad, "{flavor:?}: rejects in input order");

        // The dump follows the report's rows that the server holds.
        let dumped = field(&jsonl(&d.path().join("dump.jsonl")), "username");
        let written: Vec<String> = report
            .iter()
            .filter(|e| e["status"] == "ok")
            .map(|e| e["username"].as_str().unwrap_or_default().to_lowercase())
            .collect();
        let dumped: Vec<String> = dumped.iter().map(|u| u.to_lowercase()).collect();
        assert_eq!(dumped, written, "{flavor:?}: dump in input order");
    }
}

#[test]
fn sync_reports_source_rows_in_input_order_then_missing_server_users() {
    let (sb, d) = synced(40);
    // Renames (updates), new rows (creates), rejected rows and removed users (missing
    // from the source: deactivated), among unchanged rows.
    let mut csv = String::from("username,email,name,password\n");
    for i in 1..=50 {
        if i % 10 == 5 {
            continue; // u0005, u0015, … are missing from the source now
        }
        let name = if i % 4 == 0 {
            format!("Renamed {i}")
        } else {
            format!("User {i}")
        };
        let email = if i % 11 == 3 {
            format!("u{i:04}-at-example.org")
        } else {
            format!("u{i:04}@example.org")
        };
        csv.push_str(&format!("u{i:04},{email},{name},Pw-{i:04}-long\n"));
    }
    std::fs::write(d.path().join("hr.csv"), &csv).unwrap();
    sb.set_latency(0, 60);
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &sb.url(),
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--force",
            "--workers",
            "8",
            "--report",
            "r.csv",
            "--rejects",
            "rejects.csv",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 1, "rejected rows: {}", o.stderr());
    let report = csv_report(&d.path().join("r.csv"));
    let rows = csv.lines().count() - 1;
    let origins: Vec<&str> = report.iter().map(|r| r[0].as_str()).collect();
    let input: Vec<String> = (2..rows + 2).map(|l| format!("hr.csv:{l}")).collect();
    assert_eq!(origins[..rows], input, "source rows in input order");
    let mut missing: Vec<&str> = origins[rows..].to_vec();
    missing.sort();
    assert_eq!(
        missing,
        [
            "server:u0005",
            "server:u0015",
            "server:u0025",
            "server:u0035"
        ],
        "then the server's users missing from the source"
    );
    // Every kind of row is there, interleaved: the planned changes are not grouped.
    let actions: Vec<&str> = report.iter().map(|r| r[3].as_str()).collect();
    for a in ["create", "update", "none", "deactivate"] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    assert_eq!(
        csv_usernames(&d.path().join("rejects.csv")),
        ["u0003", "u0014", "u0036", "u0047"]
    );
}

/// A CSV report's rows (without the header), split on commas (no field holds one here).
fn csv_report(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("report");
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("origin,username,email,action,status,")),
        "the report's columns"
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn plan_and_check_reports_follow_the_input_too() {
    let (sb, d) = synced(12);
    let mut csv = users_csv(14).replace("User 2,", "User Two,");
    csv = csv.replace("u0006,u0006@example.org,User 6,Pw-0006-long\n", "");
    std::fs::write(d.path().join("hr.csv"), &csv).unwrap();
    let url = sb.url();
    for (cmd, extra) in [("plan", None), ("sync", Some("--check"))] {
        let mut args = vec![
            cmd,
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
            "--force",
            "--report",
            "p.jsonl",
        ];
        args.extend(extra);
        let o = roster(d.path(), &args, &as_importer());
        assert!(matches!(o.code(), 0 | 3), "{cmd}: {}", o.stderr());
        let origins = field(&jsonl(&d.path().join("p.jsonl")), "origin");
        let mut want: Vec<String> = (2..15).map(|l| format!("hr.csv:{l}")).collect();
        want.push("server:u0006".into());
        assert_eq!(origins, want, "{cmd}");
    }
}
