//! Text encodings of CSV input: UTF-8 (with or without BOM), Windows-1252, Latin-1, detection.

/// `--encoding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8; input that is not valid UTF-8 is read as Windows-1252, with a warning.
    #[default]
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[value(name = "windows-1252", alias = "cp1252")]
    #[serde(rename = "windows-1252", alias = "cp1252")]
    Windows1252,
    #[value(name = "latin1", alias = "iso-8859-1")]
    #[serde(rename = "latin1", alias = "iso-8859-1")]
    Latin1,
}

impl Encoding {
    /// The name `--encoding` takes.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
            Encoding::Latin1 => "latin1",
        }
    }

    /// Decodes bytes in a single-byte encoding. `Auto` and `Utf8` have no single-byte
    /// reading and fall back to Windows-1252, the usual "ANSI" of spreadsheet exports.
    pub fn decode_single_byte(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Latin1 => decode_latin1(bytes),
            _ => decode_windows_1252(bytes),
        }
    }
}

// Defined with the CSV conventions the writer shares; every reader skips it.
pub use crate::csv_syntax::UTF8_BOM;

/// Windows-1252 as WHATWG defines it: every byte maps to a character (the five bytes
/// Microsoft leaves undefined map to the C1 controls), so decoding never fails or loses bytes.
pub fn decode_windows_1252(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

/// ISO-8859-1: byte n is U+00n. Done by hand because encoding_rs (following WHATWG)
/// treats the label `latin1` as Windows-1252, which differs in 0x80–0x9F.
pub fn decode_latin1(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8: one copy, no per-char work.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Whether the start of an input looks like UTF-16 (a UTF-16 byte order mark, or many NUL
/// bytes, as in UTF-16 text without one). Such input would decode to garbage; callers
/// refuse it with a hint to save the file as UTF-8.
pub fn looks_like_utf16(prefix: &[u8]) -> bool {
    if prefix.starts_with(b"\xFF\xFE") || prefix.starts_with(b"\xFE\xFF") {
        return true;
    }
    let head = &prefix[..prefix.len().min(1024)];
    // ASCII text in UTF-16 is every other byte NUL; real CSV text has none.
    head.len() >= 4 && head.iter().filter(|&&b| b == 0).count() * 4 >= head.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_maps_bytes_one_to_one() {
        assert_eq!(decode_latin1(b"M\xfcller \x80\x9f"), "Müller \u{80}\u{9f}");
        assert_eq!(decode_latin1(b"plain"), "plain");
    }

    #[test]
    fn windows_1252_differs_from_latin1_in_c1_range() {
        assert_eq!(decode_windows_1252(b"M\xfcller \x80\x9f"), "Müller €Ÿ");
        // Undefined in Microsoft's table: kept as the C1 control, not lost.
        assert_eq!(decode_windows_1252(b"\x81"), "\u{81}");
    }

    #[test]
    fn utf16_is_recognised() {
        assert!(looks_like_utf16(b"\xFF\xFEu\0s\0"));
        assert!(looks_like_utf16(b"u\0s\0e\0r\0n\0a\0m\0e\0"));
        assert!(!looks_like_utf16(b"username,email\n"));
        assert!(!looks_like_utf16(b"\xEF\xBB\xBFusername"));
    }
}
