//! The digest of the database rows a plan was computed from.
//!
//! The planner feeds every row it consults (matched users with their emails, password row and
//! links; matched tokens; unlisted objects when pruning; providers) and a marker for every
//! manifest object it did not find. Re-reading the database and getting the same digest means
//! the plan is still exactly right; anything else makes the plan stale (exit 5).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A hex SHA-256 digest of a plan's inputs from the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

/// Accumulates the rows a plan depends on (also used by `manage` commands' one-off plans).
pub struct Basis {
    hasher: Sha256,
}

impl Default for Basis {
    fn default() -> Self {
        Self::new()
    }
}

impl Basis {
    /// Returns an empty basis.
    #[must_use]
    pub fn new() -> Self {
        Self {
            hasher: Sha256::new(),
        }
    }

    /// Adds one consulted object, tagged with its kind so that different objects never collide.
    pub fn add(&mut self, kind: &str, value: &impl Serialize) {
        self.hasher.update(kind.as_bytes());
        self.hasher.update([0]);
        // Serialising model types cannot fail (no maps with non-string keys, no custom errors);
        // should it ever, the error text still makes the digest differ, which is the safe side.
        let bytes =
            serde_json::to_vec(value).unwrap_or_else(|error| error.to_string().into_bytes());
        self.hasher.update(&bytes);
        self.hasher.update([0xFF]);
    }

    /// Adds a marker for a manifest object that is absent from the database.
    pub fn add_absent(&mut self, kind: &str, key: &str) {
        self.add(kind, &("absent", key));
    }

    /// Returns the digest of everything added.
    #[must_use]
    pub fn finish(self) -> Fingerprint {
        Fingerprint(hex::encode(self.hasher.finalize()))
    }
}
