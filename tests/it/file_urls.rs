//! LDIF `file:` URLs through the binary: refused without `--allow-file-urls DIR`, read only
//! inside DIR (no escape by `..` or a symlink), and never shown in messages, reports or
//! rejects.

use std::path::Path;

use crate::support::roster;

const MARKER: &str = "MARKER_SECRET_7f3a";

/// `data/` holds a good name, a name with a newline and the marker, and a symlink out to
/// `secret.txt` (which holds the marker too) next to it.
fn setup(dir: &Path) {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("name.txt"), "Alice Example").unwrap();
    std::fs::write(data.join("bad.txt"), format!("Bob\n{MARKER}=hunter2")).unwrap();
    std::fs::write(dir.join("secret.txt"), format!("Carol {MARKER}")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", data.join("link.txt")).unwrap();
    let abs = data.join("name.txt");
    std::fs::write(
        dir.join("in.ldif"),
        format!(
            "dn: uid=alice,dc=x\nuid: alice\nmail: alice@example.com\ncn:< file://{}\n\n\
             dn: uid=bob,dc=x\nuid: bob\nmail: bob@example.com\ncn:< file:data/bad.txt\n\n\
             dn: uid=carol,dc=x\nuid: carol\nmail: carol@example.com\ncn:< file:data/../secret.txt\n\n\
             dn: uid=dan,dc=x\nuid: dan\nmail: dan@example.com\ncn:< file:data/link.txt\n\n\
             dn: uid=erin,dc=x\nuid: erin\nmail: erin@example.com\ncn: Erin\n",
            abs.display()
        ),
    )
    .unwrap();
}

fn text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn file_urls_are_refused_without_the_flag() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let out = roster(
        d.path(),
        &[
            "validate",
            "in.ldif",
            "--report",
            "r.csv",
            "--rejects",
            "j.ldif",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&d.path().join("r.csv"));
    let rejects = text(&d.path().join("j.ldif"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Every record with a URL is rejected, each by itself; the batch goes on.
    for line in [4, 9, 14, 19] {
        let want = format!("cn: line {line}: file:// URLs are refused; use --allow-file-urls DIR");
        assert!(report.contains(&want), "{report}");
        assert!(rejects.contains(&format!("# error: {want}")), "{rejects}");
    }
    assert!(
        report.contains("in.ldif:21,erin,erin@example.com,none,ok"),
        "{report}"
    );
    for t in [&report, &rejects, &stderr] {
        assert!(!t.contains(MARKER), "{t}");
        assert!(!t.contains("Alice Example"), "{t}");
    }
}

#[test]
fn file_urls_are_read_only_inside_the_allowed_folder() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let out = roster(
        d.path(),
        &[
            "validate",
            "in.ldif",
            "--allow-file-urls",
            "data",
            "--report",
            "r.csv",
            "--rejects",
            "j.ldif",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&d.path().join("r.csv"));
    let rejects = text(&d.path().join("j.ldif"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        report.contains("in.ldif:1,alice,alice@example.com,none,ok"),
        "{report}"
    );
    // `..` and a symlink both resolve outside data/.
    for line in [14, 19] {
        assert!(
            report.contains(&format!("cn: line {line}: "))
                && report.contains("is outside the --allow-file-urls folder"),
            "{report}"
        );
    }
    // The value read from the file is invalid, and the message does not show it.
    assert!(
        report.contains(
            "name: (a value read from a file: URL, not shown) contains a control character (U+000A)"
        ),
        "{report}"
    );
    for t in [&report, &rejects, &stderr] {
        assert!(!t.contains(MARKER), "{t}");
        assert!(!t.contains("hunter2"), "{t}");
    }

    // The allowed file's content is the user's name.
    let out = roster(
        d.path(),
        &[
            "convert",
            "in.ldif",
            "out.jsonl",
            "--allow-file-urls",
            "data",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let users = text(&d.path().join("out.jsonl"));
    assert!(users.contains(r#""name":"Alice Example""#), "{users}");
    assert!(!users.contains(MARKER), "{users}");
}

#[test]
fn allow_file_urls_from_the_job_file_and_a_missing_folder() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    std::fs::write(
        d.path().join("job.toml"),
        "[source]\nallow_file_urls = \"data\"\n",
    )
    .unwrap();
    let out = roster(
        d.path(),
        &[
            "validate", "in.ldif", "--config", "job.toml", "--report", "r.csv",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&d.path().join("r.csv"));
    assert!(
        report.contains("in.ldif:1,alice,alice@example.com,none,ok"),
        "{report}"
    );

    let out = roster(
        d.path(),
        &["validate", "in.ldif", "--allow-file-urls", "nowhere"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-file-urls nowhere: not a folder"),
        "{out:?}"
    );
}
