//! LDAP URL parsing (RFC 4516) and how options and defaults shape the search.
//! No server needed.

use std::time::Duration;

use roster::source::Format;
use roster::source::ldap::{
    ALWAYS_ATTRS, DEFAULT_ATTRS, DEFAULT_FILTER, LdapOptions, LdapScheme, LdapScope,
    LdapSourceError, LdapUrl, SearchSpec, UrlExtension,
};

fn url(s: &str) -> LdapUrl {
    LdapUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn url_err(s: &str) -> String {
    match LdapUrl::parse(s) {
        Ok(u) => panic!("{s} parsed: {u:?}"),
        Err(e @ LdapSourceError::Url(_)) => e.to_string(),
        Err(e) => panic!("{s}: not a URL error: {e:?}"),
    }
}

fn spec(s: &str, opts: &LdapOptions) -> SearchSpec {
    SearchSpec::new(s, opts).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn rfc4516_examples() {
    let u = url("ldap:///o=University%20of%20Michigan,c=US");
    assert_eq!(u.scheme, LdapScheme::Ldap);
    assert_eq!(u.host, "");
    assert_eq!(u.port, None);
    assert_eq!(u.dn.as_deref(), Some("o=University of Michigan,c=US"));
    assert_eq!((u.attrs, u.scope, u.filter), (None, None, None));

    let u = url("ldap://ldap1.example.net/o=University%20of%20Michigan,c=US?postalAddress");
    assert_eq!(u.host, "ldap1.example.net");
    assert_eq!(u.attrs, Some(vec!["postalAddress".to_string()]));

    let u = url(
        "ldap://ldap1.example.net:6666/o=University%20of%20Michigan,c=US??sub?(cn=Babs%20Jensen)",
    );
    assert_eq!(u.port, Some(6666));
    assert_eq!(u.attrs, None);
    assert_eq!(u.scope, Some(LdapScope::Sub));
    assert_eq!(u.filter.as_deref(), Some("(cn=Babs Jensen)"));

    let u = url("LDAP://ldap1.example.com/c=GB?objectClass?ONE");
    assert_eq!(u.scope, Some(LdapScope::One));
    assert_eq!(u.dn.as_deref(), Some("c=GB"));

    // An encoded `?` stays in the DN.
    let u = url("ldap://ldap2.example.com/o=Question%3f,c=US?mail");
    assert_eq!(u.dn.as_deref(), Some("o=Question?,c=US"));
    assert_eq!(u.attrs, Some(vec!["mail".to_string()]));

    // Filter escapes survive percent-decoding as filter escapes.
    let u = url("ldap://ldap3.example.com/o=Babsco,c=US???(four-octet=%5c00%5c00%5c00%5c04)");
    assert_eq!(u.filter.as_deref(), Some("(four-octet=\\00\\00\\00\\04)"));

    // A DN escape (\2C) encoded as %5C2C.
    let u = url("ldap://ldap.example.com/o=An%20Example%5C2C%20Inc.,c=US");
    assert_eq!(u.dn.as_deref(), Some("o=An Example\\2C Inc.,c=US"));

    for s in [
        "ldap://ldap.example.net",
        "ldap://ldap.example.net/",
        "ldap://ldap.example.net/?",
    ] {
        let u = url(s);
        assert_eq!(u.host, "ldap.example.net", "{s}");
        assert_eq!(u.dn, None, "{s}");
    }

    let u = url("ldap:///??sub??e-bindname=cn=Manager%2cdc=example%2cdc=com");
    assert_eq!(
        u.extensions,
        vec![UrlExtension {
            critical: false,
            name: "e-bindname".into(),
            value: Some("cn=Manager,dc=example,dc=com".into()),
        }]
    );
    assert_eq!(u.bind_name(), Some("cn=Manager,dc=example,dc=com"));
    let u = url("ldap:///??sub??!bindname=cn=Manager%2cdc=example%2cdc=com");
    assert!(u.extensions[0].critical);
    assert_eq!(u.bind_name(), Some("cn=Manager,dc=example,dc=com"));
}

#[test]
fn percent_decoding_of_every_part() {
    let u = url(
        "ldaps://dir.example.org:1636/ou=Z%C3%BCrich,dc=example,dc=org?uid,mail%3Bbinary,cn?base?(cn=Zo%C3%AB%20M%C3%BCller)",
    );
    assert_eq!(u.scheme, LdapScheme::Ldaps);
    assert_eq!(u.port, Some(1636));
    assert_eq!(u.dn.as_deref(), Some("ou=Zürich,dc=example,dc=org"));
    assert_eq!(
        u.attrs,
        Some(vec!["uid".into(), "mail;binary".into(), "cn".into()])
    );
    assert_eq!(u.scope, Some(LdapScope::Base));
    assert_eq!(u.filter.as_deref(), Some("(cn=Zoë Müller)"));
}

#[test]
fn hosts_and_ports() {
    let u = url("ldap://[::1]:3389/dc=x");
    assert_eq!(u.host, "::1");
    assert_eq!(u.port, Some(3389));
    let s = spec("ldap://[::1]:3389/dc=x", &LdapOptions::default());
    assert_eq!(s.server(), "[::1]:3389");
    assert!(s.is_loopback());

    let s = spec("ldap:///dc=x", &LdapOptions::default());
    assert_eq!((s.host.as_str(), s.port), ("localhost", 389));
    let s = spec("ldaps://dir.example.org/dc=x", &LdapOptions::default());
    assert_eq!(s.port, 636);
    assert!(s.uses_tls());
    assert!(!s.is_loopback());
}

#[test]
fn bad_urls() {
    assert!(url_err("http://x/dc=x").contains("http://"));
    assert!(url_err("ldapi://%2fvar%2frun%2fslapd/").contains("ldapi:// is not supported"));
    assert!(url_err("dir.example.org").contains("does not start with ldap:// or ldaps://"));
    let e = url_err("ldap://admin:hunter2@dir.example.org/dc=x");
    assert!(e.contains("do not belong in the URL"), "{e}");
    assert!(!e.contains("hunter2"), "never echo credentials: {e}");
    assert!(url_err("ldap://h:99999/").contains("port \"99999\""));
    assert!(url_err("ldap://h:0/").contains("port"));
    assert!(url_err("ldap://h:x/").contains("port"));
    assert!(url_err("ldap://h/dc=x??deep").contains("scope must be base, one or sub"));
    assert!(url_err("ldap://h/dc=x?a,,b").contains("empty attribute name"));
    assert!(url_err("ldap://h/dc=x?a?sub?(f=1)?ext?more").contains("%3F"));
    assert!(url_err("ldap://h/dc=%ff").contains("not UTF-8"));
    assert!(url_err("ldap://h/dc=x????!x-unknown").contains("x-unknown"));
    assert!(url_err("ldap://[::1/dc=x").contains("unclosed"));
    // A non-critical unknown extension is ignored (and reported by the source).
    let s = spec("ldap://h/dc=x????x-unknown=1", &LdapOptions::default());
    assert_eq!(s.ignored_extensions, vec!["x-unknown".to_string()]);
}

#[test]
fn defaults() {
    assert_eq!(
        Format::detect("LDAPS://dir.example.org/dc=x"),
        Some(Format::Ldap)
    );
    let s = spec(
        "ldap://dir.example.org/ou=people,dc=example,dc=org",
        &LdapOptions::default(),
    );
    assert_eq!(s.base.as_deref(), Some("ou=people,dc=example,dc=org"));
    assert_eq!(s.scope, LdapScope::Sub, "people, not the one base entry");
    assert_eq!(s.filter, DEFAULT_FILTER);
    assert!(s.default_filter);
    assert_eq!(s.attrs, DEFAULT_ATTRS.map(String::from).to_vec());
    assert_eq!(s.page_size, Some(500));
    assert!(!s.starttls);
    assert_eq!(s.bind_dn, None, "anonymous");
    assert_eq!(s.connect_timeout, Duration::from_secs(10));
    assert_eq!(s.timeout, Duration::from_secs(120));
    assert_eq!(
        s.describe(),
        "ldap://dir.example.org:389/ou=people,dc=example,dc=org"
    );
    // No DN: the source asks the server.
    assert_eq!(spec("ldap://h", &LdapOptions::default()).base, None);
    for a in [
        "*",
        "entryUUID",
        "nsUniqueId",
        "objectGUID",
        "nsAccountLock",
    ] {
        assert!(DEFAULT_ATTRS.contains(&a));
    }
    assert!(DEFAULT_ATTRS.contains(&"pwdAccountLockedTime"));
    assert!(DEFAULT_ATTRS.contains(&"userAccountControl"));
}

#[test]
fn options_override_the_url() {
    let u = "ldap://h/ou=people,dc=x?uid,mail?one?(uid=a*)?e-bindname=cn=url%2cdc=x";
    let s = spec(u, &LdapOptions::default());
    assert_eq!(s.scope, LdapScope::One);
    assert_eq!(s.filter, "(uid=a*)");
    assert!(!s.default_filter);
    assert_eq!(s.bind_dn.as_deref(), Some("cn=url,dc=x"));
    // Listed attributes, plus the identity and lock ones.
    assert_eq!(&s.attrs[..2], ["uid", "mail"]);
    for a in ALWAYS_ATTRS {
        assert_eq!(
            s.attrs.iter().filter(|x| x.eq_ignore_ascii_case(a)).count(),
            1,
            "{a}"
        );
    }

    let opts = LdapOptions {
        base: Some("ou=staff,dc=x".into()),
        scope: Some("SUB".into()),
        filter: Some("employeeType=staff".into()),
        attrs: Some(vec!["cn".into(), "entryuuid".into(), " ".into()]),
        page_size: Some(1000),
        bind_dn: Some("cn=flag,dc=x".into()),
        starttls: true,
        connect_timeout: Some(Duration::from_secs(3)),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let s = spec(u, &opts);
    assert_eq!(s.base.as_deref(), Some("ou=staff,dc=x"));
    assert_eq!(s.scope, LdapScope::Sub);
    assert_eq!(s.filter, "(employeeType=staff)", "parentheses added");
    assert_eq!(s.attrs[0], "cn");
    assert_eq!(
        s.attrs
            .iter()
            .filter(|a| a.eq_ignore_ascii_case("entryUUID"))
            .count(),
        1,
        "not added twice: {:?}",
        s.attrs
    );
    assert!(!s.attrs.iter().any(|a| a.trim().is_empty()));
    assert_eq!(s.page_size, Some(1000));
    assert_eq!(s.bind_dn.as_deref(), Some("cn=flag,dc=x"));
    assert!(s.starttls && s.uses_tls());
    assert_eq!(s.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.timeout, Duration::from_secs(30));

    // An empty bind DN means anonymous, even over the URL's.
    let s = spec(
        u,
        &LdapOptions {
            bind_dn: Some(String::new()),
            ..Default::default()
        },
    );
    assert_eq!(s.bind_dn, None);
    // No paging.
    let s = spec(
        u,
        &LdapOptions {
            no_paging: true,
            page_size: Some(10),
            ..Default::default()
        },
    );
    assert_eq!(s.page_size, None);
    // StartTLS means nothing on ldaps://, which is TLS already.
    let s = spec(
        "ldaps://h/dc=x",
        &LdapOptions {
            starttls: true,
            ..Default::default()
        },
    );
    assert!(!s.starttls && s.uses_tls());
}

#[test]
fn bad_options() {
    let err = |opts: LdapOptions| match SearchSpec::new("ldap://h/dc=x", &opts) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e,
    };
    let e = err(LdapOptions {
        scope: Some("deep".into()),
        ..Default::default()
    });
    assert_eq!(
        e.to_string(),
        "--scope must be base, one or sub, not \"deep\""
    );
    let e = err(LdapOptions {
        page_size: Some(0),
        ..Default::default()
    });
    assert_eq!(e.to_string(), "--page-size must be at least 1");
    let e = err(LdapOptions {
        filter: Some("(|(uid=a)(uid=b)".into()),
        ..Default::default()
    });
    assert_eq!(
        e,
        LdapSourceError::Filter {
            filter: "(|(uid=a)(uid=b)".into()
        }
    );
    let e = err(LdapOptions {
        timeout: Some(Duration::ZERO),
        ..Default::default()
    });
    assert!(e.to_string().contains("more than 0"));
    // The default filter is itself valid.
    assert!(SearchSpec::new("ldap://h/dc=x", &LdapOptions::default()).is_ok());
}
