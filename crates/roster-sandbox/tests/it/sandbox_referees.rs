//! The servers' own code as referees (tests/referees, Node.js; scripts/test installs it):
//! Rocket.Chat's compiled request schemas (`@rocket.chat/rest-typings` 8.8.1) judge a
//! generated corpus of request bodies against the Rocket.Chat sandbox, and Mattermost's
//! official client (`@mattermost/client` 11.9.0, Client4) drives the Mattermost sandbox.
//! A disagreement fails the test with the referee's expected and actual answers.

use roster_sandbox::{FlavorKind, SandboxConfig};
use roster_test_support::*;

#[test]
fn rocketchat_schemas_judge_the_sandbox_corpus() {
    // The limiter and 2FA off: the corpus is about parameter validation, which runs first.
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        two_factor: false,
        ..config()
    });
    let out = run_referee("rc_schemas.mjs", &["corpus", &sb.url()], &[]);
    println!("{out}");
    assert!(out.contains("cases × POST /api/v1/users.create"), "{out}");
    // Every case reached the sandbox.
    assert!(requests(&sb, "users.create") >= 100);
    assert!(requests(&sb, "users.update") >= 100);
    assert!(requests(&sb, "users.setAvatar") >= 10);
    assert!(requests(&sb, "users.setPreferences") >= 100);
    assert!(requests(&sb, "channels.kick") >= 10);
    assert!(requests(&sb, "teams.addMembers") >= 10);
    assert!(requests(&sb, "teams.removeMember") >= 10);
}

#[test]
fn mattermost_client4_drives_the_sandbox() {
    // The server's defaults: no rate limiter, no open sign-up.
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        seed: Some(7),
        ..config()
    });
    let seeded = 130;
    seed_people(&sb, seeded, |i| i % 9 != 0);
    let out = run_referee("mm_client4.mjs", &[&sb.url(), &seeded.to_string()], &[]);
    println!("{out}");
    // Client4 really went through the sandbox.
    let counters = sb.counters();
    assert!(counters["GET /api/v4/users"].requests >= 3);
    assert!(counters["PUT /api/v4/users/{user_id}/patch"].requests >= 2);
    assert!(counters["PUT /api/v4/users/{user_id}/active"].requests >= 2);
    assert!(counters["POST /api/v4/teams/{team_id}/members/batch"].requests >= 1);
    assert!(counters["POST /api/v4/channels/{channel_id}/members"].requests >= 2);
    assert!(counters["POST /api/v4/users/{user_id}/image"].requests >= 2);
}
