//! `export`: every user of a server to a file, paged at the server's maximum, through
//! the same writers as `convert`; with `--memberships` each user's teams and channels,
//! read by group (a listing of the groups, then each group's members), and with
//! `--avatars DIR` each user's own profile image as a file.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};

use super::progress::progress;
use crate::client::connect;
use crate::client::{CallError, CallStats, Group, GroupKind, UserApi};
use crate::exit::{self, ExitError};
use crate::model::{Avatar, User, image_type};
use crate::output::{self, WriterOptions};
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
}

/// `roster export`.
pub fn export(server: &ServerSettings, e: &ExportSettings<'_>) -> Result<i32> {
    if e.memberships && e.format == Format::Ldif {
        return Err(ExitError::new(
            exit::USAGE,
            "--memberships: LDIF output has no attribute for teams and channels; write CSV or JSON Lines",
        )
        .into());
    }
    // Before the output file is made: a refused folder leaves nothing behind.
    let avatars = e
        .avatars
        .map(|d| AvatarDir::create(d, e.output))
        .transpose()?;
    let connected = connect::connect(server, ExecSettings::default().pacing())?;
    let target = connected.target.as_ref();
    // Before the output file is made: a server that refuses a listing leaves no file.
    let members = if e.memberships {
        let before = connected.http.requests.load(Ordering::Relaxed);
        let pb = progress(e.quiet, "teams and channels read");
        let m = read_memberships(target, &mut || pb.inc(1))?;
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
    let mut writer = output::create(
        e.output,
        e.format,
        &WriterOptions {
            base_dn: Some(e.base_dn.clone()),
            excel: e.excel,
            private: true,
        },
    )
    .with_context(|| format!("cannot create {}", e.output.display()))?;
    let mut avatar_failures = 0u64;
    let pb = progress(e.quiet, "users exported");
    let n = export_all(target, e.active_only, &mut |u| {
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
        writer
            .write(&u)
            .with_context(|| format!("cannot write {}", e.output.display()))
    })?;
    pb.finish_and_clear();
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
    if !e.quiet {
        eprintln!(
            "{} users written to {} ({} requests)",
            n,
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
/// (per team on Mattermost), then each group's members, paged. Default channels are
/// left out: every team member has them, and an import adds them anyway. `each_group`
/// is called once a group's members are read (progress).
pub fn read_memberships(target: &dyn UserApi, each_group: &mut dyn FnMut()) -> Result<Memberships> {
    let mut stats = CallStats::default();
    let fail = |what: &str, e: CallError| -> anyhow::Error {
        ExitError::new(exit::USAGE, format!("reading memberships ({what}): {e}")).into()
    };
    let teams = target
        .list_teams(&mut stats)
        .map_err(|e| fail("teams", e))?;
    let channels: Vec<Group> = target
        .list_channels(&teams, &mut stats)
        .map_err(|e| fail("channels", e))?
        .into_iter()
        .filter(|c| !c.default)
        .collect();
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

/// Pages through every user of the server, calling `each` in the server's order.
/// Returns how many were passed on.
fn export_all(
    target: &dyn UserApi,
    active_only: bool,
    each: &mut dyn FnMut(&User) -> Result<()>,
) -> Result<u64> {
    let mut stats = CallStats::default();
    let mut page = 0;
    let mut n = 0;
    loop {
        if crate::interrupt::requested() {
            break;
        }
        let p = target.list(page, &mut stats).map_err(|e| {
            ExitError::new(exit::USAGE, format!("listing users (page {page}): {e}"))
        })?;
        for u in &p.users {
            if active_only && u.active == Some(false) {
                continue;
            }
            each(u)?;
            n += 1;
        }
        if !p.more || p.users.is_empty() {
            break;
        }
        page += 1;
    }
    Ok(n)
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
        let m = read_memberships(&fake, &mut || groups_read += 1).unwrap();
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
