//! Flags + job file (`--config`) + defaults → typed [`roster::settings`], in one place
//! (ripgrep's low-level args → `HiArgs`). Flags win over the job file; every default
//! is a constant of the settings module or of the type it fills. Command files call
//! these and pass the result to one `ops` function.

use std::path::Path;

use anyhow::Result;

use super::common::{
    CreateArgs, DoArgs, ExecArgs, GuardArgs, InputArgs, MappingArgs, ReportArgs, RunArgs,
    ServerArgs, SyncArgs, TlsArgs, parse_delimiter, split_scopes,
};
use roster::exit::{self, ExitError};
use roster::output::paths::Files;
use roster::secret;
use roster::settings::CreateOptions;
use roster::settings::JobConfig;
use roster::settings::Rate;
use roster::settings::WriteGuard;
use roster::settings::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_WORKERS, ExecSettings, ImportSettings, ReportSettings,
    ServerSettings, SourceSettings, SyncSettings, WriteSettings,
};
use roster::settings::{Scope, Threshold};
use roster::source::{self, SourceOptions};

pub fn load_job(config: Option<&Path>) -> Result<JobConfig> {
    Ok(JobConfig::load_opt(config)?)
}

/// The SOURCE argument, or `[source] path` of the job file.
pub fn source_spec(arg: Option<&str>, job: &JobConfig) -> Result<String> {
    match arg.map(str::to_string).or_else(|| job.source.path.clone()) {
        Some(s) => Ok(s),
        None => anyhow::bail!("no SOURCE given (as an argument or [source] path in the job file)"),
    }
}

/// Refuses sync-only `--scope` values on commands that are not syncs.
pub fn no_sync_scope(input: &InputArgs) -> Result<()> {
    let (_, sync) = split_scopes(&input.ldap.scope);
    match sync.first() {
        Some(v) => anyhow::bail!(
            "--scope {v:?}: not an LDAP search scope (base, one, sub); the users a sync manages are `roster plan`/`roster sync` --manage"
        ),
        None => Ok(()),
    }
}

/// The source, its options, the mapping and the validation rules. `tls` is the
/// command's `--ca-file`/`--insecure`, which also apply to ldaps:// and StartTLS.
pub fn source(
    spec: String,
    input: &InputArgs,
    mapping: &MappingArgs,
    tls: &TlsArgs,
    job: &JobConfig,
) -> Result<SourceSettings> {
    Ok(SourceSettings {
        spec,
        opts: source_options(input, tls, job)?,
        mapping: job.mapping.clone(),
        maps: mapping.map.clone(),
        profile: mapping.profile.or(job.validate.profile),
        allow_unusual_emails: mapping.allow_unusual_emails
            || job.validate.allow_unusual_emails.unwrap_or(false),
    })
}

/// Source options from flags, falling back to the job file's `[source]` table.
fn source_options(input: &InputArgs, tls: &TlsArgs, job: &JobConfig) -> Result<SourceOptions> {
    let s = &job.source;
    let delimiter = match (&input.delimiter, &s.delimiter) {
        (Some(d), _) => Some(*d),
        (None, Some(d)) => Some(
            parse_delimiter(d).map_err(|e| anyhow::anyhow!("job file [source] delimiter: {e}"))?,
        ),
        (None, None) => None,
    };
    let allow_file_urls = input
        .allow_file_urls
        .clone()
        .or_else(|| s.allow_file_urls.clone());
    if let Some(d) = &allow_file_urls
        && !d.is_dir()
    {
        anyhow::bail!("--allow-file-urls {}: not a folder", d.display());
    }
    let l = &input.ldap;
    let (ldap_scope, _sync_scopes) = split_scopes(&l.scope);
    Ok(SourceOptions {
        format: input.format.or(s.format),
        delimiter,
        no_headers: input.no_headers || s.no_headers.unwrap_or(false),
        columns: input.columns.clone().or_else(|| s.columns.clone()),
        encoding: input.encoding.or(s.encoding).unwrap_or_default(),
        multi_sep: input.multi_sep.or(s.multi_sep),
        url_max_bytes: None,
        allow_file_urls,
        ldap: source::ldap::LdapOptions {
            base: l.base.clone().or_else(|| s.base.clone()),
            scope: ldap_scope.or_else(|| s.scope.clone()),
            filter: l.filter.clone().or_else(|| s.filter.clone()),
            attrs: l.attrs.clone().or_else(|| s.attrs.clone()),
            page_size: l.page_size.or(s.page_size),
            no_paging: l.no_paging || s.no_paging.unwrap_or(false),
            starttls: l.starttls || s.starttls.unwrap_or(false),
            ca_file: tls.ca_file.clone().or_else(|| s.ca_file.clone()),
            bind_dn: l.bind_dn.clone().or_else(|| s.bind_dn.clone()),
            insecure: tls.insecure,
            connect_timeout: None,
            timeout: l.ldap_timeout.map(std::time::Duration::from_secs),
            max_message: l.ldap_max_message.or(s.ldap_max_message),
            password: None,
        },
        max_record_bytes: input.max_record_size.or(s.max_record_size),
        spool: false,
    })
}

/// The server, flags over `[server]`.
pub fn server(a: &ServerArgs, job: &JobConfig) -> ServerSettings {
    ServerSettings {
        // The job file, named on the command line, is more specific than the environment.
        url: a
            .server
            .clone()
            .or_else(|| job.server.url.clone())
            .or_else(|| {
                std::env::var("ROSTER_SERVER")
                    .ok()
                    .filter(|s| !s.is_empty())
            }),
        flavor: a.flavor.or(job.server.flavor),
        password_file: a.password_file.clone(),
        allow_http: a.allow_http || job.server.allow_http.unwrap_or(false),
        ca_file: a.tls.ca_file.clone().or_else(|| job.server.ca_file.clone()),
        insecure: a.tls.insecure,
        log: log_path(a, job).map(Path::to_path_buf),
    }
}

/// The request log, `--log` over `[server] log`.
fn log_path<'a>(a: &'a ServerArgs, job: &'a JobConfig) -> Option<&'a Path> {
    a.log.as_deref().or(job.server.log.as_deref())
}

/// Workers and pacing, flags over `[import]`.
pub fn exec(a: &ExecArgs, job: &JobConfig) -> Result<ExecSettings> {
    let rate = match (&a.rate, &job.import.rate) {
        (Some(r), _) => Some(*r),
        (None, Some(s)) => Some(
            s.parse::<Rate>()
                .map_err(|e| anyhow::anyhow!("job file [import] rate: {e}"))?,
        ),
        (None, None) => None,
    };
    let workers = a.workers.or(job.import.workers).unwrap_or(DEFAULT_WORKERS);
    if workers == 0 {
        anyhow::bail!("job file [import] workers: at least 1 worker is needed");
    }
    Ok(ExecSettings {
        workers,
        fixed_workers: a.fixed_workers || job.import.fixed_workers.unwrap_or(false),
        rate,
        max_attempts: a
            .max_attempts
            .or(job.import.max_attempts)
            .unwrap_or(DEFAULT_MAX_ATTEMPTS)
            .max(1),
    })
}

pub fn reports(r: &ReportArgs) -> ReportSettings {
    ReportSettings {
        report: r.report.clone(),
        rejects: r.rejects.clone(),
        json: r.json,
        quiet: r.quiet,
    }
}

/// Create options from flags over the job file.
pub fn create_options(a: &CreateArgs, job: &JobConfig) -> CreateOptions {
    CreateOptions {
        random_password: a.random_password || job.import.random_password.unwrap_or(false),
        join_default_channels: a.join_default_channels.or(job.import.join_default_channels),
        send_welcome_email: a.send_welcome_email.or(job.import.send_welcome_email),
        auth_service: a
            .auth_service
            .clone()
            .or_else(|| job.import.auth_service.clone()),
        create_missing_channels: a.create_missing_channels
            || job.import.create_missing_channels.unwrap_or(false),
    }
}

/// The accounts never written: `--protect` and `[sync] protect` together, less what
/// the job file's `[safety]` table explicitly allows.
pub fn write_guard(a: &GuardArgs, job: &JobConfig) -> WriteGuard {
    let mut protect = a.protect.clone();
    protect.extend(job.sync.protect.clone().unwrap_or_default());
    WriteGuard {
        protect,
        allowed: job.safety.write_privileged.clone().unwrap_or_default(),
        demote_admins: job.safety.demote_admins.unwrap_or(false),
    }
}

/// `roster import`'s run options.
pub fn import(run: &RunArgs, job: &JobConfig) -> Result<ImportSettings> {
    Ok(ImportSettings {
        write: WriteSettings {
            match_key: run.match_key.or(job.import.match_key).unwrap_or_default(),
            mode: run.mode.or(job.import.mode).unwrap_or_default(),
            create: create_options(&run.create, job),
            guard: write_guard(&run.guard, job),
        },
        exec: exec(&run.exec, job)?,
        dump: run.dump.clone(),
        resume: run.resume,
        dry_run: run.dry_run,
        state: run.state.clone().or_else(|| job.import.state.clone()),
    })
}

/// `roster do`'s run: an import's settings (the action replaces its mode) and the
/// action's own. The threshold is `--max-deactivate`, else the job file's
/// `[sync] max_deactivate`.
pub fn act(
    action: roster::settings::DoAction,
    a: &DoArgs,
    job: &JobConfig,
) -> Result<(ImportSettings, roster::ops::ActSettings)> {
    let run = ImportSettings {
        write: WriteSettings {
            match_key: a.match_key.or(job.import.match_key).unwrap_or_default(),
            guard: write_guard(&a.guard, job),
            ..WriteSettings::default()
        },
        exec: exec(&a.exec, job)?,
        dump: None,
        resume: a.resume,
        dry_run: a.dry_run,
        state: None,
    };
    let threshold = match (&a.max_deactivate, &job.sync.max_deactivate) {
        (Some(t), _) => *t,
        (None, Some(v)) => v
            .parse()
            .map_err(|e: String| anyhow::anyhow!("job file [sync] max_deactivate: {e}"))?,
        (None, None) => Threshold::Default,
    };
    Ok((
        run,
        roster::ops::ActSettings {
            action,
            confirm_relinquish: a.confirm_relinquish,
            remove_memberships: a.remove_memberships,
            roles: roster::settings::RoleChange {
                set: (!a.role.is_empty()).then(|| a.role.clone()),
                add: a.add_role.clone(),
                remove: a.remove_role.clone(),
            },
            status: a.status,
            message: a.message.clone(),
            yes_delete: a.yes_delete_permanently,
            threshold,
            force: a.force,
            preferences: a.preferences.as_deref().map(preferences).transpose()?,
            auth_service: a.auth_service,
            auth_data: a.auth_data,
            passwords_out: a.passwords_out.clone(),
            send_reset_email: a.send_reset_email,
            no_require_change: a.no_require_change,
            tokens_out: a.tokens_out.clone(),
            description: a.description.clone(),
        },
    ))
}

/// `--preferences JSON`: an object, or a usage error saying what it got.
fn preferences(text: &str) -> Result<roster::settings::Preferences> {
    let usage = |why: String| ExitError::new(exit::USAGE, format!("--preferences: {why}"));
    let object = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(_) => {
            return Err(usage(
                "give a JSON object: {\"CATEGORY\": {\"NAME\": \"VALUE\"}} on Mattermost, {\"KEY\": VALUE} on Rocket.Chat".into(),
            )
            .into());
        }
        Err(e) => return Err(usage(format!("not JSON: {e}")).into()),
    };
    // {"CATEGORY": {"NAME": VALUE}} is Mattermost's CATEGORY.NAME, spelled as a row's
    // pref.CATEGORY.NAME column is, so that the row's value replaces it.
    let prefs: roster::settings::Preferences = object
        .into_iter()
        .flat_map(|(k, v)| match v {
            serde_json::Value::Object(names) if !k.contains('.') => names
                .into_iter()
                .map(|(n, v)| (format!("{k}.{n}"), v))
                .collect::<Vec<_>>(),
            v => vec![(k, v)],
        })
        .collect();
    if prefs.is_empty() {
        return Err(usage(
            "it sets no preference (an empty object, or categories without names)".into(),
        )
        .into());
    }
    Ok(prefs)
}

/// What `plan` and `sync` decide with, flags over `[sync]` (and `[import]` for the
/// match key, the mode and new users).
pub fn sync(s: &SyncArgs, input: &InputArgs, job: &JobConfig) -> Result<SyncSettings> {
    let mut warnings = Vec::new();
    let manage = manage_scopes(s, input, job, &mut warnings)?;
    Ok(SyncSettings {
        write: WriteSettings {
            match_key: s.match_key.or(job.import.match_key).unwrap_or_default(),
            mode: s.mode.or(job.import.mode).unwrap_or_default(),
            create: create_options(&s.create, job),
            guard: write_guard(&s.guard, job),
        },
        deactivate_missing: s.deactivate_missing || job.sync.deactivate_missing.unwrap_or(false),
        threshold: match (&s.max_deactivate, &job.sync.max_deactivate) {
            (Some(t), _) => *t,
            (None, Some(v)) => v
                .parse()
                .map_err(|e: String| anyhow::anyhow!("job file [sync] max_deactivate: {e}"))?,
            (None, None) => Threshold::Default,
        },
        force: s.force,
        state: s.state.clone().or_else(|| job.sync.state.clone()),
        reactivate: s.reactivate || job.sync.reactivate.unwrap_or(false),
        manage,
        warnings,
        // `roster sync`'s own flag overrides it (see `commands/sync.rs`).
        fail_on: job.sync.fail_on.unwrap_or_default(),
        manage_teams: joined(&s.manage_team, &job.sync.manage_teams),
        manage_channels: joined(&s.manage_channel, &job.sync.manage_channels),
        remove_memberships_on_deactivate: s.remove_memberships_on_deactivate
            || job.sync.remove_memberships_on_deactivate.unwrap_or(false),
    })
}

/// A list from the command line, after the job file's.
fn joined(cli: &[String], job: &Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = job.clone().unwrap_or_default();
    out.extend(cli.iter().cloned());
    out.retain(|v| !v.trim().is_empty());
    out
}

/// The server users a sync manages besides its ledger: `--manage` (and `[sync] manage`),
/// plus the deprecated sync meaning of `--scope` and `[sync] scope`, with a warning.
fn manage_scopes(
    sync: &SyncArgs,
    input: &InputArgs,
    job: &JobConfig,
    warnings: &mut Vec<String>,
) -> Result<Vec<Scope>> {
    let parse = |v: &String, what: &str| {
        v.parse::<Scope>()
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    let mut out = Vec::new();
    for v in &sync.manage {
        out.push(parse(v, "--manage")?);
    }
    let old = split_scopes(&input.ldap.scope).1;
    for v in &old {
        warnings.push(format!(
            "--scope {v}: management scopes are now --manage {v}; --scope will keep only its LDAP meaning (base, one, sub) in the next release"
        ));
        out.push(parse(v, "--scope")?);
    }
    if out.is_empty() {
        for v in job.sync.manage.iter().flatten() {
            out.push(parse(v, "job file [sync] manage")?);
        }
        if let Some(v) = &job.sync.scope {
            warnings.push(
                "job file [sync] scope is now [sync] manage (a list); scope will be removed in the next release".into(),
            );
            out.push(parse(v, "job file [sync] scope")?);
        }
    }
    Ok(out)
}

/// Warns, when `given`, that a hidden flag kept for one release has no effect on `command`.
pub fn warn_no_effect(given: bool, flag: &str, command: &str, why: &str) {
    if given {
        eprintln!("roster: warning: {flag} has no effect on {command} and will be removed: {why}");
    }
}

/// The job file and the files it names for reading (CA certificates).
fn job_files(f: Files, config: Option<&Path>, job: &JobConfig) -> Files {
    f.read("--config", config)
        .read("[source] ca_file", job.source.ca_file.as_deref())
        .read("[server] ca_file", job.server.ca_file.as_deref())
}

/// The files every command with a source reads (the source, the job file and what it
/// names, `--ca-file`), for [`Files::guard`].
pub fn files(spec: &str, config: Option<&Path>, job: &JobConfig, tls: &TlsArgs) -> Files {
    job_files(Files::new().source(spec), config, job)
        .read("--ca-file", tls.ca_file.as_deref())
        .env(&secret::file_var(roster::source::ldap::PASSWORD_VAR))
}

/// The files every command that talks to a server reads (the source when there is one,
/// the job file and what it names, `--ca-file`, `--password-file`) and its `--log`.
pub fn server_files(
    spec: Option<&str>,
    config: Option<&Path>,
    job: &JobConfig,
    server: &ServerArgs,
) -> Files {
    let f = match spec {
        Some(s) => Files::new().source(s),
        None => Files::new(),
    };
    let f = job_files(f, config, job)
        .read("--ca-file", server.tls.ca_file.as_deref())
        .read("--password-file", server.password_file.as_deref())
        .write("--log", log_path(server, job));
    // Every credential variable may name a file instead (`NAME_FILE`).
    roster::settings::credential_file_vars().fold(f, |f, var| f.env(&var))
}

/// `--report`, its journal (REPORT.journal) and `--rejects`, for [`Files::guard`].
pub fn report_files(files: Files, r: &ReportArgs) -> Files {
    let journal = r.report.as_deref().map(roster::settings::journal_path);
    files.reports(
        r.report.as_deref(),
        journal.as_deref(),
        r.rejects.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(toml: &str) -> JobConfig {
        JobConfig::parse(toml).expect("a valid job file")
    }

    #[test]
    fn defaults_when_neither_flag_nor_job_says() {
        let e = exec(&ExecArgs::default(), &JobConfig::default()).expect("settings");
        assert_eq!(e.workers, DEFAULT_WORKERS);
        assert_eq!(e.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert!(e.rate.is_none());
        assert!(!e.fixed_workers, "adaptive under the ceiling by default");
        assert!(e.pacing().adaptive);
    }

    #[test]
    fn fixed_workers_from_the_flag_or_the_job_file() {
        let j = job("[import]
workers = 6
fixed_workers = true
");
        let e = exec(&ExecArgs::default(), &j).expect("settings");
        assert!(e.fixed_workers && !e.pacing().adaptive);
        assert_eq!(e.pacing().workers, 6);
        let flags = ExecArgs {
            fixed_workers: true,
            ..ExecArgs::default()
        };
        let e = exec(&flags, &JobConfig::default()).expect("settings");
        assert!(e.fixed_workers);
    }

    #[test]
    fn flags_win_over_the_job_file_and_its_strings_are_parsed_once() {
        let j = job("[import]\nworkers = 2\nrate = \"10/min\"\nmax_attempts = 3\n");
        let from_job = exec(&ExecArgs::default(), &j).expect("settings");
        assert_eq!((from_job.workers, from_job.max_attempts), (2, 3));
        assert!(from_job.rate.is_some());
        let flags = ExecArgs {
            workers: Some(8),
            max_attempts: Some(1),
            ..ExecArgs::default()
        };
        let e = exec(&flags, &j).expect("settings");
        assert_eq!((e.workers, e.max_attempts), (8, 1));
        let bad = exec(&ExecArgs::default(), &job("[import]\nrate = \"often\"\n"));
        assert!(bad.is_err_and(|e| e.to_string().contains("[import] rate")));
    }

    #[test]
    fn the_request_log_is_the_flag_else_the_job_files() {
        let j = job("[server]\nlog = \"nightly.jsonl\"\n");
        let from_job = server(&ServerArgs::default(), &j);
        assert_eq!(from_job.log.as_deref(), Some(Path::new("nightly.jsonl")));
        let flag = ServerArgs {
            log: Some("-".into()),
            ..ServerArgs::default()
        };
        assert_eq!(server(&flag, &j).log.as_deref(), Some(Path::new("-")));
        assert!(
            server(&ServerArgs::default(), &JobConfig::default())
                .log
                .is_none()
        );
    }

    #[test]
    fn sync_settings_take_manage_and_the_deprecated_scope_with_a_warning() {
        let j = job("[sync]\nmax_deactivate = \"2%\"\nmanage = [\"role=staff\"]\n");
        let s = sync(&SyncArgs::default(), &InputArgs::default(), &j).expect("settings");
        assert_eq!(s.threshold, Threshold::Percent(2.0));
        assert_eq!(s.manage, vec![Scope::Role("staff".into())]);
        assert!(s.warnings.is_empty());

        let mut input = InputArgs::default();
        input.ldap.scope = vec!["sub".into(), "domain=example.org".into()];
        let s = sync(&SyncArgs::default(), &input, &JobConfig::default()).expect("settings");
        assert_eq!(s.manage, vec![Scope::Domain("example.org".into())]);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        // The LDAP meaning stays with the source.
        let src = source(
            "x.csv".into(),
            &input,
            &MappingArgs::default(),
            &TlsArgs::default(),
            &JobConfig::default(),
        )
        .expect("settings");
        assert_eq!(src.opts.ldap.scope.as_deref(), Some("sub"));
        assert!(no_sync_scope(&input).is_err());
    }
}
