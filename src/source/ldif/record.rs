//! LDIF record parsing: content records and change records (`changetype:` add, delete,
//! modify; `modrdn`/`moddn` are reported as unsupported), from a block's logical lines.
//!
//! The DN is kept in [`RawRecord::dn`] and its first RDN's values are added to the
//! attributes when the entry lacks that attribute (LDAP semantics: the RDN is part of the
//! entry). Error messages name lines and attributes but never quote values, which may be
//! passwords.

use std::borrow::Cow;

use base64::Engine as _;

use super::block::LLine;
use super::line::{
    ValueKind, ascii, has_name, has_nul_or_cr, is_dash, split_line, trim_end_spaces,
    valid_attr_desc,
};
use super::value::{BASE64, Ctx, decode_value};
use crate::ldif_syntax::dn::walk_dn;
use crate::model::{
    AttrsBuilder, BadRecord, Change, FieldValue, ModKind, ModOp, Origin, Problem, RawRecord,
    RawText,
};
use crate::source::SourceItem;
use crate::source::values::attr_value;

fn ll<'a>(text: &'a [u8], l: &LLine) -> &'a [u8] {
    &text[l.start..l.end]
}

/// Parses one record: `lines[0]` is its `dn:` line.
pub(super) fn parse_record(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    origin: Origin,
    raw: String,
) -> SourceItem {
    let mut problems = Vec::new();
    let dn = match decode_dn(ll(text, &lines[0])) {
        Ok(dn) => Some(dn),
        Err(e) => {
            problems.push(Problem::new("dn", format!("line {}: {e}", lines[0].line)));
            None
        }
    };

    let mut rest = &lines[1..];
    let mut controls = None;
    while let Some(l) = rest.first()
        && has_name(ll(text, l), b"control")
    {
        // RFC 2849 controls are accepted and ignored: roster sends no LDAP operations.
        controls.get_or_insert(l.line);
        rest = &rest[1..];
    }
    let mut changetype = None;
    if let Some(l) = rest.first()
        && has_name(ll(text, l), b"changetype")
        && let Ok((_, kind, value)) = split_line(ll(text, l))
    {
        let v = match kind {
            ValueKind::Plain => String::from_utf8_lossy(trim_end_spaces(value)).into_owned(),
            ValueKind::Base64 => BASE64
                .decode(trim_end_spaces(value))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            ValueKind::Url => String::new(),
        };
        changetype = Some((v.to_ascii_lowercase(), l.line));
        rest = &rest[1..];
    }
    if changetype.is_none()
        && let Some(line) = controls
    {
        problems.push(Problem::record(format!(
            "line {line}: control: is only allowed in a change record (before changetype:)"
        )));
    }

    let mut attrs = AttrsBuilder::with_capacity(lines.len());
    let change = match changetype.as_ref().map(|(c, l)| (c.as_str(), *l)) {
        None | Some(("add", _)) => {
            parse_attrvals(ctx, text, rest, &mut attrs, &mut problems);
            if attrs.is_empty() && problems.is_empty() {
                problems.push(Problem::record(if changetype.is_some() {
                    "changetype add with no attributes"
                } else {
                    "entry has no attributes"
                }));
            }
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Entry
        }
        Some(("delete", _)) => {
            if let Some(l) = rest.first() {
                problems.push(Problem::record(format!(
                    "line {}: a changetype delete record takes no further lines",
                    l.line
                )));
            }
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Delete
        }
        Some(("modify", _)) => {
            if let Some(dn) = &dn {
                rdn_attrs(dn, &mut attrs, &mut problems);
            }
            Change::Modify(parse_modify(ctx, text, rest, &mut attrs, &mut problems))
        }
        Some((c @ ("modrdn" | "moddn"), _)) => {
            problems.push(Problem::record(format!("changetype {c} is not supported")));
            Change::Entry
        }
        Some((_, line)) => {
            problems.push(Problem::record(format!(
                "line {line}: unknown changetype (expected add, delete, modify, modrdn or moddn)"
            )));
            Change::Entry
        }
    };

    if problems.is_empty() {
        SourceItem::Record(RawRecord {
            origin,
            dn,
            change,
            attrs: attrs.finish(),
            raw: RawText::Text(raw),
            url_values: ctx.url_values.take(),
        })
    } else {
        SourceItem::Bad(BadRecord {
            origin,
            raw: RawText::Text(raw),
            problems,
            partial: None,
        })
    }
}

/// The DN of a `dn:` or `dn::` line.
fn decode_dn(line: &[u8]) -> Result<String, String> {
    let (_, kind, value) = split_line(line).map_err(str::to_string)?;
    let bytes = match kind {
        ValueKind::Plain => Cow::Borrowed(value),
        ValueKind::Base64 => Cow::Owned(
            BASE64
                .decode(trim_end_spaces(value))
                .map_err(|e| format!("base64 DN does not decode ({e})"))?,
        ),
        ValueKind::Url => return Err("a DN cannot be given as a URL (dn:<)".into()),
    };
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err("DN is not valid UTF-8".into()),
    }
}

/// Adds the first RDN's values to `attrs` for attributes it does not have yet.
fn rdn_attrs(dn: &str, attrs: &mut AttrsBuilder, problems: &mut Vec<Problem>) {
    let mut add: Vec<(String, String)> = Vec::new();
    let res = walk_dn(dn, |rdn, ty, value| {
        if rdn == 0 && !attrs.contains(ty) {
            add.push((ty.to_string(), value.into_owned()));
        }
    });
    match res {
        Ok(()) => {
            for (ty, v) in add {
                attrs.push(&ty, FieldValue::Text(v));
            }
        }
        Err(e) => problems.push(Problem::new("dn", format!("invalid DN: {e}"))),
    }
}

/// Attribute lines of a content or add record.
fn parse_attrvals(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    attrs: &mut AttrsBuilder,
    problems: &mut Vec<Problem>,
) {
    for l in lines {
        let (name, kind, value) = match split_line(ll(text, l)) {
            Ok(x) => x,
            Err(e) => {
                problems.push(Problem::record(format!("line {}: {e}", l.line)));
                continue;
            }
        };
        if name.eq_ignore_ascii_case(b"dn") {
            problems.push(Problem::record(format!(
                "line {}: a second dn: inside one record (is the blank line before it missing?)",
                l.line
            )));
            return;
        }
        if name.eq_ignore_ascii_case(b"changetype") || name.eq_ignore_ascii_case(b"control") {
            problems.push(Problem::record(format!(
                "line {}: {}: must come right after the dn: line",
                l.line,
                ascii(name)
            )));
            continue;
        }
        let attr = ascii(name);
        if kind == ValueKind::Plain && !has_nul_or_cr(value) {
            // The common case, without decode_value's Result.
            attrs.push(attr, attr_value(attr, value.to_vec()));
            continue;
        }
        match decode_value(ctx, kind, value, attr, l.line) {
            Ok(bytes) => attrs.push(attr, attr_value(attr, bytes)),
            Err(p) => problems.push(p),
        }
    }
}

/// The sections of a modify record. Values of add and replace go into `attrs` too.
fn parse_modify(
    ctx: &Ctx,
    text: &[u8],
    lines: &[LLine],
    attrs: &mut AttrsBuilder,
    problems: &mut Vec<Problem>,
) -> Vec<ModOp> {
    let mut ops = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        let bytes = ll(text, l);
        if is_dash(bytes) {
            problems.push(Problem::record(format!(
                "line {}: '-' with no add:, delete:, replace: or increment: section before it",
                l.line
            )));
            return ops;
        }
        let (kw, kkind, kval) = match split_line(bytes) {
            Ok(x) => x,
            Err(e) => {
                problems.push(Problem::record(format!("line {}: {e}", l.line)));
                return ops;
            }
        };
        let Some(kind) = is_mod_keyword(kw) else {
            problems.push(Problem::record(format!(
                "line {}: expected add:, delete:, replace: or increment: in a modify record, found {}:",
                l.line,
                ascii(kw)
            )));
            return ops;
        };
        let attr_name = trim_end_spaces(kval);
        if kkind != ValueKind::Plain || !valid_attr_desc(attr_name) {
            problems.push(Problem::record(format!(
                "line {}: {}: must name an attribute",
                l.line,
                ascii(kw)
            )));
            return ops;
        }
        let attr = ascii(attr_name).to_string();
        let kw = ascii(kw).to_ascii_lowercase();
        let section_line = l.line;
        i += 1;
        let mut values = Vec::new();
        while i < lines.len() {
            let l = &lines[i];
            let bytes = ll(text, l);
            if is_dash(bytes) {
                i += 1;
                break;
            }
            let (name, vkind, value) = match split_line(bytes) {
                Ok(x) => x,
                Err(e) => {
                    problems.push(Problem::record(format!("line {}: {e}", l.line)));
                    return ops;
                }
            };
            if !name.eq_ignore_ascii_case(attr.as_bytes()) {
                problems.push(Problem::record(if is_mod_keyword(name).is_some() {
                    format!(
                        "line {}: missing '-' before this line to end the '{kw}: {attr}' section of line {section_line}",
                        l.line
                    )
                } else {
                    format!(
                        "line {}: attribute {} does not match the '{kw}: {attr}' section of line {section_line}",
                        l.line,
                        ascii(name)
                    )
                }));
                return ops;
            }
            match decode_value(ctx, vkind, value, &attr, l.line) {
                Ok(b) => values.push(attr_value(&attr, b)),
                Err(p) => problems.push(p),
            }
            i += 1;
        }
        if matches!(kind, ModKind::Add | ModKind::Replace) {
            for v in &values {
                attrs.push(&attr, v.clone());
            }
        }
        ops.push(ModOp { kind, attr, values });
    }
    ops
}

fn is_mod_keyword(name: &[u8]) -> Option<ModKind> {
    if name.eq_ignore_ascii_case(b"add") {
        Some(ModKind::Add)
    } else if name.eq_ignore_ascii_case(b"delete") {
        Some(ModKind::Delete)
    } else if name.eq_ignore_ascii_case(b"replace") {
        Some(ModKind::Replace)
    } else if name.eq_ignore_ascii_case(b"increment") {
        Some(ModKind::Increment)
    } else {
        None
    }
}
