//! `apply`: a plan saved by `roster plan -o`, checked user by user against the server
//! before the first write; any difference refuses the whole plan (exit 4).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use super::outputs::{self, Outputs};
use super::sync::{Applied, apply_works};
use crate::client::connect;
use crate::client::{CallStats, CreateOptions, MatchKey};
use crate::exec::{Engine, EngineOptions, Mode, Work};
use crate::exit::{self, ExitError};
use crate::model::{Field, Intent, Origin, RawText, User};
use crate::pipeline::{Checked, Outcome};
use crate::plan::planner::{Plan, PlanItem, field_value};
use crate::settings::{ExecSettings, ReportSettings, ServerSettings};

/// What `roster apply` runs with. No job file: the plan carries the create options and
/// the protected users of the job that made it.
#[derive(Clone, Debug, Default)]
pub struct ApplySettings {
    pub plan: PathBuf,
    /// Apply a plan that a guard refused when it was made.
    pub force: bool,
    pub dry_run: bool,
    pub dump: Option<PathBuf>,
    pub exec: ExecSettings,
    /// Given options override the plan's (`None` = the plan's).
    pub create: CreateOptions,
    /// Added to the users the plan protects.
    pub protect: Vec<String>,
    /// `--match`: must be the plan's.
    pub match_key: Option<MatchKey>,
}

/// `roster apply`.
pub fn apply(
    server: &ServerSettings,
    args: &ApplySettings,
    reports: &ReportSettings,
) -> Result<i32> {
    let started = Instant::now();
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
    let given = server.url.clone().unwrap_or_else(|| plan.server.clone());
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
    if let Some(f) = server.flavor
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
    let server = ServerSettings {
        url: Some(given),
        flavor: Some(plan.flavor),
        ..server.clone()
    };
    let exec = args.exec;
    // Connecting and checking the plan write nothing: Ctrl-C stops at once.
    let (connected, works, changed) = crate::interrupt::nothing_written(|| -> Result<_> {
        let connected = connect::connect(&server, exec.pacing())?;
        let target = connected.target.clone();
        // Check every touched user against the plan before the first write.
        let mut stats = CallStats::default();
        let mut works: Vec<Work> = Vec::new();
        let mut changed: Vec<String> = Vec::new();
        let by = plan.match_key;
        let key_of = |i: &PlanItem| -> String {
            // A planned rename finds the account under the name it has now.
            let old = i
                .changes
                .iter()
                .find(|c| c.field == by.name())
                .map(|c| &c.old);
            match by {
                // As spelled: Rocket.Chat's users.info matches usernames exactly.
                MatchKey::Username => old.unwrap_or(&i.username).clone(),
                MatchKey::Email => old.unwrap_or(&i.email).to_lowercase(),
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
    create.create_missing_channels |= c.create_missing_channels;
    // Plans hold no passwords: new users get a random one unless a directory logs them in.
    create.random_password |= create.auth_service.is_none();
    let mut guard = plan.guard.clone();
    guard.protect.extend(args.protect.iter().cloned());
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
            anchors: Default::default(),
            // A plan holds no source folder: an avatar path is refused at apply.
            avatar_dir: None,
            action: None,
        },
    ));
    let Applied {
        mut summary, end, ..
    } = apply_works(
        &connected,
        engine,
        // In the plan's order: creates, updates, deactivations.
        (0u64..).zip(works),
        exec.workers,
        Outputs::without_source(reports)?,
        args.dump.as_deref(),
        reports.quiet,
        // apply keeps no ledger (see README: plan + apply does not learn anchors).
        &mut Default::default(),
    )?;
    // What the run learned about the server (roles it could not read, ...).
    outputs::print_warnings(target.warnings(), &mut summary);
    summary.set_elapsed(started.elapsed());
    if let Some(f) = &end.fatal {
        summary.stopped = Some(f.clone());
        outputs::print_summary(&summary, reports)?;
        return Err(ExitError::new(exit::USAGE, f.clone()).into());
    }
    outputs::print_summary(&summary, reports)?;
    if end.interrupted {
        return Ok(exit::INTERRUPTED);
    }
    Ok(outputs::rows_exit_code(&summary))
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
        remove: i.remove.clone(),
    }
}
