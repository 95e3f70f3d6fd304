//! Options whose effect no other area's test shows: each test runs the binary with the
//! option and checks what it changes (the output, the search, the request the server gets,
//! the pacing, the demo's files and lifetime), not merely that it parses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::slapd::{PEOPLE, READER_DN, READER_PW, Slapd, SlapdOptions, user};
use crate::support::{
    BIN, Ran, client, config, jsonl, roster, roster_as_importer, start, tmp, users_csv, write,
};
use roster_sandbox::SandboxConfig;

/// `roster convert IN OUT ARGS... --quiet` in `dir`; asserts exit 0.
fn convert(dir: &Path, input: &str, output: &str, args: &[&str]) {
    let mut all = vec!["convert", input, output, "--quiet"];
    all.extend_from_slice(args);
    let o = roster(dir, &all, &[("ROSTER_LDAP_PASSWORD", READER_PW)]);
    assert_eq!(o.code(), 0, "{all:?}: {}", o.stderr());
}

#[test]
fn delimiter_overrides_detection() {
    let d = tmp();
    // Semicolon-separated, with as many commas as semicolons on every line: detection
    // takes the comma (ties go to `,`) and finds no `username` column.
    let csv = "username;email;name;note, site, city, floor\n\
               alice;alice@example.org;Alice Archer;Eng, HQ, Berlin, 2\n\
               bob;bob@example.org;Bob Baker;Ops, DC, Paris, 3\n";
    write(d.path(), "in.csv", csv);
    let o = roster(
        d.path(),
        &["convert", "in.csv", "sniffed.jsonl", "--quiet"],
        &[],
    );
    assert_ne!(o.code(), 0, "detection was expected to misread this file");
    convert(d.path(), "in.csv", "semi.jsonl", &["--delimiter", ";"]);
    let rows = jsonl(&d.path().join("semi.jsonl"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["username"], "alice");
    assert_eq!(rows[1]["name"], "Bob Baker");
}

#[test]
fn max_record_size_skips_larger_rows_with_an_error() {
    let d = tmp();
    let note = "n".repeat(3000);
    write(
        d.path(),
        "in.csv",
        &format!(
            "username,email,name,note\n\
             alice,alice@example.org,Alice,short\n\
             bob,bob@example.org,Bob,{note}\n\
             carol,carol@example.org,Carol,short\n"
        ),
    );
    // The default (8M) reads all three.
    convert(d.path(), "in.csv", "all.jsonl", &[]);
    assert_eq!(jsonl(&d.path().join("all.jsonl")).len(), 3);
    for (args, job) in [
        (&["--max-record-size", "2K"][..], None),
        (
            &["--config", "job.toml"][..],
            Some("[source]\nmax_record_size = 2048\n"),
        ),
    ] {
        if let Some(job) = job {
            write(d.path(), "job.toml", job);
        }
        let mut all = vec![
            "convert",
            "in.csv",
            "out.jsonl",
            "--report",
            "r.jsonl",
            "--quiet",
        ];
        all.extend_from_slice(args);
        let o = roster(d.path(), &all, &[]);
        assert_eq!(o.code(), 1, "{args:?}: {}", o.stderr());
        let names: Vec<String> = jsonl(&d.path().join("out.jsonl"))
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["alice", "carol"], "{args:?}");
        let report = jsonl(&d.path().join("r.jsonl"));
        assert_eq!(report.len(), 3, "every row accounted for: {report:?}");
        assert_eq!(report[1]["origin"], "in.csv:3");
        assert!(
            report[1]["error"]
                .as_str()
                .unwrap()
                .contains("larger than 2 KiB"),
            "{}",
            report[1]
        );
    }
}

#[test]
fn multi_sep_splits_multi_valued_cells() {
    let d = tmp();
    write(
        d.path(),
        "in.csv",
        "username,email,name,roles\nalice,alice@example.org,Alice A,user|bot\n",
    );
    // By default `;` splits: "user|bot" is one role, which no server has (a hint says so).
    let o = roster(
        d.path(),
        &["convert", "in.csv", "default.jsonl", "--quiet"],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert!(jsonl(&d.path().join("default.jsonl")).is_empty());
    convert(d.path(), "in.csv", "piped.jsonl", &["--multi-sep", "|"]);
    let rows = jsonl(&d.path().join("piped.jsonl"));
    assert_eq!(
        rows[0]["roles"],
        serde_json::json!(["user", "bot"]),
        "{rows:?}"
    );
}

#[test]
fn map_filter_turns_an_hr_status_into_active() {
    let d = tmp();
    write(
        d.path(),
        "hr.csv",
        "username,email,name,status\n\
         ann,ann@example.org,Ann,Active\n\
         bob,bob@example.org,Bob,disabled\n\
         cy,cy@example.org,Cy,Suspended\n",
    );
    // Without a map, "Active" is no boolean: the HR column cannot feed `active`.
    let o = roster(
        d.path(),
        &[
            "convert",
            "hr.csv",
            "plain.jsonl",
            "--map",
            "active={status}",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let o = roster(
        d.path(),
        &[
            "convert",
            "hr.csv",
            "out.jsonl",
            "--map",
            "active={status|map:Active=true,Disabled=false}",
            "--report",
            "r.jsonl",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let out = jsonl(&d.path().join("out.jsonl"));
    let active: Vec<(&str, bool)> = out
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap(),
                u["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(active, [("ann", true), ("bob", false)]);
    let report = jsonl(&d.path().join("r.jsonl"));
    assert_eq!(
        report[2]["error"],
        "active: status \"Suspended\" is not in the map (Active, Disabled; add *=VALUE for the others)"
    );
    // `*=` maps the rest.
    convert(
        d.path(),
        "hr.csv",
        "all.jsonl",
        &["--map", "active={status|map:Active=true,*=false}"],
    );
    let all = jsonl(&d.path().join("all.jsonl"));
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["active"], false);
}

/// A file without any column for a field every row needs is one error before any row is
/// read (exit 2), not the same rejection on every row.
#[test]
fn a_missing_email_column_is_one_error_before_any_row() {
    let d = tmp();
    write(d.path(), "hr.csv", "username,name\nann,Ann\nbob,Bob\n");
    let o = roster(
        d.path(),
        &["validate", "hr.csv", "--report", "r.jsonl", "--quiet"],
        &[],
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("hr.csv has no column for email (looked for email, mail,")
            && o.stderr().contains("--map email={COLUMN}"),
        "{}",
        o.stderr()
    );
    assert!(
        jsonl(&d.path().join("r.jsonl")).is_empty(),
        "no row was read"
    );
    // Named with --map, the file reads.
    write(
        d.path(),
        "hr2.csv",
        "username,name,courriel\nann,Ann,ann@example.org\n",
    );
    convert(
        d.path(),
        "hr2.csv",
        "out.jsonl",
        &["--map", "email={courriel}"],
    );
    assert_eq!(
        jsonl(&d.path().join("out.jsonl"))[0]["email"],
        "ann@example.org"
    );
}

/// Options that cannot be honoured are refused before anything is read or sent (exit 2):
/// no workers, a report under a spreadsheet's name.
#[test]
fn zero_workers_and_a_report_that_is_not_csv_or_jsonl_are_refused() {
    let d = tmp();
    write(
        d.path(),
        "u.csv",
        "username,email,name\nann,ann@example.org,Ann\n",
    );
    write(d.path(), "job.toml", "[import]\nworkers = 0\n");
    for (args, want) in [
        (
            &[
                "import",
                "u.csv",
                "--server",
                "http://127.0.0.1:9",
                "--workers",
                "0",
            ][..],
            "at least 1 worker is needed",
        ),
        (
            &[
                "import",
                "u.csv",
                "--server",
                "http://127.0.0.1:9",
                "--config",
                "job.toml",
            ][..],
            "[import] workers: at least 1 worker is needed",
        ),
        (
            &["validate", "u.csv", "--report", "r.xlsx"][..],
            "not .xlsx",
        ),
        (
            &[
                "apply",
                "plan.json",
                "--server",
                "http://127.0.0.1:9",
                "--report",
                "r.ods",
            ][..],
            "not .ods",
        ),
    ] {
        let o = roster(d.path(), args, &[]);
        assert_eq!(o.code(), 2, "{args:?}: {}", o.stderr());
        assert!(o.stderr().contains(want), "{args:?}: {}", o.stderr());
    }
    assert!(!d.path().join("r.xlsx").exists());
    // The names a report may have.
    for report in [
        "r.csv",
        "r.TXT",
        "r.jsonl",
        "r.ndjson",
        "r.json",
        "report",
        "run.2024-01-15",
        "r.log",
    ] {
        let o = roster(
            d.path(),
            &["validate", "u.csv", "--report", report, "--quiet"],
            &[],
        );
        assert_eq!(o.code(), 0, "{report}: {}", o.stderr());
    }
}

/// ROSTER_SERVER names the server when neither --server nor the job file does.
#[test]
fn roster_server_names_the_server() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users_csv(2));
    let mut env = crate::support::as_importer();
    let url = sb.url();
    env.push(("ROSTER_SERVER", url.as_str()));
    let o = roster(d.path(), &["import", "u.csv", "--quiet"], &env);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert_eq!(crate::support::server_users(&sb).len(), 2, "two new users");
    // --server wins: a closed port fails even though ROSTER_SERVER is right.
    let o = roster(
        d.path(),
        &[
            "import",
            "u.csv",
            "--server",
            "http://127.0.0.1:9",
            "--quiet",
        ],
        &env,
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("127.0.0.1:9"), "{}", o.stderr());
    // So does the job file's [server] url: an exported ROSTER_SERVER never redirects a job.
    write(
        d.path(),
        "job.toml",
        "[server]\nurl = \"http://127.0.0.1:9\"\n",
    );
    let o = roster(
        d.path(),
        &["import", "u.csv", "--config", "job.toml", "--quiet"],
        &env,
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("127.0.0.1:9"), "{}", o.stderr());
}

#[test]
fn map_builds_a_field_from_a_template() {
    let d = tmp();
    write(
        d.path(),
        "in.csv",
        "username,email,givenName,sn\nalice,alice@example.org,Alice,Archer\n",
    );
    convert(
        d.path(),
        "in.csv",
        "out.jsonl",
        &["--map", "name={givenName} {sn}"],
    );
    let rows = jsonl(&d.path().join("out.jsonl"));
    assert_eq!(rows[0]["name"], "Alice Archer", "{rows:?}");
}

#[test]
fn format_names_the_format_of_stdin() {
    let d = tmp();
    let run = |format: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(["convert", "-", "out.jsonl", "--quiet"]);
        if let Some(f) = format {
            c.args(["--format", f]);
        }
        let mut child = c
            .current_dir(d.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roster runs");
        let mut stdin = child.stdin.take().expect("stdin");
        // The reader may refuse before reading: a closed pipe is then fine.
        let _ = stdin.write_all(users_csv(2).as_bytes());
        drop(stdin);
        child.wait_with_output().expect("roster ends")
    };
    let o = run(Some("csv"));
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let rows = jsonl(&d.path().join("out.jsonl"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["username"], "u0002");
    // JSON Lines is not what stdin holds: the same bytes read as --format jsonl fail.
    let o = run(Some("jsonl"));
    assert_ne!(o.code(), 0, "CSV read as JSON Lines");
}

#[test]
fn base_dn_places_ldif_entries() {
    let d = tmp();
    write(d.path(), "in.csv", &users_csv(2));
    convert(
        d.path(),
        "in.csv",
        "out.ldif",
        &["--base-dn", "ou=staff,dc=corp,dc=test"],
    );
    let text = std::fs::read_to_string(d.path().join("out.ldif")).expect("LDIF written");
    assert!(
        text.contains("dn: uid=u0001,ou=staff,dc=corp,dc=test\n"),
        "{text}"
    );
    assert!(
        text.contains("dn: uid=u0002,ou=staff,dc=corp,dc=test\n"),
        "{text}"
    );
}

#[test]
fn filter_and_attrs_restrict_the_ldap_search() {
    let slapd = Slapd::start(SlapdOptions::users(6));
    let d = tmp();
    let url = slapd.people_url();
    let bind = ["--bind-dn", READER_DN];

    let mut args = bind.to_vec();
    args.extend(["--filter", "(|(uid=user00002)(uid=user00004))"]);
    convert(d.path(), &url, "filtered.jsonl", &args);
    let rows = jsonl(&d.path().join("filtered.jsonl"));
    let names: Vec<_> = rows.iter().map(|r| r["username"].clone()).collect();
    assert_eq!(names, ["user00002", "user00004"], "{rows:?}");
    assert_eq!(rows[0]["name"], user(2).cn, "all attributes by default");

    // Without displayName and cn the name has nothing to come from.
    let mut args = bind.to_vec();
    args.extend(["--filter", "(uid=user00003)", "--attrs", "uid,mail"]);
    convert(d.path(), &url, "narrow.jsonl", &args);
    let rows = jsonl(&d.path().join("narrow.jsonl"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["username"], "user00003");
    assert_eq!(rows[0]["email"], user(3).mail);
    assert!(
        rows[0].get("name").is_none_or(|n| n.is_null() || n == ""),
        "{rows:?}"
    );
}

#[test]
fn ldap_timeout_bounds_the_wait_for_a_silent_server() {
    // The kernel completes the TCP handshake, but nobody ever answers the bind.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("port").port();
    let d = tmp();
    let t = Instant::now();
    let o = roster(
        d.path(),
        &[
            "convert",
            &format!("ldap://127.0.0.1:{port}/{PEOPLE}"),
            "out.jsonl",
            "--ldap-timeout",
            "1",
        ],
        &[],
    );
    let took = t.elapsed();
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("within 1 s"), "{}", o.stderr());
    // The default is 120 s: well under 10 s is the option at work.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(listener);
}

/// A TCP relay in front of `upstream` that keeps every byte the client sends.
fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listener");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let Ok(up) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut down_r, mut up_w) = (
                conn.try_clone().expect("clone"),
                up.try_clone().expect("clone"),
            );
            let (mut up_r, mut down_w) = (up, conn);
            let keep = Arc::clone(&keep);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = down_r.read(&mut buf) {
                    if n == 0 || up_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    keep.lock().expect("lock").extend_from_slice(&buf[..n]);
                }
                let _ = up_w.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut up_r, &mut down_w);
                let _ = down_w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (url, seen)
}

#[test]
fn join_default_channels_and_send_welcome_email_reach_users_create() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let upstream = sb
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let d = tmp();
    write(d.path(), "hr.csv", &users_csv(1));
    let (url, seen) = recording_proxy(upstream);
    let o = roster_as_importer(
        d.path(),
        &[
            "import",
            "hr.csv",
            "--server",
            &url,
            "--join-default-channels",
            "false",
            "--send-welcome-email",
            "true",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let sent = String::from_utf8_lossy(&seen.lock().expect("lock")).into_owned();
    let create = sent
        .split("POST /api/v1/users.create")
        .nth(1)
        .unwrap_or_else(|| panic!("no users.create in {sent}"));
    assert!(create.contains("\"joinDefaultChannels\":false"), "{create}");
    assert!(create.contains("\"sendWelcomeEmail\":true"), "{create}");

    // Unset, neither is sent: the server's defaults apply.
    let sb2 = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let (url, seen) = recording_proxy(
        sb2.url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    );
    let o = roster_as_importer(d.path(), &["import", "hr.csv", "--server", &url, "--quiet"]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let sent = String::from_utf8_lossy(&seen.lock().expect("lock")).into_owned();
    assert!(sent.contains("users.create"), "{sent}");
    assert!(!sent.contains("joinDefaultChannels"), "{sent}");
    assert!(!sent.contains("sendWelcomeEmail"), "{sent}");
}

/// Milliseconds since midnight UTC of an RFC 3339 time such as `2026-12-02T19:30:15.123Z`.
fn ms_of_day(t: &str) -> i64 {
    let hms = &t[11..23];
    let h: i64 = hms[0..2].parse().expect("hour");
    let m: i64 = hms[3..5].parse().expect("minute");
    let s: f64 = hms[6..].parse().expect("seconds");
    (h * 3600 + m * 60) * 1000 + (s * 1000.0).round() as i64
}

#[test]
fn rate_caps_calls_per_period() {
    let d = tmp();
    let log = d.path().join("sandbox.log");
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        log_file: Some(log.clone()),
        ..config()
    });
    write(d.path(), "hr.csv", &users_csv(15));
    let o = roster_as_importer(
        d.path(),
        &[
            "import",
            "hr.csv",
            "--server",
            &sb.url(),
            "--rate",
            "5/1s",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    sb.stop().expect("sandbox stops");
    let creates: Vec<i64> = jsonl(&log)
        .iter()
        .filter(|l| {
            l["route"]
                .as_str()
                .is_some_and(|r| r.contains("users.create"))
        })
        .map(|l| ms_of_day(l["time"].as_str().expect("time")))
        .collect();
    assert_eq!(creates.len(), 15);
    // Loosely (two shared cores delay some requests into the next one): a burst of 5,
    // then about 5 a second, never many more in one second. Without --rate all 15 land
    // within a few hundred ms.
    let busiest = creates
        .iter()
        .map(|&t0| {
            creates
                .iter()
                .filter(|&&t| t >= t0 && t - t0 < 1000)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 7,
        "{busiest} users.create within one second: {creates:?}"
    );
    let span = creates.iter().max().unwrap_or(&0) - creates.iter().min().unwrap_or(&0);
    assert!(span >= 1500, "15 calls at 5/s took only {span} ms");
}

#[test]
fn demo_writes_into_dir() {
    let d = tmp();
    let o = roster(d.path(), &["demo", "--dir", "out", "--quiet"], &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    for f in [
        "users.csv",
        "report.csv",
        "rejects.csv",
        "dump.jsonl",
        "photos/anna.schmidt.png",
    ] {
        assert!(d.path().join("out").join(f).is_file(), "{f} in --dir");
    }
    assert!(
        !d.path().join("roster-demo").exists(),
        "the default folder is unused"
    );
    // The sample's people land in their teams and channels (but julia.rossi, created
    // deactivated: a deactivated account joins nothing), three with their photo.
    assert!(
        o.stderr().contains(
            "18 of them in a team with its channel, 3 with an avatar from samples/photos"
        ),
        "{}",
        o.stderr()
    );
    let report = std::fs::read_to_string(d.path().join("out/report.csv")).unwrap();
    let anna = report
        .lines()
        .find(|l| l.contains(",anna.schmidt,"))
        .expect("anna's row");
    assert!(anna.contains(";avatar;teams;channels,"), "{anna}");
}

#[test]
fn mattermost_demo_puts_people_in_teams_too() {
    let d = tmp();
    let o = roster(
        d.path(),
        &["demo", "--flavor", "mattermost", "--quiet"],
        &[],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr()
            .contains("19 of them in a team with its channel, 2 with an avatar"),
        "{}",
        o.stderr()
    );
}

#[test]
fn demo_keep_running_serves_until_interrupted() {
    let d = tmp();
    let mut child = Command::new(BIN)
        .args(["demo", "--keep-running", "--quiet"])
        .current_dir(d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("roster demo runs");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Sandbox still running at ") {
                let url = rest.split(';').next().unwrap_or("").to_string();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the demo says the sandbox keeps running");
    // After the import the sandbox still answers.
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().expect("wait").is_none(), "demo exited");
    let r = client()
        .get(format!("{url}/api/info"))
        .send()
        .expect("the sandbox answers");
    assert!(r.status().is_success(), "{}", r.status());
    // Ctrl-C ends it cleanly.
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        client().get(format!("{url}/api/info")).send().is_err(),
        "stopped"
    );
}

/// `roster mapping` shows which column feeds each field, the columns nothing reads (with a
/// hint for meaningful ones), and the first rows mapped, without passwords.
#[test]
fn mapping_shows_fields_unread_columns_and_rows() {
    let d = tmp();
    write(
        d.path(),
        "hr.csv",
        "username,mail,name,status,department,password\n\
         ann,ann@example.org,Ann,Active,Sales,Pw-ann-123456\n\
         bob,bob@example.org,Bob,Disabled,IT,Pw-bob-123456\n\
         cy,cy@example.org,Cy,Active,IT,Pw-cy-1234567\n",
    );
    let o = roster(d.path(), &["mapping", "hr.csv", "--rows", "2"], &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("email") && out.contains("reads mail"), "{out}");
    assert!(out.contains("Read by nothing: status, department"), "{out}");
    assert!(
        out.contains(
            "status looks meaningful: map it, e.g. --map active={status|map:Active=true,*=false}"
        ),
        "{out}"
    );
    assert!(out.contains("hr.csv:2  ok"), "{out}");
    assert!(out.contains("hr.csv:3  ok"), "{out}");
    assert!(!out.contains("hr.csv:4"), "--rows 2: {out}");
    assert!(!out.contains("Pw-"), "no password shown: {out}");
    // A map makes the column read, and its effect shows in the rows.
    let o = roster(
        d.path(),
        &[
            "mapping",
            "hr.csv",
            "--map",
            "active={status|map:Active=true,*=false}",
        ],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("Read by nothing: department"), "{out}");
    assert!(out.contains("\"active\":false"), "{out}");
    // validate points at it when meaningful columns go unread (not with --quiet).
    let o = roster(d.path(), &["validate", "hr.csv"], &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    assert!(
        o.stderr().contains(
            "hint: nothing reads the columns status, department; `roster mapping` with the same source and options shows how to map them"
        ),
        "{}",
        o.stderr()
    );
    let o = roster(d.path(), &["validate", "hr.csv", "--quiet"], &[]);
    assert!(!o.stderr().contains("hint:"), "{}", o.stderr());
}

/// A roles cell split on another separator than the file's gets a hint naming --multi-sep,
/// before any server sees it; with --multi-sep the same cell reads as two roles.
#[test]
fn roles_with_a_foreign_separator_hint_at_multi_sep() {
    let d = tmp();
    write(
        d.path(),
        "r.csv",
        "username,email,name,roles\nann,ann@example.org,Ann,user|admin\n",
    );
    let o = roster(
        d.path(),
        &["validate", "r.csv", "--report", "r.jsonl", "--quiet"],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    assert_eq!(
        jsonl(&d.path().join("r.jsonl"))[0]["error"],
        "roles: \"user|admin\" contains '|': if the cell lists several roles, say so with --multi-sep '|' (CSV)"
    );
    convert(d.path(), "r.csv", "out.jsonl", &["--multi-sep", "|"]);
    let out = jsonl(&d.path().join("out.jsonl"));
    assert_eq!(out[0]["roles"], serde_json::json!(["user", "admin"]));
}
