//! From a live directory (a throwaway slapd) into the Rocket.Chat sandbox: a paged read
//! imports everyone, with non-ASCII names intact and the directory's photo as the avatar;
//! a capped read stops the run before any write, for `import` and for `sync` alike.

use std::path::Path;
use std::process::Output;

use crate::support::slapd::{PEOPLE, PHOTO, READER_DN, READER_PW, Slapd, SlapdOptions, user};
use crate::support::{Ran, as_importer, config, start};
use roster_sandbox::SandboxConfig;

/// As the importer, with the LDAP reader's password in the environment.
fn roster(dir: &Path, args: &[&str]) -> Output {
    let mut env = as_importer();
    env.push(("ROSTER_LDAP_PASSWORD", READER_PW));
    crate::support::roster(dir, args, &env)
}

#[test]
fn a_paged_directory_read_imports_everyone_and_a_capped_one_writes_nothing() {
    let ldap = Slapd::start(SlapdOptions::users(620));
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    let url = format!("{}/{PEOPLE}??sub?(objectClass=inetOrgPerson)", ldap.url());

    // Capped: without paging the reader sees 500 of 620 entries. Nothing is written.
    let o = roster(
        d.path(),
        &[
            "import",
            &url,
            "--server",
            &sb.url(),
            "--bind-dn",
            READER_DN,
            "--no-paging",
            "--random-password",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr());
    assert!(o.stderr().contains("size limit exceeded"), "{}", o.stderr());
    assert!(o.stderr().contains("nothing was written"), "{}", o.stderr());
    assert_eq!(sb.users().len(), 2, "no user created from a partial read");
    let writes: u64 = sb
        .counters()
        .iter()
        .filter(|(k, _)| k.contains("users."))
        .map(|(_, c)| c.requests)
        .sum();
    assert_eq!(writes, 0, "not even a lookup");

    // The same as a sync with --deactivate-missing: refused before anything, exit 2.
    let o = roster(
        d.path(),
        &[
            "sync",
            &url,
            "--server",
            &sb.url(),
            "--bind-dn",
            READER_DN,
            "--no-paging",
            "--deactivate-missing",
            "--manage",
            "all",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr());
    assert_eq!(sb.users().len(), 2);

    // Paged: all 620, with their names as the directory has them.
    let o = roster(
        d.path(),
        &[
            "import",
            &url,
            "--server",
            &sb.url(),
            "--bind-dn",
            READER_DN,
            "--random-password",
            "--report",
            "r.csv",
            "--dump",
            "dump.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr());
    let users = sb.users();
    assert_eq!(users.len(), 622);
    for i in [0usize, 1, 2, 3, 619] {
        let want = user(i);
        let got = users
            .iter()
            .find(|u| u["username"] == want.uid.as_str())
            .expect("imported");
        assert_eq!(got["name"], want.cn.as_str(), "{}", want.uid);
        assert_eq!(got["emails"][0]["address"], want.mail.as_str());
    }
    let report = std::fs::read_to_string(d.path().join("r.csv")).unwrap();
    assert!(
        report.contains(&format!("uid=user00001,{PEOPLE}")),
        "origins are DNs"
    );
    assert_eq!(report.lines().count(), 621);
    // The dump holds every created user, as the server now has it.
    let dump = std::fs::read_to_string(d.path().join("dump.jsonl")).unwrap();
    assert_eq!(dump.lines().count(), 620);
    // user00000's jpegPhoto, bytes from the directory, is its avatar (issue 13); the
    // others have none.
    assert_eq!(sb.avatar(&user(0).uid).as_deref(), Some(PHOTO));
    assert_eq!(sb.avatar(&user(1).uid), None);
}
