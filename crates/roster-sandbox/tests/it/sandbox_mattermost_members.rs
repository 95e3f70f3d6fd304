//! Mattermost teams, channels, memberships and profile images (issue 13), as
//! /work/shared/docs/mattermost-members-and-ops.md §1–§3 and §15 describe them.

use reqwest::Method;
use reqwest::blocking::Client;
use roster_sandbox::{FlavorKind, ManualClock, Memberships, Sandbox, SandboxConfig, SeedUser};
use roster_test_support::{ADMIN_PW, Reply, client, config, mm_login_raw, send, start};
use serde_json::{Value, json};

fn mm_config() -> SandboxConfig {
    SandboxConfig {
        flavor: FlavorKind::Mattermost,
        ..config()
    }
}

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
    fn delete(&self, path: &str) -> Reply {
        self.req(Method::DELETE, path, None)
    }

    fn upload(&self, user_id: &str, field: &str, bytes: &[u8]) -> Reply {
        let (ct, body) = form(&[], Some((field, "profile.png", bytes)));
        send(
            self.client
                .post(format!("{}/api/v4/users/{user_id}/image", self.base))
                .bearer_auth(&self.token)
                .header("Content-Type", ct)
                .body(body),
        )
    }
}

/// A `multipart/form-data` body: text fields, then an optional file (field, name, bytes).
pub(crate) fn form(
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> (String, Vec<u8>) {
    let boundary = "roster-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((field, name, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[track_caller]
fn app_error(r: &Reply, status: u16, id: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["id"], id, "{}", r.text);
    assert_eq!(r.body["status_code"], status, "{}", r.text);
}

fn seed(sb: &Sandbox, names: &[(&str, bool)]) -> Vec<String> {
    let users: Vec<SeedUser> = names
        .iter()
        .map(|(n, active)| SeedUser {
            username: n.to_string(),
            email: format!("{n}@example.org"),
            name: format!("Seed {n}"),
            password: Some("Seeded-pw-1".into()),
            active: *active,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed")
}

fn ids(r: &Reply, key: &str) -> Vec<String> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|m| m[key].as_str().unwrap_or("").to_string())
        .collect()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b
}

fn jpeg(w: u16, h: u16) -> Vec<u8> {
    let mut b = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 8,
    ];
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xD9]);
    b
}

#[test]
fn teams_lookups_names_and_paging() {
    let sb = start(mm_config());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let t1 = sb.seed_team("alpha", false).expect("team");
    sb.seed_team("beta", true).expect("team");
    assert!(sb.seed_team("alpha", false).is_err());

    let r = admin.get("/teams/name/alpha");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], t1.as_str());
    assert_eq!(r.body["type"], "O");
    assert_eq!(r.body["allow_open_invite"], true);
    app_error(
        &admin.get("/teams/name/Alpha"),
        400,
        "api.context.invalid_url_param.app_error",
    );
    app_error(
        &admin.get("/teams/name/gamma"),
        404,
        "app.team.get_by_name.missing.app_error",
    );
    app_error(
        &admin.get("/teams/shortid"),
        400,
        "api.context.invalid_url_param.app_error",
    );
    app_error(
        &admin.get("/teams/aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        404,
        "app.team.get.find.app_error",
    );
    assert_eq!(admin.get(&format!("/teams/{t1}")).body["name"], "alpha");

    let r = admin.get("/teams?per_page=1&include_total_count=true");
    assert_eq!(r.body["total_count"], 2, "{}", r.text);
    assert_eq!(r.body["teams"].as_array().map(Vec::len), Some(1));
    assert_eq!(admin.get("/teams").body.as_array().map(Vec::len), Some(2));

    // A non-admin sees the open-invite team only, and a private one is 403 by name.
    seed(&sb, &[("dora", true)]);
    let dora = Mm::login(&sb, "dora", "Seeded-pw-1");
    assert_eq!(ids(&dora.get("/teams"), "name"), ["alpha"]);
    app_error(
        &dora.get("/teams/name/beta"),
        403,
        "api.context.permissions.app_error",
    );

    // Creating a team: validation ids, then the creator is its admin and joins the defaults.
    let bad = [
        (
            json!({"name": "x1", "display_name": "", "type": "O"}),
            "model.team.is_valid.name.app_error",
        ),
        (
            json!({"name": "admins", "display_name": "A", "type": "O"}),
            "model.team.is_valid.reserved.app_error",
        ),
        (
            json!({"name": "Up", "display_name": "A", "type": "O"}),
            "model.team.is_valid.characters.app_error",
        ),
        (
            json!({"name": "gamma", "display_name": "G", "type": "X"}),
            "model.team.is_valid.type.app_error",
        ),
        (
            json!({"name": "alpha", "display_name": "G", "type": "O"}),
            "app.team.save.existing.app_error",
        ),
    ];
    for (body, id) in bad {
        app_error(&admin.post("/teams", &body), 400, id);
    }
    app_error(
        &admin.post("/teams", &json!(["x"])),
        400,
        "api.context.invalid_body_param.app_error",
    );
    let r = admin.post(
        "/teams",
        &json!({"name": "gamma", "display_name": "Gamma", "type": "I"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["type"], "I");
    let m = sb.memberships("admin");
    assert_eq!(m.teams, ["gamma"]);
    assert_eq!(m.channels, ["off-topic", "town-square"]);
}

#[test]
fn team_add_is_idempotent_limited_and_joins_default_channels() {
    let sb = start(SandboxConfig {
        mm_max_users_per_team: 3,
        ..mm_config()
    });
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    let u = seed(
        &sb,
        &[
            ("ann", true),
            ("bob", true),
            ("cid", false),
            ("dan", true),
            ("eve", true),
        ],
    );
    let path = format!("/teams/{team}/members");

    let r = admin.post(&path, &json!({"team_id": team, "user_id": u[0]}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["roles"], "team_user");
    assert_eq!(r.body["delete_at"], 0);
    assert!(r.body.get("create_at").is_none());
    // Again: 201 with the same member.
    let again = admin.post(&path, &json!({"team_id": team, "user_id": u[0]}));
    assert_eq!((again.status, &again.body), (201, &r.body));
    assert_eq!(
        sb.memberships("ann"),
        Memberships {
            teams: vec!["alpha".into()],
            channels: vec!["off-topic".into(), "town-square".into()],
        }
    );

    // Errors in order.
    app_error(
        &admin.post(&path, &json!("x")),
        400,
        "api.team.add_team_member.invalid_body.app_error",
    );
    app_error(
        &admin.post(
            &path,
            &json!({"team_id": "bbbbbbbbbbbbbbbbbbbbbbbbbb", "user_id": u[1]}),
        ),
        400,
        "api.context.invalid_body_param.app_error",
    );
    app_error(
        &admin.post(&path, &json!({"team_id": team, "user_id": "x"})),
        400,
        "api.context.invalid_body_param.app_error",
    );
    app_error(
        &admin.post(
            &path,
            &json!({"team_id": team, "user_id": "aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
        ),
        404,
        "app.user.missing_account.const",
    );
    // A deactivated user is added (and does not count toward the limit).
    assert_eq!(
        admin
            .post(&path, &json!({"team_id": team, "user_id": u[2]}))
            .status,
        201
    );
    assert_eq!(
        admin
            .post(&path, &json!({"team_id": team, "user_id": u[1]}))
            .status,
        201
    );
    // admin is not a member; ann, bob active (+cid inactive) = 2 active; one more fits.
    assert_eq!(
        admin
            .post(&path, &json!({"team_id": team, "user_id": u[3]}))
            .status,
        201
    );
    app_error(
        &admin.post(&path, &json!({"team_id": team, "user_id": u[4]})),
        400,
        "app.team.join_user_to_team.save_member.max_accounts.app_error",
    );
    // Removal then re-add when full: the reactivation id.
    assert_eq!(admin.delete(&format!("{path}/{}", u[0])).status, 200);
    assert_eq!(
        admin
            .post(&path, &json!({"team_id": team, "user_id": u[4]}))
            .status,
        201
    );
    app_error(
        &admin.post(&path, &json!({"team_id": team, "user_id": u[0]})),
        400,
        "app.team.join_user_to_team.max_accounts.app_error",
    );

    // A non-member adding someone else: 403 before anything else.
    let eve = Mm::login(&sb, "eve", "Seeded-pw-1");
    app_error(
        &eve.post(
            "/teams/cccccccccccccccccccccccccc/members",
            &json!({"team_id": "cccccccccccccccccccccccccc", "user_id": u[0]}),
        ),
        403,
        "api.context.permissions.app_error",
    );
}

#[test]
fn team_batch_limits_graceful_shape_and_partial_adds() {
    let sb = start(SandboxConfig {
        mm_max_users_per_team: 1000,
        ..mm_config()
    });
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    let u = seed(&sb, &[("ann", true), ("bob", true), ("cid", true)]);
    let path = format!("/teams/{team}/members/batch");
    let entry = |id: &str| json!({"team_id": team, "user_id": id});
    let ghost = "aaaaaaaaaaaaaaaaaaaaaaaaaa";

    let too_many: Vec<Value> = (0..257).map(|_| entry(&u[0])).collect();
    let r = admin.post(&path, &json!(too_many));
    app_error(&r, 400, "api.context.invalid_body_param.app_error");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("too many members in batch")
    );
    let r = admin.post(&path, &json!([]));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("no members in batch"),
        "{}",
        r.text
    );
    app_error(
        &admin.post(
            "/teams/bbbbbbbbbbbbbbbbbbbbbbbbbb/members/batch",
            &json!([entry(&u[0])]),
        ),
        404,
        "app.team.get.find.app_error",
    );
    let r = admin.post(&path, &json!([{"team_id": "x", "user_id": u[0]}]));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("team_id for member with user_id={}", u[0])),
        "{}",
        r.text
    );

    // Non-graceful: sequential; the first failure aborts, earlier users stay.
    let r = admin.post(&path, &json!([entry(&u[0]), entry(ghost), entry(&u[1])]));
    app_error(&r, 404, "app.user.missing_account.const");
    assert_eq!(sb.memberships("ann").teams, ["alpha"]);
    assert!(sb.memberships("bob").teams.is_empty());

    // Graceful (any non-empty value, also "false"): input order, both keys always.
    let r = admin.post(
        &format!("{path}?graceful=false"),
        &json!([entry(&u[1]), entry(ghost), entry(&u[0])]),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let list = r.body.as_array().expect("array");
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["user_id"], u[1].as_str());
    assert_eq!(list[0]["error"], Value::Null);
    assert_eq!(list[0]["member"]["user_id"], u[1].as_str());
    assert_eq!(list[1]["member"], Value::Null);
    assert_eq!(list[1]["error"]["id"], "app.user.missing_account.const");
    assert!(list[1]["error"].get("request_id").is_none());
    assert_eq!(
        list[2]["error"],
        Value::Null,
        "an existing member is a success"
    );

    // Plain success: an array of members.
    let r = admin.post(&path, &json!([entry(&u[2])]));
    assert_eq!(r.status, 201);
    assert_eq!(ids(&r, "user_id"), [u[2].clone()]);
}

#[test]
fn team_removal_cascades_and_listings() {
    let sb = start(mm_config());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    sb.seed_channel(Some("alpha"), "dev", true)
        .expect("channel");
    let u = seed(&sb, &[("ann", true), ("bob", true), ("cid", true)]);
    for n in ["ann", "bob"] {
        sb.add_member("alpha", n).expect("member");
    }
    sb.add_member("dev", "ann").expect("member");
    assert_eq!(
        sb.memberships("ann").channels,
        ["dev", "off-topic", "town-square"]
    );

    let path = format!("/teams/{team}/members");
    let mut sorted = vec![u[0].clone(), u[1].clone()];
    sorted.sort();
    assert_eq!(ids(&admin.get(&path), "user_id"), sorted);
    assert_eq!(
        ids(&admin.get(&format!("{path}?sort=Username")), "user_id"),
        [u[0].clone(), u[1].clone()]
    );
    assert_eq!(
        admin
            .get(&format!("{path}?per_page=1&page=1"))
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    app_error(
        &admin.delete(&format!("{path}/{}", u[2])),
        400,
        "api.team.remove_user_from_team.missing.app_error",
    );
    app_error(
        &admin.delete(&format!(
            "/teams/bbbbbbbbbbbbbbbbbbbbbbbbbb/members/{}",
            u[0]
        )),
        404,
        "app.team.get.find.app_error",
    );
    let r = admin.delete(&format!("{path}/{}", u[0]));
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "OK"})));
    assert_eq!(
        sb.memberships("ann"),
        Memberships::default(),
        "every channel of the team left"
    );
    // Again: found again, 200.
    assert_eq!(admin.delete(&format!("{path}/{}", u[0])).status, 200);
    assert_eq!(ids(&admin.get(&path), "user_id"), [u[1].clone()]);
    // The user's own listings: /teams drops it, /teams/members keeps it removed.
    assert_eq!(admin.get(&format!("/users/{}/teams", u[0])).body, json!([]));
    let r = admin.get(&format!("/users/{}/teams/members", u[0]));
    assert_eq!(r.body[0]["team_id"], team.as_str());
    assert!(
        r.body[0]["delete_at"].as_i64().unwrap_or(0) > 0,
        "{}",
        r.text
    );
    assert_eq!(r.body[0]["roles"], "");
    assert_eq!(admin.get(&format!("{path}/{}", u[0])).status, 200);
    app_error(
        &admin.get(&format!("{path}/{}", u[2])),
        404,
        "app.team.get_member.missing.app_error",
    );
    // A non-member cannot list the members; a member can.
    let cid = Mm::login(&sb, "cid", "Seeded-pw-1");
    app_error(&cid.get(&path), 403, "api.context.permissions.app_error");
    let bob = Mm::login(&sb, "bob", "Seeded-pw-1");
    assert_eq!(bob.get(&path).status, 200);
    assert_eq!(ids(&bob.get("/users/me/teams"), "name"), ["alpha"]);
    app_error(
        &bob.get(&format!("/users/{}/teams", u[2])),
        403,
        "api.context.permissions.app_error",
    );
}

#[test]
fn channels_by_name_create_add_remove_and_listings() {
    let sb = start(mm_config());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    let secret = sb
        .seed_channel(Some("alpha"), "secret", true)
        .expect("channel");
    let u = seed(
        &sb,
        &[("ann", true), ("bob", true), ("cid", false), ("dan", true)],
    );
    sb.add_member("alpha", "ann").expect("member");
    sb.add_member("alpha", "bob").expect("member");
    sb.add_member("alpha", "cid").expect("member");

    let by_name = |n: &str| format!("/teams/{team}/channels/name/{n}");
    let r = admin.get(&by_name("town-square"));
    assert_eq!(r.status, 200, "{}", r.text);
    let town = r.body["id"].as_str().expect("id").to_string();
    app_error(
        &admin.get(&by_name("Town-Square")),
        400,
        "api.context.invalid_url_param.app_error",
    );
    app_error(
        &admin.get(&by_name("nope")),
        404,
        "app.channel.get_by_name.missing.app_error",
    );
    // The private channel is hidden from a team member who is not in it.
    let ann = Mm::login(&sb, "ann", "Seeded-pw-1");
    app_error(
        &ann.get(&by_name("secret")),
        404,
        "app.channel.get_by_name.missing.app_error",
    );
    assert_eq!(admin.get(&by_name("secret")).body["id"], secret.as_str());

    // Create: validation, duplicate, then 201 with the creator as member.
    app_error(
        &admin.post(
            "/channels",
            &json!({"team_id": team, "name": "Dev", "display_name": "Dev", "type": "O"}),
        ),
        400,
        "model.channel.is_valid.2_or_more.app_error",
    );
    app_error(
        &admin.post(
            "/channels",
            &json!({"team_id": team, "name": "dev", "display_name": "", "type": "O"}),
        ),
        400,
        "model.channel.is_valid.display_name.app_error",
    );
    app_error(
        &admin.post(
            "/channels",
            &json!({"team_id": team, "name": "a__b", "display_name": "D", "type": "O"}),
        ),
        400,
        "api.channel.create_channel.invalid_character.app_error",
    );
    app_error(
        &admin.post(
            "/channels",
            &json!({"team_id": team, "name": "secret", "display_name": "D", "type": "P"}),
        ),
        400,
        "store.sql_channel.save_channel.exists.app_error",
    );
    let dan = Mm::login(&sb, "dan", "Seeded-pw-1");
    app_error(
        &dan.post(
            "/channels",
            &json!({"team_id": team, "name": "dev", "display_name": "Dev", "type": "O"}),
        ),
        403,
        "api.context.permissions.app_error",
    );
    let r = admin.post(
        "/channels",
        &json!({"team_id": team, "name": "dev", "display_name": "Dev", "type": "O"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let dev = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(admin.get(&format!("/channels/{dev}")).body["name"], "dev");
    app_error(
        &admin.get("/channels/aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        404,
        "app.channel.get.existing.app_error",
    );

    // Add: user_id → one object; user_ids → an array without the failures.
    let add = format!("/channels/{dev}/members");
    let r = admin.post(&add, &json!({"user_id": u[0]}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["user_id"], u[0].as_str());
    let r = admin.post(&add, &json!({"user_ids": [u[0], u[1], u[2], u[3]]}));
    assert_eq!(r.status, 201, "{}", r.text);
    let mut got = ids(&r, "user_id");
    got.sort();
    let mut want = vec![u[0].clone(), u[1].clone()];
    want.sort();
    assert_eq!(got, want, "cid (deactivated) and dan (no team) left out");
    // Nobody succeeded: the last error.
    app_error(
        &admin.post(&add, &json!({"user_ids": [u[3], u[2]]})),
        403,
        "app.channel.add_member.deleted_user.app_error",
    );
    app_error(
        &admin.post(&add, &json!({"user_id": u[3]})),
        404,
        "app.team.get_member.missing.app_error",
    );
    assert_eq!(
        admin
            .delete(&format!("/teams/{team}/members/{}", u[1]))
            .status,
        200
    );
    app_error(
        &admin.post(&add, &json!({"user_id": u[1]})),
        400,
        "api.channel.add_user.to.channel.failed.deleted.app_error",
    );
    let thousand: Vec<String> = (0..1001).map(|_| u[0].clone()).collect();
    app_error(
        &admin.post(&add, &json!({"user_ids": thousand})),
        400,
        "api.context.invalid_body_param.app_error",
    );
    app_error(
        &admin.post(&add, &json!({"user_ids": [1]})),
        400,
        "api.context.invalid_body_param.app_error",
    );
    app_error(
        &admin.post(&add, &json!({})),
        400,
        "api.context.invalid_body_param.app_error",
    );
    assert_eq!(admin.post(&add, &json!({"user_ids": []})).body, Value::Null);

    // Remove: 404 when not a member (not idempotent), 400 for town-square.
    let r = admin.delete(&format!("{add}/{}", u[0]));
    assert_eq!(r.status, 200, "{}", r.text);
    app_error(
        &admin.delete(&format!("{add}/{}", u[0])),
        404,
        "app.channel.get_member.missing.app_error",
    );
    app_error(
        &admin.delete(&format!("/channels/{town}/members/{}", u[0])),
        400,
        "api.channel.remove.default.app_error",
    );

    // Listings.
    assert_eq!(
        ids(&admin.get(&add), "user_id"),
        std::slice::from_ref(&admin.id)
    );
    let r = admin.get(&format!("/users/{}/teams/{team}/channels/members", u[0]));
    assert_eq!(r.body.as_array().map(Vec::len), Some(2), "{}", r.text);
    let r = ann.get("/users/me/channel_members");
    assert_eq!(r.body.as_array().map(Vec::len), Some(2), "{}", r.text);
}

#[test]
fn profile_image_checks_etag_and_reset() {
    let sb = start(mm_config());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let u = seed(&sb, &[("ann", true), ("bob", true)]);
    let ann = Mm::login(&sb, "ann", "Seeded-pw-1");

    // Permission first, then the form, then the user, then the image.
    app_error(
        &ann.upload(&u[1], "image", &png(4, 4)),
        403,
        "api.context.permissions.app_error",
    );
    let r = send(
        admin
            .client
            .post(format!("{}/api/v4/users/{}/image", admin.base, u[0]))
            .bearer_auth(&admin.token)
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body("garbage"),
    );
    app_error(&r, 500, "api.user.upload_profile_user.parse.app_error");
    app_error(
        &admin.upload(&u[0], "file", &png(4, 4)),
        400,
        "api.user.upload_profile_user.no_file.app_error",
    );
    app_error(
        &admin.upload(&u[0], "image", b""),
        400,
        "api.user.upload_profile_user.array.app_error",
    );
    app_error(
        &admin.upload("aaaaaaaaaaaaaaaaaaaaaaaaaa", "image", &png(4, 4)),
        400,
        "api.context.invalid_url_param.app_error",
    );
    app_error(
        &admin.upload(&u[0], "image", &png(8000, 8000)),
        400,
        "api.user.upload_profile_user.check_image_limits.app_error",
    );
    app_error(
        &admin.upload(&u[0], "image", b"not an image at all"),
        400,
        "api.user.upload_profile_user.decode.app_error",
    );
    assert_eq!(sb.avatar("ann"), None);

    // Never set: the default without an ETag.
    let get = |who: &Mm, etag: Option<&str>| {
        let mut rb = who
            .client
            .get(format!("{}/api/v4/users/{}/image", who.base, u[0]))
            .bearer_auth(&who.token);
        if let Some(e) = etag {
            rb = rb.header("If-None-Match", e);
        }
        rb.send().expect("response")
    };
    let r = get(&admin, None);
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("etag").is_none());
    assert_eq!(r.headers()["content-type"], "image/png");

    let image = jpeg(3, 2);
    let r = ann.upload("me", "image", &image);
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "OK"})),
        "{}",
        r.text
    );
    assert_eq!(sb.avatar("ann").as_deref(), Some(image.as_slice()));
    let lpu = admin.get(&format!("/users/{}", u[0])).body["last_picture_update"]
        .as_i64()
        .expect("last_picture_update");
    assert!(lpu > 0);
    // The same bytes again: nothing changes.
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(ann.upload("me", "image", &image).status, 200);
    assert_eq!(
        admin.get(&format!("/users/{}", u[0])).body["last_picture_update"],
        lpu
    );

    let r = get(&admin, None);
    assert_eq!(r.headers()["etag"], lpu.to_string().as_str());
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().expect("bytes").as_ref(), image.as_slice());
    assert_eq!(get(&admin, Some(&lpu.to_string())).status(), 304);

    // DELETE: back to the default, last_picture_update = -now.
    app_error(
        &admin.delete("/users/aaaaaaaaaaaaaaaaaaaaaaaaaa/image"),
        404,
        "app.user.missing_account.const",
    );
    assert_eq!(admin.delete(&format!("/users/{}/image", u[0])).status, 200);
    assert_eq!(sb.avatar("ann"), None);
    let reset = admin.get(&format!("/users/{}", u[0])).body["last_picture_update"]
        .as_i64()
        .expect("set");
    assert!(reset < 0 && -reset >= lpu, "{reset}");
}

#[test]
fn every_new_route_counts_in_the_limiter_and_state_survives() {
    let clock = ManualClock::new();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let cfg = SandboxConfig {
        rate_limit: Some(true),
        mm_per_sec: 1,
        mm_max_burst: 3,
        clock: Some(clock.clone()),
        state_file: Some(state.clone()),
        ..mm_config()
    };
    let sb = start(cfg.clone());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    // login used one; three more reach the burst.
    for _ in 0..3 {
        admin.get(&format!("/teams/{team}/members"));
    }
    let r = admin.get("/teams/name/alpha");
    assert_eq!(r.status, 429, "{}", r.text);
    let counters = sb.counters();
    assert_eq!(
        counters["GET /api/v4/teams/name/{team_name}"].rate_limited,
        1
    );
    assert_eq!(counters["GET /api/v4/teams/{team_id}/members"].requests, 3);

    let u = seed(&sb, &[("ann", true)]);
    sb.add_member("alpha", "ann").expect("member");
    sb.seed_channel(Some("alpha"), "dev", false)
        .expect("channel");
    sb.add_member("dev", "ann").expect("member");
    drop(admin);
    sb.stop().expect("stop");
    let text = std::fs::read_to_string(&state).expect("state");
    assert!(text.contains("town-square") && text.contains("team_members"));
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..cfg
    });
    assert_eq!(
        sb.memberships("ann").channels,
        ["dev", "off-topic", "town-square"]
    );
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    assert_eq!(
        admin.get(&format!("/users/{}/teams", u[0])).body[0]["name"],
        "alpha"
    );
}

#[test]
fn channel_member_management_needs_the_channel_for_others() {
    let sb = start(mm_config());
    sb.seed_team("alpha", false).expect("team");
    let dev = sb
        .seed_channel(Some("alpha"), "dev", false)
        .expect("channel");
    let u = seed(&sb, &[("ann", true), ("bob", true)]);
    sb.add_member("alpha", "ann").expect("member");
    sb.add_member("alpha", "bob").expect("member");
    let ann = Mm::login(&sb, "ann", "Seeded-pw-1");
    let add = format!("/channels/{dev}/members");
    // A team member may join a public channel, but not add someone else to one she is not in.
    app_error(
        &ann.post(&add, &json!({"user_id": u[1]})),
        403,
        "api.context.permissions.app_error",
    );
    let r = ann.post(&add, &json!({"user_id": ann.id}));
    assert_eq!(r.status, 201, "{}", r.text);
    // Once in, she may (channel_user holds manage_public_channel_members).
    assert_eq!(ann.post(&add, &json!({"user_id": u[1]})).status, 201);
    assert_eq!(ann.delete(&format!("{add}/{}", u[1])).status, 200);
    assert_eq!(sb.memberships("bob").channels, ["off-topic", "town-square"]);
}

/// `GET /teams/{id}/channels` lists a team's public channels to its members, `.../private`
/// its private ones to a system admin only; both by display name, paged, archived ones
/// left out (api4/channel.go getPublicChannelsForTeam, getPrivateChannelsForTeam).
#[test]
fn team_channel_listings_public_and_private() {
    let sb = start(mm_config());
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let team = sb.seed_team("alpha", false).expect("team");
    sb.seed_channel(Some("alpha"), "news", false)
        .expect("channel");
    sb.seed_channel(Some("alpha"), "secret", true)
        .expect("channel");
    seed(&sb, &[("ann", true)]);
    sb.add_member("alpha", "ann").expect("member");
    let names = |r: &Reply| -> Vec<String> {
        let mut v: Vec<String> = r
            .body
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {}", r.text))
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };

    let r = admin.get(&format!("/teams/{team}/channels?page=0&per_page=200"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["news", "off-topic", "town-square"]);
    let r = admin.get(&format!("/teams/{team}/channels/private"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["secret"]);
    assert_eq!(r.body[0]["type"], "P");
    // Paged: the second page of one is the second channel by display name.
    let r = admin.get(&format!("/teams/{team}/channels?page=1&per_page=1"));
    assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.text);

    let ann = Mm::login(&sb, "ann", "Seeded-pw-1");
    let r = ann.get(&format!("/teams/{team}/channels"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ann.get(&format!("/teams/{team}/channels/private"));
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["id"], "api.context.permissions.app_error");
}

/// The account-settings routes of `roster do` (account.rs): their checks in the
/// handlers' order, and what each changes.
#[test]
fn mfa_preferences_auth_and_bot_conversion() {
    let sb = start(mm_config());
    let ids = seed(&sb, &[("ann", true), ("bob", true)]);
    let (ann, bob) = (&ids[0], &ids[1]);
    let admin = Mm::login(&sb, "admin", ADMIN_PW);
    let plain = Mm::login(&sb, "bob", "Seeded-pw-1");
    let put = |who: &Mm, path: &str, body: &Value| who.req(Method::PUT, path, Some(body));
    let err = |r: &Reply| r.body["id"].as_str().unwrap_or("").to_string();

    // MFA: `activate` must be a boolean; turning it on needs a code, then the setting.
    let facts = roster_sandbox::AccountFacts {
        mfa_active: Some(true),
        ..Default::default()
    };
    sb.set_account_facts("ann", &facts).unwrap();
    let mfa = format!("/users/{ann}/mfa");
    assert_eq!(put(&admin, &mfa, &json!({"activate": "no"})).status, 400);
    let r = put(&admin, &mfa, &json!({"activate": true}));
    assert_eq!(
        (r.status, r.body["id"].clone()),
        (400, json!("api.context.invalid_body_param.app_error"))
    );
    assert_eq!(
        put(&admin, &mfa, &json!({"activate": true, "code": "1"})).status,
        501
    );
    assert_eq!(put(&plain, &mfa, &json!({"activate": false})).status, 403);
    assert_eq!(sb.mfa("ann"), Some(true));
    for _ in 0..2 {
        let r = put(&admin, &mfa, &json!({"activate": false}));
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"status": "OK"})),
            "idempotent"
        );
    }
    assert_eq!(sb.mfa("ann"), Some(false));

    // Preferences: 1 to 100 items; every user_id the path's (403) before any item's
    // validity (400); all or nothing.
    let prefs = format!("/users/{ann}/preferences");
    let item = |user: &str, c: &str, n: &str, v: &str| json!({"user_id": user, "category": c, "name": n, "value": v});
    assert_eq!(put(&admin, &prefs, &json!([])).status, 400);
    let many: Vec<Value> = (0..101)
        .map(|i| item(ann, "c", &format!("n{i}"), "v"))
        .collect();
    assert_eq!(put(&admin, &prefs, &json!(many)).status, 400);
    let r = put(
        &admin,
        &prefs,
        &json!([item(ann, "", "n", "v"), item(bob, "c", "n", "v")]),
    );
    assert_eq!(
        (r.status, err(&r)),
        (
            403,
            "api.preference.update_preferences.set.app_error".into()
        )
    );
    let r = put(
        &admin,
        &prefs,
        &json!([
            item(ann, "ok", "n", "v"),
            item(ann, "theme", "", "not json")
        ]),
    );
    assert_eq!(
        (r.status, err(&r)),
        (400, "model.preference.is_valid.theme.app_error".into())
    );
    assert!(sb.preferences("ann").is_empty(), "all or nothing");
    let r = put(
        &admin,
        &prefs,
        &json!([item(ann, "display_settings", "use_military_time", "true")]),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        put(&plain, &prefs, &json!([item(ann, "c", "n", "v")])).status,
        403
    );
    let r = admin.get(&prefs);
    assert_eq!(r.body[0]["value"], "true", "{}", r.text);

    // Auth: system admins only; both fields needed; auth_data unique; the password goes.
    let auth = |u: &str| format!("/users/{u}/auth");
    let body = json!({"auth_service": "ldap", "auth_data": "uid-ann"});
    assert_eq!(put(&plain, &auth(ann), &body).status, 403);
    let r = put(&admin, &auth(ann), &json!({"auth_service": "ldap"}));
    assert_eq!(
        (r.status, err(&r)),
        (400, "api.user.update_user_auth.invalid_request".into())
    );
    let r = put(&admin, &auth(ann), &body);
    assert_eq!((r.status, &r.body), (200, &body));
    let r = put(&admin, &auth(bob), &body);
    assert_eq!(
        (r.status, err(&r)),
        (
            400,
            "app.user.update_auth_data.email_exists.app_error".into()
        )
    );
    assert_ne!(
        mm_login_raw(&client(), &sb.url(), "ann", "Seeded-pw-1").status,
        200
    );

    // Bots: a plain user may not; the conversion ends the sessions; a bot already is a 500.
    let bot = format!("/users/{bob}/convert_to_bot");
    assert_eq!(plain.post(&bot, &json!({})).status, 403);
    let r = admin.post(&bot, &json!({}));
    assert_eq!(
        (r.status, r.body["user_id"].clone()),
        (200, json!(bob)),
        "{}",
        r.text
    );
    assert_eq!(plain.get("/users/me").status, 401, "sessions revoked");
    let r = admin.post(&bot, &json!({}));
    assert_eq!(
        (r.status, err(&r)),
        (500, "app.bot.createbot.internal_error".into())
    );
    assert_eq!(admin.get(&format!("/users/{bob}")).body["is_bot"], true);
}
