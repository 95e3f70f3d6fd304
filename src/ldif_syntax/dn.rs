//! Distinguished names (RFC 4514): parsing, walking and escaping.
//!
//! The LDIF reader uses it for the RDN attributes of every record and the LDIF writer for
//! the DNs it builds, so it lives below both and imports neither.

use std::borrow::Cow;

/// Parses a DN into RDNs of `(attribute type, value)` pairs, values unescaped.
///
/// Follows RFC 4514 (escapes `\,` `\+` `\\` ..., hex pairs `\23`, `#hex` BER values,
/// multi-valued RDNs with `+`), and like most LDAP libraries also accepts spaces around
/// `,` `+` `=` and `;` as RDN separator (RFC 2253/1779 habits). A `#hex` value that is a
/// BER string is decoded; any other is returned as written. The empty DN has no RDNs.
pub fn parse_dn(dn: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    walk_dn(dn, |rdn, ty, value| {
        if out.len() <= rdn {
            out.push(Vec::new());
        }
        out[rdn].push((ty.to_string(), value.into_owned()));
    })?;
    Ok(out)
}

/// Escapes an attribute value for a DN (RFC 4514): `"+,;<>\` anywhere, `#` or space at the
/// start, space at the end, and control characters as hex pairs (so a DN stays one line).
pub fn escape_dn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let last = v.len().saturating_sub(1);
    for (i, c) in v.char_indices() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_ascii_control() => {
                out.push_str(&format!("\\{:02x}", c as u8));
            }
            c => out.push(c),
        }
    }
    out
}

/// Walks a DN, calling `f(rdn index, type, value)` for each attribute value assertion.
/// Values without escapes are borrowed, so reading a record costs no allocation here.
pub fn walk_dn<'a>(
    dn: &'a str,
    mut f: impl FnMut(usize, &'a str, Cow<'a, str>),
) -> Result<(), String> {
    let b = dn.as_bytes();
    let n = b.len();
    let skip_spaces = |mut i: usize| {
        while i < n && b[i] == b' ' {
            i += 1;
        }
        i
    };
    let mut i = skip_spaces(0);
    if i == n {
        return Ok(());
    }
    let mut rdn = 0;
    loop {
        i = skip_spaces(i);
        // Attribute type: a keystring or a numeric OID.
        let ts = i;
        if i < n && b[i].is_ascii_alphabetic() {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
                i += 1;
            }
        } else if i < n && b[i].is_ascii_digit() {
            loop {
                if i < n && b[i] == b'0' {
                    i += 1;
                } else if i < n && b[i].is_ascii_digit() {
                    while i < n && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    return Err(format!("invalid numeric OID at position {}", i + 1));
                }
                if i < n && b[i] == b'.' {
                    i += 1;
                } else {
                    break;
                }
            }
            if i < n && b[i].is_ascii_alphanumeric() {
                return Err(format!("invalid numeric OID at position {}", ts + 1));
            }
        } else {
            return Err(if i >= n {
                "missing attribute type at the end (trailing separator?)".to_string()
            } else {
                format!("expected an attribute type at position {}", i + 1)
            });
        }
        let ty = &dn[ts..i];
        i = skip_spaces(i);
        if i >= n || b[i] != b'=' {
            return Err(format!("expected '=' after attribute type {ty}"));
        }
        i = skip_spaces(i + 1);

        // Value.
        let value: Cow<'a, str>;
        if i < n && b[i] == b'#' {
            let hs = i + 1;
            i = hs;
            while i < n && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            let hex = &dn[hs..i];
            if hex.is_empty() || !hex.len().is_multiple_of(2) {
                return Err(format!("invalid #hex value for {ty}"));
            }
            let end = skip_spaces(i);
            if end < n && !matches!(b[end], b',' | b';' | b'+') {
                return Err(format!("invalid #hex value for {ty}"));
            }
            value = match ber_string(hex) {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(&dn[hs - 1..i]),
            };
            i = end;
        } else {
            let vs = i;
            let mut escaped = false;
            while i < n {
                match b[i] {
                    b',' | b';' | b'+' => break,
                    b'\\' => {
                        escaped = true;
                        if i + 1 < n && is_dn_special(b[i + 1]) {
                            i += 2;
                        } else if i + 2 < n
                            && b[i + 1].is_ascii_hexdigit()
                            && b[i + 2].is_ascii_hexdigit()
                        {
                            i += 3;
                        } else {
                            return Err(format!("invalid escape in the value of {ty}"));
                        }
                    }
                    c @ (b'"' | b'<' | b'>' | 0) => {
                        return Err(format!(
                            "unescaped {} in the value of {ty}",
                            if c == 0 {
                                "NUL".to_string()
                            } else {
                                format!("'{}'", c as char)
                            }
                        ));
                    }
                    _ => i += 1,
                }
            }
            let raw = &dn[vs..i];
            value =
                if escaped {
                    Cow::Owned(unescape_dn_value(raw).ok_or_else(|| {
                        format!("escaped bytes in the value of {ty} are not UTF-8")
                    })?)
                } else {
                    Cow::Borrowed(raw.trim_end_matches(' '))
                };
        }
        f(rdn, ty, value);
        if i >= n {
            return Ok(());
        }
        match b[i] {
            b'+' => {}
            _ => rdn += 1,
        }
        i += 1;
    }
}

fn is_dn_special(c: u8) -> bool {
    matches!(
        c,
        b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | b' ' | b'#' | b'='
    )
}

/// Unescapes a checked DN value, dropping unescaped trailing spaces.
fn unescape_dn_value(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut keep = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if is_dn_special(b[i + 1]) {
                out.push(b[i + 1]);
                i += 2;
            } else {
                out.push(hex_val(b[i + 1]) << 4 | hex_val(b[i + 2]));
                i += 3;
            }
            keep = out.len();
        } else {
            out.push(b[i]);
            if b[i] != b' ' {
                keep = out.len();
            }
            i += 1;
        }
    }
    out.truncate(keep);
    String::from_utf8(out).ok()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Decodes a `#hex` DN value holding a BER string (OCTET STRING, UTF8String, PrintableString,
/// T61String, IA5String, VisibleString) with a definite length.
fn ber_string(hex: &str) -> Option<String> {
    let bytes: Vec<u8> = hex
        .as_bytes()
        .chunks(2)
        .map(|p| hex_val(p[0]) << 4 | hex_val(p[1]))
        .collect();
    let (&tag, rest) = bytes.split_first()?;
    if !matches!(tag, 0x04 | 0x0c | 0x13 | 0x14 | 0x16 | 0x1a) {
        return None;
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, body) = match l0 {
        0..=0x7f => (l0 as usize, rest),
        0x81 => (*rest.first()? as usize, &rest[1..]),
        0x82 if rest.len() >= 2 => ((rest[0] as usize) << 8 | rest[1] as usize, &rest[2..]),
        _ => return None,
    };
    if body.len() != len {
        return None;
    }
    String::from_utf8(body.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_escapes_and_multivalued_rdns() {
        let d = parse_dn("OU=Sales+CN=J. Smith,DC=example,DC=net").unwrap();
        assert_eq!(
            d[0],
            vec![
                ("OU".into(), "Sales".into()),
                ("CN".into(), "J. Smith".into())
            ]
        );
        assert_eq!(d.len(), 3);
        let d = parse_dn("CN=\\23John Smith\\20,DC=example").unwrap();
        assert_eq!(d[0][0].1, "#John Smith ");
        let d = parse_dn("1.3.6.1.4.1.1466.0=#04024869,DC=example,DC=com").unwrap();
        assert_eq!(d[0][0], ("1.3.6.1.4.1.1466.0".into(), "Hi".into()));
        assert_eq!(parse_dn("").unwrap(), Vec::<Vec<(String, String)>>::new());
        assert_eq!(parse_dn("uid=a , dc=b").unwrap()[0][0].1, "a");
    }

    #[test]
    fn escape_round_trips() {
        for v in [
            " a ",
            "#x",
            "a,b+c;d<e>f\"g\\h",
            "line\nbreak",
            "",
            " ",
            "Lučić =x",
        ] {
            let dn = format!("uid={},dc=x", escape_dn_value(v));
            assert_eq!(parse_dn(&dn).unwrap()[0][0].1, v, "{dn}");
        }
    }
}
