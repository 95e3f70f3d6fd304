//! The live LDAP source: reads people from a directory named by an RFC 4516 URL.
//!
//! `ldap://host:389/ou=people,dc=example,dc=org?uid,mail,cn?sub?(objectClass=person)` or
//! `ldaps://...`; flags and the job file's `[source]` table override the URL's parts
//! (see [`LdapOptions`]). Defaults:
//! - scope `sub` (RFC 4516 says `base`, which would read a single entry);
//! - filter [`DEFAULT_FILTER`]: `person` (OpenLDAP, AD), `nsPerson` (389-DS) or
//!   `posixAccount` (NIS) entries. With that default, AD computer accounts (which are
//!   `person`s too) are left out and counted in a warning;
//! - attributes `*` plus the operational ones `*` leaves out: `entryUUID`, `nsUniqueId`,
//!   `objectGUID`, `nsAccountLock`, `pwdAccountLockedTime`, `userAccountControl`. An
//!   explicit list gets those and `objectClass` added, so external_id and active keep
//!   working whatever the list;
//! - no base DN: the server's `defaultNamingContext` (AD) or its only naming context;
//! - paged results (RFC 2696, critical) with 500 entries a page.
//!
//! Never silently partial: a search the server ends with anything but success (size,
//! time or administrative limit, ...), a broken paging exchange, a timeout or a dropped
//! connection is an [`LdapSourceError`] from `next_item`, never an early `Ok(None)`.
//! [`LdapSource::is_complete`] says whether the whole result was read. Paging is driven
//! here rather than by ldap3's `PagedResults` adapter, which moves on to the next page
//! without looking at the page's result code and panics on a malformed control: each
//! page's result code is checked, and a cookie that makes no progress is an error.
//!
//! The bind password comes from `ROSTER_LDAP_PASSWORD`, the file named by
//! `ROSTER_LDAP_PASSWORD_FILE`, or a prompt on the terminal; without a bind DN the bind
//! is anonymous.
//!
//! Each entry becomes a [`RawRecord`]: origin and `dn` = the DN, [`Change::Entry`], the
//! attributes in server order (UTF-8 values as text, others binary; AD's 16-byte
//! `objectGUID` as its UUID string), no raw text.
//!
//! [`RawRecord`]: crate::model::RawRecord
//! [`Change::Entry`]: crate::model::Change::Entry

mod conn;
mod entry;
mod error;
mod relay;
mod url;

use std::time::Duration;

use ldap3::SearchStream;
use ldap3::controls::{MakeCritical, PagedResults, RawControl};
use ldap3::{LdapError, LdapResult};

pub use super::values::object_guid_to_uuid;
pub use error::{LdapSourceError, rc_name};
pub use url::{
    ALWAYS_ATTRS, DEFAULT_ATTRS, DEFAULT_CONNECT_TIMEOUT, DEFAULT_FILTER, DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT, LdapScheme, LdapScope, LdapUrl, SearchSpec, UrlExtension,
};

use super::{Format, Source, SourceError, SourceItem};
use crate::model::RawRecord;
use crate::secret::{self, Secret};
use conn::Conn;
use entry::Response;
pub use relay::{DEFAULT_MAX_MESSAGE, parse_size};

/// The environment variable holding the bind password (`_FILE` suffix: a file holding it).
pub const PASSWORD_VAR: &str = "ROSTER_LDAP_PASSWORD";

/// LDAP flags and `[source]` settings that override parts of the URL.
#[derive(Clone, Debug, Default)]
pub struct LdapOptions {
    pub base: Option<String>,
    /// `base`, `one` or `sub`.
    pub scope: Option<String>,
    /// Parentheses may be left out: `uid=j*` means `(uid=j*)`.
    pub filter: Option<String>,
    pub attrs: Option<Vec<String>>,
    /// Default 500.
    pub page_size: Option<u32>,
    pub no_paging: bool,
    pub starttls: bool,
    /// A PEM CA certificate trusted in addition to the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// `None` = anonymous bind (unless the URL has a `bindname` extension).
    pub bind_dn: Option<String>,
    /// Do not verify the server certificate (a loud warning is given).
    pub insecure: bool,
    /// Addition: TCP connect plus TLS handshake limit; default 10 s.
    pub connect_timeout: Option<Duration>,
    /// Addition: the longest wait for the bind's answer and for each search response;
    /// default 120 s.
    pub timeout: Option<Duration>,
    /// The largest LDAP message accepted from the server, in bytes (default
    /// [`DEFAULT_MAX_MESSAGE`]); a larger one ends the read with an error.
    pub max_message: Option<u64>,
    /// Addition: the bind password when the caller already has it (library use).
    /// Never fill this from a command-line flag; when `None` it comes from
    /// `ROSTER_LDAP_PASSWORD(_FILE)` or a prompt.
    pub password: Option<Secret>,
}

enum State {
    Searching,
    Done,
    Failed(LdapSourceError),
}

/// A search on a live directory, read entry by entry.
pub struct LdapSource {
    spec: SearchSpec,
    conn: Option<Conn>,
    stream: Option<SearchStream<'static, String, Vec<String>>>,
    /// The cookie for the next page; `None` before the first page.
    cookie: Option<Vec<u8>>,
    state: State,
    /// The first item, read by `open` so that search errors surface there.
    pending: Option<SourceItem>,
    /// Entries received from the server (records, bad records, skipped computers).
    entries: u64,
    page_entries: u64,
    responses: u64,
    pages: u64,
    skipped_computers: u64,
    refs: Vec<String>,
    warnings: Vec<String>,
}

impl LdapSource {
    /// Connects, binds and starts the search, reading its first entry: a wrong URL,
    /// password, certificate, base DN or filter fails here, before any record is handed on.
    pub fn open(url: &str, opts: &LdapOptions) -> Result<Self, SourceError> {
        Self::open_inner(url, opts).map_err(SourceError::Ldap)
    }

    fn open_inner(url: &str, opts: &LdapOptions) -> Result<Self, LdapSourceError> {
        let mut spec = SearchSpec::new(url, opts)?;
        let mut warnings = Vec::new();
        for ext in &spec.ignored_extensions {
            warnings.push(format!(
                "LDAP URL extension {ext} is not supported; ignored"
            ));
        }
        // Before connecting: a missing password should not wait for the network.
        let password = password(&spec, opts, &mut warnings)?;
        if password.is_some() && !spec.uses_tls() && !spec.is_loopback() {
            warnings.push(format!(
                "the LDAP bind password goes to {} unencrypted; use ldaps:// or --starttls",
                spec.server()
            ));
        }
        let mut conn = conn::connect(&spec, opts, &mut warnings)?;
        conn::bind(&mut conn, &spec, password.as_ref())?;
        drop(password);
        if spec.base.is_none() {
            let base = conn::naming_context(&mut conn, &spec)?;
            warnings.push(format!(
                "no LDAP search base given; using the server's naming context {base}"
            ));
            spec.base = Some(base);
        }
        let mut src = LdapSource {
            spec,
            conn: Some(conn),
            stream: None,
            cookie: None,
            state: State::Searching,
            pending: None,
            entries: 0,
            page_entries: 0,
            responses: 0,
            pages: 0,
            skipped_computers: 0,
            refs: Vec::new(),
            warnings,
        };
        src.pending = src.advance()?;
        Ok(src)
    }

    /// True only once the search has ended with success (rc=0) and every page was read.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Done) && self.pending.is_none()
    }

    /// The search being run (URL, options and defaults merged).
    pub fn spec(&self) -> &SearchSpec {
        &self.spec
    }

    /// Entries received from the server so far (including unreadable and skipped ones).
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Pages (search operations) completed so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The next item, or the (sticky) error that ended the search.
    fn advance(&mut self) -> Result<Option<SourceItem>, LdapSourceError> {
        match &self.state {
            State::Done => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
            State::Searching => {}
        }
        match self.step() {
            Ok(Some(item)) => Ok(Some(item)),
            Ok(None) => {
                self.finish();
                Ok(None)
            }
            Err(e) => {
                // Dropping the connection abandons whatever the server still had to send.
                self.stream = None;
                self.conn = None;
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn step(&mut self) -> Result<Option<SourceItem>, LdapSourceError> {
        loop {
            if self.stream.is_none() {
                self.start_page()?;
            }
            let (Some(conn), Some(stream)) = (self.conn.as_mut(), self.stream.as_mut()) else {
                return Err(self.lost("the connection is gone".into()));
            };
            match conn.rt.block_on(stream.next()) {
                Ok(Some(re)) => {
                    self.responses += 1;
                    match entry::convert(re.0, self.responses) {
                        Response::Entry(rec) => {
                            self.entries += 1;
                            self.page_entries += 1;
                            if self.spec.default_filter && is_computer(&rec) {
                                self.skipped_computers += 1;
                                continue;
                            }
                            return Ok(Some(SourceItem::Record(rec)));
                        }
                        Response::Bad(bad) => {
                            self.entries += 1;
                            self.page_entries += 1;
                            return Ok(Some(SourceItem::Bad(bad)));
                        }
                        Response::Refs(refs) => {
                            // Bounded: only a few are shown in the warning.
                            if self.refs.len() < 1000 {
                                self.refs.extend(refs);
                            }
                        }
                        Response::Other => {}
                    }
                }
                Ok(None) => {
                    let res = conn.rt.block_on(stream.finish());
                    self.stream = None;
                    if !self.end_page(res)? {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(self.stream_error(e)),
            }
        }
    }

    /// Sends the search (or its next page).
    fn start_page(&mut self) -> Result<(), LdapSourceError> {
        let spec = &self.spec;
        let Some(conn) = self.conn.as_mut() else {
            return Err(self.lost("the connection is gone".into()));
        };
        let base = spec.base.clone().unwrap_or_default();
        let ldap = &mut conn.ldap;
        let res = conn.rt.block_on(async {
            ldap.with_timeout(spec.timeout);
            if let Some(size) = spec.page_size {
                let pr = PagedResults {
                    size: size as i32,
                    cookie: self.cookie.clone().unwrap_or_default(),
                };
                ldap.with_controls(RawControl::from(pr.critical()));
            }
            ldap.streaming_search(
                &base,
                spec.scope.to_ldap3(),
                &spec.filter,
                spec.attrs.clone(),
            )
            .await
        });
        match res {
            Ok(stream) => {
                self.stream = Some(stream);
                self.page_entries = 0;
                Ok(())
            }
            Err(LdapError::FilterParsing) => Err(LdapSourceError::Filter {
                filter: self.spec.filter.clone(),
            }),
            Err(e) => Err(self.stream_error(e)),
        }
    }

    /// Checks a page's result. `Ok(true)`: another page follows.
    fn end_page(&mut self, res: LdapResult) -> Result<bool, LdapSourceError> {
        self.pages += 1;
        if res.rc != 0 {
            return Err(self.result_error(&res));
        }
        if self.spec.page_size.is_none() {
            return Ok(false);
        }
        match entry::paged_cookie(&res.ctrls) {
            Err(reason) => Err(LdapSourceError::Paging {
                entries: self.entries,
                reason,
            }),
            // rc=0 without the control: the server sent the whole result in one go.
            Ok(None) => Ok(false),
            Ok(Some(cookie)) if cookie.is_empty() => Ok(false),
            Ok(Some(cookie)) => {
                if self.page_entries == 0 && self.cookie.as_ref() == Some(&cookie) {
                    return Err(LdapSourceError::Paging {
                        entries: self.entries,
                        reason: "the server sent back the same cookie with no entries, so the \
                                 search would never end"
                            .into(),
                    });
                }
                self.cookie = Some(cookie);
                Ok(true)
            }
        }
    }

    /// The error for a search the server ended with a non-success result code.
    fn result_error(&self, res: &LdapResult) -> LdapSourceError {
        let spec = &self.spec;
        let base = spec.base.clone().unwrap_or_default();
        if res.rc == 32 && self.entries == 0 {
            return LdapSourceError::NoSuchBase {
                base,
                server: spec.server(),
                matched: if res.matched.is_empty() {
                    String::new()
                } else {
                    format!("; the server knows {}", res.matched)
                },
            };
        }
        let paging = spec.page_size.is_some();
        let mut reason = rc_name(res.rc).to_string();
        let hint = match res.rc {
            4 if paging => "The server limits paged searches for this account too (OpenLDAP: \
                            size.prtotal in its limits; AD: MaxResultSetSize). Bind as an \
                            account without that limit, or use a narrower filter"
                .to_string(),
            4 => "Use paging (remove --no-paging), a smaller --page-size, or a narrower filter"
                .to_string(),
            3 => "Use a narrower or indexed filter, a smaller --page-size, or ask for a larger \
                  time limit for this account"
                .to_string(),
            11 => "Use a smaller --page-size (AD allows at most MaxPageSize, 1000 by default), \
                   or a narrower, indexed filter"
                .to_string(),
            10 => {
                if !res.refs.is_empty() {
                    reason = format!("referral to {}", res.refs.join(" "));
                }
                "roster does not follow referrals: point the URL at the server the referral \
                 names"
                    .to_string()
            }
            12 if paging => {
                reason = "the server does not support paged results (unavailable critical \
                          extension)"
                    .into();
                "Use --no-paging (the server's size limit then applies, and hitting it is an \
                 error)"
                    .to_string()
            }
            50 => "Check that the bind DN may read the search base and the filter's attributes"
                .to_string(),
            51 | 52 => "The server is busy or unavailable: try again later".to_string(),
            _ => "Check the search parameters and the server's logs".to_string(),
        };
        LdapSourceError::Incomplete {
            reason,
            rc: res.rc,
            entries: self.entries,
            server_text: error::server_text(&res.text),
            hint,
        }
    }

    /// The error for a failed read: timeout, or the connection gone.
    fn stream_error(&mut self, e: LdapError) -> LdapSourceError {
        if let LdapError::Timeout { .. } = e {
            return LdapSourceError::Timeout {
                server: self.spec.server(),
                what: "the search".into(),
                secs: self.spec.timeout.as_secs().max(1),
                partial: format!(
                    "; the search stopped after {} entries and the result is incomplete",
                    self.entries
                ),
            };
        }
        if let Some(reason) = self.conn.as_ref().and_then(|c| c.cut_reason()) {
            return LdapSourceError::Oversized {
                server: self.spec.server(),
                reason: format!("{reason} (after {} entries)", self.entries),
            };
        }
        let why = self
            .conn
            .as_mut()
            .and_then(|c| c.ended_because())
            .unwrap_or_else(|| e.to_string());
        self.lost(why)
    }

    fn lost(&self, reason: String) -> LdapSourceError {
        LdapSourceError::ConnectionLost {
            server: self.spec.server(),
            entries: self.entries,
            reason,
        }
    }

    /// The search ended with success: say what was left out, and unbind.
    fn finish(&mut self) {
        self.state = State::Done;
        if self.skipped_computers > 0 {
            self.warnings.push(format!(
                "left out {} Active Directory computer account(s) (objectClass=computer); \
                 give --filter to choose the entries yourself",
                self.skipped_computers
            ));
        }
        if !self.refs.is_empty() {
            let shown: Vec<&str> = self.refs.iter().take(5).map(String::as_str).collect();
            self.warnings.push(format!(
                "the server referred {} part(s) of the tree to other servers, which roster \
                 does not follow; entries there are not included: {}{}",
                self.refs.len(),
                shown.join(" "),
                if self.refs.len() > 5 { " ..." } else { "" }
            ));
        }
        if let Some(mut conn) = self.conn.take() {
            let ldap = &mut conn.ldap;
            let _ = conn.rt.block_on(async {
                ldap.with_timeout(Duration::from_secs(2));
                ldap.unbind().await
            });
        }
    }
}

/// The bind password: the caller's, the environment's, or the terminal's.
fn password(
    spec: &SearchSpec,
    opts: &LdapOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<Secret>, LdapSourceError> {
    let Some(dn) = &spec.bind_dn else {
        if std::env::var_os(PASSWORD_VAR).is_some()
            || std::env::var_os(crate::secret::file_var(PASSWORD_VAR)).is_some()
        {
            warnings.push(format!(
                "{PASSWORD_VAR}(_FILE) is set but no bind DN is given: binding anonymously \
                 (use --bind-dn)"
            ));
        }
        return Ok(None);
    };
    if let Some(p) = &opts.password {
        return Ok(Some(p.clone()));
    }
    let bad = |e: secret::SecretError| LdapSourceError::Password(e.to_string());
    if let Some(p) = secret::from_env(PASSWORD_VAR).map_err(bad)? {
        return Ok(Some(p));
    }
    match secret::prompt(&format!("LDAP password for {dn}")).map_err(bad)? {
        Some(p) => Ok(Some(p)),
        None => Err(LdapSourceError::NoPassword {
            bind_dn: dn.clone(),
        }),
    }
}

/// AD computer accounts are `person`s (and `user`s): the default filter lets them in.
fn is_computer(rec: &RawRecord) -> bool {
    rec.attrs.get("objectClass").is_some_and(|v| {
        v.iter()
            .any(|c| c.text().is_some_and(|t| t.eq_ignore_ascii_case("computer")))
    })
}

impl Source for LdapSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        if let Some(item) = self.pending.take() {
            return Ok(Some(item));
        }
        self.advance().map_err(SourceError::Ldap)
    }
    fn format(&self) -> Format {
        Format::Ldap
    }
    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
    fn describe(&self) -> String {
        self.spec.describe()
    }
}
