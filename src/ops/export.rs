//! `export`: every user of a server to a file, paged at the server's maximum, through
//! the same writers as `convert`.

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};

use super::progress::progress;
use crate::client::connect;
use crate::client::{CallStats, UserApi};
use crate::exit::{self, ExitError};
use crate::output::{self, WriterOptions};
use crate::settings::{ExecSettings, ServerSettings};
use crate::source::Format;

/// What `roster export` writes.
#[derive(Clone, Debug)]
pub struct ExportSettings<'a> {
    pub output: &'a Path,
    pub format: Format,
    pub active_only: bool,
    pub base_dn: String,
    pub excel: bool,
    pub quiet: bool,
}

/// `roster export`.
pub fn export(server: &ServerSettings, e: &ExportSettings<'_>) -> Result<i32> {
    let connected = connect::connect(server, ExecSettings::default().pacing())?;
    let mut writer = output::create(
        e.output,
        e.format,
        &WriterOptions {
            base_dn: Some(e.base_dn.clone()),
            excel: e.excel,
            private: true,
        },
    )
    .with_context(|| format!("cannot create {}", e.output.display()))?;
    let pb = progress(e.quiet, "users exported");
    let n = export_all(connected.target.as_ref(), e.active_only, &mut |u| {
        pb.inc(1);
        writer
            .write(u)
            .with_context(|| format!("cannot write {}", e.output.display()))
    })?;
    pb.finish_and_clear();
    writer
        .finish()
        .with_context(|| format!("cannot write {}", e.output.display()))?;
    if crate::interrupt::requested() {
        eprintln!("roster: interrupted; {} is incomplete", e.output.display());
        return Ok(exit::INTERRUPTED);
    }
    if !e.quiet {
        eprintln!(
            "{} users written to {} ({} requests)",
            n,
            e.output.display(),
            connected.http.requests.load(Ordering::Relaxed)
        );
    }
    Ok(exit::OK)
}

/// Pages through every user of the server, calling `each` in the server's order.
/// Returns how many were passed on.
fn export_all(
    target: &dyn UserApi,
    active_only: bool,
    each: &mut dyn FnMut(&crate::model::User) -> Result<()>,
) -> Result<u64> {
    let mut stats = CallStats::default();
    let mut page = 0;
    let mut n = 0;
    loop {
        if crate::interrupt::requested() {
            break;
        }
        let p = target.list(page, &mut stats).map_err(|e| {
            ExitError::new(exit::USAGE, format!("listing users (page {page}): {e}"))
        })?;
        for u in &p.users {
            if active_only && u.active == Some(false) {
                continue;
            }
            each(u)?;
            n += 1;
        }
        if !p.more || p.users.is_empty() {
            break;
        }
        page += 1;
    }
    Ok(n)
}
