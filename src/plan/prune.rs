//! What happens to users and tokens the manifest does not list: nothing by default, or lock /
//! deactivate / revoke when `prune:` asks for it.
//!
//! With pruning off, the plan says what it leaves alone, naming the first [`NAMED`] users, so
//! that a reviewer sees which accounts the manifest does not govern.

use std::collections::HashSet;

use ulid::Ulid;

use super::planner::Builder;
use super::{Change, UserRef};
use crate::model::state::{ActualState, DesiredState, PruneTokens, PruneUsers};
use crate::model::UserId;

/// How many unlisted objects a note names before it only counts.
const NAMED: usize = 10;

/// Appends the changes for unlisted users.
pub(crate) fn plan_users(
    builder: &mut Builder,
    desired: &DesiredState,
    actual: &ActualState,
    matched: &foldhash::HashSet<UserId>,
) {
    let unlisted = actual
        .users
        .iter()
        .filter(|user| !matched.contains(&user.id));
    if desired.prune.users == PruneUsers::Ignore {
        let names: Vec<&str> = unlisted.map(|user| user.username.as_str()).collect();
        let count = names.len();
        if count > 0 {
            builder.notes.push(format!(
                "{count} user{} in the database {} not in the manifest and {} left alone (prune.users: ignore): {}",
                plural(count),
                if count == 1 { "is" } else { "are" },
                if count == 1 { "is" } else { "are" },
                named(&names),
            ));
        }
        return;
    }
    for user in unlisted {
        // With pruning on, unlisted users are inputs of the plan like any other.
        builder.basis.add("unlisted-user", user);
        let user_ref = UserRef {
            id: user.id,
            username: user.username.as_str().to_owned(),
        };
        match desired.prune.users {
            PruneUsers::Lock if user.locked_at.is_none() && user.deactivated_at.is_none() => {
                builder.changes.push(Change::LockUser {
                    user: user_ref.clone(),
                });
                builder.changes.push(Change::ProvisionUser {
                    user: user_ref,
                    set_display_name: None,
                });
            }
            PruneUsers::Deactivate if user.deactivated_at.is_none() => {
                builder
                    .changes
                    .push(Change::DeactivateUser { user: user_ref });
            }
            _ => {}
        }
    }
}

/// Appends the changes for unlisted registration tokens.
pub(crate) fn plan_tokens(
    builder: &mut Builder,
    desired: &DesiredState,
    actual: &ActualState,
    matched: &HashSet<Ulid>,
) {
    let unlisted = actual
        .registration_tokens
        .iter()
        .filter(|token| !matched.contains(&token.id));
    if desired.prune.registration_tokens == PruneTokens::Ignore {
        // Counted, not named: an unlisted token (issued in an emergency, say) is a credential
        // that is not in Git, and plans end up in merge-request comments.
        let count = unlisted.count();
        if count > 0 {
            builder.notes.push(format!(
                "{count} registration token{} not in the manifest {} left alone (prune.registration_tokens: ignore)",
                plural(count),
                if count == 1 { "is" } else { "are" },
            ));
        }
        return;
    }
    for token in unlisted {
        builder.basis.add("unlisted-token", token);
        if token.revoked_at.is_none() {
            builder.changes.push(Change::RevokeToken {
                id: token.id,
                token: token.token.clone(),
            });
        }
    }
}

/// Returns `a, b, c` or `a, b, … and 7 more`.
fn named(names: &[&str]) -> String {
    let shown = names
        .iter()
        .take(NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(NAMED) {
        0 => shown,
        more => format!("{shown}, … and {more} more"),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}
