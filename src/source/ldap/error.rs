//! Errors of the LDAP source: one line each, saying what happened and what to check.
//!
//! Every variant holds plain strings and numbers (no I/O error objects), so the source can
//! hand the same error out again if it is asked for more items after a failure. Messages
//! never contain the bind password: it is never passed to any constructor here.

/// A fatal LDAP source error. Each message is one line and says what to check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LdapSourceError {
    /// The URL is not an RFC 4516 `ldap://` / `ldaps://` URL roster can use.
    #[error("invalid LDAP URL: {0}")]
    Url(String),

    /// A flag or `[source]` setting has a value roster cannot use (scope, page size, ...).
    #[error("{0}")]
    BadOption(String),

    /// The search filter does not parse.
    #[error(
        "invalid LDAP filter {filter}: check the parentheses and escapes; filters look like \
         (objectClass=person) or (&(objectClass=person)(mail=*)), and ( ) * \\ inside values \
         are written \\28 \\29 \\2a \\5c"
    )]
    Filter { filter: String },

    /// A bind DN was given but no password is available.
    #[error(
        "LDAP bind DN {bind_dn} needs a password: set ROSTER_LDAP_PASSWORD or \
         ROSTER_LDAP_PASSWORD_FILE (there is no terminal to ask on); without --bind-dn \
         roster binds anonymously"
    )]
    NoPassword { bind_dn: String },

    /// `ROSTER_LDAP_PASSWORD(_FILE)` is set but unusable (empty, unreadable file).
    #[error("cannot read the LDAP bind password: {0}")]
    Password(String),

    /// The `--ca-file` cannot be read or holds no usable certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile { path: String, reason: String },

    /// TCP connection failed: refused, unreachable, unknown host.
    #[error(
        "cannot connect to LDAP server {server}: {reason}. Check the host and port in the \
         URL, and that the server is running and reachable from here"
    )]
    Connect { server: String, reason: String },

    /// The server sent a message larger than `--ldap-max-message` (or not LDAP at all):
    /// the connection was cut before it could take the memory.
    #[error(
        "LDAP server {server}: {reason}; the read stopped there. Check that the URL points \
         to an LDAP server"
    )]
    Oversized { server: String, reason: String },

    /// The server did not answer in time.
    #[error(
        "LDAP server {server} did not answer {what} within {secs} s{partial}. Check that the \
         server is up and not overloaded, or raise the LDAP timeout"
    )]
    Timeout {
        server: String,
        /// `the connection`, `the bind`, `the search`.
        what: String,
        secs: u64,
        /// Empty, or `; the search stopped after N entries and the result is incomplete`.
        partial: String,
    },

    /// TLS handshake failed (certificate not trusted, wrong name, not a TLS port...).
    #[error("TLS with LDAP server {server} failed: {reason}. {hint}")]
    Tls {
        server: String,
        reason: String,
        hint: String,
    },

    /// The server refused the StartTLS extended operation.
    #[error(
        "LDAP server {server} refused StartTLS: {reason}. Check that TLS is configured on the \
         server, or use an ldaps:// URL"
    )]
    StartTls { server: String, reason: String },

    /// The bind was refused (rc 49 and friends).
    #[error("LDAP bind as {who} failed: {reason} (rc={rc}{server_text}). {hint}")]
    Bind {
        /// The bind DN, or `anonymous`.
        who: String,
        rc: u32,
        reason: String,
        /// Empty, or `; server says: ...`.
        server_text: String,
        hint: String,
    },

    /// No search base was given and the server does not name a single one.
    #[error(
        "no LDAP search base: put it in the URL (ldap://host/ou=people,dc=example,dc=org) or \
         use --base; {detail}"
    )]
    NoBase { detail: String },

    /// The search base does not exist (rc 32).
    #[error(
        "LDAP search base {base} does not exist on {server} (rc=32 noSuchObject{matched}). \
         Check the DN in the URL or --base"
    )]
    NoSuchBase {
        base: String,
        server: String,
        /// Empty, or `; the server knows up to DN`.
        matched: String,
    },

    /// The server ended the search with a limit (size, time, administrative) or another
    /// non-success result code: what was read is not the whole result.
    #[error(
        "LDAP search stopped early: {reason} (rc={rc}{server_text}) after {entries} entries; \
         the result is incomplete. {hint}"
    )]
    Incomplete {
        reason: String,
        rc: u32,
        entries: u64,
        /// Empty, or `; server says: ...`.
        server_text: String,
        hint: String,
    },

    /// The paged-results exchange broke (bad or repeated cookie, missing control).
    #[error(
        "LDAP paged search broke after {entries} entries: {reason}; the result is incomplete. \
         Run again; if it persists, try another --page-size or --no-paging with a narrower \
         filter"
    )]
    Paging { entries: u64, reason: String },

    /// The connection dropped or failed in the middle of the search.
    #[error(
        "LDAP connection to {server} lost after {entries} entries: {reason}; the result is \
         incomplete. Run again; if it keeps happening, check the server's idle and \
         connection limits"
    )]
    ConnectionLost {
        server: String,
        entries: u64,
        reason: String,
    },
}

/// The RFC 4511 name of a result code, in words.
pub fn rc_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operations error",
        2 => "protocol error",
        3 => "time limit exceeded",
        4 => "size limit exceeded",
        7 => "authentication method not supported",
        8 => "stronger authentication required",
        10 => "referral",
        11 => "administrative limit exceeded",
        12 => "unavailable critical extension",
        13 => "confidentiality required",
        14 => "SASL bind in progress",
        16 => "no such attribute",
        17 => "undefined attribute type",
        18 => "inappropriate matching",
        21 => "invalid attribute syntax",
        32 => "no such object",
        34 => "invalid DN syntax",
        36 => "alias dereferencing problem",
        48 => "inappropriate authentication",
        49 => "invalid credentials",
        50 => "insufficient access rights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwilling to perform",
        54 => "loop detected",
        80 => "other error",
        87 => "filter error",
        88 => "user cancelled",
        _ => "unknown result code",
    }
}

/// `; server says: TEXT` when the server sent a diagnostic message, else empty.
pub(crate) fn server_text(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        // One line: some servers put newlines in diagnostics.
        format!(
            "; server says: {}",
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    }
}
