//! Teams, channels and avatars as canonical fields (issue 13): mapped from a department
//! column and from LDIF photos, checked per server before any request, and carried by
//! `convert` to JSON Lines, CSV and LDIF.

use crate::support::{Ran, jsonl, roster, write};
use serde_json::Value;

/// A 1×1 PNG.
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn convert(dir: &std::path::Path, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut a = vec!["convert"];
    a.extend_from_slice(args);
    let o = roster(dir, &a, &[]);
    let out = dir.join(args[1]);
    let rows = if out.exists() && args[1].ends_with(".jsonl") {
        jsonl(&out)
    } else {
        Vec::new()
    };
    (o.code(), rows, o.stderr())
}

#[test]
fn a_department_column_becomes_teams_and_channels() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "hr.csv",
        "username,email,name,department\n\
         ann,ann@example.org,Ann Lee,Sales\n\
         bob,bob@example.org,Bob Roe,Support\n\
         cid,cid@example.org,Cid Poe,\n",
    );
    let (code, rows, err) = convert(
        d.path(),
        &[
            "hr.csv",
            "out.jsonl",
            "--map",
            "teams={department|slug}",
            "--map",
            "channels={department|slug}-news;town-square",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows[0]["teams"], serde_json::json!(["sales"]));
    assert_eq!(
        rows[0]["channels"],
        serde_json::json!(["sales-news", "town-square"])
    );
    assert_eq!(rows[1]["teams"], serde_json::json!(["support"]));
    // No department: a template whose every expression is empty gives nothing, not
    // "-news": no team, no channel.
    assert!(rows[2].get("teams").is_none(), "{}", rows[2]);
    assert!(rows[2].get("channels").is_none(), "{}", rows[2]);
    // CSV carries them as lists, in the columns after custom_fields.
    let o = roster(d.path(), &["convert", "out.jsonl", "out.csv"], &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let csv = std::fs::read_to_string(d.path().join("out.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",custom_fields,teams,channels,avatar"),
        "{csv}"
    );
    assert!(csv.contains(",sales,sales-news;town-square,"), "{csv}");
}

#[test]
fn team_and_channel_names_are_checked_per_server() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "in.csv",
        "username,email,name,teams,channels\n\
         ann,ann@example.org,Ann Lee,Sales,sales/Town-Square\n\
         bob,bob@example.org,Bob Roe,Sales Team,off topic\n\
         cid,cid@example.org,Cid Poe,x,ok__fine\n",
    );
    let validate = |profile: &str| {
        let o = roster(
            d.path(),
            &[
                "validate",
                "in.csv",
                "--profile",
                profile,
                "--rejects",
                "rej.csv",
            ],
            &[],
        );
        let rejects = std::fs::read_to_string(d.path().join("rej.csv")).unwrap_or_default();
        (o.code(), rejects)
    };
    // Mattermost lowercases names, as roster sends them: ann passes. A space is never
    // part of a name, and a team name has two characters at least.
    let (code, rej) = validate("mattermost");
    assert_eq!(code, 1, "{rej}");
    assert!(!rej.contains("\nann,"), "{rej}");
    assert!(
        rej.contains("teams: \"\"Sales Team\"\" is not a Mattermost team name"),
        "{rej}"
    );
    assert!(
        rej.contains("channels: \"\"off topic\"\" is not a Mattermost channel name"),
        "{rej}"
    );
    assert!(
        rej.contains("teams: \"\"x\"\" is not a Mattermost team name"),
        "{rej}"
    );
    // Rocket.Chat takes letters, digits, - _ . in any case, and no '/'.
    let (code, rej) = validate("rocketchat");
    assert_eq!(code, 1, "{rej}");
    assert!(
        rej.contains("channels: \"\"sales/Town-Square\"\" is not a Rocket.Chat channel name"),
        "{rej}"
    );
    assert!(
        rej.contains("\"\"Sales Team\"\" is not a Rocket.Chat team name"),
        "{rej}"
    );
    assert!(!rej.contains("\ncid,"), "{rej}");
}

#[test]
fn an_avatar_is_a_web_url_a_path_inside_the_source_folder_or_an_image() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "in.csv",
        &format!(
            "username,email,name,avatar\n\
             ann,ann@example.org,Ann Lee,https://photos.example.org/ann.png\n\
             bob,bob@example.org,Bob Roe,photos/bob.png\n\
             cid,cid@example.org,Cid Poe,file:///etc/passwd\n\
             dee,dee@example.org,Dee Fox,../../etc/passwd\n\
             eve,eve@example.org,Eve Ray,http://photos.example.org/eve.png\n\
             fay,fay@example.org,Fay Day,/etc/passwd\n\
             gus,gus@example.org,Gus Nox,\"data:image/png;base64,{PNG_B64}\"\n\
             hal,hal@example.org,Hal Orr,\"data:text/plain;base64,aGVsbG8=\"\n"
        ),
    );
    let o = roster(
        d.path(),
        &["validate", "in.csv", "--rejects", "rej.csv"],
        &[],
    );
    assert_eq!(o.code(), 1, "{}", o.stderr());
    let rej = std::fs::read_to_string(d.path().join("rej.csv")).unwrap();
    for ok in ["ann", "bob", "eve", "gus"] {
        assert!(!rej.contains(&format!("\n{ok},")), "{ok}: {rej}");
    }
    assert!(
        rej.contains("file:// is not: a file:// URL would read a local file"),
        "{rej}"
    );
    assert_eq!(
        rej.matches("a path inside the source file's folder")
            .count(),
        2,
        "{rej}"
    );
    assert!(
        rej.contains("5 bytes that are not an image both servers decode"),
        "{rej}"
    );
}

#[test]
fn an_ldif_photo_stays_an_image_through_every_format() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "in.ldif",
        &format!(
            "dn: uid=ann,ou=people,dc=example,dc=org\n\
             uid: ann\nmail: ann@example.org\ncn: Ann Lee\nsn: Lee\n\
             jpegPhoto:: {PNG_B64}\n\n\
             dn: uid=bob,ou=people,dc=example,dc=org\n\
             uid: bob\nmail: bob@example.org\ncn: Bob Roe\nsn: Roe\n\
             thumbnailPhoto:: AAECAwQFBgc=\n"
        ),
    );
    let (code, rows, err) = convert(d.path(), &["in.ldif", "out.jsonl"]);
    assert_eq!(code, 1, "bob's photo is not an image: {err}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0]["avatar"],
        format!("data:image/png;base64,{PNG_B64}")
    );
    // JSON Lines → LDIF → JSON Lines keeps the bytes.
    let o = roster(d.path(), &["convert", "out.jsonl", "back.ldif"], &[]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
    let ldif = std::fs::read_to_string(d.path().join("back.ldif")).unwrap();
    assert!(ldif.contains("jpegPhoto:: iVBORw0KGgo"), "{ldif}");
    let (code, again, err) = convert(d.path(), &["back.ldif", "again.jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(again[0]["avatar"], rows[0]["avatar"]);
}
