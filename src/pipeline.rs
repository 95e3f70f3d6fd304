//! Source → mapping → validation, in input order, with duplicate detection.
