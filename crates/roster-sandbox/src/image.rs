//! Image formats recognised from their first bytes, with the dimensions their headers
//! state, for the avatar and profile-image endpoints.
//!
//! Mattermost decodes uploads with Go's `image.DecodeConfig` / `image.Decode` and the
//! formats `server/channels/app/imaging/decode.go` registers: gif, jpeg, png, bmp, tiff,
//! webp. The sandbox reads only the header (magic bytes + width and height); it never
//! decodes pixels, so a file with a valid header and a corrupt body is accepted (a
//! documented simplification of the flavors that use this).

/// A recognised format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Gif,
    Jpeg,
    Png,
    Bmp,
    Tiff,
    Webp,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Gif => "image/gif",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
            Format::Webp => "image/webp",
        }
    }
}

/// What the header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub format: Format,
    pub width: u64,
    pub height: u64,
}

/// Why a file is not an image the sandbox accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SniffError {
    /// No known magic bytes (`image: unknown format`).
    UnknownFormat,
    /// Known magic bytes but a truncated or malformed header.
    BadHeader(Format),
}

fn be16(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}
fn le16(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u16::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
    ])))
}
fn be32(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 4)?;
    Some(u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])))
}
fn le32(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 4)?;
    Some(u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
}
fn le24(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 3)?;
    Some(u64::from(s[0]) | u64::from(s[1]) << 8 | u64::from(s[2]) << 16)
}

/// The format and dimensions of `b`.
pub fn sniff(b: &[u8]) -> Result<Header, SniffError> {
    let (format, dims) = if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        let ok = b.get(12..16) == Some(b"IHDR");
        (
            Format::Png,
            ok.then(|| Some((be32(b, 16)?, be32(b, 20)?))).flatten(),
        )
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        (Format::Gif, le16(b, 6).zip(le16(b, 8)))
    } else if b.starts_with(&[0xFF, 0xD8]) {
        (Format::Jpeg, jpeg_dims(b))
    } else if b.starts_with(b"BM") {
        let dims = le32(b, 18).zip(le32(b, 22)).map(|(w, h)| {
            // Signed 32-bit values; a negative height means a top-down bitmap.
            let w = (w as u32 as i32).unsigned_abs();
            let h = (h as u32 as i32).unsigned_abs();
            (u64::from(w), u64::from(h))
        });
        (Format::Bmp, dims)
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        (Format::Tiff, tiff_dims(b))
    } else if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        (Format::Webp, webp_dims(b))
    } else {
        return Err(SniffError::UnknownFormat);
    };
    match dims {
        Some((width, height)) if width > 0 && height > 0 => Ok(Header {
            format,
            width,
            height,
        }),
        _ => Err(SniffError::BadHeader(format)),
    }
}

/// The first SOFn segment's dimensions.
fn jpeg_dims(b: &[u8]) -> Option<(u64, u64)> {
    let mut i = 2;
    loop {
        // Skip fill bytes before a marker.
        while *b.get(i)? == 0xFF && *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        if matches!(marker, 0xD0..=0xD9 | 0x01) {
            i += 2;
            continue;
        }
        let len = usize::try_from(be16(b, i + 2)?).ok()?;
        let sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if sof {
            return Some((be16(b, i + 7)?, be16(b, i + 5)?));
        }
        if len < 2 {
            return None;
        }
        i += 2 + len;
    }
}

fn tiff_dims(b: &[u8]) -> Option<(u64, u64)> {
    let le = b.starts_with(b"II");
    let r16 = |at: usize| if le { le16(b, at) } else { be16(b, at) };
    let r32 = |at: usize| if le { le32(b, at) } else { be32(b, at) };
    let ifd = usize::try_from(r32(4)?).ok()?;
    let n = usize::try_from(r16(ifd)?).ok()?;
    let (mut w, mut h) = (None, None);
    for k in 0..n {
        let e = ifd + 2 + 12 * k;
        let tag = r16(e)?;
        let ty = r16(e + 2)?;
        // SHORT (3) values sit in the first two bytes of the value field, LONG (4) in four.
        let v = if ty == 3 { r16(e + 8)? } else { r32(e + 8)? };
        match tag {
            256 => w = Some(v),
            257 => h = Some(v),
            _ => {}
        }
    }
    w.zip(h)
}

fn webp_dims(b: &[u8]) -> Option<(u64, u64)> {
    match b.get(12..16)? {
        b"VP8 " => Some((le16(b, 26)? & 0x3FFF, le16(b, 28)? & 0x3FFF)),
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let bits = le32(b, 21)?;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
        _ => None,
    }
}

/// A valid 1×1 PNG: the sandbox's "default" picture.
pub const DEFAULT_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_each_format() {
        let png = sniff(DEFAULT_PNG);
        assert_eq!(
            png,
            Ok(Header {
                format: Format::Png,
                width: 1,
                height: 1
            })
        );
        let gif = b"GIF89a\x02\x00\x03\x00\x00\x00\x00;";
        assert_eq!(sniff(gif).map(|h| (h.width, h.height)), Ok((2, 3)));
        // SOI, APP0 (len 4), SOF0 with height 5 and width 7.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00,
            0x05, 0x00, 0x07, 0x01, 0x01, 0x11, 0x00,
        ];
        assert_eq!(
            sniff(&jpeg).map(|h| (h.format, h.width, h.height)),
            Ok((Format::Jpeg, 7, 5))
        );
        assert_eq!(sniff(b"hello"), Err(SniffError::UnknownFormat));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n"),
            Err(SniffError::BadHeader(Format::Png))
        );
    }
}
