//! `masctl manage promote-admin USER` (mas-facts §4.4), and the plan `demote-admin` shares.
//!
//! Only `users.can_request_admin` changes: it lets the user *request* the admin scope in OAuth
//! clients. Sessions, compat `is_synapse_admin` flags and the homeserver are untouched, and no
//! job is scheduled, as with mas-cli.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::hint::ManifestEdit;
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::plan::{Change, Plan};

/// Allow a user to request admin privileges (users.can_request_admin = true)
#[derive(Debug, Args)]
pub(crate) struct PromoteAdminArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
}

/// Returns the plan that sets `can_request_admin` of `username` to `admin`.
///
/// mas-cli rewrites the row even when the flag already has that value; the row stays the same
/// either way, so here an unchanged flag is an empty plan with a note.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(actual: &ActualState, username: &str, admin: bool) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let (changes, notes) = if user.can_request_admin == admin {
        let already = if admin {
            "already an admin"
        } else {
            "not an admin"
        };
        (Vec::new(), vec![format!("{} is {already}", user.username)])
    } else {
        (
            vec![Change::SetAdmin {
                user: user_ref(user),
                admin,
            }],
            Vec::new(),
        )
    };
    Ok(user_plan(user, changes, notes))
}

/// Runs promote-admin (`admin` true) or demote-admin (`admin` false).
pub(crate) async fn set_admin(
    username: &str,
    admin: bool,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let command = if admin {
        "promote-admin"
    } else {
        "demote-admin"
    };
    let mut session = Session::open(global, shared, command).await?;
    let scope = user_scope(username);
    let actual = session.read(&scope).await?;
    let built = plan(&actual, username, admin)?;
    let stored = find_user(&actual, username)?.username.to_string();
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, username, admin))
        .await?;
    if let Outcome::Applied(_) = outcome {
        ManifestEdit::user(&stored, vec![("admin", admin.into())]).print();
    }
    Ok(outcome.exit())
}

/// Runs the command.
pub(crate) async fn run(
    args: &PromoteAdminArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    set_admin(&args.username, true, global, shared).await
}
