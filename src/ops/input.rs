//! Opening a run's input: the source, the mapping and the validator, as one pipeline of
//! checked rows; and the loop of the offline commands over it.

use std::time::Instant;

use anyhow::Result;

use super::outputs::{Outputs, print_summary, print_warnings, rows_exit_code};
use super::progress::progress;
use crate::mapping::Mapping;
use crate::pipeline::{Checked, Pipeline, PipelineOptions};
use crate::report::ReportEntry;
use crate::settings::{ReportSettings, SourceSettings};
use crate::source::{self, SourceOptions};
use crate::validate::{Profile, ValidateOptions, Validator};

/// What an operation does with its input, which decides how it is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// validate, plan, sync: stream.
    Stream,
    /// convert: stream, and no duplicate check (it only transcodes).
    Convert,
    /// import: an LDAP source is read whole before the first write.
    Import,
    /// `roster do`: as import, and rows need only the key that names their account.
    Act(crate::client::MatchKey),
}

/// Opens the source and builds the checking pipeline; `default_profile` applies when
/// neither `--profile` nor the job file names one.
pub(crate) fn open(
    s: &SourceSettings,
    default_profile: Profile,
    purpose: Purpose,
) -> Result<Pipeline> {
    let mut opts = s.opts.clone();
    opts.spool = matches!(purpose, Purpose::Import | Purpose::Act(_));
    // Opening (an LDAP bind and, for an import, the whole search) writes nothing:
    // Ctrl-C stops it at once.
    crate::interrupt::nothing_written(|| {
        open_pipeline(
            &s.spec,
            &opts,
            Mapping::new(&s.mapping, &s.maps)?,
            match purpose {
                Purpose::Act(key) => identifying(s, default_profile, key),
                _ => validator(s, default_profile),
            },
            purpose != Purpose::Convert,
        )
    })
}

pub(crate) fn validator(s: &SourceSettings, default_profile: Profile) -> Validator {
    Validator::new(ValidateOptions {
        profile: s.profile.unwrap_or(default_profile),
        allow_unusual_emails: s.allow_unusual_emails,
        identify_by: None,
    })
}

/// The checks of a source whose rows only name accounts (`roster do`).
fn identifying(
    s: &SourceSettings,
    default_profile: Profile,
    key: crate::client::MatchKey,
) -> Validator {
    Validator::new(ValidateOptions {
        identify_by: Some(key),
        ..validator(s, default_profile).options().clone()
    })
}

/// Opens the source and builds the checking pipeline.
pub(crate) fn open_pipeline(
    spec: &str,
    opts: &SourceOptions,
    mapping: Mapping,
    validator: Validator,
    check_duplicates: bool,
) -> Result<Pipeline> {
    let src = source::open(spec, opts)?;
    let input_bytes = std::fs::metadata(spec)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let options = PipelineOptions {
        input_bytes,
        check_duplicates,
    };
    Ok(Pipeline::start(src, mapping, validator, options))
}

/// Runs every row of an offline command (`validate`, `convert`) through `each`, which
/// says what became of it; writes the reports, prints the summary, and gives the exit code.
pub(crate) fn drive_offline(
    mut pipeline: Pipeline,
    reports: &ReportSettings,
    what: &str,
    spec: &str,
    mut each: impl FnMut(&Checked) -> Result<Option<ReportEntry>>,
) -> Result<i32> {
    let started = Instant::now();
    let mut out = Outputs::create(reports, &pipeline)?;
    let pb = progress(reports.quiet, what);
    let mut stopped = None;
    let mut fatal = None;
    while let Some(item) = pipeline.next() {
        let checked = match item {
            Ok(c) => c,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        let w = pipeline.take_warnings();
        if !w.is_empty() {
            pb.suspend(|| print_warnings(w, &mut out.summary));
        }
        match each(&checked)? {
            Some(entry) => out.record(&entry, Some(&checked))?,
            None => out.summary.add_ok(),
        }
        pb.inc(1);
        if crate::interrupt::requested() {
            stopped = Some("interrupted".to_string());
            break;
        }
    }
    pb.finish_and_clear();
    print_warnings(pipeline.take_warnings(), &mut out.summary);
    let mut summary = out.finish()?;
    summary.set_elapsed(started.elapsed());
    if let Some(e) = fatal {
        summary.stopped = Some(e.to_string());
        print_summary(&summary, reports)?;
        return Err(anyhow::Error::new(e).context(format!("reading {spec}")));
    }
    summary.stopped = stopped.clone();
    print_summary(&summary, reports)?;
    if stopped.is_some() {
        return Ok(crate::exit::INTERRUPTED);
    }
    Ok(rows_exit_code(&summary))
}

/// The folder of a source file, where avatar paths are read; `None` for stdin and LDAP.
pub(crate) fn source_dir(spec: &str) -> Option<std::path::PathBuf> {
    let lower = spec.to_ascii_lowercase();
    if spec == "-" || lower.starts_with("ldap://") || lower.starts_with("ldaps://") {
        return None;
    }
    let parent = std::path::Path::new(spec).parent()?;
    Some(if parent.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        parent.to_path_buf()
    })
}
