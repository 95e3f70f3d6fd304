//! The syntax of one logical LDIF line: `name: value`, `name:: base64`, `name:< url`, and
//! the small byte tests record parsing needs.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// `attr: value`
    Plain,
    /// `attr:: base64`
    Base64,
    /// `attr:< url`
    Url,
}

/// Splits a logical line into attribute description, value kind and the value text
/// (leading spaces removed).
pub(super) fn split_line(line: &[u8]) -> Result<(&[u8], ValueKind, &[u8]), &'static str> {
    // One pass finds the colon and checks the name on the way, a table lookup per byte.
    let mut colon = None;
    let mut name_ok = line.first().is_some_and(u8::is_ascii_alphanumeric);
    for (i, &b) in line.iter().enumerate() {
        match NAME_BYTES[b as usize] {
            NAME => {}
            COLON => {
                colon = Some(i);
                break;
            }
            _ => name_ok = false,
        }
    }
    let Some(colon) = colon else {
        return Err(if is_dash(line) {
            "'-' is only valid between the sections of a modify record"
        } else {
            "no colon in this line (a continuation line must start with one space)"
        });
    };
    let name = &line[..colon];
    if !name_ok {
        return Err(if line.starts_with(crate::source::encoding::UTF8_BOM) {
            "a UTF-8 byte order mark (U+FEFF) before the attribute name (concatenated files with no blank line between them?)"
        } else {
            "invalid attribute name before the colon"
        });
    }
    let rest = &line[colon + 1..];
    let (kind, rest) = match rest.first() {
        Some(b':') => (ValueKind::Base64, &rest[1..]),
        Some(b'<') => (ValueKind::Url, &rest[1..]),
        _ => (ValueKind::Plain, rest),
    };
    let skip = rest.iter().take_while(|&&b| b == b' ').count();
    Ok((name, kind, &rest[skip..]))
}

const OTHER: u8 = 0;
const NAME: u8 = 1;
const COLON: u8 = 2;

/// Bytes of an AttributeDescription (`A-Z a-z 0-9 - ; .`) and the colon after it.
static NAME_BYTES: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b';' || c == b'.' {
            t[b] = NAME;
        }
        b += 1;
    }
    t[b':' as usize] = COLON;
    t
};

/// Whether a line is `name:...` (ASCII case ignored): what `split_line` would find, cheaply.
pub(super) fn has_name(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[name.len()] == b':'
        && line[..name.len()].eq_ignore_ascii_case(name)
}

/// RFC 2849 AttributeDescription: a name or OID, then `;options`.
pub(super) fn valid_attr_desc(name: &[u8]) -> bool {
    match name.first() {
        Some(b) if b.is_ascii_alphanumeric() => name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b';' || b == b'.'),
        _ => false,
    }
}

/// Without an early exit, so it vectorises: values are short and almost never have one.
pub(super) fn has_nul_or_cr(v: &[u8]) -> bool {
    v.iter()
        .fold(false, |acc, &b| acc | (b == 0) | (b == b'\r'))
}

pub(super) fn is_dash(line: &[u8]) -> bool {
    line.first() == Some(&b'-') && line[1..].iter().all(|&b| b == b' ')
}

pub(super) fn trim_end_spaces(v: &[u8]) -> &[u8] {
    let n = v.iter().rev().take_while(|&&b| b == b' ').count();
    &v[..v.len() - n]
}

/// Names have passed `split_line`'s or `valid_attr_desc`'s check, so they are ASCII.
pub(super) fn ascii(name: &[u8]) -> &str {
    std::str::from_utf8(name).unwrap_or("?")
}
