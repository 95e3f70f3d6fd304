//! Duplicates within the input, by username, by email and by anchor (`external_id`: two
//! rows claiming one person's stable id would both rename the same account), ignoring case.
//!
//! Memory: no key string is kept. Each distinct username and email is a 64-bit xxh3 hash of
//! its normalised form ([`normalize_key`]) mapped to the index of the first user's origin.
//! Two different keys share a hash with odds of about n²/2^65 (1 in 36 million for a
//! million users); such a collision would show as a reported duplicate, never as a silent
//! merge, and 64 bits keep a million users well inside the memory budget.
//! Origins are `file:line` for files, stored as one `u64` (prefix id + line) with each file
//! prefix kept once; anything else (LDAP DNs) falls back to a boxed string.
//!
//! For 1M users with distinct usernames and emails: two tables of 2^21 buckets × 13 bytes
//! (12-byte entry + 1 control byte) ≈ 55 MB, plus 8 MB of origins; use
//! [`Dedup::with_capacity`] to avoid the transient doubling while the tables grow.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use crate::model::{Origin, Problem, User};

/// The one rule for "same username" / "same email": Unicode lowercase, nothing else.
/// Borrowed when the input is already lowercase ASCII.
pub fn normalize_key(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// A 64-bit hash, stored as two `u32`s so that a table entry (key + `u32` index) packs
/// into 12 bytes instead of the 16 an 8-byte-aligned `u64` would take.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key([u32; 2]);

impl Key {
    fn of(s: &str) -> Key {
        // Same result as hashing `normalize_key(s)`, without allocating for short ASCII keys.
        let h = if s.is_ascii() && s.len() <= 256 {
            let mut buf = [0u8; 256];
            let buf = &mut buf[..s.len()];
            for (d, b) in buf.iter_mut().zip(s.bytes()) {
                *d = b.to_ascii_lowercase();
            }
            xxh3_64(buf)
        } else {
            xxh3_64(normalize_key(s).as_bytes())
        };
        Key([h as u32, (h >> 32) as u32])
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already a uniform hash: hand 64 bits of it to the table as is.
        state.write_u64(u64::from(self.0[0]) | (u64::from(self.0[1]) << 32));
    }
}

/// Passes a `write_u64` through unchanged (keys are hashes already).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Key`; fold anything else in so the hasher stays correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Table = HashMap<Key, u32, BuildHasherDefault<PassThrough>>;

/// Origins of registered users, one `u64` each: the top 16 bits are a prefix id and the low
/// 48 bits a line number, or, with the top bits all ones, an index into `others`.
#[derive(Default)]
struct Origins {
    entries: Vec<u64>,
    prefixes: Vec<Box<str>>,
    prefix_ids: HashMap<Box<str>, u16>,
    /// The prefix of the previous `file:line` origin: almost every origin repeats it.
    last: Option<u16>,
    others: Vec<Box<str>>,
}

const OTHER: u64 = 0xFFFF;
const LINE_BITS: u32 = 48;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;

impl Origins {
    /// Stores an origin; `None` once 2^32 − 1 are stored (indexes are `u32`).
    fn push(&mut self, origin: &Origin) -> Option<u32> {
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i < u32::MAX)?;
        let s = origin.as_str();
        let code = match Self::split(s) {
            Some((prefix, line)) => match self.prefix_id(prefix) {
                Some(id) => (u64::from(id) << LINE_BITS) | line,
                None => self.other(s),
            },
            None => self.other(s),
        };
        self.entries.push(code);
        Some(index)
    }

    fn duplicate(&self, field: &str, first: u32) -> Problem {
        Problem::new(field, format!("duplicate of {}", self.get(first)))
    }

    /// `prefix:line` when the text is exactly that (no sign, no leading zero), so that
    /// decoding gives back the same string.
    fn split(s: &str) -> Option<(&str, u64)> {
        let (prefix, digits) = s.rsplit_once(':')?;
        let ok = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !ok {
            return None;
        }
        let line: u64 = digits.parse().ok()?;
        (line <= LINE_MASK).then_some((prefix, line))
    }

    fn prefix_id(&mut self, prefix: &str) -> Option<u16> {
        if let Some(id) = self.last
            && *self.prefixes[usize::from(id)] == *prefix
        {
            return Some(id);
        }
        let id = match self.prefix_ids.get(prefix) {
            Some(&id) => id,
            None => {
                // Ids below OTHER only; past that, new prefixes are stored whole.
                let id = u16::try_from(self.prefixes.len())
                    .ok()
                    .filter(|&id| u64::from(id) < OTHER)?;
                self.prefixes.push(prefix.into());
                self.prefix_ids.insert(prefix.into(), id);
                id
            }
        };
        self.last = Some(id);
        Some(id)
    }

    fn other(&mut self, s: &str) -> u64 {
        self.others.push(s.into());
        (OTHER << LINE_BITS) | (self.others.len() as u64 - 1)
    }

    fn get(&self, index: u32) -> String {
        let Some(&code) = self.entries.get(index as usize) else {
            return String::new();
        };
        let tag = code >> LINE_BITS;
        let low = code & LINE_MASK;
        if tag == OTHER {
            self.others
                .get(low as usize)
                .map(|s| s.to_string())
                .unwrap_or_default()
        } else {
            let prefix = self.prefixes.get(tag as usize).map_or("", |p| p);
            format!("{prefix}:{low}")
        }
    }
}

/// Duplicates within the input, by username and by email, ignoring case. Keeps only
/// compact keys so memory grows with the number of distinct users, not with the input.
#[derive(Default)]
pub struct Dedup {
    usernames: Table,
    emails: Table,
    anchors: Table,
    origins: Origins,
}

impl Dedup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sized for `users` distinct users up front.
    pub fn with_capacity(users: usize) -> Self {
        Dedup {
            usernames: Table::with_capacity_and_hasher(users, Default::default()),
            emails: Table::with_capacity_and_hasher(users, Default::default()),
            // Most sources have no anchor: grown as they come.
            anchors: Table::default(),
            origins: Origins {
                entries: Vec::with_capacity(users),
                ..Origins::default()
            },
        }
    }

    /// Number of users registered (first occurrences).
    pub fn len(&self) -> usize {
        self.origins.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a user that passed the per-row checks; a second user with the same
    /// username or email gets a problem naming the origin of the first
    /// (`username: duplicate of users.csv:3`).
    ///
    /// Call it only for rows that passed [`Validator::check`](super::Validator::check): a row
    /// rejected there is never registered, so it cannot make a later row a "duplicate". A row
    /// reported here as a duplicate is not registered either (neither its username nor its
    /// email), so every duplicate names the first accepted row. Empty usernames and emails are
    /// ignored. After 2^32 − 1 registered users, further users are checked but not registered.
    pub fn check(&mut self, user: &User) -> Vec<Problem> {
        let ukey = present(&user.username).map(Key::of);
        let ekey = user.email.as_deref().and_then(present).map(Key::of);
        let akey = user
            .external_id
            .as_deref()
            .and_then(present)
            .map(|a| Key::of(a.trim()));
        // One probe per table: every entry is looked at before any is filled.
        let uentry = ukey.map(|k| self.usernames.entry(k));
        let eentry = ekey.map(|k| self.emails.entry(k));
        let aentry = akey.map(|k| self.anchors.entry(k));
        let mut out = Vec::new();
        if let Some(Entry::Occupied(o)) = &uentry {
            out.push(self.origins.duplicate("username", *o.get()));
        }
        if let Some(Entry::Occupied(o)) = &eentry {
            out.push(self.origins.duplicate("email", *o.get()));
        }
        if let Some(Entry::Occupied(o)) = &aentry {
            out.push(self.origins.duplicate("external_id", *o.get()));
        }
        if !out.is_empty() || (uentry.is_none() && eentry.is_none()) {
            return out;
        }
        let Some(index) = self.origins.push(&user.origin) else {
            return out;
        };
        if let Some(Entry::Vacant(v)) = uentry {
            v.insert(index);
        }
        if let Some(Entry::Vacant(v)) = eentry {
            v.insert(index);
        }
        if let Some(Entry::Vacant(v)) = aentry {
            v.insert(index);
        }
        out
    }
}

fn present(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key_of_normalized(s: &str) -> Key {
        let h = xxh3_64(normalize_key(s).as_bytes());
        Key([h as u32, (h >> 32) as u32])
    }

    proptest! {
        // XorShift: ChaCha, unoptimised in a debug build, was most of these tests' time.
        #![proptest_config(ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..ProptestConfig::default()
        })]

        // The stack-buffer shortcut hashes exactly what normalize_key returns.
        #[test]
        fn key_follows_normalize_key(s in "\\PC{0,300}") {
            prop_assert_eq!(Key::of(&s), key_of_normalized(&s));
        }

        #[test]
        fn origins_round_trip(s in "[a-z/.:0-9=,]{0,30}") {
            let mut o = Origins::default();
            let i = o.push(&Origin(s.clone())).expect("index");
            prop_assert_eq!(o.get(i), s);
        }
    }

    #[test]
    fn file_lines_share_one_prefix() {
        let mut o = Origins::default();
        for line in 1..1000 {
            o.push(&Origin::line("users.csv", line));
        }
        o.push(&Origin("uid=a,ou=people,dc=example,dc=org".into()));
        o.push(&Origin("users.csv:007".into()));
        assert_eq!(o.prefixes.len(), 1);
        assert_eq!(o.others.len(), 2);
        assert_eq!(o.get(41), "users.csv:42");
        assert_eq!(o.get(999), "uid=a,ou=people,dc=example,dc=org");
        assert_eq!(o.get(1000), "users.csv:007");
    }

    #[test]
    fn two_rows_with_one_anchor_are_duplicates() {
        let mut d = Dedup::new();
        let row = |name: &str, line: u64, anchor: Option<&str>| User {
            username: name.into(),
            external_id: anchor.map(str::to_string),
            origin: Origin::line("hr.csv", line),
            ..User::default()
        };
        assert!(d.check(&row("ann", 2, Some("E1001"))).is_empty());
        assert!(d.check(&row("bob", 3, None)).is_empty());
        assert!(d.check(&row("cat", 4, Some(" "))).is_empty());
        let p = d.check(&row("dan", 5, Some(" e1001 ")));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].to_string(), "external_id: duplicate of hr.csv:2");
    }
}
