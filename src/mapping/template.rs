//! Templates: `{attr}`, fallbacks `{displayName|cn}`, filters `{mail|lower}`,
//! literals around them (`{givenName} {sn}`), `{{` and `}}` for literal braces.
//!
//! Inside braces, `|` separates attribute names (tried in order until one has a
//! non-empty value) and then filters, applied in order to each value:
//! `lower`, `upper`, `trim`, `slug`, `first` (keep the first value only),
//! `not` (negate a boolean), `default:"x"` (use x when nothing matched),
//! `map:Active=true,Disabled=false,*=false` (replace each value). Binary values
//! (Active Directory's `objectSid`, any bytes) become text only through a filter that reads
//! the bytes, which comes first: `sid` (`S-1-5-21-…`), `guid` (the GUID string Windows
//! shows, from its mixed-endian bytes), `hex`, `base64`.

use std::fmt;

use crate::model::{Attrs, FieldValue, Problem};
use crate::source::values::is_binary_attr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    Lower,
    Upper,
    Trim,
    Slug,
    First,
    Not,
    Default(String),
    /// Reads the value's bytes: only first.
    Bytes(BytesAs),
    /// `map:Active=true,Disabled=false,*=false`: each value replaced by the one it maps to
    /// (ASCII case ignored, spaces trimmed); `*` maps whatever else; a value not listed,
    /// without `*`, is an error for the row.
    Map {
        pairs: Vec<(String, String)>,
        other: Option<String>,
    },
}

/// How a filter turns a value's bytes into text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BytesAs {
    Sid,
    Guid,
    Hex,
    Base64,
}

impl BytesAs {
    fn name(self) -> &'static str {
        match self {
            BytesAs::Sid => "sid",
            BytesAs::Guid => "guid",
            BytesAs::Hex => "hex",
            BytesAs::Base64 => "base64",
        }
    }

    /// The text of `v`, a value of attribute `attr`. A value that is already the text
    /// form (an `objectGUID` read as its UUID, a SID in a CSV cell) is kept as it is.
    fn text(self, attr: &str, v: &FieldValue) -> Result<String, ValueError> {
        let bytes = v.bytes();
        let bad = |what: &str| ValueError {
            attr: attr.to_string(),
            binary: true,
            detail: Some(format!("{attr} is not {what} (filter {})", self.name())),
        };
        match self {
            BytesAs::Sid => match v.text() {
                Some(t) if t.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("S-")) => {
                    Ok(t.to_ascii_uppercase())
                }
                _ => sid_text(bytes).ok_or_else(|| bad("a binary SID")),
            },
            BytesAs::Guid => match v.text() {
                Some(t) if is_uuid_text(t) => Ok(t.to_ascii_lowercase()),
                _ => crate::source::values::object_guid_to_uuid(bytes)
                    .ok_or_else(|| bad("a 16-byte GUID")),
            },
            BytesAs::Hex => Ok(hex::encode(bytes)),
            BytesAs::Base64 => {
                use base64::Engine as _;
                Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

/// A Windows security identifier in its string form: revision, 48-bit big-endian
/// identifier authority, then little-endian 32-bit sub-authorities (MS-DTYP 2.4.2).
/// `None` unless the bytes are exactly such a SID.
pub fn sid_text(b: &[u8]) -> Option<String> {
    let (&rev, rest) = b.split_first()?;
    let (&count, rest) = rest.split_first()?;
    let (auth, subs) = rest.split_at_checked(6)?;
    if rev != 1 || subs.len() != usize::from(count) * 4 {
        return None;
    }
    let authority = auth.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let mut out = format!("S-{rev}-{authority}");
    for c in subs.chunks_exact(4) {
        let n = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        out.push_str(&format!("-{n}"));
    }
    Some(out)
}

fn is_uuid_text(t: &str) -> bool {
    t.len() == 36
        && t.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// Attribute names, tried in order.
    pub attrs: Vec<String>,
    pub filters: Vec<Filter>,
    /// The attributes' slots in a [`Resolver`] (set by [`Template::bind`]).
    slots: Vec<usize>,
}

/// Where a template finds an attribute's values: by name, or by a slot resolved once.
pub trait Lookup {
    fn values(&self, name: &str, slot: Option<usize>) -> Option<&[crate::model::FieldValue]>;
}

impl Lookup for Attrs {
    fn values(&self, name: &str, _slot: Option<usize>) -> Option<&[crate::model::FieldValue]> {
        self.get(name)
    }
}

/// Numbers attribute names (ASCII case ignored) so a record's attributes can be located
/// once per record shape instead of by name for every template.
#[derive(Clone, Debug, Default)]
pub struct Resolver {
    names: Vec<String>,
}

impl Resolver {
    /// The slot of `name` (lowercased), adding it when new.
    pub fn slot(&mut self, name: &str) -> usize {
        let lower = name.to_ascii_lowercase();
        match self.names.iter().position(|n| *n == lower) {
            Some(i) => i,
            None => {
                self.names.push(lower);
                self.names.len() - 1
            }
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// For each slot, 1 + the index of the first attribute of that name in `attrs`
    /// (0 = absent). Names are looked up in a small hash map built on first use.
    pub fn locate(
        &self,
        attrs: &Attrs,
        index: &std::collections::HashMap<String, usize>,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        out.resize(self.names.len(), 0);
        let mut buf = [0u8; 64];
        for (i, (name, _)) in attrs.0.iter().enumerate() {
            let slot = if name.len() <= buf.len() && name.is_ascii() {
                let b = &mut buf[..name.len()];
                for (d, c) in b.iter_mut().zip(name.bytes()) {
                    *d = c.to_ascii_lowercase();
                }
                std::str::from_utf8(b).ok().and_then(|k| index.get(k))
            } else {
                index.get(&name.to_ascii_lowercase())
            };
            if let Some(&s) = slot
                && out[s] == 0
            {
                out[s] = i as u32 + 1;
            }
        }
    }

    /// The name → slot map [`Resolver::locate`] uses.
    pub fn index(&self) -> std::collections::HashMap<String, usize> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect()
    }
}

/// A record's attributes with their slots located.
pub struct Located<'a> {
    pub attrs: &'a Attrs,
    pub at: &'a [u32],
}

impl Lookup for Located<'_> {
    fn values(&self, name: &str, slot: Option<usize>) -> Option<&[crate::model::FieldValue]> {
        match slot {
            Some(s) => match self.at.get(s).copied().unwrap_or(0) {
                0 => None,
                i => self.attrs.0.get(i as usize - 1).map(|(_, v)| v.as_slice()),
            },
            None => self.attrs.get(name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Template {
    /// Parses a template; the error says what is wrong and where.
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut lit = String::new();
        let mut chars = src.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '}' => return Err(format!("unmatched '}}' at position {}", i + 1)),
                '{' => {
                    let mut inner = String::new();
                    let mut in_quote = false;
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '"' {
                            in_quote = !in_quote;
                        } else if c == '}' && !in_quote {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(format!("unclosed '{{' at position {}", i + 1));
                    }
                    if !lit.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut lit)));
                    }
                    segments.push(Segment::Expr(parse_expr(&inner)?));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            segments.push(Segment::Literal(lit));
        }
        if !segments.iter().any(|s| matches!(s, Segment::Expr(_))) {
            // A constant: allowed (e.g. `roles = "user"`), kept as a literal.
        }
        Ok(Template {
            source: src.to_string(),
            segments,
        })
    }

    /// A template reading one attribute, for defaults.
    pub fn attr(name: &str) -> Template {
        Template {
            source: format!("{{{name}}}"),
            segments: vec![Segment::Expr(Expr {
                attrs: vec![name.to_string()],
                filters: Vec::new(),
                slots: Vec::new(),
            })],
        }
    }

    /// Gives every attribute the template reads a slot in `r`.
    pub fn bind(&mut self, r: &mut Resolver) {
        for s in &mut self.segments {
            if let Segment::Expr(e) = s {
                e.slots = e.attrs.iter().map(|a| r.slot(a)).collect();
            }
        }
    }

    /// Every attribute name the template can read.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.exprs()
            .flat_map(|e| e.attrs.iter().map(String::as_str))
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Expr(e) => Some(e),
            Segment::Literal(_) => None,
        })
    }

    /// The values the template yields. A template that is one expression yields all
    /// the values of the first attribute that has any (multi-valued attributes stay
    /// multi-valued); anything else yields one string built from the first value of
    /// each expression, or nothing when every expression came up empty.
    /// A value that is not text ([`FieldValue::Binary`]) is an error, not a value.
    pub fn eval(&self, attrs: &(impl Lookup + ?Sized)) -> Result<Vec<String>, ValueError> {
        if let [Segment::Expr(e)] = self.segments.as_slice() {
            return e.eval(attrs);
        }
        let mut out = String::new();
        let mut any_expr = false;
        let mut any_value = false;
        for s in &self.segments {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Expr(e) => {
                    any_expr = true;
                    if let Some(v) = e.eval_first(attrs)? {
                        any_value = true;
                        out.push_str(&v);
                    }
                }
            }
        }
        if any_expr && !any_value {
            return Ok(Vec::new());
        }
        // Literal separators around an empty expression leave stray spaces
        // (`{givenName} {sn}` without sn); they are never wanted.
        let trimmed = if any_expr { out.trim() } else { out.as_str() };
        Ok(if trimmed.is_empty() {
            Vec::new()
        } else {
            vec![trimmed.to_string()]
        })
    }
}

/// A value a template could not use: binary data or bytes that are not UTF-8 (text in
/// another character set), bytes a filter could not read, a value a `map` does not list.
/// Reported on the field the template fills; binary values are never shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    /// The attribute, as the template names it.
    pub attr: String,
    /// Binary by nature (a photo, a certificate) rather than text in the wrong encoding.
    pub binary: bool,
    /// What a filter that reads bytes found wrong, when one did.
    pub detail: Option<String>,
}

impl ValueError {
    fn of(attr: &str, value: &FieldValue) -> Self {
        ValueError {
            detail: None,
            attr: attr.to_string(),
            binary: is_binary_attr(attr) || std::str::from_utf8(value.bytes()).is_ok(),
        }
    }

    pub fn reason(&self) -> String {
        if let Some(d) = &self.detail {
            d.clone()
        } else if self.binary {
            format!(
                "{} holds binary data (a photo, certificate or identifier), not text; turn it into text with a filter: {{{0}|sid}}, {{{0}|guid}}, {{{0}|hex}} or {{{0}|base64}}",
                self.attr
            )
        } else {
            format!(
                "the value of {} is not valid UTF-8 (binary data, or text in another character set)",
                self.attr
            )
        }
    }

    /// The problem for the field `field`.
    pub fn problem(&self, field: &str) -> Problem {
        Problem::new(field, self.reason())
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

/// A value as text, or the error naming its attribute.
pub fn text_of<'v>(attr: &str, v: &'v FieldValue) -> Result<&'v str, ValueError> {
    v.text().ok_or_else(|| ValueError::of(attr, v))
}

impl Template {
    /// The first value [`Template::eval`] would give, without building the list: what
    /// a single-valued field needs, once per field per row.
    pub fn eval_first(&self, attrs: &(impl Lookup + ?Sized)) -> Result<Option<String>, ValueError> {
        if let [Segment::Expr(e)] = self.segments.as_slice() {
            return e.eval_first(attrs);
        }
        Ok(self.eval(attrs)?.into_iter().next())
    }
}

impl Template {
    /// The first value as the source gave it, bytes included, for the one field that
    /// takes bytes (`avatar`): a template that is one expression without filters gives
    /// the first non-empty value of its first attribute that has one; anything else is
    /// text, as [`Template::eval_first`] builds it.
    pub fn eval_raw(
        &self,
        attrs: &(impl Lookup + ?Sized),
    ) -> Result<Option<FieldValue>, ValueError> {
        if let [Segment::Expr(e)] = self.segments.as_slice()
            && e.filters.is_empty()
        {
            for (i, a) in e.attrs.iter().enumerate() {
                if let Some(vs) = attrs.values(a, e.slots.get(i).copied())
                    && let Some(v) = vs.iter().find(|v| !v.bytes().is_empty())
                {
                    return Ok(Some(v.clone()));
                }
            }
            return Ok(None);
        }
        Ok(self.eval_first(attrs)?.map(FieldValue::Text))
    }
}

impl Expr {
    fn eval_first(&self, attrs: &(impl Lookup + ?Sized)) -> Result<Option<String>, ValueError> {
        if !self.filters.is_empty() {
            return Ok(self.eval(attrs)?.into_iter().next());
        }
        for (i, a) in self.attrs.iter().enumerate() {
            if let Some(vs) = attrs.values(a, self.slots.get(i).copied())
                && let Some(v) = vs.iter().find(|v| !v.bytes().is_empty())
            {
                return text_of(a, v).map(|t| Some(t.to_owned()));
            }
        }
        Ok(None)
    }

    fn eval(&self, attrs: &(impl Lookup + ?Sized)) -> Result<Vec<String>, ValueError> {
        let mut values: Vec<String> = Vec::new();
        // A filter that reads bytes comes first (the parser sees to it).
        let (bytes_as, filters) = match self.filters.split_first() {
            Some((Filter::Bytes(b), rest)) => (Some(*b), rest),
            _ => (None, &self.filters[..]),
        };
        // The attribute the values came from, for messages.
        let mut source = None;
        for (i, a) in self.attrs.iter().enumerate() {
            if let Some(vs) = attrs.values(a, self.slots.get(i).copied()) {
                source = Some(a.as_str());
                for v in vs.iter().filter(|v| !v.bytes().is_empty()) {
                    values.push(match bytes_as {
                        Some(b) => b.text(a, v)?,
                        None => text_of(a, v)?.to_owned(),
                    });
                }
                if !values.is_empty() {
                    break;
                }
            }
        }
        for f in filters {
            match f {
                Filter::Default(d) => {
                    if values.is_empty() {
                        values.push(d.clone());
                    }
                }
                Filter::First => values.truncate(1),
                Filter::Map { pairs, other } => {
                    for v in values.iter_mut() {
                        let key = v.trim();
                        let to = pairs
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(key))
                            .map(|(_, to)| to)
                            .or(other.as_ref());
                        match to {
                            Some(to) => *v = to.clone(),
                            None => {
                                let keys: Vec<&str> =
                                    pairs.iter().map(|(k, _)| k.as_str()).collect();
                                return Err(ValueError {
                                    attr: source.unwrap_or_default().to_string(),
                                    binary: false,
                                    detail: Some(format!(
                                        "{} {key:?} is not in the map ({}; add *=VALUE for the others)",
                                        source.unwrap_or("the value"),
                                        keys.join(", ")
                                    )),
                                });
                            }
                        }
                    }
                    values.retain(|v| !v.is_empty());
                }
                _ => {
                    for v in values.iter_mut() {
                        *v = apply(f, v);
                    }
                    values.retain(|v| !v.is_empty());
                }
            }
        }
        Ok(values)
    }
}

fn apply(f: &Filter, v: &str) -> String {
    match f {
        Filter::Lower => v.to_lowercase(),
        Filter::Upper => v.to_uppercase(),
        Filter::Trim => v.trim().to_string(),
        Filter::Slug => slug(v),
        Filter::Not => match super::parse_bool(v) {
            Some(b) => (!b).to_string(),
            // Leave it for the boolean check to report.
            None => v.to_string(),
        },
        Filter::First | Filter::Default(_) | Filter::Bytes(_) | Filter::Map { .. } => v.to_string(),
    }
}

/// Lowercase ASCII letters, digits, `.`, `-`, `_`; accented Latin letters lose their
/// accents; runs of anything else become one `.`, trimmed at the ends. Close to what
/// Rocket.Chat does to LDAP usernames (limax with `.`).
pub fn slug(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut pending_sep = false;
    for c in v.chars() {
        let mapped: Option<&str> = match c {
            'a'..='z' | '0'..='9' | '.' | '-' | '_' => None,
            'A'..='Z' => None,
            _ => fold_accent(c),
        };
        let piece: String = match mapped {
            Some(s) => s.to_string(),
            None if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => {
                c.to_ascii_lowercase().to_string()
            }
            None => String::new(),
        };
        if piece.is_empty() {
            pending_sep = !out.is_empty();
            continue;
        }
        if pending_sep {
            out.push('.');
            pending_sep = false;
        }
        out.push_str(&piece);
    }
    out.trim_matches(|c| c == '.' || c == '-' || c == '_')
        .to_string()
}

fn fold_accent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' | 'Ą' => {
            "a"
        }
        'ä' | 'Ä' | 'æ' | 'Æ' => "ae",
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
        'ď' | 'đ' | 'Ď' | 'Đ' | 'ð' | 'Ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => {
            "e"
        }
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "i",
        'ł' | 'Ł' | 'ľ' | 'Ľ' => "l",
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ō' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ō' | 'Ø' => "o",
        'ö' | 'Ö' | 'œ' | 'Œ' => "oe",
        'ř' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'Ś' | 'Š' | 'Ş' => "s",
        'ß' => "ss",
        'ť' | 'Ť' | 'þ' | 'Þ' => "t",
        'ù' | 'ú' | 'û' | 'ū' | 'ů' | 'Ù' | 'Ú' | 'Û' | 'Ū' | 'Ů' => "u",
        'ü' | 'Ü' => "ue",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        _ => return None,
    })
}

fn parse_expr(inner: &str) -> Result<Expr, String> {
    let parts = split_pipes(inner)?;
    let mut attrs = Vec::new();
    let mut filters = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let p = p.trim();
        if p.is_empty() {
            return Err(format!("empty name in {{{inner}}}"));
        }
        // The first name is always an attribute, so `{first}` reads a column "first".
        let filter = if i == 0 && !p.contains(':') {
            None
        } else {
            parse_filter(p)?
        };
        match filter {
            Some(f) => {
                if attrs.is_empty() {
                    return Err(format!(
                        "{{{inner}}} starts with the filter {p:?}; name an attribute first"
                    ));
                }
                if matches!(f, Filter::Bytes(_)) && !filters.is_empty() {
                    return Err(format!(
                        "{{{inner}}}: {p} reads the attribute's bytes; put it first among the filters"
                    ));
                }
                filters.push(f);
            }
            None => {
                if !filters.is_empty() {
                    return Err(format!(
                        "{{{inner}}}: attribute {p:?} comes after a filter; put fallbacks first"
                    ));
                }
                if !is_attr_name(p) {
                    return Err(format!(
                        "{p:?} is not an attribute name or a known filter (lower, upper, trim, slug, first, not, default:\"x\", map:A=x,B=y, sid, guid, hex, base64)"
                    ));
                }
                attrs.push(p.to_string());
            }
        }
    }
    if attrs.is_empty() {
        return Err("empty {} in template".to_string());
    }
    Ok(Expr {
        attrs,
        filters,
        slots: Vec::new(),
    })
}

fn split_pipes(s: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in s.chars() {
        match c {
            '|' if !in_quote => parts.push(std::mem::take(&mut cur)),
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    if in_quote {
        return Err(format!("unclosed quote in {{{s}}}"));
    }
    Ok(parts)
}

/// `Active=true, Disabled=false, *=false`.
fn parse_map(a: &str) -> Result<Filter, String> {
    let (mut pairs, mut other) = (Vec::new(), None);
    for pair in a.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!(
                "map: {pair:?} is not FROM=TO (as in map:Active=true,Disabled=false)"
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        if k == "*" {
            other = Some(v.to_string());
        } else if pairs
            .iter()
            .any(|(p, _): &(String, String)| p.eq_ignore_ascii_case(k))
        {
            return Err(format!("map: {k:?} is listed twice"));
        } else {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    Ok(Filter::Map { pairs, other })
}

fn parse_filter(p: &str) -> Result<Option<Filter>, String> {
    let (name, arg) = match p.split_once(':') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (p, None),
    };
    let f = match (name, arg) {
        ("lower", None) => Filter::Lower,
        ("upper", None) => Filter::Upper,
        ("trim", None) => Filter::Trim,
        ("slug", None) => Filter::Slug,
        ("first", None) => Filter::First,
        ("not", None) => Filter::Not,
        ("sid", None) => Filter::Bytes(BytesAs::Sid),
        ("guid", None) => Filter::Bytes(BytesAs::Guid),
        ("hex", None) => Filter::Bytes(BytesAs::Hex),
        ("base64", None) => Filter::Bytes(BytesAs::Base64),
        ("default", Some(a)) => {
            let a = a
                .strip_prefix('"')
                .and_then(|a| a.strip_suffix('"'))
                .unwrap_or(a);
            Filter::Default(a.to_string())
        }
        ("default", None) => return Err("default needs a value: default:\"x\"".to_string()),
        ("map", Some(a)) => parse_map(a)?,
        ("map", None) => {
            return Err(
                "map needs pairs: map:Active=true,Disabled=false (*=x for the rest)".into(),
            );
        }
        (
            "lower" | "upper" | "trim" | "slug" | "first" | "not" | "sid" | "guid" | "hex"
            | "base64",
            Some(_),
        ) => {
            return Err(format!("filter {name} takes no argument"));
        }
        _ => return Ok(None),
    };
    Ok(Some(f))
}

/// LDAP attribute descriptions (`cn;lang-de`), CSV headers with spaces or dots
/// (`custom_fields.dept`, `E-mail`, `Last Name`): anything but braces, pipes and quotes.
fn is_attr_name(p: &str) -> bool {
    !p.is_empty() && !p.contains(['{', '}', '|', '"'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldValue;

    fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
        let mut a = Attrs::new();
        for (k, vs) in pairs {
            for v in *vs {
                a.push(k, FieldValue::from(*v));
            }
        }
        a
    }

    #[test]
    fn sid_text_matches_microsofts_well_known_sids() {
        // MS-DTYP 2.4.2.4: BUILTIN\Administrators and Everyone.
        let admins = [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0];
        assert_eq!(sid_text(&admins).as_deref(), Some("S-1-5-32-544"));
        assert_eq!(
            sid_text(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]).as_deref(),
            Some("S-1-1-0")
        );
        // A domain user: S-1-5-21-<three sub-authorities>-<RID>.
        let mut user = vec![1, 5, 0, 0, 0, 0, 0, 5];
        for n in [21u32, 1_004_336_348, 1_177_238_915, 682_003_330, 1_104] {
            user.extend_from_slice(&n.to_le_bytes());
        }
        assert_eq!(
            sid_text(&user).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-1104")
        );
        // Wrong length, wrong revision, nothing: not a SID.
        assert_eq!(sid_text(&admins[..15]), None);
        assert_eq!(sid_text(&[2, 0, 0, 0, 0, 0, 0, 5]), None);
        assert_eq!(sid_text(&[]), None);
    }

    #[test]
    fn byte_filters_turn_binary_values_into_text() {
        let mut a = Attrs::new();
        a.push(
            "objectSid",
            FieldValue::Binary(vec![1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]),
        );
        let guid = [
            0xc9, 0x8b, 0x91, 0x35, 0x6d, 0x19, 0xea, 0x40, 0x97, 0x79, 0x88, 0x9d, 0x79, 0xb7,
            0x53, 0xf0,
        ];
        a.push("msDS-ConsistencyGuid", FieldValue::Binary(guid.to_vec()));
        a.push("objectGUID", "35918BC9-196D-40EA-9779-889D79B753F0".into());
        a.push("photo", FieldValue::Binary(vec![0xff, 0x00, 0x10]));
        let eval = |t: &str| Template::parse(t).unwrap().eval(&a);
        assert_eq!(eval("{objectSid|sid}").unwrap(), ["S-1-5-32-544"]);
        assert_eq!(eval("{objectSid|sid|lower}").unwrap(), ["s-1-5-32-544"]);
        // Already text (a CSV cell): kept, upper case; no panic on a multi-byte start.
        let mut t = Attrs::new();
        t.push("sid", "s-1-5-32-544".into());
        t.push("odd", "€-1".into());
        let eval_t = |s: &str| Template::parse(s).unwrap().eval(&t);
        assert_eq!(eval_t("{sid|sid}").unwrap(), ["S-1-5-32-544"]);
        assert!(eval_t("{odd|sid}").is_err());
        assert_eq!(
            eval("{msDS-ConsistencyGuid|guid}").unwrap(),
            ["35918bc9-196d-40ea-9779-889d79b753f0"]
        );
        // Already the text form (as roster reads objectGUID): kept, lower case.
        assert_eq!(
            eval("{objectGUID|guid}").unwrap(),
            ["35918bc9-196d-40ea-9779-889d79b753f0"]
        );
        assert_eq!(eval("{photo|hex}").unwrap(), ["ff0010"]);
        assert_eq!(eval("{photo|base64}").unwrap(), ["/wAQ"]);
        // Without a filter, the error names the filters; with the wrong one, what is wrong.
        let e = eval("{objectSid}").unwrap_err().reason();
        assert!(e.contains("{objectSid|sid}"), "{e}");
        let e = eval("{photo|sid}").unwrap_err().reason();
        assert_eq!(e, "photo is not a binary SID (filter sid)");
        // A filter that reads bytes comes first.
        let e = Template::parse("{objectSid|lower|sid}").unwrap_err();
        assert!(e.contains("put it first"), "{e}");
    }

    #[test]
    fn map_replaces_listed_values_and_refuses_the_others() {
        let a = attrs(&[("status", &[" active "]), ("kind", &["Contractor"])]);
        let eval = |t: &str| Template::parse(t).unwrap().eval(&a);
        assert_eq!(
            eval("{status|map:Active=true,Disabled=false}").unwrap(),
            ["true"]
        );
        assert_eq!(
            eval("{kind|map:Employee=staff, *=\"external\"|upper}").unwrap(),
            ["EXTERNAL"]
        );
        let e = eval("{kind|map:Employee=staff,Intern=staff}").unwrap_err();
        assert_eq!(
            e.reason(),
            "kind \"Contractor\" is not in the map (Employee, Intern; add *=VALUE for the others)"
        );
        for bad in ["{kind|map}", "{kind|map:Employee}", "{kind|map:A=x,a=y}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fallbacks_filters_and_literals() {
        let a = attrs(&[
            ("cn", &["Ann Lee"]),
            ("givenName", &["Ann"]),
            ("mail", &["Ann@X.org"]),
        ]);
        assert_eq!(
            Template::parse("{displayName|cn}")
                .unwrap()
                .eval(&a)
                .unwrap(),
            ["Ann Lee"]
        );
        assert_eq!(
            Template::parse("{mail|lower}").unwrap().eval(&a).unwrap(),
            ["ann@x.org"]
        );
        assert_eq!(
            Template::parse("{givenName} {sn}")
                .unwrap()
                .eval(&a)
                .unwrap(),
            ["Ann"]
        );
        assert!(
            Template::parse("{sn} {title}")
                .unwrap()
                .eval(&a)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            Template::parse("{title|default:\"staff | x\"}")
                .unwrap()
                .eval(&a)
                .unwrap(),
            ["staff | x"]
        );
        assert_eq!(
            Template::parse("{{literal}}").unwrap().eval(&a).unwrap(),
            ["{literal}"]
        );
        assert_eq!(
            Template::parse("{cn|slug}").unwrap().eval(&a).unwrap(),
            ["ann.lee"]
        );
    }

    #[test]
    fn eval_first_agrees_with_eval() {
        let a = attrs(&[
            ("cn", &["", "Ann"]),
            ("sn", &["Lee"]),
            ("mail", &["A@X.org"]),
        ]);
        for t in [
            "{cn}",
            "{title|sn}",
            "{mail|lower}",
            "{cn} {sn}",
            "{x|default:\"d\"}",
            "{x}",
            "lit",
        ] {
            let t = Template::parse(t).unwrap();
            assert_eq!(
                t.eval_first(&a).unwrap(),
                t.eval(&a).unwrap().into_iter().next(),
                "{t}"
            );
        }
    }

    #[test]
    fn multi_values_and_first() {
        let a = attrs(&[("memberOf", &["a", "b"])]);
        assert_eq!(
            Template::parse("{memberOf}").unwrap().eval(&a).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            Template::parse("{memberOf|first}")
                .unwrap()
                .eval(&a)
                .unwrap(),
            ["a"]
        );
        assert_eq!(
            Template::parse("x-{memberOf}").unwrap().eval(&a).unwrap(),
            ["x-a"]
        );
    }

    #[test]
    fn errors() {
        assert!(Template::parse("{cn").is_err());
        assert!(Template::parse("cn}").is_err());
        assert!(Template::parse("{default:\"x\"}").is_err());
        assert_eq!(
            Template::parse("{first}")
                .unwrap()
                .attributes()
                .collect::<Vec<_>>(),
            ["first"]
        );
        assert!(Template::parse("{cn|lower|sn}").is_err());
        assert!(Template::parse("{cn|default}").is_err());
        assert!(Template::parse("{}").is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Zoë Müller-Lüdenscheidt"), "zoe.mueller-luedenscheidt");
        assert_eq!(slug("  José  García "), "jose.garcia");
        assert_eq!(slug("李"), "");
    }
}
