//! Spreadsheet formula injection: every CSV roster writes for a person to open (`convert`
//! and `export` output, `--dump`, `--report`, `--rejects`) neutralises cells that start with
//! `=`, `+`, `-`, `@`, TAB or CR with a `'` and quotes them; reading such a file back
//! undoes exactly that, so round trips are exact.

use std::path::Path;

use crate::support::write;
use crate::support::{Ran, as_importer, config, jsonl, roster, start, tmp};
use roster_sandbox::SandboxConfig;

const LINK: &str = r#"=HYPERLINK("evil.example","click")"#;

/// The cells as a spreadsheet reads them (quotes undone, nothing else).
fn cells(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let delim = if path.extension().is_some_and(|e| e == "tsv") {
        b'\t'
    } else {
        b','
    };
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// No cell starts a formula; returns every cell for further checks.
fn assert_no_formula(path: &Path) -> Vec<String> {
    let all: Vec<String> = cells(path).into_iter().flatten().collect();
    for c in &all {
        assert!(
            !c.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{}: cell {c:?} starts a formula",
            path.display()
        );
    }
    all
}

/// Valid users (generic profile) whose values look like formulas; the locale column is not
/// checked for control characters, so TAB and CR can reach the output there.
fn input() -> String {
    format!(
        "username,email,name,nickname,locale\n\
         alice,alice@example.com,\"{}\",+1,\"\tde\"\n\
         bob,bob@example.com,-2+3,@SUM(A1),\"\rfr\"\n\
         carol,carol@example.com,Carol,\"'=x\",en\n",
        LINK.replace('"', "\"\"")
    )
}

#[test]
fn convert_neutralises_formulas_and_round_trips() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "in.csv", &input());
    for (out, excel) in [("y.csv", false), ("x.csv", true), ("t.tsv", false)] {
        let mut args = vec!["convert", "in.csv", out, "--quiet"];
        if excel {
            args.push("--excel");
        }
        let r = roster(d.path(), &args, &[]);
        assert_eq!(r.code(), 0, "{}", r.stderr());
        let all = assert_no_formula(&d.path().join(out));
        for want in [
            format!("'{LINK}"),
            "'+1".into(),
            "'-2+3".into(),
            "'@SUM(A1)".into(),
            "'\tde".into(),
            "'\rfr".into(),
            // `'=x` was read as `=x` (the reader undoes one `'`), written `'=x` again.
            "'=x".into(),
        ] {
            assert!(all.contains(&want), "{out}: {want:?} in {all:?}");
        }
        // Neutralised cells are quoted.
        let text = std::fs::read_to_string(d.path().join(out)).unwrap();
        assert!(text.contains("\"'+1\""), "{text}");
    }
    // CSV → CSV → JSONL gives back the values as read from the input.
    let r = roster(d.path(), &["convert", "y.csv", "z.jsonl", "--quiet"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let z = jsonl(&d.path().join("z.jsonl"));
    let r = roster(
        d.path(),
        &["convert", "in.csv", "direct.jsonl", "--quiet"],
        &[],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(z, jsonl(&d.path().join("direct.jsonl")));
    assert_eq!(z[0]["name"], LINK);
    assert_eq!(z[0]["nickname"], "+1");
    assert_eq!(z[0]["locale"], "\tde");
    assert_eq!(z[1]["name"], "-2+3");
    assert_eq!(z[1]["nickname"], "@SUM(A1)");
    assert_eq!(z[1]["locale"], "\rfr");
    assert_eq!(z[2]["nickname"], "=x");
    // The TSV reads back the same.
    let r = roster(d.path(), &["convert", "t.tsv", "t.jsonl", "--quiet"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(z, jsonl(&d.path().join("t.jsonl")));
}

/// A value that starts with `'` before a formula keeps its own `'`: `'=x` in JSON is
/// written `''=x` and read back `'=x`.
#[test]
fn a_leading_apostrophe_survives_the_round_trip() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "in.jsonl",
        "{\"username\":\"a\",\"email\":\"a@example.com\",\"name\":\"'=x\",\"nickname\":\"'plain\"}\n",
    );
    let r = roster(d.path(), &["convert", "in.jsonl", "y.csv", "--quiet"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let all = assert_no_formula(&d.path().join("y.csv"));
    assert!(all.contains(&"''=x".to_string()), "{all:?}");
    assert!(all.contains(&"'plain".to_string()), "{all:?}");
    let r = roster(d.path(), &["convert", "y.csv", "z.jsonl", "--quiet"], &[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let z = jsonl(&d.path().join("z.jsonl"));
    assert_eq!(z[0]["name"], "'=x");
    assert_eq!(z[0]["nickname"], "'plain");
}

#[test]
fn report_and_rejects_neutralise_formulas() {
    let d = tempfile::tempdir().unwrap();
    // Rejected rows: a formula as username, a TAB or CR before a name.
    write(
        d.path(),
        "in.csv",
        &format!(
            "username,email,name\n\
             \"{}\",x@example.com,X\n\
             -1,@evil.example,\"\tTab\"\n\
             +1,y@example.com,\"\rCR\"\n\
             okay,okay@example.com,OK\n",
            LINK.replace('"', "\"\"")
        ),
    );
    let r = roster(
        d.path(),
        &[
            "validate",
            "in.csv",
            "--profile",
            "mattermost",
            "--report",
            "r.csv",
            "--rejects",
            "j.csv",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let report = assert_no_formula(&d.path().join("r.csv"));
    for want in [
        format!("'{LINK}"),
        "'-1".into(),
        "'@evil.example".into(),
        "'+1".into(),
    ] {
        assert!(report.contains(&want), "report: {want:?} in {report:?}");
    }
    let rejects = assert_no_formula(&d.path().join("j.csv"));
    for want in [
        format!("'{LINK}"),
        "'-1".into(),
        "'@evil.example".into(),
        "'\tTab".into(),
        "'\rCR".into(),
    ] {
        assert!(rejects.contains(&want), "rejects: {want:?} in {rejects:?}");
    }
    // The rejects file fed back reads the original values: the same rows, the same errors.
    let r = roster(
        d.path(),
        &[
            "validate",
            "j.csv",
            "--profile",
            "mattermost",
            "--report",
            "r2.jsonl",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let r2 = jsonl(&d.path().join("r2.jsonl"));
    let usernames: Vec<&str> = r2.iter().map(|e| e["username"].as_str().unwrap()).collect();
    assert_eq!(usernames, [LINK, "-1", "+1"]);
}

#[test]
fn dump_and_export_neutralise_formulas() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "in.csv",
        &format!(
            "username,email,name,nickname\n\
             alice,alice@example.com,\"{}\",+1\n\
             bob,bob@example.com,-2+3,@SUM(A1)\n",
            LINK.replace('"', "\"\"")
        ),
    );
    let url = sb.url();
    let r = roster(
        d.path(),
        &[
            "import",
            "in.csv",
            "--server",
            &url,
            "--random-password",
            "--dump",
            "dump.csv",
            "--report",
            "r.csv",
            "--quiet",
        ],
        &as_importer(),
    );
    assert_eq!(
        r.code(),
        0,
        "{}\n{}",
        r.stderr(),
        std::fs::read_to_string(d.path().join("r.csv")).unwrap_or_default()
    );
    let dump = assert_no_formula(&d.path().join("dump.csv"));
    for want in [
        format!("'{LINK}"),
        "'+1".into(),
        "'-2+3".into(),
        "'@SUM(A1)".into(),
    ] {
        assert!(dump.contains(&want), "dump: {want:?} in {dump:?}");
    }
    assert_no_formula(&d.path().join("r.csv"));

    let r = roster(
        d.path(),
        &[
            "export",
            "--server",
            &url,
            "-o",
            "export.csv",
            "--excel",
            "--quiet",
        ],
        &as_importer(),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let export = assert_no_formula(&d.path().join("export.csv"));
    assert!(export.contains(&format!("'{LINK}")), "{export:?}");
    assert!(export.contains(&"'@SUM(A1)".to_string()), "{export:?}");
}

/// An Excel "CSV UTF-8" export (byte order mark, CRLF, `;`) gets its rejects back in the
/// same shape, so Excel reads them as it read the input; an LF file without a BOM too.
#[test]
fn rejects_keep_the_inputs_byte_order_mark_and_line_ends() {
    let d = tmp();
    std::fs::write(
        d.path().join("excel.csv"),
        "\u{feff}username;email;name\r\nok;ok@example.com;Zoë\r\nbad user;b@example.com;Zoë\r\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("plain.csv"),
        "username,email,name\nbad user,b@example.com,Zoë\n",
    )
    .unwrap();
    for (input, want) in [
        (
            "excel.csv",
            "\u{feff}username;email;name;error\r\nbad user;b@example.com;Zoë;",
        ),
        (
            "plain.csv",
            "username,email,name,error\nbad user,b@example.com,Zoë,",
        ),
    ] {
        let r = roster(
            d.path(),
            &["validate", input, "--rejects", "fix.csv", "--quiet"],
            &[],
        );
        assert_eq!(r.code(), 1, "{}", r.stderr());
        let fix = std::fs::read_to_string(d.path().join("fix.csv")).unwrap();
        assert!(fix.starts_with(want), "{input}: {fix:?}");
        let crlf = input == "excel.csv";
        assert_eq!(fix.ends_with("\r\n"), crlf, "{input}: {fix:?}");
        assert_eq!(fix.matches('\n').count(), 2, "{input}: {fix:?}");
        std::fs::remove_file(d.path().join("fix.csv")).unwrap();
    }
}
