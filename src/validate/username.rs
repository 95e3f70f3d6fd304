//! Username rules of each server.

use super::Profile;

/// Problems with a username under a profile (empty = fine).
pub fn check(profile: Profile, name: &str) -> Vec<String> {
    let _ = profile;
    if name.is_empty() {
        vec!["is required".into()]
    } else {
        Vec::new()
    }
}
