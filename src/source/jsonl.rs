//! JSON Lines source: one JSON object per line, blank lines skipped.
//!
//! Each object becomes a [`RawRecord`] whose attributes are its keys, in object order:
//! strings, numbers and booleans give one text value (`true`/`false`); an array of scalars
//! gives one value per element (an empty array gives the attribute with no values, so
//! `"roles": []` stays distinct from no `roles` key); `null` leaves the attribute out; the
//! object under `custom_fields` gives attributes `custom_fields.<key>`; any other nested
//! object or array gives its compact JSON text. This reads back the canonical `User`
//! JSON the JSONL writer produces.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value as Json;

use super::encoding::UTF8_BOM;
use super::{Format, Source, SourceError, SourceItem, SourceOptions, open_input, origin_name};
use crate::model::{
    Attrs, AttrsBuilder, BadRecord, Change, FieldValue, Name, Origin, Problem, RawRecord, RawText,
};

/// The key whose object is flattened into `custom_fields.<key>` attributes.
const CUSTOM_FIELDS: &str = "custom_fields";

/// Reads JSON Lines. See the module documentation.
pub struct JsonlSource {
    spec: String,
    name: String,
    input: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    /// Number of the last line read.
    line: u64,
    /// `--max-record-size`: a longer line is read to its end without being kept.
    max_line: usize,
    done: bool,
}

impl JsonlSource {
    /// Opens `spec` (a path, or `-` for stdin).
    pub fn open(spec: &str, opts: &SourceOptions) -> Result<Self, SourceError> {
        let input = open_input(spec)?;
        let mut src = Self::from_boxed(input, &origin_name(spec), opts);
        src.spec = spec.to_string();
        Ok(src)
    }

    /// Reads from any reader; `name` stands for the file in origins and messages.
    pub fn from_reader(
        reader: impl Read + Send + 'static,
        name: &str,
        opts: &SourceOptions,
    ) -> Result<Self, SourceError> {
        Ok(Self::from_boxed(Box::new(reader), name, opts))
    }

    // JSON is UTF-8 by definition (RFC 8259): of the options, only the size cap applies.
    fn from_boxed(input: Box<dyn Read + Send>, name: &str, opts: &SourceOptions) -> Self {
        JsonlSource {
            spec: name.to_string(),
            name: name.to_string(),
            input: Box::new(BufReader::with_capacity(1 << 16, input)),
            buf: Vec::new(),
            line: 0,
            max_line: usize::try_from(opts.max_record_bytes()).unwrap_or(usize::MAX),
            done: false,
        }
    }
}

/// Reads one line (up to and with its `\n`) into `buf`, keeping it only if it holds at most
/// `cap` bytes without its line end: a longer line is read to its end and dropped. The
/// bytes read, and whether it was longer.
fn read_line_capped(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    // Room for the line end, which does not count.
    let keep = cap.saturating_add(2);
    let (mut read, mut oversize) = (0, false);
    loop {
        let avail = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        let (take, end) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if !oversize && buf.len() + take > keep {
            oversize = true;
            buf.clear();
        }
        if !oversize {
            buf.extend_from_slice(&avail[..take]);
        }
        input.consume(take);
        read += take;
        if end {
            break;
        }
    }
    let text = buf.strip_suffix(b"\n").unwrap_or(buf);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.len() > cap {
        oversize = true;
        buf.clear();
    }
    Ok((read, oversize))
}

impl Source for JsonlSource {
    fn next_item(&mut self) -> Result<Option<SourceItem>, SourceError> {
        if self.done {
            return Ok(None);
        }
        loop {
            self.buf.clear();
            let (n, oversize) = read_line_capped(&mut self.input, &mut self.buf, self.max_line)
                .map_err(|e| SourceError::io(&self.spec, e))?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            self.line += 1;
            if oversize {
                return Ok(Some(SourceItem::Bad(BadRecord {
                    origin: Origin::line(&self.name, self.line),
                    raw: RawText::None,
                    problems: vec![Problem::record(format!(
                        "the line is larger than {} (--max-record-size); skipped",
                        super::size_text(self.max_line as u64)
                    ))],
                    partial: None,
                })));
            }
            let mut text = self.buf.as_slice();
            if self.line == 1 {
                text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
            }
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let origin = Origin::line(&self.name, self.line);
            let raw = RawText::Text(format!("{}\n", String::from_utf8_lossy(text)));
            return Ok(Some(match parse_object(text) {
                Ok(attrs) => SourceItem::Record(RawRecord {
                    origin,
                    dn: None,
                    change: Change::Entry,
                    attrs,
                    raw,
                    url_values: Vec::new(),
                }),
                Err(reason) => SourceItem::Bad(BadRecord {
                    origin,
                    raw,
                    problems: vec![Problem::record(reason)],
                    partial: None,
                }),
            }));
        }
    }

    fn format(&self) -> Format {
        Format::Jsonl
    }

    fn describe(&self) -> String {
        self.spec.clone()
    }
}

/// Parses one line as an object into attributes; the error text names the column.
fn parse_object(text: &[u8]) -> Result<Attrs, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let attrs = de
        .deserialize_map(ObjectVisitor)
        .and_then(|a| de.end().map(|()| a))
        .map_err(|e| {
            // The position is always line 1 of this one line: say only the column.
            let msg = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
            // serde_json says column 0 when it fails before reading a character.
            format!(
                "not a valid JSON object: {msg} (column {})",
                e.column().max(1)
            )
        })?;
    Ok(attrs)
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Attrs;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attrs, A::Error> {
        let mut attrs = Object::default();
        while let Some(key) = map.next_key::<String>()? {
            let value: Json = map.next_value()?;
            if key == CUSTOM_FIELDS
                && let Json::Object(fields) = value
            {
                for (k, v) in fields {
                    add(&mut attrs, format!("{CUSTOM_FIELDS}.{k}"), v)?;
                }
            } else {
                add(&mut attrs, key, value)?;
            }
        }
        Ok(attrs.attrs)
    }
}

/// An object's attributes so far, and their names indexed once there are many: checking
/// each key against all the keys before it would make a line with 300,000 keys take minutes.
#[derive(Default)]
struct Object {
    attrs: Attrs,
    /// The names of `attrs.0[..index.len()]` (names are unique there). Empty while small.
    index: HashSet<Name>,
}

impl Object {
    fn has(&mut self, name: &str) -> bool {
        let list = &self.attrs.0;
        if list.len() <= AttrsBuilder::LINEAR_MAX {
            return list.iter().any(|(n, _)| **n == *name);
        }
        for (n, _) in &list[self.index.len()..] {
            self.index.insert(n.clone());
        }
        self.index.contains(name)
    }
}

/// Adds one key's values; a key given twice is an error. Keys differing only in case stay
/// separate entries (custom field keys are case-sensitive on the servers).
fn add<E: de::Error>(attrs: &mut Object, name: String, value: Json) -> Result<(), E> {
    if value.is_null() {
        return Ok(());
    }
    if attrs.has(&name) {
        return Err(E::custom(format_args!("key {name:?} given twice")));
    }
    let values = match value {
        Json::Array(items) => items.into_iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    };
    attrs.attrs.0.push((name.into(), values));
    Ok(())
}

/// A value as text: scalars as themselves, containers as compact JSON; `None` for null.
fn scalar_text(v: Json) -> Option<FieldValue> {
    Some(FieldValue::Text(match v {
        Json::Null => return None,
        Json::String(s) => s,
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        other => other.to_string(),
    }))
}
