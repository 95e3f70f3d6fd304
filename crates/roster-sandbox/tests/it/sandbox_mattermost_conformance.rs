//! Conformance with a client nobody here wrote: the PyPI package `mattermostdriver` drives a
//! Mattermost sandbox through tests/conformance/mattermost_client.py.
//!
//! The interpreter is `$ROSTER_TEST_PYTHON`, else `target/test-venv/bin/python`. Create it with
//! `python3 -m venv target/test-venv && target/test-venv/bin/pip install rocketchat-api mattermostdriver`.

use roster_sandbox::{FlavorKind, SandboxConfig};
use roster_test_support::*;

#[test]
fn mattermostdriver_package_against_the_sandbox() {
    // The server's defaults: no rate limiter, no open sign-up.
    let sb = start(SandboxConfig {
        flavor: FlavorKind::Mattermost,
        seed: Some(5),
        ..config()
    });
    let seeded = 230;
    seed_people(&sb, seeded, |i| i % 7 != 0);
    run_conformance(
        &crate::conformance_script("mattermost_client.py"),
        &sb.url(),
        seeded,
        "mattermostdriver",
    );
    // The client really went through the sandbox.
    let counters = sb.counters();
    assert!(counters["GET /api/v4/users"].requests >= 5);
    assert!(counters["PUT /api/v4/users/{user_id}/patch"].requests >= 2);
    assert!(counters["PUT /api/v4/users/{user_id}/roles"].requests >= 3);
    assert!(counters["POST /api/v4/users/usernames"].requests >= 1);
    let conf = sb
        .users()
        .into_iter()
        .find(|u| u["username"] == "conf.user")
        .expect("the script's user exists");
    assert!(conf["delete_at"].as_i64().unwrap_or(0) > 0);
}
