//! Outputs that are inputs: `--report`, `--rejects`, `--dump`, OUTPUT, `-o` naming an input
//! or another output are refused with exit 2 before anything is created; an output that is
//! a symlink is written through with a warning.

use std::path::Path;

use crate::support::{Ran, as_importer, config, roster, start};
use roster_sandbox::SandboxConfig;

const INPUT: &str = "username,email,name\nalice,alice@example.com,Alice\nbad,not-an-email,Bad\n";

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("users.csv"), INPUT).unwrap();
    d
}

fn input_unchanged(dir: &Path) {
    assert_eq!(
        std::fs::read_to_string(dir.join("users.csv")).unwrap(),
        INPUT,
        "the input was changed"
    );
}

/// Refused with exit 2 and a message naming both; nothing created.
fn refused(dir: &Path, args: &[&str], want: &str) {
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let r = roster(dir, args, &as_importer());
    assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr());
    assert!(r.stderr().contains(want), "{args:?}: {}", r.stderr());
    assert!(r.stderr().contains("(nothing was done)"), "{}", r.stderr());
    let after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "{args:?} created files");
    input_unchanged(dir);
}

#[test]
fn report_or_rejects_naming_the_input_is_refused() {
    let d = setup();
    refused(
        d.path(),
        &["validate", "users.csv", "--report", "users.csv"],
        "--report users.csv is the same file as SOURCE users.csv, which roster reads",
    );
    // Another spelling of the same path, and the rejects file (which used to empty it).
    std::fs::create_dir(d.path().join("sub")).unwrap();
    refused(
        d.path(),
        &["validate", "users.csv", "--rejects", "./sub/../users.csv"],
        "--rejects ./sub/../users.csv is the same file as SOURCE users.csv",
    );
    // A hard link is the same file too.
    std::fs::hard_link(d.path().join("users.csv"), d.path().join("link.csv")).unwrap();
    refused(
        d.path(),
        &["convert", "link.csv", "users.csv"],
        "OUTPUT users.csv is the same file as SOURCE link.csv",
    );
    // The job file is an input too.
    std::fs::write(
        d.path().join("job.toml"),
        "[validate]\nprofile = \"generic\"\n",
    )
    .unwrap();
    refused(
        d.path(),
        &[
            "validate",
            "users.csv",
            "--config",
            "job.toml",
            "--rejects",
            "job.toml",
        ],
        "--rejects job.toml is the same file as --config job.toml",
    );
    // Also when the job file names the source.
    std::fs::write(
        d.path().join("job2.toml"),
        "[source]\npath = \"users.csv\"\n",
    )
    .unwrap();
    refused(
        d.path(),
        &["validate", "--config", "job2.toml", "--report", "users.csv"],
        "--report users.csv is the same file as SOURCE users.csv",
    );
}

/// Password files named in the environment are inputs too.
#[test]
fn a_password_file_from_the_environment_is_not_overwritten() {
    let d = setup();
    std::fs::write(d.path().join("pw.txt"), "Sekr3t\n").unwrap();
    let r = roster(
        d.path(),
        &["validate", "users.csv", "--rejects", "pw.txt"],
        &[("ROSTER_LDAP_PASSWORD_FILE", "pw.txt")],
    );
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(
        r.stderr()
            .contains("--rejects pw.txt is the same file as ROSTER_LDAP_PASSWORD_FILE pw.txt"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("pw.txt")).unwrap(),
        "Sekr3t\n"
    );
}

#[test]
fn two_outputs_naming_one_file_are_refused() {
    let d = setup();
    refused(
        d.path(),
        &[
            "validate",
            "users.csv",
            "--report",
            "out.csv",
            "--rejects",
            "out.csv",
        ],
        "--report out.csv and --rejects out.csv are the same file; give each its own",
    );
    refused(
        d.path(),
        &[
            "validate",
            "users.csv",
            "--report",
            "r.csv",
            "--rejects",
            "r.csv.journal",
        ],
        "the report's journal r.csv.journal and --rejects r.csv.journal are the same file",
    );
    refused(
        d.path(),
        &["convert", "users.csv", "out.jsonl", "--report", "out.jsonl"],
        "--report out.jsonl and OUTPUT out.jsonl are the same file",
    );
    // Distinct files are fine.
    let r = roster(
        d.path(),
        &[
            "validate",
            "users.csv",
            "--report",
            "r.csv",
            "--rejects",
            "j.csv",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    input_unchanged(d.path());
}

#[test]
fn an_output_that_is_a_symlink_is_written_with_a_warning() {
    let d = setup();
    std::fs::create_dir(d.path().join("logs")).unwrap();
    std::os::unix::fs::symlink("logs/run.csv", d.path().join("run.csv")).unwrap();
    let r = roster(
        d.path(),
        &["validate", "users.csv", "--report", "run.csv", "--quiet"],
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(
        r.stderr().contains(
            "roster: warning: --report run.csv is a symlink to logs/run.csv; writing there"
        ),
        "{}",
        r.stderr()
    );
    let report = std::fs::read_to_string(d.path().join("logs/run.csv")).unwrap();
    assert!(report.contains("alice"), "{report}");
    // A symlink to the input is the input.
    std::os::unix::fs::symlink("users.csv", d.path().join("sneaky.csv")).unwrap();
    refused(
        d.path(),
        &["validate", "users.csv", "--rejects", "sneaky.csv"],
        "--rejects sneaky.csv is the same file as SOURCE users.csv",
    );
}

#[test]
fn import_dump_naming_the_report_or_the_input_is_refused_before_connecting() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let url = sb.url();
    let d = setup();
    let users_before = sb.users().len();
    refused(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            &url,
            "--random-password",
            "--report",
            "r.csv",
            "--dump",
            "r.csv",
        ],
        "--report r.csv and --dump r.csv are the same file",
    );
    refused(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            &url,
            "--random-password",
            "--dump",
            "users.csv",
        ],
        "--dump users.csv is the same file as SOURCE users.csv",
    );
    assert_eq!(sb.users().len(), users_before, "nothing reached the server");
    // sync: --state is read and written by the run itself, but no other output may name it.
    std::fs::write(d.path().join("state.jsonl"), "").unwrap();
    refused(
        d.path(),
        &[
            "sync",
            "users.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--dump",
            "state.jsonl",
        ],
        "--state state.jsonl and --dump state.jsonl are the same file",
    );
    refused(
        d.path(),
        &[
            "plan",
            "users.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "-o",
            "state.jsonl",
        ],
        "--output state.jsonl is the same file as --state state.jsonl",
    );
    let r = roster(
        d.path(),
        &[
            "import",
            "users.csv",
            "--server",
            &url,
            "--random-password",
            "--report",
            "r.csv",
            "--dump",
            "d.csv",
            "--quiet",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    input_unchanged(d.path());
}

#[test]
fn credential_files_named_by_the_environment_are_never_overwritten() {
    let d = setup();
    for var in [
        "ROSTER_TOKEN_FILE",
        "ROSTER_USER_ID_FILE",
        "ROSTER_USERNAME_FILE",
        "ROSTER_PASSWORD_FILE",
    ] {
        std::fs::write(d.path().join("cred.txt"), "Sekr3t\n").unwrap();
        // The check comes before any connection: the server is never contacted.
        let r = roster(
            d.path(),
            &[
                "import",
                "users.csv",
                "--server",
                "http://127.0.0.1:9",
                "--report",
                "cred.txt",
            ],
            &[(var, "cred.txt")],
        );
        assert_eq!(r.code(), 2, "{var}: {}", r.stderr());
        assert!(r.stderr().contains(var), "{var}: {}", r.stderr());
        assert_eq!(
            std::fs::read_to_string(d.path().join("cred.txt")).unwrap(),
            "Sekr3t\n",
            "{var}"
        );
    }
}
