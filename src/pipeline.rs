//! The steps that `plan`, `apply` and `manage` share between reading the database and writing
//! to it: gathering display names from the homeserver ([`display_names`]), verifying enforced
//! passwords and hashing new ones. Hashing is slow on purpose (that is what password hashes are
//! for), so it runs in parallel on every core; all of it happens before a write transaction
//! opens, so that no lock is held meanwhile and a failure leaves nothing written.

pub mod display_names;

use std::collections::HashMap;

use miette::Diagnostic;
use thiserror::Error;

use crate::apply::PreparedPasswords;
use crate::env::Env;
use crate::homeserver::{HomeserverClient, HomeserverError};
use crate::manifest::{self, ManifestError};
use crate::model::state::{ActualState, DesiredPassword, DesiredState, PasswordSource};
use crate::model::{fold_case, PasswordPolicy, Secret, UserId};
use crate::password::{hash_many, verify_many, HashedPassword, PasswordError, PasswordManager};
use crate::plan::{Change, Facts, Index, Lookup, PasswordCheck, Plan};

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
    /// The homeserver could not tell the display names (down, slow, secret rejected, error).
    #[error("cannot read display names from the homeserver at {endpoint}; nothing was written")]
    #[diagnostic(
        code(masctl::homeserver),
        help(
            "masctl compares display names through the `matrix` section of MAS's config \
             (Synapse's _synapse/mas API); fix the homeserver or that section, then run again"
        )
    )]
    Homeserver {
        /// `matrix.endpoint`, as the client uses it.
        endpoint: String,
        /// The failing request (boxed: it is large, and every caller's `Result` would carry it).
        #[source]
        source: Box<HomeserverError>,
    },
    /// The queue of MAS jobs could not be read.
    #[error("cannot read the pending provision-user jobs")]
    #[diagnostic(code(masctl::database))]
    PendingJobs(#[source] crate::store::StoreError),
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
    // Built only when something is enforced: at 100k users the index is not free.
    let enforces_plaintext = desired.users.values().any(|user| {
        user.password_policy == PasswordPolicy::Enforce
            && user
                .password
                .as_ref()
                .is_some_and(|p| !matches!(p.source, PasswordSource::Hash { .. }))
    });
    if !enforces_plaintext {
        return Ok(Facts::default());
    }
    let index = Index::new(actual);
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
        // The planner's own lookup, so that both always agree on who the user is.
        let found = match index.find_user(username) {
            Lookup::Found(user) => Some(user),
            Lookup::Missing | Lookup::Ambiguous(_) => None,
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
        .filter_map(|(name, user)| user.password.as_deref().map(|p| (name.folded(), p)))
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

/// Reads the whole snapshot in one read-only REPEATABLE READ transaction, so that its six
/// statements see one consistent state even while MAS keeps writing.
///
/// # Errors
/// The database's error, with the table being read when a statement failed.
pub async fn read_snapshot(conn: &mut sqlx::PgConnection) -> miette::Result<ActualState> {
    use sqlx::Connection as _;
    let database = |error: sqlx::Error| miette::miette!("cannot read MAS's database: {error}");
    let mut tx = conn.begin().await.map_err(database)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(database)?;
    // Keep the driver's error as the cause: "could not read table X" alone does not say
    // whether the table is missing or the connection was cut.
    let actual = crate::snapshot::read(&mut tx, &crate::snapshot::Scope::all())
        .await
        .map_err(miette::Report::from_err)?;
    tx.rollback().await.map_err(database)?;
    Ok(actual)
}

/// Loads the manifest on a blocking thread while `read` (connecting to MAS's database and
/// reading it) runs on this one, and returns both.
///
/// Parsing a large manifest is CPU work and reading the snapshot is mostly waiting for
/// PostgreSQL, so overlapping them takes the shorter off every `plan` and `apply`. Manifest
/// errors still come first, as if the manifest had been loaded before anything else: a broken
/// manifest is reported as soon as it is known, without waiting for (or showing the error of)
/// the database.
///
/// `read`'s outcome is returned as it is, so that the caller can check what else depends on the
/// manifest alone (a saved plan's manifest digest) before reporting a database error.
///
/// # Errors
/// The manifest's error, if it has one.
pub async fn alongside_manifest<R>(
    load: impl FnOnce() -> miette::Result<DesiredState> + Send + 'static,
    read: impl std::future::Future<Output = miette::Result<R>>,
) -> miette::Result<(DesiredState, miette::Result<R>)> {
    let loading = tokio::task::spawn_blocking(load);
    let loaded = |joined: Result<miette::Result<DesiredState>, tokio::task::JoinError>| {
        joined.unwrap_or_else(|error| Err(miette::miette!("loading the manifest failed: {error}")))
    };
    tokio::pin!(loading);
    tokio::pin!(read);
    tokio::select! {
        desired = &mut loading => {
            let desired = loaded(desired)?;
            Ok((desired, read.await))
        }
        outcome = &mut read => {
            let desired = loaded(loading.await)?;
            Ok((desired, outcome))
        }
    }
}

/// Reads the snapshot, gathers facts and plans: what `plan` and `apply` both do first.
///
/// `homeserver` is the client built from MAS's `matrix` section; `None` (no such section) means
/// display names cannot be compared, which the plan notes.
///
/// # Errors
/// A snapshot, job-queue, homeserver, password-resolution or planning error.
pub async fn compute(
    conn: &mut sqlx::PgConnection,
    desired: &DesiredState,
    manager: &PasswordManager,
    homeserver: Option<&HomeserverClient>,
) -> miette::Result<Planned> {
    let actual = read_snapshot(conn).await?;
    plan_snapshot(conn, desired, actual, manager, homeserver).await
}

/// Gathers facts about a snapshot already read and plans against it.
///
/// Display names are read before the passwords are verified, so that an unreachable homeserver
/// fails fast.
///
/// # Errors
/// A job-queue, homeserver, password-resolution or planning error.
pub async fn plan_snapshot(
    conn: &mut sqlx::PgConnection,
    desired: &DesiredState,
    actual: ActualState,
    manager: &PasswordManager,
    homeserver: Option<&HomeserverClient>,
) -> miette::Result<Planned> {
    let display_names = display_names::gather(conn, desired, &actual, homeserver).await?;
    let mut facts = verify_enforced_passwords(desired, &actual, manager)?;
    facts.display_names = display_names;
    let plan = crate::plan::plan(desired, &actual, &facts)?;
    Ok(Planned {
        actual,
        facts,
        plan,
    })
}
