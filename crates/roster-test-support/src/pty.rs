//! Runs a program on a pseudo-terminal, as a person at a terminal runs it: progress bars
//! are drawn only there. What it drew can be read frame by frame ([`Drawn::frames`]) or
//! as the screen it left ([`Drawn::screen`], replayed by vt100).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pty_process::blocking::{Command, Pty};

/// The terminal's size: wide enough for a whole progress line.
pub const ROWS: u16 = 60;
pub const COLS: u16 = 200;

/// A program running on a pseudo-terminal.
pub struct Terminal {
    pty: Arc<Pty>,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

/// Starts `bin` in `dir` on a new pseudo-terminal (its stdin, stdout and stderr, and its
/// controlling terminal, so ^C reaches it as SIGINT), with only the given ROSTER_*
/// credentials set.
pub fn spawn(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Terminal {
    let (pty, pts) = pty_process::blocking::open().expect("a pseudo-terminal");
    pty.resize(pty_process::Size::new(ROWS, COLS))
        .expect("terminal size");
    let mut cmd = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR");
    for k in [
        "ROSTER_TOKEN",
        "ROSTER_USER_ID",
        "ROSTER_USERNAME",
        "ROSTER_PASSWORD",
        "ROSTER_PASSWORD_FILE",
    ] {
        cmd = cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let child = cmd.spawn(pts).expect("spawn on the terminal");
    let pty = Arc::new(pty);
    let output = Arc::new(Mutex::new(Vec::new()));
    let (p, out) = (pty.clone(), output.clone());
    // Read all along: a terminal nobody reads stops its writer once its buffer is full.
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // Ends with EIO once the program and all its descendants closed the terminal.
        while let Ok(n) = (&*p).read(&mut buf) {
            if n == 0 {
                break;
            }
            out.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buf[..n]);
        }
    });
    Terminal {
        pty,
        child,
        output,
        reader: Some(reader),
    }
}

impl Terminal {
    /// What it drew so far, escape sequences removed.
    pub fn text(&self) -> String {
        strip_ansi(&self.output.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits (up to `timeout`) until the text drawn contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Types ^C: the terminal sends SIGINT to the program.
    pub fn ctrl_c(&self) {
        (&*self.pty)
            .write_all(b"\x03")
            .expect("write to the terminal");
    }

    /// Waits (up to 60 s) for the program to exit and for the last of its output.
    pub fn finish(mut self) -> Drawn {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let raw = std::mem::take(&mut *self.output.lock().unwrap_or_else(|e| e.into_inner()));
        Drawn {
            code: status.code().unwrap_or(-1),
            raw,
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished program drew.
pub struct Drawn {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// The bytes written to the terminal, escape sequences included.
    pub raw: Vec<u8>,
}

impl Drawn {
    /// The screen it left, as a person sees it: one line per row, trailing blanks cut.
    pub fn screen(&self) -> String {
        let size = |n| std::num::NonZeroU16::new(n).expect("a terminal size");
        let mut p = vt100::Parser::new(size(ROWS), size(COLS), 0);
        p.process(&self.raw);
        p.screen().contents()
    }

    /// Every line it drew, in order, escape sequences removed: a progress bar redraws
    /// its line after a carriage return, so each redraw is one frame here.
    pub fn frames(&self) -> Vec<String> {
        strip_ansi(&self.raw)
            .split(['\r', '\n'])
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// `bytes` as text without terminal escape sequences (CSI `ESC [ … final`, and
/// two-byte `ESC x`).
pub fn strip_ansi(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // A two-byte sequence ends with its second character.
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_removed() {
        assert_eq!(strip_ansi(b"\r\x1b[2Kab\x1b[1;32mc\x1b[0m\x1b7d"), "\rabcd");
    }
}
