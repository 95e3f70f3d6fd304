//! What every run writes besides the server: the report (locked for the run), the
//! rejects file, the dump, warnings and the summary, and the exit code the rows give.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

use super::progress::Progress;
use crate::output::{self, UserWriter, WriterOptions};
use crate::pipeline::{Checked, Pipeline};
use crate::report::rejects::RejectedRow;
use crate::report::{RejectsWriter, ReportEntry, ReportWriter, Status, Summary};
use crate::settings::ReportSettings;
use crate::source::{self, CsvDialect, Format, SourceOptions};

/// Adds a run's request counters to its summary.
pub(crate) fn add_counters(summary: &mut Summary, c: &crate::client::http::Counters) {
    use std::sync::atomic::Ordering;
    summary.requests = c.requests.load(Ordering::Relaxed);
    summary.rate_limited = c.rate_limited.load(Ordering::Relaxed);
    summary.retries = c.retries.load(Ordering::Relaxed);
}

/// Locks held until the process ends (a run's report, hence its journal).
static HELD_LOCKS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// Takes an exclusive advisory lock on the report file before it is truncated, held
/// until the process ends: two runs on one report (and its journal, REPORT.journal)
/// would interleave their rows. The report itself is locked so that no lock file is
/// left behind; stdout and non-regular files (a pipe) are not locked.
fn lock_report(args: &ReportSettings) -> Result<()> {
    let Some(path) = &args.report else {
        return Ok(());
    };
    if path.as_os_str() == "-" {
        return Ok(());
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(()),
        _ => {}
    }
    let mut o = std::fs::OpenOptions::new();
    // Not truncated here: the file may belong to the other run.
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o
        .open(path)
        .with_context(|| format!("cannot create report {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(crate::exit::ExitError::new(
                crate::exit::USAGE,
                format!(
                    "another roster run is using {} (it and its journal {} are locked); wait for it or choose another --report",
                    path.display(),
                    crate::exec::journal::path_for(path).display()
                ),
            )
            .into());
        }
        // A file system without locks (some network mounts): run unprotected, and say so.
        Err(std::fs::TryLockError::Error(e)) => {
            eprintln!(
                "roster: warning: cannot lock {} ({e}); another run on the same --report would not be stopped",
                path.display()
            );
            return Ok(());
        }
    }
    HELD_LOCKS.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    Ok(())
}

/// The report and rejects files of a run, and the summary.
pub(crate) struct Outputs {
    pub report: Option<ReportWriter>,
    pub rejects: Option<RejectsWriter>,
    pub summary: Summary,
    dialect: Arc<OnceLock<CsvDialect>>,
    /// Entries final before rows that come earlier in the report (a sync's unchanged and
    /// rejected rows, decided while planning, wait for the changes applied before them),
    /// by their place in the report; see [`Outputs::hold`].
    held: BTreeMap<u64, (ReportEntry, Option<Checked>)>,
}

impl Outputs {
    pub fn create(args: &ReportSettings, pipeline: &Pipeline) -> Result<Outputs> {
        let input_format = pipeline.format();
        lock_report(args)?;
        let report = match &args.report {
            Some(p) => Some(
                ReportWriter::create(p)
                    .with_context(|| format!("cannot create report {}", p.display()))?,
            ),
            None => None,
        };
        let rejects = match &args.rejects {
            Some(p) => Some(
                RejectsWriter::create(p, input_format)
                    .with_context(|| format!("cannot create rejects file {}", p.display()))?
                    .with_secrets(pipeline.secret_attributes()),
            ),
            None => None,
        };
        Ok(Outputs {
            report,
            rejects,
            summary: Summary::default(),
            dialect: pipeline.dialect_handle(),
            held: BTreeMap::new(),
        })
    }

    /// Outputs for a run without a source (`apply`): no rejects file.
    pub fn without_source(args: &ReportSettings) -> Result<Outputs> {
        lock_report(args)?;
        let report = match &args.report {
            Some(p) => Some(
                ReportWriter::create(p)
                    .with_context(|| format!("cannot create report {}", p.display()))?,
            ),
            None => None,
        };
        Ok(Outputs {
            report,
            rejects: None,
            summary: Summary::default(),
            dialect: Arc::new(OnceLock::new()),
            held: BTreeMap::new(),
        })
    }

    /// Records a row's entry; rows that were rejected or failed also go to the rejects file.
    pub fn record(&mut self, entry: &ReportEntry, row: Option<&Checked>) -> Result<()> {
        self.summary.add(entry);
        if let Some(r) = &mut self.report {
            r.write(entry).context("cannot write the report")?;
        }
        if needs_rejects_line(entry)
            && let (Some(w), Some(row)) = (&mut self.rejects, row)
        {
            let dialect = self.dialect.get();
            w.write(
                &RejectedRow {
                    dn: row.dn.as_deref(),
                    attrs: &row.attrs,
                    raw: &row.raw,
                    error: &entry.error,
                },
                dialect,
            )
            .context("cannot write the rejects file")?;
        }
        Ok(())
    }

    /// Keeps the entry of the row at `seq` in the report until the rows before it are
    /// written ([`Outputs::record_at`]) or the run ends ([`Outputs::finish`]). A sync
    /// holds its source's unchanged rows in memory this way, as it holds the server's
    /// users; only rows the rejects file needs keep their input.
    pub fn hold(&mut self, seq: u64, entry: ReportEntry, row: Option<&Checked>) {
        let row = row
            .filter(|_| self.rejects.is_some() && needs_rejects_line(&entry))
            .cloned();
        self.held.insert(seq, (entry, row));
    }

    /// Records the row at `seq` in the report, after the held entries before it. Rows
    /// must come in increasing `seq`.
    pub fn record_at(
        &mut self,
        seq: u64,
        entry: &ReportEntry,
        row: Option<&Checked>,
    ) -> Result<()> {
        self.release(Some(seq))?;
        self.record(entry, row)
    }

    /// Writes the held entries before `until` (all of them with `None`), in order.
    fn release(&mut self, until: Option<u64>) -> Result<()> {
        while let Some(first) = self.held.first_entry() {
            if until.is_some_and(|u| *first.key() >= u) {
                break;
            }
            let (entry, row) = first.remove();
            self.record(&entry, row.as_ref())?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Summary> {
        self.release(None)?;
        if let Some(r) = self.report {
            r.finish().context("cannot write the report")?;
        }
        if let Some(r) = self.rejects {
            r.finish().context("cannot write the rejects file")?;
        }
        Ok(self.summary)
    }
}

/// Rows that were rejected or failed go to the rejects file too.
fn needs_rejects_line(entry: &ReportEntry) -> bool {
    matches!(entry.status, Status::Rejected | Status::Failed)
}

/// The dump: the users as the server now holds them, mode 0600.
pub(crate) fn open_dump(
    path: Option<&Path>,
    base_dn: Option<String>,
) -> Result<Option<Box<dyn UserWriter>>> {
    match path {
        Some(p) => {
            let f = output_format(p, None)?;
            Ok(Some(
                output::create(
                    p,
                    f,
                    &WriterOptions {
                        base_dn,
                        excel: false,
                        private: true,
                    },
                )
                .with_context(|| format!("cannot create dump {}", p.display()))?,
            ))
        }
        None => Ok(None),
    }
}

/// Counts a file source's rows on a side thread (a fast second read) so the progress
/// display can show a total and an ETA; only when a progress bar is shown.
pub(crate) fn count_rows_in_background(spec: &str, opts: &SourceOptions, pb: &Progress) {
    if pb.is_hidden() || spec == "-" || Format::detect(spec) == Some(Format::Ldap) {
        return;
    }
    let (spec, opts, pb) = (spec.to_string(), opts.clone(), pb.bar());
    let _ = std::thread::Builder::new()
        .name("roster-count".into())
        .spawn(move || {
            let Ok(mut src) = source::open(&spec, &opts) else {
                return;
            };
            let mut n = 0u64;
            while let Ok(Some(_)) = src.next_item() {
                n += 1;
                if crate::interrupt::requested() {
                    return;
                }
            }
            pb.set_total(n);
        });
}

/// Writes `text` and a newline to stdout. Unlike `println!`, a closed pipe
/// (`roster plan … | head`) is an error the caller returns, which `main` turns into a
/// quiet exit 0, rather than a panic.
pub(crate) fn stdout_line(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints warnings and the summary on stderr (unless quiet), or JSON on stdout.
pub(crate) fn print_summary(summary: &Summary, args: &ReportSettings) -> Result<()> {
    if args.json {
        stdout_line(&serde_json::to_string_pretty(summary)?)?;
    } else if !args.quiet {
        eprintln!("{}", summary.render());
    }
    Ok(())
}

/// Prints source warnings as they come (stderr, also under --quiet: they matter).
pub(crate) fn print_warnings(warnings: Vec<String>, summary: &mut Summary) {
    for w in warnings {
        eprintln!("roster: warning: {w}");
        summary.warnings.push(w);
    }
}

/// Exit code for a finished run: 0 when every row was fine, else 1.
pub(crate) fn rows_exit_code(s: &Summary) -> i32 {
    if s.rejected > 0 || s.failed > 0 {
        crate::exit::ROWS
    } else {
        crate::exit::OK
    }
}

/// A readable output format from a path's extension.
pub fn output_format(path: &Path, explicit: Option<Format>) -> Result<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let s = path.to_string_lossy();
    match Format::detect(&s) {
        Some(Format::Ldap) | None => anyhow::bail!(
            "cannot tell the output format of {s} from its extension; use .csv, .tsv, .ldif or .jsonl (or --to)"
        ),
        Some(f) => Ok(f),
    }
}
