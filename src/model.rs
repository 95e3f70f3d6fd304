//! The canonical user every stage shares, and the raw records sources produce.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Where a record came from: `file:line` for files, the DN for LDAP entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Origin(pub String);

impl Origin {
    /// `file:line`, built without `format!`: sources make one per row.
    pub fn line(file: &str, line: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = line;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut s = String::with_capacity(file.len() + 1 + digits.len() - i);
        s.push_str(file);
        s.push(':');
        s.extend(digits[i..].iter().map(|&d| char::from(d)));
        Origin(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one canonical user. `None` means "the source says nothing about this field":
/// an update never touches it. Only `username` is always present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Server user id (`_id` on Rocket.Chat, `id` on Mattermost), set in dumps and exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Job title (Mattermost `position`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Never serialized: see [`Secret`].
    #[serde(default, skip_serializing)]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_password_change: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, String>,
    /// Stable identity at the source (entryUUID, objectGUID, employee number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Teams the user belongs to, by name (Mattermost teams, Rocket.Chat teams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
    /// Channels the user belongs to, by name (on Mattermost, within the user's teams, or
    /// `team/channel`; on Rocket.Chat, public channels and private groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// The profile image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Avatar>,
    /// In the `--state` ledger: a digest of the source's image roster last set, so a
    /// nightly sync uploads an avatar only when the source's image changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_digest: Option<String>,
    /// Where the record came from. Not serialized: readers set it from their own position.
    #[serde(default, skip)]
    pub origin: Origin,
    /// The server's account type when it is not a plain user (`bot`, `app`): such
    /// accounts are never deactivated by a sync. Known only for users read from a server.
    #[serde(default, skip)]
    pub server_kind: Option<String>,
    /// The account has a profile image of its own on the server (Mattermost
    /// `last_picture_update > 0`, Rocket.Chat `avatarOrigin`/`avatarETag`), which
    /// `export --avatars` fetches. Known only for users read from a server.
    #[serde(default, skip)]
    pub server_avatar: bool,
    /// How the account signs in on the server (Mattermost `auth_service`: `ldap`,
    /// `saml`, …; `None` for email and password). Known only for users read from a server.
    #[serde(default, skip)]
    pub server_auth: Option<String>,
    /// Whether the account has multi-factor authentication on, where the server says so
    /// (Mattermost `mfa_active`). Known only for users read from a server.
    #[serde(default, skip)]
    pub server_mfa: Option<bool>,
    /// Preferences to set (`roster do set-preferences`), from `pref.KEY` columns: on
    /// Mattermost KEY is `CATEGORY.NAME`, on Rocket.Chat a `users.setPreferences` key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preferences: BTreeMap<String, String>,
}

/// The fields of [`User`], by name, as used in reports (`changed`), mappings and plans.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Username,
    Email,
    Name,
    FirstName,
    LastName,
    Nickname,
    Position,
    Locale,
    Active,
    Roles,
    Password,
    RequirePasswordChange,
    Verified,
    ExternalId,
    Teams,
    Channels,
    Avatar,
    /// One custom field, by key.
    Custom(String),
}

impl Field {
    /// The scalar fields a mapping may set, in canonical column order.
    pub const SCALARS: [Field; 17] = [
        Field::Username,
        Field::Email,
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Nickname,
        Field::Position,
        Field::Locale,
        Field::Active,
        Field::Roles,
        Field::Password,
        Field::RequirePasswordChange,
        Field::Verified,
        Field::ExternalId,
        Field::Teams,
        Field::Channels,
        Field::Avatar,
    ];

    pub fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Field::Username => "username",
            Field::Email => "email",
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Nickname => "nickname",
            Field::Position => "position",
            Field::Locale => "locale",
            Field::Active => "active",
            Field::Roles => "roles",
            Field::Password => "password",
            Field::RequirePasswordChange => "require_password_change",
            Field::Verified => "verified",
            Field::ExternalId => "external_id",
            Field::Teams => "teams",
            Field::Channels => "channels",
            Field::Avatar => "avatar",
            Field::Custom(k) => return Cow::Owned(format!("custom_fields.{k}")),
        })
    }

    /// Parses `username`, `email`, ... or `custom_fields.KEY` (also `custom.KEY`).
    pub fn parse(s: &str) -> Option<Field> {
        let s = s.trim();
        if let Some(k) = s
            .strip_prefix("custom_fields.")
            .or_else(|| s.strip_prefix("custom."))
        {
            return (!k.is_empty()).then(|| Field::Custom(k.to_string()));
        }
        Field::SCALARS.into_iter().find(|f| f.name() == s)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A profile image as the source gives it.
///
/// In text (a CSV cell, a JSON string) it is an `https://` URL, a `data:image/…;base64,`
/// URI, or a path relative to the source file's folder; from LDAP and LDIF it is the
/// image itself (`jpegPhoto`, `thumbnailPhoto`).
#[derive(Clone, PartialEq, Eq)]
pub enum Avatar {
    /// Fetched by the server (Rocket.Chat) or by roster (Mattermost).
    Url(String),
    /// A file in the source's folder, by its relative path.
    File(String),
    /// The image's bytes.
    Image(std::sync::Arc<[u8]>),
}

impl Avatar {
    /// Reads a text value: a URL (any scheme: validation accepts `https` only), a `data:`
    /// URI, or a path. `Err` names what is wrong with a `data:` URI.
    pub fn parse(s: &str) -> Result<Avatar, String> {
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("data:") {
            let (meta, data) = rest.split_once(',').ok_or("a data: URI without a comma")?;
            if !meta.ends_with(";base64") {
                return Err("a data: URI that is not base64".into());
            }
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| format!("a data: URI whose base64 is broken ({e})"))?;
            return Ok(Avatar::Image(bytes.into()));
        }
        if t.contains("://") {
            return Ok(Avatar::Url(t.to_string()));
        }
        Ok(Avatar::File(t.to_string()))
    }

    /// The text form: the URL, the path, or a `data:` URI of the image.
    pub fn text(&self) -> String {
        match self {
            Avatar::Url(u) => u.clone(),
            Avatar::File(p) => p.clone(),
            Avatar::Image(b) => {
                use base64::Engine as _;
                format!(
                    "data:{};base64,{}",
                    crate::model::image_type(b).map_or("application/octet-stream", |t| t.mime),
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }
        }
    }
}

impl fmt::Debug for Avatar {
    // An image's bytes would flood any debug output: its size stands for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Avatar::Url(u) => write!(f, "Url({u:?})"),
            Avatar::File(p) => write!(f, "File({p:?})"),
            Avatar::Image(b) => write!(f, "Image({} bytes)", b.len()),
        }
    }
}

impl Serialize for Avatar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Avatar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Avatar, D::Error> {
        let s = String::deserialize(d)?;
        Avatar::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An image format both servers accept, recognised from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageType {
    pub name: &'static str,
    pub mime: &'static str,
}

/// The image format of `b` from its signature: PNG, JPEG, GIF, BMP, TIFF or WebP (what
/// Mattermost's `image.Decode` has registered, app/imaging/decode.go); `None` for
/// anything else (SVG included, which Mattermost refuses).
pub fn image_type(b: &[u8]) -> Option<ImageType> {
    let t = |name, mime| Some(ImageType { name, mime });
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        t("PNG", "image/png")
    } else if b.starts_with(&[0xff, 0xd8, 0xff]) {
        t("JPEG", "image/jpeg")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        t("GIF", "image/gif")
    } else if b.starts_with(b"BM") && b.len() > 26 {
        t("BMP", "image/bmp")
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        t("TIFF", "image/tiff")
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        t("WebP", "image/webp")
    } else {
        None
    }
}

/// One attribute value as a source delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    /// Bytes that are not text: not UTF-8 (an LDIF `::` value, an LDAP octet string), or
    /// the value of an attribute that is binary by nature (`jpegPhoto`, `objectSid`).
    Binary(Vec<u8>),
}

impl FieldValue {
    /// The value as text; `None` for [`FieldValue::Binary`]. There is deliberately no
    /// lossy conversion: a binary value in a text field is an error for its row, never
    /// text with U+FFFD in it.
    pub fn text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            FieldValue::Binary(_) => None,
        }
    }
    pub fn bytes(&self) -> &[u8] {
        match self {
            FieldValue::Text(s) => s.as_bytes(),
            FieldValue::Binary(b) => b,
        }
    }
    /// Builds a value from bytes: text when they are UTF-8.
    pub fn from_bytes(b: Vec<u8>) -> FieldValue {
        match String::from_utf8(b) {
            Ok(s) => FieldValue::Text(s),
            Err(e) => FieldValue::Binary(e.into_bytes()),
        }
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_string())
    }
}
impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Text(s)
    }
}

/// An attribute name: shared, since every row of a CSV file has the same ones.
pub type Name = std::sync::Arc<str>;

/// An attribute's values: nearly always one, kept inline (no allocation of its own).
pub type Values = smallvec::SmallVec<[FieldValue; 1]>;

/// Attributes of a raw record, in source order. Names keep their source spelling;
/// lookups ignore ASCII case (LDAP attribute names and CSV headers alike).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs(pub Vec<(Name, Values)>);

impl Attrs {
    pub fn new() -> Self {
        Attrs(Vec::new())
    }
    /// Values of `name` (exact name including options such as `cn;lang-de`, ASCII case ignored).
    pub fn get(&self, name: &str) -> Option<&[FieldValue]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    /// Appends a value, merging with an existing attribute of the same name. A search per
    /// call: sources build whole records with [`AttrsBuilder`].
    pub fn push(&mut self, name: &str, value: FieldValue) {
        if let Some((_, v)) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            v.push(value);
        } else {
            self.0.push((Name::from(name), smallvec::smallvec![value]));
        }
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| &**n)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Builds [`Attrs`] one value at a time, merging names equal but for ASCII case into the
/// first (its spelling and position kept), in time linear in the number of attributes.
///
/// Small records search their few names; past [`AttrsBuilder::LINEAR_MAX`] an index by
/// lower-case name takes over, so a record with 300,000 attributes costs 300,000 lookups,
/// not 45 billion comparisons.
#[derive(Debug, Default)]
pub struct AttrsBuilder {
    attrs: Attrs,
    /// Lower-case name → position, for `attrs.0[..index.len()]` (names are never repeated
    /// there, so its size is how far it reaches). Empty while the record is small.
    index: std::collections::HashMap<Box<str>, usize>,
    /// Reused for the lower-case form of the name looked up.
    key: String,
}

impl AttrsBuilder {
    /// Up to this many attributes, a linear search beats hashing the name.
    pub const LINEAR_MAX: usize = 16;

    pub fn with_capacity(n: usize) -> Self {
        AttrsBuilder {
            attrs: Attrs(Vec::with_capacity(n)),
            ..AttrsBuilder::default()
        }
    }

    /// The position of `name` (ASCII case ignored).
    #[inline]
    pub fn position(&mut self, name: &str) -> Option<usize> {
        let list = &self.attrs.0;
        // Repeated names are usually adjacent (objectClass, mail).
        if let Some((n, _)) = list.last()
            && n.eq_ignore_ascii_case(name)
        {
            return Some(list.len() - 1);
        }
        if list.len() <= Self::LINEAR_MAX {
            return list.iter().position(|(n, _)| n.eq_ignore_ascii_case(name));
        }
        for (i, (n, _)) in list.iter().enumerate().skip(self.index.len()) {
            self.index
                .insert(n.to_ascii_lowercase().into_boxed_str(), i);
        }
        self.key.clear();
        self.key.push_str(name);
        self.key.make_ascii_lowercase();
        self.index.get(self.key.as_str()).copied()
    }

    pub fn contains(&mut self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Appends a value, merging with an existing attribute of the same name.
    #[inline]
    pub fn push(&mut self, name: &str, value: FieldValue) {
        match self.position(name) {
            Some(i) => self.attrs.0[i].1.push(value),
            None => self
                .attrs
                .0
                .push((Name::from(name), smallvec::smallvec![value])),
        }
    }

    /// Appends values, merging with an existing attribute of the same name; an attribute
    /// with no values is kept (as the source gave it).
    pub fn extend(&mut self, name: &str, values: impl IntoIterator<Item = FieldValue>) {
        match self.position(name) {
            Some(i) => self.attrs.0[i].1.extend(values),
            None => self
                .attrs
                .0
                .push((Name::from(name), values.into_iter().collect())),
        }
    }

    pub fn len(&self) -> usize {
        self.attrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    pub fn finish(self) -> Attrs {
        self.attrs
    }
}

/// What a record asks for. Content records, CSV rows and `changetype: add` are [`Change::Entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A whole entry: create it or bring the server in line with it.
    Entry,
    /// LDIF `changetype: modify`: touch only the listed attributes.
    Modify(Vec<ModOp>),
    /// LDIF `changetype: delete`: deactivate the user.
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModOp {
    pub kind: ModKind,
    pub attr: String,
    pub values: Vec<FieldValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModKind {
    Add,
    Delete,
    Replace,
    Increment,
}

/// The input text of a record as it was read, so a rejects file can give it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawText {
    /// CSV: the record's fields, decoded, in file order (the header comes from the source).
    Fields(Vec<String>),
    /// LDIF or JSON Lines: the record's exact text, lines ending in `\n`.
    Text(String),
    /// Nothing kept (LDAP entries: the rejects writer renders the attributes as LDIF).
    None,
}

/// One record as a source yields it, before mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    pub origin: Origin,
    /// The DN for LDIF and LDAP records.
    pub dn: Option<String>,
    pub change: Change,
    /// Content and add records: all attributes. Modify records: the RDN's attributes plus
    /// the values of add/replace operations. Delete records: the RDN's attributes.
    /// JSON Lines: the object's keys with string values (lists for arrays).
    pub attrs: Attrs,
    pub raw: RawText,
    /// LDIF: the values read from `file:` URLs (as text), which messages must not show.
    pub url_values: Vec<String>,
}

/// One problem with one row: the field it concerns (if any) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem {
            field: Some(field.into()),
            reason: reason.into(),
        }
    }
    pub fn record(reason: impl Into<String>) -> Self {
        Problem {
            field: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Joins problems into one error text for reports: `email: ...; name: ...`.
pub fn problems_text(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A record the source could not read (malformed LDIF record, ragged CSV row, bad JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct BadRecord {
    pub origin: Origin,
    pub raw: RawText,
    pub problems: Vec<Problem>,
    /// The cells that could be read reliably, when some could: they name the row's user
    /// in reports, and a sync counts that user as present.
    pub partial: Option<Attrs>,
}

/// What a mapped record asks the target to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// Create the user or bring it in line (CSV rows, content records, adds).
    Upsert,
    /// Update only these fields (LDIF modify).
    Modify(Vec<Field>),
    /// Deactivate (LDIF delete).
    Deactivate,
}

impl Intent {
    pub fn name(&self) -> &'static str {
        match self {
            Intent::Upsert => "upsert",
            Intent::Modify(_) => "modify",
            Intent::Deactivate => "deactivate",
        }
    }
}
