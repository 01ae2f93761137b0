//! The steps that `plan`, `apply` and `manage` share between reading the database and writing
//! to it: verifying enforced passwords and hashing new ones. Both are slow on purpose (that is
//! what password hashes are for), so they run in parallel on every core, and always before a
//! write transaction opens, so that no lock is held while hashing.

use std::collections::HashMap;

use miette::Diagnostic;
use thiserror::Error;

use crate::apply::PreparedPasswords;
use crate::env::Env;
use crate::manifest::{self, ManifestError};
use crate::model::state::{ActualState, DesiredPassword, DesiredState, PasswordSource};
use crate::model::{fold_case, PasswordPolicy, Secret, UserId};
use crate::password::{hash_many, verify_many, HashedPassword, PasswordError, PasswordManager};
use crate::plan::{Change, Facts, PasswordCheck, Plan};

/// Why facts could not be gathered or passwords prepared.
#[derive(Debug, Error, Diagnostic)]
pub enum PipelineError {
    /// A password source could not be resolved (missing env var, unreadable file).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ManifestError),
    /// Hashing failed, or passwords are disabled in MAS's config.
    #[error("cannot hash the password of user {username}: {source}")]
    #[diagnostic(code(masctl::password))]
    Password {
        /// Whose password.
        username: String,
        /// What went wrong.
        source: PasswordError,
    },
    /// A password change names a user the manifest does not have (a saved plan from another manifest).
    #[error(
        "the plan sets a password for user {0}, but the manifest has no password for that user"
    )]
    #[diagnostic(code(masctl::plan::password_source))]
    MissingPassword(String),
}

/// Verifies, in parallel, the plaintext of every enforced password against the user's
/// current row, so that the planner can tell whether it changed.
///
/// # Errors
/// Returns the first password source that cannot be resolved, located in the manifest.
pub fn verify_enforced_passwords(
    desired: &DesiredState,
    actual: &ActualState,
    manager: &PasswordManager,
) -> Result<Facts, PipelineError> {
    let by_name: HashMap<String, Vec<&crate::model::state::ActualUser>> =
        actual.users.iter().fold(HashMap::new(), |mut map, user| {
            map.entry(user.username.folded()).or_default().push(user);
            map
        });
    let mut items: Vec<(UserId, Secret, i32, Secret)> = Vec::new();
    let mut issues = Vec::new();
    for (username, want) in &desired.users {
        let Some(password) = want
            .password
            .as_ref()
            .filter(|_| want.password_policy == PasswordPolicy::Enforce)
        else {
            continue;
        };
        if matches!(password.source, PasswordSource::Hash { .. }) {
            continue;
        }
        // Same lookup rule as the planner: a single case-insensitive hit, or the exact spelling.
        let candidates = by_name
            .get(&username.folded())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = match candidates {
            [only] => Some(*only),
            several => several
                .iter()
                .find(|u| u.username.as_str() == username.as_str())
                .copied(),
        };
        let Some(current) = found.and_then(|user| user.password.as_ref().map(|p| (user.id, p)))
        else {
            continue;
        };
        match manifest::resolve_password(password) {
            Ok(plaintext) => items.push((
                current.0,
                plaintext,
                current.1.version,
                current.1.hashed_password.clone(),
            )),
            Err(error) => issues.push(error),
        }
    }
    if let Some(error) = ManifestError::merge(issues) {
        return Err(error.into());
    }
    let passwords = verify_many(manager, items)
        .into_iter()
        .map(|(id, result)| {
            // A row whose scheme is not configured cannot be logged in with anyway: replace it.
            let check = if matches!(result, Ok(true)) {
                PasswordCheck::Matches
            } else {
                PasswordCheck::Differs
            };
            (id, check)
        })
        .collect();
    Ok(Facts {
        passwords,
        ..Facts::default()
    })
}

/// Hashes, in parallel, every password the plan writes, resolving manifest sources.
///
/// # Errors
/// Returns a resolution error located in the manifest, or a hashing error naming the user.
pub fn prepare_passwords(
    plan: &Plan,
    desired: &DesiredState,
    manager: &PasswordManager,
    env: &Env,
) -> Result<PreparedPasswords, PipelineError> {
    let desired_by_name: HashMap<String, &DesiredPassword> = desired
        .users
        .iter()
        .filter_map(|(name, user)| user.password.as_ref().map(|p| (name.folded(), p)))
        .collect();
    let mut prepared = PreparedPasswords::default();
    let mut plaintexts: Vec<(String, Secret)> = Vec::new();
    let mut issues = Vec::new();
    for change in &plan.changes {
        let username = match change {
            Change::CreateUser(new) if new.password.is_some() => &new.username,
            Change::SetPassword { user, .. } => &user.username,
            _ => continue,
        };
        let Some(password) = desired_by_name.get(&fold_case(username)) else {
            return Err(PipelineError::MissingPassword(username.clone()));
        };
        match &password.source {
            PasswordSource::Hash { hash, version } => {
                prepared.insert(
                    username.clone(),
                    HashedPassword {
                        version: *version,
                        hash: hash.clone(),
                    },
                );
            }
            _ => match manifest::resolve_password(password) {
                Ok(plaintext) => plaintexts.push((username.clone(), plaintext)),
                Err(error) => issues.push(error),
            },
        }
    }
    if let Some(error) = ManifestError::merge(issues) {
        return Err(error.into());
    }
    let first = plaintexts
        .first()
        .map(|(name, _)| name.clone())
        .unwrap_or_default();
    let hashed = hash_many(manager, plaintexts, &mut *env.rng()).map_err(|source| {
        PipelineError::Password {
            username: first,
            source,
        }
    })?;
    for (username, hash) in hashed {
        prepared.insert(username, hash);
    }
    Ok(prepared)
}

/// A plan with the inputs it was computed from.
#[derive(Debug)]
pub struct Planned {
    /// The snapshot read for it.
    pub actual: ActualState,
    /// The facts gathered for it (reused to re-plan inside the apply transaction).
    pub facts: Facts,
    /// The plan.
    pub plan: Plan,
}

/// Reads the snapshot, gathers facts and plans: what `plan` and `apply` both do first.
///
/// # Errors
/// A snapshot, password-resolution or planning error.
pub async fn compute(
    conn: &mut sqlx::PgConnection,
    desired: &DesiredState,
    manager: &PasswordManager,
) -> miette::Result<Planned> {
    // Keep the driver's error as the cause: "could not read table X" alone does not say
    // whether the table is missing or the connection was cut.
    let actual = crate::snapshot::read(conn, &crate::snapshot::Scope::all())
        .await
        .map_err(miette::Report::from_err)?;
    let facts = verify_enforced_passwords(desired, &actual, manager)?;
    let plan = crate::plan::plan(desired, &actual, &facts)?;
    Ok(Planned {
        actual,
        facts,
        plan,
    })
}
