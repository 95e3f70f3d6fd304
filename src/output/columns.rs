//! `roster export --fields`: the columns of an export, picked and ordered, with what the
//! server says about each account ([`Facts`]) beside the profile.
//!
//! CSV and TSV get one column per field, in the order given, through the same
//! [`CsvRecordWriter`] as every CSV roster writes (spreadsheet formulas neutralised). JSON
//! Lines get one object per account with the fields as keys in that order, every key
//! present (`null` when the server has no value). LDIF keeps its fixed inetOrgPerson
//! mapping ([`super::ldif`]) and writes only the attributes of the fields named; fields
//! with no attribute there are refused before anything is read ([`ldif_unsupported`]).
//!
//! Times are ISO-8601 UTC to the second (`2024-05-01T08:30:00Z`). An empty `last_login`
//! (JSON `null`) means the server says the account never logged in.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::csv::{COLUMNS, CsvRecordWriter};
use super::{UserWriter, WriterOptions, create_output};
use crate::client::{Fact, Facts, LastLogin};
use crate::csv_syntax::{UTF8_BOM, default_multi_sep};
use crate::model::{Field, User};
use crate::source::Format;

/// One column of an export: a field of the account (as mappings and reports name it;
/// never its password), its server id, its custom fields as one object, or what the
/// server says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Field(Field),
    Id,
    /// Every custom field, as one JSON object.
    CustomFields,
    /// What the server says about the account.
    Fact(Fact),
}

/// The default columns ([`COLUMNS`]) and then the server's facts, in the order `--help`
/// lists them.
fn all() -> Vec<Column> {
    let mut v: Vec<Column> = COLUMNS.iter().filter_map(|n| Column::parse(n)).collect();
    v.extend(Fact::ALL.into_iter().map(Column::Fact));
    v
}

impl Column {
    pub fn name(&self) -> String {
        match self {
            Column::Field(f) => f.name().into_owned(),
            Column::Id => "id".into(),
            Column::CustomFields => "custom_fields".into(),
            Column::Fact(f) => f.name().into(),
        }
    }

    /// A column by name (`custom.KEY` is taken for `custom_fields.KEY`, as in mappings).
    pub fn parse(s: &str) -> Option<Column> {
        let s = s.trim();
        match s {
            "id" => return Some(Column::Id),
            "custom_fields" => return Some(Column::CustomFields),
            _ => {}
        }
        if let Some(f) = Fact::ALL.into_iter().find(|f| f.name() == s) {
            return Some(Column::Fact(f));
        }
        Field::parse(s)
            .filter(|f| *f != Field::Password)
            .map(Column::Field)
    }

    /// Every name [`Column::parse`] takes, for messages and `--help`.
    pub fn names() -> String {
        let mut v: Vec<String> = all().iter().map(Column::name).collect();
        v.push("custom_fields.KEY".into());
        v.join(", ")
    }

    /// `--fields a,b,c`: the columns in that order. An unknown or repeated name is an
    /// error naming the valid ones (clap puts the option's name in front).
    pub fn parse_list(list: &str) -> Result<Vec<Column>, String> {
        let mut out: Vec<Column> = Vec::new();
        for part in list.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "an empty field name; valid fields: {}",
                    Column::names()
                ));
            }
            let Some(c) = Column::parse(part) else {
                return Err(format!(
                    "unknown field {part:?}; valid fields: {}",
                    Column::names()
                ));
            };
            if out.contains(&c) {
                return Err(format!("{part} is named twice"));
            }
            out.push(c);
        }
        Ok(out)
    }

    /// Whether an LDIF entry has an attribute for this column ([`super::ldif`]).
    fn in_ldif(&self) -> bool {
        matches!(
            self,
            Column::Field(
                Field::Username
                    | Field::Email
                    | Field::Name
                    | Field::FirstName
                    | Field::LastName
                    | Field::Position
                    | Field::Locale
                    | Field::Active
                    | Field::Roles
                    | Field::ExternalId
                    | Field::Avatar
            )
        )
    }

    /// The value as JSON: strings, booleans, lists, the custom fields as an object, times
    /// as ISO-8601 strings; `null` when there is none.
    fn json(&self, u: &User, f: &Facts) -> Value {
        let s = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
        let b = |v: Option<bool>| v.map_or(Value::Null, Value::Bool);
        let list = |v: &Option<Vec<String>>| {
            v.as_ref().map_or(Value::Null, |l| {
                l.iter().cloned().map(Value::String).collect()
            })
        };
        match self {
            Column::Field(f) => match f {
                Field::Username => Value::String(u.username.clone()),
                Field::Email => s(&u.email),
                Field::Name => s(&u.name),
                Field::FirstName => s(&u.first_name),
                Field::LastName => s(&u.last_name),
                Field::Nickname => s(&u.nickname),
                Field::Position => s(&u.position),
                Field::Locale => s(&u.locale),
                Field::Active => b(u.active),
                Field::Roles => list(&u.roles),
                Field::RequirePasswordChange => b(u.require_password_change),
                Field::Verified => b(u.verified),
                Field::ExternalId => s(&u.external_id),
                Field::Custom(k) => s(&u.custom_fields.get(k).cloned()),
                Field::Teams => list(&u.teams),
                Field::Channels => list(&u.channels),
                Field::Avatar => s(&u.avatar.as_ref().map(|a| a.text())),
                // Never a column (`parse` refuses it): an export holds no password.
                Field::Password => Value::Null,
            },
            Column::Id => s(&u.id),
            Column::CustomFields if u.custom_fields.is_empty() => Value::Null,
            Column::CustomFields => u
                .custom_fields
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            Column::Fact(Fact::Status) => s(&f.status),
            Column::Fact(Fact::LastLogin) => match f.last_login {
                LastLogin::At(t) => s(&iso(t)),
                LastLogin::Never | LastLogin::Unknown => Value::Null,
            },
            Column::Fact(Fact::CreatedAt) => s(&f.created_at.and_then(iso)),
            Column::Fact(Fact::AuthService) => s(&f.auth_service),
            Column::Fact(Fact::MfaActive) => b(f.mfa_active),
        }
    }

    /// The value as a CSV cell: lists joined with `sep`, the custom fields as JSON, an
    /// empty cell when there is none.
    fn cell(&self, u: &User, f: &Facts, sep: char) -> String {
        match self.json(u, f) {
            Value::Null => String::new(),
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(sep.encode_utf8(&mut [0; 4])),
            other => other.to_string(),
        }
    }
}

/// Milliseconds since the epoch as ISO-8601 UTC to the second; `None` before 1970.
pub fn iso(ms: i64) -> Option<String> {
    let ms = u64::try_from(ms).ok()?;
    let t = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

/// The fields of `columns` an LDIF entry has no attribute for.
pub fn ldif_unsupported(columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .filter(|c| !c.in_ldif())
        .map(Column::name)
        .collect()
}

/// Writes accounts one at a time.
pub trait AccountWriter: Send {
    fn write(&mut self, user: &User, facts: &Facts) -> io::Result<()>;
    /// Flushes and closes; must be called.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A writer for `format` into `path`: the default columns when `columns` is `None`,
/// otherwise those.
pub fn create(
    path: &Path,
    format: Format,
    opts: &WriterOptions,
    columns: Option<&[Column]>,
) -> io::Result<Box<dyn AccountWriter>> {
    let Some(columns) = columns else {
        return Ok(Box::new(Plain(super::create(path, format, opts)?)));
    };
    Ok(match format {
        Format::Ldif => {
            if let Some(c) = columns.iter().find(|c| !c.in_ldif()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("LDIF has no attribute for {}", c.name()),
                ));
            }
            Box::new(LdifSubset {
                ldif: super::create(path, format, opts)?,
                columns: columns.to_vec(),
            })
        }
        Format::Csv | Format::Tsv => {
            let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
            let mut out = create_output(path, opts.private)?;
            if opts.excel {
                out.write_all(UTF8_BOM)?;
            }
            let mut csv = CsvRecordWriter::new(out, delimiter, true);
            let header: Vec<String> = columns.iter().map(Column::name).collect();
            csv.write_record(&header)?;
            Box::new(CsvColumns {
                csv,
                sep: default_multi_sep(delimiter),
                columns: columns.to_vec(),
                cells: Vec::with_capacity(columns.len()),
            })
        }
        Format::Jsonl | Format::Ldap => Box::new(JsonlColumns {
            out: create_output(path, opts.private)?,
            columns: columns.to_vec(),
            line: Vec::with_capacity(256),
        }),
    })
}

/// The default writers, which have no place for facts.
struct Plain(Box<dyn UserWriter>);

impl AccountWriter for Plain {
    fn write(&mut self, user: &User, _facts: &Facts) -> io::Result<()> {
        self.0.write(user)
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()
    }
}

struct CsvColumns {
    csv: CsvRecordWriter<Box<dyn Write + Send>>,
    /// Joins lists: `;`, or `,` when `;` is the delimiter (what the CSV source splits on).
    sep: char,
    columns: Vec<Column>,
    cells: Vec<String>,
}

impl AccountWriter for CsvColumns {
    fn write(&mut self, user: &User, facts: &Facts) -> io::Result<()> {
        self.cells.clear();
        for c in &self.columns {
            self.cells.push(c.cell(user, facts, self.sep));
        }
        self.csv.write_record(&self.cells)
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.csv.flush()
    }
}

struct JsonlColumns {
    out: Box<dyn Write + Send>,
    columns: Vec<Column>,
    line: Vec<u8>,
}

impl AccountWriter for JsonlColumns {
    /// Keys in the order asked: the object is written key by key (a `serde_json::Map`
    /// would sort them).
    fn write(&mut self, user: &User, facts: &Facts) -> io::Result<()> {
        self.line.clear();
        self.line.push(b'{');
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            serde_json::to_writer(&mut self.line, &c.name())?;
            self.line.push(b':');
            serde_json::to_writer(&mut self.line, &c.json(user, facts))?;
        }
        self.line.extend_from_slice(b"}\n");
        self.out.write_all(&self.line)
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

/// LDIF with only the attributes of the columns named: the fields of the others are
/// cleared before the entry is written (`uid`, `cn` and `sn` are always there: the DN
/// and the schema need them).
struct LdifSubset {
    ldif: Box<dyn UserWriter>,
    columns: Vec<Column>,
}

impl AccountWriter for LdifSubset {
    fn write(&mut self, user: &User, _facts: &Facts) -> io::Result<()> {
        let has = |c: Column| self.columns.contains(&c);
        let mut u = user.clone();
        let keep = |on: bool, v: &mut Option<String>| {
            if !on {
                *v = None;
            }
        };
        keep(has(Column::Field(Field::Email)), &mut u.email);
        keep(has(Column::Field(Field::Name)), &mut u.name);
        keep(has(Column::Field(Field::FirstName)), &mut u.first_name);
        keep(has(Column::Field(Field::LastName)), &mut u.last_name);
        keep(has(Column::Field(Field::Position)), &mut u.position);
        keep(has(Column::Field(Field::Locale)), &mut u.locale);
        keep(has(Column::Field(Field::ExternalId)), &mut u.external_id);
        if !has(Column::Field(Field::Active)) {
            u.active = None;
        }
        if !has(Column::Field(Field::Roles)) {
            u.roles = None;
        }
        if !has(Column::Field(Field::Avatar)) {
            u.avatar = None;
        }
        self.ldif.write(&u)
    }
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.ldif.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_column_has_a_name_that_parses_back() {
        for name in COLUMNS {
            let c = Column::parse(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(c.name(), name);
        }
        for f in Fact::ALL {
            assert_eq!(Column::parse(f.name()), Some(Column::Fact(f)));
        }
        assert_eq!(
            Column::parse("custom.dept"),
            Some(Column::Field(Field::Custom("dept".into())))
        );
    }

    #[test]
    fn a_list_keeps_its_order_and_refuses_unknown_and_repeated_names() {
        let cols = Column::parse_list("last_login, username ,email").unwrap();
        assert_eq!(
            cols,
            vec![
                Column::Fact(Fact::LastLogin),
                Column::Field(Field::Username),
                Column::Field(Field::Email)
            ]
        );
        let e = Column::parse_list("username,lastlogin").unwrap_err();
        assert!(
            e.contains("\"lastlogin\"") && e.contains("last_login"),
            "{e}"
        );
        assert!(Column::parse_list("username,,email").is_err());
        assert!(Column::parse_list("email,email").is_err());
    }

    #[test]
    fn cells_and_json_values() {
        let u = User {
            username: "ann".into(),
            roles: Some(vec!["user".into(), "admin".into()]),
            active: Some(false),
            custom_fields: [("dept".to_string(), "=HR".to_string())].into(),
            ..User::default()
        };
        let f = Facts {
            last_login: LastLogin::At(1_700_000_000_123),
            created_at: Some(0),
            mfa_active: Some(true),
            ..Facts::default()
        };
        let cell = |c: Column| c.cell(&u, &f, ';');
        assert_eq!(cell(Column::Field(Field::Roles)), "user;admin");
        assert_eq!(cell(Column::Field(Field::Active)), "false");
        assert_eq!(cell(Column::Fact(Fact::LastLogin)), "2023-11-14T22:13:20Z");
        assert_eq!(cell(Column::Fact(Fact::CreatedAt)), "1970-01-01T00:00:00Z");
        assert_eq!(cell(Column::Fact(Fact::MfaActive)), "true");
        assert_eq!(cell(Column::Fact(Fact::Status)), "");
        assert_eq!(cell(Column::Field(Field::Custom("dept".into()))), "=HR");
        assert_eq!(cell(Column::CustomFields), r#"{"dept":"=HR"}"#);
        let never = Facts {
            last_login: LastLogin::Never,
            ..Facts::default()
        };
        assert_eq!(Column::Fact(Fact::LastLogin).json(&u, &never), Value::Null);
        assert_eq!(
            Column::Field(Field::Roles).json(&u, &f),
            serde_json::json!(["user", "admin"])
        );
    }

    #[test]
    fn ldif_takes_only_fields_it_has_attributes_for() {
        let cols = Column::parse_list("username,email,roles,active").unwrap();
        assert!(ldif_unsupported(&cols).is_empty());
        let cols = Column::parse_list("username,last_login,teams").unwrap();
        assert_eq!(ldif_unsupported(&cols), vec!["last_login", "teams"]);
    }
}
