//! `roster do reset-password` and `create-token` on both sandbox flavors: the passwords
//! and tokens they make work on the server and are written only to their mode-0600 file
//! (a grep of every other output finds none), `--dry-run` writes nothing, guards and
//! `--resume` hold, a setting or permission that is missing stops the run with one
//! message (and `--resume` then does the rows once it is fixed), Mattermost passwords are
//! set only as a system admin, and under faults a password ends in the file exactly once
//! (unconfirmed when its answer is lost for good) and a token request is never sent twice
//! unless the server shows the first made nothing.

use std::path::Path;
use std::process::Output;

use crate::do_support::{
    ADMIN, PW, act_as, by_name, cut, faulty, flavors, resume, server, source, source_of_first,
};
use crate::support::{
    ADMIN_PW, Ran, client, config, jsonl, login_raw, mm_login_raw, requests, roster, tmp, user,
    write, writes,
};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, Secret, SeedUser};
use serde_json::Value;

const SERVER_SECRET: &str = "rc-create-tokens-secret-1";

/// Tokens on: Mattermost's EnableUserAccessTokens, Rocket.Chat's
/// CREATE_TOKENS_FOR_USERS_SECRET.
fn tokens_on() -> SandboxConfig {
    SandboxConfig {
        mm_enable_user_access_tokens: true,
        rc_create_tokens_secret: Some(Secret::new(SERVER_SECRET)),
        ..config()
    }
}

/// The admin's credentials, with the Rocket.Chat server's token secret.
const ADMIN_WITH_SECRET: [(&str, &str); 3] = [
    ADMIN[0],
    ADMIN[1],
    ("ROSTER_CREATE_TOKENS_SECRET", SERVER_SECRET),
];

/// `roster do ACTION SOURCE --server URL EXTRA…` as the seeded admin, with the
/// Rocket.Chat server's token secret in the environment.
fn act(dir: &Path, action: &str, src: &str, url: &str, extra: &[&str]) -> Output {
    act_as(dir, action, src, url, extra, &ADMIN_WITH_SECRET)
}

/// Mattermost cannot require a change at the next login: its runs say so.
fn no_require(flavor: FlavorKind) -> &'static [&'static str] {
    match flavor {
        FlavorKind::Mattermost => &["--no-require-change"],
        _ => &[],
    }
}

/// The lines of a secrets file after its header, as cells.
fn secret_lines(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("the secrets file");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| {
            rec.expect("a CSV line")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}
#[cfg(not(unix))]
fn assert_private(_: &Path) {}

/// Whether `password` logs `name` in.
fn logs_in(sb: &Sandbox, flavor: FlavorKind, name: &str, password: &str) -> bool {
    let c = client();
    let r = match flavor {
        FlavorKind::RocketChat => login_raw(&c, &sb.url(), name, password),
        FlavorKind::Mattermost => mm_login_raw(&c, &sb.url(), name, password),
    };
    r.status == 200
}

/// Whether `token` authenticates `user_id` (Rocket.Chat: with `X-User-Id`).
fn token_works(sb: &Sandbox, flavor: FlavorKind, user_id: &str, token: &str) -> Option<String> {
    let c = client();
    let r = match flavor {
        FlavorKind::RocketChat => c
            .get(format!("{}/api/v1/me", sb.url()))
            .header("X-User-Id", user_id)
            .header("X-Auth-Token", token),
        FlavorKind::Mattermost => c
            .get(format!("{}/api/v4/users/me", sb.url()))
            .bearer_auth(token),
    };
    let r = crate::support::send(r);
    (r.status == 200).then(|| r.body["username"].as_str().unwrap_or("").to_string())
}

/// Every secret in these files (their `password` or `token` column), the Rocket.Chat
/// server's token secret and the admin's password: none found in any other file under
/// `dir` (report, journal, rejects, request log, source) nor in the runs' output.
fn assert_secrets_only_in(dir: &Path, secret_files: &[&str], runs: &[&Output]) {
    let mut secrets = Vec::new();
    for f in secret_files {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).expect("the secrets file");
        let header: Vec<&str> = text.lines().next().unwrap_or("").split(',').collect();
        let at = header
            .iter()
            .position(|c| *c == "password" || *c == "token")
            .unwrap_or_else(|| panic!("{f}: no secret column in {header:?}"));
        for line in secret_lines(&path) {
            let s = line[at].clone();
            assert!(s.len() >= 20, "a secret this short? {s:?}");
            secrets.push(s);
        }
    }
    assert!(!secrets.is_empty(), "no secret to look for");
    secrets.extend([SERVER_SECRET.to_string(), ADMIN_PW.to_string()]);
    let mut outputs: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if secret_files.contains(&name.as_str()) || !e.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        outputs.push((name, String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (i, o) in runs.iter().enumerate() {
        outputs.push((format!("run {i} stderr"), o.stderr()));
        outputs.push((
            format!("run {i} stdout"),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ));
    }
    assert!(
        outputs.iter().any(|(n, _)| n.ends_with(".journal")),
        "no journal to look in: {:?}",
        outputs.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for s in &secrets {
        for (name, text) in &outputs {
            assert!(!text.contains(s.as_str()), "a secret in {name}");
        }
    }
}

#[test]
fn reset_password_sets_passwords_that_work_and_writes_them_to_the_file_only() {
    for flavor in flavors() {
        let sb = server(flavor, 4, config());
        let url = sb.url();
        let d = tmp();
        source(
            d.path(),
            "people.csv",
            &["p01", "p02", "p03", "nobody", "admin"],
        );
        let nr = no_require(flavor);

        // Usage, before any request: a mode, one only, each option with its action.
        for (extra, needle) in [
            (&[][..], "--passwords-out FILE"),
            (
                &["--passwords-out", "x.csv", "--send-reset-email"][..],
                "not both",
            ),
            (
                &["--send-reset-email", "--no-require-change"][..],
                "--no-require-change",
            ),
        ] {
            let o = act(d.path(), "reset-password", "people.csv", &url, extra);
            assert_eq!(o.code(), 2, "{extra:?}: {}", o.stderr());
            assert!(o.stderr().contains(needle), "{extra:?}: {}", o.stderr());
        }
        let o = act(
            d.path(),
            "deactivate",
            "people.csv",
            &url,
            &["--passwords-out", "x.csv"],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(
            o.stderr().contains("go with reset-password"),
            "{}",
            o.stderr()
        );
        assert!(!d.path().join("x.csv").exists());
        if flavor == FlavorKind::Mattermost {
            // Mattermost cannot require a change at the next login: said, nothing written.
            let before = writes(&sb);
            let o = act(
                d.path(),
                "reset-password",
                "people.csv",
                &url,
                &["--passwords-out", "pw.csv"],
            );
            assert_eq!(o.code(), 2, "{}", o.stderr());
            assert!(o.stderr().contains("--no-require-change"), "{}", o.stderr());
            assert_eq!(writes(&sb), before);
            assert!(!d.path().join("pw.csv").exists());
        }

        // A dry run: what would be done, and no write, no file.
        let before = writes(&sb);
        let mut args = vec![
            "--passwords-out",
            "pw.csv",
            "--dry-run",
            "--report",
            "dry.jsonl",
        ];
        args.extend_from_slice(nr);
        let o = act(d.path(), "reset-password", "people.csv", &url, &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        assert!(!d.path().join("pw.csv").exists(), "--dry-run made the file");
        let rep = jsonl(&d.path().join("dry.jsonl"));
        let p01 = by_name(&rep, "p01");
        assert_eq!(p01["action"], "reset-password");
        assert_eq!(p01["changed"], serde_json::json!(["password"]));

        let mut args = vec![
            "--passwords-out",
            "pw.csv",
            "--report",
            "r.jsonl",
            "--protect",
            "p03",
        ];
        args.extend_from_slice(nr);
        let o = act(d.path(), "reset-password", "people.csv", &url, &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let pw = d.path().join("pw.csv");
        assert_private(&pw);
        let text = std::fs::read_to_string(&pw).unwrap();
        assert!(text.starts_with("username,password,confirmed\n"), "{text}");
        let lines = secret_lines(&pw);
        // In the order the accounts were done.
        let mut names: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["p01", "p02"], "{flavor:?}");
        for l in &lines {
            assert_eq!(l[2], "yes", "{flavor:?}: {}", l[0]);
            assert!(
                logs_in(&sb, flavor, &l[0], &l[1]),
                "{flavor:?}: {} cannot log in with the new password",
                l[0]
            );
            assert!(!logs_in(&sb, flavor, &l[0], PW), "the old password works");
        }
        assert_ne!(lines[0][1], lines[1][1]);
        assert!(logs_in(&sb, flavor, "p03", PW), "--protect: changed");
        if flavor == FlavorKind::RocketChat {
            assert_eq!(user(&sb, "p01")["requirePasswordChange"], true);
        }
        let rep = jsonl(&d.path().join("r.jsonl"));
        let p01 = by_name(&rep, "p01");
        assert_eq!(
            (&p01["status"], &p01["changed"]),
            (&Value::from("ok"), &serde_json::json!(["password"]))
        );
        assert_eq!(by_name(&rep, "nobody")["status"], "skipped");
        let admin = by_name(&rep, "admin");
        assert_eq!(admin["status"], "skipped", "{admin}");
        assert!(admin["error"].as_str().unwrap().starts_with("protected"));
        assert!(
            by_name(&rep, "p03")["error"]
                .as_str()
                .unwrap()
                .contains("--protect")
        );
        assert!(logs_in(&sb, flavor, "admin", ADMIN_PW));
        assert_secrets_only_in(d.path(), &["pw.csv"], &[&o]);

        // The file exists: refused before anything is sent, the file untouched.
        let before = writes(&sb);
        let mut args = vec!["--passwords-out", "pw.csv"];
        args.extend_from_slice(nr);
        let o = act(d.path(), "reset-password", "people.csv", &url, &args);
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(o.stderr().contains("the file exists"), "{}", o.stderr());
        assert_eq!(writes(&sb), before);
        assert_eq!(std::fs::read_to_string(&pw).unwrap(), text);
    }
}

#[test]
fn reset_password_no_require_change_on_rocketchat_and_sso_accounts_on_mattermost() {
    let sb = server(FlavorKind::RocketChat, 2, config());
    let d = tmp();
    source(d.path(), "people.csv", &["p01"]);
    let o = act(
        d.path(),
        "reset-password",
        "people.csv",
        &sb.url(),
        &["--passwords-out", "pw.csv", "--no-require-change"],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(user(&sb, "p01")["requirePasswordChange"], false);

    // An LDAP account keeps its login: a password set would make it an email one.
    let sb = server(
        FlavorKind::Mattermost,
        2,
        SandboxConfig {
            mm_ldap_users: vec!["p02".into()],
            ..config()
        },
    );
    source(d.path(), "people.csv", &["p01", "p02"]);
    for (mode, file) in [
        (
            &["--passwords-out", "mm.csv", "--no-require-change"][..],
            true,
        ),
        (&["--send-reset-email"][..], false),
    ] {
        let mut args = mode.to_vec();
        args.extend(["--report", "r.jsonl"]);
        let o = act(d.path(), "reset-password", "people.csv", &sb.url(), &args);
        assert_eq!(o.code(), 0, "{mode:?}: {}", o.stderr());
        let rep = jsonl(&d.path().join("r.jsonl"));
        let p02 = by_name(&rep, "p02");
        assert_eq!(p02["status"], "skipped", "{p02}");
        assert!(p02["error"].as_str().unwrap().contains("ldap"), "{p02}");
        assert_eq!(user(&sb, "p02")["auth_service"], "ldap");
        if file {
            let names: Vec<String> = secret_lines(&d.path().join("mm.csv"))
                .into_iter()
                .map(|l| l[0].clone())
                .collect();
            assert_eq!(names, ["p01"]);
        }
    }
}

#[test]
fn send_reset_email_has_the_server_mail_each_user() {
    for flavor in flavors() {
        let sb = server(flavor, 3, config());
        let d = tmp();
        source(d.path(), "people.csv", &["p01", "p02", "nobody", "admin"]);
        let before = writes(&sb);
        let o = act(
            d.path(),
            "reset-password",
            "people.csv",
            &sb.url(),
            &["--send-reset-email", "--dry-run"],
        );
        assert_eq!(o.code(), 0, "{}", o.stderr());
        assert_eq!(writes(&sb), before);
        assert!(sb.mails().is_empty());
        let o = act(
            d.path(),
            "reset-password",
            "people.csv",
            &sb.url(),
            &["--send-reset-email", "--report", "r.jsonl"],
        );
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        // Rows run side by side: the mails come in any order.
        let mut to: Vec<(String, String)> =
            sb.mails().into_iter().map(|m| (m.to, m.kind)).collect();
        to.sort();
        assert_eq!(
            to,
            [
                ("p01@example.org".to_string(), "reset-password".to_string()),
                ("p02@example.org".into(), "reset-password".into())
            ],
            "{flavor:?}"
        );
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(
            by_name(&rep, "p01")["changed"],
            serde_json::json!(["reset-email"])
        );
        assert_eq!(by_name(&rep, "admin")["status"], "skipped");
        assert!(
            logs_in(&sb, flavor, "p01", PW),
            "a reset mail changes nothing"
        );
    }
}

/// A run stopped by a setting or permission: exit 2, the cause said once, at most one
/// failed row in the report.
#[track_caller]
fn stopped(o: &Output, dir: &Path, needle: &str) {
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr().contains(needle),
        "{needle:?} not in: {}",
        o.stderr()
    );
    let report = dir.join("r.jsonl");
    if report.exists() {
        let failed = jsonl(&report)
            .iter()
            .filter(|e| e["status"] == "failed")
            .count();
        assert!(failed <= 1, "a report of identical failures");
    }
}

#[test]
fn a_missing_setting_or_permission_stops_the_run_with_one_message() {
    let d = tmp();
    source(d.path(), "people.csv", &["p01", "p02", "p03", "p04"]);
    let run = |sb: &Sandbox, action: &str, extra: &[&str], env: &[(&str, &str)]| {
        let _ = std::fs::remove_file(d.path().join("r.jsonl"));
        let _ = std::fs::remove_file(d.path().join("out.csv"));
        let url = sb.url();
        let mut args = vec!["do", action, "people.csv", "--server", &url];
        args.extend_from_slice(extra);
        args.extend(["--report", "r.jsonl"]);
        roster(d.path(), &args, env)
    };
    let admin = ADMIN;
    let with_secret = ADMIN_WITH_SECRET;

    // Rocket.Chat: Accounts_PasswordReset off; no CREATE_TOKENS_FOR_USERS_SECRET on the
    // server, or not given to roster, or another one; a role without the permission.
    let sb = server(
        FlavorKind::RocketChat,
        4,
        SandboxConfig {
            rc_password_reset: false,
            ..config()
        },
    );
    let o = run(&sb, "reset-password", &["--send-reset-email"], &admin);
    stopped(&o, d.path(), "Accounts_PasswordReset");
    let tokens = ["--tokens-out", "out.csv"];
    let o = run(&sb, "create-token", &tokens, &with_secret);
    stopped(&o, d.path(), "CREATE_TOKENS_FOR_USERS_SECRET");
    let sb = server(FlavorKind::RocketChat, 4, tokens_on());
    let o = run(&sb, "create-token", &tokens, &admin);
    stopped(&o, d.path(), "ROSTER_CREATE_TOKENS_SECRET is not set");
    let wrong = [admin[0], admin[1], ("ROSTER_CREATE_TOKENS_SECRET", "nope")];
    let o = run(&sb, "create-token", &tokens, &wrong);
    stopped(&o, d.path(), "is not the server's");
    assert!(!d.path().join("out.csv").exists(), "a file for no token");
    // The importer's role lacks user-generate-access-token; a plain user lacks
    // edit-other-user-password, which the server would ignore without a word: both said
    // before any row.
    let importer = crate::support::as_importer();
    let o = run(&sb, "create-token", &tokens, &importer);
    stopped(&o, d.path(), "user-generate-access-token");
    assert!(
        !d.path().join("r.jsonl").exists(),
        "stopped before the rows"
    );
    let plain = [("ROSTER_USERNAME", "p04"), ("ROSTER_PASSWORD", PW)];
    let o = run(
        &sb,
        "reset-password",
        &["--passwords-out", "out.csv"],
        &plain,
    );
    stopped(&o, d.path(), "edit-other-user-password");
    assert!(logs_in(&sb, FlavorKind::RocketChat, "p01", PW));
    let o = run(
        &sb,
        "create-token",
        &["--tokens-out", "out.csv", "--description", "ci"],
        &with_secret,
    );
    stopped(&o, d.path(), "drop --description");

    // Mattermost: EnableUserAccessTokens off; no mail server; a password policy the
    // generated passwords do not meet.
    let sb = server(
        FlavorKind::Mattermost,
        4,
        SandboxConfig {
            smtp: false,
            mm_password_minimum_length: 30,
            ..config()
        },
    );
    let o = run(&sb, "create-token", &tokens, &admin);
    stopped(&o, d.path(), "EnableUserAccessTokens");
    let o = run(&sb, "reset-password", &["--send-reset-email"], &admin);
    stopped(&o, d.path(), "SMTP");
    let o = run(
        &sb,
        "reset-password",
        &["--passwords-out", "out.csv", "--no-require-change"],
        &admin,
    );
    stopped(&o, d.path(), "password policy");
    assert!(!d.path().join("out.csv").exists());
    assert!(logs_in(&sb, FlavorKind::Mattermost, "p01", PW));
    assert!(
        sb.mails().is_empty(),
        "no mail server, yet: {:?}",
        sb.mails()
    );
}

#[test]
fn create_token_writes_tokens_that_work_to_the_file_only() {
    for flavor in flavors() {
        let sb = server(flavor, 3, tokens_on());
        let url = sb.url();
        let d = tmp();
        source(d.path(), "bots.csv", &["p01", "p02", "nobody", "admin"]);
        let o = act(d.path(), "create-token", "bots.csv", &url, &[]);
        assert_eq!(o.code(), 2, "{}", o.stderr());
        assert!(o.stderr().contains("--tokens-out FILE"), "{}", o.stderr());
        let long = "x".repeat(256);
        let o = act(
            d.path(),
            "create-token",
            "bots.csv",
            &url,
            &["--tokens-out", "t.csv", "--description", &long],
        );
        assert_eq!(o.code(), 2, "{}", o.stderr());

        let description: &[&str] = match flavor {
            FlavorKind::Mattermost => &["--description", "ci deploys"],
            _ => &[],
        };
        let before = writes(&sb);
        let mut args = vec![
            "--tokens-out",
            "t.csv",
            "--dry-run",
            "--report",
            "dry.jsonl",
        ];
        args.extend_from_slice(description);
        let o = act(d.path(), "create-token", "bots.csv", &url, &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        assert_eq!(writes(&sb), before, "{flavor:?}: --dry-run wrote");
        assert!(!d.path().join("t.csv").exists());
        assert_eq!(
            by_name(&jsonl(&d.path().join("dry.jsonl")), "p01")["changed"],
            serde_json::json!(["token"])
        );

        let mut args = vec![
            "--tokens-out",
            "t.csv",
            "--report",
            "r.jsonl",
            "--rejects",
            "rejects.csv",
            "--log",
            "requests.log",
        ];
        args.extend_from_slice(description);
        let o = act(d.path(), "create-token", "bots.csv", &url, &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let t = d.path().join("t.csv");
        assert_private(&t);
        assert!(
            std::fs::read_to_string(&t)
                .unwrap()
                .starts_with("username,user_id,token_id,token\n")
        );
        let lines = secret_lines(&t);
        assert_eq!(lines.len(), 2, "{flavor:?}: {lines:?}");
        let rep = jsonl(&d.path().join("r.jsonl"));
        for l in &lines {
            let who = token_works(&sb, flavor, &l[1], &l[3]);
            assert_eq!(who.as_deref(), Some(l[0].as_str()), "{flavor:?}: {l:?}");
            let e = by_name(&rep, &l[0]);
            assert_eq!(e["status"], "ok", "{e}");
            assert_eq!(e["id"], l[1].as_str());
            match flavor {
                FlavorKind::Mattermost => {
                    assert_eq!(l[2].len(), 26, "a token id: {l:?}");
                    assert_eq!(e["error"], format!("token id {}", l[2]));
                }
                _ => assert_eq!(l[2], "", "Rocket.Chat's tokens have no id"),
            }
        }
        assert_eq!(by_name(&rep, "nobody")["status"], "skipped");
        assert_eq!(by_name(&rep, "admin")["status"], "skipped");
        if flavor == FlavorKind::Mattermost {
            let admin = crate::support::send(
                client()
                    .post(format!("{url}/api/v4/users/login"))
                    .json(&serde_json::json!({"login_id": "admin", "password": ADMIN_PW})),
            );
            let listed = crate::support::send(
                client()
                    .get(format!("{url}/api/v4/users/{}/tokens", lines[0][1]))
                    .bearer_auth(admin.header("token").unwrap()),
            );
            assert_eq!(
                listed.body[0]["description"], "ci deploys",
                "{}",
                listed.text
            );
        }
        assert_secrets_only_in(d.path(), &["t.csv"], &[&o]);
    }
}

#[test]
fn secrets_of_both_actions_are_found_only_in_their_files() {
    for flavor in flavors() {
        let sb = server(flavor, 3, tokens_on());
        let url = sb.url();
        let d = tmp();
        // A row rejected (no username) makes a rejects file too.
        write(
            d.path(),
            "people.csv",
            "username,email\np01,p01@example.org\n,x@example.org\np02,p02@example.org\n",
        );
        let mut runs = Vec::new();
        let mut args = vec![
            "--passwords-out",
            "pw.csv",
            "--report",
            "pw.jsonl",
            "--rejects",
            "pw-rejects.csv",
            "--log",
            "pw.log",
        ];
        args.extend_from_slice(no_require(flavor));
        runs.push(act(d.path(), "reset-password", "people.csv", &url, &args));
        runs.push(act(
            d.path(),
            "create-token",
            "people.csv",
            &url,
            &[
                "--tokens-out",
                "tokens.csv",
                "--report",
                "t.jsonl",
                "--rejects",
                "t-rejects.csv",
                "--log",
                "-",
            ],
        ));
        for o in &runs {
            assert_eq!(o.code(), 1, "{flavor:?}: the rejected row: {}", o.stderr());
        }
        let rejects = std::fs::read_to_string(d.path().join("pw-rejects.csv")).unwrap();
        assert!(rejects.contains("x@example.org"), "{rejects}");
        assert!(runs[1].stderr().contains("\"route\""), "--log - on stderr");
        assert_eq!(secret_lines(&d.path().join("pw.csv")).len(), 2);
        assert_eq!(secret_lines(&d.path().join("tokens.csv")).len(), 2);
        let refs: Vec<&Output> = runs.iter().collect();
        assert_secrets_only_in(d.path(), &["pw.csv", "tokens.csv"], &refs);
    }
}

#[test]
fn a_password_under_faults_is_set_and_written_exactly_once() {
    for flavor in flavors() {
        let sb = server(flavor, 20, faulty(FaultPhase::After, config()));
        let d = tmp();
        let names = source_of_first(d.path(), "people.csv", 20);
        let mut args = vec![
            "--passwords-out",
            "pw.csv",
            "--max-attempts",
            "10",
            "--report",
            "r.jsonl",
        ];
        args.extend_from_slice(no_require(flavor));
        let o = act(d.path(), "reset-password", "people.csv", &sb.url(), &args);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        sb.set_faults(0.0, 0.0);
        let lines = secret_lines(&d.path().join("pw.csv"));
        let mut in_file: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
        in_file.sort_unstable();
        assert_eq!(in_file, names, "{flavor:?}: each account once");
        for l in &lines {
            assert_eq!(l[2], "yes", "{flavor:?}: {}", l[0]);
            assert!(
                logs_in(&sb, flavor, &l[0], &l[1]),
                "{flavor:?}: the file's password of {} does not log in",
                l[0]
            );
        }
    }
}

#[test]
fn a_token_under_faults_is_never_asked_for_twice() {
    for flavor in flavors() {
        let sb = server(flavor, 20, faulty(FaultPhase::Random, tokens_on()));
        let d = tmp();
        source_of_first(d.path(), "bots.csv", 20);
        let o = act(
            d.path(),
            "create-token",
            "bots.csv",
            &sb.url(),
            &[
                "--tokens-out",
                "t.csv",
                "--max-attempts",
                "10",
                "--report",
                "r.jsonl",
            ],
        );
        assert!(matches!(o.code(), 0 | 1), "{flavor:?}: {}", o.stderr());
        sb.set_faults(0.0, 0.0);
        let route = match flavor {
            FlavorKind::RocketChat => "POST /api/v1/users.createToken",
            _ => "POST /api/v4/users/{user_id}/tokens",
        };
        assert!(
            requests(&sb, route) <= 20,
            "{flavor:?}: a token asked for twice"
        );
        let rep = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(rep.len(), 20);
        let lines = secret_lines(&d.path().join("t.csv"));
        for e in &rep {
            let name = e["username"].as_str().unwrap();
            let mine: Vec<_> = lines.iter().filter(|l| l[0] == name).collect();
            match e["status"].as_str() {
                Some("ok") => {
                    assert_eq!(mine.len(), 1, "{flavor:?}: {name}'s tokens: {mine:?}");
                    let who = token_works(&sb, flavor, &mine[0][1], &mine[0][3]);
                    assert_eq!(who.as_deref(), Some(name), "{flavor:?}");
                }
                _ => {
                    assert!(mine.is_empty(), "{e}");
                    let err = e["error"].as_str().unwrap();
                    assert!(
                        err.contains("not sent again") && err.contains("run again"),
                        "{flavor:?}: {err}"
                    );
                }
            }
        }
        assert!(
            rep.iter().filter(|e| e["status"] == "ok").count() >= 5,
            "{flavor:?}: faults everywhere? {rep:?}"
        );
    }
}

#[test]
fn resumed_token_runs_append_and_never_ask_twice() {
    let sb = server(
        FlavorKind::Mattermost,
        30,
        SandboxConfig {
            latency_ms: 25,
            ..tokens_on()
        },
    );
    let d = tmp();
    source_of_first(d.path(), "bots.csv", 30);
    let url = sb.url();
    let args = [
        "do",
        "create-token",
        "bots.csv",
        "--server",
        &url,
        "--tokens-out",
        "t.csv",
        "--report",
        "r.jsonl",
        "--workers",
        "2",
    ];
    // The importer is a system admin on Mattermost.
    cut(d.path(), &args, 12);
    let t = d.path().join("t.csv");
    let first = secret_lines(&t).len();
    assert!(first > 0 && first < 30, "the run was cut short ({first})");
    // Without --resume the file is refused; with it, appended to.
    let o = roster(d.path(), &args, &crate::support::as_importer());
    assert_eq!(o.code(), 2, "{}", o.stderr());
    let o = resume(d.path(), &args);
    assert!(matches!(o.code(), 0 | 1), "{}", o.stderr());
    assert_private(&t);
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 30, "one entry per row");
    let lines = secret_lines(&t);
    for e in &rep {
        let name = e["username"].as_str().unwrap();
        let mine: Vec<_> = lines.iter().filter(|l| l[0] == name).collect();
        if e["status"] == "ok" {
            assert_eq!(mine.len(), 1, "{name}: {mine:?}");
            assert_eq!(
                token_works(&sb, FlavorKind::Mattermost, &mine[0][1], &mine[0][3]).as_deref(),
                Some(name)
            );
        } else {
            // Killed between the request and its answer: said, not asked again.
            assert!(mine.is_empty(), "{e}");
            assert!(
                e["error"]
                    .as_str()
                    .unwrap()
                    .contains("the interrupted run sent"),
                "{e}"
            );
        }
    }
    assert!(
        requests(&sb, "POST /api/v4/users/{user_id}/tokens") <= 30,
        "a token asked for twice"
    );
    assert_secrets_only_in(d.path(), &["t.csv"], &[&o]);
}

#[test]
fn a_resumed_reset_keeps_the_passwords_set_before_the_cut() {
    let sb = server(
        FlavorKind::RocketChat,
        30,
        SandboxConfig {
            latency_ms: 25,
            ..config()
        },
    );
    let d = tmp();
    let names = source_of_first(d.path(), "people.csv", 30);
    let url = sb.url();
    let args = [
        "do",
        "reset-password",
        "people.csv",
        "--server",
        &url,
        "--passwords-out",
        "pw.csv",
        "--report",
        "r.jsonl",
        "--workers",
        "2",
    ];
    // The importer's provisioner role holds edit-other-user-password.
    cut(d.path(), &args, 8);
    let pw = d.path().join("pw.csv");
    let first = secret_lines(&pw).len();
    assert!(first > 0 && first < 30, "the run was cut short ({first})");
    let o = resume(d.path(), &args);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_private(&pw);
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(rep.len(), 30, "one entry per row");
    assert!(rep.iter().all(|e| e["status"] == "ok"), "{rep:?}");
    let lines = secret_lines(&pw);
    let mut twice = 0;
    for name in &names {
        let mine: Vec<_> = lines.iter().filter(|l| l[0] == *name).collect();
        assert!(!mine.is_empty(), "{name} has no password in the file");
        // A row in flight at the cut is done again: its later line is the one.
        if mine.len() > 1 {
            twice += 1;
        }
        let last = mine.last().unwrap();
        assert!(
            logs_in(&sb, FlavorKind::RocketChat, name, &last[1]),
            "{name}: the file's last password does not log in"
        );
    }
    assert!(
        twice <= 2,
        "rows done before the cut were done again ({twice})"
    );
    assert_secrets_only_in(d.path(), &["pw.csv"], &[&o]);
}

/// The tokens file has one token for each of `names`, and each logs its account in.
#[track_caller]
fn tokens_work(sb: &Sandbox, flavor: FlavorKind, file: &Path, names: &[&str]) {
    let lines = secret_lines(file);
    let mut in_file: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
    in_file.sort_unstable();
    assert_eq!(in_file, names, "{flavor:?}: {lines:?}");
    for l in &lines {
        let who = token_works(sb, flavor, &l[1], &l[3]);
        assert_eq!(who.as_deref(), Some(l[0].as_str()), "{flavor:?}: {l:?}");
    }
}

/// A run stopped by a refusal (a wrong Rocket.Chat secret, Mattermost's
/// EnableUserAccessTokens off) sent requests that made nothing: once the cause is fixed,
/// `--resume` makes the tokens instead of calling them lost.
#[test]
fn create_token_resumed_after_a_refusal_makes_the_tokens() {
    let names = ["p01", "p02", "p03"];
    let run = ["--tokens-out", "t.csv", "--report", "r.jsonl"];
    let resumed = ["--tokens-out", "t.csv", "--report", "r.jsonl", "--resume"];

    // Rocket.Chat: another secret than the server's, then the right one.
    let d = tmp();
    source(d.path(), "bots.csv", &names);
    let sb = server(FlavorKind::RocketChat, 3, tokens_on());
    let wrong = [ADMIN[0], ADMIN[1], ("ROSTER_CREATE_TOKENS_SECRET", "nope")];
    let o = act_as(
        d.path(),
        "create-token",
        "bots.csv",
        &sb.url(),
        &run,
        &wrong,
    );
    stopped(&o, d.path(), "is not the server's");
    let o = act(d.path(), "create-token", "bots.csv", &sb.url(), &resumed);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    tokens_work(&sb, FlavorKind::RocketChat, &d.path().join("t.csv"), &names);
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert!(rep.iter().all(|e| e["status"] == "ok"), "{rep:?}");

    // Mattermost: the setting off, then the same server (its state file) with it on.
    let d = tmp();
    source(d.path(), "bots.csv", &names);
    let state = d.path().join("server-state.json");
    let sb = server(
        FlavorKind::Mattermost,
        3,
        SandboxConfig {
            state_file: Some(state.clone()),
            ..config()
        },
    );
    let o = act(d.path(), "create-token", "bots.csv", &sb.url(), &run);
    stopped(&o, d.path(), "EnableUserAccessTokens");
    sb.stop().expect("the state saved");
    let sb = crate::support::start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        rate_limit: Some(false),
        state_file: Some(state),
        ..tokens_on()
    });
    let o = act(d.path(), "create-token", "bots.csv", &sb.url(), &resumed);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    tokens_work(&sb, FlavorKind::Mattermost, &d.path().join("t.csv"), &names);
    assert_eq!(
        requests(&sb, "POST /api/v4/users/{user_id}/tokens"),
        3,
        "one request each"
    );
}

/// Mattermost lists an account's tokens: after a lost answer, `--resume` sends the
/// request again when the listing shows it made none, and never when it shows one.
#[test]
fn a_lost_token_answer_is_sent_again_on_resume_only_if_no_token_was_made() {
    let sb = server(
        FlavorKind::Mattermost,
        2,
        SandboxConfig {
            fault_rate: 1.0,
            fault_phase: FaultPhase::Before,
            ..tokens_on()
        },
    );
    let url = sb.url();
    let route = "POST /api/v4/users/{user_id}/tokens";
    let args = ["--tokens-out", "t.csv", "--report", "r.jsonl"];
    let resumed = ["--tokens-out", "t.csv", "--report", "r.jsonl", "--resume"];
    let error_of = |d: &Path, name: &str| -> String {
        let rep = jsonl(&d.join("r.jsonl"));
        let e = by_name(&rep, name);
        assert_eq!(e["status"], "failed", "{e}");
        e["error"].as_str().unwrap().to_string()
    };

    // Refused before the server made it (a 5xx, the answer lost as far as roster knows).
    let d = tmp();
    source(d.path(), "bots.csv", &["p01"]);
    let o = act(d.path(), "create-token", "bots.csv", &url, &args);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let err = error_of(d.path(), "p01");
    assert!(err.contains("lists no token"), "{err}");
    sb.set_faults(0.0, 0.0);
    let o = act(d.path(), "create-token", "bots.csv", &url, &resumed);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    tokens_work(
        &sb,
        FlavorKind::Mattermost,
        &d.path().join("t.csv"),
        &["p01"],
    );
    assert_eq!(requests(&sb, route), 2, "sent again once");

    // Made, and its answer lost: named, and not sent again.
    sb.set_fault_phase(FaultPhase::After);
    sb.set_faults(1.0, 0.0);
    let d = tmp();
    source(d.path(), "bots.csv", &["p02"]);
    let o = act(d.path(), "create-token", "bots.csv", &url, &args);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert!(error_of(d.path(), "p02").contains("lists token(s)"));
    sb.set_faults(0.0, 0.0);
    let o = act(d.path(), "create-token", "bots.csv", &url, &resumed);
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let err = error_of(d.path(), "p02");
    assert!(
        err.contains("the interrupted run sent") && err.contains("lists token(s)"),
        "{err}"
    );
    assert_eq!(requests(&sb, route), 3, "p02's sent once");
    assert!(!d.path().join("t.csv").exists());
}

/// Mattermost shows an account's auth_service to system admins only, and a password set
/// by anyone allowed to (here a user manager granted
/// sysconsole_write_user_management_users) turns an LDAP account into an email one: such
/// a run stops before any write.
#[test]
fn mattermost_passwords_are_set_only_as_a_system_admin() {
    let sb = server(
        FlavorKind::Mattermost,
        2,
        SandboxConfig {
            mm_ldap_users: vec!["p02".into()],
            mm_role_permissions: vec![(
                "system_user_manager".into(),
                "sysconsole_write_user_management_users".into(),
            )],
            ..config()
        },
    );
    sb.seed_users(&[SeedUser {
        username: "mgr".into(),
        email: "mgr@example.org".into(),
        name: "User manager".into(),
        password: Some(PW.into()),
        active: true,
        roles: vec!["system_user".into(), "system_user_manager".into()],
    }])
    .expect("seed");
    let d = tmp();
    source(d.path(), "people.csv", &["p01", "p02"]);
    let mgr = [("ROSTER_USERNAME", "mgr"), ("ROSTER_PASSWORD", PW)];
    let before = writes(&sb);
    let o = act_as(
        d.path(),
        "reset-password",
        "people.csv",
        &sb.url(),
        &[
            "--passwords-out",
            "pw.csv",
            "--no-require-change",
            "--report",
            "r.jsonl",
        ],
        &mgr,
    );
    stopped(&o, d.path(), "only as a system admin");
    assert_eq!(writes(&sb), before, "written before the refusal");
    assert!(!d.path().join("pw.csv").exists());
    assert_eq!(user(&sb, "p02")["auth_service"], "ldap");
    assert!(logs_in(&sb, FlavorKind::Mattermost, "p01", PW));
    // A reset mail needs no admin: the server itself refuses it to the LDAP account.
    let o = act_as(
        d.path(),
        "reset-password",
        "people.csv",
        &sb.url(),
        &["--send-reset-email", "--report", "r.jsonl"],
        &mgr,
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let rep = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(by_name(&rep, "p01")["status"], "ok");
    assert_eq!(by_name(&rep, "p02")["status"], "failed");
    let to: Vec<String> = sb.mails().into_iter().map(|m| m.to).collect();
    assert_eq!(to, ["p01@example.org"]);
    // As a system admin the LDAP account is seen, and skipped.
    let o = act(
        d.path(),
        "reset-password",
        "people.csv",
        &sb.url(),
        &[
            "--passwords-out",
            "pw.csv",
            "--no-require-change",
            "--report",
            "r.jsonl",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(user(&sb, "p02")["auth_service"], "ldap");
    assert_eq!(
        by_name(&jsonl(&d.path().join("r.jsonl")), "p02")["status"],
        "skipped"
    );
}

/// A password whose answer is lost for good (every attempt applied, then answered 5xx)
/// may be the account's now: its line is kept, confirmed=no, and the row fails saying so;
/// `--resume` sets a confirmed one, whose later line supersedes it.
#[test]
fn a_password_whose_answer_is_lost_is_kept_unconfirmed() {
    for flavor in flavors() {
        let sb = server(
            flavor,
            2,
            SandboxConfig {
                fault_rate: 1.0,
                fault_phase: FaultPhase::After,
                ..config()
            },
        );
        let d = tmp();
        source(d.path(), "people.csv", &["p01", "p02"]);
        let mut args = vec![
            "--passwords-out",
            "pw.csv",
            "--max-attempts",
            "2",
            "--report",
            "r.jsonl",
        ];
        args.extend_from_slice(no_require(flavor));
        let o = act(d.path(), "reset-password", "people.csv", &sb.url(), &args);
        assert_eq!(o.code(), 1, "{flavor:?}: {}", o.stderr());
        sb.set_faults(0.0, 0.0);
        let pw = d.path().join("pw.csv");
        assert_private(&pw);
        let lines = secret_lines(&pw);
        assert_eq!(lines.len(), 2, "{flavor:?}: {lines:?}");
        let rep = jsonl(&d.path().join("r.jsonl"));
        for l in &lines {
            assert_eq!(l[2], "no", "{flavor:?}: {}", l[0]);
            assert!(
                logs_in(&sb, flavor, &l[0], &l[1]),
                "{flavor:?}: the unconfirmed password of {} was set, yet does not log in",
                l[0]
            );
            let e = by_name(&rep, &l[0]);
            assert_eq!(e["status"], "failed", "{e}");
            let err = e["error"].as_str().unwrap();
            assert!(
                err.contains("may have been set")
                    && err.contains("pw.csv")
                    && err.contains("unconfirmed"),
                "{flavor:?}: {err}"
            );
        }
        let mut again = args.clone();
        again.push("--resume");
        let o = act(d.path(), "reset-password", "people.csv", &sb.url(), &again);
        assert_eq!(o.code(), 0, "{flavor:?}: {}", o.stderr());
        let lines = secret_lines(&pw);
        assert_eq!(lines.len(), 4, "{flavor:?}: {lines:?}");
        for name in ["p01", "p02"] {
            let last = lines.iter().rev().find(|l| l[0] == name).unwrap();
            assert_eq!(last[2], "yes", "{flavor:?}: {last:?}");
            assert!(logs_in(&sb, flavor, name, &last[1]), "{flavor:?}: {name}");
        }
        assert_secrets_only_in(d.path(), &["pw.csv"], &[&o]);
    }
}
