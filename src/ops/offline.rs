//! `validate` and `convert`: no network; every row is read, mapped and checked.

use std::path::Path;

use anyhow::{Context, Result};

use super::input::{self, Purpose};
use crate::model::Intent;
use crate::output::{self, WriterOptions};
use crate::pipeline::Outcome;
use crate::report::Status;
use crate::settings::{ReportSettings, SourceSettings};
use crate::source::Format;
use crate::validate::Profile;

/// `roster validate`: every row ends up in the report as `ok` or `rejected`.
pub fn validate(source: &SourceSettings, reports: &ReportSettings) -> Result<i32> {
    let pipeline = input::open(source, Profile::Generic, Purpose::Stream)?;
    let dialect = pipeline.dialect_handle();
    let mapping = pipeline.mapping();
    let has_report = reports.report.is_some();
    let code = input::drive_offline(pipeline, reports, "rows checked", &source.spec, |checked| {
        // Nothing to write for a good row when there is no report: count it only.
        Ok((has_report || !checked.is_valid()).then(|| checked.offline_entry()))
    })?;
    // Columns that look meaningful and that nothing reads: likely a mapping to add.
    if !reports.quiet
        && let Some(d) = dialect.get()
    {
        let unread: Vec<&str> = mapping
            .unread(&d.header)
            .into_iter()
            .filter(|c| looks_meaningful(c))
            .collect();
        if !unread.is_empty() {
            eprintln!(
                "hint: nothing reads the column{} {}; `roster mapping` with the same source and options shows how to map {}",
                if unread.len() == 1 { "" } else { "s" },
                unread.join(", "),
                if unread.len() == 1 { "it" } else { "them" }
            );
        }
    }
    Ok(code)
}

/// Where `roster convert` writes.
#[derive(Clone, Debug)]
pub struct ConvertSettings<'a> {
    /// A file, or `-` for stdout.
    pub output: &'a Path,
    pub format: Format,
    pub base_dn: String,
    pub excel: bool,
}

/// `roster convert`: valid users to `to`; change records and invalid rows are reported.
pub fn convert(
    source: &SourceSettings,
    to: &ConvertSettings<'_>,
    reports: &ReportSettings,
) -> Result<i32> {
    let pipeline = input::open(source, Profile::Generic, Purpose::Convert)?;
    let mut writer = output::create(
        to.output,
        to.format,
        &WriterOptions {
            base_dn: Some(to.base_dn.clone()),
            excel: to.excel,
            private: false,
        },
    )
    .with_context(|| format!("cannot create {}", to.output.display()))?;
    let result = input::drive_offline(
        pipeline,
        reports,
        "users converted",
        &source.spec,
        |checked| {
            let mut entry = checked.offline_entry();
            if let Outcome::Valid { user, intent } = &checked.outcome {
                if *intent == Intent::Upsert {
                    writer
                        .write(user)
                        .with_context(|| format!("cannot write {}", to.output.display()))?;
                } else {
                    entry.status = Status::Skipped;
                    entry.error = format!(
                        "{} records cannot be converted to a user list",
                        intent.name()
                    );
                }
            }
            Ok(Some(entry))
        },
    );
    writer
        .finish()
        .with_context(|| format!("cannot write {}", to.output.display()))?;
    result.map_err(|e| e.context(format!("{} is incomplete", to.output.display())))
}

/// `roster mapping`: how each canonical field is filled from this source (its rule and the
/// attributes it reads), the source's attributes nothing reads, and the first `rows` rows
/// mapped, on stdout. Passwords are never shown.
pub fn mapping(source: &SourceSettings, rows: usize) -> Result<i32> {
    use std::io::Write;
    let mut pipeline = input::open(source, Profile::Generic, Purpose::Convert)?;
    let mapping = pipeline.mapping();
    let dialect = pipeline.dialect_handle();
    let mut first = Vec::new();
    // The CSV header, or the attributes of the first rows (LDIF, JSON Lines, LDAP).
    let mut seen: Vec<String> = Vec::new();
    for checked in pipeline.by_ref() {
        let checked = checked?;
        for name in checked.attrs.names() {
            if !seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                seen.push(name.to_string());
            }
        }
        first.push(checked);
        if first.len() >= rows.max(1) && dialect.get().is_some() {
            break;
        }
        if first.len() >= rows.max(20) {
            break;
        }
    }
    let available = match dialect.get() {
        Some(d) => d.header.clone(),
        None => seen,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: {}", source.spec, available.join(", "))?;
    writeln!(out)?;
    let explained = mapping.explain(&available);
    let width = explained.iter().map(|f| f.field.len()).max().unwrap_or(0);
    for f in &explained {
        let reads = if f.reads.is_empty() {
            "-".to_string()
        } else {
            f.reads.join(", ")
        };
        writeln!(out, "{:width$}  reads {reads:<24}  {}", f.field, f.rule)?;
    }
    let unread = mapping.unread(&available);
    writeln!(out)?;
    if unread.is_empty() {
        writeln!(out, "Every attribute is read.")?;
    } else {
        writeln!(out, "Read by nothing: {}", unread.join(", "))?;
        for u in unread.iter().filter(|u| looks_meaningful(u)) {
            let example = if looks_like_state(u) {
                format!("--map active={{{u}|map:Active=true,*=false}}")
            } else {
                format!("--map custom_fields.{}={{{u}}}", u.to_ascii_lowercase())
            };
            writeln!(out, "  {u} looks meaningful: map it, e.g. {example}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "First rows, mapped:")?;
    for c in first.iter().take(rows) {
        let json = c
            .user()
            .map(serde_json::to_string)
            .transpose()?
            .unwrap_or_else(|| "(not mapped)".into());
        let status = if c.is_valid() { "ok" } else { "rejected" };
        writeln!(out, "{}  {status}  {json}", c.origin)?;
        if let crate::pipeline::Outcome::Rejected { problems, .. } = &c.outcome {
            writeln!(out, "    {}", crate::model::problems_text(problems))?;
        }
    }
    Ok(crate::exit::OK)
}

/// Column names that usually carry an account's state.
const STATE_COLUMNS: [&str; 4] = ["status", "enabled", "disabled", "state"];
/// Other column names that usually carry something an administrator would want mapped.
const OTHER_COLUMNS: [&str; 4] = ["department", "dept", "title", "manager"];

/// `name` is one of `names`, alone or as a suffix (`hr_status`), ASCII case ignored.
fn named_like(name: &str, names: &[&str]) -> bool {
    let n = name.to_ascii_lowercase();
    names.iter().any(|h| {
        n.strip_suffix(h)
            .is_some_and(|head| head.is_empty() || head.ends_with('_'))
    })
}

fn looks_like_state(name: &str) -> bool {
    named_like(name, &STATE_COLUMNS)
}

fn looks_meaningful(name: &str) -> bool {
    looks_like_state(name) || named_like(name, &OTHER_COLUMNS)
}
