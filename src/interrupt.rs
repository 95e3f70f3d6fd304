//! Ctrl-C: stop taking rows, finish what is in flight, write every report, exit 130.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// How many [`nothing_written`] phases are running.
static NOTHING_WRITTEN: AtomicUsize = AtomicUsize::new(0);
/// How the handler's messages reach the terminal; see [`set_notice`].
static NOTICE: OnceLock<fn(&str, bool)> = OnceLock::new();

/// Installs the handler once. A second Ctrl-C exits at once (the user means it).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            exit_now("");
        }
        if NOTHING_WRITTEN.load(Ordering::SeqCst) > 0 {
            exit_now("roster: interrupted; nothing was written");
        }
        notice(
            "roster: interrupted; finishing rows in flight and writing reports (Ctrl-C again to quit now)",
            false,
        );
    });
}

/// Sets how the handler prints while progress bars may be on screen (the layer that
/// draws them sets it): `f(message, exiting)` must clear them for good when `exiting`
/// (the process ends at once: no destructor runs), and set them aside otherwise.
pub fn set_notice(f: fn(&str, bool)) {
    let _ = NOTICE.set(f);
}

fn notice(msg: &str, exiting: bool) {
    match NOTICE.get() {
        Some(f) => f(msg, exiting),
        // The terminal's `^C` ends the current line.
        None if !msg.is_empty() => eprintln!("\n{msg}"),
        None => {}
    }
}

fn exit_now(msg: &str) -> ! {
    notice(msg, true);
    std::process::exit(crate::exit::INTERRUPTED);
}

/// Runs `f`, a phase that writes nothing (no report, no server change: connecting,
/// logging in, reading the source), during which Ctrl-C exits 130 at once. The network
/// calls of such a phase (an LDAP bind or search, ldap3's blocking API) can hang for
/// minutes and cannot be cut short from outside; exiting is safe because there is
/// nothing to finish or record.
pub fn nothing_written<T>(f: impl FnOnce() -> T) -> T {
    struct Phase;
    impl Drop for Phase {
        fn drop(&mut self) {
            NOTHING_WRITTEN.fetch_sub(1, Ordering::SeqCst);
        }
    }
    NOTHING_WRITTEN.fetch_add(1, Ordering::SeqCst);
    let _phase = Phase;
    // Ctrl-C just before the phase began was not acted on: act now.
    if requested() {
        exit_now("roster: interrupted; nothing was written");
    }
    f()
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// For tests and embedders: ask the running job to stop as Ctrl-C would.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Longest nap of an interruptible wait: Ctrl-C is noticed within this.
const NAP: std::time::Duration = std::time::Duration::from_millis(100);

/// Sleeps for `d` in short naps; returns `false` (early) when Ctrl-C was pressed, so
/// long waits (rate limits, backoff) never hold a stopping run.
pub fn sleep(d: std::time::Duration) -> bool {
    let end = std::time::Instant::now() + d;
    loop {
        if requested() {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(NAP));
    }
}
