//! Planning one user: state (lock / deactivate), admin flag, display name and the single
//! `provision-user` job, delegating emails, passwords and links to their own files.

use super::planner::{Builder, Index};
use super::{emails, passwords, upstream, Change, DisplayNames, Facts, NewUser, UserRef};
use crate::model::state::{ActualUser, DesiredState, DesiredUser};
use crate::model::{UserState, Username};

/// Plans the changes for a user that exists in the database.
pub(crate) fn plan_existing(
    builder: &mut Builder,
    index: &Index<'_>,
    actual: &ActualUser,
    want: &DesiredUser,
    facts: &Facts,
) {
    let user = UserRef {
        id: actual.id,
        username: actual.username.as_str().to_owned(),
    };
    // Locking and unlocking change what the homeserver must know (`locked`), so they need a
    // provision job; deactivation and reactivation have jobs of their own.
    let mut provision = plan_state(builder, &user, actual, want.state);
    if want.admin != actual.can_request_admin {
        builder.changes.push(Change::SetAdmin {
            user: user.clone(),
            admin: want.admin,
        });
    }
    provision |= emails::plan(builder, &user, actual, want);
    passwords::plan(builder, &user, actual, want, facts);
    upstream::plan_existing(builder, index, &user, actual, want);
    let display_name = wanted_display_name(builder, actual, want, facts);
    provision |= display_name.is_some();
    // A deactivated user is torn down on the homeserver by MAS's deactivate-user job; pushing
    // its state there again would only race with that job.
    if provision && want.state != UserState::Deactivated {
        builder.changes.push(Change::ProvisionUser {
            user,
            set_display_name: display_name,
        });
    }
}

/// Plans the registration of a user the database does not have.
pub(crate) fn plan_new(
    builder: &mut Builder,
    index: &Index<'_>,
    username: &Username,
    want: &DesiredUser,
) {
    let emails = if want.state == UserState::Deactivated {
        emails::note_ignored_for_deactivated(builder, username.as_str(), want);
        Vec::new()
    } else {
        want.emails.clone().unwrap_or_default()
    };
    let upstream = upstream::plan_new(builder, index, want);
    builder.changes.push(Change::CreateUser(NewUser {
        username: username.as_str().to_owned(),
        admin: want.admin,
        state: want.state,
        emails,
        password: want.password.as_deref().map(passwords::write_of),
        upstream,
        display_name: want.display_name.clone(),
    }));
}

/// Appends the state transitions and returns whether the homeserver must hear of them.
fn plan_state(builder: &mut Builder, user: &UserRef, actual: &ActualUser, want: UserState) -> bool {
    let deactivated = actual.deactivated_at.is_some();
    let locked = actual.locked_at.is_some();
    match want {
        UserState::Deactivated => {
            // Whether a deactivated user is also locked does not matter to MAS; leave it.
            if !deactivated {
                builder
                    .changes
                    .push(Change::DeactivateUser { user: user.clone() });
            }
            false
        }
        UserState::Active | UserState::Locked => {
            if deactivated {
                builder
                    .changes
                    .push(Change::ReactivateUser { user: user.clone() });
            }
            let want_locked = want == UserState::Locked;
            if want_locked && !locked {
                builder
                    .changes
                    .push(Change::LockUser { user: user.clone() });
                true
            } else if !want_locked && locked {
                builder
                    .changes
                    .push(Change::UnlockUser { user: user.clone() });
                true
            } else {
                false
            }
        }
    }
}

/// Returns the display name to send, if the homeserver's differs from the manifest's.
fn wanted_display_name(
    builder: &mut Builder,
    actual: &ActualUser,
    want: &DesiredUser,
    facts: &Facts,
) -> Option<String> {
    let wanted = want.display_name.as_ref()?;
    if want.state == UserState::Deactivated {
        return None;
    }
    let DisplayNames::Known { current, pending } = &facts.display_names else {
        return None;
    };
    // A pending job's name is what the homeserver will have once MAS's worker runs the job, so
    // it counts before the homeserver's current value, which that job is about to overwrite.
    if let Some(on_its_way) = pending.get(&actual.id) {
        if on_its_way != wanted {
            return Some(wanted.clone());
        }
        builder.notes.push(format!(
            "user {}: display name {wanted:?} is already on its way to the homeserver (a provision-user job is pending)",
            actual.username
        ));
        return None;
    }
    match current.get(&actual.id) {
        Some(Some(current)) if current == wanted => None,
        // Missing from the map means the homeserver did not answer for this user: do not guess.
        None => None,
        Some(_) => Some(wanted.clone()),
    }
}

/// Says once that display names of existing users are not compared when the homeserver is unknown.
pub(crate) fn note_display_names(builder: &mut Builder, desired: &DesiredState, facts: &Facts) {
    if matches!(facts.display_names, DisplayNames::Unknown)
        && desired
            .users
            .values()
            .any(|user| user.display_name.is_some())
    {
        builder.notes.push(
            "display names cannot be compared without a usable `matrix` section in MAS's config: they are sent when a user is created, and left alone otherwise"
                .to_owned(),
        );
    }
}
