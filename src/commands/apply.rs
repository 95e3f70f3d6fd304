//! `roster apply`: apply a plan saved by `roster plan -o plan.json`.
//!
//! ```text
//! roster apply plan.json --server URL [--workers N] [--rate CALLS/PERIOD] [--report FILE]
//!              [--dump FILE] [--force]
//! ```
//! Before writing anything, every user the plan touches is read again: if one changed on
//! the server since the plan was made (a planned field no longer has its old value, a
//! user to create now exists, a user to deactivate is gone or already inactive), apply
//! refuses with exit 4 and writes nothing. Plans hold no passwords, so new users get a
//! random one (Rocket.Chat sets requirePasswordChange) unless --auth-service is given.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::common::{ExecArgs, GuardArgs, ReportArgs, ServerArgs};
use crate::cli::settings;
use roster::ops::ApplySettings;
use roster::settings::{CreateOptions, JobConfig, MatchKey, Mode};

#[derive(clap::Args, Debug)]
#[command(after_help = "Credentials: as for `roster import`.

A partly applied plan is not resumed: make a new plan, which holds only what is still different.

No --config: the plan carries what the job file said when it was made (new-user options,
protected users, [safety]); the server is the plan's.")]
pub struct Args {
    /// The plan file written by `roster plan -o`.
    pub plan: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Apply a plan that a guard refused when it was made.
    #[arg(help_heading = "Run", long)]
    pub force: bool,
    /// Check the plan against the server and report what would be done; write nothing.
    #[arg(help_heading = "Run", long)]
    pub dry_run: bool,
    /// The users as the server now holds them after the apply (with ids), mode 0600.
    #[arg(help_heading = "Run", long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    #[command(flatten)]
    pub exec: ExecArgs,
    #[command(flatten)]
    pub create: ApplyCreateArgs,
    /// Adds to the users the plan protects.
    #[command(flatten)]
    pub guard: GuardArgs,
    /// Deprecated, no effect: the plan decides what is done.
    #[arg(help_heading = "Run", long, hide = true)]
    pub resume: bool,
    /// Deprecated, no effect: the plan decides what is done.
    #[arg(help_heading = "Run", long, hide = true, value_enum)]
    pub mode: Option<Mode>,
    /// Deprecated: the plan's match key is used; a different one is refused.
    #[arg(help_heading = "Run", long = "match", hide = true, value_enum)]
    pub match_key: Option<MatchKey>,
    /// Per-row report: .csv or .jsonl (origin, username, email, action, status, id, attempts, changed, error).
    #[arg(long, value_name = "FILE", help_heading = "Reports", value_parser = crate::cli::common::parse_report_path)]
    pub report: Option<PathBuf>,
    /// Print the final summary as JSON on stdout.
    #[arg(long, help_heading = "Reports")]
    pub json: bool,
    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short, help_heading = "Reports")]
    pub quiet: bool,
}

/// New users of an applied plan: given options override those the plan was made with.
/// (Plans hold no passwords, so new users always get a random one, unless a directory
/// logs them in: `--random-password` has nothing to change here.)
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "New users")]
pub struct ApplyCreateArgs {
    /// Rocket.Chat: add new users to the default channels (server default: yes).
    #[arg(long, value_name = "BOOL")]
    pub join_default_channels: Option<bool>,
    /// Send the welcome email to new users.
    #[arg(long, value_name = "BOOL")]
    pub send_welcome_email: Option<bool>,
    /// Mattermost: create accounts that log in through ldap or saml (auth_data = external_id or username).
    #[arg(long, value_name = "SERVICE")]
    pub auth_service: Option<String>,
    /// Deprecated, no effect: new users of a plan always get a random password.
    #[arg(long, hide = true)]
    pub random_password: bool,
}

pub fn run(args: Args) -> Result<i32> {
    roster::interrupt::install();
    settings::warn_no_effect(
        args.create.random_password,
        "--random-password",
        "apply",
        "new users of a plan always get a random password",
    );
    let plan_decides = "the plan decides what is done";
    settings::warn_no_effect(args.resume, "--resume", "apply", plan_decides);
    settings::warn_no_effect(args.mode.is_some(), "--mode", "apply", plan_decides);
    // No job file: the plan holds what the job file said when it was made.
    let job = JobConfig::default();
    // Apply has no source rows, so no rejects file.
    let reports = ReportArgs {
        report: args.report.clone(),
        rejects: None,
        json: args.json,
        quiet: args.quiet,
    };
    let files =
        settings::server_files(None, None, &job, &args.server).read("PLAN", Some(&args.plan));
    settings::report_files(files, &reports)
        .write("--dump", args.dump.as_deref())
        .guard()?;
    let c = &args.create;
    roster::ops::apply(
        &settings::server(&args.server, &job),
        &ApplySettings {
            plan: args.plan,
            force: args.force,
            dry_run: args.dry_run,
            dump: args.dump,
            exec: settings::exec(&args.exec, &job)?,
            create: CreateOptions {
                random_password: false,
                join_default_channels: c.join_default_channels,
                send_welcome_email: c.send_welcome_email,
                auth_service: c.auth_service.clone(),
                // The plan carries it.
                create_missing_channels: false,
            },
            protect: args.guard.protect,
            match_key: args.match_key,
        },
        &settings::reports(&reports),
    )
}
