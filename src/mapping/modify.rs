//! LDIF modify records: which fields a change touches (those whose rules read a changed
//! attribute), and the clearing of fields whose attributes were deleted.

use std::collections::BTreeSet;

use super::defaults::ACTIVE_ATTRS;
use super::{Mapping, Rule};
use crate::model::{Field, Intent, ModKind, Problem, User};

impl Mapping {
    /// A modify record touches only the fields whose rules read an attribute the
    /// record changes; deleted attributes clear their fields.
    pub(super) fn modify_intent(
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
