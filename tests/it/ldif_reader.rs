//! The LDIF reader's handling of malformed input, URLs, line ends and streaming, through
//! the public `Source` interface.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use roster::model::{BadRecord, Change, FieldValue, ModKind, RawRecord, RawText};
use roster::source::ldif::LdifSource;
use roster::source::{Source, SourceError, SourceItem, SourceOptions};

fn source(text: &[u8], dir: Option<&Path>, opts: &SourceOptions) -> LdifSource {
    LdifSource::from_reader(
        io::Cursor::new(text.to_vec()),
        "in.ldif",
        dir.map(Path::to_path_buf),
        opts,
    )
}

fn read_with(text: &[u8], dir: Option<&Path>, opts: &SourceOptions) -> Vec<SourceItem> {
    let mut src = source(text, dir, opts);
    let mut items = Vec::new();
    while let Some(i) = src.next_item().unwrap() {
        items.push(i);
    }
    items
}

fn read(text: &str) -> Vec<SourceItem> {
    read_with(text.as_bytes(), None, &SourceOptions::default())
}

fn rec(item: &SourceItem) -> &RawRecord {
    match item {
        SourceItem::Record(r) => r,
        SourceItem::Bad(b) => panic!("expected a record, got {b:#?}"),
    }
}

fn bad(item: &SourceItem) -> &BadRecord {
    match item {
        SourceItem::Bad(b) => b,
        SourceItem::Record(r) => panic!("expected a bad record, got {r:#?}"),
    }
}

fn reason(item: &SourceItem) -> String {
    roster::model::problems_text(&bad(item).problems)
}

fn vals(r: &RawRecord, name: &str) -> Vec<String> {
    r.attrs
        .get(name)
        .unwrap()
        .iter()
        .map(|v| v.text().expect("text").to_owned())
        .collect()
}

const GOOD: &str = "dn: uid=next,dc=x\nuid: next\n";

/// Each malformed record is one Bad item with its line; the next record is read.
fn assert_bad_then_good(text: &str, origin_line: u64, want: &str) {
    let input = format!("{text}\n{GOOD}");
    let items = read(&input);
    assert_eq!(items.len(), 2, "{input}\n{items:#?}");
    let b = bad(&items[0]);
    assert_eq!(
        b.origin.as_str(),
        format!("in.ldif:{origin_line}"),
        "{input}"
    );
    let r = reason(&items[0]);
    assert!(r.contains(want), "{input}\nwanted {want:?} in {r:?}");
    assert_eq!(b.raw, RawText::Text(text.to_string()));
    assert_eq!(vals(rec(&items[1]), "uid"), ["next"]);
}

#[test]
fn malformed_records_are_reported_and_reading_goes_on() {
    assert_bad_then_good(
        "dn: uid=a,dc=x\nuid: a\nthis line has none\n",
        1,
        "line 3: no colon in this line",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nsn:: ****\n",
        1,
        "sn: line 2: base64 value does not decode",
    );
    assert_bad_then_good(
        "uid: a\nsn: b\n",
        1,
        "line 1: attribute line before any dn: line",
    );
    assert_bad_then_good(
        " folded\ndn: uid=a,dc=x\nuid: a\n",
        1,
        "line 1: continuation line",
    );
    assert_bad_then_good(
        "# c\ndn: uid=a,dc=x\nchangetype: rename\n",
        2,
        "line 3: unknown changetype",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: modify\nreplace: mail\nmail: a@x\nsn: b\n-\n",
        1,
        "line 5: attribute sn does not match the 'replace: mail' section of line 3",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: modify\nreplace: mail\nmail: a@x\nadd: sn\nsn: b\n-\n",
        1,
        "line 5: missing '-' before this line to end the 'replace: mail' section of line 3",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: modify\n-\n",
        1,
        "line 3: '-' with no add:, delete:, replace: or increment: section",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: modify\nmail: a@x\n",
        1,
        "line 3: expected add:, delete:, replace: or increment: in a modify record, found mail:",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: delete\nuid: a\n",
        1,
        "line 3: a changetype delete record takes no further lines",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nuid: a\ndn: uid=b,dc=x\nuid: b\n",
        1,
        "line 3: a second dn: inside one record",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nuid: a\nchangetype: add\n",
        1,
        "line 3: changetype: must come right after the dn: line",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\ncontrol: 1.2.3 true\nuid: a\n",
        1,
        "line 2: control: is only allowed in a change record",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nui d: a\n",
        1,
        "line 2: invalid attribute name",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nuid: a\n-\n",
        1,
        "'-' is only valid between the sections of a modify record",
    );
    assert_bad_then_good("dn: uid=a,,dc=x\nuid: a\n", 1, "dn: invalid DN");
    assert_bad_then_good(
        "dn: uid=a\\?,dc=x\nuid: a\n",
        1,
        "invalid escape in the value of uid",
    );
    assert_bad_then_good(
        "dn:: /w==\nuid: a\n",
        1,
        "dn: line 1: DN is not valid UTF-8",
    );
    assert_bad_then_good(
        "dn:< file:///etc/hostname\nuid: a\n",
        1,
        "a DN cannot be given as a URL",
    );
    assert_bad_then_good("dn: uid=a,dc=x\n", 1, "entry has no attributes");
    assert_bad_then_good(
        "dn: uid=a,dc=x\nuid: a\u{0}b\n",
        1,
        "uid: line 2: value contains a NUL or CR byte",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: modrdn\nnewrdn: uid=b\ndeleteoldrdn: 1\n",
        1,
        "changetype modrdn is not supported",
    );
    assert_bad_then_good(
        "dn: uid=a,dc=x\nchangetype: moddn\nnewrdn: uid=b\ndeleteoldrdn: 1\n",
        1,
        "changetype moddn is not supported",
    );
}

#[test]
fn several_problems_of_one_record_are_all_reported() {
    let items = read("dn: uid=a,dc=x\nsn:: ***\nmail:< http://example.com/x\n");
    let b = bad(&items[0]);
    assert_eq!(b.problems.len(), 2);
    assert_eq!(b.problems[0].field.as_deref(), Some("sn"));
    assert_eq!(b.problems[1].field.as_deref(), Some("mail"));
    assert!(
        b.problems[1]
            .reason
            .contains("unsupported URL scheme 'http:'")
    );
}

#[test]
fn error_messages_do_not_quote_values() {
    let items = read("dn: uid=a,dc=x\nuserPassword:: c2VjcmV0!!\nuserPassword: x\u{0}hunter2\n");
    let r = reason(&items[0]);
    assert!(r.contains("userPassword"), "{r}");
    assert!(!r.contains("c2VjcmV0") && !r.contains("hunter2"), "{r}");
    // A line that lost its continuation space is not echoed either.
    let items = read("dn: uid=a,dc=x\nuserPassword:: c2Vjc\nmV0aHVudGVyMg==\n");
    assert!(!reason(&items[0]).contains("mV0aHVudGVy"));
}

#[test]
fn crlf_and_lf_read_the_same() {
    let lf = "version: 1\n# c\ndn: cn=A B,dc=x\ncn: A B\ndescription: folded\n  value\n\ndn: cn=C,dc=x\ncn:: w6k=\n";
    let crlf = lf.replace('\n', "\r\n");
    let a = read(lf);
    let b = read(&crlf);
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    assert_eq!(vals(rec(&a[0]), "description"), ["folded value"]);
    assert_eq!(vals(rec(&a[1]), "cn"), ["é"]);
    assert_eq!(
        rec(&b[0]).raw,
        RawText::Text("# c\ndn: cn=A B,dc=x\ncn: A B\ndescription: folded\n  value\n".into())
    );
    // A value that really ends in CR must be base64; a bare CR inside a line is refused.
    let items = read("dn: cn=C,dc=x\ncn: a\rb\n");
    assert!(reason(&items[0]).contains("NUL or CR"));
}

#[test]
fn values_options_and_rdn_attributes() {
    let items = read(concat!(
        "dn: cn=Ann Smith+employeeNumber=42,ou=People,dc=x\n",
        "CN;lang-de: Anna\n",
        "mail:    ann@x\n",
        "sn: Smith \n",
        "empty:\n",
        "photo:: AP8=\n",
        "uid::dGV4dA==\n",
        "# comment\n",
        "#  folded comment\n",
        " continued\n",
        "objectClass: person\n",
    ));
    let r = rec(&items[0]);
    assert_eq!(
        r.dn.as_deref(),
        Some("cn=Ann Smith+employeeNumber=42,ou=People,dc=x")
    );
    assert_eq!(r.change, Change::Entry);
    assert_eq!(vals(r, "cn;LANG-DE"), ["Anna"]);
    assert_eq!(vals(r, "mail"), ["ann@x"]); // FILL spaces dropped
    assert_eq!(vals(r, "sn"), ["Smith "]); // trailing space kept
    assert_eq!(vals(r, "empty"), [""]);
    assert_eq!(
        r.attrs.get("photo").unwrap(),
        &[FieldValue::Binary(vec![0, 0xff])]
    );
    assert_eq!(vals(r, "uid"), ["text"]);
    // Both RDN values join the entry; cn;lang-de is not cn.
    assert_eq!(vals(r, "cn"), ["Ann Smith"]);
    assert_eq!(vals(r, "employeeNumber"), ["42"]);
    assert_eq!(
        r.attrs.names().collect::<Vec<_>>(),
        [
            "CN;lang-de",
            "mail",
            "sn",
            "empty",
            "photo",
            "uid",
            "objectClass",
            "cn",
            "employeeNumber"
        ]
    );
}

#[test]
fn rdn_value_does_not_override_the_entry() {
    let items = read("dn: uid=alice,dc=x\nUID: alice2\n");
    assert_eq!(vals(rec(&items[0]), "uid"), ["alice2"]);
}

#[test]
fn base64_dn_and_escaped_rdn() {
    // "uid=Zoë\, Jr.,dc=x" as base64.
    let items = read("dn:: dWlkPVpvw6tcLCBKci4sZGM9eA==\nsn: Z\n");
    let r = rec(&items[0]);
    assert_eq!(r.dn.as_deref(), Some("uid=Zoë\\, Jr.,dc=x"));
    assert_eq!(vals(r, "uid"), ["Zoë, Jr."]);
}

#[test]
fn change_records() {
    let items = read(concat!(
        "version: 1\n\n",
        "dn: uid=bob,ou=People,dc=x\n",
        "changetype: modify\n",
        "replace: mail\n",
        "mail: bob@new\n",
        "-\n",
        "add: employeeType\n",
        "employeeType: admin\n",
        "employeeType: user\n",
        "-\n",
        "delete: title\n",
        "-\n\n",
        "dn: uid=carol,dc=x\n",
        "control: 1.2.840.113556.1.4.805 true\n",
        "changetype: DELETE\n\n",
        "dn: uid=dave,dc=x\n",
        "changetype: add\n",
        "cn: Dave\n",
    ));
    assert_eq!(items.len(), 3);
    let m = rec(&items[0]);
    assert_eq!(m.origin.as_str(), "in.ldif:3");
    let Change::Modify(ops) = &m.change else {
        panic!()
    };
    assert_eq!(
        ops.iter()
            .map(|o| (o.kind, o.attr.as_str(), o.values.len()))
            .collect::<Vec<_>>(),
        [
            (ModKind::Replace, "mail", 1),
            (ModKind::Add, "employeeType", 2),
            (ModKind::Delete, "title", 0)
        ]
    );
    assert_eq!(
        m.attrs.names().collect::<Vec<_>>(),
        ["uid", "mail", "employeeType"]
    );
    assert_eq!(vals(m, "uid"), ["bob"]);
    let d = rec(&items[1]);
    assert_eq!(d.change, Change::Delete);
    assert_eq!(vals(d, "uid"), ["carol"]);
    let a = rec(&items[2]);
    assert_eq!(a.change, Change::Entry);
    assert_eq!(a.attrs.names().collect::<Vec<_>>(), ["cn", "uid"]);
}

#[test]
fn a_stray_blank_line_never_truncates_silently() {
    // The second half starts with a continuation line.
    let items =
        read("dn: uid=a,dc=x\ndescription: long\n\n value\nmail: a@x\n\ndn: uid=b,dc=x\nuid: b\n");
    assert_eq!(items.len(), 3);
    assert!(reason(&items[0]).contains("record continues after a blank line at line 3"));
    assert!(reason(&items[1]).contains("line 4: continuation line"));
    assert_eq!(bad(&items[1]).origin.as_str(), "in.ldif:4");
    rec(&items[2]);
    // A comment-only block in between does not hide it; two orphan blocks in a row are two
    // Bad items but the record is marked once.
    let items = read("dn: uid=a,dc=x\nuid: a\n\n# note\n\nmail: a@x\n\nsn: b\n");
    assert_eq!(items.len(), 3);
    assert_eq!(bad(&items[0]).problems.len(), 1);
    assert!(reason(&items[0]).contains("blank line at line 3 (lines 6-6 have no dn:"));
    assert!(reason(&items[2]).contains("line 8: attribute line before any dn:"));
    // A bad record cut by a blank line gets both problems.
    let items = read("dn: uid=a,dc=x\nsn:: %%\n\nmail: a@x\n");
    assert_eq!(bad(&items[0]).problems.len(), 2);
}

#[test]
fn version_lines() {
    assert!(read("version: 1\n").is_empty());
    assert!(read("# only a comment\n\n\n").is_empty());
    assert!(read("").is_empty());
    let items = read("version: 2\ndn: uid=a,dc=x\nuid: a\n");
    assert_eq!(items.len(), 2);
    assert_eq!(bad(&items[0]).problems[0].field.as_deref(), Some("version"));
    assert_eq!(
        rec(&items[1]).raw,
        RawText::Text("dn: uid=a,dc=x\nuid: a\n".into())
    );
    // Concatenated files: a second version: line is a warning, not a cut record.
    let mut src = source(
        b"version: 1\n\ndn: uid=a,dc=x\nuid: a\n\nversion: 1\n\ndn: uid=b,dc=x\nuid: b",
        None,
        &SourceOptions::default(),
    );
    let mut n = 0;
    while let Some(item) = src.next_item().unwrap() {
        rec(&item);
        n += 1;
    }
    assert_eq!(n, 2);
    let w = src.take_warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("in.ldif:6: version: line in the middle"),
        "{w:?}"
    );
}

// ----- file: URLs

fn photo_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let sub = tmp.path().join("ldif dir");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("me.jpg"), [0xffu8, 0xd8, 0, 1]).unwrap();
    std::fs::write(sub.join("note.txt"), "hello").unwrap();
    (tmp, sub)
}

/// Options that let URLs read from `dir`.
fn allow(dir: &Path) -> SourceOptions {
    SourceOptions {
        allow_file_urls: Some(dir.to_path_buf()),
        ..SourceOptions::default()
    }
}

fn url_item(url: &str, dir: Option<&Path>, opts: &SourceOptions) -> SourceItem {
    let text = format!("dn: uid=a,dc=x\njpegPhoto:< {url}\n");
    let mut items = read_with(text.as_bytes(), dir, opts);
    assert_eq!(items.len(), 1);
    items.remove(0)
}

#[test]
fn file_urls() {
    let (_tmp, dir) = photo_dir();
    let opts = allow(&dir);
    let photo = vec![0xffu8, 0xd8, 0, 1];
    let abs = dir.join("me.jpg");
    let escaped = abs.display().to_string().replace(' ', "%20");
    for url in [
        format!("file://{escaped}"),
        format!("FILE://localhost{escaped}"),
        format!("file:{escaped}"),
        "file:me.jpg".to_string(),
        "file:./me.jpg".to_string(),
    ] {
        let item = url_item(&url, Some(&dir), &opts);
        assert_eq!(
            rec(&item).attrs.get("jpegPhoto").unwrap(),
            &[FieldValue::Binary(photo.clone())],
            "{url}"
        );
    }
    // A photo is bytes, whatever they look like.
    let item = url_item("file:note.txt", Some(&dir), &opts);
    assert_eq!(
        rec(&item).attrs.get("jpegPhoto").unwrap(),
        &[FieldValue::Binary(b"hello".to_vec())]
    );

    let cases = [
        (
            "http://example.com/me.jpg",
            "unsupported URL scheme 'http:'",
        ),
        ("me.jpg", "is not a URL"),
        ("file://./me.jpg", "file URL names host '.'"),
        ("file://server/share/me.jpg", "file URL names host 'server'"),
        ("file:missing.jpg", "file not found: "),
        ("file:", "has no path"),
        ("file:.", "is not a regular file"),
    ];
    for (url, want) in cases {
        let item = url_item(url, Some(&dir), &opts);
        let b = bad(&item);
        assert_eq!(b.problems[0].field.as_deref(), Some("jpegPhoto"));
        assert!(
            b.problems[0].reason.starts_with("line 2: "),
            "{url}: {:?}",
            b.problems
        );
        assert!(
            b.problems[0].reason.contains(want),
            "{url}: {:?}",
            b.problems
        );
    }
}

/// Without `allow_file_urls` no URL is read; with it, only inside the folder.
#[test]
fn file_urls_need_an_allowed_folder() {
    let (tmp, dir) = photo_dir();
    std::fs::write(tmp.path().join("outside.txt"), "secret").unwrap();
    std::os::unix::fs::symlink("../outside.txt", dir.join("out.txt")).unwrap();
    let abs = dir.join("me.jpg").display().to_string().replace(' ', "%20");
    for url in [format!("file://{abs}"), "file:me.jpg".into()] {
        let item = url_item(&url, Some(&dir), &SourceOptions::default());
        assert_eq!(
            reason(&item),
            "jpegPhoto: line 2: file:// URLs are refused; use --allow-file-urls DIR"
        );
    }
    for url in ["file:../outside.txt", "file:out.txt"] {
        let item = url_item(url, Some(&dir), &allow(&dir));
        assert!(
            reason(&item).contains("is outside the --allow-file-urls folder"),
            "{url}: {}",
            reason(&item)
        );
        assert!(!reason(&item).contains("secret"));
        // The same file is read when its own folder is allowed.
        let item = url_item(url, Some(&dir), &allow(tmp.path()));
        assert_eq!(
            rec(&item).attrs.get("jpegPhoto").unwrap()[0].bytes(),
            b"secret"
        );
        assert_eq!(rec(&item).url_values, ["secret"]);
    }
    // Whether a file outside the folder exists is not told.
    let item = url_item("file:../missing.txt", Some(&dir), &allow(&dir));
    assert!(
        reason(&item).contains("is outside the --allow-file-urls folder"),
        "{}",
        reason(&item)
    );
    // A folder that cannot be resolved refuses every URL, per record.
    let item = url_item("file:me.jpg", Some(&dir), &allow(&dir.join("nope")));
    assert!(
        reason(&item).contains("cannot resolve it"),
        "{}",
        reason(&item)
    );
}

#[test]
fn file_urls_are_size_capped() {
    let (_tmp, dir) = photo_dir();
    let opts = SourceOptions {
        url_max_bytes: Some(4),
        ..allow(&dir)
    };
    rec(&url_item("file:me.jpg", Some(&dir), &opts)); // exactly 4 bytes
    let item = url_item("file:note.txt", Some(&dir), &opts);
    assert!(
        reason(&item).contains("is larger than the 4-byte limit"),
        "{}",
        reason(&item)
    );
    // The default cap is 1 MiB.
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![7u8; (1 << 20) + 1]).unwrap();
    let item = url_item("file:big.bin", Some(&dir), &allow(&dir));
    assert!(reason(&item).contains("is larger than the 1048576-byte limit"));
    std::fs::write(&big, vec![7u8; 1 << 20]).unwrap();
    let item = url_item("file:big.bin", Some(&dir), &allow(&dir));
    assert_eq!(
        rec(&item).attrs.get("jpegPhoto").unwrap()[0].bytes().len(),
        1 << 20
    );
}

#[test]
fn open_resolves_relative_urls_against_the_file_directory() {
    let (_tmp, dir) = photo_dir();
    let path = dir.join("people.ldif");
    std::fs::write(&path, "dn: uid=a,dc=x\njpegPhoto:< file:me.jpg\n").unwrap();
    let spec = path.to_str().unwrap();
    let mut src = LdifSource::open(spec, &allow(&dir)).unwrap();
    assert_eq!(src.describe(), spec);
    let item = src.next_item().unwrap().unwrap();
    let r = rec(&item);
    assert_eq!(r.origin.as_str(), format!("{spec}:1"));
    assert_eq!(
        r.attrs.get("jpegPhoto").unwrap()[0].bytes(),
        &[0xff, 0xd8, 0, 1]
    );
    assert!(src.next_item().unwrap().is_none());
    assert!(src.next_item().unwrap().is_none());

    // Through the generic opener, by extension.
    let mut src = roster::source::open(spec, &allow(&dir)).unwrap();
    assert_eq!(src.format(), roster::source::Format::Ldif);
    assert!(matches!(
        src.next_item().unwrap(),
        Some(SourceItem::Record(_))
    ));

    let missing = dir.join("missing.ldif");
    assert!(matches!(
        LdifSource::open(missing.to_str().unwrap(), &SourceOptions::default()),
        Err(SourceError::Io { .. })
    ));
}

// ----- streaming

/// Gives `data`, then fails: records before the failure must come out first.
struct ThenFail {
    data: io::Cursor<Vec<u8>>,
}

impl Read for ThenFail {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn records_stream_out_before_the_input_ends() {
    let data = b"dn: uid=a,dc=x\nuid: a\n\ndn: uid=b,dc=x\nuid: b\n\n".to_vec();
    let mut src = LdifSource::from_reader(
        ThenFail {
            data: io::Cursor::new(data),
        },
        "s",
        None,
        &SourceOptions::default(),
    );
    assert_eq!(vals(rec(&src.next_item().unwrap().unwrap()), "uid"), ["a"]);
    // b is held until the next block shows it was not cut; that read fails: fatal.
    let err = src.next_item().unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

/// An endless generator of records, to show memory does not depend on input size.
struct Endless {
    n: u64,
    pending: Vec<u8>,
    pos: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.pending.len() {
            self.n += 1;
            self.pending =
                format!("dn: uid=u{0},dc=x\nuid: u{0}\nmail: u{0}@x\n\n", self.n).into_bytes();
            self.pos = 0;
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn reads_an_endless_input_one_record_at_a_time() {
    let mut src = LdifSource::from_reader(
        Endless {
            n: 0,
            pending: Vec::new(),
            pos: 0,
        },
        "gen",
        None,
        &SourceOptions::default(),
    );
    for i in 1..=20_000u64 {
        let item = src.next_item().unwrap().unwrap();
        assert_eq!(vals(rec(&item), "uid"), [format!("u{i}")]);
    }
}

/// One huge line (more than the 64 MiB record cap), generated on the fly.
struct Huge {
    left: u64,
    tail: io::Cursor<Vec<u8>>,
    head: io::Cursor<Vec<u8>>,
}

impl Read for Huge {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if self.left > 0 {
            let n = (buf.len() as u64).min(self.left) as usize;
            buf[..n].fill(b'A');
            self.left -= n as u64;
            return Ok(n);
        }
        self.tail.read(buf)
    }
}

#[test]
fn an_oversized_record_is_skipped_and_reported() {
    let huge = Huge {
        head: io::Cursor::new(b"dn: uid=big,dc=x\ndescription:: ".to_vec()),
        left: 9 << 20,
        tail: io::Cursor::new(b"\n more\nsn: x\n\ndn: uid=ok,dc=x\nuid: ok\n".to_vec()),
    };
    let mut src = LdifSource::from_reader(huge, "h", None, &SourceOptions::default());
    let first = src.next_item().unwrap().unwrap();
    let b = bad(&first);
    assert_eq!(b.origin.as_str(), "h:1");
    assert_eq!(b.raw, RawText::None);
    assert!(
        reason(&first)
            .contains("record of lines 1-4 is larger than 8 MiB (--max-record-size); skipped"),
        "{}",
        reason(&first)
    );
    assert_eq!(vals(rec(&src.next_item().unwrap().unwrap()), "uid"), ["ok"]);
    assert!(src.next_item().unwrap().is_none());
    // The cap is an option.
    let opts = SourceOptions {
        max_record_bytes: Some(100),
        ..SourceOptions::default()
    };
    let text = format!(
        "dn: uid=a,dc=x\nuid: a\n\ndn: uid=b,dc=x\ndescription: {}\n\ndn: uid=c,dc=x\nuid: c\n",
        "d".repeat(200)
    );
    let mut src = LdifSource::from_reader(io::Cursor::new(text), "s", None, &opts);
    let items: Vec<SourceItem> = std::iter::from_fn(|| src.next_item().unwrap()).collect();
    assert_eq!(items.len(), 3);
    assert_eq!(vals(rec(&items[0]), "uid"), ["a"]);
    assert!(
        reason(&items[1]).contains("record of lines 4-5 is larger than 100 bytes"),
        "{}",
        reason(&items[1])
    );
    assert_eq!(vals(rec(&items[2]), "uid"), ["c"]);
}

// ----- byte order mark (issue 12, item 11)

/// Gives its bytes one at a time: a byte order mark arrives in three reads.
struct OneByte(io::Cursor<Vec<u8>>);

impl Read for OneByte {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

fn uids(items: &[SourceItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| String::from_utf8(rec(i).attrs.get("uid").unwrap()[0].bytes().to_vec()).unwrap())
        .collect()
}

#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    // Windows editors start UTF-8 files with one; the CSV reader skips it too.
    let two = "dn: uid=a,dc=x\nuid: a\n\ndn: uid=b,dc=x\nuid: b\n";
    for text in [
        format!("\u{FEFF}{two}"),
        format!("\u{FEFF}version: 1\n{two}"),
        format!("\u{FEFF}# exported\n{two}"),
        format!("\u{FEFF}\n\n{two}"),
        format!("\u{FEFF}{}", two.replace('\n', "\r\n")),
    ] {
        let items = read(&text);
        assert_eq!(uids(&items), ["a", "b"], "{text:?}: {items:#?}");
        let first = rec(&items[0]);
        let line = if text.starts_with("\u{FEFF}\n") {
            3
        } else if text.contains("version:") || text.contains("# exported") {
            2
        } else {
            1
        };
        assert_eq!(first.origin.as_str(), format!("in.ldif:{line}"), "{text:?}");
        assert!(
            matches!(&first.raw, RawText::Text(t) if !t.contains('\u{FEFF}')),
            "{text:?}"
        );

        // The same when the mark arrives a byte at a time.
        let mut src = LdifSource::from_reader(
            OneByte(io::Cursor::new(text.clone().into_bytes())),
            "in.ldif",
            None,
            &SourceOptions::default(),
        );
        let mut slow = Vec::new();
        while let Some(i) = src.next_item().unwrap() {
            slow.push(i);
        }
        assert_eq!(slow, items, "{text:?}");
    }
}

#[test]
fn a_byte_order_mark_between_concatenated_files_is_skipped_with_a_warning() {
    let text = "\u{FEFF}dn: uid=a,dc=x\nuid: a\n\n\u{FEFF}dn: uid=b,dc=x\nuid: b\n";
    let mut src = source(text.as_bytes(), None, &SourceOptions::default());
    let mut items = Vec::new();
    while let Some(i) = src.next_item().unwrap() {
        items.push(i);
    }
    assert_eq!(uids(&items), ["a", "b"], "{items:#?}");
    let warnings = src.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("in.ldif:4") && warnings[0].contains("byte order mark"),
        "{warnings:?}"
    );
}

#[test]
fn a_byte_order_mark_inside_a_record_is_named() {
    // No blank line before it: the second file's dn: line continues the first record.
    let items = read("dn: uid=a,dc=x\nuid: a\n\u{FEFF}dn: uid=b,dc=x\nuid: b\n");
    assert_eq!(items.len(), 1, "{items:#?}");
    let r = reason(&items[0]);
    assert!(r.contains("line 3") && r.contains("byte order mark"), "{r}");
}

// ----- many attributes (issue 12, item 8)

/// The attributes `Attrs` should hold for these lines: names merged ignoring ASCII case,
/// first spelling and first position kept, values in file order. The obvious quadratic way.
fn merged(lines: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (n, v) in lines {
        match out.iter_mut().find(|(m, _)| m.eq_ignore_ascii_case(n)) {
            Some((_, vs)) => vs.push(v.clone()),
            None => out.push((n.clone(), vec![v.clone()])),
        }
    }
    out
}

fn attrs_of(r: &RawRecord) -> Vec<(String, Vec<String>)> {
    r.attrs
        .0
        .iter()
        .map(|(n, vs)| {
            (
                n.to_string(),
                vs.iter()
                    .map(|v| String::from_utf8(v.bytes().to_vec()).unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// `n` distinct names, short so the record stays small (4 bytes each at most).
fn short_name(i: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
    // First character a letter; the rest from the whole set, lower case only so that names
    // stay distinct ignoring case.
    let lower: Vec<u8> = A
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_uppercase())
        .collect();
    let mut s = vec![A[i % 26]];
    let mut n = i / 26;
    while n > 0 {
        s.push(lower[n % lower.len()]);
        n /= lower.len();
    }
    match String::from_utf8(s).unwrap() {
        // Not a name an attribute line may have; '.' makes it one no other i gives.
        dn if dn == "dn" => "dn.".into(),
        s => s,
    }
}

/// A record with 300,000 distinct attributes: read in a second or so even in a debug build,
/// where a search through the attributes for each line would take many minutes; the
/// suite's own run time shows a regression. Names repeated far apart, in another case,
/// still merge into the first.
#[test]
fn a_record_with_300k_attributes_is_read_in_linear_time() {
    const N: usize = 300_000;
    // The RDN's attribute has a longer name than any generated one.
    let mut text = String::from("dn: userid=big,dc=x\n");
    let mut want = Vec::with_capacity(N + 1);
    for i in 0..N {
        let n = short_name(i);
        text.push_str(&format!("{n}: v\n"));
        want.push((n, vec!["v".to_string()]));
    }
    text.push_str(&format!("{}: again\n", short_name(0).to_ascii_uppercase()));
    text.push_str(&format!(
        "{}: last\n",
        short_name(N - 1).to_ascii_uppercase()
    ));
    want[0].1.push("again".into());
    want[N - 1].1.push("last".into());
    want.push(("userid".into(), vec!["big".into()]));
    let items = read(&text);
    assert_eq!(items.len(), 1);
    let got = attrs_of(rec(&items[0]));
    assert_eq!(got.len(), N + 1);
    assert!(got == want, "not the {} attributes expected", N + 1);

    // A modify record with as many sections.
    let mut text = String::from("dn: userid=big,dc=x\nchangetype: modify\n");
    for i in 0..N {
        let n = short_name(i);
        text.push_str(&format!("replace: {n}\n{n}: v\n-\n"));
    }
    let items = read(&text);
    let r = rec(&items[0]);
    assert!(matches!(&r.change, Change::Modify(ops) if ops.len() == N));
    assert_eq!(r.attrs.len(), N + 1);
}

proptest::proptest! {
    #![proptest_config(crate::support::cases(256))]

    /// Any mix of names (few enough to repeat, many enough to pass any small-record fast
    /// path), in any case: the same attributes as the obvious merge.
    #[test]
    fn attributes_merge_by_name_ignoring_case(
        picks in proptest::collection::vec((0usize..60, proptest::bool::ANY, 0u8..3), 1..400),
    ) {
        let lines: Vec<(String, String)> = picks
            .iter()
            .enumerate()
            .map(|(j, &(i, upper, opt))| {
                let mut n = format!("{}{}", short_name(i), ["", ";lang-de", ";binary"][opt as usize]);
                if upper {
                    n = n.to_ascii_uppercase();
                }
                (n, format!("v{j}"))
            })
            .collect();
        let mut text = String::from("dn: x=1,dc=x\n");
        for (n, v) in &lines {
            text.push_str(&format!("{n}: {v}\n"));
        }
        let items = read(&text);
        let got = attrs_of(rec(&items[0]));
        let mut want = merged(&lines);
        // The RDN's attribute joins when the entry lacks it.
        if !want.iter().any(|(n, _)| n.eq_ignore_ascii_case("x")) {
            want.push(("x".into(), vec!["1".into()]));
        }
        proptest::prop_assert_eq!(got, want);
    }
}

#[test]
fn the_size_cap_holds_at_its_boundary_whatever_the_line_end() {
    // The record is "dn: uid=a\nuid: a" without its final line end: 16 bytes.
    for eol in ["\n", "\r\n"] {
        let text = format!("dn: uid=a{eol}uid: a{eol}{eol}dn: uid=b{eol}uid: b{eol}");
        for (cap, fits) in [(16, true), (15, false)] {
            let opts = SourceOptions {
                max_record_bytes: Some(cap),
                ..SourceOptions::default()
            };
            let mut src = LdifSource::from_reader(io::Cursor::new(text.clone()), "s", None, &opts);
            let first = src.next_item().unwrap().unwrap();
            assert_eq!(
                matches!(first, SourceItem::Record(_)),
                fits,
                "cap {cap}, {eol:?}: {first:?}"
            );
        }
    }
}
