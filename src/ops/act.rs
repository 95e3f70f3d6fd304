//! `roster do ACTION SOURCE`: one action on every account the source names, through
//! `import`'s run (workers, pacer, retries, journal, `--resume`, reports, summary).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;

use super::import::{self, ActionRun, RowsCheck};
use super::input::Purpose;
use crate::client::{CallStats, Fact, Flavor, Support, TokenRequest};
use crate::exec::Engine;
use crate::exec::actions::{
    ActionOptions, AuthData, AuthMove, AuthService, DoAction, PasswordReset, Preferences, Presence,
    RoleChange, StatusChange, TokenAction,
};
use crate::exec::secrets::{CREATE_TOKENS_SECRET_VAR, SecretKind, SecretOut};
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
    /// reset-password `--passwords-out FILE`: random passwords, written there only.
    pub passwords_out: Option<PathBuf>,
    /// reset-password `--send-reset-email`.
    pub send_reset_email: bool,
    /// reset-password `--no-require-change`.
    pub no_require_change: bool,
    /// create-token `--tokens-out FILE`.
    pub tokens_out: Option<PathBuf>,
    /// create-token `--description` (Mattermost).
    pub description: Option<String>,
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
    options_go_with_their_action(act)?;
    if act.action == DoAction::SetRoles {
        if act.roles.named().next().is_none() {
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
        _ => None,
    };
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
    let (mut reset, mut token) = secrets_of(act, run.resume)?;
    let (connected, pipeline) =
        import::connect_and_open(source, server, run, Purpose::Act(run.write.match_key))?;
    if let Some(why) = act.action.lacking_on(connected.target.flavor()) {
        return Err(ExitError::new(exit::USAGE, format!("{why}; nothing was written")).into());
    }
    fit_to_server(connected.target.as_ref(), &mut reset, &mut token)?;
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
                reset,
                token,
            },
            check: counted.then_some(&check as &RowsCheck),
        },
    )
}

/// An option given to an action that does not take it: exit 2, saying whose it is.
fn options_go_with_their_action(act: &ActSettings) -> Result<()> {
    let given = [
        (
            act.remove_memberships,
            "--remove-memberships goes",
            DoAction::Offboard,
        ),
        (
            act.roles.named().next().is_some(),
            "--role, --add-role and --remove-role go",
            DoAction::SetRoles,
        ),
        (
            act.status.is_some() || act.message.is_some(),
            "--status and --message go",
            DoAction::SetStatus,
        ),
        (
            act.preferences.is_some(),
            "--preferences goes",
            DoAction::SetPreferences,
        ),
        (
            act.auth_service.is_some(),
            "--auth-service goes",
            DoAction::MigrateAuth,
        ),
        (
            act.auth_data.is_some(),
            "--auth-data goes",
            DoAction::MigrateAuth,
        ),
        (
            act.passwords_out.is_some() || act.send_reset_email || act.no_require_change,
            "--passwords-out, --send-reset-email and --no-require-change go",
            DoAction::ResetPassword,
        ),
        (
            act.tokens_out.is_some() || act.description.is_some(),
            "--tokens-out and --description go",
            DoAction::CreateToken,
        ),
    ];
    for (on, options, action) in given {
        if on && act.action != action {
            return Err(ExitError::new(
                exit::USAGE,
                format!(
                    "{options} with {}, not {}",
                    action.name(),
                    act.action.name()
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// reset-password's and create-token's options, checked before anything is sent: each
/// with its action, the files they name new (or, with `--resume`, roster's own).
fn secrets_of(
    act: &ActSettings,
    resume: bool,
) -> Result<(Option<PasswordReset>, Option<TokenAction>)> {
    let usage = |m: String| -> anyhow::Error { ExitError::new(exit::USAGE, m).into() };
    let file = |kind: SecretKind, path: &PathBuf| -> Result<Arc<SecretOut>> {
        SecretOut::prepare(kind, path, resume)
            .map(Arc::new)
            .map_err(|e| usage(e.to_string()))
    };
    let reset = match (act.action, &act.passwords_out, act.send_reset_email) {
        (DoAction::ResetPassword, Some(_), true) => {
            return Err(usage(
                "roster do reset-password: --passwords-out (a random password) or --send-reset-email (the server's reset mail), not both".into(),
            ));
        }
        (DoAction::ResetPassword, None, false) => {
            return Err(usage(
                "roster do reset-password needs --passwords-out FILE (a random password for each account, written to FILE only, mode 0600) or --send-reset-email (the server mails each user its reset link)".into(),
            ));
        }
        (DoAction::ResetPassword, None, true) if act.no_require_change => {
            return Err(usage(
                "--no-require-change goes with --passwords-out: a reset mail sets no password"
                    .into(),
            ));
        }
        (DoAction::ResetPassword, None, true) => Some(PasswordReset::Email),
        (DoAction::ResetPassword, Some(path), false) => Some(PasswordReset::Random {
            out: file(SecretKind::Passwords, path)?,
            require_change: !act.no_require_change,
        }),
        _ => None,
    };
    let token = if act.action == DoAction::CreateToken {
        let Some(path) = &act.tokens_out else {
            return Err(usage(
                "roster do create-token needs --tokens-out FILE: the tokens are written there only (mode 0600)".into(),
            ));
        };
        if let Some(d) = &act.description
            && (d.trim().is_empty() || d.chars().count() > TOKEN_DESCRIPTION_MAX)
        {
            return Err(usage(format!(
                "--description: 1 to {TOKEN_DESCRIPTION_MAX} characters (Mattermost's limit)"
            )));
        }
        let server_secret =
            crate::secret::from_env(CREATE_TOKENS_SECRET_VAR).map_err(|e| usage(e.to_string()))?;
        Some(TokenAction {
            request: TokenRequest {
                description: act.description.clone(),
                server_secret,
            },
            out: file(SecretKind::Tokens, path)?,
        })
    } else {
        None
    };
    Ok((reset, token))
}

/// Mattermost's token description limit (`UserAccessToken.IsValid`).
const TOKEN_DESCRIPTION_MAX: usize = 255;
/// The description of a Mattermost token when `--description` gives none (the server
/// requires one).
const DEFAULT_TOKEN_DESCRIPTION: &str = "made by roster do create-token";

/// What the server the run connected to can honour, before the first row: an option it
/// cannot, or a permission the account lacks that the server would not report, stops the
/// run here (exit 2), nothing written.
fn fit_to_server(
    target: &dyn crate::client::UserApi,
    reset: &mut Option<PasswordReset>,
    token: &mut Option<TokenAction>,
) -> Result<()> {
    let usage = |m: String| -> anyhow::Error { ExitError::new(exit::USAGE, m).into() };
    let flavor = target.flavor();
    let mut needs: Vec<&str> = Vec::new();
    if let Some(PasswordReset::Random { require_change, .. }) = reset {
        if flavor == Flavor::Mattermost && *require_change {
            return Err(usage(
                "roster do reset-password --passwords-out: Mattermost has no way to make a user change a password at the next login; add --no-require-change to set the passwords all the same (tell the users to change theirs), or use --send-reset-email".into(),
            ));
        }
        // Mattermost shows an account's auth_service to system admins only, and an
        // admin's password set silently turns an LDAP or SSO account into an email one:
        // roster skips those, so it must see them.
        if flavor == Flavor::Mattermost
            && let Support::None(_) = target.fact_support(Fact::AuthService)
        {
            return Err(usage(
                "roster do reset-password --passwords-out on Mattermost runs only as a system admin: the server shows which accounts sign in through LDAP or SSO to system admins alone, and a password set on one of those silently turns it into an email-and-password account, which roster would not see to skip; run as a system admin, or use --send-reset-email (the server refuses a reset mail to LDAP and SSO accounts itself); nothing was written".into(),
            ));
        }
        if flavor == Flavor::Rocketchat {
            needs.extend(["edit-other-user-info", "edit-other-user-password"]);
        }
    }
    if let Some(t) = token {
        match flavor {
            Flavor::Rocketchat if t.request.description.is_some() => {
                return Err(usage(
                    "--description: Rocket.Chat's users.createToken makes a login token, which has no name or description; drop --description".into(),
                ));
            }
            Flavor::Rocketchat => needs.push("user-generate-access-token"),
            Flavor::Mattermost => {
                t.request.server_secret = None;
                t.request
                    .description
                    .get_or_insert_with(|| DEFAULT_TOKEN_DESCRIPTION.to_string());
            }
        }
    }
    if needs.is_empty() {
        return Ok(());
    }
    let mut stats = CallStats::default();
    let missing = target
        .missing_permissions(&needs, &mut stats)
        .map_err(|e| anyhow::anyhow!("reading the server's permissions: {e}"))?;
    if !missing.is_empty() {
        return Err(usage(format!(
            "the account roster runs as lacks {} (none of its roles holds it, says permissions.listAll){}; nothing was written",
            missing.join(" and "),
            if reset.is_some() {
                ": Rocket.Chat would ignore each password without a word"
            } else {
                ""
            }
        )));
    }
    Ok(())
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
