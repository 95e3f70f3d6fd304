//! LDIF writer: one `inetOrgPerson` entry per user (RFC 2849), readable back by
//! [`crate::source::ldif::LdifSource`] byte for byte.
//!
//! Field → attribute: `uid` = username (also the RDN: `uid=<username>,<base DN>`),
//! `mail` = email, `cn` = name (else username; `cn` is required), `sn` = last_name (else
//! name, else username; `sn` is required), `givenName` = first_name, `displayName` = name,
//! `title` = position, `preferredLanguage` = locale, `employeeType` = each role,
//! `employeeNumber` = external_id, `jpegPhoto` = an avatar image (whatever its format:
//! directories hold PNGs there too), `nsAccountLock: TRUE` when the user is inactive.
//! Empty strings are left out (LDAP has no empty directory strings).
//!
//! Not written, because inetOrgPerson has no home for them: nickname, verified,
//! require_password_change, custom_fields, teams, channels, an avatar given as a URL or a
//! path, and the server id. The password is never written.
//!
//! Values are encoded by [`crate::ldif_syntax::attr_line`] (base64 when RFC 2849 requires
//! it, folded at 76 columns), the code the LDAP spool and the rejects file use too.

use std::io::{self, Write};

use super::{DEFAULT_BASE_DN, UserWriter, WriterOptions};
use crate::ldif_syntax::{escape_dn_value, parse_dn, write_attr_into};
use crate::model::User;

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
        if let Some(crate::model::Avatar::Image(b)) = &user.avatar {
            self.attr("jpegPhoto", b)?;
        }
        if user.active == Some(false) {
            self.attr("nsAccountLock", b"TRUE")?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}
