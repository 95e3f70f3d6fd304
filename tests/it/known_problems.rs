//! Nightly runs that meet the same bad HR rows every night (issue 17): the `--state`
//! ledger remembers the rows a sync rejected or failed, the summary tells new problems
//! from known ones, and `--fail-on new` exits 1 only for new ones.

use crate::support::{Ran, as_importer, rocketchat, roster, users_csv, write};
use serde_json::Value;

fn night(dir: &std::path::Path, url: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "sync",
        "hr.csv",
        "--server",
        url,
        "--state",
        "state.jsonl",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = roster(dir, &args, &as_importer());
    let summary = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.code(), summary)
}

#[test]
fn fail_on_new_alerts_only_on_new_problems() {
    let sb = rocketchat();
    let d = tempfile::tempdir().unwrap();
    let url = sb.url();
    let bad = "bad.one,not-an-email,Bad One,Pw-bad-one-long\n";
    write(d.path(), "hr.csv", &(users_csv(5) + bad));
    let (code, s) = night(d.path(), &url, &["--fail-on", "new"]);
    assert_eq!(code, 1, "a first problem is new: {s}");
    assert_eq!(s["problems"], serde_json::json!({"new": 1, "known": 0}));
    // The same bad row the next night: known, exit 0 under --fail-on new, 1 by default.
    let (code, s) = night(d.path(), &url, &["--fail-on", "new"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["problems"], serde_json::json!({"new": 0, "known": 1}));
    assert_eq!(s["rejected"], 1);
    let (code, s) = night(d.path(), &url, &[]);
    assert_eq!(code, 1, "--fail-on any is the default: {s}");
    assert_eq!(s["problems"], serde_json::json!({"new": 0, "known": 1}));
    // A second bad row, and the first one's error changes: both new.
    let worse = "bad.one,still@bad@example.org,Bad One,Pw-bad-one-long\n\
                 bad.two,,Bad Two,Pw-bad-two-long\n";
    write(d.path(), "hr.csv", &(users_csv(5) + worse));
    let (code, s) = night(d.path(), &url, &["--fail-on", "new"]);
    assert_eq!(code, 1, "{s}");
    assert_eq!(s["problems"], serde_json::json!({"new": 2, "known": 0}));
    // The job file says it too.
    write(d.path(), "job.toml", "[sync]\nfail_on = \"new\"\n");
    let (code, s) = night(d.path(), &url, &["--config", "job.toml"]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["problems"], serde_json::json!({"new": 0, "known": 2}));
}

#[test]
fn fail_on_new_needs_a_ledger() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "hr.csv", &users_csv(2));
    let o = roster(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            "http://127.0.0.1:9",
            "--fail-on",
            "new",
        ],
        &as_importer(),
    );
    assert_eq!(o.code(), 2, "{}", o.stderr());
    assert!(o.stderr().contains("--state"), "{}", o.stderr());
}
