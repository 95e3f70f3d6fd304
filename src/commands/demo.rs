//! `roster demo`: the main job end to end on an embedded sandbox server.
//!
//! ```text
//! roster demo [--flavor rocketchat|mattermost] [--dir DIR] [--keep-running]
//! ```
//! Starts a sandbox on a free loopback port with its rate limiter on (a short window, so
//! the run takes seconds) and the sample's teams and channels, imports the sample users
//! (samples/users.csv and samples/photos, built in) as the rate-limited `importer`
//! account, shows progress and the summary, and writes the report, the rejects and the
//! dump into DIR (default `roster-demo`).

use std::path::PathBuf;

use anyhow::{Context, Result};

use roster::secret::Secret;
use roster::settings::Flavor;
use roster::settings::{ImportSettings, ReportSettings};
use roster_sandbox::{FlavorKind, Sandbox, SandboxConfig};

/// The sample users, built in so the demo runs from any directory.
const SAMPLE_CSV: &[u8] = include_bytes!("../../samples/users.csv");

/// The sample's photos (its `avatar` column names them, relative to the CSV).
const PHOTOS: [(&str, &[u8]); 3] = [
    (
        "anna.schmidt.png",
        include_bytes!("../../samples/photos/anna.schmidt.png"),
    ),
    (
        "bob.okafor.png",
        include_bytes!("../../samples/photos/bob.okafor.png"),
    ),
    (
        "chloe.martin.png",
        include_bytes!("../../samples/photos/chloe.martin.png"),
    ),
];

/// The sample's departments: a team each, with a `-news` channel.
const TEAMS: [&str; 3] = ["sales", "support", "research"];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which server to emulate.
    #[arg(long, value_enum, default_value = "rocketchat")]
    pub flavor: Flavor,
    /// Where to write the input copy, report, rejects and dump.
    #[arg(long, default_value = "roster-demo")]
    pub dir: PathBuf,
    /// Keep the sandbox running after the import (Ctrl-C to stop), to look around.
    #[arg(long)]
    pub keep_running: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    [
        "users.csv",
        "photos",
        "report.csv",
        "report.csv.journal",
        "rejects.csv",
        "dump.jsonl",
    ]
    .iter()
    .fold(roster::output::paths::Files::new(), |f, n| {
        f.write("--dir", Some(&args.dir.join(n)))
    })
    .guard()?;
    let input = args.dir.join("users.csv");
    std::fs::write(&input, SAMPLE_CSV)
        .with_context(|| format!("cannot write {}", input.display()))?;
    let photos = args.dir.join("photos");
    std::fs::create_dir_all(&photos)
        .with_context(|| format!("cannot create {}", photos.display()))?;
    for (name, bytes) in PHOTOS {
        std::fs::write(photos.join(name), bytes)
            .with_context(|| format!("cannot write {}", photos.join(name).display()))?;
    }

    let importer_password = Secret::new(roster::ops::random_password());
    let (flavor_kind, rate_limit) = match args.flavor {
        Flavor::Rocketchat => (FlavorKind::RocketChat, Some(true)),
        Flavor::Mattermost => (FlavorKind::Mattermost, Some(true)),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        flavor: flavor_kind,
        port: 0,
        importer_password: Some(importer_password.clone()),
        rate_limit,
        // Rocket.Chat's limiter with a short window: 10 calls per route every 2 s.
        rc_limit_calls: 10,
        rc_limit_window_ms: 2000,
        bcrypt_cost: 4,
        ..SandboxConfig::default()
    })
    .context("cannot start the sandbox")?;
    for t in TEAMS {
        let channel = format!("{t}-news");
        let team = (flavor_kind == FlavorKind::Mattermost).then_some(t);
        sandbox
            .seed_team(t, false)
            .and_then(|_| sandbox.seed_channel(team, &channel, false))
            .map_err(|e| anyhow::anyhow!("cannot seed the sandbox's teams: {e}"))?;
    }
    let url = sandbox.url();
    eprintln!(
        "roster demo: {} sandbox at {url} (rate limit on; importing as `importer`)",
        args.flavor
    );

    let code = roster::ops::demo_import(
        &url,
        args.flavor,
        "importer",
        importer_password,
        &input,
        &ImportSettings {
            dump: Some(args.dir.join("dump.jsonl")),
            ..ImportSettings::default()
        },
        &ReportSettings {
            report: Some(args.dir.join("report.csv")),
            rejects: Some(args.dir.join("rejects.csv")),
            json: false,
            quiet: args.quiet,
        },
    )?;
    let counters = sandbox.counters();
    let (requests, limited): (u64, u64) = counters
        .values()
        .fold((0, 0), |(r, l), c| (r + c.requests, l + c.rate_limited));
    let users = sandbox.users();
    let names: Vec<String> = users
        .iter()
        .filter_map(|u| u["username"].as_str().map(str::to_string))
        .collect();
    let in_team = names
        .iter()
        .filter(|n| !sandbox.memberships(n).teams.is_empty())
        .count();
    let with_avatar = names.iter().filter(|n| sandbox.avatar(n).is_some()).count();
    eprintln!(
        "\nThe sandbox now holds {} users, {in_team} of them in a team with its channel, {with_avatar} with an avatar from samples/photos ({} requests served, {} answered 429).",
        users.len(),
        requests,
        limited
    );
    eprintln!("Files in {}:", args.dir.display());
    for (f, what) in [
        (
            "users.csv",
            "the input (a copy of samples/users.csv, with deliberate mistakes)",
        ),
        ("photos/", "the avatars its avatar column names"),
        (
            "report.csv",
            "one line per input row: action, status, server id, error",
        ),
        (
            "rejects.csv",
            "the rows to fix, in the input's format, with an error column",
        ),
        (
            "dump.jsonl",
            "the users as the server now holds them (mode 0600)",
        ),
        (
            "report.csv.journal",
            "the resume journal (roster import --resume)",
        ),
    ] {
        eprintln!("  {:<20} {what}", f);
    }
    if args.keep_running {
        eprintln!("\nSandbox still running at {url}; Ctrl-C to stop.");
        while !roster::interrupt::requested() {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    sandbox.stop().context("stopping the sandbox")?;
    if code == roster::exit::ROWS {
        eprintln!(
            "\nSome rows were rejected or failed, as the sample means them to be: `roster import` would exit with 1 here. The demo itself went fine."
        );
        return Ok(roster::exit::OK);
    }
    Ok(code)
}
