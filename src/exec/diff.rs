//! Field-by-field comparison of a desired user with the server's, after the same
//! normalisation the servers apply, so nothing flaps night after night.

use crate::model::{Field, User};

/// The fields of `desired` that differ from `current`, among those the server stores
/// (`stored`) and, for a modify record, those it touches (`only`). Fields the source
/// says nothing about (`None`) never differ.
pub fn diff(
    stored: &[Field],
    desired: &User,
    current: &User,
    only: Option<&[Field]>,
) -> Vec<Field> {
    let wanted = |f: &Field| only.is_none_or(|o| o.contains(f));
    let mut out = Vec::new();
    for f in stored {
        if !wanted(f) {
            continue;
        }
        if differs(f, desired, current) {
            out.push(f.clone());
        }
    }
    // Custom fields: only the keys the source gives; others on the server stay.
    for (k, v) in &desired.custom_fields {
        let f = Field::Custom(k.clone());
        if !wanted(&f) && only.is_some() {
            continue;
        }
        let cur = current.custom_fields.get(k).map(|s| s.trim()).unwrap_or("");
        if v.trim() != cur {
            out.push(f);
        }
    }
    out
}

fn text_differs(d: &Option<String>, c: &Option<String>) -> bool {
    match d {
        None => false,
        Some(d) => d.trim() != c.as_deref().unwrap_or("").trim(),
    }
}

fn differs(f: &Field, d: &User, c: &User) -> bool {
    match f {
        // Both servers treat usernames and emails without regard to case.
        Field::Username => d.username.trim().to_lowercase() != c.username.trim().to_lowercase(),
        Field::Email => match &d.email {
            None => false,
            Some(e) => {
                e.trim().to_lowercase() != c.email.as_deref().unwrap_or("").trim().to_lowercase()
            }
        },
        Field::Name => text_differs(&d.name, &c.name),
        Field::FirstName => text_differs(&d.first_name, &c.first_name),
        Field::LastName => text_differs(&d.last_name, &c.last_name),
        Field::Nickname => text_differs(&d.nickname, &c.nickname),
        Field::Position => text_differs(&d.position, &c.position),
        Field::Locale => text_differs(&d.locale, &c.locale),
        Field::ExternalId => text_differs(&d.external_id, &c.external_id),
        Field::Active => d.active.is_some_and(|a| a != c.active.unwrap_or(true)),
        Field::Verified => d.verified.is_some_and(|v| v != c.verified.unwrap_or(false)),
        Field::RequirePasswordChange => d
            .require_password_change
            .is_some_and(|v| v != c.require_password_change.unwrap_or(false)),
        Field::Roles => match &d.roles {
            None => false,
            Some(r) => {
                let mut a: Vec<String> = r
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut b: Vec<String> = c.roles.clone().unwrap_or_default();
                a.sort();
                a.dedup();
                b.sort();
                b.dedup();
                a != b
            }
        },
        // Passwords cannot be read back; they are set on create only.
        Field::Password => false,
        // Not profile fields: memberships and the image have their own requests and
        // their own comparison (exec::members).
        Field::Teams | Field::Channels | Field::Avatar => false,
        Field::Custom(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, email: &str) -> User {
        User {
            username: "Ann".into(),
            email: Some(email.into()),
            name: Some(name.into()),
            ..User::default()
        }
    }

    #[test]
    fn normalised_fields_do_not_flap() {
        let stored = [
            Field::Username,
            Field::Email,
            Field::Name,
            Field::Roles,
            Field::Active,
        ];
        let mut d = u(" Ann Lee ", "Ann@X.org");
        d.username = "ann".into();
        d.roles = Some(vec!["user".into(), "admin".into()]);
        let mut c = u("Ann Lee", "ann@x.org");
        c.roles = Some(vec!["admin".into(), "user".into()]);
        c.active = Some(true);
        assert!(diff(&stored, &d, &c, None).is_empty());
        d.active = Some(false);
        d.name = Some("Ann B. Lee".into());
        assert_eq!(
            diff(&stored, &d, &c, None),
            vec![Field::Name, Field::Active]
        );
        assert_eq!(
            diff(&stored, &d, &c, Some(&[Field::Active])),
            vec![Field::Active]
        );
    }

    #[test]
    fn only_given_custom_keys_count() {
        let mut d = u("A", "a@x.org");
        let mut c = d.clone();
        c.custom_fields.insert("site".into(), "HQ".into());
        assert!(diff(&[], &d, &c, None).is_empty());
        d.custom_fields.insert("dept".into(), "IT".into());
        assert_eq!(diff(&[], &d, &c, None), vec![Field::Custom("dept".into())]);
    }
}
