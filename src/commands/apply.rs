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
use std::sync::Arc;

use anyhow::{Context, Result};

use super::import::{ServerArgs, connect};
use super::shared::{self, ExecSettings};
use super::sync::{Applied, apply_works};
use crate::cli::common::{ExecArgs, GuardArgs, ReportArgs};
use crate::cli::{ExitError, exit};
use crate::config::JobConfig;
use crate::exec::{Engine, EngineOptions, Mode, Work};
use crate::model::{Field, Intent, Origin, RawText, User};
use crate::pipeline::{Checked, Outcome};
use crate::plan::sync::{Plan, PlanItem, field_value};
use crate::target::{CallStats, MatchKey};

#[derive(clap::Args, Debug)]
#[command(after_help = "Credentials: as for `roster import`.

A partly applied plan is not resumed: make a new plan, which holds only what is still different.")]
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
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
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

pub fn run(mut args: Args) -> Result<i32> {
    crate::interrupt::install();
    let started = shared::started();
    // Apply has no source rows, so no rejects file.
    let reports = ReportArgs {
        report: args.report.clone(),
        rejects: None,
        json: args.json,
        quiet: args.quiet,
    };
    if args.create.random_password {
        eprintln!(
            "roster: warning: --random-password has no effect on apply and will be removed: new users of a plan always get a random password"
        );
    }
    for (given, flag) in [(args.resume, "--resume"), (args.mode.is_some(), "--mode")] {
        if given {
            eprintln!(
                "roster: warning: {flag} has no effect on apply and will be removed: the plan decides what is done"
            );
        }
    }
    shared::server_files(None, None, &Default::default(), &args.server)
        .read("PLAN", Some(&args.plan))
        .reports(&reports)
        .write("--dump", args.dump.as_deref())
        .guard()?;
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read {}", args.plan.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a roster plan", args.plan.display()))?;
    if let Some(m) = args.match_key
        && m != plan.match_key
    {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "--match {}: the plan was made matching by {}; make a new plan to match otherwise",
                m.name(),
                plan.match_key.name()
            ),
        )
        .into());
    }
    let given = args
        .server
        .server
        .clone()
        .unwrap_or_else(|| plan.server.clone());
    if given.trim_end_matches('/') != plan.server.trim_end_matches('/') && !plan.server.is_empty() {
        return Err(ExitError::new(
            exit::GUARD,
            format!(
                "the plan was made for {}, not {given}; nothing was written",
                plan.server
            ),
        )
        .into());
    }
    if let Some(why) = &plan.refused
        && !args.force
    {
        return Err(ExitError::new(
            exit::GUARD,
            format!(
                "the plan was refused when it was made ({why}); use --force to apply it anyway"
            ),
        )
        .into());
    }
    if let Some(why) = &plan.deactivations_refused {
        eprintln!("roster: warning: the plan holds no deactivations of missing users: {why}");
    }
    if let Some(f) = args.server.flavor
        && f != plan.flavor
    {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "--flavor {}: the plan was made for {}",
                f.name(),
                plan.flavor
            ),
        )
        .into());
    }
    args.server.server = Some(given);
    args.server.flavor = Some(plan.flavor);
    let job = JobConfig::default();
    let exec = ExecSettings::resolve(&args.exec, &job)?;
    // Connecting and checking the plan write nothing: Ctrl-C stops at once.
    let (connected, works, changed) = crate::interrupt::nothing_written(|| -> Result<_> {
        let connected = connect(&args.server, &exec, &job)?;
        let target = connected.target.clone();
        // Check every touched user against the plan before the first write.
        let mut stats = CallStats::default();
        let mut works: Vec<Work> = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        let by = plan.match_key;
        let key_of = |i: &PlanItem| -> String {
            match by {
                // As spelled: Rocket.Chat's users.info matches usernames exactly.
                crate::target::MatchKey::Username => i.username.clone(),
                crate::target::MatchKey::Email => i.email.to_lowercase(),
            }
        };
        for i in &plan.creates {
            // Neither its username nor its email may have been taken meanwhile: a create
            // that finds "already in use" would otherwise update someone else.
            let mut taken = false;
            for (k, v) in [
                (MatchKey::Username, &i.username),
                (MatchKey::Email, &i.email),
            ] {
                if v.trim().is_empty() {
                    continue;
                }
                let now = target
                    .lookup(k, v, &mut stats)
                    .map_err(|e| ExitError::new(exit::USAGE, e.to_string()))?;
                if now.is_some() {
                    changed.push(format!(
                        "{}: its {} {v:?} now exists on the server",
                        i.username,
                        k.name()
                    ));
                    taken = true;
                    break;
                }
            }
            if !taken {
                works.push(work(i, i.user.clone(), Intent::Upsert, Some(None)));
            }
        }
        for (i, deactivation) in plan
            .updates
            .iter()
            .map(|i| (i, false))
            .chain(plan.deactivations.iter().map(|i| (i, true)))
        {
            let now = target
                .lookup(by, &key_of(i), &mut stats)
                .map_err(|e| ExitError::new(exit::USAGE, e.to_string()))?;
            let Some(cur) = now else {
                changed.push(format!("{}: no longer on the server", i.username));
                continue;
            };
            let cur_n = target.normalize(&cur);
            let mut ok = true;
            if let (Some(planned), Some(now)) = (&i.id, &cur.id)
                && planned != now
            {
                changed.push(format!(
                    "{}: is now another account (id {now}, the plan had {planned})",
                    i.username
                ));
                ok = false;
            }
            for c in &i.changes {
                let Some(f) = Field::parse(&c.field) else {
                    changed.push(format!(
                        "{}: unknown field {:?} in the plan",
                        i.username, c.field
                    ));
                    ok = false;
                    continue;
                };
                let now = field_value(&cur_n, &f);
                if now.trim() != c.old.trim() {
                    changed.push(format!(
                        "{}: {} is now {now:?}, the plan expected {:?}",
                        i.username, c.field, c.old
                    ));
                    ok = false;
                }
            }
            if deactivation && cur.active == Some(false) {
                changed.push(format!("{}: already deactivated", i.username));
                ok = false;
            }
            if !ok {
                continue;
            }
            let fields: Vec<Field> = i
                .changes
                .iter()
                .filter_map(|c| Field::parse(&c.field))
                .collect();
            let intent = if deactivation && i.user.is_none() {
                Intent::Deactivate
            } else {
                Intent::Modify(fields)
            };
            let user = i.user.clone().or_else(|| Some(cur.clone()));
            works.push(work(i, user, intent, Some(Some(cur))));
        }
        Ok((connected, works, changed))
    })?;
    let target = connected.target.clone();

    if !changed.is_empty() {
        let mut msg = format!(
            "{} users changed on the server since the plan was made; nothing was written:",
            changed.len()
        );
        for c in changed.iter().take(20) {
            msg.push_str(&format!("\n  {c}"));
        }
        if changed.len() > 20 {
            msg.push_str(&format!("\n  ... and {} more", changed.len() - 20));
        }
        msg.push_str("\nMake a new plan.");
        return Err(ExitError::new(exit::GUARD, msg).into());
    }

    let mut create = plan.create.clone();
    let c = &args.create;
    create.join_default_channels = c.join_default_channels.or(create.join_default_channels);
    create.send_welcome_email = c.send_welcome_email.or(create.send_welcome_email);
    create.auth_service = c.auth_service.clone().or(create.auth_service);
    // Plans hold no passwords: new users get a random one unless a directory logs them in.
    create.random_password |= create.auth_service.is_none();
    let mut guard = plan.guard.clone();
    guard.protect.extend(args.guard.protect.iter().cloned());
    let engine = Arc::new(Engine::new(
        target.clone(),
        EngineOptions {
            // A planned create never becomes an update of an account found meanwhile
            // (under another spelling of its name, say): create mode skips it instead.
            mode: Mode::Create,
            match_key: plan.match_key,
            dry_run: args.dry_run,
            reactivate: true,
            max_attempts: exec.max_attempts,
            create,
            guard,
        },
    ));
    let Applied {
        mut summary, end, ..
    } = apply_works(
        &connected,
        engine,
        works.into_iter(),
        exec.workers,
        shared::Outputs::without_source(&reports)?,
        args.dump.as_ref(),
        reports.quiet,
    )?;
    summary.set_elapsed(started.elapsed());
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        shared::print_summary(&summary, &reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    shared::print_summary(&summary, &reports)?;
    if end.interrupted {
        return Ok(exit::INTERRUPTED);
    }
    Ok(shared::rows_exit_code(&summary))
}

fn work(i: &PlanItem, user: Option<User>, intent: Intent, known: Option<Option<User>>) -> Work {
    let mut user = user.unwrap_or_else(|| User {
        username: i.username.clone(),
        email: (!i.email.is_empty()).then(|| i.email.clone()),
        ..User::default()
    });
    user.origin = Origin(i.origin.clone());
    Work {
        checked: Checked {
            origin: Origin(i.origin.clone()),
            dn: None,
            attrs: Default::default(),
            raw: RawText::None,
            outcome: Outcome::Valid {
                user: Box::new(user),
                intent,
            },
        },
        known,
    }
}
