//! Ctrl-C: stop taking rows, finish what is in flight, write every report, exit 130.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
/// How many [`nothing_written`] phases are running.
static NOTHING_WRITTEN: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler once. A second Ctrl-C exits at once (the user means it).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(crate::exit::INTERRUPTED);
        }
        if NOTHING_WRITTEN.load(Ordering::SeqCst) > 0 {
            eprintln!("\nroster: interrupted; nothing was written");
            std::process::exit(crate::exit::INTERRUPTED);
        }
        eprintln!(
            "\nroster: interrupted; finishing rows in flight and writing reports (Ctrl-C again to quit now)"
        );
    });
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
        eprintln!("roster: interrupted; nothing was written");
        std::process::exit(crate::exit::INTERRUPTED);
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
