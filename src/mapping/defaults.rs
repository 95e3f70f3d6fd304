//! The built-in rules: the column and attribute names CSV exports, OpenLDAP, Active
//! Directory and 389-DS use for each field, and the account state each of them encodes its
//! own way. A configured template replaces these for its field.

use super::template::{Located, Lookup, text_of};
use crate::model::Problem;

/// Default rules: templates tried in order until one yields a value.
pub(super) const DEFAULTS: &[(&str, &[&str])] = &[
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
    ("teams", &["{teams|team}"]),
    ("channels", &["{channels|channel}"]),
    // The directory's photo (binary), or a URL or path in a column.
    (
        "avatar",
        &["{avatar|avatar_url|avatarUrl|jpegPhoto|thumbnailPhoto|photo}"],
    ),
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
pub(super) const ACTIVE_ATTRS: &[&str] = &[
    "active",
    "enabled",
    "disabled",
    "userAccountControl",
    "nsAccountLock",
    "pwdAccountLockedTime",
];

/// The AD userAccountControl bit ACCOUNTDISABLE.
const UAC_ACCOUNTDISABLE: u64 = 0x2;

/// `true/false`, `yes/no`, `y/n`, `1/0`, `on/off`, `t/f`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "t" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "f" => Some(false),
        _ => None,
    }
}

/// Account state from the attributes directories and exports use: an `active`,
/// `enabled` or `disabled` column, AD's userAccountControl ACCOUNTDISABLE bit,
/// 389-DS/OpenLDAP `nsAccountLock`, ppolicy `pwdAccountLockedTime`.
pub(super) fn active_default(
    attrs: &Located<'_>,
    slots: &[usize],
) -> Result<Option<bool>, Problem> {
    let first = |name: &str| -> Result<Option<String>, Problem> {
        let slot = ACTIVE_ATTRS
            .iter()
            .position(|a| *a == name)
            .and_then(|i| slots.get(i).copied());
        for v in attrs.values(name, slot).unwrap_or_default() {
            let t = text_of(name, v).map_err(|e| e.problem("active"))?.trim();
            if !t.is_empty() {
                return Ok(Some(t.to_string()));
            }
        }
        Ok(None)
    };
    let bad = |name: &str, v: &str| {
        Problem::new(
            "active",
            format!("{name} {v:?} is not a boolean (true/false, yes/no, 1/0)"),
        )
    };
    if let Some(v) = first("active")? {
        return parse_bool(&v).map(Some).ok_or_else(|| bad("active", &v));
    }
    if let Some(v) = first("enabled")? {
        return parse_bool(&v).map(Some).ok_or_else(|| bad("enabled", &v));
    }
    if let Some(v) = first("disabled")? {
        return parse_bool(&v)
            .map(|b| Some(!b))
            .ok_or_else(|| bad("disabled", &v));
    }
    if let Some(v) = first("userAccountControl")? {
        // AD writes it as a signed 32-bit decimal; negative values happen.
        let n = v.parse::<i64>().map_err(|_| {
            Problem::new(
                "active",
                format!("userAccountControl {v:?} is not a number"),
            )
        })?;
        return Ok(Some((n as u64) & UAC_ACCOUNTDISABLE == 0));
    }
    if let Some(v) = first("nsAccountLock")? {
        return parse_bool(&v)
            .map(|locked| Some(!locked))
            .ok_or_else(|| bad("nsAccountLock", &v));
    }
    if first("pwdAccountLockedTime")?.is_some() {
        return Ok(Some(false));
    }
    Ok(None)
}
