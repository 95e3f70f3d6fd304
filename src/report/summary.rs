//! The run summary: counts by action and status, rejections by reason, timings.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{Action, ReportEntry, Status};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Input rows read (every row counts once, good or bad).
    pub rows: u64,
    pub ok: u64,
    pub rejected: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Counts by action among rows that reached a decision (`create`, `update`, ...).
    pub actions: BTreeMap<&'static str, u64>,
    /// Rejections and failures grouped by reason (field: reason, values elided).
    pub reasons: BTreeMap<String, u64>,
    /// Requests made to the server.
    pub requests: u64,
    /// 429 answers received. A request re-sent after a 429 is counted here, not in
    /// `retries` (the server refused it before doing anything).
    pub rate_limited: u64,
    /// Requests re-sent after a 5xx, a timeout or a dropped connection: retried
    /// idempotent requests and creates re-sent after an ambiguous failure. Every re-sent
    /// request counts once.
    pub retries: u64,
    pub elapsed_seconds: f64,
    pub warnings: Vec<String>,
    /// Set when the run stopped early (interrupted, source error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Rejected or failed rows, new and known from the last sync (sync with `--state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<KnownProblems>,
    /// `sync --adopt`: the accounts written to the ledger (nothing to the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted: Option<Adopted>,
    /// Team and channel memberships added (in a dry run: to add), and the requests that
    /// added them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<MembershipCounts>,
}

/// Memberships a run added, and what they cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MembershipCounts {
    pub added: u64,
    pub requests: u64,
}

/// `--fail-on`: which row problems make a sync exit 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any rejected or failed row.
    #[default]
    Any,
    /// Only problems the last sync (the --state ledger) did not have: a cron job alerts
    /// on what is new, not on the same bad HR rows every night.
    New,
}

/// Rejected or failed rows, told apart by whether the last sync had them too (`--fail-on
/// new`, remembered in the `--state` ledger).
#[derive(Clone, Debug, Default, Serialize)]
pub struct KnownProblems {
    /// Rows with a problem the last sync did not have.
    pub new: u64,
    /// Rows with the same problem as last time.
    pub known: u64,
}

/// What `sync --adopt` put in the ledger.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Adopted {
    pub ledger: String,
    /// Server accounts the source matched, now in the ledger.
    pub accounts: u64,
    /// Of those, the ones tied to an anchor (the source's external_id).
    pub anchored: u64,
    /// Of those, the ones the ledger had tied to another anchor before, now re-tied.
    pub reanchored: u64,
    /// Accounts the old ledger ties to another person, who is on another row tonight or
    /// whose account is deactivated: kept theirs, not re-tied.
    pub held: u64,
    /// The ledger's other accounts, kept managed.
    pub kept: u64,
}

impl Summary {
    pub fn add(&mut self, e: &ReportEntry) {
        self.rows += 1;
        match e.status {
            Status::Ok => self.ok += 1,
            Status::Rejected => self.rejected += 1,
            Status::Failed => self.failed += 1,
            Status::Skipped => self.skipped += 1,
        }
        if matches!(e.status, Status::Ok | Status::Skipped) || e.action != Action::None {
            *self.actions.entry(e.action.name()).or_default() += 1;
        }
        if matches!(e.status, Status::Rejected | Status::Failed) {
            for part in split_problems(&e.error) {
                *self.reasons.entry(reason_key(&part)).or_default() += 1;
            }
        }
    }

    /// Counts a row that was fine and needed no action, as `add` would.
    pub fn add_ok(&mut self) {
        self.rows += 1;
        self.ok += 1;
        *self.actions.entry(Action::None.name()).or_default() += 1;
    }

    pub fn set_elapsed(&mut self, d: Duration) {
        self.elapsed_seconds = (d.as_secs_f64() * 1000.0).round() / 1000.0;
    }

    /// Human-readable lines for stderr.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} rows: {} ok, {} rejected, {} failed, {} skipped",
            self.rows, self.ok, self.rejected, self.failed, self.skipped
        );
        if !self.actions.is_empty() {
            let a: Vec<String> = self
                .actions
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            s.push_str(&format!("\n  actions: {}", a.join(", ")));
        }
        if self.requests > 0 {
            s.push_str(&format!(
                "\n  requests: {}, rate-limited (429): {}, retries: {}",
                self.requests, self.rate_limited, self.retries
            ));
        }
        if !self.reasons.is_empty() {
            s.push_str("\n  problems:");
            let mut by_count: Vec<(&String, &u64)> = self.reasons.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (k, v) in by_count.iter().take(20) {
                s.push_str(&format!("\n    {v:>8}  {k}"));
            }
            if by_count.len() > 20 {
                s.push_str(&format!("\n    ... and {} more kinds", by_count.len() - 20));
            }
        }
        let rate = if self.elapsed_seconds > 0.0 {
            format!(" ({:.0} rows/s)", self.rows as f64 / self.elapsed_seconds)
        } else {
            String::new()
        };
        s.push_str(&format!("\n  elapsed: {:.2} s{rate}", self.elapsed_seconds));
        if let Some(p) = &self.problems
            && p.new + p.known > 0
        {
            s.push_str(&format!(
                "\n  rejected or failed rows: {} new, {} known from the last sync",
                p.new, p.known
            ));
        }
        if let Some(m) = &self.memberships {
            let per = if m.added == 0 {
                0.0
            } else {
                m.requests as f64 / m.added as f64
            };
            s.push_str(&format!(
                "\n  memberships added: {} in {} requests ({per:.3} requests per membership)",
                m.added, m.requests
            ));
        }
        if let Some(a) = &self.adopted {
            s.push_str(&format!(
                "\n  adopted: {} server accounts into the ledger {} ({} tied to an anchor, {} of them to another anchor than before; {} kept for the person the old ledger ties them to; {} accounts of the old ledger kept); nothing was written to the server, and the actions above are what the next sync would do",
                a.accounts, a.ledger, a.anchored, a.reanchored, a.held, a.kept
            ));
        }
        if let Some(why) = &self.stopped {
            s.push_str(&format!("\n  stopped early: {why}"));
        }
        s
    }
}

/// The problems of one error text (joined with "; "); a piece that does not start with
/// `field: ` belongs to the previous problem.
pub fn split_problems(error: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in error.split("; ") {
        let starts_field = part
            .split_once(": ")
            .is_some_and(|(f, _)| !f.is_empty() && f.len() <= 40 && !f.contains(' '));
        match out.last_mut() {
            Some(last) if !starts_field => {
                last.push_str("; ");
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

/// Groups problems by kind: quoted values and origins are elided, so
/// `email: "a@b" has no dot` and `email: "c@d" has no dot` count together.
pub fn reason_key(problem: &str) -> String {
    let mut out = String::with_capacity(problem.len());
    let mut in_quote = false;
    let mut prev_escape = false;
    for c in problem.chars() {
        if in_quote {
            if c == '"' && !prev_escape {
                in_quote = false;
                out.push_str("…\"");
            }
            prev_escape = c == '\\' && !prev_escape;
            continue;
        }
        if c == '"' {
            in_quote = true;
            out.push('"');
            continue;
        }
        out.push(c);
    }
    // "duplicate of users.csv:3" → "duplicate of …"
    if let Some(i) = out.find(" of ")
        && out[i + 4..].contains(':')
        && out.contains("duplicate")
    {
        out.truncate(i + 4);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_split_on_field_boundaries_only() {
        assert_eq!(
            split_problems("username: bad (allowed: a; b lowercase); email: no dot"),
            ["username: bad (allowed: a; b lowercase)", "email: no dot"]
        );
    }

    #[test]
    fn reasons_group_without_values() {
        assert_eq!(
            reason_key(r#"email: "a@b" has no dot"#),
            r#"email: "…" has no dot"#
        );
        assert_eq!(
            reason_key("username: duplicate of users.csv:3"),
            "username: duplicate of …"
        );
    }
}
