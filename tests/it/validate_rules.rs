//! Per-row rules through `Validator::check`, and duplicates through `Dedup`.

use roster::model::{Field, Intent, Origin, Problem, User};
use roster::validate::{Dedup, Profile, ValidateOptions, Validator};

fn validator(profile: Profile) -> Validator {
    Validator::new(ValidateOptions {
        profile,
        allow_unusual_emails: false,
        identify_by: None,
    })
}

fn user(username: &str, email: Option<&str>, name: Option<&str>) -> User {
    User {
        username: username.into(),
        email: email.map(Into::into),
        name: name.map(Into::into),
        ..User::default()
    }
}

/// A user every profile accepts.
fn good() -> User {
    user("jdoe", Some("john.doe@example.com"), Some("John Doe"))
}

fn texts(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(|p| p.to_string()).collect()
}

fn upsert(profile: Profile, u: &User) -> Vec<String> {
    texts(&validator(profile).check(u, &Intent::Upsert))
}

/// The problems of one field only.
fn on(profile: Profile, u: &User, field: &str) -> Vec<String> {
    validator(profile)
        .check(u, &Intent::Upsert)
        .into_iter()
        .filter(|p| p.field.as_deref() == Some(field))
        .map(|p| p.reason)
        .collect()
}

const ALL: [Profile; 3] = [Profile::Rocketchat, Profile::Mattermost, Profile::Generic];

#[test]
fn a_good_user_passes_every_profile() {
    for p in ALL {
        assert_eq!(upsert(p, &good()), Vec::<String>::new(), "{p:?}");
    }
}

#[test]
fn required_fields_per_profile() {
    let bare = user("", None, None);
    assert_eq!(
        upsert(Profile::Rocketchat, &bare),
        [
            "username: is required",
            "email: is required",
            "name: is required (Rocket.Chat needs a display name)",
        ]
    );
    for p in [Profile::Mattermost, Profile::Generic] {
        assert_eq!(
            upsert(p, &bare),
            ["username: is required", "email: is required"],
            "{p:?}"
        );
    }
    // Blank counts as missing.
    let blank = user(" \t", Some("  "), Some(" "));
    assert_eq!(upsert(Profile::Rocketchat, &blank).len(), 3);
    assert_eq!(
        upsert(Profile::Generic, &blank),
        ["username: is required", "email: is required"]
    );
    // Name is optional outside Rocket.Chat.
    let no_name = user("jdoe", Some("john.doe@example.com"), None);
    assert!(upsert(Profile::Mattermost, &no_name).is_empty());
    assert!(upsert(Profile::Generic, &no_name).is_empty());
}

#[test]
fn several_problems_of_one_row_are_all_reported() {
    let u = user("John Doe", Some("x@y"), None);
    assert_eq!(
        upsert(Profile::Rocketchat, &u),
        [
            "username: \"John Doe\" contains characters Rocket.Chat does not allow (allowed: letters, digits, - _ .)",
            "email: \"x@y\" has no dot in the domain",
            "name: is required (Rocket.Chat needs a display name)",
        ]
    );
    // Same field, several rules: Mattermost reports the characters and its UI rule.
    let u = user("1 x", Some("x@y"), None);
    let got = upsert(Profile::Mattermost, &u);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].contains("characters Mattermost does not allow"),
        "{got:?}"
    );
    assert!(got[1].contains("roster's rule"), "{got:?}");
    assert!(got[2].starts_with("email: "), "{got:?}");
}

#[test]
fn reserved_names_ignore_case() {
    for name in [
        "admin",
        "Admin",
        "ADMINISTRATOR",
        "System",
        "user",
        "all",
        "HERE",
    ] {
        let u = user(name, Some("a@example.com"), Some("A"));
        assert_eq!(
            on(Profile::Rocketchat, &u, "username"),
            [format!("{name:?} is reserved on Rocket.Chat")]
        );
    }
    for name in ["all", "Channel", "MATTERBOT", "system"] {
        let u = user(name, Some("a@example.com"), None);
        assert_eq!(
            on(Profile::Mattermost, &u, "username"),
            [format!("{name:?} is reserved on Mattermost")]
        );
    }
    // Not reserved elsewhere.
    let u = user("here", Some("a@example.com"), None);
    assert!(on(Profile::Mattermost, &u, "username").is_empty());
    let u = user("admin", Some("a@example.com"), None);
    assert!(on(Profile::Generic, &u, "username").is_empty());
    // Reserved only as a whole name.
    let u = user("admins", Some("a@example.com"), Some("A"));
    assert!(on(Profile::Rocketchat, &u, "username").is_empty());
}

#[test]
fn rocketchat_username_regex_boundaries() {
    let ok = |n: &str| {
        on(
            Profile::Rocketchat,
            &user(n, Some("a@example.com"), Some("A")),
            "username",
        )
    };
    for n in ["a", "Z", "0", "-", "_", ".", "J.Doe-2_x", &"a".repeat(200)] {
        assert!(ok(n).is_empty(), "{n}");
    }
    for n in ["John Doe", "jörg", "x@y", "a+b", "a/b", " jdoe", "a\u{0}b"] {
        let got = ok(n);
        assert_eq!(got.len(), 1, "{n}: {got:?}");
        assert!(
            got[0].contains("Rocket.Chat does not allow"),
            "{n}: {got:?}"
        );
    }
}

#[test]
fn mattermost_username_rules() {
    let check = |n: &str| {
        on(
            Profile::Mattermost,
            &user(n, Some("a@example.com"), None),
            "username",
        )
    };
    // Lowercased before checking, as the server does.
    for n in ["abc", "John.Doe", "a-b_c.d", "z9", "\u{212A}elvin"] {
        let got = check(n);
        assert!(
            got.iter().all(|r| r.contains("roster's rule")),
            "{n}: {got:?}"
        );
    }
    assert!(check("John.Doe").is_empty());
    assert!(
        check("\u{212A}elvin").is_empty(),
        "Kelvin sign lowercases to k"
    );

    // roster's UI rule: 3–22 characters, first a letter; the message says whose rule it is.
    assert!(check("abc").is_empty());
    assert!(check(&"a".repeat(22)).is_empty());
    for n in ["ab", "x", &"a".repeat(23), "9lives", "_abc", ".abc"] {
        let got = check(n);
        assert_eq!(got.len(), 1, "{n}: {got:?}");
        assert!(
            got[0].contains("roster's rule") && got[0].contains("edited in the Mattermost apps"),
            "{n}: {got:?}"
        );
    }
    assert!(check("ab")[0].contains("it has 2 characters"));
    assert!(check("9lives")[0].contains("it starts with '9'"));

    // Server limit: 64 bytes (the UI rule is not repeated past it).
    let got = check(&"a".repeat(64));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("roster's rule"));
    let got = check(&"a".repeat(65));
    assert_eq!(
        got,
        [format!(
            "{:?} is 65 bytes long; Mattermost allows at most 64",
            "a".repeat(65)
        )]
    );

    // Characters.
    for n in ["jo hn", "jörg", "a+b", "a@b"] {
        let got = check(n);
        assert!(
            got[0].contains("characters Mattermost does not allow"),
            "{n}: {got:?}"
        );
    }
}

#[test]
fn generic_username_rules() {
    let check = |n: &str| {
        on(
            Profile::Generic,
            &user(n, Some("a@example.com"), None),
            "username",
        )
    };
    for n in ["jdoe", "Jörg.Müller", "用户", "a+b", &"é".repeat(64)] {
        assert!(check(n).is_empty(), "{n}");
    }
    assert_eq!(check("john doe"), ["\"john doe\" contains whitespace"]);
    assert_eq!(
        check("a\u{7}b"),
        ["\"a\\u{7}b\" contains a control character (U+0007)"]
    );
    assert!(check("john@example.com")[0].contains("contains @"));
    assert_eq!(
        check(&"é".repeat(65)),
        [format!(
            "{:?} is 65 characters long; the limit is 64",
            "é".repeat(65)
        )]
    );
}

#[test]
fn mattermost_length_limits_at_the_boundary() {
    // Limits count characters (runes), so use a two-byte character.
    type Setter = fn(&mut User, String);
    let cases: [(&str, usize, Setter); 4] = [
        ("nickname", 64, |u, v| u.nickname = Some(v)),
        ("position", 128, |u, v| u.position = Some(v)),
        ("first_name", 64, |u, v| u.first_name = Some(v)),
        ("last_name", 64, |u, v| u.last_name = Some(v)),
    ];
    for (field, max, set) in cases {
        let mut u = good();
        set(&mut u, "é".repeat(max));
        assert!(
            on(Profile::Mattermost, &u, field).is_empty(),
            "{field} at {max}"
        );
        set(&mut u, "é".repeat(max + 1));
        let got = on(Profile::Mattermost, &u, field);
        assert_eq!(got.len(), 1, "{field}: {got:?}");
        assert!(
            got[0].ends_with(&format!(
                "is {} characters long; Mattermost allows at most {max}",
                max + 1
            )),
            "{field}: {got:?}"
        );
        // Other profiles do not apply Mattermost's limits.
        assert!(on(Profile::Generic, &u, field).is_empty(), "{field}");
    }

    // Email: 128 bytes of the lowercased address.
    let email = |n: usize| {
        // Labels stay under 63 bytes, the local part under 64.
        let fixed = "a@".len() + 51 + 51 + ".com".len();
        format!(
            "a@{}.{}.{}.com",
            "b".repeat(50),
            "c".repeat(50),
            "d".repeat(n - fixed)
        )
    };
    assert_eq!(email(128).len(), 128);
    let mut u = good();
    u.email = Some(email(128).to_uppercase());
    assert!(on(Profile::Mattermost, &u, "email").is_empty());
    u.email = Some(email(129));
    let got = on(Profile::Mattermost, &u, "email");
    assert_eq!(got.len(), 1, "{got:?}");
    // Long values are quoted cut short.
    assert!(got[0].starts_with("\"a@bbbb"), "{got:?}");
    assert!(
        got[0].ends_with("…\" is 129 bytes long; Mattermost allows at most 128"),
        "{got:?}"
    );
    assert!(on(Profile::Rocketchat, &u, "email").is_empty());

    // Locale: at most 5 characters, shaped like a language tag.
    for ok in ["en", "de", "fil", "pt-BR", "zh_CN", "PT-br"] {
        let mut u = good();
        u.locale = Some(ok.into());
        assert!(on(Profile::Mattermost, &u, "locale").is_empty(), "{ok}");
    }
    for bad in ["english", "pt-BRA", "e", "e1", "en-", "pt BR", "ü"] {
        let mut u = good();
        u.locale = Some(bad.into());
        let got = on(Profile::Mattermost, &u, "locale");
        assert_eq!(got.len(), 1, "{bad}: {got:?}");
        assert!(on(Profile::Generic, &u, "locale").is_empty());
    }

    // Roles: 256 bytes joined with spaces.
    let mut u = good();
    u.roles = Some(vec!["r".repeat(200), "s".repeat(55)]);
    assert!(on(Profile::Mattermost, &u, "roles").is_empty());
    u.roles = Some(vec!["r".repeat(200), "s".repeat(56)]);
    assert_eq!(
        on(Profile::Mattermost, &u, "roles"),
        ["are 257 bytes long joined with spaces; Mattermost allows at most 256"]
    );
}

#[test]
fn mattermost_accepts_uppercase_it_will_lowercase() {
    let u = user("JDoe", Some("John.Doe@EXAMPLE.COM"), None);
    assert!(upsert(Profile::Mattermost, &u).is_empty());
    let u = user("jdoe", Some("JÖRG@MÜLLER.DE"), None);
    assert!(upsert(Profile::Mattermost, &u).is_empty());
}

#[test]
fn rocketchat_nickname_counts_like_javascript() {
    let mut u = good();
    u.nickname = Some("n".repeat(120));
    assert!(on(Profile::Rocketchat, &u, "nickname").is_empty());
    u.nickname = Some("n".repeat(121));
    assert_eq!(
        on(Profile::Rocketchat, &u, "nickname").len(),
        1,
        "121 characters"
    );
    // An emoji is two UTF-16 units: 60 fit, 61 do not.
    u.nickname = Some("😀".repeat(60));
    assert!(on(Profile::Rocketchat, &u, "nickname").is_empty());
    u.nickname = Some("😀".repeat(61));
    let got = on(Profile::Rocketchat, &u, "nickname");
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("is 122 characters long; Rocket.Chat allows at most 120"));
}

#[test]
fn rocketchat_name_characters() {
    let check = |n: &str| {
        on(
            Profile::Rocketchat,
            &user("jdoe", Some("a@example.com"), Some(n)),
            "name",
        )
    };
    for n in [
        "John Doe",
        "Jörg Müller",
        "a%2Fb",
        "Caf%C3%A9",
        "O'Brien (IT)",
    ] {
        assert!(check(n).is_empty(), "{n}: {:?}", check(n));
    }
    for n in ["John <Doe>", "a/b", "a\\b", "x>y"] {
        assert_eq!(
            check(n),
            [format!(
                "{n:?} contains characters Rocket.Chat does not allow in names (< > \\ /)"
            )]
        );
    }
    for n in ["%3Cscript", "a%5cb", "%3e"] {
        assert!(check(n)[0].contains("decodes to < > \\"), "{n}");
    }
    // decodeURI throws on these, and Rocket.Chat then refuses the name.
    for n in [
        "100% Team",
        "%",
        "%zz",
        "%C3",
        "%C3%28",
        "%C0%80",
        "%ED%A0%80",
    ] {
        assert!(check(n)[0].contains("not a valid %-escape"), "{n}");
    }
    // Elsewhere only control characters matter.
    let u = user("jdoe", Some("a@example.com"), Some("John <Doe>"));
    assert!(on(Profile::Generic, &u, "name").is_empty());
}

#[test]
fn control_characters_in_display_text() {
    for p in ALL {
        let mut u = good();
        u.name = Some("John\nDoe".into());
        u.position = Some("Boss\t".into());
        let got = upsert(p, &u);
        assert_eq!(
            got,
            [
                "name: \"John\\nDoe\" contains a control character (U+000A)",
                "position: \"Boss\\t\" contains a control character (U+0009)",
            ],
            "{p:?}"
        );
    }
}

/// `external_id` becomes Mattermost's `auth_data`: a control character there (say, a file
/// read through an LDIF URL) is a data error like in any other field.
#[test]
fn control_characters_in_external_id() {
    for p in ALL {
        let mut u = good();
        u.external_id = Some("abc\u{1b}[2J".into());
        assert_eq!(
            upsert(p, &u),
            ["external_id: \"abc\\u{1b}[2J\" contains a control character (U+001B)"],
            "{p:?}"
        );
        let modify = Intent::Modify(vec![Field::ExternalId]);
        assert_eq!(validator(p).check(&u, &modify).len(), 1, "{p:?}");
        u.external_id = Some("5f2b9c4e-uuid".into());
        assert!(upsert(p, &u).is_empty(), "{p:?}");
    }
}

#[test]
fn roles_are_names_without_spaces() {
    for p in ALL {
        let mut u = good();
        u.roles = Some(vec!["user".into(), "".into(), "system admin".into()]);
        let got = on(p, &u, "roles");
        assert_eq!(
            got,
            [
                "contains an empty role name",
                "\"system admin\" contains whitespace (role names are sent space-separated to Mattermost)",
            ],
            "{p:?}"
        );
        u.roles = Some(vec!["system_user".into(), "system_admin".into()]);
        assert!(on(p, &u, "roles").is_empty());
    }
}

#[test]
fn unusual_emails_follow_the_option() {
    let u = user("jdoe", Some("\"john doe\"@example.com"), Some("J"));
    let strict = upsert(Profile::Generic, &u);
    assert_eq!(strict.len(), 1);
    assert!(strict[0].contains("--allow-unusual-emails"));
    let lax = Validator::new(ValidateOptions {
        profile: Profile::Generic,
        allow_unusual_emails: true,
        identify_by: None,
    });
    assert!(lax.check(&u, &Intent::Upsert).is_empty());
    // Rocket.Chat's own check wants exactly one @.
    let u = user("jdoe", Some("\"a@b\"@example.com"), Some("J"));
    let rc = Validator::new(ValidateOptions {
        profile: Profile::Rocketchat,
        allow_unusual_emails: true,
        identify_by: None,
    });
    assert_eq!(
        texts(&rc.check(&u, &Intent::Upsert)),
        [
            "email: \"\\\"a@b\\\"@example.com\" contains more than one @, which Rocket.Chat does not accept"
        ]
    );
}

#[test]
fn modify_checks_only_the_touched_fields() {
    let v = validator(Profile::Mattermost);
    // Bad email and a username breaking the UI rule, but only the nickname is touched.
    let mut u = user("ab", Some("not-an-address"), None);
    u.nickname = Some("Bob".into());
    assert!(
        v.check(&u, &Intent::Modify(vec![Field::Nickname]))
            .is_empty()
    );
    // Touching the email checks it.
    let got = texts(&v.check(&u, &Intent::Modify(vec![Field::Email])));
    assert_eq!(got, ["email: \"not-an-address\" has no @"]);
    // Touching the username checks its syntax.
    let got = texts(&v.check(&u, &Intent::Modify(vec![Field::Username])));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("roster's rule"));
    // A touched required field may not be emptied.
    u.email = None;
    assert_eq!(
        texts(&v.check(&u, &Intent::Modify(vec![Field::Email, Field::Nickname]))),
        ["email: is required"]
    );
    let rc = validator(Profile::Rocketchat);
    assert_eq!(
        texts(&rc.check(&u, &Intent::Modify(vec![Field::Name]))),
        ["name: is required (Rocket.Chat needs a display name)"]
    );
    // The username is always required: it is the key.
    u.username = "  ".into();
    assert_eq!(
        texts(&v.check(&u, &Intent::Modify(vec![Field::Nickname]))),
        ["username: is required"]
    );
}

#[test]
fn deactivate_needs_only_the_username() {
    for p in ALL {
        let v = validator(p);
        let u = user("x y", Some("bad"), None);
        assert!(v.check(&u, &Intent::Deactivate).is_empty(), "{p:?}");
        let u = user("", Some("bad"), None);
        assert_eq!(
            texts(&v.check(&u, &Intent::Deactivate)),
            ["username: is required"]
        );
    }
}

fn at(mut u: User, origin: &str) -> User {
    u.origin = Origin(origin.into());
    u
}

#[test]
fn duplicates_by_username_and_email_ignore_case() {
    let mut d = Dedup::new();
    let first = at(
        user("JDoe", Some("John.Doe@Example.com"), None),
        "users.csv:3",
    );
    assert!(d.check(&first).is_empty());
    assert!(d.check(&at(good_other(1), "users.csv:4")).is_empty());

    // Same username, other case.
    let dup_name = at(user("jdoe", Some("other@example.com"), None), "users.csv:7");
    assert_eq!(
        d.check(&dup_name),
        [Problem::new("username", "duplicate of users.csv:3")]
    );
    // Same email, other case.
    let dup_mail = at(
        user("other", Some("JOHN.DOE@example.COM"), None),
        "users.csv:8",
    );
    assert_eq!(
        d.check(&dup_mail),
        [Problem::new("email", "duplicate of users.csv:3")]
    );
    // Both at once.
    let both = at(
        user("JDOE", Some("john.doe@example.com"), None),
        "users.csv:9",
    );
    assert_eq!(
        d.check(&both),
        [
            Problem::new("username", "duplicate of users.csv:3"),
            Problem::new("email", "duplicate of users.csv:3"),
        ]
    );
    // Rejected rows registered nothing: their new email and username are still free,
    // and the row that takes them first becomes the one later rows point to.
    let takes = at(
        user("other", Some("other@example.com"), None),
        "users.csv:10",
    );
    assert!(d.check(&takes).is_empty());
    let later = at(user("OTHER", Some("x@example.com"), None), "users.csv:11");
    assert_eq!(
        d.check(&later),
        [Problem::new("username", "duplicate of users.csv:10")]
    );
    assert_eq!(d.len(), 3);
}

fn good_other(i: usize) -> User {
    user(
        &format!("user{i}"),
        Some(&format!("user{i}@example.com")),
        None,
    )
}

#[test]
fn a_duplicate_of_a_duplicate_names_the_first() {
    let mut d = Dedup::new();
    assert!(d.check(&at(good(), "a.csv:2")).is_empty());
    for line in 3..6 {
        let again = at(good(), &format!("a.csv:{line}"));
        assert_eq!(
            d.check(&again),
            [
                Problem::new("username", "duplicate of a.csv:2"),
                Problem::new("email", "duplicate of a.csv:2"),
            ]
        );
    }
}

#[test]
fn duplicates_use_unicode_lowercase_and_keep_any_origin() {
    let mut d = Dedup::new();
    let dn = "uid=émile,ou=People,dc=example,dc=org";
    assert!(
        d.check(&at(user("ÉMILE", Some("ÉMILE@exemple.fr"), None), dn))
            .is_empty()
    );
    assert_eq!(
        d.check(&at(user("émile", Some("x@exemple.fr"), None), "b.ldif:40")),
        [Problem::new("username", format!("duplicate of {dn}"))]
    );
    assert_eq!(
        d.check(&at(
            user("emile", Some("émile@exemple.fr"), None),
            "b.ldif:41"
        )),
        [Problem::new("email", format!("duplicate of {dn}"))]
    );
    // Origins from several files and odd shapes come back exactly.
    for (i, origin) in [
        "x.csv:1",
        "y.csv:0",
        "z.csv:007",
        "weird",
        "c:\\dir\\u.csv:12",
        "",
    ]
    .into_iter()
    .enumerate()
    {
        assert!(d.check(&at(good_other(i), origin)).is_empty());
        let dup = at(good_other(i), "again.csv:1");
        assert_eq!(
            d.check(&dup)[0],
            Problem::new("username", format!("duplicate of {origin}"))
        );
    }
}

#[test]
fn many_distinct_users_are_not_duplicates() {
    let mut d = Dedup::with_capacity(10_000);
    for i in 0..10_000u64 {
        let u = at(good_other(i as usize), &format!("big.csv:{}", i + 2));
        assert!(d.check(&u).is_empty(), "{i}");
    }
    assert_eq!(d.len(), 10_000);
    let u = at(good_other(4321), "big.csv:99999");
    assert_eq!(
        d.check(&u)[0],
        Problem::new("username", "duplicate of big.csv:4323")
    );
}

/// Values read from LDIF `file:` URLs never show in messages: the quoted field value that
/// holds one is replaced, and any other message that would show one loses its reason.
#[test]
fn values_read_from_urls_are_hidden_from_messages() {
    let secret = "ROSTER_PASSWORD=hunter2\nHOME=/root".to_string();
    let mut u = good();
    u.name = Some(format!("Dr {secret}"));
    let mut problems = validator(Profile::Rocketchat).check(&u, &Intent::Upsert);
    assert!(!problems.is_empty());
    problems.push(Problem::record(format!("custom check saw {secret}")));
    roster::validate::hide_values(&mut problems, &u, std::slice::from_ref(&secret));
    let text = texts(&problems).join("; ");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains(
            "name: (a value read from a file: URL, not shown) contains a control character (U+000A)"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("is not valid; (a value read from a file: URL, not shown)"),
        "{text}"
    );
    // Without URL values nothing changes.
    let mut same = validator(Profile::Rocketchat).check(&u, &Intent::Upsert);
    let before = same.clone();
    roster::validate::hide_values(&mut same, &u, &[]);
    assert_eq!(same, before);
}

/// One rule by Unicode category (issue 12, item 5): control (Cc) and format (Cf) characters,
/// which are invisible or reorder text, are refused in usernames and display text alike.
#[test]
fn invisible_characters_by_category_in_usernames_and_names() {
    let invisible = [
        '\u{200b}',
        '\u{200e}',
        '\u{202e}',
        '\u{2066}',
        '\u{2069}',
        '\u{61c}',
        '\u{180e}',
        '\u{fff9}',
        '\u{fffb}',
        '\u{ad}',
        '\u{feff}',
        '\u{e0001}',
        '\u{e0041}',
    ];
    for c in invisible {
        let code = format!("U+{:04X}", c as u32);
        // Generic usernames allow any letters, so the category rule is what refuses these.
        let u = user(&format!("ad{c}min"), Some("a@example.com"), None);
        let got = on(Profile::Generic, &u, "username");
        assert!(
            got.len() == 1 && got[0].contains(&code),
            "{code} in username: {got:?}"
        );
        for p in ALL {
            let mut u = good();
            u.name = Some(format!("John{c} Doe"));
            u.first_name = Some(format!("{c}John"));
            u.nickname = Some(format!("jd{c}"));
            u.external_id = Some(format!("id{c}1"));
            let got = upsert(p, &u);
            for field in ["name", "first_name", "nickname", "external_id"] {
                assert!(
                    got.iter()
                        .any(|g| g.starts_with(&format!("{field}: ")) && g.contains(&code)),
                    "{p:?} {code} in {field}: {got:?}"
                );
            }
        }
    }
    // Zero-width (non-)joiners between letters of scripts that need them stay allowed in
    // display names: Persian names, Indic conjuncts, emoji sequences.
    for n in [
        "علی\u{200c}زاده",
        "म\u{94d}\u{200d}ह",
        "\u{1f469}\u{200d}\u{1f4bb} Ann",
    ] {
        let mut u = good();
        u.name = Some(n.into());
        for p in ALL {
            assert!(on(p, &u, "name").is_empty(), "{p:?} {n:?}");
        }
    }
    // ...but not between Latin letters, where they only hide.
    let mut u = good();
    u.name = Some("Ad\u{200c}min".into());
    assert!(on(Profile::Generic, &u, "name")[0].contains("U+200C"));
}

/// A display name made only of whitespace control characters is not "missing": it is a
/// control character in a field (issue 12, item 6).
#[test]
fn whitespace_control_characters_alone_are_not_blank() {
    for (name, code) in [("\t", "U+0009"), ("\r\n", "U+000D"), (" \u{b} ", "U+000B")] {
        for p in ALL {
            let mut u = good();
            u.name = Some(name.into());
            u.position = Some(name.into());
            let got = upsert(p, &u);
            for field in ["name", "position"] {
                assert!(
                    got.iter().any(|g| g.starts_with(&format!("{field}: "))
                        && g.contains(&format!("contains a control character ({code})"))),
                    "{p:?} {name:?} {field}: {got:?}"
                );
            }
        }
    }
    // Spaces alone still count as missing.
    let mut u = good();
    u.name = Some("   ".into());
    assert!(upsert(Profile::Generic, &u).is_empty());
}

/// Items 5 and 6 through the binary: rows rejected with origin, field and reason.
#[test]
fn invisible_and_control_only_names_through_the_binary() {
    let d = crate::support::tmp();
    crate::support::write(
        d.path(),
        "in.csv",
        "username,email,name\n\
         tab,tab@example.com,\"\t\"\n\
         crlf,crlf@example.com,\"\r\n\"\n\
         isolate,isolate@example.com,Ann\u{2066}Lee\n\
         tagname,tagname@example.com,Ann\u{e0041}\n\
         ad\u{200b}min,zw@example.com,Zed\n\
         persian,fa@example.com,علی\u{200c}زاده\n\
         blank,blank@example.com,\n\
         filler,filler@example.com,\u{3164}\n\
         heart,heart@example.com,Ann \u{2764}\u{fe0f}\n",
    );
    let o = crate::support::roster(
        d.path(),
        &["validate", "in.csv", "--report", "r.jsonl", "--quiet"],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = crate::support::jsonl(&d.path().join("r.jsonl"));
    assert_eq!(report.len(), 9, "{report:?}");
    let by_origin = |origin: &str| {
        report
            .iter()
            .find(|e| e["origin"] == origin)
            .unwrap_or_else(|| panic!("{origin} not in {report:?}"))
    };
    for (origin, want) in [
        (
            "in.csv:2",
            "name: \"\\t\" contains a control character (U+0009)",
        ),
        (
            "in.csv:3",
            "name: \"\\r\\n\" contains a control character (U+000D)",
        ),
        ("in.csv:5", "U+2066"),
        ("in.csv:6", "U+E0041"),
        ("in.csv:7", "U+200B"),
        ("in.csv:10", "contains an invisible character (U+3164)"),
    ] {
        let e = by_origin(origin);
        assert_eq!(e["status"], "rejected", "{e}");
        let error = e["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{origin}: {error}");
    }
    assert!(
        by_origin("in.csv:7")["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("username: ")
    );
    for origin in ["in.csv:8", "in.csv:9", "in.csv:11"] {
        assert_eq!(by_origin(origin)["status"], "ok", "{origin}");
    }
}
