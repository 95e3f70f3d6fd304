//! Edges of teams, channels and avatars (issue 13), found by review: deactivated
//! accounts get no membership writes, a removal that fails is tried again, a leaver leaves
//! a Rocket.Chat team before the account is deactivated, a made channel is never a
//! second one of its name, an avatar failure keeps the memberships, and a sync without a
//! ledger uploads no avatar twice.

use crate::memberships::{PW, sandbox, sync_members, three};
use crate::support::{Ran, as_importer, jsonl, roster, write};
use roster_sandbox::{FlavorKind, Sandbox};

/// The memberships tests' nightly sync, with a JSON Lines report.
fn sync(dir: &std::path::Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--report", "r.jsonl"];
    args.extend_from_slice(extra);
    sync_members(dir, url, &args)
}

/// README/--help: `--remove-memberships-on-deactivate` makes a leaver leave the teams
/// roster manages. On Rocket.Chat the removal runs after the deactivation, and
/// teams.removeMember refuses a deactivated user (`Users.findOneActiveById`).
#[test]
fn rocketchat_leaver_leaves_team_on_deactivate() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "sales", "legal"));
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let only_ann_cid: String = three("sales", "sales", "legal")
        .lines()
        .filter(|l| !l.starts_with("bob"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(d.path(), "hr.csv", &only_ann_cid);
    let o = sync(
        d.path(),
        &url,
        &[
            "--max-deactivate",
            "1",
            "--remove-memberships-on-deactivate",
        ],
    );
    let report = std::fs::read_to_string(d.path().join("r.jsonl")).unwrap();
    assert_eq!(o.code(), 0, "{}\n{report}", o.stderr());
    let b = sb.memberships("bob");
    assert!(!b.teams.iter().any(|t| t == "sales"), "{b:?}");
}

/// A channel that exists in exactly one of the row's teams resolves without the flag;
/// with --create-missing-channels roster makes a copy in the row's other team, then
/// rejects the row as ambiguous (a write before a rejection).
#[test]
fn mattermost_create_missing_channels_makes_existing_channel_ambiguous() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,teams,channels\n\
             ann,ann@example.org,Ann Lee,{PW},sales;support,sales-news\n"
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["import", "hr.csv", "--server", &url, "--report", "r.jsonl"];
        args.extend_from_slice(extra);
        roster(d.path(), &args, &as_importer())
    };
    // Control: resolves (one team has it) without the flag.
    let o = run(&["--dry-run"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let before = crate::support::writes(&sb);
    let o = run(&["--create-missing-channels"]);
    let report = jsonl(&d.path().join("r.jsonl"));
    let writes = crate::support::writes(&sb) - before;
    assert_eq!(
        o.code(),
        0,
        "{report:?}\n{writes} writes made for a row that was then rejected"
    );
}

/// A night-after-night sync of a person disabled at the source writes nothing once the
/// account is deactivated (issue: "a re-run makes zero membership writes").
fn disabled_person_quiet_night(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let csv = |bob_active: &str| {
        format!(
            "username,email,name,department,active,password\n\
             ann,ann@example.org,Ann Lee,sales,true,{PW}\n\
             bob,bob@example.org,Bob Roe,sales,{bob_active},{PW}\n\
             cid,cid@example.org,Cid Poe,legal,true,{PW}\n"
        )
    };
    write(d.path(), "hr.csv", &csv("true"));
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // bob is disabled at the source: deactivated tonight.
    write(d.path(), "hr.csv", &csv("false"));
    let o = sync(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // The next night: nothing to do.
    let before = crate::support::writes(&sb);
    let o = sync(d.path(), &url, &[]);
    let report = std::fs::read_to_string(d.path().join("r.jsonl")).unwrap();
    assert_eq!(o.code(), 0, "{}\n{report}", o.stderr());
    assert_eq!(crate::support::writes(&sb), before, "{report}");
}

#[test]
fn rocketchat_disabled_person_quiet_night() {
    disabled_person_quiet_night(FlavorKind::RocketChat);
}

#[test]
fn mattermost_disabled_person_quiet_night() {
    disabled_person_quiet_night(FlavorKind::Mattermost);
}

/// An account an administrator deactivated by hand (roster holds it inactive): a quiet
/// night makes no membership writes and fails no row.
fn held_inactive_quiet_night(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "sales", "legal"));
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // bob moves to support at the source while an administrator has deactivated him.
    write(d.path(), "hr.csv", &three("sales", "support", "legal"));
    set_inactive(&sb, flavor, "bob");
    let o = sync(d.path(), &url, &["--max-deactivate", "100%"]);
    let report = std::fs::read_to_string(d.path().join("r.jsonl")).unwrap();
    assert_eq!(o.code(), 0, "{}\n{report}", o.stderr());
}

fn set_inactive(sb: &Sandbox, flavor: FlavorKind, who: &str) {
    // Through roster itself, as an administrator would (a one-row LDIF-free CSV with
    // active=false and no teams column).
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "x.csv",
        &format!("username,email,active\n{who},{who}@example.org,false\n"),
    );
    let o = roster(
        d.path(),
        &["import", "x.csv", "--server", &sb.url()],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
}

#[test]
fn mattermost_held_inactive_row_with_new_team() {
    held_inactive_quiet_night(FlavorKind::Mattermost);
}

/// A removal the server refuses tonight is "still managed, tried again"
/// (members.rs `Wanted::kept`): the next night removes it.
#[test]
fn failed_removal_is_tried_again_the_next_night() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(d.path(), "hr.csv", &three("sales", "sales", "legal"));
    let o = sync(d.path(), &url, &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // ann moves to support; tonight every write fails (nothing applied).
    write(d.path(), "hr.csv", &three("support", "sales", "legal"));
    sb.set_fault_phase(roster_sandbox::FaultPhase::Before);
    sb.set_faults(1.0, 0.0);
    let o = sync(
        d.path(),
        &url,
        &["--max-deactivate", "1", "--max-attempts", "1"],
    );
    assert_ne!(o.code(), 0, "{}", o.stderr());
    assert!(sb.memberships("ann").teams.iter().any(|t| t == "sales"));
    let ledger = std::fs::read_to_string(d.path().join("s.jsonl")).unwrap();
    // The next night the server is well again.
    sb.set_faults(0.0, 0.0);
    let o = sync(d.path(), &url, &["--max-deactivate", "1"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let m = sb.memberships("ann");
    assert!(
        !m.teams.iter().any(|t| t == "sales"),
        "sales was forgotten by the ledger after the failed night: {m:?}\nledger after the failed night:\n{ledger}"
    );
}

/// A sync without --state: a re-run should make zero avatar writes (the issue's "a
/// re-run makes zero membership or avatar writes"); without a ledger every run uploads
/// every avatar again.
#[test]
fn sync_without_state_reuploads_every_avatar() {
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
            &["sync", "hr.csv", "--server", &url],
            &as_importer(),
        )
    };
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let before = crate::support::writes(&sb);
    let o = night();
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(
        crate::support::writes(&sb),
        before,
        "second sync wrote again:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A created account whose avatar could not be set still joins its teams (README: "A
/// membership the server refuses fails that row ... the account stays written"; nothing
/// says an avatar problem costs the memberships). With --mode create the next run skips
/// the account as existing, so it never joins.
fn avatar_failure_keeps_memberships(flavor: FlavorKind) {
    let sb = sandbox(flavor);
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    write(
        d.path(),
        "hr.csv",
        &format!(
            "username,email,name,password,teams,avatar\n\
             bob,bob@example.org,Bob Roe,{PW},sales,photos/missing.png\n"
        ),
    );
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &url, "--report", "r.jsonl"],
        &as_importer(),
    );
    let report = std::fs::read_to_string(d.path().join("r.jsonl")).unwrap();
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let m = sb.memberships("bob");
    assert!(m.teams.iter().any(|t| t == "sales"), "{m:?}\n{report}");
}

#[test]
fn mattermost_avatar_failure_keeps_memberships() {
    avatar_failure_keeps_memberships(FlavorKind::Mattermost);
}
