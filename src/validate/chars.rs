//! Characters that hide or deceive, by Unicode general category: one rule for every field
//! where they matter (email, username, display text).
//!
//! Refused: control characters (Cc: C0, DEL, C1), format characters (Cf: soft hyphen, zero-width
//! space and joiners, direction marks, embeddings and isolates, the Arabic letter mark, the
//! Mongolian vowel separator, interlinear annotation, BOM, tag characters...) and the line and
//! paragraph separators (Zl, Zp), which break a line like a newline does. A category rather
//! than a list: the list missed half of them, and Unicode adds format characters over time.
//!
//! The categories come from ICU4X's `icu_properties` (Unicode's own implementation, already in
//! the tree through `idna`), so they follow its Unicode version without a table of our own.
//!
//! Also refused: the other characters Unicode marks Default_Ignorable_Code_Point (displayed
//! as nothing when not supported): the combining grapheme joiner U+034F, the Hangul fillers
//! U+115F, U+1160, U+3164 and U+FFA0 (letters by category, blank on screen), variation
//! selectors out of place.
//!
//! Exceptions, in display names only ([`Place::DisplayName`]): the zero-width non-joiner and
//! joiner (U+200C, U+200D), which Persian and Kurdish names, Indic conjuncts and emoji sequences
//! need, are allowed between two visible non-ASCII characters; a variation selector (emoji
//! presentation, `❤️`; Mongolian free variation selectors) right after a visible non-ASCII
//! character. Between Latin letters, at an end or next to a space they only hide, and are
//! refused like the rest.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

const ZWNJ: char = '\u{200c}';
const ZWJ: char = '\u{200d}';

/// A character the rule refuses, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hidden {
    pub c: char,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Cc.
    Control,
    /// Cf.
    Format,
    /// Zl, Zp.
    LineSeparator,
    /// Default_Ignorable_Code_Point outside Cc and Cf.
    Invisible,
}

impl Hidden {
    /// `a control character (U+0009)`, for messages that follow "contains".
    pub fn describe(&self) -> String {
        let what = match self.kind {
            Kind::Control => "a control character",
            Kind::Format => "an invisible formatting character",
            Kind::LineSeparator => "a line separator",
            Kind::Invisible => "an invisible character",
        };
        format!("{what} (U+{:04X})", self.c as u32)
    }
}

/// Where a value goes: display names allow joiners between non-ASCII characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Identifier,
    DisplayName,
}

fn kind(c: char) -> Option<Kind> {
    if c < '\u{300}' {
        // ASCII, Latin-1 and the Latin extensions, where most names live: C0, DEL and C1 are
        // the controls and the soft hyphen the only format character (tested against the
        // table below).
        return match c {
            '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some(Kind::Control),
            '\u{ad}' => Some(Kind::Format),
            _ => None,
        };
    }
    match CodePointMapData::<GeneralCategory>::new().get(c) {
        GeneralCategory::Control => Some(Kind::Control),
        GeneralCategory::Format => Some(Kind::Format),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some(Kind::LineSeparator)
        }
        _ if CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) => {
            Some(Kind::Invisible)
        }
        _ => None,
    }
}

/// Variation selectors: Mongolian free variation selectors, VS1-16, VS17-256.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{180b}'..='\u{180d}' | '\u{180f}' | '\u{fe00}'..='\u{fe0f}' | '\u{e0100}'..='\u{e01ef}')
}

/// A visible non-ASCII character: what may stand on each side of a joiner in a name.
fn joinable(c: Option<char>) -> bool {
    // A variation selector belongs to the character before it (`❤️` then a joiner).
    c.is_some_and(|c| {
        !c.is_ascii() && !c.is_whitespace() && (kind(c).is_none() || is_variation_selector(c))
    })
}

/// The first character of `s` the rule refuses.
pub fn find(s: &str, place: Place) -> Option<Hidden> {
    if s.is_ascii() {
        // The common case: one pass over the bytes.
        return s.bytes().find(u8::is_ascii_control).map(|b| Hidden {
            c: char::from(b),
            kind: Kind::Control,
        });
    }
    let mut prev = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(kind) = kind(c) {
            let joiner_ok = place == Place::DisplayName
                && ((matches!(c, ZWNJ | ZWJ) && joinable(prev) && joinable(chars.peek().copied()))
                    || (is_variation_selector(c)
                        && joinable(prev)
                        && !prev.is_some_and(is_variation_selector)));
            if !joiner_ok {
                return Some(Hidden { c, kind });
            }
        }
        prev = Some(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &str, place: Place) -> Option<(u32, Kind)> {
        find(s, place).map(|h| (h.c as u32, h.kind))
    }

    #[test]
    fn categories() {
        use Kind::*;
        let table: &[(char, Option<Kind>)] = &[
            ('a', None),
            ('é', None),
            (' ', None),
            ('\u{a0}', None),
            ('\u{301}', None),
            ('\u{fe0f}', Some(Invisible)),
            ('\u{34f}', Some(Invisible)),
            ('\u{115f}', Some(Invisible)),
            ('\u{3164}', Some(Invisible)),
            ('\u{ffa0}', Some(Invisible)),
            ('\u{180b}', Some(Invisible)),
            ('\u{e0100}', Some(Invisible)),
            ('\t', Some(Control)),
            ('\n', Some(Control)),
            ('\u{7f}', Some(Control)),
            ('\u{85}', Some(Control)),
            ('\u{9f}', Some(Control)),
            ('\u{ad}', Some(Format)),
            ('\u{61c}', Some(Format)),
            ('\u{180e}', Some(Format)),
            ('\u{200b}', Some(Format)),
            ('\u{200e}', Some(Format)),
            ('\u{202a}', Some(Format)),
            ('\u{202e}', Some(Format)),
            ('\u{2060}', Some(Format)),
            ('\u{2064}', Some(Format)),
            ('\u{2066}', Some(Format)),
            ('\u{2069}', Some(Format)),
            ('\u{feff}', Some(Format)),
            ('\u{fff9}', Some(Format)),
            ('\u{fffb}', Some(Format)),
            ('\u{e0001}', Some(Format)),
            ('\u{e0020}', Some(Format)),
            ('\u{e007f}', Some(Format)),
            ('\u{2028}', Some(LineSeparator)),
            ('\u{2029}', Some(LineSeparator)),
        ];
        for &(c, want) in table {
            assert_eq!(kind(c), want, "U+{:04X}", c as u32);
            let s = format!("x{c}y");
            assert_eq!(
                found(&s, Place::Identifier),
                want.map(|k| (c as u32, k)),
                "U+{:04X}",
                c as u32
            );
        }
    }

    /// The shortcut below U+0300 agrees with the Unicode data.
    #[test]
    fn shortcut_agrees_with_the_categories() {
        let gc = CodePointMapData::<GeneralCategory>::new();
        for c in (0..0x300).filter_map(char::from_u32) {
            let want = match gc.get(c) {
                GeneralCategory::Control => Some(Kind::Control),
                GeneralCategory::Format => Some(Kind::Format),
                GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
                    Some(Kind::LineSeparator)
                }
                _ => None,
            };
            assert_eq!(kind(c), want, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn joiners_in_names_only_between_visible_non_ascii() {
        for ok in [
            "علی\u{200c}زاده",
            "म\u{94d}\u{200d}ह",
            "\u{1f469}\u{200d}\u{1f4bb}",
            "\u{2764}\u{fe0f}\u{200d}\u{1f525}",
            "Ann \u{2764}\u{fe0f}",
        ] {
            assert_eq!(found(ok, Place::DisplayName), None, "{ok:?}");
            assert!(found(ok, Place::Identifier).is_some(), "{ok:?}");
        }
        for bad in [
            "ad\u{200c}min",
            "\u{200d}علی",
            "علی\u{200c}",
            "علی\u{200c} زاده",
            "علی\u{200c}\u{200c}زاده",
            "علی\u{200c}\u{200b}زاده",
            "é\u{200b}é",
            "Ann\u{fe0f}",
            "é\u{fe0f}\u{fe0f}",
            "Ann \u{3164}",
            "a\u{34f}b",
        ] {
            assert!(found(bad, Place::DisplayName).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn messages() {
        let h = find("a\u{2066}b", Place::Identifier).expect("found");
        assert_eq!(h.describe(), "an invisible formatting character (U+2066)");
        let h = find("a\tb", Place::Identifier).expect("found");
        assert_eq!(h.describe(), "a control character (U+0009)");
        let h = find("é\u{e0041}", Place::DisplayName).expect("found");
        assert_eq!(h.describe(), "an invisible formatting character (U+E0041)");
        let h = find("\u{3164}", Place::DisplayName).expect("found");
        assert_eq!(h.describe(), "an invisible character (U+3164)");
    }
}
