//! `masctl manage add-email USER EMAIL` (mas-facts §4.1), with two deliberate improvements
//! over mas-cli: the address is validated as MAS's admin API validates it, and a
//! `provision-user` job is scheduled so that the homeserver learns the address now rather
//! than at some later provisioning.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::hint::{strings, ManifestEdit};
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::model::EmailAddress;
use crate::plan::{Change, Plan};

/// Add an email address to a user (stored as verified)
///
/// Unlike mas-cli, the address is validated (as MAS's admin API and register-user do) and
/// MAS's provision-user job is scheduled so the homeserver learns the address right away. An
/// address the user already has (compared case-insensitively) is not added twice; nothing is
/// written and the command succeeds. Other users may hold the same address, as in mas-cli.
#[derive(Debug, Args)]
pub(crate) struct AddEmailArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
    /// The address, stored as written
    #[arg(value_name = "EMAIL", value_parser = parse_email)]
    email: EmailAddress,
}

/// Parses an email address with the manifest's rules (those of `lettre::Address`).
pub(crate) fn parse_email(value: &str) -> Result<EmailAddress, String> {
    crate::manifest::email::check(value)
        .map(|()| EmailAddress::new_unchecked(value.to_owned()))
        .map_err(|reason| format!("not a valid email address: {reason}"))
}

/// Returns the plan that gives `username` the address `email`.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(
    actual: &ActualState,
    username: &str,
    email: &EmailAddress,
) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let target = user_ref(user);
    if let Some(existing) = user
        .emails
        .iter()
        .find(|row| row.email.folded() == email.folded())
    {
        let note = format!(
            "{} already has this email: {}",
            target.username, existing.email
        );
        return Ok(user_plan(user, Vec::new(), vec![note]));
    }
    let mut changes = vec![Change::AddEmail {
        user: target.clone(),
        email: email.clone(),
    }];
    let mut notes = Vec::new();
    if user.deactivated_at.is_some() {
        // MAS's deactivate-user job tore the account down on the homeserver; provisioning it
        // again would undo that. The row is still added, as mas-cli adds it.
        notes.push(format!(
            "{} is deactivated: the address is stored but not sent to the homeserver",
            target.username
        ));
    } else {
        changes.push(Change::ProvisionUser {
            user: target,
            set_display_name: None,
        });
    }
    Ok(user_plan(user, changes, notes))
}

/// Runs the command.
pub(crate) async fn run(
    args: &AddEmailArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "add-email").await?;
    let scope = user_scope(&args.username);
    let actual = session.read(&scope).await?;
    let built = plan(&actual, &args.username, &args.email)?;
    let user = find_user(&actual, &args.username)?;
    let mut emails: Vec<&str> = user.emails.iter().map(|row| row.email.as_str()).collect();
    emails.push(args.email.as_str());
    let edit = ManifestEdit::user(user.username.as_str(), vec![("emails", strings(emails))])
        .when("(needed only if the manifest lists this user's `emails:`; without the key, apply leaves them alone)");
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, &args.username, &args.email))
        .await?;
    if let Outcome::Applied(_) = outcome {
        edit.print();
    }
    Ok(outcome.exit())
}
