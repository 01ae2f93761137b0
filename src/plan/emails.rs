//! Planning a user's email addresses: an exact, case-insensitive set when the key is present.

use std::collections::HashSet;

use super::planner::Builder;
use super::{Change, UserRef};
use crate::model::state::{ActualUser, DesiredUser};
use crate::model::UserState;

/// Appends email additions and removals; returns whether any were planned.
pub(crate) fn plan(
    builder: &mut Builder,
    user: &UserRef,
    actual: &ActualUser,
    want: &DesiredUser,
) -> bool {
    let Some(wanted) = &want.emails else {
        return false;
    };
    // MAS's deactivate-user job deletes every email of the user; re-adding them would fight it.
    if want.state == UserState::Deactivated {
        note_ignored_for_deactivated(builder, &user.username, want);
        return false;
    }
    let wanted_folded: HashSet<String> = wanted.iter().map(|email| email.folded()).collect();
    let before = builder.changes.len();
    let mut kept: HashSet<String> = HashSet::with_capacity(actual.emails.len());
    for row in &actual.emails {
        let folded = row.email.folded();
        // A second row with the same address (MAS has no unique constraint) is removed too:
        // the manifest asks for each address exactly once.
        if !wanted_folded.contains(&folded) || !kept.insert(folded) {
            builder.changes.push(Change::RemoveEmail {
                user: user.clone(),
                email_id: row.id,
                email: row.email.clone(),
            });
        }
    }
    for email in wanted {
        if !kept.contains(&email.folded()) {
            builder.changes.push(Change::AddEmail {
                user: user.clone(),
                email: email.clone(),
            });
        }
    }
    builder.changes.len() > before
}

/// Notes that the emails listed for a deactivated user are not written.
pub(crate) fn note_ignored_for_deactivated(
    builder: &mut Builder,
    username: &str,
    want: &DesiredUser,
) {
    if want
        .emails
        .as_ref()
        .is_some_and(|emails| !emails.is_empty())
    {
        builder.notes.push(format!(
            "user {username} is deactivated: its emails are ignored (MAS removes a deactivated user's emails)"
        ));
    }
}
