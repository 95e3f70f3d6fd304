//! `plan`: what a sync would do, printed (or as JSON) and optionally saved for `apply`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::outputs;
use super::sync::{PlanInputs, build_plan};
use crate::exit;
use crate::settings::{ExecSettings, ReportSettings, ServerSettings, SourceSettings, SyncSettings};

/// `roster plan`: reads; writes only the reports and `output` (the plan as JSON).
pub fn plan(
    source: &SourceSettings,
    server: &ServerSettings,
    sync: &SyncSettings,
    exec: &ExecSettings,
    output: Option<&Path>,
    reports: &ReportSettings,
) -> Result<i32> {
    // Connecting, reading the server and planning write nothing to the server: Ctrl-C
    // stops at once (an LDAP search or a snapshot page cannot be cut short otherwise).
    let mut planned = crate::interrupt::nothing_written(|| {
        build_plan(PlanInputs {
            source,
            server,
            sync,
            exec,
            reports,
        })
    })?;
    // The report lists what would be done to every row, in input order.
    for p in &planned.pending {
        planned
            .outs
            .record_at(p.seq, &p.entry, Some(&p.work.checked))?;
    }
    outputs::print_warnings(
        std::mem::take(&mut planned.warnings),
        &mut planned.outs.summary,
    );
    let plan = &planned.plan;
    if let Some(path) = output {
        let mut out = crate::output::create_output(path, true)
            .with_context(|| format!("cannot create {}", path.display()))?;
        serde_json::to_writer_pretty(&mut out, plan)?;
        out.write_all(b"\n")?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if reports.json {
        outputs::stdout_line(&serde_json::to_string_pretty(plan)?)?;
    } else {
        outputs::stdout_line(crate::plan::render::render(plan).trim_end_matches('\n'))?;
    }
    planned.outs.finish()?;
    Ok(if plan.refusal().is_some() {
        exit::GUARD
    } else {
        exit::OK
    })
}
