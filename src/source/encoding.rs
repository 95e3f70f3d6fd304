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
