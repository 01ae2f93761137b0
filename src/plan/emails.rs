//! Planning a user's email addresses: an exact, case-insensitive set when the key is present.

use std::borrow::Cow;
use std::collections::HashSet;

use foldhash::HashMap;

use super::folded::UsersByFolded;
use super::planner::{Builder, PlanIssue};
use super::{Change, UserRef};
use crate::model::state::{ActualState, ActualUser, DesiredState, DesiredUser};
use crate::model::{fold_case, fold_case_cow, EmailAddress, UserId, UserState};

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
    let mut wanted_folded = FoldedSet::with_capacity(wanted.len());
    for email in wanted {
        wanted_folded.insert(email.folded_cow());
    }
    let before = builder.changes.len();
    let mut kept = FoldedSet::with_capacity(actual.emails.len());
    for row in &actual.emails {
        let folded = row.email.folded_cow();
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
        if !kept.contains(&email.folded_cow()) {
            builder.changes.push(Change::AddEmail {
                user: user.clone(),
                email: email.clone(),
            });
        }
    }
    builder.changes.len() > before
}

/// Up to how many addresses a [`FoldedSet`] is a list rather than a hash set.
const FEW: usize = 8;

/// A set of case-folded addresses: a list for the one or two a user normally has (a hash set
/// for each of 100k users costs more than the comparisons it saves), a hash set beyond that, so
/// that a user with thousands of addresses is still not compared quadratically.
enum FoldedSet<'a> {
    Few(Vec<Cow<'a, str>>),
    Many(HashSet<Cow<'a, str>>),
}

impl<'a> FoldedSet<'a> {
    fn with_capacity(capacity: usize) -> Self {
        if capacity <= FEW {
            Self::Few(Vec::with_capacity(capacity))
        } else {
            Self::Many(HashSet::with_capacity(capacity))
        }
    }

    fn contains(&self, folded: &str) -> bool {
        match self {
            Self::Few(items) => items.iter().any(|item| item == folded),
            Self::Many(items) => items.contains(folded),
        }
    }

    /// Adds `folded`; returns whether it was not there yet.
    fn insert(&mut self, folded: Cow<'a, str>) -> bool {
        match self {
            Self::Few(items) if items.contains(&folded) => false,
            Self::Few(items) => {
                items.push(folded);
                true
            }
            Self::Many(items) => items.insert(folded),
        }
    }
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
    let holders = holders(actual, &released);
    let mut issues = Vec::new();
    // Built on the first conflict only: most plans have none, and it costs a pass over users.
    let mut by_folded_name: Option<HashMap<String, &DesiredUser>> = None;
    for (username, id, email) in builder.changes.iter().flat_map(additions) {
        let Some(holder) = holders
            .get(&email.folded_cow())
            .iter()
            .copied()
            .find(|user| Some(user.id) != id)
        else {
            continue;
        };
        let by_name = by_folded_name.get_or_insert_with(|| {
            desired
                .users
                .iter()
                .map(|(name, user)| (name.folded(), user))
                .collect()
        });
        let Some(want) = by_name.get(fold_case_cow(username).as_ref()) else {
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

/// Who holds each address in the database (case-folded), leaving out the rows the plan removes.
fn holders<'a>(actual: &'a ActualState, released: &HashSet<ulid::Ulid>) -> UsersByFolded<'a> {
    let mut holders = UsersByFolded::with_capacity(actual.users.len() * 2);
    for user in &actual.users {
        for row in user.emails.iter().filter(|row| !released.contains(&row.id)) {
            holders.add(row.email.folded_cow(), user);
        }
    }
    holders
}

/// Notes, once per address and in database order, addresses that several users already hold
/// and that the manifest manages for one of them: nothing to write, but worth fixing.
fn note_shared(
    builder: &mut Builder,
    desired: &DesiredState,
    actual: &ActualState,
    holders: &UsersByFolded<'_>,
) {
    if !holders.has_shared() {
        return;
    }
    let managed: HashSet<String> = desired
        .users
        .iter()
        .filter(|(_, user)| user.emails.is_some())
        .map(|(name, _)| name.folded())
        .collect();
    let mut noted = HashSet::new();
    for row in actual.users.iter().flat_map(|user| &user.emails) {
        let folded = row.email.folded_cow();
        let users = holders.get(folded.as_ref());
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
