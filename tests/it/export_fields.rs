//! `roster export --fields`, `--role`, `--inactive-only` and `--idle-days` on both sandbox
//! flavors (issue 14, the read-only half): columns picked and ordered in CSV, JSON Lines
//! and LDIF; the server's facts (presence, last login, creation, sign-in service,
//! two-factor) read with only the requests they need; an idle export used as the SOURCE
//! of `roster do deactivate`, dry run then for real; what each server cannot give refused
//! with exit 2 before any file is made.

use std::path::Path;
use std::process::Output;

use crate::do_support::as_admin;
use crate::support::{Ran, config, requests, roster, start, tmp, write};
use roster_sandbox::{AccountFacts, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

const PW: &str = "Seeded-pw-1";
const DAY: i64 = 86_400_000;

fn flavors() -> [FlavorKind; 2] {
    [FlavorKind::RocketChat, FlavorKind::Mattermost]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A sandbox of `flavor` with users `names` (password [`PW`], active).
fn server(flavor: FlavorKind, names: &[&str]) -> Sandbox {
    let sb = start(SandboxConfig {
        flavor,
        rate_limit: Some(false),
        ..config()
    });
    let users: Vec<SeedUser> = names
        .iter()
        .map(|n| SeedUser {
            username: n.to_string(),
            email: format!("{n}@example.org"),
            name: format!("{n} Person"),
            password: Some(PW.into()),
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed");
    sb
}

/// Sets a user's creation and last login, `days` ago (`None`: never logged in).
fn age(sb: &Sandbox, name: &str, created_days: i64, login_days: Option<i64>) {
    let now = now_ms();
    sb.set_account_facts(
        name,
        &AccountFacts {
            created_at: Some(now - created_days * DAY),
            last_login: Some(login_days.map(|d| now - d * DAY)),
            ..AccountFacts::default()
        },
    )
    .expect("facts");
}

/// `roster export --server URL -o FILE EXTRA…` as the admin.
fn export(dir: &Path, sb: &Sandbox, file: &str, extra: &[&str]) -> Output {
    let url = sb.url();
    let mut args = vec!["export", "--server", &url, "-o", file, "--quiet"];
    args.extend_from_slice(extra);
    as_admin(dir, &args)
}

/// A CSV file as its header and rows (no quoting needed in these tests' values).
fn csv(dir: &Path, file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join(file)).expect("the export exists");
    let mut lines = text.lines().map(|l| {
        l.trim_end_matches('\r')
            .split(',')
            .map(str::to_string)
            .collect::<Vec<_>>()
    });
    let header = lines.next().expect("a header");
    (header, lines.collect())
}

/// The values of column `name`, row by row.
fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = header.iter().position(|h| h == name).expect(name);
    rows.iter().map(|r| r[i].clone()).collect()
}

fn active(sb: &Sandbox, name: &str) -> bool {
    let u = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap();
    u.get("active")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| u["delete_at"].as_i64() == Some(0))
}

/// The licence audit: `--active-only --idle-days 90` lists the accounts whose last login
/// is older than 90 days and those never logged in created more than 90 days ago; not the
/// recent ones, the deactivated one, the bot, nor the admin running it. The CSV is then
/// the SOURCE of `roster do deactivate`: a dry run changes nothing, the real run
/// deactivates exactly those accounts.
#[test]
fn idle_export_is_the_source_of_a_deactivation() {
    for flavor in flavors() {
        let names = [
            "recent", "stale", "ghost", "newbie", "gone", "robot", "daily",
        ];
        let sb = server(flavor, &names);
        age(&sb, "recent", 400, Some(10));
        age(&sb, "stale", 400, Some(200));
        age(&sb, "ghost", 400, None);
        age(&sb, "newbie", 5, None);
        age(&sb, "gone", 400, Some(300));
        age(&sb, "robot", 400, Some(300));
        sb.set_account_facts(
            "robot",
            &AccountFacts {
                bot: Some(true),
                ..AccountFacts::default()
            },
        )
        .unwrap();
        // The admin's own last login is old until roster logs in; a token run would
        // leave it old, and it is still no idle account.
        age(&sb, "admin", 400, Some(365));
        let d = tmp();
        let o = as_admin(
            d.path(),
            &[
                "do",
                "deactivate",
                &write(d.path(), "gone.csv", "username\ngone\n").to_string_lossy(),
                "--server",
                &sb.url(),
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        if flavor == FlavorKind::Mattermost {
            // Logged in long ago, active today through that old session (its own status
            // write here): a Mattermost session lasts for months without a login, and the
            // report's last_status_at says the account is used.
            let client = crate::support::client();
            let r = crate::support::mm_login_raw(&client, &sb.url(), "daily", PW);
            assert_eq!(r.status, 200, "{}", r.text);
            let (token, id) = (
                r.header("token").unwrap(),
                r.body["id"].as_str().unwrap().to_string(),
            );
            age(&sb, "daily", 400, Some(200));
            let r = client
                .put(format!("{}/api/v4/users/me/status", sb.url()))
                .bearer_auth(&token)
                .json(&serde_json::json!({"user_id": id, "status": "online"}))
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }

        let o = export(
            d.path(),
            &sb,
            "idle.csv",
            &[
                "--active-only",
                "--idle-days",
                "90",
                "--fields",
                "username,email,last_login,created_at",
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let (header, rows) = csv(d.path(), "idle.csv");
        assert_eq!(header, ["username", "email", "last_login", "created_at"]);
        let mut who = column(&header, &rows, "username");
        who.sort();
        // The importer was created 30 days ago (Mattermost) or now, and never logged in.
        assert_eq!(who, ["ghost", "stale"], "{flavor:?}");
        let login = column(&header, &rows, "last_login");
        let at = |n: &str| {
            login[column(&header, &rows, "username")
                .iter()
                .position(|u| u == n)
                .unwrap()]
            .clone()
        };
        assert_eq!(at("ghost"), "", "never logged in: empty");
        assert!(
            at("stale").ends_with('Z') && at("stale").len() == 20,
            "{}",
            at("stale")
        );
        if flavor == FlavorKind::Mattermost {
            // Last logins come from the user report: one page here, and no presence asked.
            assert_eq!(requests(&sb, "GET /api/v4/reports/users"), 1);
            assert_eq!(requests(&sb, "/users/status/ids"), 0);
        }

        let before = crate::support::writes(&sb);
        let o = as_admin(
            d.path(),
            &[
                "do",
                "deactivate",
                "idle.csv",
                "--server",
                &sb.url(),
                "--dry-run",
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(
            crate::support::writes(&sb),
            before,
            "{flavor:?}: a dry run writes nothing"
        );
        assert!(active(&sb, "stale") && active(&sb, "ghost"));

        let o = as_admin(
            d.path(),
            &[
                "do",
                "deactivate",
                "idle.csv",
                "--server",
                &sb.url(),
                "--report",
                "r.jsonl",
            ],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        for n in ["stale", "ghost", "gone"] {
            assert!(!active(&sb, n), "{flavor:?}: {n} deactivated");
        }
        for n in ["recent", "newbie", "robot", "admin", "importer", "daily"] {
            assert!(active(&sb, n), "{flavor:?}: {n} untouched");
        }
        let report = crate::support::jsonl(&d.path().join("r.jsonl"));
        assert_eq!(report.len(), 2);
        assert!(report.iter().all(|r| r["status"] == "ok"), "{report:?}");
    }
}

/// `--fields` picks and orders the columns; the facts come with the listing (and, on
/// Mattermost, one POST /users/status/ids per page for presence); the default export is
/// what it was.
#[test]
fn export_fields_pick_and_order_columns_with_the_server_facts() {
    for flavor in flavors() {
        let mm = flavor == FlavorKind::Mattermost;
        let sb = server(flavor, &["ann", "bob"]);
        age(&sb, "ann", 3, Some(1));
        sb.set_account_facts(
            "bob",
            &AccountFacts {
                auth_service: Some("ldap".into()),
                mfa_active: mm.then_some(true),
                ..AccountFacts::default()
            },
        )
        .unwrap();
        let d = tmp();
        let mut fields = "email,username,status,created_at,auth_service,roles".to_string();
        if mm {
            fields.push_str(",mfa_active");
        }
        let o = export(d.path(), &sb, "f.csv", &["--fields", &fields]);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let (header, rows) = csv(d.path(), "f.csv");
        assert_eq!(header.join(","), fields);
        let who = column(&header, &rows, "username");
        let row = |n: &str| &rows[who.iter().position(|u| u == n).unwrap()];
        let get = |n: &str, c: &str| row(n)[header.iter().position(|h| h == c).unwrap()].clone();
        assert_eq!(get("ann", "email"), "ann@example.org");
        assert_eq!(get("ann", "status"), "offline");
        let three_days_ago = now_ms() - 3 * DAY;
        let created = humantime::parse_rfc3339(&get("ann", "created_at")).unwrap();
        let created_ms = created
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((created_ms - three_days_ago).abs() < 2000, "{created_ms}");
        assert_eq!(get("bob", "auth_service"), "ldap");
        if mm {
            assert_eq!(get("ann", "auth_service"), "email");
            assert_eq!(get("ann", "roles"), "system_user");
            assert_eq!(get("bob", "mfa_active"), "true");
            assert_eq!(get("ann", "mfa_active"), "false");
            // Presence: one request for the one page; no report without last_login.
            assert_eq!(requests(&sb, "/users/status/ids"), 1);
            assert_eq!(requests(&sb, "reports/users"), 0);
        } else {
            assert_eq!(get("ann", "auth_service"), "");
            assert_eq!(get("ann", "roles"), "user");
            assert!(
                o.stderr().contains("auth_service: Rocket.Chat"),
                "partial: a warning\n{}",
                o.stderr()
            );
        }

        // JSON Lines: the keys in the order asked, every key present, never as null.
        age(&sb, "bob", 3, None);
        let o = export(
            d.path(),
            &sb,
            "f.jsonl",
            &["--fields", "username,last_login,active,roles"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let text = std::fs::read_to_string(d.path().join("f.jsonl")).unwrap();
        let bob = text.lines().find(|l| l.contains("\"bob\"")).unwrap();
        assert!(
            bob.starts_with(r#"{"username":"bob","last_login":null,"active":true,"roles":["#),
            "{bob}"
        );
        let ann: Value =
            serde_json::from_str(text.lines().find(|l| l.contains("\"ann\"")).unwrap()).unwrap();
        assert!(ann["last_login"].as_str().unwrap().ends_with('Z'));

        // The default columns stay as they were.
        let o = export(d.path(), &sb, "all.csv", &[]);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let (header, _) = csv(d.path(), "all.csv");
        assert_eq!(header.join(","), roster::output::csv::COLUMNS.join(","));
    }
}

/// `--role` (repeatable, or a comma list; Mattermost's `admin` is system_admin) and
/// `--inactive-only`.
#[test]
fn export_filters_by_role_and_deactivation() {
    for flavor in flavors() {
        let mm = flavor == FlavorKind::Mattermost;
        let sb = server(flavor, &["ann", "bob", "cid"]);
        let d = tmp();
        let o = as_admin(
            d.path(),
            &[
                "do",
                "deactivate",
                &write(d.path(), "bob.csv", "username\nbob\n").to_string_lossy(),
                "--server",
                &sb.url(),
            ],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        let names = |file: &str, extra: &[&str]| -> Vec<String> {
            let o = export(d.path(), &sb, file, extra);
            assert_eq!(o.code(), 0, "{flavor:?} {extra:?}: {}", o.stderr());
            let (header, rows) = csv(d.path(), file);
            let mut v = column(&header, &rows, "username");
            v.sort();
            v
        };
        // On Mattermost both seeded accounts are system admins; on Rocket.Chat the
        // importer holds `user` and `provisioner`.
        let admins: &[&str] = if mm {
            &["admin", "importer"]
        } else {
            &["admin"]
        };
        assert_eq!(names("a.csv", &["--role", "admin"]), admins);
        assert_eq!(
            names("a2.csv", &["--role", "ADMIN"]),
            admins,
            "case ignored"
        );
        let (one, both): (&str, Vec<&str>) = if mm {
            ("system_admin", vec!["admin", "importer"])
        } else {
            ("provisioner", vec!["admin", "importer"])
        };
        assert_eq!(names("b.csv", &["--role", &format!("admin,{one}")]), both);
        assert_eq!(names("c.csv", &["--role", "admin", "--role", one]), both);
        assert_eq!(names("i.csv", &["--inactive-only"]), ["bob"]);
        assert!(names("n.csv", &["--inactive-only", "--role", "admin"]).is_empty());
        let o = export(
            d.path(),
            &sb,
            "x.csv",
            &["--inactive-only", "--active-only"],
        );
        assert_eq!(o.code(), 2, "they contradict: {}", o.stderr());
        let o = export(d.path(), &sb, "x.csv", &["--role", " , "]);
        assert_eq!(o.code(), 2, "no role named: {}", o.stderr());
        let o = export(d.path(), &sb, "t.csv", &["--role", "admn"]);
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert!(o.stderr().contains("no such role"), "{}", o.stderr());
    }
}

/// Mattermost keeps last logins in its user report: 250 accounts take three report pages
/// of 100, joined to two listing pages of 200, each account with its own time.
#[test]
fn mattermost_export_joins_last_logins_over_report_pages() {
    let names: Vec<String> = (0..250).map(|i| format!("p{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sb = server(FlavorKind::Mattermost, &refs);
    for (i, n) in names.iter().enumerate() {
        age(&sb, n, 1000, Some(i as i64 + 1));
    }
    let d = tmp();
    let o = export(d.path(), &sb, "l.csv", &["--fields", "username,last_login"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let (header, rows) = csv(d.path(), "l.csv");
    assert_eq!(rows.len(), 252);
    let now = now_ms();
    for (who, when) in
        column(&header, &rows, "username")
            .iter()
            .zip(column(&header, &rows, "last_login"))
    {
        let Some(i) = who.strip_prefix('p') else {
            continue;
        };
        let i: i64 = i.parse().unwrap();
        let t = humantime::parse_rfc3339(&when).unwrap();
        let ms = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert!((now - (i + 1) * DAY - ms).abs() < 60_000, "{who}: {when}");
    }
    assert_eq!(requests(&sb, "GET /api/v4/reports/users"), 3);
    assert_eq!(
        sb.counters()["GET /api/v4/users"].requests,
        2,
        "two listing pages"
    );

    // --idle-days 100: p099 (100 days) and older; the admin just logged in, the importer
    // was created 30 days ago.
    let o = export(
        d.path(),
        &sb,
        "i.csv",
        &["--idle-days", "100", "--fields", "username"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let (_, rows) = csv(d.path(), "i.csv");
    assert_eq!(rows.len(), 151, "p099 (100 days) to p249");
}

/// What a server cannot give stops the export with exit 2 before any file is made: a
/// Mattermost account without the report permission, Rocket.Chat's two-factor; an
/// unknown field names the valid ones; LDIF takes only fields it has attributes for.
#[test]
fn export_refuses_fields_the_server_or_format_cannot_give() {
    let d = tmp();
    let mm = server(FlavorKind::Mattermost, &["plain"]);
    let as_plain = |args: &[&str]| {
        roster(
            d.path(),
            args,
            &[("ROSTER_USERNAME", "plain"), ("ROSTER_PASSWORD", PW)],
        )
    };
    let url = mm.url();
    let o = as_plain(&[
        "export",
        "--server",
        &url,
        "-o",
        "p.csv",
        "--fields",
        "username,last_login",
    ]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("sysconsole_read_user_management_users"),
        "{}",
        o.stderr()
    );
    assert!(
        !d.path().join("p.csv").exists(),
        "no file for a refused export"
    );
    let o = as_plain(&[
        "export",
        "--server",
        &url,
        "-o",
        "p.csv",
        "--idle-days",
        "30",
    ]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    let o = as_plain(&[
        "export",
        "--server",
        &url,
        "-o",
        "p.csv",
        "--fields",
        "username,auth_service",
    ]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("system admins"), "{}", o.stderr());
    // Presence and creation need no permission.
    let o = as_plain(&[
        "export",
        "--server",
        &url,
        "-o",
        "p.csv",
        "--fields",
        "username,status,created_at",
    ]);
    assert_eq!(o.code(), 0, "{}", o.stderr());

    let rc = server(FlavorKind::RocketChat, &["plain"]);
    let o = export(d.path(), &rc, "m.csv", &["--fields", "username,mfa_active"]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("two-factor"), "{}", o.stderr());
    assert!(!d.path().join("m.csv").exists());
    // Rocket.Chat strips dates from users.list without view-full-other-user-info.
    let o = as_plain(&[
        "export",
        "--server",
        &rc.url(),
        "-o",
        "r.csv",
        "--idle-days",
        "30",
    ]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("view-full-other-user-info"),
        "{}",
        o.stderr()
    );
    // ... and roles: --role would keep nobody, so it refuses instead of an empty file.
    let o = as_plain(&[
        "export",
        "--server",
        &rc.url(),
        "-o",
        "r.csv",
        "--role",
        "admin",
    ]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("--role") && o.stderr().contains("view-full-other-user-info"),
        "{}",
        o.stderr()
    );
    assert!(!d.path().join("r.csv").exists());

    let o = export(d.path(), &rc, "u.csv", &["--fields", "username,lastlogin"]);
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains("\"lastlogin\"") && o.stderr().contains("last_login, created_at"),
        "{}",
        o.stderr()
    );
    let o = export(
        d.path(),
        &rc,
        "u.ldif",
        &["--fields", "username,last_login"],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("LDIF"), "{}", o.stderr());
    assert!(!d.path().join("u.ldif").exists());
    let o = export(d.path(), &rc, "u.ldif", &["--fields", "username,email"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let ldif = std::fs::read_to_string(d.path().join("u.ldif")).unwrap();
    assert!(ldif.contains("mail: plain@example.org"), "{ldif}");
    assert!(
        !ldif.contains("givenName")
            && !ldif.contains("displayName")
            && !ldif.contains("employeeType"),
        "{ldif}"
    );
}

/// Cells that a spreadsheet would run as formulas are neutralised in `--fields` CSV too.
#[test]
fn export_fields_csv_neutralises_formulas() {
    let sb = server(FlavorKind::RocketChat, &[]);
    sb.seed_users(&[SeedUser {
        username: "eve".into(),
        email: "eve@example.org".into(),
        name: "=HYPERLINK(\"http://x\")".into(),
        password: None,
        active: true,
        roles: vec![],
    }])
    .unwrap();
    let d = tmp();
    let o = export(d.path(), &sb, "e.csv", &["--fields", "name,username"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let text = std::fs::read_to_string(d.path().join("e.csv")).unwrap();
    let line = text.lines().find(|l| l.contains("eve")).unwrap();
    assert!(line.starts_with("\"'=HYPERLINK"), "{line}");
}

/// `--fields` naming teams but not channels reads the teams' members only: no channel is
/// listed. `--memberships` with `--fields` naming neither reads nothing, saying so.
#[test]
fn export_fields_read_only_the_memberships_named() {
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        rate_limit: Some(false),
        ..config()
    });
    sb.seed_team("sales", false).unwrap();
    sb.add_member("sales", "importer").unwrap();
    let d = tmp();
    let o = export(d.path(), &sb, "t.csv", &["--fields", "username,teams"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let (header, rows) = csv(d.path(), "t.csv");
    let teams = column(&header, &rows, "teams");
    let who = column(&header, &rows, "username");
    assert_eq!(
        teams[who.iter().position(|u| u == "importer").unwrap()],
        "sales"
    );
    assert_eq!(requests(&sb, "/channels"), 0, "{:?}", sb.counters().keys());
    assert_eq!(requests(&sb, "GET /api/v4/teams/{team_id}/members"), 1);

    let o = export(
        d.path(),
        &sb,
        "n.csv",
        &["--fields", "username", "--memberships"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains("memberships not read"),
        "{}",
        o.stderr()
    );
    assert_eq!(requests(&sb, "GET /api/v4/teams/{team_id}/members"), 1);
}
