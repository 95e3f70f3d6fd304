//! Reports: the per-row result file, the rejects file, the summary.
