//! CSV (and TSV) writer of users.
//!
//! UTF-8, RFC 4180: CRLF line ends (RFC 4180's, and what Excel writes), fields quoted only
//! when they hold the delimiter, a quote, CR or LF. Always the same [`COLUMNS`], in that
//! order, so exports from different servers line up; `None` is an empty cell. There is
//! no password column: secrets are never written.

use std::io::{self, Write};

use super::{UserWriter, WriterOptions};
use crate::model::User;
use crate::source::csv::default_multi_sep;
use crate::source::encoding::UTF8_BOM;

/// The header row, in order.
pub const COLUMNS: [&str; 15] = [
    "username",
    "email",
    "name",
    "first_name",
    "last_name",
    "nickname",
    "position",
    "locale",
    "active",
    "roles",
    "require_password_change",
    "verified",
    "external_id",
    "id",
    "custom_fields",
];

pub struct CsvUserWriter {
    csv: csv::Writer<Box<dyn Write + Send>>,
    /// Joins roles: `;`, or `,` when `;` is the delimiter (what the CSV source splits on).
    roles_sep: char,
    cells: Vec<String>,
}

impl CsvUserWriter {
    /// Writes the BOM (with `opts.excel`) and the header row at once.
    pub fn new(
        mut out: Box<dyn Write + Send>,
        delimiter: u8,
        opts: &WriterOptions,
    ) -> io::Result<Self> {
        if opts.excel {
            // Without it Excel reads UTF-8 as the local ANSI code page.
            out.write_all(UTF8_BOM)?;
        }
        let mut csv = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .buffer_capacity(1 << 16)
            .from_writer(out);
        csv.write_record(COLUMNS)?;
        Ok(CsvUserWriter {
            csv,
            roles_sep: default_multi_sep(delimiter),
            cells: Vec::with_capacity(COLUMNS.len()),
        })
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn flag(b: Option<bool>) -> String {
    b.map(|b| b.to_string()).unwrap_or_default()
}

impl UserWriter for CsvUserWriter {
    fn write(&mut self, u: &User) -> io::Result<()> {
        let roles = u
            .roles
            .as_ref()
            .map(|r| r.join(self.roles_sep.encode_utf8(&mut [0; 4])))
            .unwrap_or_default();
        let custom = if u.custom_fields.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&u.custom_fields)?
        };
        self.cells.clear();
        // Same order as COLUMNS.
        self.cells.extend([
            u.username.clone(),
            opt(&u.email),
            opt(&u.name),
            opt(&u.first_name),
            opt(&u.last_name),
            opt(&u.nickname),
            opt(&u.position),
            opt(&u.locale),
            flag(u.active),
            roles,
            flag(u.require_password_change),
            flag(u.verified),
            opt(&u.external_id),
            opt(&u.id),
            custom,
        ]);
        self.csv.write_record(&self.cells)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.csv.flush()
    }
}
