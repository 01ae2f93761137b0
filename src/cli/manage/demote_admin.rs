//! `masctl manage demote-admin USER` (mas-facts §4.4): the plan is promote-admin's with the
//! flag cleared.

use clap::Args;

use super::promote_admin::set_admin;
use super::Shared;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;

/// Stop a user from requesting admin privileges (users.can_request_admin = false)
///
/// Existing sessions and compatibility tokens keep the privileges they were granted.
#[derive(Debug, Args)]
pub(crate) struct DemoteAdminArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
}

/// Runs the command.
pub(crate) async fn run(
    args: &DemoteAdminArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    set_admin(&args.username, false, global, shared).await
}
