//! The password hashes an apply writes, computed before its transaction opens.

use std::collections::HashMap;

use crate::password::HashedPassword;

/// The hashes to write, per username as spelled in the plan's changes.
#[derive(Debug, Default)]
pub struct PreparedPasswords {
    by_username: HashMap<String, HashedPassword>,
}

impl PreparedPasswords {
    /// Adds the hash for `username` (used by `manage` commands that hash a command-line password).
    pub fn insert(&mut self, username: String, hashed: HashedPassword) {
        self.by_username.insert(username, hashed);
    }

    /// Returns the hash prepared for `username`.
    #[must_use]
    pub fn get(&self, username: &str) -> Option<&HashedPassword> {
        self.by_username.get(username)
    }
}
