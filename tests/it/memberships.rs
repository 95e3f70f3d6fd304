//! Teams, channels and avatars on the sandboxes (issue 13): a 2,000-user import from a
//! department column puts everyone in their team and channels in batched requests, a
//! re-run adds nothing, a sync adds what an account lacks and leaves a hand-made
//! membership alone, an unknown team rejects its row before the account is made, and a
//! new account gets its avatar.

use crate::support::{Ran, as_importer, config, jsonl, rocketchat, roster, start, write};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

pub(crate) const PW: &str = "Members-test-pw-1";
const DEPARTMENTS: [&str; 5] = ["sales", "support", "research", "legal", "finance"];

/// A sandbox with the five departments' teams, each with its `-news` channel.
pub(crate) fn sandbox(flavor: FlavorKind) -> Sandbox {
    let sb = match flavor {
        FlavorKind::RocketChat => rocketchat(),
        FlavorKind::Mattermost => start(SandboxConfig {
            flavor,
            // The server's default is 50 users per team.
            mm_max_users_per_team: 10_000,
            ..config()
        }),
    };
    for d in DEPARTMENTS {
        sb.seed_team(d, false).expect("team");
        let team = (flavor == FlavorKind::Mattermost).then_some(d);
        sb.seed_channel(team, &format!("{d}-news"), false)
            .expect("channel");
    }
    sb
}

/// `n` people, each in the department `i % 5`.
fn people(n: usize) -> String {
    let mut s = String::from("username,email,name,department,password\n");
    for i in 0..n {
        s.push_str(&format!(
            "p{i:05},p{i:05}@example.org,Person {i},{},{PW}\n",
            DEPARTMENTS[i % DEPARTMENTS.len()]
        ));
    }
    s
}

fn import(dir: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        "hr.csv",
        "--server",
        url,
        "--map",
        "teams={department}",
        "--map",
        "channels={department}-news",
        "--json",
        "--report",
        "report.jsonl",
    ];
    args.extend_from_slice(extra);
    roster(dir, &args, &as_importer())
}

fn mass_import(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &people(2000));
    let o = import(d.path(), &url, &["--workers", "8"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary");
    assert_eq!(summary["ok"], 2000, "{summary}");
    // Every membership, both kinds.
    for i in [0usize, 1, 777, 1999] {
        let m = sb.memberships(&format!("p{i:05}"));
        let dep = DEPARTMENTS[i % 5];
        assert!(m.teams.iter().any(|t| t == dep), "p{i:05}: {m:?}");
        assert!(
            m.channels.iter().any(|c| *c == format!("{dep}-news")),
            "p{i:05}: {m:?}"
        );
    }
    let added = summary["memberships"]["added"].as_u64().unwrap();
    let requests = summary["memberships"]["requests"].as_u64().unwrap();
    assert_eq!(added, 4000, "{summary}");
    // Batched: rows go 100 to a batch (roster::exec::MEMBER_BATCH), and each batch needs
    // one request per group it touches (10 here), not one per membership.
    let batches = 2000u64.div_ceil(100);
    assert!(
        requests <= batches * 10 + 10,
        "{requests} requests for {added} memberships"
    );
    eprintln!(
        "{flavor:?}: {added} memberships in {requests} requests ({:.3} per membership)",
        requests as f64 / added as f64
    );
    // Again: nothing to add, nothing written.
    let before = crate::support::writes(&sb);
    let o = import(d.path(), &url, &["--workers", "8"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary");
    assert!(summary.get("memberships").is_none(), "{summary}");
    assert_eq!(crate::support::writes(&sb), before);
}

#[test]
fn rocketchat_mass_import_puts_everyone_in_their_team_and_channel() {
    mass_import(FlavorKind::RocketChat);
}

#[test]
fn mattermost_mass_import_puts_everyone_in_their_team_and_channel() {
    mass_import(FlavorKind::Mattermost);
}

fn unknown_and_hand_made(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,department,password\n\
             ann,ann@example.org,Ann Lee,sales,{PW}\n\
             bob,bob@example.org,Bob Roe,marketing,{PW}\n"
        ),
    );
    let o = import(d.path(), &url, &[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("report.jsonl"));
    assert_eq!(report[1]["status"], "rejected", "{report:?}");
    assert!(
        report[1]["error"]
            .as_str()
            .unwrap()
            .contains("no team \"marketing\""),
        "{report:?}"
    );
    assert!(
        sb.users().iter().all(|u| u["username"] != "bob"),
        "bob was created though his team is unknown"
    );
    // An administrator adds ann to support by hand; a sync keeps it.
    sb.add_member("support", "ann")
        .expect("hand-made membership");
    let o = roster(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--map",
            "teams={department}",
            "--map",
            "channels={department}-news",
            "--state",
            "s.jsonl",
            "--deactivate-missing",
        ],
        &as_importer(),
    );
    assert!(o.code() <= 1, "{}", o.stderr());
    let m = sb.memberships("ann");
    assert!(m.teams.iter().any(|t| t == "support"), "{m:?}");
    assert!(m.teams.iter().any(|t| t == "sales"), "{m:?}");
}

#[test]
fn rocketchat_unknown_team_rejects_and_hand_made_membership_stays() {
    unknown_and_hand_made(FlavorKind::RocketChat);
}

#[test]
fn mattermost_unknown_team_rejects_and_hand_made_membership_stays() {
    unknown_and_hand_made(FlavorKind::Mattermost);
}

/// A sync plans the memberships an existing account lacks, then adds them.
#[test]
fn a_sync_adds_what_an_existing_account_lacks() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(
        d.path(),
        "hr.csv",
        &format!("username,email,name,password\nann,ann@example.org,Ann Lee,{PW}\n"),
    );
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,teams,channels\nann,ann@example.org,Ann Lee,{PW},sales,sales-news\n"
        ),
    );
    let o = roster(
        d.path(),
        &["plan", "hr.csv", "--server", &url],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("+ team: sales") && text.contains("+ channel: sales/sales-news"),
        "{text}"
    );
    let o = roster(
        d.path(),
        &["sync", "hr.csv", "--server", &url, "--json"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let m = sb.memberships("ann");
    assert!(m.teams.iter().any(|t| t == "sales"), "{m:?}");
    assert!(m.channels.iter().any(|c| c == "sales-news"), "{m:?}");
    // Nothing left to do.
    let o = roster(
        d.path(),
        &["plan", "hr.csv", "--server", &url],
        &as_importer(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("update            0"), "{text}");
}

fn avatar_on_create(flavor: FlavorKind) {
    use base64::Engine as _;
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let png = base64::engine::general_purpose::STANDARD
        .decode(crate::member_fields::PNG_B64)
        .unwrap();
    std::fs::create_dir_all(d.path().join("photos")).unwrap();
    std::fs::write(d.path().join("photos/ann.png"), &png).unwrap();
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,avatar\n\
             ann,ann@example.org,Ann Lee,{PW},photos/ann.png\n\
             bob,bob@example.org,Bob Roe,{PW},photos/missing.png\n"
        ),
    );
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &url, "--report", "r.jsonl"],
        &as_importer(),
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report[0]["status"], "ok", "{report:?}");
    assert!(
        report[0]["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "avatar")
    );
    assert!(sb.avatar("ann").is_some(), "ann has no avatar");
    // bob's file is not there: bob is created, the row fails saying why.
    assert_eq!(report[1]["status"], "failed", "{report:?}");
    assert!(
        report[1]["error"]
            .as_str()
            .unwrap()
            .contains("created, but its avatar was not set"),
        "{report:?}"
    );
    assert!(sb.avatar("bob").is_none());
}

#[test]
fn rocketchat_new_account_gets_its_avatar() {
    avatar_on_create(FlavorKind::RocketChat);
}

#[test]
fn mattermost_new_account_gets_its_avatar() {
    avatar_on_create(FlavorKind::Mattermost);
}

/// `username,email,name,department,password` for ann, bob and cid.
pub(crate) fn three(ann: &str, bob: &str, cid: &str) -> String {
    format!(
        "username,email,name,department,password\n\
         ann,ann@example.org,Ann Lee,{ann},{PW}\n\
         bob,bob@example.org,Bob Roe,{bob},{PW}\n\
         cid,cid@example.org,Cid Poe,{cid},{PW}\n"
    )
}

/// A nightly sync of hr.csv with teams and channels from its department column.
pub(crate) fn sync_members(
    dir: &std::path::Path,
    url: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "sync",
        "hr.csv",
        "--server",
        url,
        "--map",
        "teams={department}",
        "--map",
        "channels={department}-news",
        "--state",
        "s.jsonl",
        "--deactivate-missing",
        "--json",
    ];
    args.extend_from_slice(extra);
    roster(dir, &args, &as_importer())
}

fn department_change(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "sales", "legal"));
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // An administrator puts ann in research by hand.
    sb.add_member("research", "ann").expect("hand-made");
    // Ann moves from sales to support.
    write(d.path(), "hr.csv", &three("support", "sales", "legal"));
    let o = roster(
        d.path(),
        &[
            "plan",
            "hr.csv",
            "--server",
            &url,
            "--map",
            "teams={department}",
            "--map",
            "channels={department}-news",
            "--state",
            "s.jsonl",
            "--deactivate-missing",
            "--max-deactivate",
            "1",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let team = |t: &str| match flavor {
        FlavorKind::Mattermost => format!("{t}/{t}-news"),
        FlavorKind::RocketChat => format!("{t}-news"),
    };
    assert!(text.contains("      - team: sales\n"), "{text}");
    assert!(
        text.contains(&format!("      - channel: {}\n", team("sales"))),
        "{text}"
    );
    assert!(text.contains("      + team: support\n"), "{text}");
    assert!(
        !text.contains("research"),
        "a hand-made membership is not roster's: {text}"
    );
    // One user moves: one account out of three managed, over the default 5 %.
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 4, "{}", o.stderr());
    let o = sync_members(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let m = sb.memberships("ann");
    assert!(m.teams.iter().any(|t| t == "support"), "{m:?}");
    assert!(m.channels.iter().any(|c| c == "support-news"), "{m:?}");
    assert!(!m.teams.iter().any(|t| t == "sales"), "{m:?}");
    assert!(!m.channels.iter().any(|c| c == "sales-news"), "{m:?}");
    assert!(
        m.teams.iter().any(|t| t == "research"),
        "hand-made membership gone: {m:?}"
    );
    // bob's are his still.
    let b = sb.memberships("bob");
    assert!(b.teams.iter().any(|t| t == "sales"), "{b:?}");
    // The next night has nothing to do.
    let before = crate::support::writes(&sb);
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(crate::support::writes(&sb), before);
}

#[test]
fn rocketchat_department_change_moves_a_user_between_managed_groups() {
    department_change(FlavorKind::RocketChat);
}

#[test]
fn mattermost_department_change_moves_a_user_between_managed_groups() {
    department_change(FlavorKind::Mattermost);
}

/// A department column emptied by a bad export would remove everyone from their team:
/// the removals count against the deactivation threshold, and the sync writes nothing.
#[test]
fn mass_removal_is_refused_by_the_threshold() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &people(40));
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // Everyone moved to legal: 32 of 40 leave a team and a channel.
    let moved = people(40)
        .replace(",sales,", ",legal,")
        .replace(",support,", ",legal,")
        .replace(",research,", ",legal,")
        .replace(",finance,", ",legal,");
    write(d.path(), "hr.csv", &moved);
    let before = crate::support::writes(&sb);
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 4, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("32 users would leave teams or channels (64 membership removals)"),
        "{}",
        o.stderr()
    );
    assert_eq!(crate::support::writes(&sb), before, "nothing written");
    // The operator agrees.
    let o = sync_members(d.path(), &url, &["--max-deactivate", "100%"]);
    assert!(o.code() <= 1, "{}", o.stderr());
    let m = sb.memberships("p00000");
    assert_eq!(m.teams, ["legal"], "{m:?}");
}

#[test]
fn a_leaver_leaves_their_groups_only_when_asked() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "sales", "legal"));
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // cid leaves: deactivated, memberships kept by default.
    let no_cid: String = three("sales", "sales", "legal")
        .lines()
        .filter(|l| !l.starts_with("cid"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(d.path(), "hr.csv", &no_cid);
    let o = sync_members(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(sb.memberships("cid").teams.iter().any(|t| t == "legal"));
    // bob leaves too, with --remove-memberships-on-deactivate.
    let only_ann: String = no_cid
        .lines()
        .filter(|l| !l.starts_with("bob"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(d.path(), "hr.csv", &only_ann);
    let o = sync_members(
        d.path(),
        &url,
        &[
            "--max-deactivate",
            "1",
            "--remove-memberships-on-deactivate",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let b = sb.memberships("bob");
    assert!(!b.teams.iter().any(|t| t == "sales"), "{b:?}");
}

/// --manage-team / --manage-channel (and the job file's [sync] manage_teams): a
/// membership in a managed group is roster's whoever made it.
#[test]
fn a_managed_team_loses_members_the_source_does_not_put_there() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "support", "legal"));
    let o = sync_members(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for g in ["finance", "research", "finance-news", "research-news"] {
        sb.add_member(g, "bob").expect("hand-made");
    }
    // Managed: the finance team (job file) and its channel (command line); research is
    // not managed.
    write(
        d.path(),
        "job.toml",
        "[sync]\nmanage_teams = [\"finance\"]\n",
    );
    let o = sync_members(
        d.path(),
        &url,
        &[
            "--config",
            "job.toml",
            "--manage-channel",
            "finance-news",
            "--max-deactivate",
            "1",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let b = sb.memberships("bob");
    assert!(!b.teams.iter().any(|t| t == "finance"), "{b:?}");
    assert!(!b.channels.iter().any(|c| c == "finance-news"), "{b:?}");
    assert!(b.teams.iter().any(|t| t == "research"), "{b:?}");
    assert!(b.channels.iter().any(|c| c == "research-news"), "{b:?}");
    // --manage-team on the command line does the same.
    sb.add_member("finance", "cid").expect("hand-made");
    let o = sync_members(
        d.path(),
        &url,
        &["--manage-team", "finance", "--max-deactivate", "1"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(!sb.memberships("cid").teams.iter().any(|t| t == "finance"));
}

/// The ledger keeps a digest of each source image: a quiet night uploads no avatar, a
/// changed image is uploaded once.
#[test]
fn a_nightly_sync_uploads_an_avatar_only_when_the_image_changed() {
    use base64::Engine as _;
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let png = base64::engine::general_purpose::STANDARD
        .decode(crate::member_fields::PNG_B64)
        .unwrap();
    std::fs::create_dir_all(d.path().join("photos")).unwrap();
    std::fs::write(d.path().join("photos/ann.png"), &png).unwrap();
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,avatar\nann,ann@example.org,Ann Lee,{PW},photos/ann.png\n"
        ),
    );
    let night = || {
        roster(
            d.path(),
            &[
                "sync", "hr.csv", "--server", &url, "--state", "s.jsonl", "--json",
            ],
            &as_importer(),
        )
    };
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(sb.avatar("ann").as_deref(), Some(png.as_slice()));
    // A quiet night: nothing written.
    let before = crate::support::writes(&sb);
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(crate::support::writes(&sb), before, "{}", o.stderr());
    // A new photo: other bytes after the PNG header (the sandbox, like the server, reads
    // the header; the digest sees the change).
    let mut other = png.clone();
    let n = other.len();
    other[n - 20] ^= 0x01;
    std::fs::write(d.path().join("photos/ann.png"), &other).unwrap();
    let o = roster(
        d.path(),
        &["plan", "hr.csv", "--server", &url, "--state", "s.jsonl"],
        &as_importer(),
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("      avatar: \"\" → \"photos/ann.png\""),
        "{text}"
    );
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(sb.avatar("ann").as_deref(), Some(other.as_slice()));
    let before = crate::support::writes(&sb);
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(crate::support::writes(&sb), before);
}

fn missing_channel(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let channel = match flavor {
        FlavorKind::Mattermost => "sales/launch-2027",
        FlavorKind::RocketChat => "launch-2027",
    };
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,teams,channels\n\
             ann,ann@example.org,Ann Lee,{PW},sales,{channel}\n\
             bob,bob@example.org,Bob Roe,{PW},sales,{channel}\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["import", "hr.csv", "--server", &url, "--report", "r.jsonl"];
        args.extend_from_slice(extra);
        roster(d.path(), &args, &as_importer())
    };
    // Off by default: the rows are rejected before any account is made.
    let o = run(&[]);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let report = jsonl(&d.path().join("r.jsonl"));
    assert!(
        report.iter().all(|e| e["status"] == "rejected"),
        "{report:?}"
    );
    assert!(sb.users().iter().all(|u| u["username"] != "ann"));
    // A dry run says it would make it, and makes nothing.
    let o = run(&["--create-missing-channels", "--dry-run"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(sb.users().iter().all(|u| u["username"] != "ann"));
    // Made once, for both rows.
    let o = run(&["--create-missing-channels"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for who in ["ann", "bob"] {
        let m = sb.memberships(who);
        assert!(
            m.channels.iter().any(|c| c == "launch-2027"),
            "{who}: {m:?}"
        );
    }
}

#[test]
fn rocketchat_missing_channel_is_made_when_asked() {
    missing_channel(FlavorKind::RocketChat);
}

#[test]
fn mattermost_missing_channel_is_made_when_asked() {
    missing_channel(FlavorKind::Mattermost);
}
