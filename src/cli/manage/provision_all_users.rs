//! `masctl manage provision-all-users` (mas-facts §4.8): one `provision-user` job (no display
//! name) per user, locked, deactivated and guest users included, in one transaction.
//!
//! The jobs are inserted set-based by [`crate::store::provision_all_users`], so 100 000 users
//! cost a handful of statements.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::{ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::cli::output;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::model::UserId;
use crate::plan::{Basis, Change, Plan};
use crate::snapshot::{Scope, TokenScope, UserScope};

/// Schedule MAS's provision-user job for every user, to resynchronise the homeserver
#[derive(Debug, Args)]
pub(crate) struct ProvisionAllUsersArgs {}

/// Returns the plan that provisions every user in `actual`.
///
/// The basis is the set of user ids: a user created or removed between plan and apply makes
/// the plan stale, so the count shown is the count written.
///
/// # Errors
/// None today; the signature matches the other verbs' re-plan functions.
pub(crate) fn plan(actual: &ActualState) -> Result<Plan, ManageError> {
    let mut ids: Vec<UserId> = actual.users.iter().map(|user| user.id).collect();
    ids.sort_unstable();
    let mut basis = Basis::new();
    basis.add("user_ids", ids.as_slice());
    let count = u64::try_from(ids.len()).unwrap_or(u64::MAX);
    let (changes, notes) = if count == 0 {
        (Vec::new(), vec!["the database has no users".to_owned()])
    } else {
        (vec![Change::ProvisionAllUsers { count }], Vec::new())
    };
    Ok(Plan {
        changes,
        notes,
        basis: basis.finish(),
        managed_objects: ids.len(),
    })
}

/// Runs the command.
pub(crate) async fn run(
    args: &ProvisionAllUsersArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let ProvisionAllUsersArgs {} = args;
    let mut session = Session::open(global, shared, "provision-all-users").await?;
    let scope = Scope {
        users: UserScope::All,
        registration_tokens: TokenScope::Named(Vec::new()),
    };
    let actual = session.read(&scope).await?;
    let built = plan(&actual)?;
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session.execute(&one_off, plan).await?;
    if let Outcome::Applied(report) = &outcome {
        if let Some(count) = report.effects.provisioned_users {
            output::stderr_line(&format!("Scheduled {count} provision-user jobs."));
        }
    }
    Ok(outcome.exit())
}
