//! roster-test-support, plus what needs this crate's binary: the path of `roster` is known
//! only to roster's own tests (`CARGO_BIN_EXE_roster`), so the runners that use it are bound
//! here, once.

use std::path::Path;
use std::process::{Child, Output};

use roster_sandbox::Sandbox;
use tempfile::TempDir;

pub use roster_test_support::*;

/// Property-test settings for `n` cases drawn with XorShift: ChaCha, unoptimised in a debug
/// build, was most of the property tests' time.
pub fn cases(n: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..proptest::test_runner::Config::with_cases(n)
    }
}

pub const BIN: &str = env!("CARGO_BIN_EXE_roster");

/// Runs roster in `dir` with only the given ROSTER_* credentials set.
pub fn roster(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    roster_at(Path::new(BIN), dir, args, env)
}

/// Runs roster in `dir` as the seeded `importer`.
pub fn roster_as_importer(dir: &Path, args: &[&str]) -> Output {
    roster(dir, args, &as_importer())
}

/// Starts roster in the background as the seeded `importer` (see [`spawn_as_importer_at`]).
pub fn spawn_as_importer(dir: &Path, args: &[&str]) -> Child {
    spawn_as_importer_at(Path::new(BIN), dir, args)
}

/// A Rocket.Chat sandbox synced from `n` users (hr.csv, see [`users_csv`]) with a state
/// ledger (state.jsonl) in the returned folder.
pub fn synced(n: usize) -> (Sandbox, TempDir) {
    let sb = rocketchat();
    let d = tmp();
    write(d.path(), "hr.csv", &users_csv(n));
    let o = roster_as_importer(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &sb.url(),
            "--state",
            "state.jsonl",
            "--quiet",
        ],
    );
    assert_eq!(o.code(), 0, "{}", o.stderr());
    (sb, d)
}
