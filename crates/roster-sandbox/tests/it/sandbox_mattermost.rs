//! The Mattermost flavor through HTTP: login, the user endpoints with their exact AppError
//! ids, paging, LDAP-managed users, the GCRA rate limiter, faults and the state file.
//! Expected behaviour is that of /work/shared/docs/mattermost-api.md.

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Client;
use roster_sandbox::mattermost::ManualClock;
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use roster_test_support::{
    ADMIN_PW, IMPORTER_PW, Reply, client, config, mm_login_raw, send, start,
};
use serde_json::{Value, json};

/// A Mattermost sandbox with the test defaults (fast bcrypt, known passwords, seed 42).
fn mm() -> SandboxConfig {
    SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    }
}

/// A logged-in client using `Authorization: Bearer`.
struct Mm {
    base: String,
    client: Client,
    token: String,
    id: String,
}

impl Mm {
    fn login(sb: &Sandbox, user: &str, password: &str) -> Mm {
        let client = client();
        let r = mm_login_raw(&client, &sb.url(), user, password);
        assert_eq!(r.status, 200, "login as {user}: {}", r.text);
        Mm {
            base: sb.url(),
            token: r.header("token").expect("a Token header"),
            id: r.body["id"].as_str().expect("id").to_string(),
            client,
        }
    }

    fn admin(sb: &Sandbox) -> Mm {
        Mm::login(sb, "admin", ADMIN_PW)
    }

    fn req(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut rb = self
            .client
            .request(method, format!("{}/api/v4{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        send(rb)
    }

    fn get(&self, path: &str) -> Reply {
        self.req(Method::GET, path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        self.req(Method::POST, path, Some(body))
    }

    fn put(&self, path: &str, body: &Value) -> Reply {
        self.req(Method::PUT, path, Some(body))
    }

    fn delete(&self, path: &str) -> Reply {
        self.req(Method::DELETE, path, None)
    }

    /// POST /users with a raw body.
    fn post_raw(&self, path: &str, body: &str) -> Reply {
        send(
            self.client
                .post(format!("{}/api/v4{path}", self.base))
                .bearer_auth(&self.token)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
    }

    fn create(&self, username: &str, email: &str) -> String {
        let r = self.post(
            "/users",
            &json!({"username": username, "email": email, "password": "Passw0rd-long"}),
        );
        assert_eq!(r.status, 201, "create {username}: {}", r.text);
        r.body["id"].as_str().expect("id").to_string()
    }
}

/// An `AppError` body, exactly: five fields, `detailed_error` wiped, the request id of
/// the `X-Request-Id` header.
#[track_caller]
fn assert_app_error(r: &Reply, status: u16, id: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let obj = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not JSON: {}", r.text));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "detailed_error",
            "id",
            "message",
            "request_id",
            "status_code"
        ],
        "{}",
        r.text
    );
    assert_eq!(r.body["id"], id, "{}", r.text);
    assert_eq!(r.body["detailed_error"], "");
    assert_eq!(r.body["status_code"], status);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let rid = r.header("x-request-id").expect("X-Request-Id");
    assert_eq!(r.body["request_id"], rid.as_str());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
}

fn is_mm_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn seed(sb: &Sandbox, users: &[(&str, bool)]) -> Vec<String> {
    let seeds: Vec<SeedUser> = users
        .iter()
        .map(|(name, active)| SeedUser {
            username: name.to_string(),
            email: format!("{name}@example.org"),
            name: format!("Seed {name}"),
            password: Some("Seeded-pw-1".into()),
            active: *active,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&seeds).expect("seed")
}

fn names(r: &Reply) -> Vec<String> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|u| u["username"].as_str().unwrap_or("").to_string())
        .collect()
}

fn user_by_name(sb: &Sandbox, name: &str) -> Value {
    sb.users()
        .into_iter()
        .find(|u| u["username"] == name)
        .unwrap_or_else(|| panic!("no user {name}"))
}

#[test]
fn login_is_200_with_the_token_header_and_every_token_form_works() {
    let sb = start(mm());
    let c = client();
    let r = mm_login_raw(&c, &sb.url(), "admin", ADMIN_PW);
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.header("token").expect("Token header");
    assert!(is_mm_id(&token), "{token}");
    assert!(is_mm_id(r.body["id"].as_str().unwrap()));
    assert_eq!(r.body["username"], "admin");
    assert_eq!(r.body["roles"], "system_user system_admin");
    assert_eq!(r.body["auth_data"], "");
    assert!(r.body.get("password").is_none() && r.body.get("mfa_secret").is_none());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(r.header("x-request-id").is_some_and(|v| is_mm_id(&v)));
    assert!(
        r.header("x-version-id")
            .is_some_and(|v| v.starts_with("10.11.0.") && v.ends_with(".true"))
    );
    // No limiter headers: RateLimitSettings.Enable is off by default.
    assert!(r.header("x-ratelimit-limit").is_none());
    // No cookies unless the caller is a browser.
    assert!(r.header("set-cookie").is_none());

    let me = |rb: reqwest::blocking::RequestBuilder| send(rb);
    let url = format!("{}/api/v4/users/me", sb.url());
    let r = me(c
        .get(&url)
        .header("Authorization", format!("Bearer {token}")));
    assert_eq!(
        (r.status, r.body["username"].as_str()),
        (200, Some("admin"))
    );
    assert_eq!(r.header("expires").as_deref(), Some("0"));
    let r = me(c
        .get(&url)
        .header("Authorization", format!("BEARER {token}")));
    assert_eq!(r.status, 200);
    let r = me(c
        .get(&url)
        .header("Authorization", format!("Token {token}")));
    assert_eq!(r.status, 200);
    let r = me(c.get(&url).header("Cookie", format!("MMAUTHTOKEN={token}")));
    assert_eq!(r.status, 200);
    // The cookie wins over the header.
    let r = me(c
        .get(&url)
        .header("Cookie", "MMAUTHTOKEN=nope")
        .header("Authorization", format!("Bearer {token}")));
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    // A session token in the query string is refused.
    let r = me(c.get(format!("{url}?access_token={token}")));
    assert_app_error(&r, 401, "api.context.token_provided.app_error");

    // Email login, any case; the id form.
    let r = mm_login_raw(&c, &sb.url(), "ADMIN@example.COM", ADMIN_PW);
    assert_eq!(r.status, 200, "{}", r.text);
    let admin_id = r.body["id"].as_str().unwrap().to_string();
    let r = send(
        c.post(format!("{}/api/v4/users/login", sb.url()))
            .json(&json!({"id": admin_id, "password": ADMIN_PW})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        mm_login_raw(&c, &sb.url(), "importer", IMPORTER_PW).status,
        200
    );

    // Masked failures, the blank-password exception.
    for (user, pw) in [("admin", "wrong"), ("nobody", "whatever")] {
        let r = mm_login_raw(&c, &sb.url(), user, pw);
        assert_app_error(&r, 401, "api.user.login.invalid_credentials_email_username");
    }
    let r = mm_login_raw(&c, &sb.url(), "admin", "");
    assert_app_error(&r, 400, "api.user.login.blank_pwd.app_error");
    // A non-string password reads as "" (MapFromJSON).
    let r = send(
        c.post(format!("{}/api/v4/users/login", sb.url()))
            .json(&json!({"login_id": "admin", "password": 12345678})),
    );
    assert_app_error(&r, 400, "api.user.login.blank_pwd.app_error");

    // A browser login gets the three cookies.
    let r = send(
        c.post(format!("{}/api/v4/users/login", sb.url()))
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&json!({"login_id": "admin", "password": ADMIN_PW})),
    );
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    assert!(cookies[0].starts_with(&format!("MMAUTHTOKEN={}", r.header("token").unwrap())));

    // Ping and unknown routes.
    let r = send(c.get(format!("{}/api/v4/system/ping", sb.url())));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    let r = send(c.get(format!("{}/api/v4/nothing/here", sb.url())));
    assert_app_error(&r, 404, "api.context.404.app_error");
    // A wrong method falls through to the catch-all, like the gorilla router does.
    let r = send(c.get(format!("{}/api/v4/users/login", sb.url())));
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
}

#[test]
fn failed_logins_lock_the_account_after_ten_attempts() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    admin.create("locky", "locky@example.org");
    let c = client();
    for _ in 0..10 {
        let r = mm_login_raw(&c, &sb.url(), "locky", "wrong-password");
        assert_app_error(&r, 401, "api.user.login.invalid_credentials_email_username");
    }
    assert_eq!(user_by_name(&sb, "locky")["failed_attempts"], 10);
    // Now even the right password is refused, with the unmasked id.
    let r = mm_login_raw(&c, &sb.url(), "locky", "Passw0rd-long");
    assert_app_error(
        &r,
        401,
        "api.user.check_user_login_attempts.too_many.app_error",
    );
}

#[test]
fn an_invalid_token_is_401_on_session_routes_and_ignored_on_create() {
    let sb = start(mm());
    let c = client();
    let url = |p: &str| format!("{}/api/v4{p}", sb.url());
    let r = send(c.get(url("/users/me")));
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    let r = send(
        c.get(url("/users/me"))
            .bearer_auth("notarealtokennotarealtoken"),
    );
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    assert_eq!(
        r.body["message"],
        "Invalid or expired session, please login again."
    );
    let r = send(
        c.post(url("/users/usernames"))
            .bearer_auth("bad")
            .json(&json!(["admin"])),
    );
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    // POST /users does not require a session: the bad token is dropped, and an anonymous
    // sign-up meets EnableOpenServer=false.
    let body = json!({"username": "anon", "email": "anon@example.org", "password": "Passw0rd-long",
                      "auth_service": "ldap", "email_verified": true});
    let r = send(c.post(url("/users")).bearer_auth("bad").json(&body));
    assert_app_error(&r, 403, "api.user.create_user.no_open_server");
    assert_eq!(sb.users().len(), 2);
    drop(sb);

    // With an open server the anonymous sign-up works, without the admin-only fields.
    let sb = start(SandboxConfig {
        mm_open_server: true,
        ..mm()
    });
    let r = send(
        c.post(format!("{}/api/v4/users", sb.url()))
            .bearer_auth("bad")
            .json(&body),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["auth_service"], "");
    assert!(r.body.get("email_verified").is_none());
    assert_eq!(r.body["roles"], "system_user");
}

#[test]
fn create_is_201_lowercases_and_ignores_client_roles() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let r = admin.post(
        "/users",
        &json!({"username": "Alice.Smith", "email": "  Alice@Example.ORG ", "password": "Passw0rd-long",
                "first_name": "Alice", "roles": "system_admin system_user", "locale": "xx",
                "props": {"dept": "ops"}, "email_verified": true}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let u = &r.body;
    let id = u["id"].as_str().unwrap().to_string();
    assert!(is_mm_id(&id));
    assert_eq!(u["username"], "alice.smith");
    assert_eq!(u["email"], "alice@example.org");
    assert_eq!(u["roles"], "system_user");
    assert_eq!(u["locale"], "en");
    assert_eq!(u["props"], json!({"dept": "ops"}));
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["auth_data"], "");
    assert_eq!(u["delete_at"], 0);
    assert!(u.get("password").is_none());
    assert_eq!(u["notify_props"]["email"], "true");
    assert_eq!(u["timezone"]["useAutomaticTimezone"], "true");
    // The same user comes back by id; the new account can log in.
    let r = admin.get(&format!("/users/{id}"));
    assert_eq!(r.body["username"], "alice.smith");
    let alice = Mm::login(&sb, "Alice.Smith", "Passw0rd-long");
    assert_eq!(alice.id, id);
    assert_eq!(alice.get("/users/me").body["roles"], "system_user");
    // A non-admin session is not the admin path: sign-up rules apply.
    let r = alice.post(
        "/users",
        &json!({"username": "x1", "email": "x1@example.org", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 403, "api.user.create_user.no_open_server");
    // A missing username is generated (PreSave: NewId), not refused.
    let r = admin.post(
        "/users",
        &json!({"email": "nameless@example.org", "password": "Passw0rd-long"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(is_mm_id(r.body["username"].as_str().unwrap()));
}

#[test]
fn duplicates_in_another_case_get_the_exact_ids() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    admin.create("Bob", "Bob@Example.org");
    let r = admin.post(
        "/users",
        &json!({"username": "BOB", "email": "other@example.org", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 400, "app.user.save.username_exists.app_error");
    let r = admin.post(
        "/users",
        &json!({"username": "robert", "email": "BOB@EXAMPLE.ORG", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 400, "app.user.save.email_exists.app_error");
    // Both taken: the username index is hit first.
    let r = admin.post(
        "/users",
        &json!({"username": "bob", "email": "bob@example.org", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 400, "app.user.save.username_exists.app_error");
    // The email is trimmed before the check.
    let r = admin.post(
        "/users",
        &json!({"username": "robert", "email": " bob@example.org\t", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 400, "app.user.save.email_exists.app_error");
    assert_eq!(sb.users().len(), 3);
}

#[test]
fn validation_runs_in_the_servers_order_with_its_ids() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let create = |body: Value| admin.post("/users", &body);
    let pw = "Passw0rd-long";
    let cases: Vec<(Value, &str)> = vec![
        // Password policy first (8..=72 bytes), skipped with an auth service.
        (
            json!({"username": "p1", "email": "p1@example.org", "password": "short"}),
            "model.user.is_valid.pwd_min_length.app_error",
        ),
        (
            json!({"username": "p2", "email": "p2@example.org"}),
            "model.user.is_valid.pwd_min_length.app_error",
        ),
        (
            json!({"username": "p3", "email": "p3@example.org", "password": "x".repeat(73)}),
            "model.user.is_valid.pwd_max_length.app_error",
        ),
        (
            json!({"username": "BAD NAME", "email": "not-an-email", "password": "short"}),
            "model.user.is_valid.pwd_min_length.app_error",
        ),
        // Then a client id, then IsValid: username before email.
        (
            json!({"id": "abcdefghijklmnopqrstuvwxyz", "username": "p4", "email": "p4@example.org", "password": pw}),
            "app.user.save.existing.app_error",
        ),
        (
            json!({"username": "bad name", "email": "not-an-email", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "x".repeat(65), "email": "p5@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "ALL", "email": "p6@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "channel", "email": "p6@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "matterbot", "email": "p6@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "system", "email": "p6@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "émile", "email": "p6@example.org", "password": pw}),
            "model.user.is_valid.username.app_error",
        ),
        (
            json!({"username": "p7", "email": "not-an-email", "password": pw}),
            "model.user.is_valid.email.app_error",
        ),
        (
            json!({"username": "p7", "email": "Bob <bob@example.org>", "password": pw}),
            "model.user.is_valid.email.app_error",
        ),
        (
            json!({"username": "p7", "password": pw}),
            "model.user.is_valid.email.app_error",
        ),
        (
            json!({"username": "p7", "email": format!("{}@example.org", "x".repeat(117)), "password": pw}),
            "model.user.is_valid.email.app_error",
        ),
        (
            json!({"username": "p8", "email": "p8@example.org", "password": pw, "nickname": "n".repeat(65)}),
            "model.user.is_valid.nickname.app_error",
        ),
        (
            json!({"username": "p8", "email": "p8@example.org", "password": pw, "position": "p".repeat(129)}),
            "model.user.is_valid.position.app_error",
        ),
        (
            json!({"username": "p8", "email": "p8@example.org", "password": pw, "first_name": "é".repeat(65)}),
            "model.user.is_valid.first_name.app_error",
        ),
        (
            json!({"username": "p8", "email": "p8@example.org", "password": pw, "last_name": "l".repeat(65)}),
            "model.user.is_valid.last_name.app_error",
        ),
        (
            json!({"username": "p9", "email": "p9@example.org", "password": pw, "auth_data": "uid9"}),
            "model.user.is_valid.auth_data_type.app_error",
        ),
        (
            json!({"username": "p9", "email": "p9@example.org", "password": pw, "auth_data": "uid9", "auth_service": "ldap"}),
            "model.user.is_valid.auth_data_pwd.app_error",
        ),
        (
            json!({"username": "p9", "email": "p9@example.org", "auth_data": "u".repeat(129), "auth_service": "ldap"}),
            "model.user.is_valid.auth_data.app_error",
        ),
        (
            json!({"username": "p9", "email": "p9@example.org", "password": pw, "timezone": {"manualTimezone": "z".repeat(250)}}),
            "model.user.is_valid.timezone_limit.app_error",
        ),
        // Go's decoder refuses a wrong type anywhere: 400 {user}.
        (
            json!({"username": "p10", "email": "p10@example.org", "password": pw, "roles": ["system_user"]}),
            "api.context.invalid_body_param.app_error",
        ),
        (
            json!({"username": 10, "email": "p10@example.org", "password": pw}),
            "api.context.invalid_body_param.app_error",
        ),
        (
            json!(["not", "an", "object"]),
            "api.context.invalid_body_param.app_error",
        ),
    ];
    for (body, id) in cases {
        let r = create(body.clone());
        assert_eq!(r.body["id"], id, "{body}: {}", r.text);
        assert_app_error(&r, 400, id);
    }
    let r = admin.post_raw("/users", "{\"username\": ");
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    assert_eq!(
        r.body["message"],
        "Invalid or missing user in request body."
    );
    assert_eq!(sb.users().len(), 2, "nothing was created");

    // The limits themselves are allowed.
    let ok = [
        json!({"username": "x".repeat(64), "email": "long@example.org", "password": "y".repeat(72)}),
        json!({"username": "eight", "email": "eight@example.org", "password": "12345678"}),
        json!({"username": "allx", "email": "\"quoted local\"@example.org", "password": pw}),
        json!({"username": "ldap.one", "email": "ldap1@example.org", "auth_service": "ldap", "auth_data": "uid-1"}),
        json!({"username": "ldap.two", "email": "ldap2@example.org", "auth_service": "ldap", "password": "x"}),
    ];
    for body in ok {
        let r = create(body.clone());
        assert_eq!(r.status, 201, "{body}: {}", r.text);
    }
    // auth_data is unique too.
    let r = create(
        json!({"username": "ldap.three", "email": "ldap3@example.org", "auth_service": "ldap", "auth_data": "uid-1"}),
    );
    assert_app_error(&r, 400, "app.user.save.existing.app_error");
}

#[test]
fn single_lookups_and_the_usernames_batch() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let bob = admin.create("bob", "Bob@example.org");
    admin.create("carol", "carol@example.org");
    let dave = admin.create("dave", "dave@example.org");
    assert_eq!(admin.delete(&format!("/users/{dave}")).status, 200);

    let r = admin.get("/users/username/bob");
    assert_eq!((r.status, r.body["id"].as_str()), (200, Some(bob.as_str())));
    let etag = r.header("etag").expect("ETag");
    let r = send(
        admin
            .client
            .get(format!("{}/api/v4/users/username/bob", admin.base))
            .bearer_auth(&admin.token)
            .header("If-None-Match", &etag),
    );
    assert_eq!(r.status, 304);
    let r = admin.get("/users/username/Bob");
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    let r = admin.get("/users/username/ghost");
    assert_app_error(&r, 404, "app.user.get_by_username.app_error");

    let r = admin.get("/users/email/BOB@EXAMPLE.ORG");
    assert_eq!((r.status, r.body["id"].as_str()), (200, Some(bob.as_str())));
    let r = admin.get("/users/email/not-an-email");
    assert_app_error(&r, 400, "api.context.invalid_url_param.app_error");
    let r = admin.get("/users/email/ghost@example.org");
    assert_app_error(&r, 404, "app.user.missing_account.const");

    let r = admin.get(&format!("/users/{bob}"));
    assert_eq!(r.body["email"], "bob@example.org");
    let r = admin.get("/users/abcdefghijklmnopqrstuvwxyz");
    assert_app_error(&r, 404, "app.user.missing_account.const");
    let r = admin.get("/users/tooshort");
    assert_app_error(&r, 400, "api.context.invalid_url_param.app_error");

    // Exact, case-sensitive matches on the stored lowercase names; unknown ones left out;
    // the deactivated one included; sorted by username.
    let r = admin.post(
        "/users/usernames",
        &json!(["dave", "BOB", "ghost", "carol", "bob", "bob"]),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["bob", "carol", "dave"]);
    assert!(r.body[2]["delete_at"].as_i64().unwrap() > 0);
    for body in [json!([]), json!({"usernames": ["bob"]}), json!([1, 2])] {
        let r = admin.post("/users/usernames", &body);
        assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    }
    let r = admin.post(
        "/users/ids",
        &json!([dave, bob, "abcdefghijklmnopqrstuvwxyz"]),
    );
    assert_eq!(names(&r), ["bob", "dave"]);

    // A plain user sees others without the admin-only fields.
    let carol = Mm::login(&sb, "carol", "Passw0rd-long");
    let r = carol.get(&format!("/users/{bob}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["email"], "bob@example.org");
    assert!(r.body.get("notify_props").is_none());
    assert!(carol.get("/users/me").body.get("notify_props").is_some());
    assert_eq!(
        carol.get("/users/stats").body,
        json!({"total_users_count": 4})
    );
}

#[test]
fn listing_pages_caps_sorts_and_includes_the_inactive() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let mut seeds: Vec<(String, bool)> = (0..250)
        .map(|i| (format!("u{i:03}"), i % 10 != 3))
        .collect();
    seeds.push(("zed".into(), true));
    let refs: Vec<(&str, bool)> = seeds.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    seed(&sb, &refs);
    let total = 253; // + admin, importer
    let mut expected: Vec<String> = sb
        .users()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    expected.sort();

    let r = admin.get("/users");
    assert_eq!(names(&r), expected[..60]);
    let r = admin.get("/users?per_page=500");
    assert_eq!(names(&r), expected[..200], "per_page is clamped to 200");
    let r = admin.get("/users?per_page=200&page=1");
    assert_eq!(names(&r), expected[200..]);
    assert_eq!(names(&admin.get("/users?per_page=-1")).len(), 60);
    assert_eq!(names(&admin.get("/users?per_page=x&pageSize=7")).len(), 7);
    assert_eq!(
        names(&admin.get("/users?page=-3&per_page=2")),
        expected[..2]
    );
    assert!(names(&admin.get("/users?per_page=0")).is_empty());

    let mut all = Vec::new();
    for page in 0.. {
        let batch = names(&admin.get(&format!("/users?page={page}&per_page=100")));
        let n = batch.len();
        all.extend(batch);
        if n < 100 {
            break;
        }
    }
    assert_eq!(all.len(), total);
    let inactive = names(&admin.get("/users?inactive=true&per_page=200"));
    assert_eq!(inactive.len(), 25);
    assert!(inactive.iter().all(|n| n.ends_with('3') && n.len() == 4));
    assert_eq!(
        names(&admin.get("/users?active=true&per_page=200&page=1")).len(),
        total - 25 - 200
    );
    assert_eq!(
        names(&admin.get("/users?role=system_admin")),
        ["admin", "importer"]
    );

    let r = admin.get("/users?sort=create_at");
    assert_app_error(&r, 400, "api.context.invalid_url_param.app_error");
    let r = admin.get("/users?sort=bogus");
    assert_app_error(&r, 400, "api.context.invalid_url_param.app_error");
    // The quirk: both filters set an error without returning, so the 200 list is written
    // and the error JSON follows it in the same body.
    let r = admin.get("/users?active=true&inactive=true&per_page=2");
    assert_eq!(r.status, 200);
    let mut stream = serde_json::Deserializer::from_str(&r.text).into_iter::<Value>();
    let list = stream.next().unwrap().unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let err = stream.next().unwrap().unwrap();
    assert_eq!(err["id"], "api.context.invalid_url_param.app_error");
}

#[test]
fn patch_applies_only_the_fields_given() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let r = admin.post(
        "/users",
        &json!({"username": "erin", "email": "erin@example.org", "password": "Passw0rd-long",
                "first_name": "Erin", "last_name": "Old", "props": {"a": "1", "b": "2"}}),
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    let before_update = r.body["update_at"].as_i64().unwrap();
    admin.create("frank", "frank@example.org");

    std::thread::sleep(Duration::from_millis(5));
    let r = admin.put(
        &format!("/users/{id}/patch"),
        &json!({"nickname": "E", "first_name": null, "props": {"c": "3"},
                "notify_props": {"email": "false"}, "username": "Erin.New"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["nickname"], "E");
    assert_eq!(r.body["first_name"], "Erin");
    assert_eq!(r.body["last_name"], "Old");
    assert_eq!(r.body["username"], "erin.new");
    assert_eq!(r.body["props"], json!({"c": "3"}));
    assert_eq!(r.body["notify_props"], json!({"email": "false"}));
    assert!(r.body["update_at"].as_i64().unwrap() > before_update);
    assert_eq!(r.body["roles"], "system_user");

    let r = admin.put(&format!("/users/{id}/patch"), &json!({"username": "FRANK"}));
    assert_app_error(&r, 400, "app.user.save.username_exists.app_error");
    let r = admin.put(
        &format!("/users/{id}/patch"),
        &json!({"email": "Frank@Example.org"}),
    );
    assert_app_error(&r, 400, "app.user.save.email_exists.app_error");
    let r = admin.put(&format!("/users/{id}/patch"), &json!({"email": "broken"}));
    assert_app_error(&r, 400, "model.user.is_valid.email.app_error");
    let r = admin.put(&format!("/users/{id}/patch"), &json!({"username": "all"}));
    assert_app_error(&r, 400, "model.user.is_valid.username.app_error");
    let r = admin.put(&format!("/users/{id}/patch"), &json!({"nickname": 5}));
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    let r = admin.put(
        "/users/abcdefghijklmnopqrstuvwxyz/patch",
        &json!({"nickname": "x"}),
    );
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    assert_eq!(
        r.body["message"],
        "Invalid or missing user_id in request body."
    );
    // The failed patches changed nothing.
    let u = user_by_name(&sb, "erin.new");
    assert_eq!(u["email"], "erin@example.org");

    // A user may patch themselves; changing their own email needs the password.
    let erin = Mm::login(&sb, "erin.new", "Passw0rd-long");
    let r = erin.put("/users/me/patch", &json!({"position": "Lead"}));
    assert_eq!((r.status, r.body["position"].as_str()), (200, Some("Lead")));
    let r = erin.put("/users/me/patch", &json!({"email": "erin2@example.org"}));
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    let r = erin.put(
        "/users/me/patch",
        &json!({"email": "erin2@example.org", "password": "Passw0rd-long"}),
    );
    assert_eq!(
        (r.status, r.body["email"].as_str()),
        (200, Some("erin2@example.org"))
    );
    // But not others, nor an admin.
    let frank = user_by_name(&sb, "frank")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = erin.put(&format!("/users/{frank}/patch"), &json!({"nickname": "x"}));
    assert_app_error(&r, 403, "api.context.permissions.app_error");

    // PUT /users/{id}: the body replaces everything it can, and must name the same id.
    let r = admin.put(
        &format!("/users/{id}"),
        &json!({"id": frank, "username": "x"}),
    );
    assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    let r = admin.put(
        &format!("/users/{id}"),
        &json!({"id": id, "username": "erin.new", "email": "erin2@example.org", "roles": "system_admin"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["position"], "", "omitted fields are cleared");
    assert_eq!(r.body["last_name"], "");
    assert_eq!(
        r.body["roles"], "system_user",
        "roles are not updated this way"
    );
}

#[test]
fn roles_take_a_space_separated_string() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("gina", "gina@example.org");
    let path = format!("/users/{id}/roles");
    let r = admin.put(&path, &json!({"roles": "system_user system_admin"}));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    assert_eq!(
        admin.get(&format!("/users/{id}")).body["roles"],
        "system_user system_admin"
    );

    for roles in ["system_admin", "System_user", "system-user"] {
        let r = admin.put(&path, &json!({"roles": roles}));
        assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    }
    let r = admin.put(&path, &json!({"roles": "system_user nonexistent_role"}));
    assert_app_error(&r, 400, "app.role.check_roles_exist.role_not_found");
    let r = admin.put(
        "/users/abcdefghijklmnopqrstuvwxyz/roles",
        &json!({"roles": "system_user"}),
    );
    assert_app_error(&r, 400, "app.user.missing_account.const");
    // An array is not a string: MapFromJSON reads "" and the roles are cleared.
    let r = admin.put(&path, &json!({"roles": ["system_user"]}));
    assert_eq!(r.status, 200);
    assert_eq!(admin.get(&format!("/users/{id}")).body["roles"], "");
    admin.put(&path, &json!({"roles": "system_user"}));

    let gina = Mm::login(&sb, "gina", "Passw0rd-long");
    let r = gina.put(&path, &json!({"roles": "system_user system_admin"}));
    assert_app_error(&r, 403, "api.context.permissions.app_error");

    // The last active system admin cannot be demoted.
    let importer = user_by_name(&sb, "importer")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.put(
        &format!("/users/{importer}/roles"),
        &json!({"roles": "system_user"}),
    );
    assert_eq!(r.status, 200);
    let r = admin.put(
        &format!("/users/{}/roles", admin.id),
        &json!({"roles": "system_user"}),
    );
    assert_app_error(&r, 400, "app.user.update.lastAdmin.app_error");
}

#[test]
fn get_roles_lists_every_role_to_system_admins_and_put_roles_takes_exactly_those() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let r = admin.get("/roles");
    assert_eq!(r.status, 200, "{}", r.text);
    let roles = r.body.as_array().expect("an array of roles");
    for role in roles {
        let mut keys: Vec<&str> = role
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "built_in",
                "create_at",
                "delete_at",
                "description",
                "display_name",
                "id",
                "name",
                "permissions",
                "scheme_managed",
                "update_at"
            ]
        );
        assert!(is_mm_id(role["id"].as_str().unwrap()), "{role}");
    }
    let names: Vec<&str> = roles.iter().filter_map(|r| r["name"].as_str()).collect();
    for n in [
        "system_user",
        "system_admin",
        "system_guest",
        "team_user",
        "channel_admin",
    ] {
        assert!(names.contains(&n), "{n}: {names:?}");
    }
    let admin_role = roles.iter().find(|r| r["name"] == "system_admin").unwrap();
    assert_eq!(
        admin_role["display_name"],
        "authentication.roles.global_admin.name"
    );
    assert_eq!(admin.get("/roles").body, r.body, "the same on every read");

    // Every listed role is one PUT /users/{id}/roles accepts (CheckRolesExist), and only those.
    let id = admin.create("hana", "hana@example.org");
    let path = format!("/users/{id}/roles");
    for n in &names {
        let r = admin.put(&path, &json!({"roles": format!("system_user {n}")}));
        assert_eq!(r.status, 200, "{n}: {}", r.text);
    }
    let r = admin.put(&path, &json!({"roles": "system_user admn"}));
    assert_app_error(&r, 400, "app.role.check_roles_exist.role_not_found");

    // manage_system is needed; a session is needed.
    admin.put(&path, &json!({"roles": "system_user"}));
    let hana = Mm::login(&sb, "hana", "Passw0rd-long");
    assert_app_error(
        &hana.get("/roles"),
        403,
        "api.context.permissions.app_error",
    );
    let r = send(client().get(format!("{}/api/v4/roles", sb.url())));
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    assert_eq!(sb.counters()["GET /api/v4/roles"].requests, 4);
}

#[test]
fn active_needs_a_json_bool_and_deactivation_revokes_sessions() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("hank", "hank@example.org");
    let hank = Mm::login(&sb, "hank", "Passw0rd-long");
    let path = format!("/users/{id}/active");
    for body in [
        json!({"active": "false"}),
        json!({"active": 0}),
        json!({}),
        json!({"Active": false}),
    ] {
        let r = admin.put(&path, &body);
        assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    }
    let r = hank.put(
        &format!("/users/{}/active", admin.id),
        &json!({"active": false}),
    );
    assert_app_error(&r, 403, "api.user.update_active.permissions.app_error");
    let r = hank.put("/users/me/active", &json!({"active": false}));
    assert_app_error(&r, 401, "api.user.update_active.not_enable.app_error");
    let r = admin.put("/users/me/active", &json!({"active": false}));
    assert_app_error(&r, 401, "api.user.update_active.not_enable.app_error");

    let r = admin.put(&path, &json!({"active": false}));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    assert!(user_by_name(&sb, "hank")["delete_at"].as_i64().unwrap() > 0);
    let r = hank.get("/users/me");
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    let r = mm_login_raw(&client(), &sb.url(), "hank", "Passw0rd-long");
    assert_app_error(&r, 401, "api.user.login.inactive.app_error");
    let r = mm_login_raw(&client(), &sb.url(), "hank", "not-his-password");
    assert_app_error(&r, 401, "api.user.login.invalid_credentials_email_username");

    let r = admin.put(&path, &json!({"active": true}));
    assert_eq!(r.status, 200);
    assert_eq!(user_by_name(&sb, "hank")["delete_at"], 0);
    // Guests cannot be reactivated while guest accounts are off.
    let guest = admin.create("guest.one", "guest1@example.org");
    admin.put(
        &format!("/users/{guest}/roles"),
        &json!({"roles": "system_guest"}),
    );
    assert_eq!(
        admin
            .put(&format!("/users/{guest}/active"), &json!({"active": false}))
            .status,
        200
    );
    let r = admin.put(&format!("/users/{guest}/active"), &json!({"active": true}));
    assert_app_error(
        &r,
        401,
        "api.user.update_active.cannot_enable_guest_when_guest_feature_is_disabled.app_error",
    );
    assert_eq!(
        mm_login_raw(&client(), &sb.url(), "hank", "Passw0rd-long").status,
        200
    );
}

#[test]
fn delete_deactivates_and_permanent_needs_the_switch() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("ivy", "ivy@example.org");
    let r = admin.delete(&format!("/users/{id}"));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    let u = admin.get(&format!("/users/{id}"));
    assert_eq!(u.status, 200, "still there");
    assert!(u.body["delete_at"].as_i64().unwrap() > 0);
    let r = admin.delete(&format!("/users/{id}?permanent=true"));
    assert_app_error(&r, 401, "api.user.delete_user.not_enabled.app_error");
    assert_eq!(admin.get(&format!("/users/{id}")).status, 200);
    drop(sb);

    let sb = start(SandboxConfig {
        mm_enable_api_user_deletion: true,
        ..mm()
    });
    let admin = Mm::admin(&sb);
    let id = admin.create("ivy", "ivy@example.org");
    assert_eq!(
        admin.delete(&format!("/users/{id}?permanent=true")).status,
        200
    );
    let r = admin.get(&format!("/users/{id}"));
    assert_app_error(&r, 404, "app.user.missing_account.const");
    // The name is free again.
    admin.create("ivy", "ivy@example.org");
}

#[test]
fn ldap_managed_users_refuse_status_and_provider_attribute_changes() {
    let sb = start(SandboxConfig {
        mm_ldap_users: vec!["Jane".into()],
        ..mm()
    });
    let admin = Mm::admin(&sb);
    let ids = seed(&sb, &[("jane", true), ("ken", true)]);
    let jane = &ids[0];
    let st = user_by_name(&sb, "jane");
    assert_eq!(
        (st["auth_service"].as_str(), st["auth_data"].as_str()),
        (Some("ldap"), Some("jane"))
    );
    assert_eq!(user_by_name(&sb, "ken")["auth_service"], "");
    // Pre-provisioned through the API, as a bulk tool does.
    let r = admin.post(
        "/users",
        &json!({"username": "lee", "email": "lee@example.org", "auth_service": "ldap", "auth_data": "uid=lee"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["auth_service"], "ldap");
    assert_eq!(r.body["auth_data"], "");
    let lee = r.body["id"].as_str().unwrap().to_string();

    for id in [jane, &lee] {
        for active in [false, true] {
            let r = admin.put(&format!("/users/{id}/active"), &json!({"active": active}));
            assert_app_error(
                &r,
                403,
                "api.user.update_active.cannot_modify_status_when_user_is_managed_by_ldap.app_error",
            );
        }
        for body in [
            json!({"first_name": "New"}),
            json!({"last_name": "New"}),
            json!({"email": "new@example.org"}),
            json!({"username": "renamed"}),
            json!({"nickname": "nick"}),
            json!({"position": "Boss"}),
        ] {
            let r = admin.put(&format!("/users/{id}/patch"), &body);
            assert_app_error(
                &r,
                409,
                "api.user.patch_user.login_provider_attribute_set.app_error",
            );
        }
        // Sending the current value is not a change; other fields are the API's.
        let r = admin.put(
            &format!("/users/{id}/patch"),
            &json!({"nickname": "", "props": {"k": "v"}}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["props"], json!({"k": "v"}));
    }
    // They log in against the directory, which the sandbox does not have.
    let r = mm_login_raw(&client(), &sb.url(), "lee", "anything");
    assert_app_error(&r, 401, "api.user.login.invalid_credentials_email_username");
    // DELETE still deactivates them.
    assert_eq!(admin.delete(&format!("/users/{lee}")).status, 200);
    assert!(user_by_name(&sb, "lee")["delete_at"].as_i64().unwrap() > 0);
}

#[test]
fn cookie_sessions_need_the_csrf_header_on_writes_and_logout_revokes() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let c = client();
    let url = format!("{}/api/v4/users/{}/patch", sb.url(), admin.id);
    let cookie = format!("MMAUTHTOKEN={}", admin.token);
    let r = send(
        c.put(&url)
            .header("Cookie", &cookie)
            .json(&json!({"nickname": "a"})),
    );
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    let r = send(
        c.put(&url)
            .header("Cookie", &cookie)
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&json!({"nickname": "a"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // Or the MMCSRF token a browser login hands out.
    let r = send(
        c.post(format!("{}/api/v4/users/login", sb.url()))
            .header("X-Requested-With", "XMLHttpRequest")
            .json(&json!({"login_id": "admin", "password": ADMIN_PW})),
    );
    let cookie_value = |name: &str| {
        r.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
            .expect("cookie")
    };
    let (token, csrf) = (cookie_value("MMAUTHTOKEN"), cookie_value("MMCSRF"));
    let put = |csrf: &str| {
        send(
            c.put(&url)
                .header("Cookie", format!("MMAUTHTOKEN={token}"))
                .header("X-CSRF-Token", csrf)
                .json(&json!({"nickname": "b"})),
        )
    };
    assert_eq!(put(&csrf).status, 200);
    assert_app_error(&put("wrong"), 401, "api.context.session_expired.app_error");

    let r = admin.post("/users/logout", &json!({}));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    let r = admin.get("/users/me");
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
}

/// Headers of one name, in order.
fn all(r: &Reply, name: &str) -> Vec<String> {
    r.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .collect()
}

fn ping(c: &Client, base: &str) -> Reply {
    send(c.get(format!("{base}/api/v4/system/ping")))
}

#[test]
fn gcra_numbers_are_throttled_v2_2_5s_exactly() {
    let clock = ManualClock::new();
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        clock: Some(clock.clone()),
        ..mm()
    });
    let c = client();
    let base = sb.url();
    for n in 1..=101i64 {
        let r = ping(&c, &base);
        assert_eq!(r.status, 200, "request {n}");
        assert_eq!(all(&r, "x-ratelimit-limit"), ["101"]);
        assert_eq!(
            all(&r, "x-ratelimit-remaining"),
            [(101 - n).to_string()],
            "request {n}"
        );
        assert_eq!(
            all(&r, "x-ratelimit-reset"),
            [((n + 9) / 10).to_string()],
            "request {n}"
        );
        assert!(r.header("retry-after").is_none());
    }
    let r = ping(&c, &base);
    assert_eq!(r.status, 429);
    assert_eq!(r.text, "limit exceeded\n");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("101"));
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(r.header("x-ratelimit-reset").as_deref(), Some("11"));
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    // The limiter wraps the router: the API handler, and its request id, never ran.
    assert!(r.header("x-request-id").is_none());
    // Refusals do not consume: after one emission interval exactly one request passes.
    for _ in 0..20 {
        assert_eq!(ping(&c, &base).status, 429);
    }
    clock.advance(Duration::from_millis(100));
    let r = ping(&c, &base);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(ping(&c, &base).status, 429);
    clock.advance(Duration::from_millis(50));
    let r = ping(&c, &base);
    assert_eq!(
        (r.status, r.header("retry-after").as_deref()),
        (429, Some("1"))
    );
    clock.advance(Duration::from_millis(50));
    assert_eq!(ping(&c, &base).status, 200);
    // Steady state: one request per 100 ms.
    for _ in 0..5 {
        clock.advance(Duration::from_millis(100));
        assert_eq!(ping(&c, &base).status, 200);
        assert_eq!(ping(&c, &base).status, 429);
    }
    // Every request counts, authenticated or not, errors too: login is refused as well.
    let r = mm_login_raw(&c, &base, "admin", ADMIN_PW);
    assert_eq!(r.status, 429);
    // A full refill after tau (10.1 s).
    clock.advance(Duration::from_millis(10_100));
    let r = ping(&c, &base);
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("100"));
    let counters = sb.counters();
    assert_eq!(counters["GET /api/v4/system/ping"].rate_limited, 28);
    assert_eq!(counters["POST /api/v4/users/login"].rate_limited, 1);
}

#[test]
fn the_limiter_with_a_real_clock_refuses_then_recovers() {
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        mm_per_sec: 10,
        mm_max_burst: 5,
        ..mm()
    });
    let c = client();
    let mut refused = None;
    for i in 0..200 {
        let r = ping(&c, &sb.url());
        if r.status == 429 {
            refused = Some((i, r));
            break;
        }
        assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("6"));
    }
    let (i, r) = refused.expect("a 429 while hammering faster than 10/s");
    assert!(i >= 6, "the burst of 6 passes first (refused at {i})");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(ping(&c, &sb.url()).status, 200);
}

#[test]
fn vary_by_user_adds_a_second_set_of_headers() {
    let clock = ManualClock::new();
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        mm_vary_by_user: true,
        clock: Some(clock),
        ..mm()
    });
    // Logins carry no token: keyed by address, one set of headers.
    let c = client();
    let r = mm_login_raw(&c, &sb.url(), "admin", ADMIN_PW);
    assert_eq!(all(&r, "x-ratelimit-remaining"), ["100"]);
    let a = Mm::admin(&sb);
    let b = Mm::admin(&sb);
    for _ in 0..3 {
        a.get("/users/me");
    }
    // Session b's token bucket is fresh; the admin's user-id bucket has 3 requests in it.
    let r = b.get("/users/me");
    assert_eq!(r.status, 200);
    assert_eq!(all(&r, "x-ratelimit-limit"), ["101", "101"]);
    assert_eq!(all(&r, "x-ratelimit-remaining"), ["100", "97"]);
    assert_eq!(all(&r, "x-ratelimit-reset"), ["1", "1"]);
    // A token that matches no session: its own bucket, and the user-id bucket "".
    let r = send(
        c.get(format!("{}/api/v4/users/me", sb.url()))
            .bearer_auth("nosuchtoken"),
    );
    assert_app_error(&r, 401, "api.context.session_expired.app_error");
    assert_eq!(all(&r, "x-ratelimit-remaining"), ["100", "100"]);
}

#[test]
fn vary_by_header_and_the_global_bucket() {
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        mm_vary_by_remote_addr: false,
        mm_vary_by_header: Some("X-Tenant".into()),
        mm_max_burst: 2,
        clock: Some(ManualClock::new()),
        ..mm()
    });
    let c = client();
    let ping_as = |tenant: Option<&str>| {
        let mut rb = c.get(format!("{}/api/v4/system/ping", sb.url()));
        if let Some(t) = tenant {
            rb = rb.header("X-Tenant", t);
        }
        send(rb)
    };
    let remaining = |r: &Reply| r.header("x-ratelimit-remaining").unwrap_or_default();
    for left in ["2", "1", "0"] {
        let r = ping_as(Some("Acme"));
        assert_eq!((r.status, remaining(&r).as_str()), (200, left));
        assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("3"));
    }
    // The header value is lowercased into the key: "ACME" is the same tenant.
    assert_eq!(ping_as(Some("ACME")).status, 429);
    let r = ping_as(Some("other"));
    assert_eq!((r.status, remaining(&r).as_str()), (200, "2"));
    // Without the header (and without the address) the key is "": one global bucket.
    let r = ping_as(None);
    assert_eq!((r.status, remaining(&r).as_str()), (200, "2"));
    assert_eq!(remaining(&ping_as(Some(""))), "1");
}

#[test]
fn faults_before_and_after_apply_on_create() {
    let sb = start(SandboxConfig {
        fault_rate: 1.0,
        fault_phase: FaultPhase::Before,
        ..mm()
    });
    // Login is never faulted, reads neither (the usernames batch is a read).
    let admin = Mm::admin(&sb);
    assert_eq!(admin.get("/users/me").status, 200);
    assert_eq!(
        admin.post("/users/usernames", &json!(["admin"])).status,
        200
    );
    let body = |n: &str| json!({"username": n, "email": format!("{n}@example.org"), "password": "Passw0rd-long"});
    for n in ["before1", "before2", "before3"] {
        let r = admin.post("/users", &body(n));
        assert!([500, 502, 503].contains(&r.status), "{}", r.text);
        if r.status == 500 {
            assert_eq!(r.body["message"], "Internal Server Error");
        }
    }
    sb.set_fault_phase(FaultPhase::After);
    for n in ["after1", "after2", "after3"] {
        let r = admin.post("/users", &body(n));
        assert!([500, 502, 503].contains(&r.status), "{}", r.text);
    }
    let have: Vec<String> = sb
        .users()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(have, ["admin", "after1", "after2", "after3", "importer"]);
    // A retry of an applied create meets the duplicate.
    sb.set_faults(0.0, 0.0);
    let r = admin.post("/users", &body("after1"));
    assert_app_error(&r, 400, "app.user.save.username_exists.app_error");
    let c = &sb.counters()["POST /api/v4/users"];
    assert_eq!(
        (c.requests, c.faults, c.faults_before, c.faults_after),
        (7, 6, 3, 3)
    );
}

#[test]
fn state_survives_a_restart_with_sessions_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("mm.json");
    let sb = start(SandboxConfig {
        state_file: Some(state.clone()),
        ..mm()
    });
    let mut admin = Mm::admin(&sb);
    let id = admin.create("Olga", "Olga@Example.org");
    admin.put(&format!("/users/{id}/patch"), &json!({"props": {"k": "v"}}));
    admin.delete(&format!("/users/{id}"));
    let before = sb.users();
    sb.stop().expect("stop saves the state");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("Passw0rd-long") && !text.contains(ADMIN_PW));
    assert!(!text.contains(&admin.token), "no usable session token");
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["flavor"], "mattermost");

    let sb = start(SandboxConfig {
        state_file: Some(state.clone()),
        admin_password: Some(roster_sandbox::Secret::new("changed-pw-1")),
        ..mm()
    });
    assert_eq!(sb.users(), before);
    // The old session survives (on the new port); the admin's password is the new one.
    admin.base = sb.url();
    let r = admin.get(&format!("/users/{id}"));
    assert_eq!((r.status, r.body["props"]["k"].as_str()), (200, Some("v")));
    assert_eq!(
        mm_login_raw(&client(), &sb.url(), "admin", ADMIN_PW).status,
        401
    );
    let admin = Mm::login(&sb, "admin", "changed-pw-1");
    let r = admin.post(
        "/users",
        &json!({"username": "OLGA", "email": "x@example.org", "password": "Passw0rd-long"}),
    );
    assert_app_error(&r, 400, "app.user.save.username_exists.app_error");
    assert_eq!(
        admin
            .put(&format!("/users/{id}/active"), &json!({"active": true}))
            .status,
        200
    );
    assert_eq!(
        mm_login_raw(&client(), &sb.url(), "olga", "Passw0rd-long").status,
        200
    );
    drop(sb);

    // A Rocket.Chat state file is refused.
    let rc_state = dir.path().join("rc.json");
    let rc = start(SandboxConfig {
        state_file: Some(rc_state.clone()),
        ..config()
    });
    rc.stop().unwrap();
    let err = Sandbox::start(SandboxConfig {
        state_file: Some(rc_state),
        ..mm()
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("rocketchat"), "{err}");
}

#[test]
fn the_state_endpoint_counts_routes_with_placeholders() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("pia", "pia@example.org");
    admin.get(&format!("/users/{id}"));
    admin.get("/users/me");
    admin.put(&format!("/users/{id}/patch"), &json!({"nickname": "p"}));
    admin.get("/users/username/pia");
    let st = send(client().get(format!("{}/__sandbox/state", sb.url())));
    assert_eq!(st.body["flavor"], "mattermost");
    let c = &st.body["counters"];
    assert_eq!(c["POST /api/v4/users/login"]["requests"], 1);
    assert_eq!(c["POST /api/v4/users"]["requests"], 1);
    assert_eq!(c["GET /api/v4/users/{user_id}"]["requests"], 2);
    assert_eq!(c["PUT /api/v4/users/{user_id}/patch"]["requests"], 1);
    assert_eq!(c["GET /api/v4/users/username/{username}"]["requests"], 1);
    assert!(!st.text.contains("$2"), "no password hashes");
}

#[test]
fn sessions_are_listed_and_revoked_all_at_once() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("sam", "sam@example.org");
    admin.create("tess", "tess@example.org");
    let (a, b) = (
        Mm::login(&sb, "sam", "Passw0rd-long"),
        Mm::login(&sb, "sam", "Passw0rd-long"),
    );
    let r = admin.get(&format!("/users/{id}/sessions"));
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body.as_array().expect("a list");
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .all(|s| s["token"] == "" && s["user_id"] == id.as_str())
    );
    // Another plain user may not.
    let tess = Mm::login(&sb, "tess", "Passw0rd-long");
    let r = tess.post(&format!("/users/{id}/sessions/revoke/all"), &json!({}));
    assert_app_error(&r, 403, "api.context.permissions.app_error");
    assert_eq!(a.get("/users/me").status, 200);
    let r = admin.post(&format!("/users/{id}/sessions/revoke/all"), &json!({}));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    assert_eq!(a.get("/users/me").status, 401);
    assert_eq!(b.get("/users/me").status, 401);
    assert_eq!(tess.get("/users/me").status, 200, "only sam's");
    let r = admin.get(&format!("/users/{id}/sessions"));
    assert_eq!(r.body, json!([]));
    // Again: nothing left to revoke, still OK.
    assert_eq!(
        admin
            .post(&format!("/users/{id}/sessions/revoke/all"), &json!({}))
            .status,
        200
    );
}

#[test]
fn status_is_set_by_the_user_or_an_admin() {
    let sb = start(mm());
    let admin = Mm::admin(&sb);
    let id = admin.create("sam", "sam@example.org");
    admin.create("tess", "tess@example.org");
    let r = admin.get(&format!("/users/{id}/status"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "offline", "never seen: {}", r.text);
    let tess = Mm::login(&sb, "tess", "Passw0rd-long");
    let path = format!("/users/{id}/status");
    let r = tess.put(&path, &json!({"user_id": id, "status": "away"}));
    assert_app_error(&r, 403, "api.context.permissions.app_error");
    for body in [
        json!({"status": "away"}),
        json!({"user_id": "x", "status": "away"}),
    ] {
        let r = admin.put(&path, &body);
        assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    }
    for bad in ["ooo", "busy", ""] {
        let r = admin.put(&path, &json!({"user_id": id, "status": bad}));
        assert_app_error(&r, 400, "api.context.invalid_body_param.app_error");
    }
    let r = admin.put(&path, &json!({"user_id": id, "status": "dnd"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.body["status"], &r.body["manual"]),
        (&json!("dnd"), &json!(true))
    );
    assert_eq!(admin.get(&path).body["status"], "dnd");
    assert_eq!(sb.status("sam"), Some(("dnd".into(), String::new())));
    assert_eq!(sb.status("tess").map(|s| s.0), Some("offline".into()));
}
