//! Rocket.Chat rooms, subscriptions, teams and avatars (issue 13), as
//! /work/shared/docs/rocketchat-members-and-ops.md §1–§3 and §11 describe them.

use std::io::{Read, Write};
use std::net::TcpListener;

use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use roster_sandbox::{ManualClock, Memberships, SandboxConfig, SeedUser};
use roster_test_support::*;
use serde_json::{Value, json};

use crate::sandbox_mattermost_members::form;

fn seed(sb: &roster_sandbox::Sandbox, names: &[(&str, bool)]) -> Vec<String> {
    let users: Vec<SeedUser> = names
        .iter()
        .map(|(n, active)| SeedUser {
            username: n.to_string(),
            email: format!("{n}@example.org"),
            name: format!("Seed {n}"),
            password: Some("pw".into()),
            active: *active,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed")
}

#[track_caller]
fn err(r: &Reply, status: u16, error: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    assert_eq!(r.body["success"], false, "{}", r.text);
}

fn usernames(r: &Reply) -> Vec<String> {
    r.body["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members: {}", r.text))
        .iter()
        .map(|m| m["username"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn default_channels_on_create_and_user_rooms() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    let importer = Session::importer(&sb);
    let id = importer.create_user("kate", "kate@example.org", "pw");
    assert_eq!(sb.memberships("kate").channels, ["general"]);
    let r = importer.post(
        "/api/v1/users.create",
        &json!({"username": "lou", "email": "lou@example.org", "name": "Lou", "password": "pw", "joinDefaultChannels": false}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sb.memberships("lou"), Memberships::default());

    let r = admin.get(&format!(
        "/api/v1/users.info?userId={id}&includeUserRooms=true"
    ));
    assert_eq!(r.body["user"]["rooms"][0]["name"], "general", "{}", r.text);
    assert_eq!(r.body["user"]["rooms"][0]["t"], "c");
    // Without view-other-user-channels the flag is ignored.
    seed(&sb, &[("zed", true)]);
    let zed = Session::login(&sb, "zed", "pw");
    let r = zed.get(&format!(
        "/api/v1/users.info?userId={id}&includeUserRooms=true"
    ));
    assert!(r.body["user"].get("rooms").is_none(), "{}", r.text);
    // Yourself: always.
    let r = zed.get("/api/v1/users.info?username=zed&includeUserRooms=true");
    assert_eq!(r.body["user"]["rooms"], json!([]), "{}", r.text);
}

#[test]
fn create_info_and_visibility() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    seed(&sb, &[("ann", true)]);
    let ann = Session::login(&sb, "ann", "pw");

    let r = ann.post(
        "/api/v1/groups.create",
        &json!({"name": "secret", "members": ["admin", "ghost"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["group"]["t"], "p");
    assert_eq!(
        r.body["group"]["usersCount"], 2,
        "unknown usernames skipped"
    );
    err(
        &admin.post("/api/v1/channels.create", &json!({})),
        400,
        "Param \"name\" is required",
    );
    err(
        &admin.post("/api/v1/channels.create", &json!({"name": "bad name"})),
        400,
        "bad name is not a valid room name. [error-invalid-room-name]",
    );
    err(
        &admin.post("/api/v1/channels.create", &json!({"name": "secret"})),
        400,
        "A channel with name 'secret' exists [error-duplicate-channel-name]",
    );
    let r = admin.post("/api/v1/channels.create", &json!({"name": "town"}));
    assert_eq!(r.status, 200, "{}", r.text);
    let town = r.body["channel"]["_id"].as_str().expect("id").to_string();

    assert_eq!(
        ann.get("/api/v1/channels.info?roomName=town").body["channel"]["_id"],
        town.as_str()
    );
    err(
        &ann.get("/api/v1/channels.info?roomName=Town"),
        400,
        "The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]",
    );
    err(
        &ann.get("/api/v1/channels.info"),
        400,
        "The parameter \"roomId\" or \"roomName\" is required [error-roomid-param-not-provided]",
    );
    // A private group: invisible to a non-member admin.
    seed(&sb, &[("bob", true)]);
    let bob = Session::login(&sb, "bob", "pw");
    err(
        &bob.get("/api/v1/groups.info?roomName=secret"),
        400,
        "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]",
    );
    assert_eq!(ann.get("/api/v1/groups.info?roomName=secret").status, 200);
    let r = bob.get("/api/v1/rooms.info?roomName=secret");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"})
    );
    assert_eq!(
        bob.get("/api/v1/rooms.info?roomName=town").body["room"]["t"],
        "c"
    );
}

#[test]
fn invite_resolution_errors_and_permissions() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    let ids = seed(&sb, &[("ann", true), ("bob", true), ("cid", false)]);
    sb.seed_channel(None, "dev", false).expect("room");
    sb.seed_channel(None, "ops", true).expect("room");

    // Ids: unknown ones dropped silently; usernames ignoring case; mixing loses the names.
    let r = admin.post(
        "/api/v1/channels.invite",
        &json!({"roomName": "dev", "userIds": [ids[0], "nope"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["channel"]["name"], "dev");
    assert_eq!(sb.memberships("ann").channels, ["dev"]);
    let r = admin.post(
        "/api/v1/channels.invite",
        &json!({"roomName": "dev", "usernames": ["BOB"], "userId": ids[2]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        sb.memberships("bob").channels.is_empty(),
        "looked up as ids"
    );
    assert_eq!(
        sb.memberships("cid").channels,
        ["dev"],
        "an inactive user is added"
    );
    assert_eq!(
        admin
            .post(
                "/api/v1/channels.invite",
                &json!({"roomName": "dev", "usernames": ["BOB"]})
            )
            .status,
        200
    );
    assert_eq!(sb.memberships("bob").channels, ["dev"]);
    // Already a member: 200, nothing else.
    assert_eq!(
        admin
            .post(
                "/api/v1/channels.invite",
                &json!({"roomName": "dev", "username": "bob"})
            )
            .status,
        200
    );

    let r = admin.post(
        "/api/v1/channels.invite",
        &json!({"roomName": "dev", "usernames": ["ghost"]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "invalid-user-invite-list", "errorType": "Cannot invite if no users are provided"})
    );
    err(
        &admin.post(
            "/api/v1/groups.invite",
            &json!({"roomName": "ops", "usernames": ["ghost"]}),
        ),
        400,
        "Cannot invite if no valid users are provided [error-empty-invite-list]",
    );
    err(
        &admin.post("/api/v1/channels.invite", &json!({"roomName": "dev"})),
        400,
        "Please provide \"userId\" or \"username\" or \"userIds\" or \"usernames\" as param [error-users-params-not-provided]",
    );
    err(
        &admin.post("/api/v1/groups.invite", &json!({"username": "ann"})),
        400,
        "The parameter \"roomId\" or \"roomName\" is required [error-room-param-not-provided]",
    );
    // An admin who is not in a private group may not invite into it (no role holds
    // add-user-to-any-p-room); a plain member may not invite either.
    let r = admin.post(
        "/api/v1/groups.invite",
        &json!({"roomName": "ops", "username": "ann"}),
    );
    err(&r, 400, "Not allowed [error-not-allowed]");
    assert_eq!(r.body["details"], json!({"method": "addUsersToRoom"}));
    let ann = Session::login(&sb, "ann", "pw");
    err(
        &ann.post(
            "/api/v1/channels.invite",
            &json!({"roomName": "dev", "username": "admin"}),
        ),
        400,
        "Not allowed [error-not-allowed]",
    );
    // Once subscribed, the admin's add-user-to-joined-room applies.
    sb.add_member("ops", "admin").expect("member");
    let r = admin.post(
        "/api/v1/groups.invite",
        &json!({"roomName": "ops", "username": "ann"}),
    );
    assert_eq!(r.body["group"]["name"], "ops", "{}", r.text);
    assert_eq!(sb.memberships("ann").channels, ["dev", "ops"]);
}

#[test]
fn kick_schemas_order_last_owner_and_members_listing() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    let ids = seed(&sb, &[("ann", true), ("bob", true), ("cid", false)]);
    let ann = Session::login(&sb, "ann", "pw");
    let r = ann.post(
        "/api/v1/groups.create",
        &json!({"name": "ops", "members": ["bob", "cid"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    admin.post(
        "/api/v1/channels.create",
        &json!({"name": "dev", "members": ["ann", "bob", "cid"]}),
    );

    // channels.kick: userId only (ajv, legacy suffix).
    let r = admin.post(
        "/api/v1/channels.kick",
        &json!({"roomName": "dev", "username": "bob"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.error().ends_with("[invalid-params]"), "{}", r.text);
    let r = admin.post(
        "/api/v1/channels.kick",
        &json!({"roomName": "dev", "userId": ids[1]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["channel"]["name"], "dev");
    assert_eq!(sb.memberships("bob").channels, ["ops"]);
    // An admin kicking a non-member of a public channel: 200 (kick-user-from-any-c-room).
    assert_eq!(
        admin
            .post(
                "/api/v1/channels.kick",
                &json!({"roomName": "dev", "userId": ids[1]})
            )
            .status,
        200
    );
    // A member without remove-user.
    let bob = Session::login(&sb, "bob", "pw");
    let r = bob.post(
        "/api/v1/groups.kick",
        &json!({"roomName": "ops", "username": "cid"}),
    );
    err(&r, 400, "Not allowed [error-not-allowed]");
    assert_eq!(r.body["details"], json!({"method": "removeUserFromRoom"}));
    // The owner kicks by username; the last owner cannot go.
    let r = ann.post(
        "/api/v1/groups.kick",
        &json!({"roomName": "ops", "username": "BOB"}),
    );
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    err(
        &ann.post(
            "/api/v1/groups.kick",
            &json!({"roomName": "ops", "username": "bob"}),
        ),
        400,
        "User is not in this room [error-user-not-in-room]",
    );
    err(
        &ann.post(
            "/api/v1/groups.kick",
            &json!({"roomName": "ops", "userId": ids[0]}),
        ),
        400,
        "You are the last owner. Please set new owner before leaving the room. [error-you-are-last-owner]",
    );
    err(
        &ann.post(
            "/api/v1/groups.kick",
            &json!({"roomName": "ops", "username": "ghost"}),
        ),
        400,
        "The required \"userId\" or \"username\" param provided does not match any users [error-invalid-user]",
    );

    // Members: active users only, paged.
    let r = ann.get("/api/v1/groups.members?roomName=ops");
    assert_eq!(usernames(&r), ["ann"], "cid is inactive: {}", r.text);
    assert_eq!(r.body["total"], 1);
    let r = admin.get("/api/v1/channels.members?roomName=dev&count=1&offset=1");
    assert_eq!(r.body["total"], 2, "{}", r.text);
    assert_eq!(usernames(&r), ["ann"]);
    assert_eq!(r.body["offset"], 1);
    err(
        &admin.get("/api/v1/groups.members?roomName=ops"),
        400,
        "The required \"roomId\" or \"roomName\" param provided does not match any group [error-room-not-found]",
    );
}

#[test]
fn teams_membership_both_ways_roles_and_errors() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    let ids = seed(&sb, &[("ann", true), ("bob", true), ("cid", true)]);
    let r = admin.post("/api/v1/teams.create", &json!({"name": "crew", "type": 1}));
    assert_eq!(r.status, 200, "{}", r.text);
    let team = r.body["team"]["_id"].as_str().expect("id").to_string();
    let main = r.body["team"]["roomId"]
        .as_str()
        .expect("roomId")
        .to_string();
    assert_eq!(
        admin
            .post("/api/v1/teams.create", &json!({"name": "crew"}))
            .error(),
        "team-name-already-exists"
    );
    assert_eq!(
        admin
            .post("/api/v1/teams.create", &json!({"name": "ann"}))
            .error(),
        "team-name-already-exists"
    );

    let add = |members: Value| {
        admin.post(
            "/api/v1/teams.addMembers",
            &json!({"teamId": team, "members": members}),
        )
    };
    let r = add(json!([{"userId": ids[0], "roles": ["moderator"]}, {"userId": ids[1]}]));
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    assert_eq!(sb.memberships("ann").teams, ["crew"]);
    assert!(
        sb.memberships("ann").channels.is_empty(),
        "the main room is not a channel"
    );
    // Sequential: an unknown id fails after the users before it were added.
    let r = add(json!([{"userId": ids[2]}, {"userId": "ghost"}]));
    err(&r, 400, "Cannot read properties of null (reading '_id')");
    assert_eq!(sb.memberships("cid").teams, ["crew"]);
    let r = add(json!([]));
    assert!(r.error().contains("[invalid-params]"), "{}", r.text);
    err(
        &admin.post(
            "/api/v1/teams.addMembers",
            &json!({"teamName": "nope", "members": [{"userId": ids[0]}]}),
        ),
        400,
        "team-does-not-exist",
    );

    let r = admin.get("/api/v1/teams.members?teamName=crew");
    assert_eq!(r.body["total"], 4, "{}", r.text);
    let ann_entry = r.body["members"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["user"]["username"] == "ann"))
        .cloned()
        .expect("ann");
    assert!(
        ann_entry["roles"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("moderator")))
    );
    // Non-members see nothing.
    seed(&sb, &[("dan", true)]);
    let dan = Session::login(&sb, "dan", "pw");
    assert_eq!(
        dan.get("/api/v1/teams.members?teamName=crew").body["total"],
        0
    );
    err(
        &dan.get("/api/v1/teams.info?teamName=crew"),
        403,
        "unauthorized",
    );
    let r = dan.get("/api/v1/teams.listAll");
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        admin.get("/api/v1/teams.listAll").body["teams"][0]["numberOfUsers"],
        4
    );
    assert_eq!(
        admin.get(&format!("/api/v1/teams.info?teamId={team}")).body["teamInfo"]["name"],
        "crew"
    );

    // Joining or leaving the main room is joining or leaving the team.
    assert_eq!(
        admin
            .post(
                "/api/v1/groups.invite",
                &json!({"roomId": main, "username": "dan"})
            )
            .status,
        200
    );
    assert_eq!(sb.memberships("dan").teams, ["crew"]);
    assert_eq!(
        admin
            .post(
                "/api/v1/groups.kick",
                &json!({"roomId": main, "username": "dan"})
            )
            .status,
        200
    );
    assert!(sb.memberships("dan").teams.is_empty());

    // removeMember: inactive user, non-member, last owner.
    let remove = |uid: &str| {
        admin.post(
            "/api/v1/teams.removeMember",
            &json!({"teamId": team, "userId": uid}),
        )
    };
    assert_eq!(remove(&ids[1]).body, json!({"success": true}));
    assert!(sb.memberships("bob").teams.is_empty());
    err(&remove(&ids[1]), 400, "member-does-not-exist");
    let admin_id = admin.user_id.clone();
    err(&remove(&admin_id), 400, "last-owner-can-not-be-removed");
    admin.post(
        "/api/v1/users.setActiveStatus",
        &json!({"userId": ids[2], "activeStatus": false}),
    );
    err(&remove(&ids[2]), 400, "invalid-user");
}

fn serve_once(body: &'static [u8], content_type: &'static str, status: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    format!("http://127.0.0.1:{port}/a.png")
}

#[test]
fn avatars_from_urls_uploads_reset_and_redirect() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    let ids = seed(&sb, &[("ann", true), ("bob", true)]);
    let ann = Session::login(&sb, "ann", "pw");

    let url = serve_once(b"GIF89a\x01\x00\x01\x00", "image/gif", "200 OK");
    let r = admin.post(
        "/api/v1/users.setAvatar",
        &json!({"userId": ids[0], "avatarUrl": url}),
    );
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    assert_eq!(
        sb.avatar("ann").as_deref(),
        Some(&b"GIF89a\x01\x00\x01\x00"[..])
    );
    let info = admin.get(&format!("/api/v1/users.info?userId={}", ids[0]));
    let etag = info.body["user"]["avatarETag"]
        .as_str()
        .expect("etag")
        .to_string();
    assert_eq!(info.body["user"]["avatarOrigin"], "url");

    let r = admin.post(
        "/api/v1/users.setAvatar",
        &json!({"userId": ids[0], "avatarUrl": "https://example.com/a.png"}),
    );
    err(
        &r,
        400,
        "Invalid avatar URL: https://example.com/a.png [error-avatar-invalid-url]",
    );
    let url = serve_once(b"oops", "text/plain", "500 Internal Server Error");
    let r = admin.post(
        "/api/v1/users.setAvatar",
        &json!({"userId": ids[0], "avatarUrl": url}),
    );
    assert_eq!(
        r.body["errorType"], "error-avatar-url-handling",
        "{}",
        r.text
    );
    let url = serve_once(b"<html>", "text/html", "200 OK");
    let r = admin.post(
        "/api/v1/users.setAvatar",
        &json!({"userId": ids[0], "avatarUrl": url}),
    );
    assert_eq!(
        r.body["errorType"], "error-avatar-invalid-url",
        "{}",
        r.text
    );
    // Another user without edit-other-user-avatar.
    err(
        &ann.post(
            "/api/v1/users.setAvatar",
            &json!({"userId": ids[1], "avatarUrl": "http://127.0.0.1:1/x"}),
        ),
        403,
        "unauthorized",
    );

    // Multipart: self by default, form fields for another user.
    let upload = |s: &Session, fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>| {
        let (ct, body) = form(fields, file);
        send(
            s.client
                .post(format!("{}/api/v1/users.setAvatar", s.base))
                .header("X-User-Id", &s.user_id)
                .header("X-Auth-Token", &s.token)
                .header("Content-Type", ct)
                .body(body),
        )
    };
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01".as_slice();
    assert_eq!(upload(&ann, &[], Some(("image", "a.png", png))).status, 200);
    assert_eq!(sb.avatar("ann").as_deref(), Some(png));
    let new_etag = admin
        .get(&format!("/api/v1/users.info?userId={}", ids[0]))
        .body["user"]["avatarETag"]
        .clone();
    assert_ne!(new_etag, json!(etag), "a new ETag per set");
    let r = upload(&ann, &[("username", "bob")], Some(("image", "a.png", png)));
    err(&r, 400, "Not allowed [error-not-allowed]");
    let r = upload(
        &admin,
        &[("userId", "ghost")],
        Some(("image", "a.png", png)),
    );
    assert_eq!(r.body["errorType"], "error-invalid-user", "{}", r.text);
    assert_eq!(
        upload(
            &admin,
            &[("username", "BOB")],
            Some(("image", "a.png", png))
        )
        .status,
        200
    );
    assert!(sb.avatar("bob").is_some());
    assert_eq!(
        upload(&admin, &[], Some(("file", "a.png", png))).body["errorType"],
        "invalid-field"
    );
    assert_eq!(
        upload(&admin, &[("userId", &ids[1])], None).body["errorType"],
        "No file uploaded"
    );

    // Reset: own, or edit-other-user-avatar.
    err(
        &ann.post("/api/v1/users.resetAvatar", &json!({"username": "bob"})),
        403,
        "unauthorized",
    );
    assert_eq!(
        ann.post("/api/v1/users.resetAvatar", &json!({"username": "ann"}))
            .body,
        json!({"success": true})
    );
    assert_eq!(sb.avatar("ann"), None);
    let info = admin.get(&format!("/api/v1/users.info?userId={}", ids[0]));
    assert!(
        info.body["user"].get("avatarETag").is_none(),
        "{}",
        info.text
    );
    assert!(
        admin.get("/api/v1/users.list").text.contains("avatarETag"),
        "bob's"
    );

    // getAvatar: 307 to /avatar/<username>.
    let c = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let r = send(
        c.get(format!("{}/api/v1/users.getAvatar?username=bob", sb.url()))
            .header("X-User-Id", &admin.user_id)
            .header("X-Auth-Token", &admin.token),
    );
    assert_eq!(r.status, 307, "{}", r.text);
    assert!(
        r.header("location")
            .is_some_and(|l| l.ends_with("/avatar/bob"))
    );
}

#[test]
fn new_routes_count_in_the_limiter_and_state_survives() {
    let clock = ManualClock::new();
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let cfg = SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 2,
        clock: Some(clock),
        state_file: Some(state.clone()),
        ..config()
    };
    let sb = start(cfg.clone());
    let importer = Session::importer(&sb);
    for _ in 0..2 {
        assert_eq!(
            importer
                .get("/api/v1/channels.info?roomName=general")
                .status,
            200
        );
    }
    let r = importer.get("/api/v1/channels.info?roomName=general");
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(sb.counters()["GET /api/v1/channels.info"].rate_limited, 1);
    // Another route has its own bucket.
    assert_eq!(
        importer.get("/api/v1/teams.members?teamName=nope").status,
        400
    );

    seed(&sb, &[("ann", true)]);
    sb.seed_team("crew", false).expect("team");
    sb.seed_channel(Some("crew"), "dev", false).expect("room");
    sb.add_member("crew", "ann").expect("member");
    sb.add_member("dev", "ann").expect("member");
    sb.add_member("general", "ann").expect("member");
    drop(importer);
    sb.stop().expect("stop");
    let sb = start(cfg);
    assert_eq!(
        sb.memberships("ann"),
        Memberships {
            teams: vec!["crew".into()],
            channels: vec!["dev".into(), "general".into()],
        }
    );
}

#[test]
fn the_importer_manages_rooms_it_is_not_in() {
    let sb = rocketchat();
    let importer = Session::importer(&sb);
    seed(&sb, &[("ann", true)]);
    sb.seed_channel(None, "ops", true).expect("room");
    sb.seed_team("crew", true).expect("team");
    // add-user-to-any-p-room, kick-user-from-any-p-room, add-team-member, edit-other-user-avatar.
    let r = importer.post(
        "/api/v1/groups.invite",
        &json!({"roomName": "ops", "username": "ann"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = importer.post(
        "/api/v1/groups.kick",
        &json!({"roomName": "ops", "username": "ann"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let ann = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "ann")
        .expect("ann");
    let r = importer.post(
        "/api/v1/teams.addMembers",
        &json!({"teamName": "crew", "members": [{"userId": ann["_id"]}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sb.memberships("ann").teams, ["crew"]);
    let r = importer.post("/api/v1/users.resetAvatar", &json!({"username": "ann"}));
    assert_eq!(r.status, 200, "{}", r.text);
}

/// rooms.adminRooms (`findAdminRooms`): the rooms of the listed types, team main rooms
/// only with `teams`, paged, `view-room-administration` only; and `/avatar/<username>`,
/// outside the REST API: the uploaded image as stored, an SVG for anyone else.
#[test]
fn admin_rooms_listing_and_the_avatar_route() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    seed(&sb, &[("ann", true)]);
    sb.seed_team("sales", false).expect("team");
    sb.seed_channel(None, "news", false).expect("channel");
    sb.seed_channel(None, "secret", true).expect("group");
    let names = |r: &Reply| -> Vec<String> {
        let mut v: Vec<String> = r.body["rooms"]
            .as_array()
            .unwrap_or_else(|| panic!("no rooms: {}", r.text))
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect();
        v.sort();
        v
    };
    let r = admin.get("/api/v1/rooms.adminRooms?types[]=c&types[]=p&count=100");
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = names(&r);
    assert!(listed.contains(&"news".to_string()), "{listed:?}");
    assert!(listed.contains(&"secret".to_string()), "{listed:?}");
    assert!(!listed.contains(&"sales".to_string()), "{listed:?}");
    assert_eq!(r.body["total"].as_u64(), Some(listed.len() as u64));
    let r = admin.get("/api/v1/rooms.adminRooms?types[]=p&types[]=teams");
    assert_eq!(names(&r), ["secret"], "{}", r.text);
    let r = admin.get("/api/v1/rooms.adminRooms?types[]=c&types[]=teams");
    assert!(names(&r).contains(&"sales".to_string()), "{}", r.text);
    let r = admin.get("/api/v1/rooms.adminRooms?types[]=c&types[]=p&count=1&offset=1");
    assert_eq!(
        r.body["rooms"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    let ann = Session::login(&sb, "ann", "pw");
    err(
        &ann.get("/api/v1/rooms.adminRooms"),
        400,
        "error-not-authorized",
    );

    let png = roster_sandbox::image::DEFAULT_PNG;
    let (ct, body) = form(&[("username", "ann")], Some(("image", "a.png", png)));
    let r = send(
        admin
            .client
            .post(format!("{}/api/v1/users.setAvatar", sb.url()))
            .header("X-User-Id", &admin.user_id)
            .header("X-Auth-Token", &admin.token)
            .header("Content-Type", ct)
            .body(body),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let plain = Client::new();
    let got = plain
        .get(format!("{}/avatar/ann", sb.url()))
        .send()
        .expect("avatar");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        got.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(got.bytes().expect("bytes").as_ref(), png);
    let other = plain
        .get(format!("{}/avatar/nobody", sb.url()))
        .send()
        .expect("avatar");
    assert_eq!(
        other
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/svg+xml")
    );
    assert!(sb.counters().contains_key("GET /avatar/{username}"));
}

#[test]
fn set_status_own_or_with_edit_other_user_info() {
    let sb = rocketchat();
    let admin = Session::admin(&sb);
    seed(&sb, &[("ann", true), ("bob", true)]);
    let ann = Session::login(&sb, "ann", "pw");
    err(
        &ann.post(
            "/api/v1/users.setStatus",
            &json!({"username": "bob", "status": "away"}),
        ),
        403,
        "unauthorized",
    );
    let r = ann.post("/api/v1/users.setStatus", &json!({"status": "busy"}));
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    assert_eq!(sb.status("ann"), Some(("busy".into(), String::new())));
    let r = admin.post(
        "/api/v1/users.setStatus",
        &json!({"username": "bob", "status": "away", "message": "at lunch"}),
    );
    assert_eq!(r.body, json!({"success": true}), "{}", r.text);
    assert_eq!(sb.status("bob"), Some(("away".into(), "at lunch".into())));
    // A message alone keeps the status.
    let r = admin.post(
        "/api/v1/users.setStatus",
        &json!({"username": "bob", "message": "back at 2"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sb.status("bob"), Some(("away".into(), "back at 2".into())));
    // dnd is Mattermost's; neither status nor message; an unknown key.
    for body in [
        json!({"username": "bob", "status": "dnd"}),
        json!({"username": "bob"}),
        json!({"username": "bob", "status": "away", "colour": "red"}),
    ] {
        let r = admin.post("/api/v1/users.setStatus", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    assert_eq!(sb.status("bob").map(|s| s.0), Some("away".into()));
}

#[test]
fn users_set_status_has_its_own_five_a_minute_limiter() {
    let cfg = SandboxConfig {
        rate_limit: Some(true),
        clock: Some(ManualClock::new()),
        ..config()
    };
    let sb = start(cfg);
    let ids = seed(&sb, &[("ann", true)]);
    // The importer has edit-other-user-info and no rate-limit bypass.
    let importer = Session::importer(&sb);
    let body = serde_json::json!({"userId": ids[0], "status": "away"});
    for i in 0..5 {
        let r = importer.post("/api/v1/users.setStatus", &body);
        assert_eq!(r.status, 200, "call {i}: {}", r.text);
    }
    let r = importer.post("/api/v1/users.setStatus", &body);
    assert_eq!(r.status, 429, "{}", r.text);
    // The other routes keep the default limit.
    for _ in 0..6 {
        assert_eq!(
            importer
                .get("/api/v1/channels.info?roomName=general")
                .status,
            200
        );
    }
}
