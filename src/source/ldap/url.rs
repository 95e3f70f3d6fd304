//! LDAP URLs (RFC 4516) and the search they describe once flags are applied.
//!
//! `ldap[s]://host[:port][/dn[?attrs[?scope[?filter[?extensions]]]]]`: each part is
//! percent-decoded. Flags and the job file's `[source]` table override the URL's parts.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::LdapOptions;
use super::error::LdapSourceError;

/// `ldap://` or `ldaps://`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdapScheme {
    Ldap,
    Ldaps,
}

impl LdapScheme {
    pub fn name(self) -> &'static str {
        match self {
            LdapScheme::Ldap => "ldap",
            LdapScheme::Ldaps => "ldaps",
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            LdapScheme::Ldap => 389,
            LdapScheme::Ldaps => 636,
        }
    }
}

/// Search scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdapScope {
    /// The base entry only.
    Base,
    /// The base's children.
    One,
    /// The base and everything under it.
    Sub,
}

impl LdapScope {
    /// `base`, `one` (`onelevel`) or `sub` (`subtree`), ASCII case ignored.
    pub fn parse(s: &str) -> Option<LdapScope> {
        match s.trim().to_ascii_lowercase().as_str() {
            "base" => Some(LdapScope::Base),
            "one" | "onelevel" => Some(LdapScope::One),
            "sub" | "subtree" => Some(LdapScope::Sub),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LdapScope::Base => "base",
            LdapScope::One => "one",
            LdapScope::Sub => "sub",
        }
    }
    pub(crate) fn to_ldap3(self) -> ldap3::Scope {
        match self {
            LdapScope::Base => ldap3::Scope::Base,
            LdapScope::One => ldap3::Scope::OneLevel,
            LdapScope::Sub => ldap3::Scope::Subtree,
        }
    }
}

impl fmt::Display for LdapScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One URL extension (`[!]type[=value]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlExtension {
    /// Marked `!`: the client must understand it or refuse the URL.
    pub critical: bool,
    pub name: String,
    pub value: Option<String>,
}

/// An LDAP URL split into its (percent-decoded) parts. Absent or empty parts are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapUrl {
    pub scheme: LdapScheme,
    /// As written, without brackets for IPv6; empty when the URL names no host.
    pub host: String,
    pub port: Option<u16>,
    pub dn: Option<String>,
    pub attrs: Option<Vec<String>>,
    pub scope: Option<LdapScope>,
    pub filter: Option<String>,
    pub extensions: Vec<UrlExtension>,
}

impl LdapUrl {
    /// Parses an RFC 4516 URL. The only extension understood is `bindname` / `e-bindname`
    /// (the bind DN); other critical extensions are refused, other non-critical ones ignored.
    pub fn parse(url: &str) -> Result<LdapUrl, LdapSourceError> {
        let bad = |m: String| LdapSourceError::Url(m);
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(format!("{url} does not start with ldap:// or ldaps://")))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ldap" => LdapScheme::Ldap,
            "ldaps" => LdapScheme::Ldaps,
            other => {
                return Err(bad(format!(
                    "scheme {other}:// is not supported; use ldap:// (optionally with \
                     --starttls) or ldaps://"
                )));
            }
        };
        // The host part ends at the first `/`; a `?` right after the host is read as an
        // empty DN, which RFC 4516 does not allow but people write.
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let hostport = &rest[..host_end];
        let tail = rest[host_end..]
            .strip_prefix('/')
            .unwrap_or(&rest[host_end..]);
        if hostport.contains('@') {
            // Never echo this part: it may hold a password.
            return Err(bad(
                "user names and passwords do not belong in the URL; use --bind-dn and \
                 ROSTER_LDAP_PASSWORD or ROSTER_LDAP_PASSWORD_FILE"
                    .into(),
            ));
        }
        let (host, port) = split_host_port(hostport).map_err(bad)?;

        let parts: Vec<&str> = if tail.is_empty() {
            Vec::new()
        } else {
            tail.split('?').collect()
        };
        if parts.len() > 5 {
            return Err(bad(format!(
                "{url} has more than four `?` separators (dn?attributes?scope?filter?extensions); \
                 write a literal ? as %3F"
            )));
        }
        let part = |i: usize| -> Result<Option<String>, LdapSourceError> {
            match parts.get(i) {
                None => Ok(None),
                Some(&"") => Ok(None),
                Some(p) => decode(p, PART_NAMES[i]).map(Some),
            }
        };

        let dn = part(0)?;
        let attrs = match parts.get(1).filter(|p| !p.is_empty()) {
            None => None,
            Some(list) => {
                let mut v = Vec::new();
                for a in list.split(',') {
                    let a = decode(a, "attribute")?;
                    let a = a.trim();
                    if a.is_empty() {
                        return Err(bad(format!("empty attribute name in the list {list:?}")));
                    }
                    v.push(a.to_string());
                }
                Some(v)
            }
        };
        let scope = match part(2)? {
            None => None,
            Some(s) => Some(
                LdapScope::parse(&s)
                    .ok_or_else(|| bad(format!("scope must be base, one or sub, not {s:?}")))?,
            ),
        };
        let filter = part(3)?;
        let mut extensions = Vec::new();
        if let Some(exts) = parts.get(4).filter(|p| !p.is_empty()) {
            for e in exts.split(',') {
                let (critical, e) = match e.strip_prefix('!') {
                    Some(e) => (true, e),
                    None => (false, e),
                };
                let (name, value) = match e.split_once('=') {
                    Some((n, v)) => (decode(n, "extension")?, Some(decode(v, "extension")?)),
                    None => (decode(e, "extension")?, None),
                };
                let name = name.trim().to_string();
                if name.is_empty() {
                    return Err(bad("empty extension name".into()));
                }
                let known = is_bindname(&name);
                if critical && !known {
                    return Err(bad(format!(
                        "the URL requires the extension {name}, which roster does not support"
                    )));
                }
                extensions.push(UrlExtension {
                    critical,
                    name,
                    value,
                });
            }
        }
        Ok(LdapUrl {
            scheme,
            host,
            port,
            dn,
            attrs,
            scope,
            filter,
            extensions,
        })
    }

    /// The `bindname` (RFC 2255) or `e-bindname` (RFC 4516) extension's value, if any.
    pub fn bind_name(&self) -> Option<&str> {
        self.extensions
            .iter()
            .find(|e| is_bindname(&e.name))
            .and_then(|e| e.value.as_deref())
    }
}

fn is_bindname(name: &str) -> bool {
    name.eq_ignore_ascii_case("bindname") || name.eq_ignore_ascii_case("e-bindname")
}

const PART_NAMES: [&str; 5] = ["DN", "attributes", "scope", "filter", "extensions"];

fn decode(s: &str, what: &str) -> Result<String, LdapSourceError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| {
            LdapSourceError::Url(format!("the {what} part is not UTF-8 once percent-decoded"))
        })
}

fn split_host_port(hp: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in host {hp:?}"))?;
        match after {
            "" => (h, None),
            p => match p.strip_prefix(':') {
                Some(p) => (h, Some(p)),
                None => return Err(format!("unexpected {p:?} after the IPv6 address")),
            },
        }
    } else {
        match hp.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hp, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("port {p:?} is not a number from 1 to 65535")),
        },
    };
    let host = percent_decode_str(host)
        .decode_utf8()
        .map_err(|_| "the host is not UTF-8 once percent-decoded".to_string())?
        .into_owned();
    Ok((host, port))
}

/// What a search asks for when neither the URL nor the options say:
/// people in all the usual schemas (OpenLDAP/AD `person`, 389-DS `nsPerson`,
/// NIS `posixAccount`). Unknown object classes are harmless inside an OR: a server that
/// lacks one treats that branch as false. (A NOT of an unknown class is not harmless:
/// OpenLDAP evaluates it to Undefined and returns nothing.)
pub const DEFAULT_FILTER: &str =
    "(|(objectClass=person)(objectClass=nsPerson)(objectClass=posixAccount))";

/// Attributes fetched by default: all user attributes, plus operational identity and lock
/// attributes, which `*` does not return. Unknown names are ignored by servers.
pub const DEFAULT_ATTRS: [&str; 7] = [
    "*",
    "entryUUID",
    "nsUniqueId",
    "objectGUID",
    "nsAccountLock",
    "pwdAccountLockedTime",
    "userAccountControl",
];

/// Always added to an explicit attribute list, so that external_id and active keep their
/// defaults and AD computer accounts can be recognised.
pub const ALWAYS_ATTRS: [&str; 7] = [
    "objectClass",
    "entryUUID",
    "nsUniqueId",
    "objectGUID",
    "nsAccountLock",
    "pwdAccountLockedTime",
    "userAccountControl",
];

pub const DEFAULT_PAGE_SIZE: u32 = 500;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The search to run: the URL with options and defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchSpec {
    pub scheme: LdapScheme,
    /// Host to connect to (`localhost` when the URL names none).
    pub host: String,
    pub port: u16,
    /// `None`: the URL and options give none; the source asks the server (root DSE).
    pub base: Option<String>,
    pub scope: LdapScope,
    pub filter: String,
    /// The filter is [`DEFAULT_FILTER`]: AD computer accounts are then left out.
    pub default_filter: bool,
    pub attrs: Vec<String>,
    /// Paged-results page size; `None` = no paging (`no_paging`).
    pub page_size: Option<u32>,
    pub starttls: bool,
    /// `None` = anonymous bind.
    pub bind_dn: Option<String>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Non-critical URL extensions that were ignored.
    pub ignored_extensions: Vec<String>,
}

impl SearchSpec {
    /// Parses `url` and applies `opts` (which win over the URL) and the defaults.
    pub fn new(url: &str, opts: &LdapOptions) -> Result<SearchSpec, LdapSourceError> {
        let u = LdapUrl::parse(url)?;
        let opt = |m: String| LdapSourceError::BadOption(m);

        let host = if u.host.is_empty() {
            "localhost".to_string()
        } else {
            u.host.clone()
        };
        let port = u.port.unwrap_or(u.scheme.default_port());
        let base = match &opts.base {
            Some(b) => Some(b.trim().to_string()),
            None => u.dn.clone(),
        };
        let scope = match &opts.scope {
            Some(s) => LdapScope::parse(s)
                .ok_or_else(|| opt(format!("--scope must be base, one or sub, not {s:?}")))?,
            // RFC 4516 defaults to base, which would read one entry: roster reads people.
            None => u.scope.unwrap_or(LdapScope::Sub),
        };
        let given_filter = opts
            .filter
            .clone()
            .or_else(|| u.filter.clone())
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty());
        let default_filter = given_filter.is_none();
        let filter = match given_filter {
            // `uid=x` without parentheses is what people type (ldapsearch accepts it).
            Some(f) if !f.starts_with('(') => format!("({f})"),
            Some(f) => f,
            None => DEFAULT_FILTER.to_string(),
        };
        if ldap3::parse_filter(&filter).is_err() {
            return Err(LdapSourceError::Filter { filter });
        }
        let given_attrs: Option<Vec<String>> = opts
            .attrs
            .clone()
            .or_else(|| u.attrs.clone())
            .map(|v| {
                v.into_iter()
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty());
        let attrs = match given_attrs {
            None => DEFAULT_ATTRS.iter().map(|s| s.to_string()).collect(),
            Some(mut v) => {
                for extra in ALWAYS_ATTRS {
                    if !v.iter().any(|a| a.eq_ignore_ascii_case(extra)) {
                        v.push(extra.to_string());
                    }
                }
                v
            }
        };
        let page_size = if opts.no_paging {
            None
        } else {
            match opts.page_size {
                None => Some(DEFAULT_PAGE_SIZE),
                Some(0) => return Err(opt("--page-size must be at least 1".into())),
                Some(n) if n > i32::MAX as u32 => {
                    return Err(opt(format!("--page-size {n} is too large")));
                }
                Some(n) => Some(n),
            }
        };
        let bind_dn = opts
            .bind_dn
            .clone()
            .or_else(|| u.bind_name().map(str::to_string))
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        let timeout = |d: Option<Duration>, default: Duration, name: &str| match d {
            None => Ok(default),
            Some(d) if d.is_zero() => Err(opt(format!("the LDAP {name} must be more than 0"))),
            Some(d) => Ok(d),
        };
        Ok(SearchSpec {
            scheme: u.scheme,
            host,
            port,
            base,
            scope,
            filter,
            default_filter,
            attrs,
            page_size,
            starttls: opts.starttls && u.scheme == LdapScheme::Ldap,
            bind_dn,
            connect_timeout: timeout(
                opts.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
                "connect timeout",
            )?,
            timeout: timeout(opts.timeout, DEFAULT_TIMEOUT, "timeout")?,
            ignored_extensions: u
                .extensions
                .iter()
                .filter(|e| !is_bindname(&e.name))
                .map(|e| e.name.clone())
                .collect(),
        })
    }

    /// `host:port`, IPv6 hosts in brackets.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL handed to ldap3: scheme, host and port only.
    pub(crate) fn connect_url(&self) -> String {
        format!("{}://{}", self.scheme.name(), self.server())
    }

    /// Whether the connection is encrypted (ldaps:// or StartTLS).
    pub fn uses_tls(&self) -> bool {
        self.scheme == LdapScheme::Ldaps || self.starttls
    }

    /// Whether the host is this machine (a password sent in clear stays local).
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `ldap://host:port/base`, for messages (LDAP URLs hold no credentials).
    pub fn describe(&self) -> String {
        format!(
            "{}/{}",
            self.connect_url(),
            self.base.as_deref().unwrap_or("")
        )
    }
}
