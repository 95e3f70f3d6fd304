//! Validation before any network call: required fields, email syntax and policy,
//! each server's username rules, and duplicates within the input.
//!
//! Every problem names the field (as [`Field::name`] spells it) and says why, quoting the
//! offending value: `username: "admin" is reserved on Rocket.Chat`.
//!
//! Checks per field (all profiles unless said otherwise):
//! - `username`: see [`username`]; required by every intent.
//! - `email`: required; [`email::check`]. Mattermost: the lowercased form (the server
//!   lowercases on save), at most 128 bytes. Rocket.Chat: a single `@` (its own check is
//!   `^[^@]+@[^@]+$`, which only matters for quoted local parts).
//! - `name`: Rocket.Chat requires it and refuses `<`, `>`, `\`, `/`, also after its
//!   `decodeURI` (so `%3C` is refused, and so is a `%` that is not a valid escape).
//! - `name`, `first_name`, `last_name`, `nickname`, `position`, `external_id`: no control,
//!   format or line-separator characters ([`chars`]: a newline or tab in a display name is
//!   always a data error, an invisible or bidirectional character only deceives; `external_id`
//!   becomes Mattermost's `auth_data`, matched against the identity provider's). Display names
//!   may join non-ASCII letters with U+200C/U+200D, which some scripts need.
//! - lengths: Rocket.Chat nickname ≤ 120 (JavaScript length: UTF-16 units); Mattermost
//!   nickname ≤ 64, position ≤ 128, first_name ≤ 64, last_name ≤ 64 (characters).
//! - `locale`, Mattermost: at most 5 characters, shaped like a language tag (`en`, `pt-BR`,
//!   `zh_CN`). The server also checks the tag against the IANA registry, which roster does not.
//! - `roles`: non-empty names without whitespace (Mattermost sends roles space-separated);
//!   Mattermost: at most 256 bytes joined.
//! - `teams`, `channels`: names the server could hold. Mattermost (lowercased first, as
//!   roster sends them): a team name `^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$`, 2–64
//!   characters (`model.IsValidTeamName`); a channel `[team/]name` with the channel part
//!   `^[a-z0-9]+([a-z\-\_0-9]+|(__)?)[a-z0-9]*$`, at most 64 (`IsValidChannelIdentifier`).
//!   Rocket.Chat: `[0-9a-zA-Z-_.]+`, the default `UTF8_Channel_Names_Validation`.
//! - `avatar`: an `https://` or `http://` URL (no other scheme: `file://` is never read; no
//!   credentials go with the fetch), a path inside the source's folder (no `..`, not absolute), or an
//!   image in a format both servers decode (PNG, JPEG, GIF, BMP, TIFF, WebP) of at most
//!   100 MiB (both servers' default upload limit: Mattermost `FileSettings.MaxFileSize`,
//!   Rocket.Chat `FileUpload_MaxFileSize`).
//!
//! Empty and whitespace-only values count as missing, except that a display-text value made of
//! whitespace control characters (`"\t"`, `"\r\n"`) is a control character in the field, not
//! a missing value.

pub mod chars;
pub mod dedup;
pub mod email;
mod idn;
pub mod username;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::model::{Field, Intent, Problem, User};
use chars::Place;

pub use dedup::{Dedup, normalize_key};

/// Whose rules apply (`--profile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Rocket.Chat: username, email and name required; `[0-9a-zA-Z-_.]+`; blocked names.
    Rocketchat,
    /// Mattermost: username and email required; lowercase `[a-z0-9.-_]`, lengths, reserved names.
    Mattermost,
    /// Username and email required, common-sense syntax only.
    #[default]
    Generic,
}

impl Profile {
    /// The product name, as messages show it.
    pub fn display_name(self) -> &'static str {
        match self {
            Profile::Rocketchat => "Rocket.Chat",
            Profile::Mattermost => "Mattermost",
            Profile::Generic => "generic",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    pub profile: Profile,
    /// Accept quoted local parts and domain literals (`--allow-unusual-emails`).
    pub allow_unusual_emails: bool,
    /// `roster do`: a row only names an account, by this key; nothing else of it is
    /// written, so nothing else is checked.
    pub identify_by: Option<crate::client::MatchKey>,
}

pub const ROCKETCHAT_NICKNAME_MAX: usize = 120;
pub const MATTERMOST_EMAIL_MAX_BYTES: usize = 128;
pub const MATTERMOST_NICKNAME_MAX: usize = 64;
pub const MATTERMOST_POSITION_MAX: usize = 128;
pub const MATTERMOST_FIRST_NAME_MAX: usize = 64;
pub const MATTERMOST_LAST_NAME_MAX: usize = 64;
pub const MATTERMOST_LOCALE_MAX: usize = 5;
pub const MATTERMOST_ROLES_MAX_BYTES: usize = 256;

/// Both servers' default upload limit, for avatars.
pub const AVATAR_MAX_BYTES: usize = 104_857_600;

/// The fields checked besides the username, in report order.
const CHECKED: [Field; 12] = [
    Field::Email,
    Field::Name,
    Field::FirstName,
    Field::LastName,
    Field::Nickname,
    Field::Position,
    Field::Locale,
    Field::Roles,
    Field::ExternalId,
    Field::Teams,
    Field::Channels,
    Field::Avatar,
];

/// Per-row checks. Pure and `Sync`, so rows can be checked in parallel.
#[derive(Clone, Debug)]
pub struct Validator {
    opts: ValidateOptions,
}

impl Validator {
    pub fn new(opts: ValidateOptions) -> Self {
        Validator { opts }
    }

    pub fn profile(&self) -> Profile {
        self.opts.profile
    }

    pub fn options(&self) -> &ValidateOptions {
        &self.opts
    }

    /// The fields every row needs: username and email, or only the key `roster do`
    /// matches by.
    pub fn required(&self) -> &'static [Field] {
        use crate::client::MatchKey;
        match self.opts.identify_by {
            Some(MatchKey::Username) => &[Field::Username],
            Some(MatchKey::Email) => &[Field::Email],
            None => &[Field::Username, Field::Email],
        }
    }

    /// All problems of one mapped user, for the given intent (a modify needs only the
    /// fields it touches; a deactivate only the username).
    ///
    /// - `Upsert`: every field; required: username and email, plus name on Rocket.Chat.
    /// - `Modify(fields)`: the username must be present (it is the key); its syntax and the
    ///   other fields are checked only when listed, and a listed required field may not be
    ///   emptied. The key of an existing account is not held to rules it may predate.
    /// - `Deactivate`: username presence only.
    pub fn check(&self, user: &User, intent: &Intent) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(key) = self.opts.identify_by {
            if key.of(user).is_none() {
                out.push(Problem::new(
                    key.name(),
                    format!("is required (rows are matched by {})", key.name()),
                ));
            }
            return out;
        }
        match intent {
            Intent::Upsert => {
                self.username(&user.username, true, &mut out);
                for f in &CHECKED {
                    self.field(user, f, &mut out);
                }
            }
            Intent::Modify(fields) => {
                self.username(&user.username, fields.contains(&Field::Username), &mut out);
                for f in CHECKED.iter().filter(|f| fields.contains(f)) {
                    self.field(user, f, &mut out);
                }
            }
            Intent::Deactivate => self.username(&user.username, false, &mut out),
        }
        out
    }

    fn username(&self, name: &str, syntax: bool, out: &mut Vec<Problem>) {
        if syntax {
            for reason in username::check(self.opts.profile, name) {
                out.push(Problem::new(Field::Username.name(), reason));
            }
        } else if name.trim().is_empty() {
            out.push(Problem::new(Field::Username.name(), "is required"));
        }
    }

    fn field(&self, user: &User, f: &Field, out: &mut Vec<Problem>) {
        let profile = self.opts.profile;
        let mm = profile == Profile::Mattermost;
        let mut push = |reason: String| out.push(Problem::new(f.name(), reason));
        match f {
            Field::Email => match present(&user.email) {
                None => push("is required".into()),
                Some(e) => self.email(e, &mut push),
            },
            Field::Name => match present_text(&user.name) {
                None if profile == Profile::Rocketchat => {
                    push("is required (Rocket.Chat needs a display name)".into())
                }
                None => {}
                Some(n) => {
                    text(n, Place::DisplayName, &mut push);
                    if profile == Profile::Rocketchat
                        && let Some(reason) = rocketchat_name(n)
                    {
                        push(reason);
                    }
                }
            },
            Field::FirstName => {
                if let Some(v) = present_text(&user.first_name) {
                    text(v, Place::DisplayName, &mut push);
                    if mm {
                        max_chars(v, MATTERMOST_FIRST_NAME_MAX, profile, &mut push);
                    }
                }
            }
            Field::LastName => {
                if let Some(v) = present_text(&user.last_name) {
                    text(v, Place::DisplayName, &mut push);
                    if mm {
                        max_chars(v, MATTERMOST_LAST_NAME_MAX, profile, &mut push);
                    }
                }
            }
            Field::Nickname => {
                if let Some(v) = present_text(&user.nickname) {
                    text(v, Place::DisplayName, &mut push);
                    match profile {
                        Profile::Mattermost => {
                            max_chars(v, MATTERMOST_NICKNAME_MAX, profile, &mut push)
                        }
                        Profile::Rocketchat => {
                            // Rocket.Chat compares JavaScript `length`: UTF-16 code units,
                            // never more than the UTF-8 byte count.
                            if v.len() > ROCKETCHAT_NICKNAME_MAX {
                                let n = v.encode_utf16().count();
                                if n > ROCKETCHAT_NICKNAME_MAX {
                                    push(format!(
                                        "{} is {n} characters long; Rocket.Chat allows at most \
                                         {ROCKETCHAT_NICKNAME_MAX}",
                                        quote(v)
                                    ));
                                }
                            }
                        }
                        Profile::Generic => {}
                    }
                }
            }
            Field::Position => {
                if let Some(v) = present_text(&user.position) {
                    text(v, Place::DisplayName, &mut push);
                    if mm {
                        max_chars(v, MATTERMOST_POSITION_MAX, profile, &mut push);
                    }
                }
            }
            Field::Locale => {
                if mm
                    && let Some(v) = present(&user.locale)
                    && let Some(reason) = mattermost_locale(v)
                {
                    push(reason);
                }
            }
            Field::Roles => {
                if let Some(roles) = &user.roles {
                    self.roles(roles, &mut push);
                }
            }
            Field::ExternalId => {
                if let Some(v) = present_text(&user.external_id) {
                    text(v, Place::Identifier, &mut push);
                }
            }
            Field::Teams => {
                for t in user.teams.iter().flatten() {
                    if let Some(why) = group_name(t, profile, false) {
                        push(why);
                    }
                }
            }
            Field::Channels => {
                for c in user.channels.iter().flatten() {
                    if let Some(why) = group_name(c, profile, true) {
                        push(why);
                    }
                }
            }
            Field::Avatar => {
                if let Some(a) = &user.avatar
                    && let Some(why) = avatar(a)
                {
                    push(why);
                }
            }
            _ => {}
        }
    }

    fn email(&self, e: &str, push: &mut impl FnMut(String)) {
        let profile = self.opts.profile;
        // Mattermost stores the lowercased address. ASCII case changes neither validity nor
        // length, so only non-ASCII addresses need the copy.
        let checked: Cow<str> = if profile == Profile::Mattermost && !e.is_ascii() {
            Cow::Owned(e.to_lowercase())
        } else {
            Cow::Borrowed(e)
        };
        let syntax = email::check(&checked, self.opts.allow_unusual_emails);
        if let Err(reason) = &syntax {
            push(format!("{} {reason}", quote(e)));
        }
        match profile {
            Profile::Mattermost
                if checked.len() > MATTERMOST_EMAIL_MAX_BYTES
                    && checked.len() <= email::MAX_ADDRESS_OCTETS =>
            {
                push(format!(
                    "{} is {} bytes long; Mattermost allows at most {MATTERMOST_EMAIL_MAX_BYTES}",
                    quote(e),
                    checked.len()
                ));
            }
            Profile::Rocketchat if syntax.is_ok() && e.matches('@').count() > 1 => {
                push(format!(
                    "{} contains more than one @, which Rocket.Chat does not accept",
                    quote(e)
                ));
            }
            _ => {}
        }
    }

    fn roles(&self, roles: &[String], push: &mut impl FnMut(String)) {
        if roles.iter().any(|r| r.trim().is_empty()) {
            push("contains an empty role name".into());
        }
        for r in roles.iter().filter(|r| !r.trim().is_empty()) {
            if let Some(sep) = r.chars().find(|c| matches!(c, '|' | ',' | ';')) {
                // No role name on either server holds these: a list split on another
                // separator than the file's.
                push(format!(
                    "{} contains '{sep}': if the cell lists several roles, say so with --multi-sep '{sep}' (CSV)",
                    quote(r)
                ));
            } else if r.contains(char::is_whitespace) {
                push(format!(
                    "{} contains whitespace (role names are sent space-separated to Mattermost)",
                    quote(r)
                ));
            } else if let Some(h) = chars::find(r, Place::Identifier) {
                push(format!("{} contains {}", quote(r), h.describe()));
            }
        }
        if self.opts.profile == Profile::Mattermost {
            let joined =
                roles.iter().map(String::len).sum::<usize>() + roles.len().saturating_sub(1);
            if joined > MATTERMOST_ROLES_MAX_BYTES {
                push(format!(
                    "are {joined} bytes long joined with spaces; Mattermost allows at most \
                     {MATTERMOST_ROLES_MAX_BYTES}"
                ));
            }
        }
    }
}

/// Why a team or channel name cannot be one on this server.
fn group_name(n: &str, profile: Profile, channel: bool) -> Option<String> {
    let n = n.trim();
    let what = if channel { "channel" } else { "team" };
    if n.is_empty() {
        return Some(format!("contains an empty {what} name"));
    }
    match profile {
        Profile::Mattermost => {
            let lower = n.to_lowercase();
            let (team, name) = match lower.split_once('/') {
                Some((t, c)) if channel => (Some(t), c),
                _ => (None, lower.as_str()),
            };
            if let Some(t) = team
                && !mattermost_team_name(t)
            {
                return Some(format!(
                    "{}: {} is not a Mattermost team name (2–64 of a-z, 0-9 and '-', starting and ending with a letter or digit)",
                    quote(n),
                    quote(t)
                ));
            }
            let ok = if channel {
                mattermost_channel_name(name)
            } else {
                mattermost_team_name(name)
            };
            (!ok).then(|| {
                if channel {
                    format!(
                        "{} is not a Mattermost channel name (1–64 of a-z, 0-9, '-' and '_', starting with a letter or digit; `team/channel` names the team)",
                        quote(n)
                    )
                } else {
                    format!(
                        "{} is not a Mattermost team name (2–64 of a-z, 0-9 and '-', starting and ending with a letter or digit; the `slug` filter makes one)",
                        quote(n)
                    )
                }
            })
        }
        Profile::Rocketchat => (!n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .then(|| {
            format!(
                "{} is not a Rocket.Chat {what} name (letters, digits, - _ . by default)",
                quote(n)
            )
        }),
        Profile::Generic => n
            .contains(char::is_whitespace)
            .then(|| format!("{} contains whitespace", quote(n))),
    }
}

/// `model.IsValidTeamName`: `^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$`, 2–64 long.
fn mattermost_team_name(n: &str) -> bool {
    let b = n.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (2..=64).contains(&b.len())
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && (b.iter().all(|c| alnum(c) || *c == b'-') || is_double_underscore_form(b, alnum))
}

/// The `(__)?` branch of Mattermost's name patterns: `abc__def`.
fn is_double_underscore_form(b: &[u8], alnum: impl Fn(&u8) -> bool) -> bool {
    let s = String::from_utf8_lossy(b);
    match s.split_once("__") {
        Some((l, r)) => {
            !l.is_empty() && l.bytes().all(|c| alnum(&c)) && r.bytes().all(|c| alnum(&c))
        }
        None => false,
    }
}

/// `model.IsValidChannelIdentifier`: `^[a-z0-9]+([a-z\-\_0-9]+|(__)?)[a-z0-9]*$`, at most
/// 64 long.
fn mattermost_channel_name(n: &str) -> bool {
    let b = n.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=64).contains(&b.len())
        && b.first().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || matches!(c, b'-' | b'_'))
}

/// Why an avatar cannot be used.
fn avatar(a: &crate::model::Avatar) -> Option<String> {
    use crate::model::Avatar;
    match a {
        Avatar::Url(u) => {
            let lower = u.to_ascii_lowercase();
            if lower.starts_with("https://") || lower.starts_with("http://") {
                // Rocket.Chat stores it as the avatar's origin; a longer one is a data error.
                return (u.len() > 2048).then(|| {
                    format!("a URL of {} characters is too long (at most 2048)", u.len())
                });
            }
            let scheme = lower.split("://").next().unwrap_or_default().to_string();
            Some(format!(
                "{}: only http:// and https:// URLs are fetched ({scheme}:// is not: a file:// URL would read a local file)",
                quote(u)
            ))
        }
        Avatar::File(p) => {
            let path = std::path::Path::new(p);
            let escapes = path.is_absolute()
                || p.starts_with('~')
                || path.components().any(|c| {
                    !matches!(
                        c,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                });
            escapes.then(|| {
                format!(
                    "{}: an avatar file is named by a path inside the source file's folder (no absolute path, no '..')",
                    quote(p)
                )
            })
        }
        Avatar::Image(b) => {
            if b.len() > AVATAR_MAX_BYTES {
                Some(format!(
                    "an image of {} bytes is larger than the servers' default upload limit ({AVATAR_MAX_BYTES} bytes)",
                    b.len()
                ))
            } else if crate::model::image_type(b).is_none() {
                Some(format!(
                    "{} bytes that are not an image both servers decode (PNG, JPEG, GIF, BMP, TIFF or WebP)",
                    b.len()
                ))
            } else {
                None
            }
        }
    }
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// [`present`] for text fields, where a value of whitespace control characters only (`"\t"`,
/// `"\r\n"`) is not missing but a control character in the field, and [`text`] says so.
fn present_text(v: &Option<String>) -> Option<&str> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty() || chars::find(s, Place::Identifier).is_some())
}

/// A value as messages show it: in double quotes with escapes, cut after 80 characters.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &s[..cut])),
        None => format!("{s:?}"),
    }
}

/// Text fields: no control, format or line-separator characters ([`chars`]).
fn text(v: &str, place: Place, push: &mut impl FnMut(String)) {
    if let Some(h) = chars::find(v, place) {
        push(format!("{} contains {}", quote(v), h.describe()));
    }
}

/// Mattermost counts runes; a string of at most `max` bytes has at most `max` characters.
fn max_chars(v: &str, max: usize, profile: Profile, push: &mut impl FnMut(String)) {
    if v.len() > max {
        let n = v.chars().count();
        if n > max {
            push(format!(
                "{} is {n} characters long; {} allows at most {max}",
                quote(v),
                profile.display_name()
            ));
        }
    }
}

/// Rocket.Chat's `validateNameChars`: no `<`, `>`, `\`, `/` in the name or in its
/// `decodeURI`, and `decodeURI` must not throw.
fn rocketchat_name(n: &str) -> Option<String> {
    if n.contains(['<', '>', '\\', '/']) {
        return Some(format!(
            "{} contains characters Rocket.Chat does not allow in names (< > \\ /)",
            quote(n)
        ));
    }
    if !n.contains('%') {
        return None;
    }
    match decode_uri_finds_forbidden(n) {
        Ok(false) => None,
        Ok(true) => Some(format!(
            "{} contains %3C, %3E or %5C, which Rocket.Chat decodes to < > \\ and refuses",
            quote(n)
        )),
        Err(()) => Some(format!(
            "{} contains a % that is not a valid %-escape (such as %20); Rocket.Chat decodes \
             names as URIs and refuses it",
            quote(n)
        )),
    }
}

/// ECMAScript `decodeURI`, reduced to what matters: `Err` where it throws `URIError`,
/// otherwise whether the decoded text contains `<`, `>` or `\` (`/` is in decodeURI's
/// reserved set and stays encoded).
fn decode_uri_finds_forbidden(s: &str) -> Result<bool, ()> {
    fn hex_at(b: &[u8], i: usize) -> Result<u8, ()> {
        if b.get(i) != Some(&b'%') {
            return Err(());
        }
        let digit = |j: usize| b.get(j).and_then(|&c| (c as char).to_digit(16)).ok_or(());
        Ok((digit(i + 1)? * 16 + digit(i + 2)?) as u8)
    }
    let b = s.as_bytes();
    let mut found = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let lead = hex_at(b, i)?;
        i += 3;
        let n = match lead.leading_ones() {
            0 => {
                found |= matches!(lead, b'<' | b'>' | b'\\');
                continue;
            }
            n @ 2..=4 => n as usize,
            _ => return Err(()),
        };
        let mut octets = [lead, 0, 0, 0];
        for octet in octets.iter_mut().take(n).skip(1) {
            let c = hex_at(b, i)?;
            if c & 0xC0 != 0x80 {
                return Err(());
            }
            *octet = c;
            i += 3;
        }
        std::str::from_utf8(&octets[..n]).map_err(|_| ())?;
    }
    Ok(found)
}

/// Mattermost `locale`: at most 5 characters, `ll`, `lll`, `ll-RR` or `ll_RR`.
fn mattermost_locale(v: &str) -> Option<String> {
    let n = v.chars().count();
    if n > MATTERMOST_LOCALE_MAX {
        return Some(format!(
            "{} is {n} characters long; Mattermost allows at most {MATTERMOST_LOCALE_MAX} \
             (a language tag such as en, de, pt-BR)",
            quote(v)
        ));
    }
    let b = v.as_bytes();
    let alpha = |r: &[u8]| r.iter().all(u8::is_ascii_alphabetic);
    let ok = match b.len() {
        2 | 3 => alpha(b),
        5 => alpha(&b[..2]) && matches!(b[2], b'-' | b'_') && alpha(&b[3..]),
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "{} is not a language tag Mattermost accepts (such as en, de, pt-BR)",
            quote(v)
        )
    })
}

/// What messages show instead of a value read from an LDIF `file:` URL.
const URL_VALUE: &str = "(a value read from a file: URL, not shown)";

/// Hides `secret` values (LDIF values read from `file:` URLs: any local file, perhaps
/// `/proc/self/environ`) from problem messages. A field's quoted value that contains one is
/// replaced; a message that still contains one some other way loses its whole reason.
pub fn hide_values(problems: &mut [Problem], user: &User, secret: &[String]) {
    let secret: Vec<&str> = secret
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if secret.is_empty() || problems.is_empty() {
        return;
    }
    // Escaped as `quote` escapes, for values with newlines or quotes.
    let escaped: Vec<String> = secret
        .iter()
        .map(|s| {
            let q = format!("{s:?}");
            q[1..q.len() - 1].to_string()
        })
        .collect();
    let shown = |v: &str| {
        secret.iter().any(|s| v.contains(s))
            || escaped
                .iter()
                .any(|s| s.len() >= 2 && v.contains(s.as_str()))
    };
    let mut values: Vec<&str> = [
        Some(user.username.as_str()),
        user.email.as_deref(),
        user.name.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
        user.nickname.as_deref(),
        user.position.as_deref(),
        user.locale.as_deref(),
        user.external_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    values.extend(user.roles.iter().flatten().map(String::as_str));
    values.extend(user.custom_fields.values().map(String::as_str));
    let tainted: Vec<String> = values.into_iter().filter(|v| shown(v)).map(quote).collect();
    for p in problems {
        for q in &tainted {
            if p.reason.contains(q.as_str()) {
                p.reason = p.reason.replace(q.as_str(), URL_VALUE);
            }
        }
        if shown(&p.reason) {
            p.reason = format!("is not valid; {URL_VALUE}");
        }
    }
}
