//! Conformance with a client nobody here wrote: the PyPI package `rocketchat-api` drives a
//! sandbox through tests/conformance/rocketchat_client.py.
//!
//! The interpreter is `$ROSTER_TEST_PYTHON`, else `target/test-venv/bin/python`. Create it with
//! `python3 -m venv target/test-venv && target/test-venv/bin/pip install rocketchat-api mattermostdriver`.

mod sandbox_support;

use std::path::PathBuf;
use std::process::Command;

use roster::sandbox::{SandboxConfig, SeedUser};
use sandbox_support::*;

#[test]
fn rocketchat_api_package_against_the_sandbox() {
    let python = python();
    // 2FA and the rate limiter stay on, as on a real server.
    let sb = start(SandboxConfig {
        seed: Some(3),
        ..config()
    });
    let seeded = 120;
    let users: Vec<SeedUser> = (0..seeded)
        .map(|i| SeedUser {
            username: format!("seed.{i:03}"),
            email: format!("seed.{i:03}@example.org"),
            name: format!("Seed {i}"),
            password: None,
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/rocketchat_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(sb.url())
        .arg(seeded.to_string())
        .env("ROSTER_SANDBOX_ADMIN_PASSWORD", ADMIN_PW)
        .output()
        .expect("the Python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}\n(if rocketchat_API is missing: {VENV_HELP})",
        script.display(),
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    // The client really went through the sandbox.
    let counters = sb.counters();
    assert!(counters["POST /api/v1/users.update"].requests >= 3);
    assert!(counters["GET /api/v1/users.list"].requests >= 4);
}
