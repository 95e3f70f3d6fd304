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
