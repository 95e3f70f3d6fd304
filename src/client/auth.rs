//! Server credentials, from the environment, files or a prompt; never the command line.
//!
//! - `ROSTER_TOKEN` (+ `ROSTER_USER_ID` on Rocket.Chat): a personal access token or a
//!   login token.
//! - `ROSTER_USERNAME` + `ROSTER_PASSWORD` (or `--password-file`, or a prompt on a
//!   terminal): log in.
//!
//! Each variable also accepts a `NAME_FILE` twin holding a path. When a token and a
//! password are both known, the token authenticates and the password answers
//! Rocket.Chat's two-factor check.

use std::path::Path;

use crate::client::Flavor;
use crate::secret::{self, Secret, SecretError};

pub const TOKEN_VAR: &str = "ROSTER_TOKEN";
pub const USER_ID_VAR: &str = "ROSTER_USER_ID";
pub const USERNAME_VAR: &str = "ROSTER_USERNAME";
pub const PASSWORD_VAR: &str = "ROSTER_PASSWORD";
/// Every variable [`from_env`] reads; each has a `NAME_FILE` twin.
pub const VARS: [&str; 4] = [TOKEN_VAR, USER_ID_VAR, USERNAME_VAR, PASSWORD_VAR];

#[derive(Clone, Debug)]
pub enum Credentials {
    Token {
        user_id: Option<String>,
        token: Secret,
        /// The account's password, when also given (Rocket.Chat 2FA).
        password: Option<Secret>,
    },
    Login {
        username: String,
        password: Secret,
    },
}

impl Credentials {
    pub fn password(&self) -> Option<&Secret> {
        match self {
            Credentials::Token { password, .. } => password.as_ref(),
            Credentials::Login { password, .. } => Some(password),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "no credentials: set ROSTER_TOKEN{} (a personal access token), or ROSTER_USERNAME with ROSTER_PASSWORD, --password-file or a prompt on a terminal (each variable also as NAME_FILE)",
        if *.0 == Flavor::Rocketchat { " and ROSTER_USER_ID" } else { "" }
    )]
    Missing(Flavor),
    #[error(
        "ROSTER_TOKEN is set but ROSTER_USER_ID is not: Rocket.Chat needs both (X-User-Id and X-Auth-Token)"
    )]
    MissingUserId,
    #[error(
        "ROSTER_USERNAME is set but no password: set ROSTER_PASSWORD(_FILE), use --password-file, or run on a terminal to be asked"
    )]
    MissingPassword,
    #[error(
        "a password is given (ROSTER_PASSWORD or --password-file) but ROSTER_USERNAME is not set: set it to the account the password belongs to (or use ROSTER_TOKEN)"
    )]
    MissingUsername,
}

/// Plain (non-secret) variable with a `_FILE` twin.
fn plain_env(name: &str) -> Result<Option<String>, SecretError> {
    Ok(secret::from_env(name)?.map(|s| s.expose().to_string()))
}

/// Reads credentials for `flavor`.
pub fn from_env(flavor: Flavor, password_file: Option<&Path>) -> Result<Credentials, AuthError> {
    let token = secret::from_env(TOKEN_VAR)?;
    let user_id = plain_env(USER_ID_VAR)?;
    let username = plain_env(USERNAME_VAR)?;
    let mut password = secret::from_env(PASSWORD_VAR)?;
    if password.is_none()
        && let Some(p) = password_file
    {
        password = Some(secret::read_file("--password-file", p)?);
    }
    if let Some(token) = token {
        if flavor == Flavor::Rocketchat && user_id.is_none() {
            return Err(AuthError::MissingUserId);
        }
        return Ok(Credentials::Token {
            user_id,
            token,
            password,
        });
    }
    let Some(username) = username else {
        if password.is_some() {
            return Err(AuthError::MissingUsername);
        }
        return Err(AuthError::Missing(flavor));
    };
    let password = match password {
        Some(p) => p,
        None => secret::prompt(&format!("Password for {username}"))?
            .ok_or(AuthError::MissingPassword)?,
    };
    Ok(Credentials::Login { username, password })
}
