//! Reports: the per-row result file, the rejects file, the summary.
//!
//! The report has one entry per input row with the contract fields `origin`, `username`,
//! `email`, `action`, `status`, `id`, `attempts`, `changed`, `error`, and `renamed_from`
//! (the old username of a renamed account) (CSV columns in that order, or one JSON object
//! per line, `renamed_from` only when set).

pub mod rejects;
pub mod summary;

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::output::csv::CsvRecordWriter;
pub use rejects::RejectsWriter;
pub use summary::Summary;

/// What was (or would be) done to a row's user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Deactivate,
    None,
    // `roster do`'s actions, named as on its command line (`deactivate` is shared).
    Activate,
    #[serde(rename = "revoke-sessions")]
    RevokeSessions,
    Delete,
    Offboard,
    #[serde(rename = "set-roles")]
    SetRoles,
    #[serde(rename = "reset-avatar")]
    ResetAvatar,
    #[serde(rename = "set-status")]
    SetStatus,
    #[serde(rename = "reset-mfa")]
    ResetMfa,
    #[serde(rename = "set-preferences")]
    SetPreferences,
    #[serde(rename = "migrate-auth")]
    MigrateAuth,
    #[serde(rename = "convert-to-bot")]
    ConvertToBot,
    #[serde(rename = "reset-password")]
    ResetPassword,
    #[serde(rename = "create-token")]
    CreateToken,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Deactivate => "deactivate",
            Action::None => "none",
            Action::Activate => "activate",
            Action::RevokeSessions => "revoke-sessions",
            Action::Delete => "delete",
            Action::Offboard => "offboard",
            Action::SetRoles => "set-roles",
            Action::ResetAvatar => "reset-avatar",
            Action::SetStatus => "set-status",
            Action::ResetMfa => "reset-mfa",
            Action::SetPreferences => "set-preferences",
            Action::MigrateAuth => "migrate-auth",
            Action::ConvertToBot => "convert-to-bot",
            Action::ResetPassword => "reset-password",
            Action::CreateToken => "create-token",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Rejected,
    Failed,
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One report entry. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportEntry {
    pub origin: String,
    pub username: String,
    pub email: String,
    pub action: Action,
    pub status: Status,
    /// Server user id, when known.
    pub id: String,
    /// Requests made for this row (0 for rows that never reached the server).
    pub attempts: u32,
    /// Field names changed (or to be changed under --dry-run).
    pub changed: Vec<String>,
    pub error: String,
    /// The username before this row renamed the account (found by its anchor or email).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub renamed_from: String,
}

impl ReportEntry {
    pub fn new(origin: impl Into<String>, username: &str, email: Option<&str>) -> Self {
        ReportEntry {
            origin: origin.into(),
            username: username.to_string(),
            email: email.unwrap_or_default().to_string(),
            action: Action::None,
            status: Status::Ok,
            id: String::new(),
            attempts: 0,
            changed: Vec::new(),
            error: String::new(),
            renamed_from: String::new(),
        }
    }
}

/// The report's columns, in contract order.
pub const COLUMNS: [&str; 10] = [
    "origin",
    "username",
    "email",
    "action",
    "status",
    "id",
    "attempts",
    "changed",
    "error",
    "renamed_from",
];

enum Sink {
    Csv(Box<CsvRecordWriter<Box<dyn Write + Send>>>),
    Jsonl(Box<dyn Write + Send>),
}

/// Writes the per-row report as CSV or JSON Lines, chosen by the file's extension.
pub struct ReportWriter {
    sink: Sink,
}

impl ReportWriter {
    /// `.jsonl`/`.ndjson`/`.json` → JSON Lines, anything else → CSV.
    pub fn create(path: &Path) -> io::Result<ReportWriter> {
        let jsonl = matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(|e| e.to_ascii_lowercase())
                .as_deref(),
            Some("jsonl" | "ndjson" | "json")
        );
        let out = crate::output::create_output(path, true)?;
        ReportWriter::new(out, jsonl)
    }

    pub fn new(out: Box<dyn Write + Send>, jsonl: bool) -> io::Result<ReportWriter> {
        let sink = if jsonl {
            Sink::Jsonl(out)
        } else {
            let mut w = CsvRecordWriter::new(out, b',', false);
            w.write_record(&COLUMNS)?;
            Sink::Csv(Box::new(w))
        };
        Ok(ReportWriter { sink })
    }

    pub fn write(&mut self, e: &ReportEntry) -> io::Result<()> {
        match &mut self.sink {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")
            }
            Sink::Csv(w) => {
                let attempts = e.attempts.to_string();
                let changed = e.changed.join(";");
                let fields = [
                    e.origin.as_str(),
                    &e.username,
                    &e.email,
                    e.action.name(),
                    e.status.name(),
                    &e.id,
                    &attempts,
                    &changed,
                    &e.error,
                    &e.renamed_from,
                ];
                w.write_record(&fields)
            }
        }
    }

    /// Flushes buffered entries (the journal and report must survive a crash).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Jsonl(out) => out.flush(),
            Sink::Csv(w) => w.flush(),
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.flush()
    }
}
