//! Progress on a terminal, through the binary on a pseudo-terminal (the bar is drawn only
//! there): rates with one decimal, `ETA 3m 15s` counting the waits a rate limit imposes,
//! `elapsed` labelled, `--resume` counting from the rows already done, and no bar left on
//! the screen however the run ends (done, Ctrl-C once or twice, an error, a refusal).

use std::path::Path;
use std::time::Duration;

use crate::support::pty::{self, Drawn};
use crate::support::{
    BIN, Ran, as_importer, config, roster, seed_people, start, synced, tmp, users_csv, write,
};
use roster_sandbox::SandboxConfig;

fn on_terminal(dir: &Path, args: &[&str]) -> pty::Terminal {
    pty::spawn(Path::new(BIN), dir, args, &as_importer())
}

/// A progress line: `{bar} POS/LEN what (RATE, ETA D, elapsed D)` or, before the rows are
/// counted, `{spinner} POS what (RATE, elapsed D)`.
#[derive(Debug)]
struct Line {
    pos: u64,
    len: Option<u64>,
    rate: String,
    eta: Option<String>,
    elapsed: String,
}

/// The progress lines among what was drawn (`what`: `rows`, `users converted`, …).
fn progress_lines(d: &Drawn, what: &str) -> Vec<Line> {
    d.frames().iter().filter_map(|f| parse(f, what)).collect()
}

fn parse(frame: &str, what: &str) -> Option<Line> {
    let (head, tail) = frame.rsplit_once(" (")?;
    let fields: Vec<&str> = tail.strip_suffix(')')?.split(", ").collect();
    let count = head.split(&format!(" {what}")).next()?.rsplit(' ').next()?;
    let (pos, len) = match count.split_once('/') {
        Some((p, l)) => (p.parse().ok()?, Some(l.parse().ok()?)),
        None => (count.parse().ok()?, None),
    };
    let (rate, eta, elapsed) = match fields.as_slice() {
        [r, e, el] => (r, Some(e.strip_prefix("ETA ")?.to_string()), el),
        [r, el] => (r, None, el),
        _ => return None,
    };
    Some(Line {
        pos,
        len,
        rate: rate.to_string(),
        eta,
        elapsed: elapsed.strip_prefix("elapsed ")?.to_string(),
    })
}

/// `9.8/s`.
fn is_rate(s: &str) -> bool {
    s.strip_suffix("/s")
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(i, d)| {
            !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && d.len() == 1
        })
}

/// `45s`, `3m 15s`, `2h 5m`, `1d 2h`, in seconds.
fn seconds(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split(' ').collect();
    if parts.is_empty() || parts.len() > 2 {
        return None;
    }
    let mut total = 0;
    let mut last = u64::MAX;
    for p in parts {
        let unit = match p.chars().last()? {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if unit >= last {
            return None;
        }
        last = unit;
        total += p[..p.len() - 1].parse::<u64>().ok()? * unit;
    }
    Some(total)
}

/// No progress line is left on the screen.
fn assert_no_bar_left(d: &Drawn, what: &str) {
    let screen = d.screen();
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("elapsed ") || l.contains("ETA ") || parse(l, what).is_some()),
        "a progress line was left:\n{screen}"
    );
}

#[test]
fn a_rate_limited_import_shows_rates_an_eta_with_the_waits_and_clears_its_bar() {
    // 10 calls per second per route; each row looks up, then creates: 10 rows/s at most,
    // though the start of each window lets 10 rows through at once.
    let sb = start(SandboxConfig {
        rate_limit: Some(true),
        rc_limit_calls: 10,
        rc_limit_window_ms: 1000,
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users_csv(40));
    let url = sb.url();
    let t = on_terminal(
        d.path(),
        &["import", "u.csv", "--server", &url, "--workers", "4"],
    );
    let drawn = t.finish();
    assert_eq!(drawn.code, 0, "{}", drawn.screen());
    let lines = progress_lines(&drawn, "rows");
    assert!(
        lines.iter().any(|l| l.len == Some(40)),
        "{:?}",
        drawn.frames()
    );
    // The requests allowed in flight now (at most --workers).
    assert!(
        drawn
            .frames()
            .iter()
            .any(|f| f.contains(" rows; concurrency 4") || f.contains(" rows; concurrency 3")),
        "{:?}",
        drawn.frames()
    );
    for l in &lines {
        assert!(is_rate(&l.rate), "{l:?}");
        assert!(seconds(&l.elapsed).is_some(), "{l:?}");
        match &l.eta {
            Some(e) if l.pos > 0 => assert!(seconds(e).is_some(), "{l:?}"),
            Some(e) => assert!(e == "?" || seconds(e).is_some(), "{l:?}"),
            None => assert!(l.len.is_none(), "{l:?}"),
        }
    }
    // After the first window's burst (10 rows in a fraction of a second) the average rate
    // promises the rest at once; the limit says 3 more windows.
    let burst = lines
        .iter()
        .find(|l| l.len == Some(40) && (10..30).contains(&l.pos))
        .expect("a line between windows");
    let eta = burst.eta.as_deref().and_then(seconds).unwrap_or(0);
    assert!(eta >= 2, "the ETA counts the waits: {burst:?}");

    let screen = drawn.screen();
    assert!(screen.contains("40 rows: 40 ok"), "{screen}");
    assert_no_bar_left(&drawn, "rows");
}

#[test]
fn resume_counts_from_the_rows_the_journal_holds() {
    let sb = start(SandboxConfig {
        rate_limit: Some(false),
        ..config()
    });
    let d = tmp();
    write(d.path(), "u.csv", &users_csv(30));
    let url = sb.url();
    let args = ["import", "u.csv", "--server", &url, "--report", "r.jsonl"];
    let o = roster(d.path(), &args, &as_importer());
    assert_eq!(o.code(), 0, "{}", o.stderr());
    // As if the run had been cut after 12 rows.
    let journal = d.path().join("r.jsonl.journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut kept = String::new();
    let mut done = 0;
    for line in text.lines() {
        if done == 12 {
            break;
        }
        done += usize::from(line.contains("\"entry\""));
        kept.push_str(line);
        kept.push('\n');
    }
    std::fs::write(&journal, kept).unwrap();

    // Slow answers: the 18 rows left take a while, and the bar is drawn meanwhile. Enough
    // users on the server that each row is looked up (a request each) rather than listed.
    seed_people(&sb, 2000, |_| true);
    sb.set_latency(40, 0);
    let mut resume = args.to_vec();
    resume.extend(["--resume", "--workers", "1"]);
    let drawn = on_terminal(d.path(), &resume).finish();
    assert_eq!(drawn.code, 0, "{}", drawn.screen());
    assert!(
        drawn.screen().contains("resuming: 12 rows already done"),
        "{}",
        drawn.screen()
    );
    let lines = progress_lines(&drawn, "rows");
    assert!(!lines.is_empty(), "{:?}", drawn.frames());
    assert!(
        lines.iter().all(|l| l.pos >= 12),
        "the count starts at the rows done: {lines:?}"
    );
    assert!(lines.iter().any(|l| l.len == Some(30)), "{lines:?}");
    // The 12 rows of the journal are not this run's speed: one worker, 40 ms a request.
    for l in &lines {
        let r: f64 = l.rate.trim_end_matches("/s").parse().unwrap();
        assert!(r < 60.0, "{l:?}");
    }
    assert_no_bar_left(&drawn, "rows");
}

#[test]
fn ctrl_c_once_or_twice_leaves_no_bar() {
    for twice in [false, true] {
        let sb = start(SandboxConfig {
            rate_limit: Some(false),
            // Slow enough that the rows in flight outlast the second ^C.
            latency_ms: if twice { 1500 } else { 200 },
            ..config()
        });
        let d = tmp();
        write(d.path(), "u.csv", &users_csv(20));
        let url = sb.url();
        let t = on_terminal(
            d.path(),
            &["import", "u.csv", "--server", &url, "--workers", "1"],
        );
        assert!(
            t.wait_for(" rows (", Duration::from_secs(30)),
            "{}",
            t.text()
        );
        t.ctrl_c();
        if twice {
            assert!(
                t.wait_for("Ctrl-C again", Duration::from_secs(10)),
                "{}",
                t.text()
            );
            t.ctrl_c();
        }
        let drawn = t.finish();
        let screen = drawn.screen();
        assert_eq!(drawn.code, 130, "{screen}");
        assert!(
            screen.contains("roster: interrupted; finishing rows in flight"),
            "{screen}"
        );
        if !twice {
            assert!(screen.contains("stopped early: interrupted"), "{screen}");
        }
        assert_no_bar_left(&drawn, "rows");
    }
}

#[test]
fn an_error_or_a_refusal_leaves_no_bar() {
    // A write that fails halfway: the command returns an error with its spinner running.
    let d = tmp();
    let mut csv = String::from("username,email,name\n");
    for i in 0..200_000 {
        csv.push_str(&format!("u{i},u{i}@example.org,User {i}\n"));
    }
    write(d.path(), "big.csv", &csv);
    // The error comes at the first flush: on a busy machine that may be before the first
    // draw, which leaves nothing to check; a few tries make sure one run drew.
    let mut drew = false;
    for _ in 0..3 {
        let drawn = on_terminal(
            d.path(),
            &["convert", "big.csv", "/dev/full", "--to", "jsonl"],
        )
        .finish();
        assert_eq!(drawn.code, 2, "{}", drawn.screen());
        assert!(
            drawn.screen().contains("No space left on device"),
            "{}",
            drawn.screen()
        );
        assert_no_bar_left(&drawn, "users converted");
        drew = !progress_lines(&drawn, "users converted").is_empty();
        if drew {
            break;
        }
    }
    assert!(drew, "the spinner never ran before the error");

    // A sync the guard refuses: 15 of 20 users would go.
    let (sb, d) = synced(20);
    std::fs::write(d.path().join("hr.csv"), users_csv(5)).unwrap();
    let url = sb.url();
    let drawn = on_terminal(
        d.path(),
        &[
            "sync",
            "hr.csv",
            "--server",
            &url,
            "--state",
            "state.jsonl",
            "--deactivate-missing",
        ],
    )
    .finish();
    assert_eq!(drawn.code, 4, "{}", drawn.screen());
    assert!(drawn.screen().contains("refused"), "{}", drawn.screen());
    assert_no_bar_left(&drawn, "rows planned");
    assert_no_bar_left(&drawn, "server users read");
}
