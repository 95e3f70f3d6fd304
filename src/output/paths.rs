//! Files a command reads and writes, checked before anything is created: an output that is
//! an input (`--rejects users.csv` on `users.csv` would leave the source empty) or another
//! output is refused, and an output path that is a symlink is written through with a
//! warning naming where it points.
//!
//! Two paths are the same file when they resolve to the same place: for a file that
//! exists, its canonical path (symlinks and `..` resolved) or the same device and inode
//! (hard links); for one that does not exist yet, its canonical folder plus its name.
//! `-` (stdin, stdout) and LDAP URLs are not files and are left out.

use std::path::{Path, PathBuf};

/// Two of a command's files are the same file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SameFile(pub String);

struct Entry {
    /// How messages name it: `--report`, `SOURCE`, `--state`.
    what: String,
    path: PathBuf,
    read: bool,
    write: bool,
}

/// The files of one command run.
#[derive(Default)]
pub struct Files {
    entries: Vec<Entry>,
}

impl Files {
    pub fn new() -> Files {
        Files::default()
    }

    fn add(mut self, what: &str, p: Option<&Path>, read: bool, write: bool) -> Files {
        if let Some(p) = p.filter(|p| !p.as_os_str().is_empty() && p.as_os_str() != "-") {
            self.entries.push(Entry {
                what: what.to_string(),
                path: p.to_path_buf(),
                read,
                write,
            });
        }
        self
    }

    /// A file the command reads.
    pub fn read(self, what: &str, p: Option<&Path>) -> Files {
        self.add(what, p, true, false)
    }

    /// A file the command creates or truncates.
    pub fn write(self, what: &str, p: Option<&Path>) -> Files {
        self.add(what, p, false, true)
    }

    /// A file read, then written over (sync's `--state`): only another file naming it clashes.
    pub fn read_write(self, what: &str, p: Option<&Path>) -> Files {
        self.add(what, p, true, true)
    }

    /// A file named by an environment variable, read (`ROSTER_PASSWORD_FILE`).
    pub fn env(self, var: &str) -> Files {
        let p = std::env::var_os(var).map(PathBuf::from);
        self.read(var, p.as_deref())
    }

    /// The source: a path, `-` or an LDAP URL (not a file).
    pub fn source(self, spec: &str) -> Files {
        let url = spec
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().starts_with("ldap"));
        if url {
            return self;
        }
        self.read("SOURCE", Some(Path::new(spec)))
    }

    /// `--report`, its journal (`REPORT.journal`) and `--rejects`.
    pub fn reports(
        self,
        report: Option<&Path>,
        journal: Option<&Path>,
        rejects: Option<&Path>,
    ) -> Files {
        self.write("--report", report)
            .write("the report's journal", journal)
            .write("--rejects", rejects)
    }

    /// Refuses when an output is an input or another output; otherwise the warnings to
    /// show (outputs that are symlinks).
    pub fn check(&self) -> Result<Vec<String>, SameFile> {
        let ids: Vec<Identity> = self.entries.iter().map(|e| identity(&e.path)).collect();
        for (i, a) in self.entries.iter().enumerate() {
            for (j, b) in self.entries.iter().enumerate().skip(i + 1) {
                if !(a.write || b.write) || !ids[i].same(&ids[j]) {
                    continue;
                }
                let (out, other) = if a.write { (a, b) } else { (b, a) };
                return Err(SameFile(if other.write && !other.read {
                    format!(
                        "{} {} and {} {} are the same file; give each its own (nothing was done)",
                        out.what,
                        out.path.display(),
                        other.what,
                        other.path.display()
                    )
                } else {
                    format!(
                        "{} {} is the same file as {} {}, which roster reads: writing it would destroy it (nothing was done)",
                        out.what,
                        out.path.display(),
                        other.what,
                        other.path.display()
                    )
                }));
            }
        }
        Ok(self
            .entries
            .iter()
            .filter(|e| e.write)
            .filter_map(|e| {
                let meta = std::fs::symlink_metadata(&e.path).ok()?;
                if !meta.file_type().is_symlink() {
                    return None;
                }
                let to = std::fs::canonicalize(&e.path)
                    .or_else(|_| std::fs::read_link(&e.path))
                    .ok()?;
                Some(format!(
                    "{} {} is a symlink to {}; writing there",
                    e.what,
                    e.path.display(),
                    to.display()
                ))
            })
            .collect())
    }

    /// [`Files::check`], printing the warnings on stderr.
    pub fn guard(&self) -> Result<(), SameFile> {
        for w in self.check()? {
            eprintln!("roster: warning: {w}");
        }
        Ok(())
    }
}

/// Where a path leads, as far as it can be told.
struct Identity {
    path: PathBuf,
    /// Device and inode of an existing file.
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn same(&self, o: &Identity) -> bool {
        self.path == o.path || (self.inode.is_some() && self.inode == o.inode)
    }
}

fn identity(p: &Path) -> Identity {
    if let Ok(real) = std::fs::canonicalize(p) {
        return Identity {
            inode: inode(&real),
            path: real,
        };
    }
    // Not there yet (or a dangling symlink: where it points is where the file will be).
    let target = match std::fs::read_link(p) {
        Ok(t) if t.is_relative() => p.parent().unwrap_or(Path::new("")).join(t),
        Ok(t) => t,
        Err(_) => p.to_path_buf(),
    };
    let parent = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let path = match (std::fs::canonicalize(&parent), target.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(&target).unwrap_or(target),
    };
    Identity { path, inode: None }
}

#[cfg(unix)]
fn inode(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_: &Path) -> Option<(u64, u64)> {
    None
}
