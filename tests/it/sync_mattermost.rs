//! `roster sync` and `export` on the Mattermost sandbox: a quiet night reads
//! ⌈users / 200⌉ pages and writes nothing; an export synced back changes nothing;
//! deactivations go through DELETE (deactivate, never permanent).

use crate::support::{Ran, config, roster_as_importer, start, writes};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

fn users_csv(n: usize) -> String {
    let mut s = String::from("username,email,first_name,last_name,password\n");
    for i in 1..=n {
        s.push_str(&format!(
            "user{i:04},user{i:04}@example.org,First{i},Last{i},Pw-{i:04}-long\n"
        ));
    }
    s
}

fn lists(sb: &Sandbox) -> u64 {
    sb.counters()
        .get("GET /api/v4/users")
        .map(|c| c.requests)
        .unwrap_or(0)
}

#[test]
fn quiet_night_and_export_round_trip() {
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("hr.csv"), users_csv(250)).unwrap();
    let url = sb.url();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync", "hr.csv", "--server", &url, "--state", "s.jsonl", "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    assert_eq!(sb.users().len(), 252);

    let (w, l) = (writes(&sb), lists(&sb));
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "s.jsonl",
            "--deactivate-missing",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    assert_eq!(writes(&sb), w, "a quiet night writes nothing");
    assert_eq!(lists(&sb) - l, 2, "252 users at 200 per page");

    for f in ["all.csv", "all.jsonl", "all.ldif"] {
        let o = roster_as_importer(d.path(), &["export", "--server", &url, "-o", f, "--quiet"]);
        assert_eq!(o.status.code(), Some(0), "{f}: {}", o.stderr());
        let o = roster_as_importer(
            d.path(),
            &["sync", f, "--server", &url, "--quiet", "--report", "rt.csv"],
        );
        assert_eq!(o.status.code(), Some(0), "{f}: {}", o.stderr());
        assert_eq!(writes(&sb), w, "{f}: an export synced back changes nothing");
    }

    // Two users gone from the source: deactivated (DELETE), never deleted.
    std::fs::write(d.path().join("hr.csv"), users_csv(248)).unwrap();
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "s.jsonl",
            "--deactivate-missing",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    let users = sb.users();
    assert_eq!(users.len(), 252, "nobody deleted");
    let u = users.iter().find(|u| u["username"] == "user0250").unwrap();
    assert_ne!(u["delete_at"], 0, "deactivated");
    assert_eq!(
        sb.counters()
            .iter()
            .filter(|(k, _)| k.starts_with("DELETE"))
            .map(|(_, c)| c.requests)
            .sum::<u64>(),
        2
    );
}
