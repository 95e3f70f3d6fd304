//! `export`: every user of a server to a file, paged at the server's maximum, through
//! the same writers as `convert`; with `--memberships` each user's teams and channels,
//! read by group (a listing of the groups, then each group's members), and with
//! `--avatars DIR` each user's own profile image as a file.
//!
//! `--fields` picks and orders the columns, among them what the server says about each
//! account beyond its profile (presence, last login, creation, sign-in service,
//! two-factor: [`crate::client::Facts`]); only the requests those need are made. The
//! filters (`--role`, `--inactive-only`, `--idle-days`) drop accounts as they stream by:
//! memory stays bounded by a page whatever the filters.
//!
//! Mattermost keeps last logins out of its user listings (`User.Sanitize` zeroes them);
//! they come from its user report, read alongside the listing ([`LoginJoin`]).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::progress::progress;
use crate::client::connect;
use crate::client::{
    CallError, CallStats, Fact, Facts, Group, GroupKind, LastLogin, ReportCursor, Support, UserApi,
    Want,
};
use crate::exit::{self, ExitError};
use crate::model::{Avatar, Field, User, image_type};
use crate::output::WriterOptions;
use crate::output::columns::{self, Column};
use crate::settings::{ExecSettings, ServerSettings};
use crate::source::Format;

/// What `roster export` writes.
#[derive(Clone, Debug)]
pub struct ExportSettings<'a> {
    pub output: &'a Path,
    pub format: Format,
    pub active_only: bool,
    pub base_dn: String,
    pub excel: bool,
    pub quiet: bool,
    /// Read every team's and channel's members and write them as `teams`/`channels`.
    pub memberships: bool,
    /// Write each user's own profile image into this folder (inside the output file's
    /// folder) and its path, relative to that folder, as `avatar`.
    pub avatars: Option<&'a Path>,
    /// `--fields`: the columns, in order; `None` = the default columns.
    pub fields: Option<Vec<Column>>,
    /// `--role`: keep accounts holding any of these roles (none = every account).
    pub roles: Vec<String>,
    /// `--inactive-only`: keep deactivated accounts only.
    pub inactive_only: bool,
    /// `--idle-days N`: keep accounts idle for more than N days ([`Idle`]).
    pub idle_days: Option<u32>,
}

/// `--idle-days`: an account is idle when its last login is older than the cutoff, or,
/// never having logged in, when it was created before the cutoff; and the server saw no
/// activity of it since (Mattermost's `last_status_at`). Bots and the account
/// roster runs as are never idle (bots do not log in; the running account is in use).
#[derive(Clone, Debug)]
struct Idle {
    /// Milliseconds since the epoch.
    cutoff: i64,
    /// The running account's id.
    me: Option<String>,
}

impl Idle {
    /// `Some(idle)`, or `None` when the server did not say enough to tell.
    fn is_idle(&self, u: &User, f: &Facts) -> Option<bool> {
        if u.server_kind.is_some() || (u.id.is_some() && u.id == self.me) {
            return Some(false);
        }
        // Activity counts as much as a login: a Mattermost session lives for months
        // without one, so a daily user's last login can be old.
        if f.last_active.is_some_and(|t| t >= self.cutoff) {
            return Some(false);
        }
        match f.last_login {
            LastLogin::At(t) => Some(t < self.cutoff),
            LastLogin::Never => f.created_at.map(|c| c < self.cutoff),
            LastLogin::Unknown => None,
        }
    }
}

/// The filters of one export.
struct Filters {
    active_only: bool,
    inactive_only: bool,
    /// Lowercase, spelled as the server spells roles.
    roles: Vec<String>,
    idle: Option<Idle>,
}

impl Filters {
    fn any(&self) -> bool {
        self.active_only || self.inactive_only || !self.roles.is_empty() || self.idle.is_some()
    }

    /// Whether to keep the account; `Err(())` when idleness cannot be told.
    fn keep(&self, u: &User, f: &Facts) -> Result<bool, ()> {
        if self.active_only && u.active == Some(false) {
            return Ok(false);
        }
        if self.inactive_only && u.active != Some(false) {
            return Ok(false);
        }
        if !self.roles.is_empty() {
            let holds = u.roles.iter().flatten().any(|r| {
                let r = r.to_lowercase();
                self.roles.contains(&r)
            });
            if !holds {
                return Ok(false);
            }
        }
        match &self.idle {
            Some(idle) => idle.is_idle(u, f).ok_or(()),
            None => Ok(true),
        }
    }
}

/// `--role` names as the server spells them (Mattermost `admin` → `system_admin`, as
/// imports normalise them), lowercase: roles are matched ignoring case. A name the
/// server's role list lacks (read once, when it may be read) is a warning: it matches
/// no account. `--role` with no name at all (`--role ,`) is refused: it would filter
/// nothing.
fn role_filter(target: &dyn UserApi, given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for r in given.iter().flat_map(|r| r.split(',')) {
        let r = r.trim();
        if r.is_empty() {
            continue;
        }
        let r = match target.flavor() {
            crate::client::Flavor::Mattermost => crate::client::mattermost::role_name(r),
            crate::client::Flavor::Rocketchat => r.to_string(),
        }
        .to_lowercase();
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.is_empty() && !given.is_empty() {
        return Err(ExitError::new(exit::USAGE, "--role: no role name given").into());
    }
    if !out.is_empty()
        && let crate::client::ServerRoles::Known(known) = target.roles()
    {
        for r in &out {
            if !known.iter().any(|k| k.to_lowercase() == *r) {
                eprintln!(
                    "roster: warning: --role {r}: the server has no such role; no account matches it"
                );
            }
        }
    }
    Ok(out)
}

/// The facts the columns and filters need.
fn wanted(fields: Option<&[Column]>, idle: bool) -> Want {
    let mut want = Want::default();
    for c in fields.unwrap_or_default() {
        if let Column::Fact(f) = c {
            want.add(*f);
        }
    }
    if idle {
        want.add(Fact::LastLogin);
        want.add(Fact::CreatedAt);
    }
    want
}

/// Refuses facts the server cannot give (before the output file is made) and returns
/// the warnings for those it gives in part.
fn check_support(target: &dyn UserApi, want: &Want) -> Result<Vec<&'static str>> {
    let mut warnings = Vec::new();
    for f in Fact::ALL.into_iter().filter(|f| want.has(*f)) {
        match target.fact_support(f) {
            Support::Full => {}
            Support::Partial(why) => warnings.push(why),
            Support::None(why) => {
                return Err(ExitError::new(
                    exit::USAGE,
                    format!("{why}; leave {} out of --fields", f.name()),
                )
                .into());
            }
        }
    }
    Ok(warnings)
}

/// `roster export`.
pub fn export(server: &ServerSettings, e: &ExportSettings<'_>) -> Result<i32> {
    let fields = e.fields.as_deref();
    if e.memberships && e.format == Format::Ldif {
        return Err(ExitError::new(
            exit::USAGE,
            "--memberships: LDIF output has no attribute for teams and channels; write CSV or JSON Lines",
        )
        .into());
    }
    if e.format == Format::Ldif
        && let Some(cols) = fields
    {
        let missing = columns::ldif_unsupported(cols);
        if !missing.is_empty() {
            return Err(ExitError::new(
                exit::USAGE,
                format!(
                    "--fields: LDIF output has no attribute for {}; write CSV or JSON Lines, or leave them out",
                    missing.join(", ")
                ),
            )
            .into());
        }
    }
    // Memberships: asked for, or named as columns; only the kinds the columns name.
    let named = |c: Column| fields.is_some_and(|f| f.contains(&c));
    let (want_teams, want_channels) = match fields {
        None => (e.memberships, e.memberships),
        Some(_) => (
            named(Column::Field(Field::Teams)),
            named(Column::Field(Field::Channels)),
        ),
    };
    if e.memberships && fields.is_some() && !want_teams && !want_channels {
        eprintln!(
            "roster: warning: --memberships: --fields names neither teams nor channels; memberships not read"
        );
    }
    // Before the output file is made: a refused folder leaves nothing behind.
    let avatars = e
        .avatars
        .map(|d| AvatarDir::create(d, e.output))
        .transpose()?;
    let connected = connect::connect(server, ExecSettings::default().pacing())?;
    let target = connected.target.as_ref();
    let want = wanted(fields, e.idle_days.is_some());
    for why in check_support(target, &want)? {
        eprintln!("roster: warning: {why}");
    }
    let idle = match e.idle_days {
        Some(days) => Some(Idle {
            cutoff: cutoff_ms(days)?,
            me: target
                .whoami(&mut CallStats::default())
                .map_err(|err| ExitError::new(exit::USAGE, format!("who am I: {err}")))?
                .id,
        }),
        None => None,
    };
    let filters = Filters {
        active_only: e.active_only,
        inactive_only: e.inactive_only,
        roles: role_filter(target, &e.roles)?,
        idle,
    };
    // Before the output file is made: a server that refuses a listing leaves no file.
    let members = if want_teams || want_channels {
        let before = connected.http.requests.load(Ordering::Relaxed);
        let pb = progress(e.quiet, "teams and channels read");
        let m = read_memberships(target, want_channels, &mut || pb.inc(1))?;
        pb.finish_and_clear();
        if !e.quiet {
            eprintln!(
                "{} team and {} channel memberships read from {} teams and {} channels ({} requests)",
                m.team_memberships,
                m.channel_memberships,
                m.teams,
                m.channels,
                connected.http.requests.load(Ordering::Relaxed) - before
            );
        }
        for why in &m.unreadable {
            eprintln!("roster: warning: members of private channel {why}; not exported");
        }
        Some(m)
    } else {
        None
    };
    // Made at the first account written (or at the end, for an empty export): a server
    // that refuses the first page, or Mattermost's report, leaves no file behind.
    let open = || {
        columns::create(
            e.output,
            e.format,
            &WriterOptions {
                base_dn: Some(e.base_dn.clone()),
                excel: e.excel,
                private: true,
            },
            fields,
        )
        .with_context(|| format!("cannot create {}", e.output.display()))
    };
    let mut writer = None;
    let mut avatar_failures = 0u64;
    let pb = progress(e.quiet, "users exported");
    let mut logins =
        (want.last_login && !target.logins_in_listing()).then(|| LoginJoin::new(target));
    let counts = export_all(target, &want, &filters, logins.as_mut(), &mut |u, facts| {
        pb.inc(1);
        let mut u = u.clone();
        if let Some(m) = &members {
            m.fill(&mut u);
        }
        if let Some(dir) = &avatars {
            match dir.save(target, &u) {
                // LDIF has no place for a path: the image itself goes in jpegPhoto.
                Ok(Some((_, image))) if e.format == Format::Ldif => {
                    u.avatar = Some(Avatar::Image(image.into()));
                }
                Ok(saved) => u.avatar = saved.map(|(path, _)| Avatar::File(path)),
                // The run ends as interrupted: no image is a failure of its own.
                Err(CallError::Interrupted) => {}
                // Credentials refused: every other image would fail the same way.
                Err(CallError::Fatal(m)) => {
                    return Err(ExitError::new(exit::USAGE, format!("reading avatars: {m}")).into());
                }
                Err(why) => {
                    avatar_failures += 1;
                    pb.suspend(|| eprintln!("roster: {}: avatar not exported: {why}", u.username));
                }
            }
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(open()?),
        };
        w.write(&u, facts)
            .with_context(|| format!("cannot write {}", e.output.display()))
    })?;
    pb.finish_and_clear();
    let writer = match writer {
        Some(w) => w,
        None => open()?,
    };
    writer
        .finish()
        .with_context(|| format!("cannot write {}", e.output.display()))?;
    if crate::interrupt::requested() {
        eprintln!("roster: interrupted; {} is incomplete", e.output.display());
        return Ok(exit::INTERRUPTED);
    }
    if avatar_failures > 0 {
        eprintln!(
            "roster: {avatar_failures} avatar(s) could not be exported; those users have no avatar in {}",
            e.output.display()
        );
    }
    if counts.unreported > 0 {
        eprintln!(
            "roster: warning: {} account(s) missing from the server's login report; their last_login is empty",
            counts.unreported
        );
    }
    if counts.undated > 0 {
        eprintln!(
            "roster: warning: the server gave no last login (or no creation time) for {} account(s); they are left out of --idle-days",
            counts.undated
        );
    }
    if !e.quiet {
        let of = if filters.any() {
            format!(" (of {} read)", counts.read)
        } else {
            String::new()
        };
        eprintln!(
            "{} users written to {}{of} ({} requests)",
            counts.written,
            e.output.display(),
            connected.http.requests.load(Ordering::Relaxed)
        );
    }
    Ok(if avatar_failures > 0 {
        exit::ROWS
    } else {
        exit::OK
    })
}

/// Now less `days` days, in milliseconds since the epoch.
fn cutoff_ms(days: u32) -> Result<i64> {
    let ago = Duration::from_secs(u64::from(days) * 86_400);
    let at = SystemTime::now()
        .checked_sub(ago)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .ok_or_else(|| ExitError::new(exit::USAGE, format!("--idle-days {days}: too far back")))?;
    i64::try_from(at.as_millis()).map_err(|_| {
        ExitError::new(exit::USAGE, format!("--idle-days {days}: out of range")).into()
    })
}

/// Mattermost's last logins, read from its user report alongside the user listing. Both
/// come in username order (the same `ORDER BY Username` on the same database), so the
/// row a user needs is nearly always within the report page just read: rows read ahead
/// wait in `pending` until their user comes by, and the join holds about one report page
/// (100 ids and times). Should the orders ever differ, nothing is lost: the join reads on
/// until it finds the id, holding at most every account's id and time (~100 bytes each).
/// Bots are not in the report, and are never looked up.
struct LoginJoin<'a> {
    target: &'a dyn UserApi,
    stats: CallStats,
    pending: HashMap<String, (LastLogin, Option<i64>)>,
    next: Option<ReportCursor>,
    started: bool,
}

impl<'a> LoginJoin<'a> {
    fn new(target: &'a dyn UserApi) -> Self {
        LoginJoin {
            target,
            stats: CallStats::default(),
            pending: HashMap::new(),
            next: None,
            started: false,
        }
    }

    /// The last login of user `id`: `Unknown` when the whole report lacks it; `None`
    /// when Ctrl-C came before the next report page was asked for.
    fn take(&mut self, id: &str) -> Result<Option<(LastLogin, Option<i64>)>> {
        loop {
            if let Some(l) = self.pending.remove(id) {
                return Ok(Some(l));
            }
            if self.started && self.next.is_none() {
                return Ok(Some((LastLogin::Unknown, None)));
            }
            let page = match self
                .target
                .login_report(self.next.as_ref(), &mut self.stats)
            {
                Ok(p) => p,
                Err(CallError::Interrupted) => return Ok(None),
                Err(err) => {
                    return Err(
                        ExitError::new(exit::USAGE, format!("reading last logins: {err}")).into(),
                    );
                }
            };
            self.started = true;
            self.next = page.next;
            self.pending
                .extend(page.rows.into_iter().map(|(id, l, a)| (id, (l, a))));
        }
    }
}

/// What [`export_all`] counted.
#[derive(Debug, Default)]
struct Counts {
    read: u64,
    written: u64,
    /// Accounts `--idle-days` could not judge.
    undated: u64,
    /// Accounts that are no bots the login report left out (written with no last login).
    unreported: u64,
}

/// Who belongs where: user id → team names and channel paths, read by group.
#[derive(Debug, Default)]
pub struct Memberships {
    by_user: HashMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    pub teams: usize,
    pub channels: usize,
    pub team_memberships: usize,
    pub channel_memberships: usize,
    /// Private channels whose members the account may not read, with the server's why.
    pub unreadable: Vec<String>,
}

impl Memberships {
    /// Sets `teams` and `channels` of `u`, sorted (left unset when it has none).
    pub fn fill(&self, u: &mut User) {
        let Some((teams, channels)) = u.id.as_ref().and_then(|id| self.by_user.get(id)) else {
            return;
        };
        let list = |s: &BTreeSet<String>| (!s.is_empty()).then(|| s.iter().cloned().collect());
        u.teams = list(teams);
        u.channels = list(channels);
    }
}

/// Every team's and channel's members: one listing of the teams, one of the channels
/// (per team on Mattermost; none unless `channels`), then each group's members, paged.
/// Default channels are left out: every team member has them, and an import adds them
/// anyway. `each_group` is called once a group's members are read (progress).
pub fn read_memberships(
    target: &dyn UserApi,
    channels: bool,
    each_group: &mut dyn FnMut(),
) -> Result<Memberships> {
    let mut stats = CallStats::default();
    let fail = |what: &str, e: CallError| -> anyhow::Error {
        ExitError::new(exit::USAGE, format!("reading memberships ({what}): {e}")).into()
    };
    let teams = target
        .list_teams(&mut stats)
        .map_err(|e| fail("teams", e))?;
    let channels: Vec<Group> = if channels {
        target
            .list_channels(&teams, &mut stats)
            .map_err(|e| fail("channels", e))?
            .into_iter()
            .filter(|c| !c.default)
            .collect()
    } else {
        Vec::new()
    };
    let mut m = Memberships {
        teams: teams.len(),
        channels: channels.len(),
        ..Memberships::default()
    };
    for g in teams.iter().chain(&channels) {
        if crate::interrupt::requested() {
            break;
        }
        let ids = match target.member_ids(g, &mut stats) {
            Ok(ids) => ids,
            // Rocket.Chat lists a private group's members to its members only (an
            // admin too): the export goes on without that group, and says so.
            Err(CallError::Rejected { message, .. }) if g.private => {
                m.unreadable.push(format!("{}: {message}", g.path));
                continue;
            }
            Err(e) => return Err(fail(&format!("members of {} {}", g.kind.noun(), g.path), e)),
        };
        each_group();
        for id in ids {
            let entry = m.by_user.entry(id).or_default();
            match g.kind {
                GroupKind::Team => {
                    entry.0.insert(g.path.clone());
                    m.team_memberships += 1;
                }
                GroupKind::Channel => {
                    entry.1.insert(g.path.clone());
                    m.channel_memberships += 1;
                }
            }
        }
    }
    Ok(m)
}

/// The folder avatars are written to, and its path as the export names it.
struct AvatarDir {
    dir: PathBuf,
    /// `dir` relative to the output file's folder: import reads avatar paths relative
    /// to its source's folder and refuses any that leave it.
    rel: PathBuf,
}

impl AvatarDir {
    /// Creates `dir`, which must lie inside the folder of `output` (the current folder
    /// for stdout).
    fn create(dir: &Path, output: &Path) -> Result<AvatarDir> {
        let usage = |m: String| -> anyhow::Error { ExitError::new(exit::USAGE, m).into() };
        let base = match output.parent() {
            _ if output == Path::new("-") => Path::new("."),
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let base_c = base.canonicalize().map_err(|e| {
            usage(format!(
                "--avatars: the output's folder {}: {e}",
                base.display()
            ))
        })?;
        let outside = |shown: &Path| {
            usage(format!(
                "--avatars: {} must be a folder inside {}, the output file's folder (an import of the export reads avatars only there)",
                shown.display(),
                base_c.display()
            ))
        };
        let inside = |p: &Path| -> Option<PathBuf> {
            p.strip_prefix(&base_c)
                .ok()
                .filter(|r| !r.as_os_str().is_empty())
                .map(Path::to_path_buf)
        };
        // Checked before creating anything (no stray folder when refused): the existing
        // part of the path resolved, the rest taken as written, without `..`.
        let mut existing = dir.to_path_buf();
        let mut rest = Vec::new();
        while !existing.as_os_str().is_empty() && !existing.exists() {
            rest.push(existing.file_name().map(|n| n.to_os_string()));
            existing.pop();
        }
        let mut planned = if existing.as_os_str().is_empty() {
            std::env::current_dir().map_err(|e| usage(format!("--avatars: {e}")))?
        } else {
            existing
                .canonicalize()
                .map_err(|e| usage(format!("--avatars: {}: {e}", existing.display())))?
        };
        for part in rest.into_iter().rev() {
            match part {
                Some(name) => planned.push(name),
                None => return Err(outside(dir)),
            }
        }
        if inside(&planned).is_none() {
            return Err(outside(dir));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| usage(format!("--avatars: cannot create {}: {e}", dir.display())))?;
        // Again once it exists: a symbolic link may lead elsewhere.
        let dir_c = dir
            .canonicalize()
            .map_err(|e| usage(format!("--avatars: {}: {e}", dir.display())))?;
        let rel = inside(&dir_c).ok_or_else(|| outside(dir))?;
        Ok(AvatarDir { dir: dir_c, rel })
    }

    /// Writes `u`'s own image as `USERNAME.EXT` (replacing an earlier one, through a
    /// temporary file and a rename, so a reader never sees half an image) and returns
    /// its path as the export names it, with the image; `None` when the user has no image
    /// of their own.
    fn save(&self, target: &dyn UserApi, u: &User) -> Result<Option<(String, Vec<u8>)>, CallError> {
        if !u.server_avatar {
            return Ok(None);
        }
        let mut stats = CallStats::default();
        let Some(bytes) = target.avatar_image(u, &mut stats)? else {
            return Ok(None);
        };
        let ext = match image_type(&bytes).map(|t| t.name) {
            Some("PNG") => "png",
            Some("JPEG") => "jpg",
            Some("GIF") => "gif",
            Some("BMP") => "bmp",
            Some("TIFF") => "tif",
            Some("WebP") => "webp",
            _ => {
                return Err(local(
                    "the server's image is of no format both servers take".into(),
                ));
            }
        };
        let name = format!("{}.{ext}", file_stem(&u.username));
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| local(format!("cannot write {}: {e}", path.display())))?;
        let rel = self.rel.join(&name);
        // Import paths use `/` whatever the platform.
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        Ok(Some((rel, bytes)))
    }
}

/// A failure of one image on this side (its format, the disk), in the clients' terms.
fn local(message: String) -> CallError {
    CallError::Rejected {
        status: 0,
        code: None,
        message,
    }
}

/// A username as a file name: characters other than letters, digits, `.`, `-` and `_`
/// become `_`, and a leading `.` too (no hidden file, never `..`).
fn file_stem(username: &str) -> String {
    let mut s: String = username
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

/// Pages through every account of the server in the server's order, with the facts
/// `want` asks for, calling `each` with those `filters` keep.
fn export_all(
    target: &dyn UserApi,
    want: &Want,
    filters: &Filters,
    mut logins: Option<&mut LoginJoin<'_>>,
    each: &mut dyn FnMut(&User, &Facts) -> Result<()>,
) -> Result<Counts> {
    let mut stats = CallStats::default();
    let mut page = 0;
    let mut counts = Counts::default();
    loop {
        if crate::interrupt::requested() {
            break;
        }
        let p = match target.list_accounts(page, want, &mut stats) {
            Ok(p) => p,
            // Ctrl-C: the export ends as interrupted, not as a failed listing.
            Err(CallError::Interrupted) => break,
            Err(e) => {
                return Err(ExitError::new(
                    exit::USAGE,
                    format!("listing users (page {page}): {e}"),
                )
                .into());
            }
        };
        let empty = p.accounts.is_empty();
        for mut a in p.accounts {
            counts.read += 1;
            // Every account that is no bot takes its row, kept or not: the join
            // never holds rows for accounts already gone by.
            if let Some(join) = logins.as_deref_mut()
                && a.user.server_kind.is_none()
                && let Some(id) = &a.user.id
            {
                match join.take(id)? {
                    Some((LastLogin::Unknown, _)) => counts.unreported += 1,
                    Some((l, active)) => {
                        a.facts.last_login = l;
                        a.facts.last_active = active;
                    }
                    None => return Ok(counts),
                }
            }
            // Roles stripped from the listing (Rocket.Chat, for callers without
            // view-full-other-user-info) would make --role keep nobody, silently.
            if !filters.roles.is_empty() && a.user.roles.is_none() {
                return Err(ExitError::new(
                    exit::USAGE,
                    format!(
                        "--role: the server lists no roles to the account roster runs as ({} has none); Rocket.Chat shows them to holders of view-full-other-user-info (admins)",
                        a.user.username
                    ),
                )
                .into());
            }
            match filters.keep(&a.user, &a.facts) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(()) => {
                    counts.undated += 1;
                    continue;
                }
            }
            each(&a.user, &a.facts)?;
            counts.written += 1;
        }
        if !p.more || empty {
            break;
        }
        page += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read by group: one listing per kind and one members request per group; names
    /// sorted; default channels never listed; users in nothing left without the fields.
    #[test]
    fn memberships_are_read_by_group_and_filled_sorted() {
        use crate::exec::fake::FakeServer;
        let fake = FakeServer::new(&[("ann", "ann@example.org"), ("bob", "bob@example.org")]);
        for (kind, name) in [
            (GroupKind::Team, "support"),
            (GroupKind::Team, "sales"),
            (GroupKind::Channel, "news"),
            (GroupKind::Channel, "lobby"),
        ] {
            fake.add_group(kind, name);
        }
        {
            let mut groups = fake.groups.lock().unwrap();
            if let Some((g, _)) = groups.get_mut("lobby") {
                g.default = true;
            }
        }
        let mut stats = CallStats::default();
        for g in ["support", "sales", "news", "lobby"] {
            let group = fake.find_channel(None, g, &mut stats).unwrap().unwrap();
            fake.add_members(&group, &["id-ann".into()], &mut stats)
                .unwrap();
        }
        let mut groups_read = 0;
        let m = read_memberships(&fake, true, &mut || groups_read += 1).unwrap();
        assert_eq!(groups_read, 3);
        assert_eq!((m.teams, m.channels), (2, 1));
        // Two listings, then the three groups that are not default.
        assert_eq!(
            fake.member_reads.load(std::sync::atomic::Ordering::SeqCst),
            3
        );
        let mut ann = crate::exec::fake::user("ann", "ann@example.org", &["user"]);
        m.fill(&mut ann);
        assert_eq!(ann.teams, Some(vec!["sales".into(), "support".into()]));
        assert_eq!(ann.channels, Some(vec!["news".into()]));
        let mut bob = crate::exec::fake::user("bob", "bob@example.org", &["user"]);
        m.fill(&mut bob);
        assert_eq!((bob.teams, bob.channels), (None, None));
    }

    /// A server whose login report comes in pages of `page`, in `order` (ids), for the
    /// join; nothing else is called.
    struct Report {
        order: Vec<String>,
        page: usize,
        roles: crate::client::ServerRoles,
    }

    impl Report {
        fn new(order: Vec<String>, page: usize) -> Self {
            Report {
                order,
                page,
                roles: crate::client::ServerRoles::Unknown(String::new()),
            }
        }
    }

    impl UserApi for Report {
        fn flavor(&self) -> crate::client::Flavor {
            crate::client::Flavor::Mattermost
        }
        fn whoami(&self, _: &mut CallStats) -> Result<User, CallError> {
            Err(CallError::Fatal("unused".into()))
        }
        fn lookup(
            &self,
            _: crate::client::MatchKey,
            _: &str,
            _: &mut CallStats,
        ) -> Result<Option<User>, CallError> {
            Ok(None)
        }
        fn lookup_id(&self, _: &str, _: &mut CallStats) -> Result<Option<User>, CallError> {
            Ok(None)
        }
        fn create(
            &self,
            u: &User,
            _: &crate::client::CreateOptions,
            _: &mut CallStats,
        ) -> Result<User, CallError> {
            Ok(u.clone())
        }
        fn update(
            &self,
            _: &User,
            d: &User,
            _: &[crate::model::Field],
            _: &mut CallStats,
        ) -> Result<User, CallError> {
            Ok(d.clone())
        }
        fn deactivate(&self, u: &User, _: &mut CallStats) -> Result<User, CallError> {
            Ok(u.clone())
        }
        fn list(&self, _: u64, _: &mut CallStats) -> Result<crate::client::Page, CallError> {
            Ok(crate::client::Page {
                users: Vec::new(),
                more: false,
                total: None,
            })
        }
        fn fields(&self) -> &'static [crate::model::Field] {
            &[]
        }
        fn protection(&self, _: &User) -> Option<&'static str> {
            None
        }
        fn admin_role(&self) -> &'static str {
            "system_admin"
        }
        fn roles(&self) -> &crate::client::ServerRoles {
            &self.roles
        }
        fn backoff(&self, _: u32, _: &mut CallStats) -> Result<(), CallError> {
            Ok(())
        }
        /// Rows after the cursor's id, `last_login` = the id's number.
        fn login_report(
            &self,
            after: Option<&ReportCursor>,
            _: &mut CallStats,
        ) -> Result<crate::client::LoginPage, CallError> {
            let start = match after {
                Some(c) => self
                    .order
                    .iter()
                    .position(|i| *i == c.id)
                    .map_or(0, |p| p + 1),
                None => 0,
            };
            let rows: Vec<(String, LastLogin, Option<i64>)> = self.order[start..]
                .iter()
                .take(self.page)
                .map(|id| (id.clone(), LastLogin::At(id[1..].parse().unwrap()), None))
                .collect();
            let next = (rows.len() == self.page).then(|| ReportCursor {
                value: String::new(),
                id: rows.last().map(|r| r.0.clone()).unwrap_or_default(),
            });
            Ok(crate::client::LoginPage { rows, next })
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i:04}")).collect()
    }

    /// In the listing's order the join holds about one report page; in another order it
    /// still finds every row; an id the report lacks is Unknown, not never.
    #[test]
    fn the_login_join_is_bounded_in_order_and_complete_out_of_it() {
        let listing = ids(1000);
        let server = Report::new(listing.clone(), 100);
        let mut join = LoginJoin::new(&server);
        let mut most = 0;
        for (i, id) in listing.iter().enumerate() {
            assert_eq!(
                join.take(id).unwrap(),
                Some((LastLogin::At(i as i64), None))
            );
            most = most.max(join.pending.len());
        }
        assert!(most < 100, "held {most} rows");
        assert_eq!(
            join.take("nobody").unwrap(),
            Some((LastLogin::Unknown, None))
        );

        let mut reversed = listing.clone();
        reversed.reverse();
        let server = Report::new(reversed, 100);
        let mut join = LoginJoin::new(&server);
        for (i, id) in listing.iter().enumerate() {
            assert_eq!(
                join.take(id).unwrap(),
                Some((LastLogin::At(i as i64), None))
            );
        }
        assert!(join.pending.is_empty());
    }

    #[test]
    fn idle_means_an_old_login_or_never_and_created_long_ago() {
        let idle = Idle {
            cutoff: 1000,
            me: Some("me".into()),
        };
        let user = |id: &str, kind: Option<&str>| User {
            id: Some(id.into()),
            server_kind: kind.map(str::to_string),
            ..User::default()
        };
        let facts = |l: LastLogin, c: Option<i64>| Facts {
            last_login: l,
            created_at: c,
            ..Facts::default()
        };
        let u = user("u", None);
        assert_eq!(
            idle.is_idle(&u, &facts(LastLogin::At(999), Some(0))),
            Some(true)
        );
        assert_eq!(
            idle.is_idle(&u, &facts(LastLogin::At(1000), Some(0))),
            Some(false)
        );
        assert_eq!(
            idle.is_idle(&u, &facts(LastLogin::Never, Some(999))),
            Some(true)
        );
        assert_eq!(
            idle.is_idle(&u, &facts(LastLogin::Never, Some(1000))),
            Some(false)
        );
        assert_eq!(idle.is_idle(&u, &facts(LastLogin::Never, None)), None);
        assert_eq!(idle.is_idle(&u, &facts(LastLogin::Unknown, Some(0))), None);
        let old = facts(LastLogin::At(0), Some(0));
        assert_eq!(idle.is_idle(&user("me", None), &old), Some(false));
        assert_eq!(idle.is_idle(&user("b", Some("bot")), &old), Some(false));
        // Seen active since the cutoff: not idle, however old the login.
        let active = |t| Facts {
            last_active: Some(t),
            ..old.clone()
        };
        assert_eq!(idle.is_idle(&u, &active(1000)), Some(false));
        assert_eq!(idle.is_idle(&u, &active(999)), Some(true));
    }

    #[test]
    fn usernames_become_plain_file_names() {
        assert_eq!(file_stem("ann.li"), "ann.li");
        assert_eq!(file_stem(".."), "_..");
        assert_eq!(file_stem("a/b\\c"), "a_b_c");
        assert_eq!(file_stem(""), "_");
    }

    #[test]
    fn the_avatar_folder_must_be_inside_the_output_folder() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("users.csv");
        let inside = AvatarDir::create(&d.path().join("photos"), &out).unwrap();
        assert_eq!(inside.rel, PathBuf::from("photos"));
        let other = tempfile::tempdir().unwrap();
        assert!(AvatarDir::create(&other.path().join("new"), &out).is_err());
        assert!(!other.path().join("new").exists(), "created though refused");
        assert!(AvatarDir::create(d.path(), &out).is_err());
        assert!(AvatarDir::create(&d.path().join("photos/../../x"), &out).is_err());
        let deep = AvatarDir::create(&d.path().join("a/b"), &out).unwrap();
        assert_eq!(deep.rel, PathBuf::from("a/b"));
    }
}
