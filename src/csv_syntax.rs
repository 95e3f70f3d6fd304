//! CSV conventions shared by the CSV reader ([`crate::source::csv`]) and the CSV writers
//! ([`crate::output::csv`], used by `convert`, `export`, `--dump`, the report and the
//! rejects file), so that what roster writes reads back exactly.
//!
//! It sits below both so that neither layer imports the other; it imports no roster module.

use std::borrow::Cow;

/// UTF-8 byte order mark: written first when asked (Excel needs it to see UTF-8) and
/// skipped by every reader.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Separator inside multi-valued cells (roles) when none is given: `;`, or `,` when `;`
/// is the delimiter. The CSV writer joins with the same rule, so files it writes read back.
pub fn default_multi_sep(delimiter: u8) -> char {
    if delimiter == b';' { ',' } else { ';' }
}

/// Whether a cell would be a formula to a spreadsheet, looking past leading `'`s (so that
/// the prefix below is reversible): `=`, `+`, `-`, `@`, TAB or CR first (OWASP's list).
fn formula_like(s: &str) -> bool {
    matches!(
        s.trim_start_matches('\'').as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// The cell as written to a CSV file a person may open in Excel or LibreOffice: one `'`
/// in front of a formula-like value, which makes it text there (`=HYPERLINK(...)` is
/// written `'=HYPERLINK(...)`, `'=x` is written `''=x`). [`restore_formula`] undoes it.
pub fn neutralize_formula(s: &str) -> Cow<'_, str> {
    if formula_like(s) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The inverse of [`neutralize_formula`], for the CSV reader: drops one leading `'` when
/// what follows is formula-like, so a file written by roster reads back exactly.
pub fn restore_formula(s: &str) -> Cow<'_, str> {
    match s.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(s),
    }
}

/// [`restore_formula`] on an owned cell, without copying when nothing changes.
pub fn restore_formula_in_place(s: &mut String) {
    if s.starts_with('\'') && formula_like(&s[1..]) {
        s.remove(0);
    }
}
