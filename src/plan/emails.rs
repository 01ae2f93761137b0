//! Planning a user's email addresses: an exact, case-insensitive set when the key is present.

use std::collections::{HashMap, HashSet};

use super::planner::{Builder, PlanIssue};
use super::{Change, UserRef};
use crate::model::state::{ActualState, ActualUser, DesiredState, DesiredUser};
use crate::model::{fold_case, EmailAddress, UserId, UserState};

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

/// Refuses to give an address to a user while another user holds it in the database and keeps
/// it after this plan: MAS's admin API gives an address to one user only, and MAS's lookups by
/// address would find either. Addresses that are already duplicated in the database and that
/// the plan does not add are left alone.
pub(crate) fn check_taken(builder: &mut Builder, desired: &DesiredState, actual: &ActualState) {
    let released: HashSet<ulid::Ulid> = builder
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::RemoveEmail { email_id, .. } => Some(*email_id),
            _ => None,
        })
        .collect();
    let mut holders: HashMap<String, Vec<&ActualUser>> = HashMap::new();
    for user in &actual.users {
        for row in user.emails.iter().filter(|row| !released.contains(&row.id)) {
            holders.entry(row.email.folded()).or_default().push(user);
        }
    }
    let mut issues = Vec::new();
    for (username, id, email) in builder.changes.iter().flat_map(additions) {
        let Some(holder) = holders
            .get(&email.folded())
            .and_then(|users| users.iter().find(|user| Some(user.id) != id))
        else {
            continue;
        };
        let Some((_, want)) = desired
            .users
            .iter()
            .find(|(name, _)| name.folded() == fold_case(username))
        else {
            continue;
        };
        issues.push(PlanIssue::at(
            &want.origin,
            format!(
                "the email address `{email}` of user `{username}` already belongs to user `{}` in the database",
                holder.username
            ),
            "this user",
            Some(format!(
                "MAS gives an email address to one user only: remove it from `{}` first, or drop it here",
                holder.username
            )),
        ));
    }
    builder.issues.extend(issues);
    note_shared(builder, desired, actual, &holders);
}

/// Notes, once per address and in database order, addresses that several users already hold
/// and that the manifest manages for one of them: nothing to write, but worth fixing.
fn note_shared(
    builder: &mut Builder,
    desired: &DesiredState,
    actual: &ActualState,
    holders: &HashMap<String, Vec<&ActualUser>>,
) {
    let managed: HashSet<String> = desired
        .users
        .iter()
        .filter(|(_, user)| user.emails.is_some())
        .map(|(name, _)| name.folded())
        .collect();
    let mut noted = HashSet::new();
    for row in actual.users.iter().flat_map(|user| &user.emails) {
        let folded = row.email.folded();
        let Some(users) = holders.get(&folded) else {
            continue;
        };
        let mut names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
        names.dedup();
        if names.len() < 2
            || !names.iter().any(|name| managed.contains(&fold_case(name)))
            || !noted.insert(folded)
        {
            continue;
        }
        builder.notes.push(format!(
            "the email address `{}` is held by several users in the database ({}): MAS gives an \
             address to one user only; list it for one of them",
            row.email,
            names.join(", ")
        ));
    }
}

/// Returns the addresses a change gives to a user: (username, user id if it exists, address).
fn additions(change: &Change) -> Vec<(&str, Option<UserId>, &EmailAddress)> {
    match change {
        Change::AddEmail { user, email } => vec![(user.username.as_str(), Some(user.id), email)],
        Change::CreateUser(new) => new
            .emails
            .iter()
            .map(|email| (new.username.as_str(), None, email))
            .collect(),
        _ => Vec::new(),
    }
}
