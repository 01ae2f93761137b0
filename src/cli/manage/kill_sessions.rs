//! `masctl manage kill-sessions USER [--dry-run]` (mas-facts §4.9).
//!
//! Ends the user's active compat, OAuth 2.0 and browser sessions (in that order, each with its
//! own `now`) and schedules one `sync-devices` job. Personal sessions are left alone, as with
//! mas-cli. The plan shows how many sessions are active when it is made; the result shows how
//! many were really ended (sessions started in between are ended too).

use clap::Args;
use miette::IntoDiagnostic;

use super::flow::{OneOff, Outcome, Session};
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::cli::output;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::plan::{Change, Plan};
use crate::store::{self, SessionCounts};

/// End all of a user's compat, OAuth 2.0 and browser sessions
///
/// Finishing a session invalidates its tokens. MAS's sync-devices job then removes the devices
/// from the homeserver. Personal access tokens are not affected.
#[derive(Debug, Args)]
pub(crate) struct KillSessionsArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
}

/// Returns the plan that ends the sessions of `username`; `active` are the counts to show.
///
/// The counts are for the reader only: the sessions are not part of the plan's basis, so a
/// login between plan and apply does not make this emergency command stale.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(
    actual: &ActualState,
    username: &str,
    active: SessionCounts,
) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let target = user_ref(user);
    let SessionCounts {
        compat,
        oauth2,
        browser,
    } = active;
    let changes = vec![
        Change::FinishSessions {
            user: target.clone(),
            compat,
            oauth2,
            browser,
        },
        Change::SyncDevices { user: target },
    ];
    Ok(user_plan(user, changes, Vec::new()))
}

/// Runs the command.
pub(crate) async fn run(
    args: &KillSessionsArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "kill-sessions").await?;
    let scope = user_scope(&args.username);
    let actual = session.read(&scope).await?;
    let user = find_user(&actual, &args.username)?;
    let active = store::count_active_sessions(&mut session.conn, user.id)
        .await
        .into_diagnostic()?;
    let built = plan(&actual, &args.username, active)?;
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, &args.username, active))
        .await?;
    if let Outcome::Applied(report) = &outcome {
        for (_, ended) in &report.effects.finished_sessions {
            output::stderr_line(&format!(
                "Ended {} compat, {} OAuth 2.0 and {} browser sessions.",
                ended.compat, ended.oauth2, ended.browser
            ));
        }
    }
    Ok(outcome.exit())
}
