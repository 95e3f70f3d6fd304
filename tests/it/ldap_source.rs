//! The live LDAP source against a real slapd (see tests/common/slapd.rs).

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::support::slapd::{
    AD_SCHEMA, PEOPLE, PHOTO, READER_DN, READER_PW, SUFFIX, Slapd, SlapdOptions, user,
};
use roster::model::{BadRecord, Change, FieldValue, RawRecord, RawText};
use roster::secret::Secret;
use roster::source::ldap::{LdapOptions, LdapSource, LdapSourceError};
use roster::source::{Format, Source, SourceError, SourceItem};

fn reader() -> LdapOptions {
    LdapOptions {
        bind_dn: Some(READER_DN.into()),
        password: Some(Secret::new(READER_PW)),
        ..Default::default()
    }
}

fn ldap_err(e: SourceError) -> LdapSourceError {
    match e {
        SourceError::Ldap(e) => e,
        other => panic!("expected an LDAP error, got {other:?}"),
    }
}

fn open_err(url: &str, opts: &LdapOptions) -> LdapSourceError {
    match LdapSource::open(url, opts) {
        Ok(_) => panic!("open {url} succeeded"),
        Err(e) => ldap_err(e),
    }
}

struct Drained {
    records: Vec<RawRecord>,
    bad: Vec<BadRecord>,
    end: Result<(), SourceError>,
}

fn drain(src: &mut LdapSource) -> Drained {
    let mut d = Drained {
        records: Vec::new(),
        bad: Vec::new(),
        end: Ok(()),
    };
    loop {
        match src.next_item() {
            Ok(Some(SourceItem::Record(r))) => d.records.push(r),
            Ok(Some(SourceItem::Bad(b))) => d.bad.push(b),
            Ok(None) => return d,
            Err(e) => {
                d.end = Err(e);
                return d;
            }
        }
    }
}

fn text(rec: &RawRecord, attr: &str) -> Option<String> {
    rec.attrs
        .get(attr)
        .and_then(|v| v.first())
        .map(|v| v.text().expect("text").to_owned())
}

fn find<'a>(records: &'a [RawRecord], uid: &str) -> &'a RawRecord {
    records
        .iter()
        .find(|r| text(r, "uid").as_deref() == Some(uid))
        .unwrap_or_else(|| panic!("{uid} not read"))
}

#[test]
fn paging_reads_every_entry_past_the_size_limit() {
    let n = 2103;
    let slapd = Slapd::start(SlapdOptions::users(n));
    let mut src = LdapSource::open(&slapd.people_url(), &reader()).expect("open");
    assert_eq!(src.format(), Format::Ldap);
    let d = drain(&mut src);
    d.end.expect("complete read");
    assert!(d.bad.is_empty());
    assert_eq!(d.records.len(), n, "every person, exactly once");
    let dns: HashSet<&str> = d
        .records
        .iter()
        .map(|r| r.dn.as_deref().expect("dn"))
        .collect();
    assert_eq!(dns.len(), n, "all distinct");
    let expected: HashSet<String> = (0..n).map(|i| user(i).dn).collect();
    assert_eq!(
        dns,
        expected.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    for r in &d.records {
        assert_eq!(Some(r.origin.as_str()), r.dn.as_deref());
        assert_eq!(r.change, Change::Entry);
        assert_eq!(r.raw, RawText::None);
    }
    assert!(src.is_complete());
    assert_eq!(src.entries(), n as u64);
    assert_eq!(src.pages(), 5, "2103 entries in pages of 500");
    // After the end, still the end.
    assert!(src.next_item().unwrap().is_none());
    assert!(src.is_complete());
}

#[test]
fn small_pages_and_empty_results_are_complete() {
    let slapd = Slapd::start(SlapdOptions::users(20));
    let opts = LdapOptions {
        page_size: Some(7),
        ..Default::default()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &opts).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 20);
    assert_eq!(src.pages(), 3);
    assert!(src.is_complete());

    let opts = LdapOptions {
        filter: Some("(uid=nobody)".into()),
        ..Default::default()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &opts).expect("open");
    assert!(
        src.is_complete(),
        "an empty result read in open is complete"
    );
    assert!(src.next_item().unwrap().is_none());
}

#[test]
fn no_paging_fails_loudly_at_the_size_limit() {
    let slapd = Slapd::start(SlapdOptions::users(2100));
    let opts = LdapOptions {
        no_paging: true,
        ..reader()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &opts).expect("open");
    let d = drain(&mut src);
    assert_eq!(d.records.len(), 500, "the server's cap");
    let err = ldap_err(
        d.end
            .expect_err("a capped result must not end with Ok(None)"),
    );
    assert!(
        matches!(
            err,
            LdapSourceError::Incomplete {
                rc: 4,
                entries: 500,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "LDAP search stopped early: size limit exceeded (rc=4) after 500 entries; the \
             result is incomplete."
        ),
        "{msg}"
    );
    assert!(msg.contains("remove --no-paging"), "{msg}");
    assert!(!msg.contains('\n'));
    assert!(!src.is_complete());
    // Asking again gives the same error, never a quiet end.
    let again = ldap_err(src.next_item().expect_err("sticky error"));
    assert_eq!(again, err);
}

#[test]
fn a_server_cap_on_paged_searches_is_an_error_too() {
    let slapd = Slapd::start(SlapdOptions {
        users: 1300,
        limits: "sizelimit size.soft=500 size.hard=500 size.prtotal=1000".into(),
        ..Default::default()
    });
    let mut src = LdapSource::open(&slapd.people_url(), &reader()).expect("open");
    let d = drain(&mut src);
    assert!(d.records.len() < 1300);
    let err = ldap_err(d.end.expect_err("capped"));
    assert!(
        matches!(err, LdapSourceError::Incomplete { rc: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("size.prtotal"), "{err}");
    assert!(!src.is_complete());
}

#[test]
fn administrative_limit_is_an_error() {
    // size.unchecked: unindexed searches over more candidates are refused (rc=11).
    let slapd = Slapd::start(SlapdOptions {
        users: 50,
        limits: "sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited size.unchecked=20"
            .into(),
        ..Default::default()
    });
    let opts = LdapOptions {
        filter: Some("(sn=*)".into()),
        ..reader()
    };
    let err = open_err(&slapd.people_url(), &opts);
    assert!(
        matches!(err, LdapSourceError::Incomplete { rc: 11, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("administrative limit exceeded (rc=11"),
        "{err}"
    );
}

#[test]
fn non_ascii_binary_and_identity_values_arrive_intact() {
    let slapd = Slapd::start(SlapdOptions::users(8));
    // Anonymous bind: no bind DN.
    let mut src = LdapSource::open(&slapd.people_url(), &LdapOptions::default()).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 8);
    for i in 0..4 {
        let u = user(i);
        let r = find(&d.records, &u.uid);
        assert_eq!(r.dn.as_deref(), Some(u.dn.as_str()));
        assert_eq!(text(r, "cn"), Some(u.cn.clone()));
        assert_eq!(text(r, "displayName"), Some(u.cn.clone()));
        assert_eq!(text(r, "givenName"), Some(u.given_name.clone()));
        assert_eq!(text(r, "sn"), Some(u.sn.clone()));
        assert_eq!(text(r, "mail"), Some(u.mail.clone()));
        assert!(matches!(r.attrs.get("cn").unwrap()[0], FieldValue::Text(_)));
        let uuid = text(r, "entryUUID").expect("entryUUID is requested by default");
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert!(r.attrs.contains("objectClass"));
        // Anonymous may not read employeeNumber.
        assert!(!r.attrs.contains("employeeNumber"));
    }
    assert_eq!(text(find(&d.records, "user00000"), "sn").unwrap(), "Müller");
    assert_eq!(
        text(find(&d.records, "user00001"), "cn").unwrap(),
        "李 小龙 1"
    );
    assert_eq!(
        find(&d.records, "user00000")
            .attrs
            .get("jpegPhoto")
            .unwrap(),
        &[FieldValue::Binary(PHOTO.to_vec())]
    );
}

#[test]
fn simple_bind_reads_as_the_reader() {
    let slapd = Slapd::start(SlapdOptions::users(3));
    let mut src = LdapSource::open(&slapd.people_url(), &reader()).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 3);
    for i in 0..3 {
        let u = user(i);
        assert_eq!(
            text(find(&d.records, &u.uid), "employeeNumber"),
            Some(u.employee_number),
            "only bound users may read employeeNumber"
        );
    }
}

#[test]
fn wrong_password_is_a_bind_error_without_the_password() {
    let slapd = Slapd::start(SlapdOptions::users(1));
    let opts = LdapOptions {
        password: Some(Secret::new("Tr0ub4dor&3-wrong")),
        ..reader()
    };
    let err = open_err(&slapd.people_url(), &opts);
    assert!(
        matches!(err, LdapSourceError::Bind { rc: 49, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert_eq!(
        msg,
        "LDAP bind as cn=reader,dc=example,dc=org failed: invalid credentials (rc=49). \
         Check ROSTER_LDAP_PASSWORD(_FILE) and --bind-dn"
    );
    assert!(!format!("{err:?}").contains("Tr0ub4dor"));
}

#[test]
fn unreachable_server_is_a_connect_error() {
    // A port nobody listens on: bind one, then close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ldap://127.0.0.1:{port}/{PEOPLE}");
    let err = open_err(&url, &LdapOptions::default());
    assert!(matches!(err, LdapSourceError::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot connect to LDAP server 127.0.0.1:{port}: connection refused"
        )),
        "{msg}"
    );
    assert!(msg.contains("Check the host and port"), "{msg}");
}

#[test]
fn a_silent_server_times_out() {
    // The kernel completes the TCP handshake, but nobody ever answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let opts = LdapOptions {
        timeout: Some(Duration::from_secs(1)),
        ..LdapOptions::default()
    };
    let err = open_err(&format!("ldap://127.0.0.1:{port}/{PEOPLE}"), &opts);
    assert!(matches!(err, LdapSourceError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "LDAP server 127.0.0.1:{port} did not answer the bind within 1 s"
        )),
        "{err}"
    );
    drop(listener);
}

#[test]
fn unknown_base_and_bad_filter_fail_at_open() {
    let slapd = Slapd::start(SlapdOptions::users(2));
    let url = format!("{}/ou=nobody,{SUFFIX}", slapd.url());
    let err = open_err(&url, &reader());
    assert!(matches!(err, LdapSourceError::NoSuchBase { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "LDAP search base ou=nobody,dc=example,dc=org does not exist on 127.0.0.1:{} \
             (rc=32 noSuchObject; the server knows dc=example,dc=org). Check the DN in the URL \
             or --base",
            slapd.port
        )
    );

    let opts = LdapOptions {
        filter: Some("(&(uid=a)(mail=b)".into()),
        ..reader()
    };
    let err = open_err(&slapd.people_url(), &opts);
    assert!(matches!(err, LdapSourceError::Filter { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("invalid LDAP filter (&(uid=a)(mail=b): check the parentheses"),
        "{err}"
    );
}

#[test]
fn url_parts_and_overrides_drive_the_search() {
    let slapd = Slapd::start(SlapdOptions::users(30));
    // Attributes, scope and filter from the URL, percent-encoded.
    let url = format!(
        "{}/ou%3Dpeople,dc=example,dc=org?uid,mail?one?(uid=user0001%2A)",
        slapd.url()
    );
    let mut src = LdapSource::open(&url, &LdapOptions::default()).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 10, "user00010..user00019");
    let r = find(&d.records, "user00013");
    assert_eq!(text(r, "mail").as_deref(), Some("user00013@example.org"));
    assert!(!r.attrs.contains("cn"), "only the listed attributes...");
    assert!(r.attrs.contains("entryUUID"), "...plus the identity ones");

    // Options win over the URL: base scope on one entry.
    let opts = LdapOptions {
        base: Some(user(5).dn),
        scope: Some("base".into()),
        filter: Some("objectClass=*".into()),
        ..Default::default()
    };
    let mut src = LdapSource::open(&url, &opts).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 1);
    assert_eq!(d.records[0].dn.as_deref(), Some(user(5).dn.as_str()));
    assert_eq!(src.spec().filter, "(objectClass=*)");
}

#[test]
fn without_a_base_the_servers_naming_context_is_used() {
    let slapd = Slapd::start(SlapdOptions::users(4));
    let mut src = LdapSource::open(&slapd.url(), &reader()).expect("open");
    let warnings = src.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("using the server's naming context dc=example,dc=org")),
        "{warnings:?}"
    );
    let d = drain(&mut src);
    d.end.expect("complete");
    // The default filter takes people only: not the reader, the OU or the domain.
    assert_eq!(d.records.len(), 4);
    assert_eq!(
        src.describe(),
        format!("ldap://127.0.0.1:{}/{SUFFIX}", slapd.port)
    );
}

#[test]
fn ad_object_guid_and_computer_accounts() {
    let guid: [u8; 16] = [
        0xc9, 0x8b, 0x91, 0x35, 0x6d, 0x19, 0xea, 0x40, 0x97, 0x79, 0x88, 0x9d, 0x79, 0xb7, 0x53,
        0xf0,
    ];
    let mut ldif = String::new();
    ldif.push_str(&format!(
        "dn: uid=ad1,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: adObject\nuid: ad1\n\
         cn: AD One\nsn: One\n"
    ));
    crate::support::slapd::ldif_line(&mut ldif, "objectGUID", &guid);
    ldif.push('\n');
    ldif.push_str(&format!(
        "dn: uid=pc01$,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: computer\n\
         uid: pc01$\ncn: PC01\nsn: PC01\n\n"
    ));
    let slapd = Slapd::start(SlapdOptions {
        users: 2,
        schema: AD_SCHEMA.into(),
        ldif,
        ..Default::default()
    });

    let mut src = LdapSource::open(&slapd.people_url(), &LdapOptions::default()).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    let uids: Vec<String> = d.records.iter().filter_map(|r| text(r, "uid")).collect();
    assert_eq!(uids.len(), 3, "{uids:?}");
    assert!(!uids.contains(&"pc01$".to_string()));
    let ad1 = find(&d.records, "ad1");
    assert_eq!(
        ad1.attrs.get("objectGUID").unwrap(),
        &[FieldValue::Text(
            "35918bc9-196d-40ea-9779-889d79b753f0".into()
        )]
    );
    let warnings = src.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("left out 1 Active Directory computer account")),
        "{warnings:?}"
    );
    assert!(src.is_complete());

    // A filter of one's own takes what it says.
    let opts = LdapOptions {
        filter: Some("(objectClass=inetOrgPerson)".into()),
        ..Default::default()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &opts).expect("open");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 4);
    assert!(src.take_warnings().is_empty());
}

#[test]
fn starttls_and_ldaps_with_the_test_ca() {
    let slapd = Slapd::start(SlapdOptions {
        users: 5,
        tls: true,
        ..Default::default()
    });
    let with_ca = LdapOptions {
        ca_file: Some(slapd.ca_file()),
        ..reader()
    };
    let starttls = LdapOptions {
        starttls: true,
        ..with_ca.clone()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &starttls).expect("StartTLS");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 5);
    assert!(src.spec().uses_tls());

    let ldaps = format!("{}/{PEOPLE}", slapd.ldaps_url());
    let mut src = LdapSource::open(&ldaps, &with_ca).expect("ldaps");
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 5);
    assert!(src.take_warnings().is_empty());
}

#[test]
fn an_untrusted_certificate_is_refused() {
    let slapd = Slapd::start(SlapdOptions {
        users: 1,
        tls: true,
        ..Default::default()
    });
    let ldaps = format!("{}/{PEOPLE}", slapd.ldaps_url());
    let err = open_err(&ldaps, &reader());
    assert!(matches!(err, LdapSourceError::Tls { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "TLS with LDAP server 127.0.0.1:{} failed: the server's certificate is not trusted",
            slapd.tls_port.unwrap()
        )),
        "{msg}"
    );
    assert!(msg.contains("--ca-file"), "{msg}");

    let starttls = LdapOptions {
        starttls: true,
        ..reader()
    };
    let err = open_err(&slapd.people_url(), &starttls);
    assert!(matches!(err, LdapSourceError::Tls { .. }), "{err:?}");

    // --insecure connects, and says loudly what it costs.
    let insecure = LdapOptions {
        insecure: true,
        ..reader()
    };
    let mut src = LdapSource::open(&ldaps, &insecure).expect("insecure");
    let warnings = src.take_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("WARNING: TLS certificate verification is OFF")),
        "{warnings:?}"
    );
    let d = drain(&mut src);
    d.end.expect("complete");
    assert_eq!(d.records.len(), 1);

    // A CA file that is not a certificate.
    let bad_ca = LdapOptions {
        ca_file: Some(slapd.dir().join("slapd.conf")),
        ..reader()
    };
    let err = open_err(&ldaps, &bad_ca);
    assert!(matches!(err, LdapSourceError::CaFile { .. }), "{err:?}");
}

#[test]
fn ldap_to_an_ldaps_port_and_ldaps_to_a_plain_port_say_so() {
    let slapd = Slapd::start(SlapdOptions {
        users: 1,
        tls: true,
        ..Default::default()
    });
    let opts = LdapOptions {
        timeout: Some(Duration::from_secs(5)),
        ca_file: Some(slapd.ca_file()),
        ..reader()
    };
    let plain_to_tls = format!("ldap://127.0.0.1:{}/{PEOPLE}", slapd.tls_port.unwrap());
    let err = open_err(&plain_to_tls, &opts);
    assert!(err.to_string().contains("use ldaps://"), "{err:?}: {err}");
    let tls_to_plain = format!("ldaps://127.0.0.1:{}/{PEOPLE}", slapd.port);
    let err = open_err(&tls_to_plain, &opts);
    assert!(matches!(err, LdapSourceError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("--starttls"), "{err}");
}

#[test]
fn a_dropped_connection_mid_stream_is_an_error() {
    let n = 3000;
    let mut slapd = Slapd::start(SlapdOptions::users(n));
    let opts = LdapOptions {
        page_size: Some(100),
        timeout: Some(Duration::from_secs(10)),
        ..reader()
    };
    let mut src = LdapSource::open(&slapd.people_url(), &opts).expect("open");
    let mut read = 0;
    while read < 150 {
        match src.next_item().expect("entry") {
            Some(SourceItem::Record(_)) => read += 1,
            other => panic!("{other:?}"),
        }
    }
    slapd.kill();
    let d = drain(&mut src);
    let err = ldap_err(
        d.end
            .expect_err("a dropped connection must not look like the end"),
    );
    assert!(
        matches!(err, LdapSourceError::ConnectionLost { .. }),
        "{err:?}"
    );
    assert!(read + d.records.len() < n);
    let msg = err.to_string();
    assert!(msg.contains("the result is incomplete"), "{msg}");
    assert!(!src.is_complete());
    assert_eq!(ldap_err(src.next_item().expect_err("sticky")), err);
}
