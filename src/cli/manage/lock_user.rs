//! `masctl manage lock-user USER [--deactivate]` (mas-facts §4.10).
//!
//! Locking sets `locked_at` (an existing timestamp is kept) and always schedules
//! `provision-user`, which tells the homeserver. `--deactivate` also schedules `deactivate-user`
//! with `hs_erase: false` and, like mas-cli, leaves `deactivated_at` to MAS's worker.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::hint::ManifestEdit;
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::plan::{Change, Plan};

/// Lock a user: refuse logins and reject their tokens, keeping sessions (reversible)
///
/// Schedules MAS's provision-user job so the homeserver learns of the lock. With --deactivate,
/// also schedules MAS's deactivate-user job (without erasing on the homeserver): MAS's worker
/// then sets deactivated_at, ends every session and deletes the user's email addresses.
#[derive(Debug, Args)]
pub(crate) struct LockUserArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
    /// Also deactivate the user (asynchronously, through MAS's worker)
    #[arg(long)]
    deactivate: bool,
}

/// Returns the plan that locks `username` (and schedules its deactivation).
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(
    actual: &ActualState,
    username: &str,
    deactivate: bool,
) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let target = user_ref(user);
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    match user.locked_at {
        // mas-cli keeps the original lock time.
        Some(since) => notes.push(format!(
            "{} is already locked (since {}); the lock time is kept",
            target.username,
            since.format("%Y-%m-%d %H:%M:%S UTC")
        )),
        None => changes.push(Change::LockUser {
            user: target.clone(),
        }),
    }
    changes.push(Change::ProvisionUser {
        user: target.clone(),
        set_display_name: None,
    });
    if deactivate {
        if let Some(since) = user.deactivated_at {
            notes.push(format!(
                "{} is already deactivated (since {}); the job runs again anyway, as with mas-cli",
                target.username,
                since.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        changes.push(Change::ScheduleDeactivation { user: target });
    }
    Ok(user_plan(user, changes, notes))
}

/// Runs the command.
pub(crate) async fn run(
    args: &LockUserArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "lock-user").await?;
    let scope = user_scope(&args.username);
    let actual = session.read(&scope).await?;
    let built = plan(&actual, &args.username, args.deactivate)?;
    let username = find_user(&actual, &args.username)?.username.to_string();
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| {
            plan(fresh, &args.username, args.deactivate)
        })
        .await?;
    if let Outcome::Applied(_) = outcome {
        let state = if args.deactivate {
            "deactivated"
        } else {
            "locked"
        };
        ManifestEdit::user(&username, vec![("state", state.into())]).print();
    }
    Ok(outcome.exit())
}
