//! `masctl manage verify-email USER EMAIL` (mas-facts §4.2): deprecated in mas-cli, and inert.
//!
//! MAS dropped the notion of an unverified address (v1.10): a `user_emails` row is verified by
//! being there. The command reads no config and opens no connection; it only warns.

use clap::Args;

use crate::cli::output;
use crate::exit::Exit;

/// Deprecated: does nothing (every address MAS stores is verified); use add-email
#[derive(Debug, Args)]
pub(crate) struct VerifyEmailArgs {
    /// The user's name (ignored)
    #[arg(value_name = "USERNAME")]
    username: String,
    /// The address (ignored)
    #[arg(value_name = "EMAIL")]
    email: String,
}

/// Warns that the command is deprecated and does nothing.
pub(crate) fn run(args: &VerifyEmailArgs) -> Exit {
    let VerifyEmailArgs { username, email } = args;
    output::warning(&format!(
        "`verify-email` is deprecated and does nothing: every address MAS stores is verified. \
         To give {username} the address {email}, use `masctl manage add-email {username} {email}`."
    ));
    Exit::Success
}
