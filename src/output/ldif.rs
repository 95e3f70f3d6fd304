//! LDIF writer: one `inetOrgPerson` entry per user (RFC 2849), readable back by
//! [`crate::source::ldif::LdifSource`] byte for byte.
//!
//! Field → attribute: `uid` = username (also the RDN: `uid=<username>,<base DN>`),
//! `mail` = email, `cn` = name (else username; `cn` is required), `sn` = last_name (else
//! name, else username; `sn` is required), `givenName` = first_name, `displayName` = name,
//! `title` = position, `preferredLanguage` = locale, `employeeType` = each role,
//! `employeeNumber` = external_id, `nsAccountLock: TRUE` when the user is inactive.
//! Empty strings are left out (LDAP has no empty directory strings).
//!
//! Not written, because inetOrgPerson has no home for them: nickname, verified,
//! require_password_change, custom_fields and the server id. The password is never written.
//!
//! Encoding: a value (or the DN) is written base64 (`attr:: `) when it has a non-ASCII
//! byte, NUL, CR or LF, starts with a space, `:` or `<`, or ends with a space. Lines longer
//! than 76 columns are folded (continuation lines start with one space).

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{DEFAULT_BASE_DN, UserWriter, WriterOptions};
use crate::model::User;
use crate::source::ldif::{escape_dn_value, parse_dn};

/// Longest line written; longer ones are folded.
const LINE_MAX: usize = 76;

pub struct LdifUserWriter {
    out: Box<dyn Write + Send>,
    base_dn: String,
    /// The line being built, reused.
    line: Vec<u8>,
}

impl LdifUserWriter {
    pub fn new(mut out: Box<dyn Write + Send>, opts: &WriterOptions) -> io::Result<Self> {
        let base_dn = opts
            .base_dn
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_DN.to_string());
        parse_dn(&base_dn).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid base DN '{base_dn}': {e}"),
            )
        })?;
        out.write_all(b"version: 1\n")?;
        Ok(LdifUserWriter {
            out,
            base_dn,
            line: Vec::with_capacity(128),
        })
    }

    /// Writes `name: value` (or `name:: base64`), folded.
    fn attr(&mut self, name: &str, value: &[u8]) -> io::Result<()> {
        write_attr_into(&mut self.out, &mut self.line, name, value)
    }

    fn opt(&mut self, name: &str, value: Option<&str>) -> io::Result<()> {
        match value {
            Some(v) if !v.is_empty() => self.attr(name, v.as_bytes()),
            _ => Ok(()),
        }
    }
}

/// Writes one attribute line, `name: value` or `name:: base64` as RFC 2849 requires,
/// folded at 76 columns. `line` is a scratch buffer.
pub fn write_attr_into(
    out: &mut dyn Write,
    line: &mut Vec<u8>,
    name: &str,
    value: &[u8],
) -> io::Result<()> {
    line.clear();
    line.extend_from_slice(name.as_bytes());
    if needs_base64(value) {
        line.extend_from_slice(b":: ");
        let mut enc = String::new();
        BASE64.encode_string(value, &mut enc);
        line.extend_from_slice(enc.as_bytes());
    } else {
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
    }
    write_folded(out, line)
}

/// Whether RFC 2849 requires (or roster prefers) base64 for this value.
fn needs_base64(v: &[u8]) -> bool {
    matches!(v.first(), Some(b' ' | b':' | b'<'))
        || v.last() == Some(&b' ')
        || v.iter()
            .any(|&b| b >= 0x80 || b == 0 || b == b'\r' || b == b'\n')
}

/// Writes a line folded at [`LINE_MAX`] columns. Values longer than one line are ASCII
/// here (non-ASCII is base64), so byte folding never splits a character.
fn write_folded(out: &mut dyn Write, line: &[u8]) -> io::Result<()> {
    let (first, mut rest) = line.split_at(line.len().min(LINE_MAX));
    out.write_all(first)?;
    out.write_all(b"\n")?;
    while !rest.is_empty() {
        let (chunk, r) = rest.split_at(rest.len().min(LINE_MAX - 1));
        out.write_all(b" ")?;
        out.write_all(chunk)?;
        out.write_all(b"\n")?;
        rest = r;
    }
    Ok(())
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl UserWriter for LdifUserWriter {
    fn write(&mut self, user: &User) -> io::Result<()> {
        if user.username.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: user has an empty username; no DN can be made",
                    user.origin
                ),
            ));
        }
        let rdn = escape_dn_value(&user.username);
        let dn = if self.base_dn.is_empty() {
            format!("uid={rdn}")
        } else {
            format!("uid={rdn},{}", self.base_dn)
        };
        self.out.write_all(b"\n")?;
        self.attr("dn", dn.as_bytes())?;
        for oc in ["top", "person", "organizationalPerson", "inetOrgPerson"] {
            self.attr("objectClass", oc.as_bytes())?;
        }
        self.attr("uid", user.username.as_bytes())?;
        self.opt("mail", non_empty(&user.email))?;
        let name = non_empty(&user.name);
        let cn = name.unwrap_or(&user.username);
        self.attr("cn", cn.as_bytes())?;
        let sn = non_empty(&user.last_name)
            .or(name)
            .unwrap_or(&user.username);
        self.attr("sn", sn.as_bytes())?;
        self.opt("givenName", non_empty(&user.first_name))?;
        self.opt("displayName", name)?;
        self.opt("title", non_empty(&user.position))?;
        self.opt("preferredLanguage", non_empty(&user.locale))?;
        for role in user.roles.iter().flatten() {
            self.opt("employeeType", Some(role))?;
        }
        self.opt("employeeNumber", non_empty(&user.external_id))?;
        if user.active == Some(false) {
            self.attr("nsAccountLock", b"TRUE")?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_76_columns() {
        let mut out = Vec::new();
        let line = vec![b'x'; 200];
        write_folded(&mut out, &line).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].len(), 76);
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.starts_with(' ') && l.len() <= 76)
        );
        let joined: String = std::iter::once(lines[0])
            .chain(lines[1..].iter().map(|l| &l[1..]))
            .collect();
        assert_eq!(joined.as_bytes(), &line[..]);
    }

    #[test]
    fn base64_rules() {
        assert!(!needs_base64(b"Barbara Jensen"));
        for v in [
            &b" x"[..],
            b"x ",
            b":x",
            b"<x",
            b"a\nb",
            b"a\rb",
            b"a\0b",
            "é".as_bytes(),
        ] {
            assert!(needs_base64(v), "{v:?}");
        }
    }
}
