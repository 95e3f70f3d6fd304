//! Secrets (passwords, tokens) and where they come from.
//!
//! A [`Secret`] never shows its value through Debug, Display or Serialize; the only way
//! to read it is [`Secret::expose`], which call sites use right where the value is sent.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value itself. Call only where it is sent over the wire or hashed.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Errors reading a secret. They name the variable or file, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {var} file {path}: {source}")]
    File {
        var: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is empty")]
    Empty(String),
    #[error("cannot prompt for {0}: {1}")]
    Prompt(String, std::io::Error),
}

/// Reads `NAME` from the environment, or the file named by `NAME_FILE`
/// (one trailing newline stripped). `NAME` wins when both are set.
pub fn from_env(name: &str) -> Result<Option<Secret>, SecretError> {
    if let Ok(v) = std::env::var(name) {
        if v.is_empty() {
            return Err(SecretError::Empty(name.to_string()));
        }
        return Ok(Some(Secret(v)));
    }
    let file_var = format!("{name}_FILE");
    match std::env::var_os(&file_var) {
        Some(path) => read_file(&file_var, Path::new(&path)).map(Some),
        None => Ok(None),
    }
}

/// Reads a secret from a file (`--password-file`), stripping one trailing newline.
pub fn read_file(what: &str, path: &Path) -> Result<Secret, SecretError> {
    let mut s = std::fs::read_to_string(path).map_err(|e| SecretError::File {
        var: what.to_string(),
        path: path.display().to_string(),
        source: e,
    })?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    if s.is_empty() {
        return Err(SecretError::Empty(format!("{what} file {}", path.display())));
    }
    Ok(Secret(s))
}

/// Asks on the terminal without echo. Returns `None` when stdin is not a terminal,
/// so batch jobs fail with a clear message instead of hanging.
pub fn prompt(what: &str) -> Result<Option<Secret>, SecretError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let v = rpassword::prompt_password(format!("{what}: "))
        .map_err(|e| SecretError::Prompt(what.to_string(), e))?;
    if v.is_empty() {
        return Err(SecretError::Empty(what.to_string()));
    }
    Ok(Some(Secret(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(s.expose(), "hunter2");
    }
}
