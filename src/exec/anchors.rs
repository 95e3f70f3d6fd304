//! Anchors: the source's stable id of a person (`external_id`: entryUUID, objectGUID,
//! an employee number) tied to the server account roster made or matched for them.
//!
//! A username or email changes when HR renames someone; the anchor does not. With the
//! ledger's anchors a renamed person is found by who they are, not by what they are
//! called, and the account is renamed instead of a second one being created (and the
//! first deactivated as missing). Both servers' own LDAP syncs do the same with their
//! "unique identifier" attribute.

use std::collections::HashMap;

use crate::model::User;

/// Anchor → server user id, and back, as the ledger recorded them.
#[derive(Clone, Debug, Default)]
pub struct Anchors {
    /// By folded anchor ([`fold`]).
    ids: HashMap<String, String>,
    /// The anchor as the source spelled it: the ledger writes it back unchanged.
    anchors: HashMap<String, String>,
}

impl Anchors {
    /// Records that `anchor` is the server account `id` (a later pair replaces an
    /// earlier one on either side).
    pub fn insert(&mut self, anchor: &str, id: &str) {
        let (anchor, id) = (anchor.trim(), id.trim());
        if anchor.is_empty() || id.is_empty() {
            return;
        }
        if let Some(old) = self.ids.insert(fold(anchor), id.to_string()) {
            self.anchors.remove(&old);
        }
        if let Some(old) = self.anchors.insert(id.to_string(), anchor.to_string())
            && !same(&old, anchor)
        {
            self.ids.remove(&fold(&old));
        }
    }

    /// The server account a person's anchor is tied to.
    pub fn id_of(&self, anchor: &str) -> Option<&str> {
        self.ids.get(&fold(anchor)).map(String::as_str)
    }

    /// The anchor a server account is tied to.
    pub fn anchor_of(&self, id: &str) -> Option<&str> {
        self.anchors.get(id).map(String::as_str)
    }
}

/// A user's anchor: its `external_id`, trimmed, when not empty.
pub fn anchor(u: &User) -> Option<&str> {
    u.external_id
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
}

/// Anchors compare without case, as the source's duplicate check does: a GUID is the same
/// person whether a tool writes it in capitals or not.
fn fold(anchor: &str) -> String {
    anchor.trim().to_lowercase()
}

/// Whether two anchors name the same person.
pub fn same(a: &str, b: &str) -> bool {
    fold(a) == fold(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_pair_replaces_both_sides() {
        let mut a = Anchors::default();
        a.insert("guid-1", "id-1");
        a.insert(" guid-2 ", "id-2");
        assert_eq!(a.id_of("guid-2"), Some("id-2"));
        assert_eq!(a.anchor_of("id-1"), Some("guid-1"));
        // The source re-keyed id-1 (an anchor attribute changed): the old anchor goes.
        a.insert("guid-9", "id-1");
        assert_eq!(a.id_of("guid-1"), None);
        assert_eq!(a.anchor_of("id-1"), Some("guid-9"));
        // An empty anchor or id records nothing.
        a.insert("", "id-3");
        a.insert("guid-3", " ");
        assert_eq!((a.id_of("guid-3"), a.anchor_of("id-3")), (None, None));
        // Case does not make another person.
        a.insert("GUID-4", "id-4");
        assert_eq!(a.id_of("guid-4"), Some("id-4"));
        assert!(same(a.anchor_of("id-4").unwrap(), "Guid-4"));
    }
}
