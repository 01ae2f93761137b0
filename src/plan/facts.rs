//! Facts the planner needs that are neither in the manifest nor in the database snapshot, and
//! are expensive or remote to obtain: password verification results and display names read
//! from the homeserver. They are gathered before planning so that the planner stays pure.

use std::collections::HashMap;

use crate::model::UserId;

/// Everything the planner consults besides the desired and actual states.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// For users whose plaintext password is enforced and who have a current password: whether
    /// the manifest's plaintext verifies against it.
    pub passwords: HashMap<UserId, PasswordCheck>,
    /// Display names as the homeserver has them.
    pub display_names: DisplayNames,
}

/// Whether a manifest plaintext matches the user's current password row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// It verifies: nothing to do.
    Matches,
    /// It does not verify (or the row's scheme is not configured): write a new row.
    Differs,
}

/// What masctl knows about display names on the homeserver.
#[derive(Debug, Clone, Default)]
pub enum DisplayNames {
    /// No usable homeserver connection: display names are sent on creation only.
    #[default]
    Unknown,
    /// The homeserver's current display names (`None` = the user has none), plus names already
    /// on their way in pending `provision-user` jobs.
    Known {
        /// What the homeserver reports.
        current: HashMap<UserId, Option<String>>,
        /// Display names carried by `provision-user` jobs MAS's worker has not run yet.
        pending: HashMap<UserId, String>,
    },
}
