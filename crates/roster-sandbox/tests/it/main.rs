//! roster-sandbox's integration tests, one binary with a module per area (as ripgrep and
//! cargo do: one link instead of one per file). Helpers shared with roster's own tests are
//! in roster-test-support. `roster sandbox` itself (the command) is tested with roster.

use std::path::{Path, PathBuf};

mod sandbox_conformance;
mod sandbox_core;
mod sandbox_mattermost;
mod sandbox_mattermost_conformance;
mod sandbox_mattermost_members;
mod sandbox_referees;
mod sandbox_reports;
mod sandbox_rocketchat;
mod sandbox_rocketchat_members;
mod sandbox_secrets;

/// A Python client script in tests/conformance.
fn conformance_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(name)
}
