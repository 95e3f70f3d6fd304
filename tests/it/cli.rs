//! The command line as a whole: how it behaves at its edges.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::BIN;

/// `roster convert … - | head` ends quietly with 0 when the reader goes away, as
/// ripgrep and xsv do, instead of an error (or a panic) about a broken pipe.
#[test]
fn a_closed_pipe_is_a_quiet_success() {
    let d = tempfile::tempdir().unwrap();
    let mut csv = String::from("username,email,name\n");
    for i in 0..200_000 {
        csv.push_str(&format!("u{i},u{i}@example.org,User {i}\n"));
    }
    std::fs::write(d.path().join("big.csv"), csv).unwrap();
    let mut child = Command::new(BIN)
        .args(["convert", "big.csv", "-", "--to", "jsonl"])
        .current_dir(d.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"u0\""), "{first}");
    // The pipe closes here, with most of the output still to come.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("rror") && !stderr.contains("panick"),
        "{stderr}"
    );
}

/// `convert` only transcodes: a duplicated row is written twice, every time. (The
/// duplicate check used to be switched off after the pipeline's threads had started, so
/// a small file came out with one or two rows and exit 0 or 1, from run to run.)
#[test]
fn convert_gives_the_same_output_for_the_same_input_every_time() {
    let d = tempfile::tempdir().unwrap();
    let row = "ann,ann@example.org,Ann\n";
    std::fs::write(
        d.path().join("dup.csv"),
        format!("username,email,name\n{row}{row}"),
    )
    .unwrap();
    for run in 0..40 {
        let out = Command::new(BIN)
            .args(["convert", "dup.csv", "out.jsonl", "--quiet"])
            .current_dir(d.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {run}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read_to_string(d.path().join("out.jsonl")).unwrap();
        assert_eq!(written.lines().count(), 2, "run {run}: {written}");
    }
}

/// Completion scripts and the manual page come from the same definitions as `--help`: they
/// name the commands and options roster has, and the bash script is valid bash.
#[test]
fn completions_and_man_page_list_the_real_options() {
    let d = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["sync", "deactivate-missing", "max-record-size"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
        if shell == "bash" {
            let path = d.path().join("roster.bash");
            std::fs::write(&path, &script).unwrap();
            let ok = Command::new("bash").arg("-n").arg(&path).status().unwrap();
            assert!(ok.success(), "bash -n roster.bash");
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH roster 1"),
        "{page:.200}"
    );
    // A section per command, with its options (roff escapes the dashes).
    for word in [
        ".SH \"ROSTER SYNC\"",
        "\\-\\-deactivate\\-missing",
        ".SH \"ROSTER APPLY\"",
        "\\-\\-dry\\-run",
    ] {
        assert!(page.contains(word), "man page lacks {word}");
    }
}
