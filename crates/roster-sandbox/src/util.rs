//! Small helpers shared by the flavors: ids, secrets, hashing, time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Meteor's `Random.id()` alphabet (no 0/O/1/l/I look-alikes).
const UNMISTAKABLE: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A generator for ids: seeded (reproducible ids with `--seed`) or random.
pub struct IdGen(Mutex<StdRng>);

impl IdGen {
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            // A different stream from the fault generator's, from the same seed.
            Some(s) => StdRng::seed_from_u64(s ^ 0x5eed_1d5e_ed1d_5eed),
            None => StdRng::from_os_rng(),
        };
        IdGen(Mutex::new(rng))
    }

    /// `len` characters from `alphabet`.
    pub fn string(&self, alphabet: &[u8], len: usize) -> String {
        let mut rng = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
            .collect()
    }

    /// A Meteor-style 17-character id.
    pub fn meteor_id(&self) -> String {
        self.string(UNMISTAKABLE, 17)
    }

    /// A 24-hex-digit Mongo ObjectId-like id.
    pub fn object_id(&self) -> String {
        self.string(b"0123456789abcdef", 24)
    }
}

/// An unpredictable secret (login tokens): never from the seeded generator.
pub fn random_token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| BASE64URL[rng.random_range(0..BASE64URL.len())] as char)
        .collect()
}

/// A random password of letters and digits.
pub fn random_password(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| UNMISTAKABLE[rng.random_range(0..UNMISTAKABLE.len())] as char)
        .collect()
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2024-05-01T12:00:00.000Z`, like JavaScript's `Date.toISOString()`.
pub fn iso_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// lodash `escape`: the five HTML-special characters.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// bcrypt of the SHA-256 hex of the password, as Meteor stores it. bcrypt costs above 31
/// are clamped; cost 0 means no bcrypt at all (benchmarks of the client: the server's
/// hashing is then not what is measured).
pub fn meteor_password_hash(plain: &str, cost: u32) -> Result<String, String> {
    if cost == 0 {
        return Ok(format!("{UNHASHED}{}", sha256_hex(plain)));
    }
    bcrypt::hash(sha256_hex(plain), cost.clamp(4, 31)).map_err(|e| e.to_string())
}

/// The prefix of passwords stored without bcrypt (`--bcrypt-cost 0`).
pub const UNHASHED: &str = "sha256$";

/// Checks a SHA-256 hex digest (what the client sends for 2FA, or what login computes)
/// against a stored Meteor bcrypt hash.
pub fn meteor_digest_matches(digest_hex: &str, stored: &str) -> bool {
    if let Some(d) = stored.strip_prefix(UNHASHED) {
        return d == digest_hex.to_ascii_lowercase();
    }
    bcrypt::verify(digest_hex.to_ascii_lowercase(), stored).unwrap_or(false)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (the state file keeps pictures this way).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The inverse of [`base64`]; None for anything else.
pub fn unbase64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xFF) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod base64_tests {
    #[test]
    fn round_trips() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10\x80"] {
            let e = super::base64(data);
            assert_eq!(super::unbase64(&e).as_deref(), Some(data), "{e}");
        }
        assert_eq!(super::base64(b"Man"), "TWFu");
        assert_eq!(super::base64(b"Ma"), "TWE=");
    }
}
