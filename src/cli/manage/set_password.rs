//! `masctl manage set-password USER PASSWORD [--ignore-complexity]` (mas-facts §4.3).
//!
//! The password is scored with zxcvbn against `passwords.minimum_complexity`, hashed with the
//! highest configured scheme before the transaction opens, and stored as a new
//! `user_passwords` row (`upgraded_from_id` NULL); older rows are kept, as MAS keeps them.
//! The plaintext only ever travels as a [`Secret`]: never printed, never in the plan.

use clap::Args;
use miette::IntoDiagnostic;

use super::flow::{OneOff, Outcome, Session};
use super::hint::ManifestEdit;
use super::{find_user, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::model::Secret;
use crate::password::PasswordManager;
use crate::plan::{Change, PasswordWrite, PasswordWriteSource, Plan};

/// Set a user's password (hashed with the highest scheme in MAS's config)
///
/// The previous password rows are kept, as MAS keeps them; the new one becomes current.
#[derive(Debug, Args)]
pub(crate) struct SetPasswordArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
    /// The new password
    #[arg(value_name = "PASSWORD", value_parser = parse_secret)]
    password: Secret,
    /// Accept a password below the config's minimum_complexity
    #[arg(long)]
    ignore_complexity: bool,
}

/// Wraps a command-line value as a secret, so that clap's `Debug` of the arguments hides it.
pub(crate) fn parse_secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

/// Returns the plan that writes a new password for `username`.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(actual: &ActualState, username: &str) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let change = Change::SetPassword {
        user: user_ref(user),
        password: PasswordWrite {
            source: PasswordWriteSource::CommandLine,
        },
    };
    Ok(user_plan(user, vec![change], Vec::new()))
}

/// Refuses a password below the configured complexity, with mas-cli's message.
pub(crate) fn check_complexity(manager: &PasswordManager, password: &Secret) -> miette::Result<()> {
    if manager.is_strong_enough(password).into_diagnostic()? {
        return Ok(());
    }
    Err(miette::miette!(
        code = "masctl::manage::weak_password",
        help = "choose a longer, less predictable password, or accept it with --ignore-complexity",
        "That password is too weak."
    ))
}

/// Runs the command.
pub(crate) async fn run(
    args: &SetPasswordArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "set-password").await?;
    let manager = session.context.password_manager()?;
    let scope = user_scope(&args.username);
    let actual = session.read(&scope).await?;
    // mas-cli looks the user up before it scores the password.
    let built = plan(&actual, &args.username)?;
    if !args.ignore_complexity {
        check_complexity(&manager, &args.password)?;
    }
    let stored = find_user(&actual, &args.username)?.username.to_string();
    // Hashed even for a dry run, so that a disabled password manager is reported as mas-cli
    // reports it.
    let hashed = manager
        .hash(&args.password, &mut *session.context.env.rng())
        .into_diagnostic()?;
    let mut passwords = PreparedPasswords::default();
    passwords.insert(stored.clone(), hashed);
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords,
    };
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, &args.username))
        .await?;
    if let Outcome::Applied(_) = outcome {
        ManifestEdit::user(&stored, vec![("password_policy", "initial".into())])
            .when("(needed only if the manifest sets this user's password with `password_policy: enforce`)")
            .print();
    }
    Ok(outcome.exit())
}
