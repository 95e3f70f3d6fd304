//! Where the LDAP bind password comes from: ROSTER_LDAP_PASSWORD, ROSTER_LDAP_PASSWORD_FILE,
//! or nowhere (no terminal) — a clear error. The environment is process-wide, so each case
//! runs this test binary again as a child with its own environment and stdin not a terminal.

use std::process::{Command, Stdio};

use crate::support::slapd::{READER_DN, READER_PW, Slapd, SlapdOptions};
use roster::source::Source;
use roster::source::ldap::{LdapOptions, LdapSource};

const URL_VAR: &str = "ROSTER_TEST_LDAP_URL";
const DN_VAR: &str = "ROSTER_TEST_LDAP_BIND_DN";

/// The child side: opens the source as the environment says and prints one `RESULT` line.
#[test]
#[ignore = "helper run by password_sources in a child process"]
fn child_open() {
    let url = std::env::var(URL_VAR).expect("run by password_sources");
    let opts = LdapOptions {
        bind_dn: std::env::var(DN_VAR).ok(),
        ..Default::default()
    };
    match LdapSource::open(&url, &opts) {
        Ok(mut src) => {
            let mut n = 0;
            loop {
                match src.next_item() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(e) => {
                        println!("RESULT ERR {e}");
                        return;
                    }
                }
            }
            println!("RESULT OK {n} {:?}", src.take_warnings());
        }
        Err(e) => println!("RESULT ERR {e}"),
    }
}

fn run(url: &str, bind_dn: Option<&str>, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    // The test's name in the one integration binary is its module path.
    cmd.args([
        "--ignored",
        "--exact",
        "ldap_password::child_open",
        "--nocapture",
    ])
    .env_remove("ROSTER_LDAP_PASSWORD")
    .env_remove("ROSTER_LDAP_PASSWORD_FILE")
    .env_remove(DN_VAR)
    .env(URL_VAR, url)
    .stdin(Stdio::null());
    if let Some(dn) = bind_dn {
        cmd.env(DN_VAR, dn);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(str::to_string)
        .unwrap_or_else(|| {
            panic!(
                "child printed no result: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[test]
fn password_sources() {
    let slapd = Slapd::start(SlapdOptions::users(3));
    let url = slapd.people_url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ldap-password");
    std::fs::write(&file, format!("{READER_PW}\n")).unwrap();
    let file = file.to_str().unwrap();

    // From the variable.
    let r = run(
        &url,
        Some(READER_DN),
        &[("ROSTER_LDAP_PASSWORD", READER_PW)],
    );
    assert!(r.starts_with("OK 3 "), "{r}");

    // From the file (trailing newline stripped).
    let r = run(
        &url,
        Some(READER_DN),
        &[("ROSTER_LDAP_PASSWORD_FILE", file)],
    );
    assert!(r.starts_with("OK 3 "), "{r}");

    // The variable wins over the file.
    let r = run(
        &url,
        Some(READER_DN),
        &[
            ("ROSTER_LDAP_PASSWORD", "Wr0ng-P4ss"),
            ("ROSTER_LDAP_PASSWORD_FILE", file),
        ],
    );
    assert_eq!(
        r,
        "ERR LDAP bind as cn=reader,dc=example,dc=org failed: invalid credentials (rc=49). \
         Check ROSTER_LDAP_PASSWORD(_FILE) and --bind-dn"
    );

    // Nowhere, and no terminal to ask on.
    let r = run(&url, Some(READER_DN), &[]);
    assert_eq!(
        r,
        "ERR LDAP bind DN cn=reader,dc=example,dc=org needs a password: set \
         ROSTER_LDAP_PASSWORD or ROSTER_LDAP_PASSWORD_FILE (there is no terminal to ask on); \
         without --bind-dn roster binds anonymously"
    );

    // Unusable settings name the variable, never a value.
    let r = run(&url, Some(READER_DN), &[("ROSTER_LDAP_PASSWORD", "")]);
    assert_eq!(
        r,
        "ERR cannot read the LDAP bind password: ROSTER_LDAP_PASSWORD is empty"
    );
    let missing = dir.path().join("nope");
    let r = run(
        &url,
        Some(READER_DN),
        &[("ROSTER_LDAP_PASSWORD_FILE", missing.to_str().unwrap())],
    );
    assert!(
        r.starts_with(
            "ERR cannot read the LDAP bind password: cannot read ROSTER_LDAP_PASSWORD_FILE file"
        ),
        "{r}"
    );

    // No bind DN: anonymous, with a word about the unused password.
    let r = run(&url, None, &[("ROSTER_LDAP_PASSWORD", READER_PW)]);
    assert!(r.starts_with("OK 3 "), "{r}");
    assert!(
        r.contains("no bind DN is given: binding anonymously"),
        "{r}"
    );
    assert!(!r.contains(READER_PW), "{r}");
}
