//! The Rocket.Chat flavor through HTTP: validation, errors, paging, 2FA, rate limits.
//! Expected bodies are those of /work/shared/docs/rocketchat-api.md.

use std::thread::sleep;
use std::time::Duration;

use roster_sandbox::{ManualClock, SandboxConfig, SeedUser};
use roster_test_support::*;
use serde_json::{Value, json};

fn create_body(username: &str, email: &str) -> Value {
    json!({"username": username, "email": email, "name": "Some One", "password": "pw-123"})
}

#[test]
fn duplicates_in_another_case_get_the_exact_400_bodies() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    admin.create_user("Alice.Smith", "Alice@Example.org", "pw");

    let r = admin.post(
        "/api/v1/users.create",
        &create_body("alice.smith", "other@example.org"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "alice.smith is already in use :( [error-field-unavailable]",
            "errorType": "error-field-unavailable",
            "details": {"method": "insertOrUpdateUser", "field": "alice.smith"}
        })
    );

    let r = admin.post(
        "/api/v1/users.create",
        &create_body("someone.else", "ALICE@example.ORG"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "ALICE@example.ORG is already in use :( [error-field-unavailable]",
            "errorType": "error-field-unavailable",
            "details": {"method": "insertOrUpdateUser", "field": "ALICE@example.ORG"}
        })
    );
    // Nothing was created by the refused calls.
    assert_eq!(sb.users().len(), 3);
}

#[test]
fn validation_errors_in_the_servers_order_and_words() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let create = |body: Value| admin.post("/api/v1/users.create", &body);

    // ajv: a missing required property, then an unknown one.
    let r = create(json!({"email": "a@b.c", "name": "A", "password": "p"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "must have required property 'username' [invalid-params]",
            "errorType": "invalid-params"
        })
    );
    let mut b = create_body("x1", "x1@example.org");
    b["department"] = json!("sales");
    let r = create(b);
    assert_eq!(
        r.body["error"],
        "must NOT have additional properties [invalid-params]"
    );
    let mut b = create_body("x1", "x1@example.org");
    b["roles"] = json!("user");
    assert_eq!(create(b).body["error"], "must be array [invalid-params]");

    // Name characters: plain failure, no errorType.
    let mut b = create_body("x2", "x2@example.org");
    b["name"] = json!("Bob <script>");
    let r = create(b);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Name contains invalid characters"})
    );

    // Invalid email (the 'basic' check).
    let r = create(create_body("x3", "not-an-email"));
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "Invalid email not-an-email [error-invalid-email]",
            "errorType": "error-invalid-email",
            "details": {"function": "RocketChat.validateEmailDomain", "email": "not-an-email"}
        })
    );

    // Reserved names, case-insensitively.
    for name in ["admin", "Here", "SYSTEM"] {
        let r = create(create_body(name, &format!("{name}@example.org")));
        assert_eq!(
            r.body,
            json!({
                "success": false,
                "error": format!("{name} is blocked and can't be used! [error-blocked-username]"),
                "errorType": "error-blocked-username",
                "details": {"method": "checkUsernameAvailability", "field": name}
            }),
            "{name}"
        );
    }

    // Username pattern, HTML-escaped in the message.
    let r = create(create_body("a<b", "ab@example.org"));
    assert_eq!(
        r.body["error"],
        "a&lt;b is not a valid username [error-input-is-not-a-valid-field]"
    );
    assert_eq!(
        r.body["details"],
        json!({"method": "insertOrUpdateUser", "input": "a<b", "field": "Username"})
    );

    // Empty required values.
    let mut b = create_body("x4", "x4@example.org");
    b["name"] = json!("  ");
    assert_eq!(
        create(b).body,
        json!({
            "success": false,
            "error": "The field Name is required [error-the-field-is-required]",
            "errorType": "error-the-field-is-required",
            "details": {"method": "insertOrUpdateUser", "field": "Name"}
        })
    );
    let mut b = create_body("x5", "x5@example.org");
    b["password"] = json!("");
    assert_eq!(
        create(b).body["error"],
        "The field Password is required [error-the-field-is-required]"
    );

    // Roles.
    let mut b = create_body("x6", "x6@example.org");
    b["roles"] = json!(["user", "wizard"]);
    assert_eq!(
        create(b).body,
        json!({
            "success": false,
            "error": "The field Roles consist invalid role id [error-action-not-allowed]",
            "errorType": "error-action-not-allowed",
            "details": {"method": "insertOrUpdateUser", "action": "Assign_role"}
        })
    );

    // ajv runs first: a missing property wins over every later rule.
    let r = create(json!({"username": "admin", "name": "<", "password": ""}));
    assert_eq!(
        r.body["error"],
        "must have required property 'email' [invalid-params]"
    );
    assert_eq!(sb.users().len(), 2, "no call above created anyone");
}

#[test]
fn create_accepts_the_documented_options() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let r = admin.post(
        "/api/v1/users.create",
        &json!({
            "username": "carol", "email": "carol@example.org", "name": "Carol",
            "password": "ignored", "setRandomPassword": true, "active": false,
            "verified": true, "roles": ["user", "livechat-agent"], "joinDefaultChannels": false,
            "sendWelcomeEmail": false, "requirePasswordChange": false,
            "customFields": {"dept": "sales"}, "bio": "hi", "nickname": "caz",
            "fields": "{}"
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // `settings` (and `phones`) are not in rest-typings 8.8.1's schema: the referee
    // (tests/referees/rc_schemas.mjs) has the sandbox refuse them.
    let settings = admin.post(
        "/api/v1/users.create",
        &json!({"username": "dave", "email": "dave@example.org", "name": "Dave",
                "password": "Dave-pw-12345", "settings": {}}),
    );
    assert_eq!(settings.status, 400, "{}", settings.text);
    assert_eq!(
        settings.body["error"],
        "must NOT have additional properties [invalid-params]"
    );
    let u = &r.body["user"];
    assert_eq!(u["active"], false);
    assert_eq!(u["roles"], json!(["user", "livechat-agent"]));
    assert_eq!(
        u["emails"],
        json!([{"address": "carol@example.org", "verified": true}])
    );
    // setRandomPassword wins over requirePasswordChange:false.
    assert_eq!(u["requirePasswordChange"], true);
    // Accounts_CustomFields is empty: accepted and dropped.
    assert!(u.get("customFields").is_none());
    assert!(u.get("services").is_none());
    // The caller's password was replaced by a random one.
    let r = login_raw(&client(), &sb.url(), "carol", "ignored");
    assert_eq!(r.status, 401);
}

#[test]
fn custom_fields_follow_the_configured_setting() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        rc_custom_fields: Some(json!({
            "dept": {"type": "select", "required": true, "options": ["sales", "it"]},
            "code": {"type": "text", "minLength": 2, "maxLength": 4}
        })),
        ..config()
    });
    let admin = Session::admin(&sb);
    let with = |cf: Value| {
        let mut b = create_body("dave", "dave@example.org");
        b["customFields"] = cf;
        admin.post("/api/v1/users.create", &b)
    };
    let r = with(json!({"code": "ab"}));
    // Fields are checked in name order here; "code" passes, "dept" is required.
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "Field dept is required [error-user-registration-custom-field]",
            "errorType": "error-user-registration-custom-field",
            "details": {"method": "registerUser"}
        })
    );
    assert_eq!(
        with(json!({"dept": "hr"})).body["error"],
        "Value for field dept is invalid [error-user-registration-custom-field]"
    );
    assert_eq!(
        with(json!({"dept": "it", "code": "abcdef"})).body["error"],
        "Max length of field code 4 [error-user-registration-custom-field]"
    );
    assert_eq!(
        with(json!({"dept": "it", "code": "a"})).body["error"],
        "Min length of field code 2 [error-user-registration-custom-field]"
    );
    let r = with(json!({"dept": "it", "undefined_key": "dropped"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["customFields"], json!({"dept": "it"}));
}

#[test]
fn roles_list_answers_every_role_and_create_takes_exactly_those() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    // authRequired only: any logged-in user reads the roles.
    let admin = Session::admin(&sb);
    admin.create_user("plain", "plain@example.org", "Plain-pw-1");
    let plain = Session::login(&sb, "plain", "Plain-pw-1");
    let r = plain.get("/api/v1/roles.list");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    let roles = r.body["roles"].as_array().expect("roles");
    let user = roles.iter().find(|r| r["_id"] == "user").expect("user");
    assert_eq!(
        user,
        &json!({"_id": "user", "name": "user", "scope": "Users", "description": "",
                "protected": true, "mandatory2fa": false})
    );
    let moderator = roles.iter().find(|r| r["_id"] == "moderator").unwrap();
    assert_eq!(moderator["scope"], "Subscriptions");
    let provisioner = roles.iter().find(|r| r["_id"] == "provisioner").unwrap();
    assert_eq!(provisioner["protected"], false);

    // Every listed id is one users.create accepts, of any scope; nothing else is.
    for (i, role) in roles.iter().enumerate() {
        let mut b = create_body(&format!("r{i}"), &format!("r{i}@example.org"));
        b["roles"] = json!([role["_id"]]);
        let r = admin.post("/api/v1/users.create", &b);
        assert_eq!(r.status, 200, "{role}: {}", r.text);
    }
    let mut b = create_body("typo", "typo@example.org");
    b["roles"] = json!(["user", "admn"]);
    let r = admin.post("/api/v1/users.create", &b);
    assert_eq!(
        r.body["error"],
        "The field Roles consist invalid role id [error-action-not-allowed]"
    );

    let r = send(client().get(format!("{}/api/v1/roles.list", sb.url())));
    assert_eq!(r.status, 401);
    assert_eq!(sb.counters()["GET /api/v1/roles.list"].requests, 2);
}

#[test]
fn users_list_pages_are_capped_and_sorted() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let seeds: Vec<SeedUser> = (0..150)
        .map(|i| SeedUser {
            username: format!("u{i:03}"),
            email: format!("u{i:03}@example.org"),
            name: format!("User {i}"),
            password: None,
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&seeds).expect("seed");
    let admin = Session::admin(&sb);

    let r = admin.get("/api/v1/users.list?count=500");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["count"], 100);
    assert_eq!(r.body["users"].as_array().map(Vec::len), Some(100));
    assert_eq!(r.body["total"], 152);
    assert_eq!(r.body["offset"], 0);

    let r = admin.get("/api/v1/users.list");
    assert_eq!(r.body["count"], 50);
    let names: Vec<&str> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "admin");
    assert_eq!(names[1], "importer");
    assert_eq!(names[2], "u000");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let r = admin.get("/api/v1/users.list?offset=150&count=10");
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["users"][1]["username"], "u149");
    assert_eq!(
        r.body["users"][0]["emails"][0]["address"],
        "u148@example.org"
    );
}

#[test]
fn users_info_lookups_and_errors() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let id = admin.create_user("erin", "erin@example.org", "pw");
    let r = admin.get(&format!("/api/v1/users.info?userId={id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["username"], "erin");
    assert_eq!(r.body["user"]["emails"][0]["address"], "erin@example.org");
    assert_eq!(r.body["user"]["canViewAllInfo"], true);
    assert_eq!(
        admin.get("/api/v1/users.info?username=erin").body["user"]["_id"],
        id.as_str()
    );
    let r = admin.get("/api/v1/users.info?username=nobody");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "User not found."})
    );
    let r = admin.get("/api/v1/users.info");
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert!(
        r.error()
            .ends_with("must match a schema in anyOf [invalid-params]"),
        "{}",
        r.error()
    );
}

#[test]
fn two_factor_on_update_and_the_remember_window() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let id = admin.create_user("frank", "frank@example.org", "pw");
    let body = json!({"userId": id, "data": {"name": "Frank Two"}});

    let r = admin.post("/api/v1/users.update", &body);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": "TOTP Required [totp-required]",
            "errorType": "totp-required",
            "details": {"method": "password", "codeGenerated": false, "availableMethods": []}
        })
    );
    // The code without the method header does not count.
    let good = sha256_hex(ADMIN_PW);
    let r = admin.post_h("/api/v1/users.update", &body, &[("x-2fa-code", &good)]);
    assert_eq!(r.body["errorType"], "totp-required");

    let wrong = sha256_hex("not the password");
    let r = admin.post_h(
        "/api/v1/users.update",
        &body,
        &[("x-2fa-code", &wrong), ("x-2fa-method", "password")],
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "TOTP Invalid [totp-invalid]");
    assert_eq!(r.body["errorType"], "totp-invalid");

    // The target's password is not the code: it is the caller's.
    let r = admin.post_h(
        "/api/v1/users.update",
        &body,
        &[
            ("x-2fa-code", &sha256_hex("pw")),
            ("x-2fa-method", "password"),
        ],
    );
    assert_eq!(r.body["errorType"], "totp-invalid");

    let upper = good.to_uppercase();
    let r = admin.post_h(
        "/api/v1/users.update",
        &body,
        &[("x-2fa-code", &upper), ("x-2fa-method", "password")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["name"], "Frank Two");

    // Remembered for this token + User-Agent + IP ...
    let again = json!({"userId": id, "data": {"name": "Frank Three"}});
    let r = admin.post("/api/v1/users.update", &again);
    assert_eq!(r.status, 200, "{}", r.text);
    // ... not for another User-Agent ...
    let r = admin.post_h(
        "/api/v1/users.update",
        &again,
        &[("User-Agent", "another-agent")],
    );
    assert_eq!(r.body["errorType"], "totp-required");
    // ... nor for another client IP (x-real-ip) ...
    let r = admin.post_h("/api/v1/users.update", &again, &[("x-real-ip", "10.9.9.9")]);
    assert_eq!(r.body["errorType"], "totp-required");
    // ... nor for another login token of the same user.
    let other = Session::admin(&sb);
    assert_eq!(
        other.post("/api/v1/users.update", &again).body["errorType"],
        "totp-required"
    );

    // --no-2fa
    let sb2 = start(SandboxConfig {
        rate_limit: Some(false),
        two_factor: false,
        ..config()
    });
    let admin2 = Session::admin(&sb2);
    let id2 = admin2.create_user("gina", "gina@example.org", "pw");
    let r = admin2.post(
        "/api/v1/users.update",
        &json!({"userId": id2, "data": {"email": "gina2@example.org", "verified": true}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["user"]["emails"],
        json!([{"address": "gina2@example.org", "verified": true}])
    );
}

#[test]
fn update_errors_and_effects() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        two_factor: false,
        ..config()
    });
    let admin = Session::admin(&sb);
    let a = admin.create_user("hank", "hank@example.org", "pw");
    admin.create_user("ivy", "ivy@example.org", "pw");
    let upd = |data: Value| admin.post("/api/v1/users.update", &json!({"userId": a, "data": data}));

    assert_eq!(
        upd(json!({"email": "IVY@example.org"})).body,
        json!({
            "success": false,
            "error": "IVY@example.org is already in use :( [error-field-unavailable]",
            "errorType": "error-field-unavailable",
            "details": {"function": "_setEmail", "field": "IVY@example.org"}
        })
    );
    assert_eq!(
        upd(json!({"username": "Ivy"})).body,
        json!({
            "success": false,
            "error": "Could not save user identity [error-could-not-save-identity]",
            "errorType": "error-could-not-save-identity",
            "details": {"method": "saveUser"}
        })
    );
    assert_eq!(
        upd(json!({"joinDefaultChannels": true})).body["error"],
        "must NOT have additional properties [invalid-params]"
    );
    let r = admin.post(
        "/api/v1/users.update",
        &json!({"userId": "nope", "data": {"name": "X"}}),
    );
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Invalid user [error-invalid-user]", "errorType": "error-invalid-user"})
    );
    // A case-only change of one's own username is fine; the new password works.
    let r = upd(json!({"username": "Hank", "password": "new-pw", "roles": ["user", "bot"]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["username"], "Hank");
    assert_eq!(r.body["user"]["roles"], json!(["user", "bot"]));
    assert_eq!(
        login_raw(&client(), &sb.url(), "hank", "new-pw").status,
        200
    );
    // Deactivation through update logs the user out.
    let hank = Session::login(&sb, "Hank", "new-pw");
    assert_eq!(upd(json!({"active": false})).body["user"]["active"], false);
    assert_eq!(hank.get("/api/v1/me").status, 401);
}

#[test]
fn self_edits_hit_the_hard_coded_one_per_minute_limit() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let id = admin.create_user("jack", "jack@example.org", "pw");
    // A plain user may edit itself (just registered: 2FA is not asked yet).
    let jack = Session::login(&sb, "jack", "pw");
    let r = jack.post(
        "/api/v1/users.update",
        &json!({"userId": id, "data": {"name": "Jack One"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = jack.post(
        "/api/v1/users.update",
        &json!({"userId": id, "data": {"name": "Jack Two"}}),
    );
    assert_eq!(r.status, 429);
    let wait = r.error();
    assert!(
        wait.starts_with("Error, too many requests. Please slow down. You must wait ")
            && wait
                .ends_with(" seconds before trying this endpoint again. [error-too-many-requests]"),
        "{wait}"
    );
    // Other functions have their own limiter; editing others is refused.
    let r = jack.post(
        "/api/v1/users.update",
        &json!({"userId": id, "data": {"email": "jack2@example.org"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = jack.post(
        "/api/v1/users.update",
        &json!({"userId": admin.user_id, "data": {"name": "Pwned"}}),
    );
    assert_eq!(
        r.body["error"],
        "Editing user is not allowed [error-action-not-allowed]"
    );
    // The admin (edit-other-user-info) is not limited.
    let tfa = sha256_hex(ADMIN_PW);
    for n in ["A", "B", "C"] {
        let r = admin.post_h(
            "/api/v1/users.update",
            &json!({"userId": id, "data": {"name": n}}),
            &[("x-2fa-code", &tfa), ("x-2fa-method", "password")],
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

fn limited(calls: u32, window_ms: u64) -> SandboxConfig {
    SandboxConfig {
        rc_limit_calls: calls,
        rc_limit_window_ms: window_ms,
        ..config()
    }
}

fn num(r: &Reply, h: &str) -> i64 {
    r.header(h)
        .unwrap_or_else(|| panic!("{h} missing: {r:?}"))
        .parse()
        .expect("number")
}

#[test]
fn rate_limit_headers_and_the_429_at_the_boundary() {
    let sb = start(limited(3, 60_000));
    let importer = Session::importer(&sb);

    // A 401 runs before the limiter: no headers, no budget used.
    let anon = send(client().get(format!("{}/api/v1/users.list", sb.url())));
    assert_eq!(anon.status, 401);
    assert_eq!(
        anon.body,
        json!({
            "success": false,
            "error": "You must be logged in to do this.",
            "status": "error",
            "message": "You must be logged in to do this."
        })
    );
    assert!(anon.header("x-ratelimit-limit").is_none());

    for remaining in [2, 1, 0] {
        let before = roster_sandbox::util::now_ms();
        let r = importer.get("/api/v1/users.list");
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(num(&r, "x-ratelimit-limit"), 3);
        assert_eq!(num(&r, "x-ratelimit-remaining"), remaining);
        let reset = num(&r, "x-ratelimit-reset");
        // Epoch milliseconds in the future, within the window.
        assert!(reset > before && reset <= before + 60_000, "{reset}");
    }
    let r = importer.get("/api/v1/users.list");
    let after = roster_sandbox::util::now_ms();
    assert_eq!(r.status, 429);
    assert_eq!(num(&r, "x-ratelimit-remaining"), 0);
    assert_eq!(num(&r, "x-ratelimit-limit"), 3);
    assert!(r.header("retry-after").is_none());
    let reset = num(&r, "x-ratelimit-reset");
    let secs: i64 = r
        .error()
        .strip_prefix("Error, too many requests. Please slow down. You must wait ")
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}", r.text));
    assert_eq!(
        r.body,
        json!({
            "success": false,
            "error": format!("Error, too many requests. Please slow down. You must wait {secs} seconds before trying this endpoint again. [error-too-many-requests]")
        })
    );
    let expected = (reset - after + 999).div_euclid(1000);
    assert!((secs - expected).abs() <= 1, "{secs} vs {expected}");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );

    // Each route has its own budget; an invalid-params 400 uses it.
    let r = importer.post("/api/v1/users.create", &json!({"email": "x@y.z"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert_eq!(num(&r, "x-ratelimit-remaining"), 2);

    // Another client IP (x-real-ip) has its own counter on the exhausted route.
    let r = send(
        importer
            .client
            .get(format!("{}/api/v1/users.list", sb.url()))
            .header("X-User-Id", &importer.user_id)
            .header("X-Auth-Token", &importer.token)
            .header("x-real-ip", "10.1.2.3"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(num(&r, "x-ratelimit-remaining"), 2);

    let counters = sb.counters();
    assert_eq!(counters["GET /api/v1/users.list"].rate_limited, 1);
    assert_eq!(counters["GET /api/v1/users.list"].requests, 6);
}

#[test]
fn rate_limit_window_resets_lazily() {
    // A manual clock: the window arithmetic is exact and nothing sleeps.
    let clock = ManualClock::new();
    let sb = start(SandboxConfig {
        clock: Some(clock.clone()),
        ..limited(2, 1500)
    });
    let importer = Session::importer(&sb);
    // The window started with the server, and time stands still until advanced.
    assert_eq!(importer.get("/api/v1/me").status, 200);
    assert_eq!(importer.get("/api/v1/me").status, 200);
    let r = importer.get("/api/v1/me");
    assert_eq!(r.status, 429);
    assert_eq!(num(&r, "x-ratelimit-reset"), clock.now_ms() + 1500);
    assert!(r.error().contains("You must wait 2 seconds"), "{}", r.text);
    clock.advance(Duration::from_millis(1000));
    let r = importer.get("/api/v1/me");
    assert!(r.error().contains("You must wait 1 seconds"), "{}", r.text);
    // Exactly at the interval the window has not expired (`>`, not `>=`).
    clock.advance(Duration::from_millis(500));
    assert_eq!(importer.get("/api/v1/me").status, 429);
    // One millisecond later the first call restarts it.
    clock.advance(Duration::from_millis(1));
    let r = importer.get("/api/v1/me");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(num(&r, "x-ratelimit-remaining"), 1);
    assert_eq!(num(&r, "x-ratelimit-reset"), clock.now_ms() + 1500);
}

#[test]
fn admin_bypasses_the_limiter_but_not_on_login() {
    let sb = start(limited(2, 60_000));
    let admin = Session::admin(&sb);
    for _ in 0..5 {
        let r = admin.get("/api/v1/users.list");
        assert_eq!(r.status, 200);
        assert!(r.header("x-ratelimit-limit").is_none());
        assert!(r.header("x-ratelimit-remaining").is_none());
    }
    // Login has no user yet: always limited (one call was used above).
    let c = client();
    let r = login_raw(&c, &sb.url(), "admin", ADMIN_PW);
    assert_eq!(r.status, 200);
    assert_eq!(num(&r, "x-ratelimit-remaining"), 0);
    let r = login_raw(&c, &sb.url(), "admin", ADMIN_PW);
    assert_eq!(r.status, 429);
    assert!(r.error().ends_with("[error-too-many-requests]"));

    // --no-admin-bypass limits the admin too.
    let sb = start(SandboxConfig {
        admin_bypass: false,
        ..limited(2, 60_000)
    });
    let admin = Session::admin(&sb);
    assert_eq!(num(&admin.get("/api/v1/me"), "x-ratelimit-remaining"), 1);
    assert_eq!(admin.get("/api/v1/me").status, 200);
    assert_eq!(admin.get("/api/v1/me").status, 429);

    // --no-rate-limit: no limiter, no headers.
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..limited(1, 60_000)
    });
    let importer = Session::importer(&sb);
    for _ in 0..3 {
        let r = importer.get("/api/v1/me");
        assert_eq!(r.status, 200);
        assert!(r.header("x-ratelimit-limit").is_none());
    }
}

#[test]
fn login_failures_and_headers_of_every_response() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let c = client();
    let bad = json!({
        "success": false, "error": 401, "status": "error",
        "message": "Incorrect login or password"
    });
    assert_eq!(login_raw(&c, &sb.url(), "admin", "wrong").body, bad);
    assert_eq!(login_raw(&c, &sb.url(), "nobody", "wrong").body, bad);
    // By e-mail, and with the digest form of the password.
    assert_eq!(
        login_raw(&c, &sb.url(), "ADMIN@example.com", ADMIN_PW).status,
        200
    );
    let r =
        send(c.post(format!("{}/api/v1/login", sb.url())).json(
            &json!({"username": "importer", "password": {"hashed": sha256_hex(IMPORTER_PW)}}),
        ));
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.body["data"]["authToken"].as_str().unwrap().to_string();
    // Resume with the token.
    let r = send(
        c.post(format!("{}/api/v1/login", sb.url()))
            .json(&json!({"resume": token})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["data"]["me"]["username"], "importer");

    for r in [
        login_raw(&c, &sb.url(), "admin", "wrong"),
        send(c.get(format!("{}/api/info", sb.url()))),
        send(c.get(format!("{}/api/v1/me", sb.url()))),
    ] {
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(r.header("pragma").as_deref(), Some("no-cache"));
        let date = r.header("date").expect("Date header");
        assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
    }
    let info = send(c.get(format!("{}/api/info", sb.url())));
    assert_eq!(info.body["success"], true);
    assert!(info.body["version"].as_str().unwrap().starts_with("7."));
}

#[test]
fn active_status_delete_logout_and_permissions() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let importer = Session::importer(&sb);
    let id = importer.create_user("kate", "kate@example.org", "pw");
    let kate = Session::login(&sb, "kate", "pw");

    let r = importer.post(
        "/api/v1/users.setActiveStatus",
        &json!({"userId": id, "activeStatus": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"user": {"_id": id, "active": false}, "success": true})
    );
    assert_eq!(kate.get("/api/v1/me").status, 401, "tokens removed");
    assert_eq!(login_raw(&client(), &sb.url(), "kate", "pw").status, 401);
    let r = importer.post("/api/v1/users.setActiveStatus", &json!({"userId": id}));
    assert_eq!(
        r.body["error"],
        "must have required property 'activeStatus' [invalid-params]"
    );
    // The last active admin cannot be deactivated.
    let r = importer.post(
        "/api/v1/users.setActiveStatus",
        &json!({"userId": admin.user_id, "activeStatus": false}),
    );
    assert_eq!(
        r.body["error"],
        "Leaving the app without an active admin is not allowed [error-action-not-allowed]"
    );

    // The importer may not delete; the admin may.
    let r = importer.post("/api/v1/users.delete", &json!({"userId": id}));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    let r = admin.post("/api/v1/users.delete", &json!({}));
    assert_eq!(
        r.body["error"],
        "The required \"userId\" or \"username\" param was not provided [error-user-param-not-provided]"
    );
    assert_eq!(
        admin
            .post("/api/v1/users.delete", &json!({"username": "KATE"}))
            .body,
        json!({"success": true})
    );
    assert_eq!(
        admin
            .post("/api/v1/users.delete", &json!({"userId": id}))
            .body["errorType"],
        "error-invalid-user"
    );

    // Logout ends only that token.
    let second = Session::importer(&sb);
    let r = importer.post("/api/v1/logout", &json!({}));
    assert_eq!(
        r.body,
        json!({"status": "success", "data": {"message": "You've been logged out!"}})
    );
    assert_eq!(importer.get("/api/v1/me").status, 401);
    assert_eq!(second.get("/api/v1/me").body["username"], "importer");
}

#[test]
fn bulk_import_api() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    admin.create_user("existing", "existing@example.org", "pw");

    assert_eq!(
        admin.get("/api/v1/import.status").body,
        json!({"state": "none", "success": true})
    );
    let r = admin.post(
        "/api/v1/import.addUsers",
        &json!({"users": [{"emails": ["a@b.c"], "importIds": ["1"]}]}),
    );
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Import operation not initialized."})
    );
    let r = admin.post("/api/v1/import.new", &json!({}));
    assert_eq!(r.body["operation"]["status"], "importer_new");
    assert_eq!(admin.get("/api/v1/import.status").body["state"], "new");
    let r = admin.post(
        "/api/v1/import.addUsers",
        &json!({"users": [{"emails": ["a@b.c"]}]}),
    );
    assert_eq!(
        r.body["error"],
        "must have required property 'importIds' [invalid-params]"
    );
    let r = admin.post(
        "/api/v1/import.addUsers",
        &json!({"users": [{"emails": [""], "importIds": ["1"]}]}),
    );
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Users are missing required data."})
    );
    let r = admin.post(
        "/api/v1/import.addUsers",
        &json!({"users": [
            {"username": "liam", "emails": ["liam@example.org"], "importIds": ["e-1"], "name": "Liam", "password": "liam-pw"},
            {"emails": ["mia@example.org"], "importIds": ["e-2"], "deleted": true},
            {"username": "someone", "emails": ["EXISTING@example.org"], "importIds": ["e-3"]}
        ]}),
    );
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    let st = admin.get("/api/v1/import.status");
    assert_eq!(st.body["state"], "ready");
    assert_eq!(st.body["operation"]["count"]["total"], 3);

    assert_eq!(
        admin.post("/api/v1/import.run", &json!({})).body,
        json!({"success": true})
    );
    let mut state = String::new();
    for _ in 0..200 {
        let st = admin.get("/api/v1/import.status");
        state = st.body["state"].as_str().unwrap_or("").to_string();
        if state == "done" {
            assert_eq!(st.body["operation"]["count"]["completed"], 3);
            assert_eq!(st.body["operation"]["count"]["error"], 0);
            break;
        }
        sleep(Duration::from_millis(20));
    }
    assert_eq!(state, "done");
    assert_eq!(
        login_raw(&client(), &sb.url(), "liam", "liam-pw").status,
        200
    );
    let users = sb.users();
    let mia = users
        .iter()
        .find(|u| u["emails"][0]["address"] == "mia@example.org")
        .expect("mia created with a generated username");
    assert_eq!(mia["username"], "mia");
    assert_eq!(mia["active"], false);
    // The existing account was not duplicated; it got the import id.
    let existing: Vec<_> = users
        .iter()
        .filter(|u| u["username"] == "existing" || u["username"] == "someone")
        .collect();
    assert_eq!(existing.len(), 1);
    assert_eq!(existing[0]["importIds"], json!(["e-3"]));
    assert_eq!(
        admin.get("/api/v1/users.info?importId=e-1").body["user"]["username"],
        "liam"
    );
    assert_eq!(
        admin.post("/api/v1/import.run", &json!({})).body["error"],
        "error-invalid-operation-status"
    );
    // The importer holds run-import; a plain user does not.
    let plain_id = admin.create_user("nina", "nina@example.org", "pw");
    assert!(!plain_id.is_empty());
    let nina = Session::login(&sb, "nina", "pw");
    assert_eq!(nina.post("/api/v1/import.new", &json!({})).status, 403);
}

#[test]
fn users_logout_needs_logout_other_user_and_ends_every_session() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let importer = Session::importer(&sb);
    let id = admin.create_user("lou", "lou@example.org", "pw-123");
    let (a, b) = (
        Session::login(&sb, "lou", "pw-123"),
        Session::login(&sb, "lou", "pw-123"),
    );
    // The provisioner role lacks logout-other-user: forbidden(), not the permissions body.
    let r = importer.post("/api/v1/users.logout", &json!({"userId": id}));
    assert_eq!(
        (r.status, r.body.clone()),
        (403, json!({"success": false, "error": "unauthorized"}))
    );
    assert_eq!(a.get("/api/v1/me").status, 200);
    let r = admin.post("/api/v1/users.logout", &json!({"userId": id}));
    assert_eq!(
        r.body,
        json!({"success": true, "message": format!("User {id} has been logged out!")})
    );
    assert_eq!(a.get("/api/v1/me").status, 401);
    assert_eq!(b.get("/api/v1/me").status, 401);
    // Again, and for an id nobody has: 200 all the same.
    assert_eq!(
        admin
            .post("/api/v1/users.logout", &json!({"userId": id}))
            .status,
        200
    );
    assert_eq!(
        admin
            .post("/api/v1/users.logout", &json!({"userId": "nobody"}))
            .status,
        200
    );
    let r = admin.post("/api/v1/users.logout", &json!({"userId": id, "x": 1}));
    assert_eq!(r.body["errorType"], "invalid-params", "{}", r.text);
}

#[test]
fn users_delete_of_a_last_room_owner_needs_confirm_relinquish() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&sb);
    let id = admin.create_user("olga", "olga@example.org", "pw-123");
    admin.create_user("pete", "pete@example.org", "pw-123");
    let olga = Session::login(&sb, "olga", "pw-123");
    let r = olga.post(
        "/api/v1/channels.create",
        &json!({"name": "shared", "members": ["pete"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = olga.post("/api/v1/groups.create", &json!({"name": "alone"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = admin.post("/api/v1/users.delete", &json!({"userId": id}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "[user-last-owner]", "errorType": "user-last-owner",
            "details": {"shouldBeRemoved": ["alone"], "shouldChangeOwner": ["shared"]}})
    );
    assert_eq!(admin.get("/api/v1/users.info?username=olga").status, 200);
    let r = admin.post(
        "/api/v1/users.delete",
        &json!({"userId": id, "confirmRelinquish": true}),
    );
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    assert_eq!(admin.get("/api/v1/users.info?username=olga").status, 400);
    // pete owns the channel now (he may kick); the private group went with olga.
    let pete = Session::login(&sb, "pete", "pw-123");
    let info = admin.get("/api/v1/channels.info?roomName=shared");
    assert_eq!(info.status, 200, "{}", info.text);
    let r = pete.post(
        "/api/v1/channels.kick",
        &json!({"roomId": info.body["channel"]["_id"], "userId": admin.user_id}),
    );
    assert_ne!(r.status, 403, "{}", r.text);
    assert_ne!(
        admin.get("/api/v1/groups.info?roomName=alone").status,
        200,
        "removed"
    );
}
