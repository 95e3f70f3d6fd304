//! Mapping: raw record → canonical [`User`], through templates such as `{givenName} {sn}`.
//!
//! Each field has a rule: the job file's `[mapping]` table or a `--map field=template`
//! flag, else a default that knows the usual column and attribute names of CSV exports,
//! OpenLDAP, Active Directory and 389-DS. An empty template turns a field off.

pub mod template;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Change, Field, Intent, ModKind, Problem, RawRecord, User};
use crate::secret::Secret;

pub use template::Template;

use template::{Located, Lookup, Resolver};

/// Identifies a mapping's resolver, for the per-thread record-shape cache.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// The last record shape seen on this thread: mapping id, attribute names, slots.
    /// CSV rows all share one shape, LDIF entries mostly do.
    static SHAPE: std::cell::RefCell<(u64, Vec<String>, Vec<u32>)> = const { std::cell::RefCell::new((0, Vec::new(), Vec::new())) };
}

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping {field}: {message}")]
    Template { field: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Default rules: templates tried in order until one yields a value.
const DEFAULTS: &[(&str, &[&str])] = &[
    (
        "username",
        &["{username|uid|sAMAccountName|login|user_name|userid|user}"],
    ),
    (
        "email",
        &["{email|mail|e-mail|e_mail|emailAddress|email_address|userPrincipalName}"],
    ),
    (
        "name",
        &[
            "{name|displayName|display_name|fullName|full_name|cn}",
            "{first_name|givenName|firstname} {last_name|sn|surname|lastname}",
        ],
    ),
    (
        "first_name",
        &["{first_name|firstname|givenName|given_name}"],
    ),
    (
        "last_name",
        &["{last_name|lastname|sn|surname|family_name}"],
    ),
    ("nickname", &["{nickname|nick}"]),
    ("position", &["{position|title|job_title}"]),
    ("locale", &["{locale|language|preferredLanguage}"]),
    ("roles", &["{roles|role}"]),
    // Only a plaintext column: LDAP userPassword holds hashes, never plaintext.
    ("password", &["{password}"]),
    (
        "require_password_change",
        &["{require_password_change|requirePasswordChange}"],
    ),
    ("verified", &["{verified|email_verified}"]),
    (
        "external_id",
        &[
            "{external_id|externalId|entryUUID|objectGUID|nsUniqueId|ipaUniqueID|employeeNumber|employee_id|employeeId}",
        ],
    ),
];

/// Attributes the default `active` rule reads, in order of precedence.
const ACTIVE_ATTRS: &[&str] = &[
    "active",
    "enabled",
    "disabled",
    "userAccountControl",
    "nsAccountLock",
    "pwdAccountLockedTime",
];

/// The AD userAccountControl bit ACCOUNTDISABLE.
const UAC_ACCOUNTDISABLE: u64 = 0x2;

#[derive(Clone, Debug)]
enum Rule {
    /// Configured or default templates, first non-empty wins.
    Templates {
        templates: Vec<Template>,
        configured: bool,
    },
    /// The built-in account-state rule (see [`ACTIVE_ATTRS`]).
    ActiveDefault,
    /// Turned off with an empty template.
    Off,
}

/// Options that depend on the source.
#[derive(Clone, Debug, Default)]
pub struct MappingOptions {
    /// Split list fields (roles) of CSV cells on this character.
    pub multi_sep: Option<char>,
}

/// A compiled mapping.
#[derive(Clone, Debug)]
pub struct Mapping {
    rules: Vec<(Field, Rule)>,
    resolver: Resolver,
    index: HashMap<String, usize>,
    active_slots: Vec<usize>,
    id: u64,
    /// Custom fields named in the configuration; when empty, `custom_fields.KEY` /
    /// `custom.KEY` attributes and a `custom_fields` JSON cell are read.
    custom: Vec<(String, Template)>,
    multi_sep: Option<char>,
}

/// The outcome of mapping one record. Problems found here (a boolean that is not one,
/// a bad `custom_fields` cell) are reported with the validation problems of the row.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub user: User,
    pub intent: Intent,
    pub problems: Vec<Problem>,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping::new(&BTreeMap::new(), &[]).expect("the built-in defaults parse")
    }
}

impl Mapping {
    /// Builds a mapping from the job file's `[mapping]` table and `--map` flags (which win).
    pub fn new(
        table: &BTreeMap<String, toml::Value>,
        overrides: &[String],
    ) -> Result<Mapping, MappingError> {
        let mut configured: BTreeMap<Field, String> = BTreeMap::new();
        let mut custom: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in table {
            if key == "custom_fields" {
                let t = value.as_table().ok_or_else(|| {
                    MappingError::Invalid(
                        "[mapping] custom_fields must be a table of key = \"template\"".into(),
                    )
                })?;
                for (k, v) in t {
                    let s = v.as_str().ok_or_else(|| MappingError::Template {
                        field: format!("custom_fields.{k}"),
                        message: "must be a string template".into(),
                    })?;
                    custom.insert(k.clone(), s.to_string());
                }
                continue;
            }
            let s = value.as_str().ok_or_else(|| MappingError::Template {
                field: key.clone(),
                message: "must be a string template".into(),
            })?;
            insert_rule(&mut configured, &mut custom, key, s)?;
        }
        for o in overrides {
            let (k, t) = o.split_once('=').ok_or_else(|| {
                MappingError::Invalid(format!("--map {o:?}: expected FIELD=TEMPLATE"))
            })?;
            insert_rule(&mut configured, &mut custom, k.trim(), t)?;
        }

        let mut rules = Vec::new();
        for field in Field::SCALARS {
            let rule = match configured.get(&field) {
                Some(t) if t.trim().is_empty() => Rule::Off,
                Some(t) => Rule::Templates {
                    templates: vec![compile(&field.name(), t)?],
                    configured: true,
                },
                None if field == Field::Active => Rule::ActiveDefault,
                None => {
                    let name = field.name();
                    let defaults = DEFAULTS
                        .iter()
                        .find(|(f, _)| *f == name)
                        .map(|(_, t)| *t)
                        .unwrap_or(&[]);
                    let templates = defaults
                        .iter()
                        .map(|t| compile(&name, t))
                        .collect::<Result<Vec<_>, _>>()?;
                    Rule::Templates {
                        templates,
                        configured: false,
                    }
                }
            };
            rules.push((field, rule));
        }
        let mut custom = custom
            .into_iter()
            .map(|(k, t)| {
                let tpl = compile(&format!("custom_fields.{k}"), &t)?;
                Ok((k, tpl))
            })
            .collect::<Result<Vec<_>, MappingError>>()?;
        let mut resolver = Resolver::default();
        for (_, rule) in &mut rules {
            if let Rule::Templates { templates, .. } = rule {
                for t in templates {
                    t.bind(&mut resolver);
                }
            }
        }
        for (_, t) in &mut custom {
            t.bind(&mut resolver);
        }
        let active_slots = ACTIVE_ATTRS.iter().map(|a| resolver.slot(a)).collect();
        let index = resolver.index();
        Ok(Mapping {
            rules,
            resolver,
            index,
            active_slots,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            custom,
            multi_sep: None,
        })
    }

    /// Sets source-dependent options (the CSV multi-value separator).
    pub fn with_options(mut self, opts: &MappingOptions) -> Self {
        self.multi_sep = opts.multi_sep;
        self
    }

    /// Checks configured templates against the attributes a source is known to have
    /// (a CSV header, an LDAP attribute list): each expression must be able to read at
    /// least one of its attributes. Defaults are not checked: they are fallbacks.
    pub fn check_attributes(&self, available: &[String], source: &str) -> Result<(), MappingError> {
        let has = |a: &str| available.iter().any(|c| c.eq_ignore_ascii_case(a));
        let check = |field: String, t: &Template| -> Result<(), MappingError> {
            for e in t.exprs() {
                if !e.attrs.iter().any(|a| has(a)) {
                    let names = e.attrs.join(", ");
                    let mut cols = available.join(", ");
                    if cols.len() > 300 {
                        cols.truncate(300);
                        cols.push_str(", ...");
                    }
                    return Err(MappingError::Template {
                        field,
                        message: format!(
                            "{t}: {source} has no {} {names} (it has: {cols})",
                            if e.attrs.len() > 1 {
                                "attribute among"
                            } else {
                                "attribute"
                            }
                        ),
                    });
                }
            }
            Ok(())
        };
        for (field, rule) in &self.rules {
            if let Rule::Templates {
                templates,
                configured: true,
            } = rule
            {
                for t in templates {
                    check(field.name().into_owned(), t)?;
                }
            }
        }
        for (k, t) in &self.custom {
            check(format!("custom_fields.{k}"), t)?;
        }
        Ok(())
    }

    /// Attributes the password rule reads: they are secrets, never written back.
    pub fn secret_attributes(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(f, _)| *f == Field::Password)
            .flat_map(|(_, r)| match r {
                Rule::Templates { templates, .. } => templates
                    .iter()
                    .flat_map(|t| t.attributes().map(str::to_string).collect::<Vec<_>>())
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Maps one record.
    pub fn apply(&self, rec: &RawRecord) -> Mapped {
        SHAPE.with(|cell| {
            let mut shape = cell.borrow_mut();
            let (id, names, at) = &mut *shape;
            let same = *id == self.id
                && names.len() == rec.attrs.len()
                && names.iter().zip(rec.attrs.names()).all(|(a, b)| a == b);
            if !same {
                *id = self.id;
                names.clear();
                names.extend(rec.attrs.names().map(str::to_string));
                self.resolver.locate(&rec.attrs, &self.index, at);
            }
            let located = Located {
                attrs: &rec.attrs,
                at,
            };
            self.apply_located(rec, &located)
        })
    }

    fn apply_located(&self, rec: &RawRecord, attrs: &Located<'_>) -> Mapped {
        let mut problems = Vec::new();
        let mut user = User {
            origin: rec.origin.clone(),
            ..User::default()
        };
        for (field, rule) in &self.rules {
            self.fill(&mut user, field, rule, attrs, &mut problems);
        }
        self.fill_custom(&mut user, attrs, &mut problems);

        let intent = match &rec.change {
            Change::Entry => Intent::Upsert,
            Change::Delete => Intent::Deactivate,
            Change::Modify(ops) => self.modify_intent(&mut user, ops, &mut problems),
        };
        Mapped {
            user,
            intent,
            problems,
        }
    }

    fn fill(
        &self,
        user: &mut User,
        field: &Field,
        rule: &Rule,
        attrs: &Located<'_>,
        problems: &mut Vec<Problem>,
    ) {
        let templates = match rule {
            Rule::Off => return,
            Rule::ActiveDefault => {
                match active_default(attrs, &self.active_slots) {
                    Ok(v) => user.active = v,
                    Err(p) => problems.push(p),
                }
                return;
            }
            Rule::Templates { templates, .. } => templates,
        };
        if *field == Field::Roles {
            let values = templates
                .iter()
                .map(|t| t.eval(attrs))
                .find(|v| !v.is_empty())
                .unwrap_or_default();
            if !values.is_empty() {
                user.roles = Some(self.split_list(&values));
            }
            return;
        }
        let Some(value) = templates.iter().find_map(|t| t.eval_first(attrs)) else {
            return;
        };
        let mut value = Some(value);
        let mut first = move || value.take().unwrap_or_default();
        match field {
            Field::Username => user.username = first(),
            Field::Email => user.email = Some(first()),
            Field::Name => user.name = Some(first()),
            Field::FirstName => user.first_name = Some(first()),
            Field::LastName => user.last_name = Some(first()),
            Field::Nickname => user.nickname = Some(first()),
            Field::Position => user.position = Some(first()),
            Field::Locale => user.locale = Some(first()),
            Field::ExternalId => user.external_id = Some(first()),
            Field::Password => user.password = Some(Secret::new(first())),
            Field::Active => user.active = bool_field(field, &first(), problems),
            Field::Verified => user.verified = bool_field(field, &first(), problems),
            Field::RequirePasswordChange => {
                user.require_password_change = bool_field(field, &first(), problems)
            }
            Field::Roles | Field::Custom(_) => {}
        }
    }

    fn split_list(&self, values: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in values {
            let parts: Vec<&str> = match self.multi_sep {
                Some(sep) => v.split(sep).collect(),
                None => vec![v.as_str()],
            };
            for p in parts {
                let p = p.trim();
                if !p.is_empty() && !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
        out
    }

    fn fill_custom(&self, user: &mut User, located: &Located<'_>, problems: &mut Vec<Problem>) {
        let attrs = located.attrs;
        if !self.custom.is_empty() {
            for (k, t) in &self.custom {
                if let Some(v) = t.eval(located).into_iter().next() {
                    user.custom_fields.insert(k.clone(), v);
                }
            }
            return;
        }
        for (name, values) in &attrs.0 {
            let lower = name.to_ascii_lowercase();
            if lower == "custom_fields" {
                let Some(text) = values.first().map(|v| v.text()) else {
                    continue;
                };
                if text.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&text) {
                    Ok(map) => {
                        for (k, v) in map {
                            let s = match v {
                                serde_json::Value::String(s) => s,
                                serde_json::Value::Null => continue,
                                other => other.to_string(),
                            };
                            user.custom_fields.insert(k, s);
                        }
                    }
                    Err(e) => problems.push(Problem::new(
                        "custom_fields",
                        format!("is not a JSON object of strings: {e}"),
                    )),
                }
            } else if let Some(key) =
                strip_prefix_ci(name, "custom_fields.").or_else(|| strip_prefix_ci(name, "custom."))
                && let Some(v) = values.first()
                && !key.is_empty()
            {
                let v = v.text();
                if !v.is_empty() {
                    user.custom_fields.insert(key.to_string(), v.into_owned());
                }
            }
        }
    }

    /// A modify record touches only the fields whose rules read an attribute the
    /// record changes; deleted attributes clear their fields.
    fn modify_intent(
        &self,
        user: &mut User,
        ops: &[crate::model::ModOp],
        problems: &mut Vec<Problem>,
    ) -> Intent {
        let touched: BTreeSet<String> = ops.iter().map(|op| base_attr(&op.attr)).collect();
        let cleared: BTreeSet<String> = ops
            .iter()
            .filter(|op| {
                op.values.is_empty() && matches!(op.kind, ModKind::Delete | ModKind::Replace)
            })
            .map(|op| base_attr(&op.attr))
            .collect();
        let mut fields: Vec<Field> = Vec::new();
        for (field, rule) in &self.rules {
            let reads: Vec<String> = match rule {
                Rule::Off => continue,
                Rule::ActiveDefault => ACTIVE_ATTRS
                    .iter()
                    .map(|a| a.to_ascii_lowercase())
                    .collect(),
                Rule::Templates { templates, .. } => templates
                    .iter()
                    .flat_map(|t| t.attributes().map(base_attr))
                    .collect(),
            };
            if !reads.iter().any(|a| touched.contains(a)) {
                continue;
            }
            if *field == Field::Username {
                problems.push(Problem::new(
                    "username",
                    "renaming through a modify record is not supported",
                ));
                continue;
            }
            let was_cleared = reads.iter().any(|a| cleared.contains(a));
            if was_cleared {
                clear_field(user, field);
            }
            for op in ops {
                if op.kind == ModKind::Delete
                    && !op.values.is_empty()
                    && reads.contains(&base_attr(&op.attr))
                {
                    problems.push(Problem::new(
                        field.name(),
                        format!(
                            "deleting single values of {} is not supported; use replace",
                            op.attr
                        ),
                    ));
                }
                if op.kind == ModKind::Increment && reads.contains(&base_attr(&op.attr)) {
                    problems.push(Problem::new(
                        field.name(),
                        format!("increment of {} is not supported", op.attr),
                    ));
                }
            }
            fields.push(field.clone());
        }
        if self.custom.is_empty() {
            for a in &touched {
                if let Some(k) = a
                    .strip_prefix("custom_fields.")
                    .or_else(|| a.strip_prefix("custom."))
                {
                    fields.push(Field::Custom(k.to_string()));
                }
            }
        } else {
            for (k, t) in &self.custom {
                if t.attributes().any(|a| touched.contains(&base_attr(a))) {
                    fields.push(Field::Custom(k.clone()));
                }
            }
        }
        Intent::Modify(fields)
    }
}

fn insert_rule(
    configured: &mut BTreeMap<Field, String>,
    custom: &mut BTreeMap<String, String>,
    key: &str,
    template: &str,
) -> Result<(), MappingError> {
    match Field::parse(key) {
        Some(Field::Custom(k)) => {
            custom.insert(k, template.to_string());
        }
        Some(f) => {
            configured.insert(f, template.to_string());
        }
        None => {
            let names: Vec<String> = Field::SCALARS
                .iter()
                .map(|f| f.name().into_owned())
                .collect();
            return Err(MappingError::Invalid(format!(
                "unknown field {key:?} in mapping; fields are {}, and custom_fields.KEY",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

fn compile(field: &str, t: &str) -> Result<Template, MappingError> {
    Template::parse(t).map_err(|message| MappingError::Template {
        field: field.to_string(),
        message: format!("{t:?}: {message}"),
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// `cn;lang-de` → `cn`, lowercased: what an LDAP modify touches.
fn base_attr(a: &str) -> String {
    a.split(';').next().unwrap_or(a).to_ascii_lowercase()
}

fn clear_field(user: &mut User, field: &Field) {
    let empty = || Some(String::new());
    match field {
        Field::Email => user.email = empty(),
        Field::Name => user.name = empty(),
        Field::FirstName => user.first_name = empty(),
        Field::LastName => user.last_name = empty(),
        Field::Nickname => user.nickname = empty(),
        Field::Position => user.position = empty(),
        Field::Locale => user.locale = empty(),
        Field::ExternalId => user.external_id = empty(),
        Field::Roles => user.roles = Some(Vec::new()),
        // Removing a lock attribute (nsAccountLock, pwdAccountLockedTime) unlocks.
        Field::Active if user.active.is_none() => user.active = Some(true),
        _ => {}
    }
}

/// `true/false`, `yes/no`, `y/n`, `1/0`, `on/off`, `t/f`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "t" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "f" => Some(false),
        _ => None,
    }
}

fn bool_field(field: &Field, v: &str, problems: &mut Vec<Problem>) -> Option<bool> {
    let r = parse_bool(v);
    if r.is_none() {
        problems.push(Problem::new(
            field.name(),
            format!("{v:?} is not a boolean (true/false, yes/no, 1/0)"),
        ));
    }
    r
}

/// Account state from the attributes directories and exports use: an `active`,
/// `enabled` or `disabled` column, AD's userAccountControl ACCOUNTDISABLE bit,
/// 389-DS/OpenLDAP `nsAccountLock`, ppolicy `pwdAccountLockedTime`.
fn active_default(attrs: &Located<'_>, slots: &[usize]) -> Result<Option<bool>, Problem> {
    let first = |name: &str| -> Option<String> {
        let slot = ACTIVE_ATTRS
            .iter()
            .position(|a| *a == name)
            .and_then(|i| slots.get(i).copied());
        attrs.values(name, slot).and_then(|vs| {
            vs.iter()
                .map(|v| v.text().trim().to_string())
                .find(|v| !v.is_empty())
        })
    };
    let bad = |name: &str, v: &str| {
        Problem::new(
            "active",
            format!("{name} {v:?} is not a boolean (true/false, yes/no, 1/0)"),
        )
    };
    if let Some(v) = first("active") {
        return parse_bool(&v).map(Some).ok_or_else(|| bad("active", &v));
    }
    if let Some(v) = first("enabled") {
        return parse_bool(&v).map(Some).ok_or_else(|| bad("enabled", &v));
    }
    if let Some(v) = first("disabled") {
        return parse_bool(&v)
            .map(|b| Some(!b))
            .ok_or_else(|| bad("disabled", &v));
    }
    if let Some(v) = first("userAccountControl") {
        // AD writes it as a signed 32-bit decimal; negative values happen.
        let n = v.parse::<i64>().map_err(|_| {
            Problem::new(
                "active",
                format!("userAccountControl {v:?} is not a number"),
            )
        })?;
        return Ok(Some((n as u64) & UAC_ACCOUNTDISABLE == 0));
    }
    if let Some(v) = first("nsAccountLock") {
        return parse_bool(&v)
            .map(|locked| Some(!locked))
            .ok_or_else(|| bad("nsAccountLock", &v));
    }
    if first("pwdAccountLockedTime").is_some() {
        return Ok(Some(false));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attrs, ModOp, Origin, RawText, Value};

    fn rec(pairs: &[(&str, &str)]) -> RawRecord {
        let mut attrs = Attrs::new();
        for (k, v) in pairs {
            attrs.push(k, Value::from(*v));
        }
        RawRecord {
            origin: Origin::line("t.csv", 2),
            dn: None,
            change: Change::Entry,
            attrs,
            raw: RawText::None,
            url_values: Vec::new(),
        }
    }

    #[test]
    fn defaults_cover_csv_and_ldap_names() {
        let m = Mapping::default();
        let r = m.apply(&rec(&[
            ("uid", "jdoe"),
            ("mail", "j@x.org"),
            ("givenName", "John"),
            ("sn", "Doe"),
            ("nsAccountLock", "TRUE"),
            ("entryUUID", "1234"),
        ]));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.user.username, "jdoe");
        assert_eq!(r.user.email.as_deref(), Some("j@x.org"));
        assert_eq!(r.user.name.as_deref(), Some("John Doe"));
        assert_eq!(r.user.active, Some(false));
        assert_eq!(r.user.external_id.as_deref(), Some("1234"));
        assert_eq!(r.intent, Intent::Upsert);
    }

    #[test]
    fn ad_user_account_control() {
        let m = Mapping::default();
        let u = |uac: &str| {
            m.apply(&rec(&[
                ("sAMAccountName", "a"),
                ("userAccountControl", uac),
            ]))
            .user
            .active
        };
        assert_eq!(u("512"), Some(true));
        assert_eq!(u("514"), Some(false));
        assert_eq!(u("66050"), Some(false));
        assert_eq!(u("66048"), Some(true));
    }

    #[test]
    fn overrides_roles_and_bad_bool() {
        let m = Mapping::new(
            &BTreeMap::new(),
            &["name={cn|upper}".into(), "nickname=".into()],
        )
        .unwrap()
        .with_options(&MappingOptions {
            multi_sep: Some(';'),
        });
        let r = m.apply(&rec(&[
            ("username", "a"),
            ("cn", "Ann"),
            ("nickname", "nn"),
            ("roles", "user; admin;user"),
            ("verified", "perhaps"),
        ]));
        assert_eq!(r.user.name.as_deref(), Some("ANN"));
        assert_eq!(r.user.nickname, None);
        assert_eq!(
            r.user.roles,
            Some(vec!["user".to_string(), "admin".to_string()])
        );
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].field.as_deref(), Some("verified"));
    }

    #[test]
    fn unknown_field_and_missing_column() {
        assert!(Mapping::new(&BTreeMap::new(), &["nmae={cn}".into()]).is_err());
        let m = Mapping::new(&BTreeMap::new(), &["name={displayName|cn}".into()]).unwrap();
        assert!(m.check_attributes(&["cn".into()], "t.csv").is_ok());
        let e = m
            .check_attributes(&["uid".into()], "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("displayName, cn"), "{e}");
    }

    #[test]
    fn modify_touches_only_its_fields() {
        let m = Mapping::default();
        let mut r = rec(&[("uid", "jdoe"), ("mail", "new@x.org")]);
        r.change = Change::Modify(vec![
            ModOp {
                kind: ModKind::Replace,
                attr: "mail".into(),
                values: vec![Value::from("new@x.org")],
            },
            ModOp {
                kind: ModKind::Delete,
                attr: "title".into(),
                values: vec![],
            },
        ]);
        let out = m.apply(&r);
        assert_eq!(
            out.intent,
            Intent::Modify(vec![Field::Email, Field::Position])
        );
        assert_eq!(out.user.position.as_deref(), Some(""));
        assert!(out.problems.is_empty());
    }

    #[test]
    fn custom_fields_from_columns_and_json() {
        let m = Mapping::default();
        let r = m.apply(&rec(&[
            ("username", "a"),
            ("custom_fields", r#"{"dept":"IT","n":3}"#),
            ("custom.site", "HQ"),
        ]));
        assert_eq!(
            r.user.custom_fields.get("dept").map(String::as_str),
            Some("IT")
        );
        assert_eq!(r.user.custom_fields.get("n").map(String::as_str), Some("3"));
        assert_eq!(
            r.user.custom_fields.get("site").map(String::as_str),
            Some("HQ")
        );
    }
}
