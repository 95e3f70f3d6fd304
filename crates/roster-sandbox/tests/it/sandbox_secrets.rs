//! Passwords and tokens of other users (issue 14: `roster do reset-password` and
//! `create-token`), as the module docs of `src/rocketchat/secrets.rs` and
//! `src/mattermost/secrets.rs` describe them.

use reqwest::Method;
use roster_sandbox::{FlavorKind, Mail, Sandbox, SandboxConfig, Secret, SeedUser};
use roster_test_support::*;
use serde_json::{Value, json};

fn seed(sb: &Sandbox, names: &[&str], password: &str) -> Vec<String> {
    let users: Vec<SeedUser> = names
        .iter()
        .map(|n| SeedUser {
            username: n.to_string(),
            email: format!("{n}@example.org"),
            name: format!("Seed {n}"),
            password: Some(password.into()),
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed")
}

fn mail(to: &str, kind: &str) -> Mail {
    Mail {
        to: to.into(),
        kind: kind.into(),
    }
}

#[test]
fn rocketchat_password_set_logs_out_and_honours_permission_and_policy() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        rc_password_policy: true,
        ..config()
    });
    let ids = seed(&sb, &["ann", "bob"], "Old-pw-1");
    let ann = Session::login(&sb, "ann", "Old-pw-1");
    assert_eq!(ann.get("/api/v1/me").status, 200);
    let admin = Session::admin(&sb);
    let code = sha256_hex(ADMIN_PW);
    let tfa = [("x-2fa-method", "password"), ("x-2fa-code", code.as_str())];
    let r = admin.post_h(
        "/api/v1/users.update",
        &json!({"userId": ids[0], "data": {"password": "New-pw-22", "requirePasswordChange": true}}),
        &tfa,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["requirePasswordChange"], true, "{}", r.text);
    assert_eq!(ann.get("/api/v1/me").status, 401, "still logged in");
    let client = client();
    assert_eq!(
        login_raw(&client, &sb.url(), "ann", "New-pw-22").status,
        200
    );
    assert_eq!(login_raw(&client, &sb.url(), "ann", "Old-pw-1").status, 401);
    // The policy (on here) refuses a weak password, as a plain Error.
    let r = admin.post_h(
        "/api/v1/users.update",
        &json!({"userId": ids[0], "data": {"password": "weak"}}),
        &tfa,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.error()
            .starts_with("ERROR: error-password-policy-not-met -- MESSAGE:"),
        "{}",
        r.text
    );
    assert!(r.body.get("errorType").is_none(), "{}", r.text);
    // A plain user lacks edit-other-user-info: refused. A role with it but without
    // edit-other-user-password would have the password ignored, silently: a client learns
    // which roles hold it from permissions.listAll.
    let bob = Session::login(&sb, "bob", "Old-pw-1");
    let r = bob.post_h(
        "/api/v1/users.update",
        &json!({"userId": ids[0], "data": {"password": "Other-pw-33"}}),
        &[
            ("x-2fa-method", "password"),
            ("x-2fa-code", &sha256_hex("Old-pw-1")),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["errorType"], "error-action-not-allowed",
        "{}",
        r.text
    );
    let r = bob.get("/api/v1/permissions.listAll");
    assert_eq!(r.status, 200, "{}", r.text);
    let roles = |perm: &str| -> Vec<String> {
        r.body["update"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["_id"] == perm)
            .unwrap_or_else(|| panic!("{perm} not listed: {}", r.text))["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(roles("edit-other-user-password"), ["admin", "provisioner"]);
    assert_eq!(roles("user-generate-access-token"), ["admin"]);
    assert!(r.body["update"][0]["_updatedAt"].is_string(), "{}", r.text);
    let later = bob.get("/api/v1/permissions.listAll?updatedSince=2999-01-01T00:00:00Z");
    assert_eq!(later.body["update"], json!([]), "{}", later.text);
}

#[test]
fn rocketchat_forgot_password_is_anonymous_limited_and_always_ok() {
    let sb = start(SandboxConfig {
        rc_limit_calls: 3,
        ..config()
    });
    seed(&sb, &["ann"], "pw-1");
    let client = client();
    let post = |body: Value| {
        send(
            client
                .post(format!("{}/api/v1/users.forgotPassword", sb.url()))
                .json(&body),
        )
    };
    let r = post(json!({"email": " ANN@example.org "}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"success": true}));
    assert!(r.header("x-ratelimit-limit").is_some(), "always limited");
    assert_eq!(post(json!({"email": "nobody@example.org"})).status, 200);
    let r = post(json!({}));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["errorType"], "invalid-params");
    assert_eq!(post(json!({"email": "ann@example.org"})).status, 429);
    assert_eq!(sb.mails(), [mail("ann@example.org", "reset-password")]);

    // Accounts_PasswordReset off; no SMTP: still 200, no mail.
    let off = start(SandboxConfig {
        rc_password_reset: false,
        ..config()
    });
    let r = send(
        client
            .post(format!("{}/api/v1/users.forgotPassword", off.url()))
            .json(&json!({"email": "admin@example.com"})),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Password reset is not enabled"})
    );
    let quiet = start(SandboxConfig {
        smtp: false,
        ..config()
    });
    let r = send(
        client
            .post(format!("{}/api/v1/users.forgotPassword", quiet.url()))
            .json(&json!({"email": "admin@example.com"})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(quiet.mails().is_empty());
}

#[test]
fn rocketchat_create_token_needs_the_secret_the_permission_and_2fa() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        rc_create_tokens_secret: Some(Secret::new("s3cret")),
        ..config()
    });
    let ids = seed(&sb, &["svc"], "pw-1");
    let admin = Session::admin(&sb);
    let code = sha256_hex(ADMIN_PW);
    let tfa = [("x-2fa-method", "password"), ("x-2fa-code", code.as_str())];
    let r = admin.post("/api/v1/users.createToken", &json!({"userId": ids[0]}));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["errorType"], "invalid-params", "{}", r.text);
    let r = admin.post(
        "/api/v1/users.createToken",
        &json!({"userId": ids[0], "secret": "s3cret"}),
    );
    assert_eq!(r.body["errorType"], "totp-required", "{}", r.text);
    let r = admin.post_h(
        "/api/v1/users.createToken",
        &json!({"userId": ids[0], "secret": "wrong"}),
        &tfa,
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error(), "Not authorized [error-not-authorized]");
    let r = admin.post_h(
        "/api/v1/users.createToken",
        &json!({"userId": ids[0], "secret": "s3cret"}),
        &tfa,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"]["userId"], ids[0].as_str());
    let token = r.body["data"]["authToken"].as_str().unwrap().to_string();
    let me = send(
        client()
            .get(format!("{}/api/v1/me", sb.url()))
            .header("X-User-Id", &ids[0])
            .header("X-Auth-Token", &token),
    );
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "svc");
    // The importer's provisioner role lacks user-generate-access-token.
    let importer = Session::importer(&sb);
    let r = importer.post_h(
        "/api/v1/users.createToken",
        &json!({"userId": ids[0], "secret": "s3cret"}),
        &[
            ("x-2fa-method", "password"),
            ("x-2fa-code", &sha256_hex(IMPORTER_PW)),
        ],
    );
    assert_eq!(
        r.error(),
        "Not authorized [error-not-authorized]",
        "{}",
        r.text
    );

    // CREATE_TOKENS_FOR_USERS_SECRET unset: every call is refused.
    let unset = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let admin = Session::admin(&unset);
    let r = admin.post_h(
        "/api/v1/users.createToken",
        &json!({"userId": admin.user_id, "secret": ""}),
        &tfa,
    );
    assert_eq!(
        r.error(),
        "Not authorized [error-not-authorized]",
        "{}",
        r.text
    );
}

/// A Mattermost session: (base, token).
fn mm_login(sb: &Sandbox, user: &str, password: &str) -> (String, String) {
    let r = mm_login_raw(&client(), &sb.url(), user, password);
    assert_eq!(r.status, 200, "login as {user}: {}", r.text);
    (sb.url(), r.header("token").expect("Token"))
}

fn mm(session: &(String, String), method: Method, path: &str, body: Option<Value>) -> Reply {
    let mut rb = client()
        .request(method, format!("{}/api/v4{path}", session.0))
        .bearer_auth(&session.1);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    send(rb)
}

#[track_caller]
fn app_error(r: &Reply, status: u16, id: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["id"], id, "{}", r.text);
}

fn mm_config() -> SandboxConfig {
    SandboxConfig {
        flavor: FlavorKind::Mattermost,
        mm_ldap_users: vec!["dir".into()],
        ..config()
    }
}

#[test]
fn mattermost_admin_password_set_policy_sessions_and_sso() {
    let sb = start(SandboxConfig {
        mm_password_minimum_length: 12,
        ..mm_config()
    });
    let ids = seed(&sb, &["ann", "bob", "dir"], "Old-password-1");
    let ann = mm_login(&sb, "ann", "Old-password-1");
    let admin = mm_login(&sb, "admin", ADMIN_PW);
    let put = |who: &(String, String), id: &str, body: Value| {
        mm(
            who,
            Method::PUT,
            &format!("/users/{id}/password"),
            Some(body),
        )
    };
    let r = put(&admin, &ids[0], json!({"new_password": "short"}));
    app_error(&r, 400, "model.user.is_valid.pwd_min_length.app_error");
    let r = put(&admin, &ids[0], json!({"new_password": "A-long-enough-1"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"status": "OK"}));
    assert_eq!(
        mm(&ann, Method::GET, "/users/me", None).status,
        401,
        "the user's sessions were revoked"
    );
    mm_login(&sb, "ann", "A-long-enough-1");
    // Another user's password needs an admin; an unknown user is 403 too.
    let bob = mm_login(&sb, "bob", "Old-password-1");
    let r = put(&bob, &ids[0], json!({"new_password": "A-long-enough-2"}));
    app_error(&r, 403, "api.user.update_password.context.app_error");
    let r = put(
        &admin,
        "abcdefghijklmnopqrstuvwxyz",
        json!({"new_password": "A-long-enough-2"}),
    );
    app_error(&r, 403, "api.user.update_password.context.app_error");
    let r = put(&bob, &ids[1], json!({"new_password": "A-long-enough-2"}));
    app_error(&r, 400, "api.context.invalid_body_param.app_error");
    // An LDAP account becomes an email one, silently.
    let r = put(&admin, &ids[2], json!({"new_password": "A-long-enough-3"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let dir = user(&sb, "dir");
    assert_eq!(dir["auth_service"], "", "{dir}");
    assert_eq!(dir["auth_data"], "", "{dir}");
    mm_login(&sb, "dir", "A-long-enough-3");
    assert_eq!(
        sb.mails(),
        [
            mail("ann@example.org", "password-changed"),
            mail("dir@example.org", "password-changed")
        ]
    );
}

/// `PUT /users/{id}/password` needs `sysconsole_write_user_management_users`, which no
/// role but system_admin holds until an admin grants it (here a user manager): then a
/// non-admin sets passwords, though it is shown no one's auth_service, and so cannot tell
/// the LDAP accounts it turns into email ones. An admin's password needs manage_system.
#[test]
fn mattermost_password_set_needs_the_write_users_permission_which_shows_no_auth_service() {
    for granted in [false, true] {
        let grants = if granted {
            vec![(
                "system_user_manager".to_string(),
                "sysconsole_write_user_management_users".to_string(),
            )]
        } else {
            Vec::new()
        };
        let sb = start(SandboxConfig {
            mm_role_permissions: grants,
            ..mm_config()
        });
        let ids = seed(&sb, &["ann", "dir"], "Old-password-1");
        sb.seed_users(&[SeedUser {
            username: "mgr".into(),
            email: "mgr@example.org".into(),
            name: "Manager".into(),
            password: Some("Old-password-1".into()),
            active: true,
            roles: vec!["system_user".into(), "system_user_manager".into()],
        }])
        .expect("seed");
        let mgr = mm_login(&sb, "mgr", "Old-password-1");
        let admin = mm_login(&sb, "admin", ADMIN_PW);
        let dir = format!("/users/{}", ids[1]);
        assert_eq!(mm(&mgr, Method::GET, &dir, None).body["auth_service"], "");
        assert_eq!(
            mm(&admin, Method::GET, &dir, None).body["auth_service"],
            "ldap"
        );
        let put = |id: &str, pw: &str| {
            mm(
                &mgr,
                Method::PUT,
                &format!("/users/{id}/password"),
                Some(json!({ "new_password": pw })),
            )
        };
        let r = put(&ids[0], "A-long-enough-1");
        if !granted {
            app_error(&r, 403, "api.user.update_password.context.app_error");
            continue;
        }
        assert_eq!(r.status, 200, "{}", r.text);
        mm_login(&sb, "ann", "A-long-enough-1");
        let r = put(&ids[1], "A-long-enough-2");
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            user(&sb, "dir")["auth_service"],
            "",
            "silently an email account"
        );
        let admin_id = user(&sb, "admin")["id"].as_str().unwrap().to_string();
        let r = put(&admin_id, "A-long-enough-3");
        app_error(&r, 403, "api.user.update_password.context.app_error");
        mm_login(&sb, "admin", ADMIN_PW);
    }
}

#[test]
fn mattermost_password_reset_mail() {
    let sb = start(mm_config());
    seed(&sb, &["ann", "dir"], "Old-password-1");
    let client = client();
    let post = |sb: &Sandbox, email: &str| {
        send(
            client
                .post(format!("{}/api/v4/users/password/reset/send", sb.url()))
                .json(&json!({ "email": email })),
        )
    };
    let r = post(&sb, "ANN@example.org");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(post(&sb, "nobody@example.org").status, 200);
    app_error(
        &post(&sb, ""),
        400,
        "api.context.invalid_body_param.app_error",
    );
    app_error(
        &post(&sb, "dir@example.org"),
        400,
        "api.user.send_password_reset.sso.app_error",
    );
    assert_eq!(sb.mails(), [mail("ann@example.org", "reset-password")]);
    let quiet = start(SandboxConfig {
        smtp: false,
        ..mm_config()
    });
    app_error(
        &post(&quiet, "admin@example.com"),
        500,
        "api.user.send_password_reset.send.app_error",
    );
}

#[test]
fn mattermost_access_tokens_setting_listing_and_login() {
    let off = start(mm_config());
    let ids = seed(&off, &["svc"], "Old-password-1");
    let admin = mm_login(&off, "admin", ADMIN_PW);
    let path = format!("/users/{}/tokens", ids[0]);
    let r = mm(
        &admin,
        Method::POST,
        &path,
        Some(json!({"description": "ci"})),
    );
    app_error(&r, 501, "app.user_access_token.disabled");

    let sb = start(SandboxConfig {
        mm_enable_user_access_tokens: true,
        ..mm_config()
    });
    let ids = seed(&sb, &["svc", "bob"], "Old-password-1");
    let admin = mm_login(&sb, "admin", ADMIN_PW);
    let path = format!("/users/{}/tokens", ids[0]);
    let r = mm(&admin, Method::POST, &path, Some(json!({})));
    app_error(&r, 400, "api.context.invalid_body_param.app_error");
    let r = mm(
        &admin,
        Method::POST,
        &path,
        Some(json!({"description": "x".repeat(256)})),
    );
    app_error(
        &r,
        400,
        "model.user_access_token.is_valid.description.app_error",
    );
    let bob = mm_login(&sb, "bob", "Old-password-1");
    let r = mm(
        &bob,
        Method::POST,
        &path,
        Some(json!({"description": "ci"})),
    );
    app_error(&r, 403, "api.context.permissions.app_error");
    let r = mm(
        &admin,
        Method::POST,
        &path,
        Some(json!({"description": "ci"})),
    );
    assert_eq!(r.status, 200, "not 201: {}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(r.body["user_id"], ids[0].as_str());
    assert_eq!(r.body["description"], "ci");
    assert_eq!(r.body["is_active"], true);
    let listed = mm(&admin, Method::GET, &path, None);
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], r.body["id"]);
    assert!(listed.body[0].get("token").is_none(), "{}", listed.text);
    // The token logs in, also after the user's sessions are revoked.
    let svc = (sb.url(), token);
    let me = mm(&svc, Method::GET, "/users/me", None);
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "svc");
    let r = mm(
        &admin,
        Method::POST,
        &format!("/users/{}/sessions/revoke/all", ids[0]),
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(mm(&svc, Method::GET, "/users/me", None).status, 200);
    assert_eq!(sb.mails(), [mail("svc@example.org", "token-created")]);
}
