//! `export --memberships --avatars DIR` as a server-to-server migration (issue 13): users
//! imported with teams, channels and avatars into one sandbox are exported to CSV, the
//! export is imported into a fresh sandbox with the same teams and channels, and both
//! servers then agree on every membership and image. Memberships are read by group: the
//! requests depend on the number of teams and channels, not of users.

use crate::support::{Ran, as_importer, config, rocketchat, roster, start, write};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

const PW: &str = "Members-test-pw-1";
/// Users beyond the three named ones, so that a per-user read would show in the count.
const CROWD: usize = 150;

fn sandbox(flavor: FlavorKind) -> Sandbox {
    let sb = match flavor {
        FlavorKind::RocketChat => rocketchat(),
        FlavorKind::Mattermost => start(SandboxConfig {
            flavor,
            mm_max_users_per_team: 10_000,
            ..config()
        }),
    };
    let mm = flavor == FlavorKind::Mattermost;
    for t in ["sales", "support"] {
        sb.seed_team(t, false).expect("team");
        sb.seed_channel(mm.then_some(t), &format!("{t}-news"), false)
            .expect("channel");
    }
    sb.seed_channel(mm.then_some("sales"), "secret", true)
        .expect("private channel");
    sb
}

fn png(seed: u8) -> Vec<u8> {
    use base64::Engine as _;
    let mut b = base64::engine::general_purpose::STANDARD
        .decode(crate::member_fields::PNG_B64)
        .unwrap();
    // A byte after IEND: each user's image differs, and both servers keep it.
    b.push(seed);
    b
}

fn migrate(flavor: FlavorKind) {
    let mm = flavor == FlavorKind::Mattermost;
    let (a, b) = (sandbox(flavor), sandbox(flavor));
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("in")).unwrap();
    std::fs::write(d.path().join("in/ann.png"), png(1)).unwrap();
    std::fs::write(d.path().join("in/cid.png"), png(2)).unwrap();
    // Rocket.Chat lists a private group's members to its members only: `secret` is
    // given on Mattermost alone.
    let secret = if mm { ";secret" } else { "" };
    let mut csv = format!(
        "username,email,name,password,teams,channels,avatar\n\
         ann,ann@example.org,Ann Lee,{PW},sales,sales-news{secret},in/ann.png\n\
         bob,bob@example.org,Bob Roe,{PW},support,support-news,\n\
         cid,cid@example.org,Cid Poe,{PW},sales;support,sales-news;support-news,in/cid.png\n"
    );
    for i in 0..CROWD {
        csv.push_str(&format!(
            "p{i:04},p{i:04}@example.org,Person {i},{PW},sales,sales-news,\n"
        ));
    }
    write(d.path(), "hr.csv", &csv);
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &a.url(), "--workers", "8"],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());

    let served = |sb: &Sandbox| -> u64 { sb.counters().values().map(|c| c.requests).sum() };
    let before = served(&a);
    std::fs::create_dir_all(d.path().join("move")).unwrap();
    let o = roster(
        d.path(),
        &[
            "export",
            "--server",
            &a.url(),
            "-o",
            "move/users.csv",
            "--memberships",
            "--avatars",
            "move/photos",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let users = 3 + CROWD as u64 + 2; // and admin, importer
    let total = served(&a) - before;
    // The memberships line: "N team and M channel memberships read from T teams and C
    // channels (R requests)".
    let stderr = o.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("memberships read from"))
        .unwrap_or_else(|| panic!("no memberships line: {stderr}"));
    let requests: u64 = line
        .rsplit('(')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count: {line}"));
    eprintln!("{flavor:?}: {line}; export {total} requests for {users} users");
    // By group: a listing of teams and channels, then each group's members (paged): a
    // dozen requests, not one per user.
    assert!(requests <= 15, "{line}");
    // The rest: login, users pages, and one image each for ann and cid.
    assert!(total <= requests + 10, "{total} requests in all: {stderr}");

    let text = std::fs::read_to_string(d.path().join("move/users.csv")).unwrap();
    let row = |name: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    };
    let (news, support_news) = if mm {
        ("sales/sales-news", "support/support-news")
    } else {
        ("sales-news", "support-news")
    };
    assert!(
        row("cid").ends_with(&format!(
            ",sales;support,{news};{support_news},photos/cid.png"
        )),
        "{}",
        row("cid")
    );
    assert!(
        row("bob").ends_with(&format!(",support,{support_news},")),
        "{}",
        row("bob")
    );
    // Default channels (town-square, off-topic, general) are everyone's: not listed.
    assert!(
        !text.contains("town-square") && !text.contains("general"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(d.path().join("move/photos/ann.png")).unwrap(),
        a.avatar("ann").unwrap()
    );
    assert!(!d.path().join("move/photos/bob.png").exists());

    // Into the fresh server, from the export's own folder (an export holds no
    // passwords).
    let o = roster(
        &d.path().join("move"),
        &[
            "import",
            "users.csv",
            "--server",
            &b.url(),
            "--workers",
            "8",
            "--random-password",
        ],
        &as_importer(),
    );
    if mm {
        assert_eq!(o.code(), 0, "{}", o.stderr());
    } else {
        // The export lists rocket.cat, the server's own bot, which no import may create.
        assert_eq!(o.code(), 1, "{}", o.stderr());
        assert!(o.stderr().contains("1 rejected"), "{}", o.stderr());
    }
    for name in ["ann", "bob", "cid", "p0000", "p0149"] {
        let (ma, mb) = (a.memberships(name), b.memberships(name));
        assert_eq!(ma.teams, mb.teams, "{name}");
        assert_eq!(ma.channels, mb.channels, "{name}");
        assert_eq!(a.avatar(name), b.avatar(name), "{name}'s avatar");
    }
    assert!(b.memberships("cid").teams.len() == 2);
    if mm {
        assert!(b.memberships("ann").channels.iter().any(|c| c == "secret"));
    }
    assert!(b.avatar("cid").is_some() && b.avatar("bob").is_none());
}

#[test]
fn rocketchat_server_to_server_migration() {
    migrate(FlavorKind::RocketChat);
}

#[test]
fn mattermost_server_to_server_migration() {
    migrate(FlavorKind::Mattermost);
}

/// `--avatars` outside the output file's folder is refused before anything is read:
/// an import of the export would not find the images there.
#[test]
fn avatar_folder_outside_the_output_folder_is_refused() {
    let sb = rocketchat();
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("out")).unwrap();
    let o = roster(
        d.path(),
        &[
            "export",
            "--server",
            &sb.url(),
            "-o",
            "out/users.csv",
            "--avatars",
            "photos",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("must be a folder inside"),
        "{}",
        o.stderr()
    );
    assert!(
        !d.path().join("photos").exists(),
        "a refused folder was made"
    );
    assert!(!d.path().join("out/users.csv").exists());
}

/// A private group the account is not in: Rocket.Chat does not list its members to it;
/// the export goes on without that group and says so.
#[test]
fn rocketchat_private_group_the_account_is_not_in_is_reported() {
    let sb = sandbox(FlavorKind::RocketChat);
    let d = tempfile::tempdir().unwrap();
    let o = roster(
        d.path(),
        &[
            "export",
            "--server",
            &sb.url(),
            "-o",
            "users.jsonl",
            "--memberships",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("members of private channel secret"),
        "{}",
        o.stderr()
    );
}

/// LDIF has no attribute for teams and channels: `--memberships` is refused before any
/// request; `--avatars` puts each image in `jpegPhoto` (and still writes the files).
#[test]
fn ldif_export_refuses_memberships_and_carries_images_as_jpeg_photo() {
    let sb = sandbox(FlavorKind::Mattermost);
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("ann.png"), png(7)).unwrap();
    write(
        d.path(),
        "hr.csv",
        &format!("username,email,name,password,avatar\nann,ann@example.org,Ann Lee,{PW},ann.png\n"),
    );
    let o = roster(
        d.path(),
        &["import", "hr.csv", "--server", &sb.url()],
        &as_importer(),
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let url = sb.url();
    let export = |extra: &[&str]| {
        let mut args = vec!["export", "--server", &url, "-o", "users.ldif"];
        args.extend_from_slice(extra);
        roster(d.path(), &args, &as_importer())
    };
    let o = export(&["--memberships"]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("LDIF output has no attribute"),
        "{}",
        o.stderr()
    );
    assert!(!d.path().join("users.ldif").exists());
    let o = export(&["--avatars", "photos"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let ldif = std::fs::read_to_string(d.path().join("users.ldif")).unwrap();
    assert!(ldif.contains("jpegPhoto::"), "{ldif}");
    assert_eq!(
        std::fs::read(d.path().join("photos/ann.png")).unwrap(),
        sb.avatar("ann").unwrap()
    );
}
