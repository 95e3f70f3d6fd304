//! `roster do ACTION SOURCE`: one action on every account the source names, through
//! `import`'s run (workers, pacer, retries, journal, `--resume`, reports, summary).

use std::collections::{HashMap, HashSet};

use anyhow::Result;

use super::import::{self, ActionRun, RowsCheck};
use super::input::Purpose;
use crate::exec::Engine;
use crate::exec::actions::{
    ActionOptions, AuthData, AuthMove, AuthService, DoAction, Preferences, Presence, RoleChange,
    StatusChange,
};
use crate::exit::{self, ExitError};
use crate::pipeline::{Checked, Outcome, PipelineError};
use crate::plan::planner::{Snapshot, Threshold};
use crate::settings::{ImportSettings, ReportSettings, ServerSettings, SourceSettings};

/// What `roster do` runs, besides what an import takes.
#[derive(Clone, Debug)]
pub struct ActSettings {
    pub action: DoAction,
    /// `--confirm-relinquish` (Rocket.Chat delete of a last room owner).
    pub confirm_relinquish: bool,
    /// offboard `--remove-memberships`.
    pub remove_memberships: bool,
    /// set-roles `--role`, `--add-role`, `--remove-role`.
    pub roles: RoleChange,
    /// set-status `--status`.
    pub status: Option<Presence>,
    /// set-status `--message`.
    pub message: Option<String>,
    /// `--yes-delete-permanently`: without it `delete` is refused.
    pub yes_delete: bool,
    /// The most deletions allowed (`--max-deactivate`), out of the server's accounts.
    pub threshold: Threshold,
    /// `--force`: no threshold.
    pub force: bool,
    /// set-preferences `--preferences`: for every row.
    pub preferences: Option<Preferences>,
    /// migrate-auth `--auth-service`.
    pub auth_service: Option<AuthService>,
    /// migrate-auth `--auth-data`.
    pub auth_data: Option<AuthData>,
}

/// `roster do`: connects, reads the source, runs the action on every matched account.
pub fn act(
    source: &SourceSettings,
    server: &ServerSettings,
    run: &ImportSettings,
    act: &ActSettings,
    reports: &ReportSettings,
) -> Result<i32> {
    if act.action == DoAction::Delete && !act.yes_delete {
        return Err(ExitError::new(
            exit::USAGE,
            "roster do delete deletes accounts for good (their messages and files too, as the server's settings say): give --yes-delete-permanently to mean it; `roster do deactivate` can be undone",
        )
        .into());
    }
    if act.remove_memberships && act.action != DoAction::Offboard {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "--remove-memberships goes with offboard, not {}",
                act.action.name()
            ),
        )
        .into());
    }
    let names_roles = act.roles.named().next().is_some();
    if act.action == DoAction::SetRoles {
        if !names_roles {
            return Err(ExitError::new(
                exit::USAGE,
                "roster do set-roles needs --role NAME (the roles each account ends with), or --add-role NAME / --remove-role NAME",
            )
            .into());
        }
        if let Some(r) = act.roles.named().find(|r| r.trim().is_empty()) {
            return Err(ExitError::new(
                exit::USAGE,
                format!("roster do set-roles: {r:?} is not a role name"),
            )
            .into());
        }
    } else if names_roles {
        return Err(ExitError::new(
            exit::USAGE,
            format!(
                "--role, --add-role and --remove-role go with set-roles, not {}",
                act.action.name()
            ),
        )
        .into());
    }
    let status = match (act.action, act.status) {
        (DoAction::SetStatus, Some(status)) => Some(StatusChange {
            status,
            message: act.message.clone(),
        }),
        (DoAction::SetStatus, None) => {
            return Err(ExitError::new(
                exit::USAGE,
                "roster do set-status needs --status online|away|busy|dnd|offline",
            )
            .into());
        }
        (_, s) if s.is_some() || act.message.is_some() => {
            return Err(ExitError::new(
                exit::USAGE,
                format!(
                    "--status and --message go with set-status, not {}",
                    act.action.name()
                ),
            )
            .into());
        }
        _ => None,
    };
    let only = |given: bool, flag: &str, action: DoAction| -> Result<()> {
        if given && act.action != action {
            return Err(ExitError::new(
                exit::USAGE,
                format!(
                    "{flag} goes with {}, not {}",
                    action.name(),
                    act.action.name()
                ),
            )
            .into());
        }
        Ok(())
    };
    only(
        act.preferences.is_some(),
        "--preferences",
        DoAction::SetPreferences,
    )?;
    only(
        act.auth_service.is_some(),
        "--auth-service",
        DoAction::MigrateAuth,
    )?;
    only(
        act.auth_data.is_some(),
        "--auth-data",
        DoAction::MigrateAuth,
    )?;
    let auth = match (act.action, act.auth_service) {
        (DoAction::MigrateAuth, None) => {
            return Err(ExitError::new(
                exit::USAGE,
                "roster do migrate-auth needs --auth-service ldap|saml (the sign-in the accounts move to)",
            )
            .into());
        }
        (_, service) => service.map(|service| AuthMove {
            service,
            data: act.auth_data.unwrap_or_default(),
        }),
    };
    let (connected, pipeline) =
        import::connect_and_open(source, server, run, Purpose::Act(run.write.match_key))?;
    if let Some(why) = act.action.lacking_on(connected.target.flavor()) {
        return Err(ExitError::new(exit::USAGE, format!("{why}; nothing was written")).into());
    }
    let check = |engine: &Engine, rows: &[Result<Checked, PipelineError>]| {
        count_deletions(engine, rows, act)
    };
    let counted = act.action == DoAction::Delete && !act.force;
    import::execute_action(
        connected,
        pipeline,
        run,
        reports,
        (source.spec.clone(), source.opts.clone()),
        ActionRun {
            options: ActionOptions {
                action: act.action,
                confirm_relinquish: act.confirm_relinquish,
                remove_memberships: act.remove_memberships,
                roles: act.roles.clone(),
                status,
                preferences: act.preferences.clone().unwrap_or_default(),
                auth,
            },
            check: counted.then_some(&check as &RowsCheck),
        },
    )
}

/// Counts the accounts a delete would remove before the first is sent: more than the
/// threshold allows (out of the server's deletable accounts, as sync weighs its
/// deactivations) refuses the whole run, exit 4, nothing written.
fn count_deletions(
    engine: &Engine,
    rows: &[Result<Checked, PipelineError>],
    act: &ActSettings,
) -> Result<()> {
    let target = engine.target().as_ref();
    let by = engine.options().match_key;
    let snap = Snapshot::take(target, by, |_| {})
        .map_err(|e| anyhow::anyhow!("listing the server's users to count the deletions: {e}"))?;
    let deletable: Vec<_> = snap
        .users
        .iter()
        .filter(|u| engine.delete_protection(u).is_none())
        .collect();
    let index: HashMap<String, &crate::model::User> = deletable
        .iter()
        .filter_map(|u| by.of(&target.normalize(u)).map(|k| (k, *u)))
        .collect();
    let mut doomed = HashSet::new();
    for row in rows.iter().flatten() {
        if let Outcome::Valid { user, .. } = &row.outcome
            && let Some(cur) = by.of(&target.normalize(user)).and_then(|k| index.get(&k))
        {
            doomed.insert(cur.id.clone().unwrap_or_else(|| cur.username.clone()));
        }
    }
    let (n, base) = (doomed.len() as u64, deletable.len() as u64);
    if n as f64 > act.threshold.limit(base) {
        return Err(ExitError::new(
            exit::GUARD,
            format!(
                "{n} deletions exceed {}; nothing was deleted: check the source, then rerun with --max-deactivate N|P% or --force",
                act.threshold.describe(base)
            ),
        )
        .into());
    }
    Ok(())
}
