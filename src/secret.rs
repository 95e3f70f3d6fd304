//! Secrets (passwords, tokens) and where they come from.
//!
//! A [`Secret`] never shows its value through Debug, Display or Serialize; the only way
//! to read it is [`Secret::expose`], which call sites use right where the value is sent.

use std::path::Path;

/// The type lives in its own crate so the sandbox can share it without depending on roster.
pub use roster_secret::Secret;

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

/// The variable naming a file that holds `name`'s value: `NAME_FILE`.
pub fn file_var(name: &str) -> String {
    format!("{name}_FILE")
}

/// Reads `NAME` from the environment, or the file named by `NAME_FILE`
/// (one trailing newline stripped). `NAME` wins when both are set.
pub fn from_env(name: &str) -> Result<Option<Secret>, SecretError> {
    if let Ok(v) = std::env::var(name) {
        if v.is_empty() {
            return Err(SecretError::Empty(name.to_string()));
        }
        return Ok(Some(Secret::new(v)));
    }
    let file_var = file_var(name);
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
        return Err(SecretError::Empty(format!(
            "{what} file {}",
            path.display()
        )));
    }
    Ok(Secret::new(s))
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
    Ok(Some(Secret::new(v)))
}
