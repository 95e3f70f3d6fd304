//! Field assignment: evaluating each rule against one record and storing the result in
//! the user's field (text, boolean, list or custom field). Problems found here are kept
//! with the record's validation problems.

use std::collections::BTreeMap;

use super::defaults::{active_default, parse_bool};
use super::template::{Located, text_of};
use super::{Mapped, Mapping, Rule};
use crate::model::{Avatar, Change, Field, FieldValue, Intent, Problem, RawRecord, User};
use crate::secret::Secret;

thread_local! {
    /// The last record shape seen on this thread: mapping id, attribute names, slots.
    /// CSV rows all share one shape, LDIF entries mostly do.
    static SHAPE: std::cell::RefCell<(u64, Vec<String>, Vec<u32>)> = const { std::cell::RefCell::new((0, Vec::new(), Vec::new())) };
}

impl Mapping {
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
        fill_preferences(&mut user, attrs, &mut problems);

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
        // The first template that yields something wins; a value that is not text stops
        // the search (falling back would quietly use another attribute) and rejects the row.
        if matches!(field, Field::Roles | Field::Teams | Field::Channels) {
            for t in templates {
                match t.eval(attrs) {
                    Ok(values) if values.is_empty() => {}
                    Ok(values) => {
                        let list = Some(self.split_list(&values));
                        match field {
                            Field::Roles => user.roles = list,
                            Field::Teams => user.teams = list,
                            _ => user.channels = list,
                        }
                        return;
                    }
                    Err(e) => return problems.push(e.problem(&field.name())),
                }
            }
            return;
        }
        if *field == Field::Avatar {
            // The image itself from LDAP/LDIF, or a URL or path in text.
            for t in templates {
                match t.eval_raw(attrs) {
                    Ok(None) => {}
                    Ok(Some(FieldValue::Binary(b))) => {
                        user.avatar = Some(Avatar::Image(b.into()));
                        return;
                    }
                    Ok(Some(FieldValue::Text(s))) => {
                        match Avatar::parse(&s) {
                            Ok(a) => user.avatar = Some(a),
                            Err(why) => problems.push(Problem::new("avatar", why)),
                        }
                        return;
                    }
                    Err(e) => return problems.push(e.problem(&field.name())),
                }
            }
            return;
        }
        let mut value = None;
        for t in templates {
            match t.eval_first(attrs) {
                Ok(None) => {}
                Ok(v) => {
                    value = v;
                    break;
                }
                Err(e) => return problems.push(e.problem(&field.name())),
            }
        }
        if value.is_none() {
            return;
        }
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
            Field::Roles | Field::Teams | Field::Channels | Field::Avatar | Field::Custom(_) => {}
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
                match t.eval(located) {
                    Ok(vs) => {
                        if let Some(v) = vs.into_iter().next() {
                            user.custom_fields.insert(k.clone(), v);
                        }
                    }
                    Err(e) => problems.push(e.problem(&Field::Custom(k.clone()).name())),
                }
            }
            return;
        }
        for (name, values) in &attrs.0 {
            let lower = name.to_ascii_lowercase();
            if lower == "custom_fields" {
                let Some(v) = values.first() else {
                    continue;
                };
                let text = match text_of(name, v) {
                    Ok(t) => t,
                    Err(e) => {
                        problems.push(e.problem(CUSTOM_FIELDS));
                        continue;
                    }
                };
                if text.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(text) {
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
                        CUSTOM_FIELDS,
                        format!("is not a JSON object of strings: {e}"),
                    )),
                }
            } else if let Some(key) =
                strip_prefix_ci(name, "custom_fields.").or_else(|| strip_prefix_ci(name, "custom."))
                && let Some(v) = values.first()
                && !key.is_empty()
            {
                match text_of(name, v) {
                    Ok("") => {}
                    Ok(t) => {
                        user.custom_fields.insert(key.to_string(), t.to_owned());
                    }
                    Err(e) => problems.push(e.problem(&Field::Custom(key.to_string()).name())),
                }
            }
        }
    }
}

const CUSTOM_FIELDS: &str = "custom_fields";

/// `pref.KEY` columns: the preferences `roster do set-preferences` sets (an empty cell
/// sets nothing). Read whatever the mapping, as they go to no account field.
fn fill_preferences(user: &mut User, located: &Located<'_>, problems: &mut Vec<Problem>) {
    for (name, values) in &located.attrs.0 {
        if let Some(key) = strip_prefix_ci(name, PREF_PREFIX)
            && let Some(v) = values.first()
            && !key.is_empty()
        {
            match text_of(name, v) {
                Ok("") => {}
                Ok(t) => {
                    user.preferences.insert(key.to_string(), t.to_owned());
                }
                Err(e) => problems.push(e.problem(name)),
            }
        }
    }
}

/// The column prefix of a preference.
pub const PREF_PREFIX: &str = "pref.";

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
