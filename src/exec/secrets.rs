//! The secrets `roster do` makes: the random passwords of `reset-password
//! --passwords-out FILE` and the tokens of `create-token --tokens-out FILE`. That file is
//! the only place they go: never the report, rejects, journal, dump, request log,
//! progress or a message.
//!
//! The file is CSV with a header: `username,password,confirmed`, or
//! `username,user_id,token_id,token` (Rocket.Chat has no token id: empty). `confirmed` is
//! `no` when the password's answer was lost for good: the account may have it (or keep its
//! old one), and a later line for it supersedes that one. It is created mode 0600 from the start (never
//! made private after being written), on the first secret to write, so a run that sets
//! none (a dry run, every row skipped) leaves no file. A file that exists is refused
//! before the run connects, unless `--resume` continues the run that wrote it: then lines
//! are appended (the rows done before keep theirs, which are never written again), and
//! a later line for an account supersedes an earlier one. The file is opened without
//! following a link, and a line a crash cut short is closed and padded to one cell more
//! than a whole line, so no later run takes it for a whole one. Usernames are written
//! formula-safe, as in every CSV roster writes; a secret is written verbatim (a `'` in
//! front would change it), and passwords never start with a formula character.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::csv_syntax::{neutralize_formula, restore_formula};
use crate::secret::Secret;

/// The environment variable holding the Rocket.Chat server's
/// `CREATE_TOKENS_FOR_USERS_SECRET`, which 8.x's users.createToken asks for (or
/// `ROSTER_CREATE_TOKENS_SECRET_FILE`, naming a file that holds it).
pub const CREATE_TOKENS_SECRET_VAR: &str = "ROSTER_CREATE_TOKENS_SECRET";

/// What a secrets file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    Passwords,
    Tokens,
}

impl SecretKind {
    fn header(self) -> &'static [&'static str] {
        match self {
            SecretKind::Passwords => &["username", "password", "confirmed"],
            SecretKind::Tokens => &["username", "user_id", "token_id", "token"],
        }
    }

    /// The column of the secret.
    fn secret_at(self) -> usize {
        match self {
            SecretKind::Passwords => 1,
            SecretKind::Tokens => 3,
        }
    }

    /// The option naming the file.
    pub fn option(self) -> &'static str {
        match self {
            SecretKind::Passwords => "--passwords-out",
            SecretKind::Tokens => "--tokens-out",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error(
        "{option} {path}: the file exists; roster writes secrets only to a new file (name another), or appends to the one its interrupted run wrote (--resume)"
    )]
    Exists { option: &'static str, path: String },
    #[error(
        "{option} {path}: others may read it (mode {mode:o}); make it private (chmod 600) or name a new file"
    )]
    Readable {
        option: &'static str,
        path: String,
        mode: u32,
    },
    #[error("{option} {path}: not a regular file (a link, a directory, ...): name the file itself")]
    NotAFile { option: &'static str, path: String },
    #[error("{option} {path}: not a file roster wrote (its first line is not {header:?})")]
    Foreign {
        option: &'static str,
        path: String,
        header: String,
    },
    #[error("{option} {path}: {source}")]
    Io {
        option: &'static str,
        path: String,
        source: io::Error,
    },
}

/// A secrets file, opened on its first line.
pub struct SecretOut {
    kind: SecretKind,
    path: PathBuf,
    resume: bool,
    file: Mutex<Option<File>>,
    /// The user ids (tokens) already in the file when a run resumes.
    held: HashSet<String>,
}

impl std::fmt::Debug for SecretOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretOut")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SecretOut {
    fn eq(&self, o: &SecretOut) -> bool {
        self.kind == o.kind && self.path == o.path
    }
}

impl Eq for SecretOut {}

impl SecretOut {
    /// Checks `path` before the run connects: a new file, or with `resume` one roster
    /// wrote and nobody else may read. Nothing is created yet.
    pub fn prepare(
        kind: SecretKind,
        path: &Path,
        resume: bool,
    ) -> Result<SecretOut, SecretFileError> {
        let option = kind.option();
        let shown = path.display().to_string();
        let io_err = |source| SecretFileError::Io {
            option,
            path: shown.clone(),
            source,
        };
        let mut held = HashSet::new();
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
            Ok(_) if !resume => {
                return Err(SecretFileError::Exists {
                    option,
                    path: shown,
                });
            }
            Ok(meta) if !meta.is_file() => {
                return Err(SecretFileError::NotAFile {
                    option,
                    path: shown,
                });
            }
            Ok(meta) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = meta.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        return Err(SecretFileError::Readable {
                            option,
                            path: shown,
                            mode,
                        });
                    }
                }
                #[cfg(not(unix))]
                let _ = meta;
                let text = std::fs::read_to_string(path).map_err(io_err)?;
                held = Self::user_ids(kind, &text).ok_or_else(|| SecretFileError::Foreign {
                    option,
                    path: shown.clone(),
                    header: kind.header().join(","),
                })?;
            }
        }
        Ok(SecretOut {
            kind,
            path: path.to_path_buf(),
            resume,
            file: Mutex::new(None),
            held,
        })
    }

    /// The user ids of a tokens file's whole lines (none for passwords); None when the
    /// header is not roster's. A line counts only when it has every field, a secret, and
    /// its line break: a crash may have cut the last line anywhere, even inside the token.
    /// Only the ids are kept, never the secrets.
    fn user_ids(kind: SecretKind, text: &str) -> Option<HashSet<String>> {
        fn reader(t: &str) -> csv::Reader<&[u8]> {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(t.as_bytes())
        }
        let header = kind.header();
        match reader(text).records().next() {
            None => return Some(HashSet::new()),
            Some(Ok(h)) if h.iter().eq(header.iter().copied()) => {}
            Some(_) => return None,
        }
        let mut ids = HashSet::new();
        if kind != SecretKind::Tokens {
            return Some(ids);
        }
        let whole = text.rfind('\n').map_or("", |i| &text[..=i]);
        for rec in reader(whole).records().skip(1).flatten() {
            let full = rec.len() == header.len()
                && rec.get(kind.secret_at()).is_some_and(|s| !s.is_empty());
            if let Some(id) = rec.get(1).filter(|id| full && !id.is_empty()) {
                ids.insert(restore_formula(id).into_owned());
            }
        }
        Some(ids)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file held a token for this user id when the run began.
    pub fn holds(&self, user_id: &str) -> bool {
        self.held.contains(user_id)
    }

    /// Appends one line (`cells`, the secret, then `after`) and makes it durable before
    /// returning: the caller reports the row done only then. The first call creates the
    /// file (mode 0600, refused if it appeared meanwhile) or, resuming, opens it for
    /// appending.
    pub fn write(&self, cells: &[&str], secret: &Secret, after: &[&str]) -> io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let Some(f) = guard.as_mut() else {
            return Err(io::Error::other("the file is not open"));
        };
        let mut line = String::new();
        for c in cells {
            push_cell(&mut line, c, true);
            line.push(',');
        }
        push_cell(&mut line, secret.expose(), false);
        for c in after {
            line.push(',');
            push_cell(&mut line, c, true);
        }
        line.push('\n');
        f.write_all(line.as_bytes())?;
        f.flush()?;
        f.sync_data()
    }

    fn open(&self) -> io::Result<File> {
        let mut o = OpenOptions::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // `prepare` looked at the path itself; a link put there since is not followed.
            o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        if self.resume {
            o.read(true).append(true).create(true);
        } else {
            o.write(true).create_new(true);
        }
        let mut f = o.open(&self.path)?;
        if !f.metadata()?.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let mut text = Vec::new();
        if self.resume {
            f.read_to_end(&mut text)?;
        }
        if text.is_empty() {
            let mut header = self.kind.header().join(",");
            header.push('\n');
            f.write_all(header.as_bytes())?;
        } else if let Some(cut) = text
            .rsplit(|b| *b == b'\n')
            .next()
            .filter(|t| !t.is_empty())
        {
            // A run killed mid-line left a cut line. It is kept, but closed (a quote cut
            // open would swallow the lines after it) and padded to one cell more than a
            // whole line has, so no later run takes it for one (`ann,Pw-cu` would
            // otherwise read as a password file's whole line with `confirmed` empty).
            let mut end = String::new();
            let (mut quoted, mut cells) = (false, 1usize);
            for b in cut {
                match b {
                    b'"' => quoted = !quoted,
                    b',' if !quoted => cells += 1,
                    _ => {}
                }
            }
            if quoted {
                end.push('"');
            }
            let whole = self.kind.header().len();
            for _ in cells..=whole {
                end.push(',');
            }
            end.push('\n');
            f.write_all(end.as_bytes())?;
        }
        Ok(f)
    }
}

/// One CSV cell: quoted when it holds a comma, a quote or a line break; `neutralize`:
/// formula-safe (a cell a spreadsheet would run gets a `'` in front, and quotes).
fn push_cell(line: &mut String, s: &str, neutralize: bool) {
    let s = if neutralize {
        neutralize_formula(s)
    } else {
        Cow::Borrowed(s)
    };
    let quote = matches!(s, Cow::Owned(_)) || s.contains([',', '"', '\r', '\n']);
    if quote {
        line.push('"');
        line.push_str(&s.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(&s);
    }
}

/// Characters of a generated password: no look-alikes (l, I, O, 0, 1), and symbols that
/// need no quoting in CSV or a shell's double quotes.
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";
const SYMBOLS: &[u8] = b"!#%*+-=?@^_~";
/// 24 characters of 69: about 146 bits.
pub const PASSWORD_LEN: usize = 24;

/// A new random password from the operating system's CSPRNG-seeded generator
/// (`rand::rng()`, ChaCha12): 24 characters with a lowercase and an uppercase letter, a
/// digit and a symbol, a letter first (never a formula in a spreadsheet) and no character
/// three times in a row, which meets both servers' policies at their strictest defaults
/// (Rocket.Chat's forbids 4 in a row; Mattermost allows up to 72 characters).
pub fn generate_password() -> Secret {
    use rand::Rng;
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut rng = rand::rng();
    loop {
        let p: Vec<u8> = (0..PASSWORD_LEN)
            .map(|_| all[rng.random_range(0..all.len())])
            .collect();
        if acceptable(&p) {
            return Secret::new(String::from_utf8_lossy(&p).into_owned());
        }
    }
}

fn acceptable(p: &[u8]) -> bool {
    let has = |set: &[u8]| p.iter().any(|c| set.contains(c));
    p.first().is_some_and(u8::is_ascii_alphabetic)
        && has(LOWER)
        && has(UPPER)
        && has(DIGITS)
        && has(SYMBOLS)
        && !p.windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_mixed_and_distinct() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = generate_password();
            let b = p.expose().as_bytes();
            assert_eq!(b.len(), PASSWORD_LEN);
            assert!(acceptable(b), "{}", p.expose());
            assert!(!p.expose().contains([',', '"', '\'', ' ', '\\', '$', '`']));
            assert!(seen.insert(p.expose().to_string()), "a repeat");
        }
        assert!(!acceptable(b"Abc1!aaa2222"), "three in a row");
        assert!(!acceptable(b"1bcdefgH!"), "a digit first");
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_file_is_made_private_on_its_first_line_and_only_resumed() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("tokens.csv");
        let out = SecretOut::prepare(SecretKind::Tokens, &path, false).unwrap();
        assert!(!path.exists(), "nothing written yet");
        out.write(&["-svc", "u1", "t1"], &Secret::new("-tok,en"), &[])
            .unwrap();
        out.write(&["bot", "u2", ""], &Secret::new("plain"), &[])
            .unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "username,user_id,token_id,token\n\"'-svc\",u1,t1,\"-tok,en\"\nbot,u2,,plain\n"
        );
        // Exists: refused, unless resumed; a resumed run knows the users done.
        assert!(matches!(
            SecretOut::prepare(SecretKind::Tokens, &path, false),
            Err(SecretFileError::Exists { .. })
        ));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"cut,u3")
            .unwrap();
        let again = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap();
        assert!(again.holds("u1") && again.holds("u2"));
        assert!(!again.holds("u3"), "a line cut short holds no token");
        assert!(!again.holds("svc"));
        again
            .write(&["cy", "u4", "t4"], &Secret::new("x"), &[])
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("cut,u3,,,\ncy,u4,t4,x\n"), "{text}");
        // Another kind of file, or one others may read: refused.
        assert!(matches!(
            SecretOut::prepare(SecretKind::Passwords, &path, true),
            Err(SecretFileError::Foreign { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap_err();
            assert!(e.to_string().contains("mode 644"), "{e}");
            let link = d.path().join("link.csv");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            assert!(matches!(
                SecretOut::prepare(SecretKind::Tokens, &link, true),
                Err(SecretFileError::NotAFile { .. })
            ));
        }
    }

    /// Lines as a crash may leave them: each field but cut inside the token, every field
    /// and no line break, cut inside a quoted cell, or a short one.
    #[test]
    fn only_whole_lines_hold_a_token_on_every_later_resume() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("tokens.csv");
        let whole = "username,user_id,token_id,token\nann,u1,t1,tok1\n";
        for (cut, closed) in [
            ("bob,u2,t2,to", "bob,u2,t2,to,\n"),
            ("bob,u2,t2,", "bob,u2,t2,,\n"),
            ("bob,u2,t2", "bob,u2,t2,,\n"),
            ("\"'-bob,u2", "\"'-bob,u2\",,,,\n"),
            ("bob,u2,,\"a,b", "bob,u2,,\"a,b\",\n"),
        ] {
            std::fs::write(&path, format!("{whole}{cut}")).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            let out = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap();
            assert!(out.holds("u1"), "{cut:?}");
            assert!(!out.holds("u2"), "{cut:?}: a cut line");
            out.write(&["cy", "u3", "t3"], &Secret::new("tok3"), &[])
                .unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, format!("{whole}{closed}cy,u3,t3,tok3\n"), "{cut:?}");
            // The run after that one still does not take the closed line for a whole one.
            let later = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap();
            assert!(later.holds("u1") && later.holds("u3"), "{cut:?}");
            assert!(!later.holds("u2"), "{cut:?}: {text}");
        }
        // A line with every field but no secret holds none either.
        std::fs::write(&path, format!("{whole}bob,u2,t2,\n")).unwrap();
        let out = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap();
        assert!(!out.holds("u2"));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_put_in_place_of_the_file_after_the_check_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("tokens.csv");
        let out = SecretOut::prepare(SecretKind::Tokens, &path, false).unwrap();
        out.write(&["ann", "u1", "t1"], &Secret::new("tok1"), &[])
            .unwrap();
        let elsewhere = d.path().join("elsewhere.csv");
        std::fs::write(&elsewhere, "username,user_id,token_id,token\n").unwrap();
        // Checked as roster's own, then swapped for a link before the first write.
        let resumed = SecretOut::prepare(SecretKind::Tokens, &path, true).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(
            resumed
                .write(&["bob", "u2", "t2"], &Secret::new("tok2"), &[])
                .is_err()
        );
        assert_eq!(
            std::fs::read_to_string(&elsewhere).unwrap(),
            "username,user_id,token_id,token\n",
            "written through the link"
        );
        // A new file's name taken by a link meanwhile: refused too.
        let fresh = d.path().join("new.csv");
        let new = SecretOut::prepare(SecretKind::Tokens, &fresh, false).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &fresh).unwrap();
        assert!(
            new.write(&["bob", "u2", "t2"], &Secret::new("tok2"), &[])
                .is_err()
        );
        assert!(
            !std::fs::read_to_string(&elsewhere)
                .unwrap()
                .contains("tok2")
        );
    }

    #[test]
    fn a_password_line_says_whether_the_server_confirmed_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("pw.csv");
        let out = SecretOut::prepare(SecretKind::Passwords, &path, false).unwrap();
        out.write(&["ann"], &Secret::new("Pw-one-1"), &["yes"])
            .unwrap();
        out.write(&["=bob"], &Secret::new("Pw-two-2"), &["no"])
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "username,password,confirmed\nann,Pw-one-1,yes\n\"'=bob\",Pw-two-2,no\n"
        );
        // A cut line is padded past the three cells of a whole one.
        std::fs::write(
            &path,
            "username,password,confirmed\nann,Pw-one-1,yes\nbob,Pw-cu",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let out = SecretOut::prepare(SecretKind::Passwords, &path, true).unwrap();
        out.write(&["cy"], &Secret::new("Pw-three-3"), &["yes"])
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "username,password,confirmed\nann,Pw-one-1,yes\nbob,Pw-cu,,\ncy,Pw-three-3,yes\n"
        );
        // A file of the two-column format is not this one.
        std::fs::write(&path, "username,password\nann,Pw-one-1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            SecretOut::prepare(SecretKind::Passwords, &path, true),
            Err(SecretFileError::Foreign { .. })
        ));
    }
}
