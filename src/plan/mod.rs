//! The plan: a typed, ordered list of changes that turns the database into what the manifest
//! says, computed by a pure function and consumed alike by the renderers and the applier.
//!
//! Nothing here does I/O. A [`Plan`] holds no secret: passwords are referred to by where they
//! come from (`env`, `file`, `hash`), and the applier resolves them (STYLE R1, R9).

mod change;
mod drift;
mod emails;
pub mod emergency;
mod facts;
mod fingerprint;
mod guards;
mod passwords;
mod planner;
mod prune;
mod tokens;
mod upstream;
mod users;

#[cfg(test)]
mod tests;

pub use change::{Change, NewToken, NewUser, PasswordWrite, PasswordWriteSource, UserRef};
pub use drift::{assess, check_emergencies, EmergencyRevertRefused};
pub use facts::{DisplayNames, Facts, PasswordCheck};
pub use fingerprint::{Basis, Fingerprint};
pub use guards::{check_guards, GuardViolation};
pub use planner::{plan, PlanError};

use serde::{Deserialize, Serialize};

/// What `plan` found: the changes to make, notes for the reader, and the basis it was computed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The changes, ordered by resource kind and then manifest order.
    pub changes: Vec<Change>,
    /// Things the reader should know that are not changes (ignored keys, untouched objects).
    pub notes: Vec<String>,
    /// Digest of every database row the plan depends on; an apply whose fresh read gives a
    /// different digest refuses to run (the plan is stale).
    pub basis: Fingerprint,
    /// How many objects the plan considered, for percentage guards and summaries.
    pub managed_objects: usize,
}

impl Plan {
    /// Returns whether the plan changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Returns the counts shown in the summary line.
    #[must_use]
    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
    }
}

/// Per-object counts of a plan: each user or token is counted once, under its most severe change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Users and tokens created.
    pub create: usize,
    /// Users and tokens changed in another way.
    pub change: usize,
    /// Users locked.
    pub lock: usize,
    /// Users deactivated.
    pub deactivate: usize,
    /// Tokens revoked.
    pub revoke: usize,
}

impl Summary {
    fn of(changes: &[Change]) -> Self {
        let mut objects: indexmap::IndexMap<String, u8> = indexmap::IndexMap::new();
        for change in changes {
            let severity = match change {
                Change::CreateUser(_) | Change::CreateToken(_) => 0,
                Change::DeactivateUser { .. } => 4,
                Change::LockUser { .. } => 3,
                Change::RevokeToken { .. } => 2,
                _ => 1,
            };
            let entry = objects.entry(change.object_key()).or_insert(severity);
            *entry = (*entry).max(severity);
        }
        let mut summary = Self::default();
        for severity in objects.values() {
            match severity {
                0 => summary.create += 1,
                4 => summary.deactivate += 1,
                3 => summary.lock += 1,
                2 => summary.revoke += 1,
                _ => summary.change += 1,
            }
        }
        summary
    }
}
