//! `masctl manage unlock-user USER [--reactivate]` (mas-facts §4.11).
//!
//! Always schedules `provision-user`. Without `--reactivate` it clears `locked_at`; with it, it
//! only schedules `reactivate-user` and does NOT unlock, exactly as mas-cli: MAS's worker
//! clears `deactivated_at` and never `locked_at`, so a locked and deactivated user stays locked.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::hint::ManifestEdit;
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;
use crate::model::state::{ActualState, ActualUser};
use crate::plan::{Change, Plan};

/// Unlock a user, or with --reactivate, reactivate a deactivated one
///
/// Schedules MAS's provision-user job so the homeserver learns of the change. With
/// --reactivate, schedules MAS's reactivate-user job instead of unlocking, as mas-cli does: a
/// user who is both locked and deactivated stays locked; run unlock-user again without
/// --reactivate to unlock. Email addresses deleted by the deactivation are not restored.
#[derive(Debug, Args)]
pub(crate) struct UnlockUserArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
    /// Reactivate a deactivated user (asynchronously, through MAS's worker) instead of unlocking
    #[arg(long)]
    reactivate: bool,
}

/// Returns the plan that unlocks (or reactivates) `username`.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(
    actual: &ActualState,
    username: &str,
    reactivate: bool,
) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let target = user_ref(user);
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    if reactivate {
        if user.deactivated_at.is_none() {
            notes.push(format!(
                "{} is not deactivated; the reactivate-user job runs anyway, as with mas-cli",
                target.username
            ));
        }
        if user.locked_at.is_some() {
            notes.push(format!(
                "{} stays locked: --reactivate does not unlock (run unlock-user without it)",
                target.username
            ));
        }
    } else if user.locked_at.is_some() {
        changes.push(Change::UnlockUser {
            user: target.clone(),
        });
    } else {
        notes.push(format!("{} is not locked", target.username));
    }
    changes.push(Change::ProvisionUser {
        user: target.clone(),
        set_display_name: None,
    });
    if reactivate {
        changes.push(Change::ScheduleReactivation { user: target });
    }
    Ok(user_plan(user, changes, notes))
}

/// Runs the command.
pub(crate) async fn run(
    args: &UnlockUserArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "unlock-user").await?;
    let scope = user_scope(&args.username);
    let actual = session.read(&scope).await?;
    let built = plan(&actual, &args.username, args.reactivate)?;
    let edit = find_user(&actual, &args.username)
        .ok()
        .and_then(|user| edit(user, args.reactivate));
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| {
            plan(fresh, &args.username, args.reactivate)
        })
        .await?;
    if let (Outcome::Applied(_), Some(edit)) = (&outcome, edit) {
        edit.print();
    }
    Ok(outcome.exit())
}

/// Returns the manifest state the user ends up in, where `masctl apply` would otherwise
/// revert it.
fn edit(user: &ActualUser, reactivate: bool) -> Option<ManifestEdit> {
    let state = match (reactivate, user.locked_at.is_some()) {
        (true, true) => "locked",
        (true, false) => "active",
        // Unlocking a deactivated user changes nothing a manifest state can express.
        (false, _) if user.deactivated_at.is_some() => return None,
        (false, _) => "active",
    };
    Some(ManifestEdit::user(
        user.username.as_str(),
        vec![("state", state.into())],
    ))
}
