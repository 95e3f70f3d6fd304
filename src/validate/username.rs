//! Username rules of each server.
//!
//! - Rocket.Chat: the default `UTF8_User_Names_Validation` regex `[0-9a-zA-Z-_.]+`; blocked
//!   names `all`, `here` and the default system list `admin`, `administrator`, `system`, `user`,
//!   compared ignoring case.
//! - Mattermost: the server lowercases usernames on save, so the lowercased form is checked:
//!   1–64 bytes of `[a-z0-9.\-_]`, not `all`, `channel`, `matterbot` or `system`. roster adds
//!   the apps' rule (3–22 characters, starting with a letter), which the server does not
//!   enforce, so that imported accounts stay editable in the UI.
//! - Generic: at most 64 characters, no whitespace, no control or invisible formatting
//!   characters ([`super::chars`]) and no `@` (usernames are what `@mentions` use; an address
//!   belongs in the email field).

use std::borrow::Cow;

use super::chars::{self, Place};
use super::{Profile, quote};

const ROCKETCHAT_RESERVED: [&str; 6] = ["all", "here", "admin", "administrator", "system", "user"];
const MATTERMOST_RESERVED: [&str; 4] = ["all", "channel", "matterbot", "system"];
/// `UserNameMaxLength`, in bytes.
pub const MATTERMOST_MAX_BYTES: usize = 64;
/// The Mattermost apps' rule, enforced by roster.
pub const MATTERMOST_UI_MIN_CHARS: usize = 3;
pub const MATTERMOST_UI_MAX_CHARS: usize = 22;
pub const GENERIC_MAX_CHARS: usize = 64;

/// Problems with a username under a profile (empty = fine). Each reason is complete and starts
/// with the quoted username, except "is required" for an empty or blank one.
pub fn check(profile: Profile, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.trim().is_empty() {
        out.push("is required".into());
        return out;
    }
    match profile {
        Profile::Rocketchat => rocketchat(name, &mut out),
        Profile::Mattermost => mattermost(name, &mut out),
        Profile::Generic => generic(name, &mut out),
    }
    out
}

fn rocketchat(name: &str, out: &mut Vec<String>) {
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        out.push(format!(
            "{} contains characters Rocket.Chat does not allow (allowed: letters, digits, - _ .)",
            quote(name)
        ));
    } else if ROCKETCHAT_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
    {
        out.push(format!("{} is reserved on Rocket.Chat", quote(name)));
    }
}

fn mattermost(name: &str, out: &mut Vec<String>) {
    // ASCII case does not change validity, so only non-ASCII input needs the lowercased copy
    // (Unicode lowercasing can even turn a non-ASCII letter into an allowed one: K → k).
    let lower: Cow<str> = if name.is_ascii() {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    };
    let lower = lower.as_ref();
    let chars_ok = lower.bytes().all(|b| {
        b.is_ascii_lowercase()
            || b.is_ascii_uppercase()
            || b.is_ascii_digit()
            || matches!(b, b'.' | b'-' | b'_')
    });
    if !chars_ok {
        out.push(format!(
            "{} contains characters Mattermost does not allow (allowed: letters, digits, . - _; \
             Mattermost lowercases letters)",
            quote(name)
        ));
    }
    if lower.len() > MATTERMOST_MAX_BYTES {
        out.push(format!(
            "{} is {} bytes long; Mattermost allows at most {MATTERMOST_MAX_BYTES}",
            quote(name),
            lower.len()
        ));
        // The UI rule's 22 would only repeat this.
        return;
    }
    if chars_ok
        && MATTERMOST_RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(lower))
    {
        out.push(format!("{} is reserved on Mattermost", quote(name)));
    }
    let n = lower.chars().count();
    let first = lower.chars().next();
    let detail = if !(MATTERMOST_UI_MIN_CHARS..=MATTERMOST_UI_MAX_CHARS).contains(&n) {
        Some(format!("it has {n} characters"))
    } else if !first.is_some_and(|c| c.is_ascii_alphabetic()) {
        first.map(|c| format!("it starts with {c:?}"))
    } else {
        None
    };
    if let Some(detail) = detail {
        out.push(format!(
            "{} breaks roster's rule that Mattermost usernames have \
             {MATTERMOST_UI_MIN_CHARS}–{MATTERMOST_UI_MAX_CHARS} characters and start with a letter \
             ({detail}); the server would accept it, but the account could not be edited in the \
             Mattermost apps",
            quote(name)
        ));
    }
}

fn generic(name: &str, out: &mut Vec<String>) {
    if name.contains(char::is_whitespace) {
        out.push(format!("{} contains whitespace", quote(name)));
    }
    // Whitespace (tab, newline, U+2028...) has its own message above.
    if let Some(h) = chars::find(name, Place::Identifier).filter(|h| !h.c.is_whitespace()) {
        out.push(format!("{} contains {}", quote(name), h.describe()));
    }
    if name.contains('@') {
        out.push(format!(
            "{} contains @ (usernames are used in @mentions; put addresses in the email field)",
            quote(name)
        ));
    }
    let n = name.chars().count();
    if n > GENERIC_MAX_CHARS {
        out.push(format!(
            "{} is {n} characters long; the limit is {GENERIC_MAX_CHARS}",
            quote(name)
        ));
    }
}
