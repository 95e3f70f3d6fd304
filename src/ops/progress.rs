//! Progress on a terminal: a spinner with a row count, which becomes a bar with an ETA
//! once the source's rows are counted. Hidden with `--quiet`, when stderr is not a
//! terminal, or when `--log -` writes there.
//!
//! What it shows: `rate` is rows per second over the last seconds (indicatif's smoothed
//! estimate), with one decimal; `ETA` is the rows left at the slower of the run's average
//! rate and the rate the servers' limits allow (each limited bucket's calls per second,
//! times the rows one call served so far, from the pacer): a Rocket.Chat window lets a
//! burst through at full speed and then waits for its end, and the average alone would
//! promise the burst's speed. Durations read `45s`, `3m 15s`, `2h 5m`.
//!
//! Every bar is cleared on every way out: when its [`Progress`] is dropped (an error
//! returned with `?` included), and by the Ctrl-C handler before it exits (see
//! [`crate::interrupt::set_notice`]), so no stale line is left above the next output.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use console::Term;
use indicatif::{
    ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike, WeakProgressBar,
};

use crate::client::concurrency::Concurrency;
use crate::client::pacer::{Budget, Pacer};

/// A progress display, cleared when dropped.
pub(crate) struct Progress {
    bar: Bar,
}

/// A handle on a [`Progress`] for other threads: it does not clear the display.
#[derive(Clone)]
pub(crate) struct Bar {
    pb: ProgressBar,
    meter: Arc<Meter>,
}

/// What the ETA is computed from besides the bar's own state.
struct Meter {
    /// Rows done before this run (`--resume`): not part of its rate.
    base: u64,
    pacer: Option<Arc<Pacer>>,
}

/// A spinner with a row count and rate on a terminal; hidden otherwise (see the module).
pub(crate) fn progress(quiet: bool, what: &str) -> Progress {
    progress_from(quiet, what, 0, None)
}

/// A progress display starting at `start` rows (those a resumed run already did), whose
/// ETA counts the waits `pacer`'s limits impose.
pub(crate) fn progress_from(
    quiet: bool,
    what: &str,
    start: u64,
    pacer: Option<Arc<Pacer>>,
) -> Progress {
    let meter = Arc::new(Meter { base: start, pacer });
    // Not under `--log -` either: its request lines on stderr would be cut by redraws.
    if quiet || !std::io::stderr().is_terminal() || crate::client::request_log::on_stderr() {
        return Progress {
            bar: Bar {
                pb: ProgressBar::hidden(),
                meter,
            },
        };
    }
    let pb = ProgressBar::with_draw_target(
        None,
        ProgressDrawTarget::term_like_with_hz(Box::new(Stderr(Term::buffered_stderr())), 20),
    );
    if start > 0 {
        pb.set_position(start);
        // A tick before the steady ticker starts records `start` in indicatif's estimator,
        // and the reset drops it: the rows done before are not read as this run's speed.
        pb.tick();
        pb.reset_eta();
    }
    pb.set_style(styled(
        "{spinner} {pos} {msg} ({rate}, elapsed {elapsed})",
        &meter,
    ));
    pb.set_message(what.to_string());
    register(&pb);
    pb.enable_steady_tick(Duration::from_millis(120));
    Progress {
        bar: Bar { pb, meter },
    }
}

impl Progress {
    /// A handle for another thread (a row counter, a status ticker).
    pub fn bar(&self) -> Bar {
        self.bar.clone()
    }
}

impl std::ops::Deref for Progress {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.bar.pb
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.pb.finish_and_clear();
    }
}

impl Bar {
    /// Once the total is known, the spinner becomes a bar with an ETA.
    pub fn set_total(&self, total: u64) {
        let pb = &self.pb;
        if pb.is_hidden() || pb.is_finished() {
            return;
        }
        pb.set_style(styled(
            "{bar:30} {pos}/{len} {msg} ({rate}, ETA {eta}, elapsed {elapsed})",
            &self.meter,
        ));
        pb.set_length(total);
    }

    pub fn set_message(&self, msg: String) {
        self.pb.set_message(msg);
    }
}

/// The message after the count: `what`, the requests allowed in flight now (adaptive
/// concurrency moves it), and the rate-limit wait, if any (whole seconds rounded up: "0s" would read as
/// no wait at all).
pub(crate) fn status(what: &str, pacer: &Pacer, concurrency: &Concurrency) -> String {
    let flight = format!("{what}; concurrency {}", concurrency.limit());
    match pacer.waiting().first() {
        Some(w) => {
            let left = w.until.saturating_duration_since(std::time::Instant::now());
            format!(
                "{flight}; waiting for rate limit on {} ({})",
                w.bucket,
                duration(Duration::from_secs(left.as_secs() + 1))
            )
        }
        None => flight,
    }
}

/// stderr as the bars see it: two columns narrower than the terminal. indicatif pads
/// each line to the right edge, where the `^C` a terminal echoes wraps onto a new line;
/// clearing "the bar's line" then clears that one and leaves the bar drawn above it. Two
/// spare columns keep the echo on the bar's line, which the next clear wipes.
#[derive(Debug)]
struct Stderr(Term);

impl TermLike for Stderr {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(2).max(20)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn styled(template: &str, meter: &Arc<Meter>) -> ProgressStyle {
    let m = meter.clone();
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate(s.per_sec()));
        })
        .with_key(
            "elapsed",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&duration(s.elapsed()));
            },
        )
        .with_key(
            "eta",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let left = s.len().unwrap_or(0).saturating_sub(s.pos());
                let done = s.pos().saturating_sub(m.base);
                let budgets = m.pacer.as_ref().map(|p| p.budgets()).unwrap_or_default();
                let _ = match eta(left, done, s.elapsed(), &budgets) {
                    Some(d) => w.write_str(&duration(d)),
                    None => w.write_char('?'),
                };
            },
        )
}

/// `9.8/s`: rows per second, one decimal.
fn rate(per_sec: f64) -> String {
    let r = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec
    } else {
        0.0
    };
    format!("{r:.1}/s")
}

/// `45s`, `3m 15s`, `2h 5m`, `3d 4h`: the two largest units, whole seconds.
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{m}m {}s", s % 60),
        3_600..86_400 => format!("{h}h {}m", m % 60),
        _ => format!("{days}d {}h", h % 24),
    }
}

/// Time left for `left` rows, after `done` rows in `elapsed`: at the run's average rate,
/// or slower where a limited bucket cannot take its share of calls faster (each row
/// makes `calls / done` calls on it). `None` before the first row.
fn eta(left: u64, done: u64, elapsed: Duration, budgets: &[Budget]) -> Option<Duration> {
    if done == 0 || elapsed.is_zero() {
        return None;
    }
    let mut per_sec = done as f64 / elapsed.as_secs_f64();
    for b in budgets.iter().filter(|b| b.calls > 0) {
        per_sec = per_sec.min(b.per_sec * done as f64 / b.calls as f64);
    }
    (per_sec > 0.0).then(|| Duration::from_secs_f64((left as f64 / per_sec).min(1e9)))
}

/// The bars on screen, for the Ctrl-C handler.
static LIVE: Mutex<Vec<WeakProgressBar>> = Mutex::new(Vec::new());

fn register(pb: &ProgressBar) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.upgrade().is_some_and(|b| !b.is_finished()));
    live.push(pb.downgrade());
    crate::interrupt::set_notice(notice);
}

/// How the Ctrl-C handler speaks while a bar may be drawn: the bars are cleared for good
/// when the process is about to exit, or set aside while the line is printed.
fn notice(msg: &str, exiting: bool) {
    let live: Vec<ProgressBar> = LIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(WeakProgressBar::upgrade)
        .filter(|b| !b.is_finished())
        .collect();
    let say = |on_bar_line: bool| {
        if !msg.is_empty() {
            // Without a bar the terminal's `^C` ends the current line.
            eprintln!("{}{msg}", if on_bar_line { "" } else { "\n" });
        }
    };
    match live.first() {
        None => say(false),
        Some(_) if exiting => {
            for b in &live {
                b.finish_and_clear();
            }
            say(true);
        }
        Some(b) => b.suspend(|| say(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_read_as_people_write_them() {
        assert_eq!(rate(9.8123), "9.8/s");
        assert_eq!(rate(0.04), "0.0/s");
        assert_eq!(rate(f64::NAN), "0.0/s");
        assert_eq!(rate(1234.56), "1234.6/s");
        let s = Duration::from_secs;
        assert_eq!(duration(s(0)), "0s");
        assert_eq!(duration(Duration::from_millis(12_400)), "12s");
        assert_eq!(duration(s(59)), "59s");
        assert_eq!(duration(s(195)), "3m 15s");
        assert_eq!(duration(s(3_600)), "1h 0m");
        assert_eq!(duration(s(7_500)), "2h 5m");
        assert_eq!(duration(s(3 * 86_400 + 4 * 3_600 + 59)), "3d 4h");
    }

    #[test]
    fn the_eta_counts_the_waits_the_limits_impose() {
        let s = Duration::from_secs;
        assert_eq!(eta(100, 0, s(5), &[]), None, "no row done yet");
        // 50 rows in 10 s, 100 left: 20 s at the average rate.
        assert_eq!(eta(100, 50, s(10), &[]), Some(s(20)));
        let budget = |calls, per_sec| Budget {
            bucket: "users.create".into(),
            calls,
            per_sec,
        };
        // A burst: 50 rows (50 calls) in 1 s through a bucket allowed 10 calls per 60 s.
        let limited = [budget(50, 10.0 / 60.0)];
        assert_eq!(eta(100, 50, s(1), &limited), Some(s(600)));
        // Two calls per row on a bucket allowed 5/s: 2.5 rows/s at most.
        assert_eq!(eta(100, 50, s(1), &[budget(100, 5.0)]), Some(s(40)));
        // A limit the run stays under changes nothing; a bucket not used yet neither.
        assert_eq!(
            eta(100, 50, s(10), &[budget(50, 100.0), budget(0, 0.1)]),
            Some(s(20))
        );
    }
}
