//! What `roster export` reads beyond the user listings, through HTTP: Mattermost's user
//! report (`GET /api/v4/reports/users`: permission, page size, keyset cursor, bots left
//! out, `last_login` there and nowhere else, last login set at each login) and
//! `POST /users/status/ids`; Rocket.Chat's users.list projection of `createdAt`,
//! `lastLogin` and `ldap` (stripped for callers without view-full-other-user-info).
//! Expected behaviour: the shared mattermost-members-and-ops notes §10 and §13,
//! rocketchat-members-and-ops §7, and the sources cited in the sandbox's module docs.

use reqwest::blocking::Client;
use roster_sandbox::{AccountFacts, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use roster_test_support::{ADMIN_PW, Reply, Session, client, config, mm_login_raw, send, start};
use serde_json::{Value, json};

const PW: &str = "Seeded-pw-1";

fn seed(sb: &Sandbox, names: &[&str]) {
    let users: Vec<SeedUser> = names
        .iter()
        .map(|n| SeedUser {
            username: n.to_string(),
            email: format!("{n}@example.org"),
            name: format!("{n} Person"),
            password: Some(PW.into()),
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed");
}

fn mattermost() -> Sandbox {
    start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    })
}

struct Mm {
    base: String,
    client: Client,
    token: String,
}

impl Mm {
    fn login(sb: &Sandbox, user: &str, password: &str) -> Mm {
        let client = client();
        let r = mm_login_raw(&client, &sb.url(), user, password);
        assert_eq!(r.status, 200, "login as {user}: {}", r.text);
        Mm {
            base: sb.url(),
            token: r.header("token").expect("a Token header"),
            client,
        }
    }

    fn get(&self, path: &str) -> Reply {
        send(
            self.client
                .get(format!("{}/api/v4{path}", self.base))
                .bearer_auth(&self.token),
        )
    }

    fn post_raw(&self, path: &str, body: &str) -> Reply {
        send(
            self.client
                .post(format!("{}/api/v4{path}", self.base))
                .bearer_auth(&self.token)
                .body(body.to_string()),
        )
    }
}

fn names(r: &Reply) -> Vec<String> {
    r.body
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["username"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn mattermost_report_pages_by_keyset_without_bots_and_shows_last_logins() {
    let sb = mattermost();
    let people: Vec<String> = (0..7).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = people.iter().map(String::as_str).collect();
    seed(&sb, &refs);
    sb.set_account_facts(
        "u3",
        &AccountFacts {
            bot: Some(true),
            ..AccountFacts::default()
        },
    )
    .unwrap();
    sb.set_account_facts(
        "u1",
        &AccountFacts {
            last_login: Some(Some(1_600_000_000_000)),
            mfa_active: Some(true),
            auth_service: Some("saml".into()),
            ..AccountFacts::default()
        },
    )
    .unwrap();
    let admin = Mm::login(&sb, "admin", ADMIN_PW);

    // Page size: 0, negative and more than 100 are refused; a number that does not
    // parse is the default.
    for bad in ["0", "-1", "101"] {
        let r = admin.get(&format!("/reports/users?page_size={bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.body["id"], "api.getUsersForReporting.invalid_page_size");
    }
    assert_eq!(admin.get("/reports/users?page_size=x").status, 200);
    let r = admin.get("/reports/users?sort_column=Password");
    assert_eq!(
        r.body["id"],
        "model.user_report_options.is_valid.invalid_sort_column"
    );
    let r = admin.get("/reports/users?hide_active=true&hide_inactive=true");
    assert_eq!(
        r.body["id"],
        "api.getUsersForReporting.invalid_active_filter"
    );
    let r = admin.get("/reports/users?team_filter=nope");
    assert_eq!(r.body["id"], "api.getUsersForReporting.invalid_team_filter");

    // Keyset paging in username order, 3 a page, without the bot.
    let mut seen = Vec::new();
    let mut path = "/reports/users?page_size=3&sort_column=Username".to_string();
    loop {
        let r = admin.get(&path);
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body.as_array().unwrap().clone();
        seen.extend(names(&r));
        if page.len() < 3 {
            break;
        }
        let last = page.last().unwrap();
        path = format!(
            "/reports/users?page_size=3&sort_column=Username&from_column_value={}&from_id={}",
            last["username"].as_str().unwrap(),
            last["id"].as_str().unwrap()
        );
    }
    let mut want: Vec<String> = ["admin", "importer", "u0", "u1", "u2", "u4", "u5", "u6"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(seen, want, "every user once, no bot");

    // last_login is in the report (the admin's is this session's), and nowhere else.
    let r = admin.get("/reports/users?page_size=100");
    let row = |n: &str| {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == n)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(row("u1")["last_login"], 1_600_000_000_000_i64);
    assert_eq!(row("u1")["auth_service"], "saml");
    assert_eq!(row("u1")["mfa_active"], true);
    assert!(row("u0").get("last_login").is_none(), "never logged in");
    assert!(row("admin")["last_login"].as_i64().unwrap() > 1_700_000_000_000);
    let listed = admin.get("/users?per_page=200");
    for u in listed.body.as_array().unwrap() {
        assert!(u.get("last_login").is_none(), "GET /users: {u}");
    }
    let u3 = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "u3")
        .cloned()
        .unwrap();
    assert_eq!(u3["is_bot"], true);

    // A login sets it; a bot cannot log in.
    let _ = Mm::login(&sb, "u0", PW);
    let r = admin.get("/reports/users?page_size=100&search_term=u0");
    assert_eq!(names(&r), vec!["u0"]);
    assert!(r.body[0]["last_login"].as_i64().unwrap() > 1_700_000_000_000);
    let r = mm_login_raw(&client(), &sb.url(), "u3", PW);
    assert_eq!(r.body["id"], "api.user.login.bot_login_forbidden.app_error");

    // Backwards from the last row: the rows before it, in ascending order.
    let r = admin.get("/reports/users?page_size=2&direction=prev&from_column_value=u2&from_id=zzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_eq!(names(&r), vec!["u1", "u2"]);

    // A plain user lacks sysconsole_read_user_management_users.
    let plain = Mm::login(&sb, "u2", PW);
    let r = plain.get("/reports/users");
    assert_eq!(r.status, 403);
    assert_eq!(r.body["id"], "api.context.permissions.app_error");
    assert_eq!(
        sb.counters()["GET /api/v4/reports/users"].requests,
        14,
        "every report request is counted under one route"
    );
}

#[test]
fn mattermost_status_ids_validates_and_answers_every_id_once() {
    let sb = mattermost();
    seed(&sb, &["ann", "bob"]);
    let ann = Mm::login(&sb, "ann", PW);
    let id = |n: &str| {
        sb.users().into_iter().find(|u| u["username"] == n).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (id("ann"), id("bob"));
    // Ann sets her status; Bob has none.
    let r = send(
        ann.client
            .put(format!("{}/api/v4/users/{a}/status", ann.base))
            .bearer_auth(&ann.token)
            .json(&json!({"user_id": a, "status": "dnd"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ann.post_raw("/users/status/ids", &json!([b, a, b]).to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    let got: Vec<(String, String)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["user_id"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Known statuses first, then the synthesised offline ones: not the input order.
    assert_eq!(got, vec![(a.clone(), "dnd".into()), (b, "offline".into())]);
    for bad in ["[]", "[\"short\"]"] {
        let r = ann.post_raw("/users/status/ids", bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["id"], "api.context.invalid_body_param.app_error");
    }
    let r = ann.post_raw("/users/status/ids", "{");
    assert_eq!(r.body["id"], "api.payload.parse.error");
    assert_eq!(
        roster_sandbox::writes_in(&sb.counters()),
        1,
        "a status read is no write"
    );
}

#[test]
fn rocketchat_list_projects_dates_and_ldap_for_full_viewers_only() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    seed(&sb, &["ann", "bob"]);
    sb.set_account_facts(
        "ann",
        &AccountFacts {
            created_at: Some(1_500_000_000_000),
            last_login: Some(Some(1_600_000_000_000)),
            auth_service: Some("ldap".into()),
            ..AccountFacts::default()
        },
    )
    .unwrap();
    // TOTP is kept (users.resetTOTP clears it), but no listing shows it to another user.
    sb.set_account_facts(
        "ann",
        &AccountFacts {
            mfa_active: Some(true),
            ..AccountFacts::default()
        },
    )
    .unwrap();
    assert_eq!(sb.mfa("ann"), Some(true));
    let fields = r#"{"username":1,"createdAt":1,"lastLogin":1,"ldap":1}"#;
    let path = format!(
        "/api/v1/users.list?count=100&fields={}",
        percent_encoding::utf8_percent_encode(fields, percent_encoding::NON_ALPHANUMERIC)
    );
    let find = |r: &Reply, n: &str| {
        r.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == n)
            .cloned()
            .unwrap()
    };
    let admin = Session::admin(&sb);
    let r = admin.get(&path);
    assert_eq!(r.status, 200, "{}", r.text);
    let ann = find(&r, "ann");
    assert_eq!(ann["createdAt"], "2017-07-14T02:40:00.000Z");
    assert_eq!(ann["lastLogin"], "2020-09-13T12:26:40.000Z");
    assert_eq!(ann["ldap"], true);
    assert_eq!(ann["status"], "offline");
    assert!(
        ann.get("services").is_none() && ann.get("totp").is_none(),
        "{ann}"
    );
    let bob = find(&r, "bob");
    assert!(bob.get("lastLogin").is_none() && bob.get("ldap").is_none());
    assert!(bob["createdAt"].is_string());

    // A plain user (no view-full-other-user-info) gets neither dates nor emails nor roles.
    let plain = Session::login(&sb, "bob", PW);
    let r = plain.get(&path);
    assert_eq!(r.status, 200, "{}", r.text);
    let ann = find(&r, "ann");
    for k in ["createdAt", "lastLogin", "emails", "roles"] {
        assert!(ann.get(k).is_none(), "{k}: {ann}");
    }
    assert_eq!(ann["ldap"], true, "ldap is no limited field");
}
