//! LDIF value decoding: plain text, base64 and `file:` URLs.
//!
//! Values: `attr: text`, `attr:: base64` (decoded bytes; UTF-8 stays text) and
//! `attr:< file:...` URLs. Only local `file:` URLs are read: `file:///abs/path`,
//! `file://localhost/abs/path`, `file:/abs/path`, and the relative form `file:rel/path`
//! (as OpenLDAP's ldapmodify accepts it), resolved against the LDIF file's directory (the
//! current directory for stdin). Reads are capped at `url_max_bytes` (default 1 MiB).
//! URLs are refused (per record) unless `allow_file_urls` names a folder, and then only a
//! file inside that folder is read, once `..` and symlinks are resolved: an LDIF file from
//! elsewhere must not turn `/etc/shadow` or `/proc/self/environ` into a user's name. Values
//! read from URLs are listed in [`RawRecord::url_values`] so later messages can hide them.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::line::{ValueKind, has_nul_or_cr, trim_end_spaces};
use crate::model::Problem;
#[cfg(doc)]
use crate::model::RawRecord;

/// Largest value a `file:` URL may bring in when the options say nothing.
pub const DEFAULT_URL_MAX_BYTES: u64 = 1 << 20;

/// Lenient about padding and trailing bits, as ldapmodify and python-ldap are.
pub(super) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(super) struct Ctx<'a> {
    pub(super) base_dir: Option<&'a Path>,
    pub(super) url_max: u64,
    pub(super) allow_dir: Option<Result<&'a Path, &'a String>>,
    /// Values read from URLs for the current record (they may be secrets: hidden later).
    pub(super) url_values: std::cell::RefCell<Vec<String>>,
}

/// Decodes an attribute value, reading `file:` URLs.
pub(super) fn decode_value(
    ctx: &Ctx,
    kind: ValueKind,
    value: &[u8],
    attr: &str,
    line: u64,
) -> Result<Vec<u8>, Problem> {
    match kind {
        ValueKind::Plain => {
            if has_nul_or_cr(value) {
                return Err(Problem::new(
                    attr,
                    format!(
                        "line {line}: value contains a NUL or CR byte (it must be base64-encoded with ::)"
                    ),
                ));
            }
            Ok(value.to_vec())
        }
        ValueKind::Base64 => BASE64.decode(trim_end_spaces(value)).map_err(|e| {
            Problem::new(
                attr,
                format!("line {line}: base64 value does not decode ({e})"),
            )
        }),
        ValueKind::Url => {
            let v = read_url(ctx, trim_end_spaces(value))
                .map_err(|e| Problem::new(attr, format!("line {line}: {e}")))?;
            ctx.url_values
                .borrow_mut()
                .push(String::from_utf8_lossy(&v).into_owned());
            Ok(v)
        }
    }
}

/// Reads a `file:` URL value, capped at `ctx.url_max` bytes.
fn read_url(ctx: &Ctx, url: &[u8]) -> Result<Vec<u8>, String> {
    let url = std::str::from_utf8(url).map_err(|_| "URL is not valid UTF-8".to_string())?;
    if !url
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("file:"))
    {
        let scheme = url
            .split(':')
            .next()
            .filter(|s| s.len() < url.len())
            .unwrap_or("");
        return Err(if scheme.is_empty() {
            format!("'{url}' is not a URL (only file: URLs are read)")
        } else {
            format!("unsupported URL scheme '{scheme}:' (only file: URLs are read)")
        });
    }
    let rest = &url[5..];
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let slash = after.find('/').unwrap_or(after.len());
            let host = &after[..slash];
            if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                return Err(format!(
                    "file URL names host '{host}'; only local files are read (file:///absolute/path or file:relative/path)"
                ));
            }
            &after[slash..]
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(format!("file URL '{url}' has no path"));
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let p = path_from_bytes(bytes);
    let full = match ctx.base_dir {
        Some(base) if p.is_relative() => base.join(p),
        _ => p,
    };
    let dir = match ctx.allow_dir {
        None => return Err("file:// URLs are refused; use --allow-file-urls DIR".into()),
        Some(Err(e)) => return Err(e.clone()),
        Some(Ok(d)) => d,
    };
    // Resolved before the check and opened by the resolved name, so neither `..` nor a
    // symlink leads outside DIR.
    let outside = |p: &Path| {
        format!(
            "{} is outside the --allow-file-urls folder {}",
            p.display(),
            dir.display()
        )
    };
    let full = match std::fs::canonicalize(&full) {
        Ok(f) => f,
        // Whether a file outside DIR exists is not for the LDIF file to find out.
        Err(e) => {
            let inside = full
                .parent()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| p.starts_with(dir));
            return Err(match e.kind() {
                _ if !inside => outside(&full),
                io::ErrorKind::NotFound => format!("file not found: {}", full.display()),
                _ => format!("cannot read {}: {e}", full.display()),
            });
        }
    };
    if !full.starts_with(dir) {
        return Err(outside(&full));
    }
    let meta = std::fs::metadata(&full).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("file not found: {}", full.display()),
        _ => format!("cannot read {}: {e}", full.display()),
    })?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", full.display()));
    }
    if meta.len() > ctx.url_max {
        return Err(too_big(&full, ctx.url_max));
    }
    let f =
        std::fs::File::open(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    f.take(ctx.url_max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read {}: {e}", full.display()))?;
    // The file may have grown since the metadata call.
    if out.len() as u64 > ctx.url_max {
        return Err(too_big(&full, ctx.url_max));
    }
    Ok(out)
}

fn too_big(p: &Path, cap: u64) -> String {
    format!(
        "{} is larger than the {cap}-byte limit for URL values",
        p.display()
    )
}

#[cfg(unix)]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(b))
}

#[cfg(not(unix))]
fn path_from_bytes(b: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&b).into_owned())
}
