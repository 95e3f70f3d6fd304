//! From the configuration to rules: the job file's `[mapping]` table and `--map` flags
//! (which win) are compiled into one [`Rule`] per field, defaults filling the rest, and
//! configured templates can be checked against the attributes a source is known to have.

use std::collections::BTreeMap;

use super::defaults::{ACTIVE_ATTRS, DEFAULTS};
use super::template::Resolver;
use super::{Mapping, MappingError, MappingOptions, Rule, Template};
use crate::model::Field;

/// One field's source, as `roster mapping` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSource {
    pub field: String,
    /// The templates (configured or default), the built-in rule, or `off`.
    pub rule: String,
    /// The source's attributes the rule reads.
    pub reads: Vec<String>,
}

/// The attribute of `available` named `a`, ASCII case ignored (as lookups do).
fn column<'a>(available: &'a [String], a: &str) -> Option<&'a String> {
    available.iter().find(|c| c.eq_ignore_ascii_case(a))
}

/// Identifies a mapping's resolver, for the per-thread record-shape cache.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

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

    /// How each field is filled, for people (`roster mapping`): the field, its rule, and the
    /// attributes of `available` the rule reads.
    pub fn explain(&self, available: &[String]) -> Vec<FieldSource> {
        let has = |a: &str| column(available, a).cloned();
        let mut out = Vec::new();
        for (field, rule) in &self.rules {
            let (how, reads) = match rule {
                Rule::Templates {
                    templates,
                    configured,
                } => {
                    let text: Vec<String> = templates.iter().map(|t| t.to_string()).collect();
                    let reads = templates
                        .iter()
                        .flat_map(|t| {
                            t.exprs()
                                .flat_map(|e| e.attrs.iter().filter_map(|a| has(a)))
                        })
                        .collect();
                    let whose = if *configured { "configured" } else { "default" };
                    (format!("{} ({whose})", text.join(" else ")), reads)
                }
                Rule::ActiveDefault => (
                    format!("built-in: the first of {}", ACTIVE_ATTRS.join(", ")),
                    ACTIVE_ATTRS.iter().filter_map(|a| has(a)).collect(),
                ),
                Rule::Off => ("off".to_string(), Vec::new()),
            };
            out.push(FieldSource {
                field: field.name().into_owned(),
                rule: how,
                reads,
            });
        }
        for (k, t) in &self.custom {
            out.push(FieldSource {
                field: format!("custom_fields.{k}"),
                rule: format!("{t} (configured)"),
                reads: t
                    .exprs()
                    .flat_map(|e| e.attrs.iter().filter_map(|a| has(a)))
                    .collect(),
            });
        }
        out
    }

    /// The attributes of `available` that no field reads (with no custom field configured,
    /// `custom_fields.*` and `custom.*` columns are read as custom fields).
    pub fn unread<'a>(&self, available: &'a [String]) -> Vec<&'a str> {
        let read: Vec<String> = self
            .explain(available)
            .into_iter()
            .flat_map(|f| f.reads)
            .map(|a| a.to_ascii_lowercase())
            .collect();
        available
            .iter()
            .filter(|a| !read.contains(&a.to_ascii_lowercase()))
            .filter(|a| {
                !(self.custom.is_empty()
                    && (a.starts_with("custom_fields") || a.starts_with("custom.")))
            })
            .filter(|a| !a.to_ascii_lowercase().starts_with(super::fill::PREF_PREFIX))
            .map(String::as_str)
            .collect()
    }

    /// The fields every row needs (username, email): when the source is known to have
    /// none of the attributes their templates read (a CSV file without an email column),
    /// one error before any row is read, rather than the same rejection on every row.
    /// `required`: the fields checked (username and email; `roster do` needs only the key
    /// it matches by).
    pub fn check_required(
        &self,
        available: &[String],
        source: &str,
        required: &[Field],
    ) -> Result<(), MappingError> {
        let has = |a: &str| column(available, a).is_some();
        for (field, rule) in &self.rules {
            if !required.contains(field) {
                continue;
            }
            let Rule::Templates { templates, .. } = rule else {
                continue;
            };
            // A template with no attribute at all (literal text) always gives a value.
            let fed = templates.iter().any(|t| {
                t.exprs().next().is_none() || t.exprs().any(|e| e.attrs.iter().any(|a| has(a)))
            });
            if !fed {
                let looked: Vec<String> = templates
                    .iter()
                    .flat_map(|t| t.exprs().flat_map(|e| e.attrs.clone()))
                    .collect();
                let name = field.name();
                return Err(MappingError::Invalid(format!(
                    "{source} has no column for {name} (looked for {}); add one, or name it with --map {name}={{COLUMN}}",
                    looked.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Checks configured templates against the attributes a source is known to have
    /// (a CSV header, an LDAP attribute list): each expression must be able to read at
    /// least one of its attributes. Defaults are not checked: they are fallbacks.
    pub fn check_attributes(&self, available: &[String], source: &str) -> Result<(), MappingError> {
        let has = |a: &str| column(available, a).is_some();
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
