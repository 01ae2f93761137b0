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
mod folded;
mod guards;
mod passwords;
mod planner;
mod prune;
mod tokens;
mod upstream;
mod users;

#[cfg(test)]
mod tests;

pub use change::{
    Change, NewToken, NewUser, PasswordWrite, PasswordWriteSource, UserRef, ALL_USERS_KEY,
};
pub use drift::{assess, check_emergencies, EmergencyRevertRefused};
pub use facts::{DisplayNames, Facts, PasswordCheck};
pub use fingerprint::{Basis, Digestible, Fingerprint, Sink};
pub use guards::{check_guards, GuardViolation};
pub use planner::{plan, PlanError};
pub(crate) use planner::{Index, Lookup};

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
        // Per object: its most severe change, and how many objects it stands for (one, except
        // for `provision-all-users`, which changes every user).
        let mut objects: indexmap::IndexMap<String, (u8, usize)> = indexmap::IndexMap::new();
        for change in changes {
            let severity = match change {
                Change::CreateUser(_) | Change::CreateToken(_) => 0,
                Change::DeactivateUser { .. } | Change::ScheduleDeactivation { .. } => 4,
                Change::LockUser { .. } => 3,
                Change::RevokeToken { .. } => 2,
                _ => 1,
            };
            let weight = match change {
                Change::ProvisionAllUsers { count } => {
                    usize::try_from(*count).unwrap_or(usize::MAX)
                }
                _ => 1,
            };
            let entry = objects
                .entry(change.object_key())
                .or_insert((severity, weight));
            entry.0 = entry.0.max(severity);
            entry.1 = entry.1.max(weight);
        }
        let mut summary = Self::default();
        for (severity, weight) in objects.values() {
            let counter = match severity {
                0 => &mut summary.create,
                4 => &mut summary.deactivate,
                3 => &mut summary.lock,
                2 => &mut summary.revoke,
                _ => &mut summary.change,
            };
            *counter = counter.saturating_add(*weight);
        }
        summary
    }
}
