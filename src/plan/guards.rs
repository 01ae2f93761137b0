//! Safety guards: refuse an apply that would do too much damage at once (exit 4), unless the
//! operator passes `--allow-destructive`.
//!
//! Pruning a kind of object of which the manifest lists none is always refused, whatever the
//! flags: it is what a manifest directory missing its users file looks like, and it would lock,
//! deactivate or revoke everything of that kind. Percentages are compared in integers, so no
//! rounding lets a small set slip through (1 of 11 objects is over a 9% limit).

use std::collections::HashSet;

use miette::Diagnostic;
use thiserror::Error;

use super::{Change, Plan};
use crate::model::state::{DesiredState, PruneTokens, PruneUsers};

/// Why a guard refused a plan.
#[derive(Debug, Error, Diagnostic, PartialEq)]
pub enum GuardViolation {
    /// More deactivations than `guards.max_deactivations`.
    #[error("guard max_deactivations refused the plan: {count} deactivations planned, the limit is {limit}")]
    #[diagnostic(
        code(masctl::guard::max_deactivations),
        help("review the plan; pass --allow-destructive if it is intended")
    )]
    Deactivations {
        /// Users the plan deactivates.
        count: usize,
        /// The configured limit.
        limit: u32,
    },
    /// More locks than `guards.max_locks`.
    #[error("guard max_locks refused the plan: {count} locks planned, the limit is {limit}")]
    #[diagnostic(
        code(masctl::guard::max_locks),
        help("review the plan; pass --allow-destructive if it is intended")
    )]
    Locks {
        /// Users the plan locks.
        count: usize,
        /// The configured limit.
        limit: u32,
    },
    /// Destructive changes touch more than `guards.max_destructive_percent` of the objects.
    #[error("guard max_destructive_percent refused the plan: it makes destructive changes to {count} of {total} objects ({percent:.1}%), the limit is {limit}%")]
    #[diagnostic(
        code(masctl::guard::max_destructive_percent),
        help("review the plan; pass --allow-destructive if it is intended")
    )]
    DestructivePercent {
        /// Objects with at least one destructive change.
        count: usize,
        /// Users and tokens in the database.
        total: usize,
        /// `count` as a percentage of `total`.
        percent: f64,
        /// The configured limit.
        limit: u8,
    },
    /// The manifest lists no object of a kind it asks to prune.
    #[error("refusing to prune {kind} with a manifest that lists none: `prune.{key}: {action}` would {action} every one of them")]
    #[diagnostic(
        code(masctl::guard::empty_manifest),
        help("list the {kind} to keep, or set `prune.{key}: ignore` (a missing manifest file looks like this)")
    )]
    EmptyManifest {
        /// `users` or `registration tokens`.
        kind: &'static str,
        /// The `prune` key.
        key: &'static str,
        /// The prune action (`lock`, `deactivate`, `revoke`).
        action: &'static str,
    },
}

/// Checks the plan against the manifest's guards.
///
/// # Errors
/// Returns the first guard the plan violates.
pub fn check_guards(
    plan: &Plan,
    desired: &DesiredState,
    allow_destructive: bool,
) -> Result<(), GuardViolation> {
    let user_action = match desired.prune.users {
        PruneUsers::Ignore => None,
        PruneUsers::Lock => Some("lock"),
        PruneUsers::Deactivate => Some("deactivate"),
    };
    if let (Some(action), true) = (user_action, desired.users.is_empty()) {
        return Err(GuardViolation::EmptyManifest {
            kind: "users",
            key: "users",
            action,
        });
    }
    if desired.prune.registration_tokens == PruneTokens::Revoke
        && desired.registration_tokens.is_empty()
    {
        return Err(GuardViolation::EmptyManifest {
            kind: "registration tokens",
            key: "registration_tokens",
            action: "revoke",
        });
    }
    if allow_destructive {
        return Ok(());
    }
    let guards = desired.guards;
    let count =
        |wanted: fn(&Change) -> bool| plan.changes.iter().filter(|change| wanted(change)).count();
    let deactivations = count(|change| matches!(change, Change::DeactivateUser { .. }));
    if let Some(limit) = guards.max_deactivations {
        if deactivations > limit as usize {
            return Err(GuardViolation::Deactivations {
                count: deactivations,
                limit,
            });
        }
    }
    let locks = count(|change| matches!(change, Change::LockUser { .. }));
    if let Some(limit) = guards.max_locks {
        if locks > limit as usize {
            return Err(GuardViolation::Locks {
                count: locks,
                limit,
            });
        }
    }
    if let Some(limit) = guards.max_destructive_percent {
        let objects: HashSet<String> = plan
            .changes
            .iter()
            .filter(|change| change.is_destructive())
            .map(Change::object_key)
            .collect();
        let total = plan.managed_objects.max(1);
        // Compared in integers: count/total > limit/100, with no rounding that a small set
        // could slip through.
        if objects.len() * 100 > usize::from(limit) * total {
            #[expect(clippy::cast_precision_loss, reason = "a percentage for display")]
            let percent = objects.len() as f64 * 100.0 / total as f64;
            return Err(GuardViolation::DestructivePercent {
                count: objects.len(),
                total,
                percent,
                limit,
            });
        }
    }
    Ok(())
}
