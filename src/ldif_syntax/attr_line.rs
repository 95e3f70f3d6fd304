//! Encoding of one LDIF attribute line (RFC 2849): `name: value`, or `name:: base64` when
//! the value cannot be written as it is, folded at 76 columns.
//!
//! Encoding: a value (or the DN) is written base64 (`attr:: `) when it has a non-ASCII
//! byte, NUL, CR or LF, starts with a space, `:` or `<`, or ends with a space. Lines longer
//! than 76 columns are folded (continuation lines start with one space).

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Longest line written; longer ones are folded.
const LINE_MAX: usize = 76;

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
