//! Conformance with a client nobody here wrote: the PyPI package `rocketchat-api` drives a
//! sandbox through tests/conformance/rocketchat_client.py.
//!
//! The interpreter is `$ROSTER_TEST_PYTHON`, else `target/test-venv/bin/python`. Create it with
//! `python3 -m venv target/test-venv && target/test-venv/bin/pip install rocketchat-api mattermostdriver`.

use roster_sandbox::SandboxConfig;
use roster_test_support::*;

#[test]
fn rocketchat_api_package_against_the_sandbox() {
    // 2FA and the rate limiter stay on, as on a real server.
    let sb = start(SandboxConfig {
        seed: Some(3),
        ..config()
    });
    let seeded = 120;
    seed_people(&sb, seeded, |_| true);
    run_conformance(
        &crate::conformance_script("rocketchat_client.py"),
        &sb.url(),
        seeded,
        "rocketchat_API",
    );
    // The client really went through the sandbox.
    let counters = sb.counters();
    assert!(counters["POST /api/v1/users.update"].requests >= 3);
    assert!(counters["GET /api/v1/users.list"].requests >= 4);
}
