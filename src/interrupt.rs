//! Ctrl-C: stop taking rows, finish what is in flight, write every report, exit 130.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once. A second Ctrl-C exits at once (the user means it).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(crate::cli::exit::INTERRUPTED);
        }
        eprintln!(
            "\nroster: interrupted; finishing rows in flight and writing reports (Ctrl-C again to quit now)"
        );
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// For tests and embedders: ask the running job to stop as Ctrl-C would.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
