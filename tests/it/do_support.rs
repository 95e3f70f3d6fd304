//! What the `roster do` tests share (do_actions, do_secrets): a sandbox of either flavor
//! with seeded users `p01`…, a source naming some, runs as the seeded admin, and finding an
//! account's report entry.

use std::path::Path;
use std::process::Output;

use crate::support::{
    ADMIN_PW, as_importer, roster, spawn_as_importer_at, start, wait_for_lines, write,
};
use roster_sandbox::{FaultPhase, FlavorKind, Sandbox, SandboxConfig, SeedUser};
use serde_json::Value;

/// The seeded users' password.
pub const PW: &str = "Seeded-pw-1";

/// The admin's credentials, as `roster`'s environment.
pub const ADMIN: [(&str, &str); 2] = [("ROSTER_USERNAME", "admin"), ("ROSTER_PASSWORD", ADMIN_PW)];

pub fn flavors() -> [FlavorKind; 2] {
    [FlavorKind::RocketChat, FlavorKind::Mattermost]
}

/// A sandbox of `flavor` with `n` users `p01`… (password [`PW`]), every one active, and
/// no rate limiter.
pub fn server(flavor: FlavorKind, n: usize, cfg: SandboxConfig) -> Sandbox {
    let sb = start(SandboxConfig {
        flavor,
        rate_limit: Some(false),
        ..cfg
    });
    let users: Vec<SeedUser> = (1..=n)
        .map(|i| SeedUser {
            username: format!("p{i:02}"),
            email: format!("p{i:02}@example.org"),
            name: format!("Person {i}"),
            password: Some(PW.into()),
            active: true,
            roles: vec![],
        })
        .collect();
    sb.seed_users(&users).expect("seed");
    sb
}

/// A source naming these users.
pub fn source(dir: &Path, name: &str, users: &[&str]) {
    let mut s = String::from("username,email\n");
    for u in users {
        s.push_str(&format!("{u},{u}@example.org\n"));
    }
    write(dir, name, &s);
}

/// A source naming the first `n` seeded users, `p01`…; their names.
pub fn source_of_first(dir: &Path, name: &str, n: usize) -> Vec<String> {
    let names: Vec<String> = (1..=n).map(|i| format!("p{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    source(dir, name, &refs);
    names
}

/// `cfg` with faults on the writes: 30 % answered with a 5xx and 15 % dropped, injected
/// `phase` the write is applied.
pub fn faulty(phase: FaultPhase, cfg: SandboxConfig) -> SandboxConfig {
    SandboxConfig {
        fault_rate: 0.3,
        drop_rate: 0.15,
        fault_phase: phase,
        ..cfg
    }
}

/// Runs roster as the seeded admin (Rocket.Chat's provisioner role, the importer's, has
/// neither delete-user nor logout-other-user).
pub fn as_admin(dir: &Path, args: &[&str]) -> Output {
    roster(dir, args, &ADMIN)
}

/// `roster do ACTION SOURCE --server URL EXTRA…` with these credentials.
pub fn act_as(
    dir: &Path,
    action: &str,
    source: &str,
    url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut args = vec!["do", action, source, "--server", url];
    args.extend_from_slice(extra);
    roster(dir, &args, env)
}

/// `roster do ACTION SOURCE --server URL EXTRA…` as the admin.
pub fn act(dir: &Path, action: &str, source: &str, url: &str, extra: &[&str]) -> Output {
    act_as(dir, action, source, url, extra, &ADMIN)
}

/// The report entry of the account `name`.
pub fn by_name<'a>(report: &'a [Value], name: &str) -> &'a Value {
    report
        .iter()
        .find(|e| e["username"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report:?}"))
}

/// Runs roster as the importer in the background and kills it (SIGKILL) once the journal
/// of its report `r.jsonl` has `lines` lines.
pub fn cut(dir: &Path, args: &[&str], lines: usize) {
    let mut child = spawn_as_importer_at(Path::new(crate::support::BIN), dir, args);
    wait_for_lines(&dir.join("r.jsonl.journal"), lines);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// The same run again as the importer with `--resume`, to the end.
pub fn resume(dir: &Path, args: &[&str]) -> Output {
    let mut again = args.to_vec();
    again.push("--resume");
    roster(dir, &again, &as_importer())
}
