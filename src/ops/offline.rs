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
    let has_report = reports.report.is_some();
    input::drive_offline(pipeline, reports, "rows checked", &source.spec, |checked| {
        // Nothing to write for a good row when there is no report: count it only.
        Ok((has_report || !checked.is_valid()).then(|| checked.offline_entry()))
    })
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
