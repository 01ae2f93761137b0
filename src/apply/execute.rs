//! Writes a plan's changes inside the caller's transaction. No decisions are made here: each
//! change kind maps to the batched store writer that produces MAS's rows, and jobs are
//! scheduled in plan order after the rows they concern.
//!
//! Changes are grouped into phases so that thousands of them cost a handful of statements:
//! unlinks and email removals first (a subject or address moving between users is released
//! before it is taken), then new users, then per-user updates (sessions ended and compat
//! tokens issued last among them), then registration tokens, then jobs.

use miette::Diagnostic;
use sqlx::PgConnection;
use thiserror::Error;

use super::PreparedPasswords;
use crate::env::Env;
use crate::model::{Secret, UserId, UserState, Username};
use crate::plan::Change;
use crate::store::{
    self, CompatSessionId, Job, NewPassword, NewToken, NewUser, SessionCounts, StoreError,
    TokenUpdate,
};

/// What executing a plan produced besides rows: values generated while writing, and counts
/// known only once the writes ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Compatibility access tokens issued ([`Change::IssueCompatToken`]), in plan order.
    pub compat_tokens: Vec<IssuedCompatToken>,
    /// Sessions ended per user ([`Change::FinishSessions`]), in plan order.
    pub finished_sessions: Vec<(UserId, SessionCounts)>,
    /// `provision-user` jobs scheduled by [`Change::ProvisionAllUsers`], if the plan had one.
    pub provisioned_users: Option<u64>,
}

/// A compatibility access token the applier generated and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCompatToken {
    /// The user.
    pub user: UserId,
    /// The device it is bound to.
    pub device_id: String,
    /// The new `compat_sessions` row.
    pub session: CompatSessionId,
    /// The `mct_…` token: a credential, shown once to the operator and never logged.
    pub token: Secret,
}

/// Why a write failed (the transaction is then rolled back by the caller).
#[derive(Debug, Error, Diagnostic)]
pub enum ExecuteError {
    /// The store rejected a write.
    #[error("apply failed and was rolled back: {0}")]
    Store(#[from] StoreError),
    /// A password the plan writes was not prepared (a bug in the caller).
    #[error("no prepared password for user {0}")]
    MissingPassword(String),
}

/// Executes `changes` in phases; see the module docs.
///
/// # Errors
/// The first failing write.
pub(crate) async fn run(
    conn: &mut PgConnection,
    env: &Env,
    changes: &[Change],
    passwords: &PreparedPasswords,
    on_progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Effects, ExecuteError> {
    let mut effects = Effects::default();
    let mut batch = Batch::default();
    for change in changes {
        batch.add(change);
    }
    on_progress("releasing upstream links and email addresses");
    store::unlink_upstream(conn, env, &batch.unlinks).await?;
    store::remove_emails(conn, &batch.email_removals).await?;

    if !batch.creates.is_empty() {
        on_progress(&format!("creating {} users", batch.creates.len()));
    }
    create_users(conn, env, &batch.creates, passwords, &mut batch.jobs).await?;

    on_progress("updating users");
    for (admin, users) in [(true, &batch.promote), (false, &batch.demote)] {
        store::set_admin(conn, users, admin).await?;
    }
    store::reactivate_users(conn, &batch.reactivate).await?;
    store::unlock_users(conn, &batch.unlock).await?;
    store::lock_users(conn, env, &batch.lock).await?;
    store::deactivate_users(conn, env, &batch.deactivate).await?;
    store::add_emails(conn, env, &batch.email_additions).await?;
    let new_passwords = batch
        .password_users
        .iter()
        .map(|(id, username)| new_password(*id, username, passwords))
        .collect::<Result<Vec<_>, _>>()?;
    store::add_passwords(conn, env, &new_passwords).await?;
    store::link_upstream(conn, env, &batch.links).await?;
    sessions(conn, env, &batch, &mut effects).await?;

    on_progress("updating registration tokens");
    let created_tokens = store::create_tokens(conn, env, &batch.new_tokens).await?;
    let revoked_at_birth: Vec<_> = created_tokens
        .iter()
        .zip(&batch.new_tokens_revoked)
        .filter(|(_, revoked)| **revoked)
        .map(|(id, _)| *id)
        .collect();
    store::revoke_tokens(conn, env, &revoked_at_birth).await?;
    store::update_tokens(conn, &batch.token_updates).await?;
    store::revoke_tokens(conn, env, &batch.revoke_tokens).await?;
    store::unrevoke_tokens(conn, &batch.unrevoke_tokens).await?;

    on_progress("scheduling MAS jobs");
    store::schedule_jobs(conn, env, &batch.jobs).await?;
    if batch.provision_all {
        effects.provisioned_users = Some(store::provision_all_users(conn, env).await?);
    }
    Ok(effects)
}

/// Ends sessions (kill-sessions) and issues compat tokens, recording what was done.
async fn sessions(
    conn: &mut PgConnection,
    env: &Env,
    batch: &Batch<'_>,
    effects: &mut Effects,
) -> Result<(), ExecuteError> {
    for user in &batch.finish_sessions {
        let counts = store::finish_sessions(conn, env, *user).await?;
        effects.finished_sessions.push((*user, counts));
    }
    for (user, device_id, synapse_admin) in &batch.compat_tokens {
        let issued = issue_compat_token(conn, env, *user, device_id, *synapse_admin).await?;
        effects.compat_tokens.push(issued);
    }
    Ok(())
}

/// Stores a compat session and its access token, as issue-compatibility-token does.
async fn issue_compat_token(
    conn: &mut PgConnection,
    env: &Env,
    user: UserId,
    device_id: &str,
    synapse_admin: bool,
) -> Result<IssuedCompatToken, ExecuteError> {
    let session = store::create_compat_session(conn, env, user, device_id, synapse_admin).await?;
    // Drawn after the session row, as MAS generates it just before inserting the token.
    let token = crate::tokens::compat_access_token(&mut *env.rng());
    store::create_compat_access_token(conn, env, session, &token).await?;
    Ok(IssuedCompatToken {
        user,
        device_id: device_id.to_owned(),
        session,
        token,
    })
}

/// Changes sorted by the writer that executes them.
#[derive(Default)]
struct Batch<'a> {
    unlinks: Vec<ulid::Ulid>,
    email_removals: Vec<ulid::Ulid>,
    creates: Vec<&'a crate::plan::NewUser>,
    promote: Vec<UserId>,
    demote: Vec<UserId>,
    reactivate: Vec<UserId>,
    unlock: Vec<UserId>,
    lock: Vec<UserId>,
    deactivate: Vec<UserId>,
    email_additions: Vec<(UserId, crate::model::EmailAddress)>,
    password_users: Vec<(UserId, &'a str)>,
    links: Vec<(UserId, crate::model::ProviderId, String)>,
    new_tokens: Vec<NewToken>,
    new_tokens_revoked: Vec<bool>,
    token_updates: Vec<TokenUpdate>,
    revoke_tokens: Vec<ulid::Ulid>,
    unrevoke_tokens: Vec<ulid::Ulid>,
    finish_sessions: Vec<UserId>,
    compat_tokens: Vec<(UserId, &'a str, bool)>,
    provision_all: bool,
    jobs: Vec<Job>,
}

impl<'a> Batch<'a> {
    fn add(&mut self, change: &'a Change) {
        match change {
            Change::CreateUser(new) => self.creates.push(new),
            Change::SetAdmin { user, admin: true } => self.promote.push(user.id),
            Change::SetAdmin { user, admin: false } => self.demote.push(user.id),
            Change::LockUser { user } => self.lock.push(user.id),
            Change::UnlockUser { user } => self.unlock.push(user.id),
            Change::DeactivateUser { user } => {
                self.deactivate.push(user.id);
                // The CLI and masctl never erase on the homeserver: deactivation stays reversible.
                self.jobs.push(Job::DeactivateUser {
                    user_id: user.id,
                    hs_erase: false,
                });
            }
            Change::ReactivateUser { user } => {
                self.reactivate.push(user.id);
                self.jobs.push(Job::ReactivateUser { user_id: user.id });
            }
            Change::AddEmail { user, email } => self.email_additions.push((user.id, email.clone())),
            Change::RemoveEmail { email_id, .. } => self.email_removals.push(*email_id),
            Change::SetPassword { user, .. } => self.password_users.push((user.id, &user.username)),
            Change::LinkUpstream {
                user,
                provider,
                subject,
            } => self.links.push((user.id, *provider, subject.clone())),
            Change::UnlinkUpstream { link_id, .. } => self.unlinks.push(*link_id),
            Change::ProvisionUser {
                user,
                set_display_name,
            } => {
                self.jobs.push(Job::ProvisionUser {
                    user_id: user.id,
                    set_display_name: set_display_name.clone(),
                });
            }
            Change::CreateToken(new) => {
                self.new_tokens.push(NewToken {
                    token: new.token.clone(),
                    usage_limit: new.usage_limit,
                    expires_at: new.expires_at,
                });
                self.new_tokens_revoked.push(new.revoked);
            }
            Change::UpdateToken {
                id,
                token,
                usage_limit,
                expires_at,
            } => self.token_updates.push(TokenUpdate {
                id: *id,
                token: token.clone(),
                usage_limit: *usage_limit,
                expires_at: *expires_at,
            }),
            Change::RevokeToken { id, .. } => self.revoke_tokens.push(*id),
            Change::UnrevokeToken { id, .. } => self.unrevoke_tokens.push(*id),
            // lock-user --deactivate: the job alone; MAS's worker sets deactivated_at.
            Change::ScheduleDeactivation { user } => {
                self.jobs.push(Job::DeactivateUser {
                    user_id: user.id,
                    hs_erase: false,
                });
            }
            // unlock-user --reactivate: the job alone; MAS's worker clears deactivated_at.
            Change::ScheduleReactivation { user } => {
                self.jobs.push(Job::ReactivateUser { user_id: user.id })
            }
            Change::FinishSessions { user, .. } => self.finish_sessions.push(user.id),
            Change::IssueCompatToken {
                user,
                device_id,
                synapse_admin,
            } => {
                self.compat_tokens
                    .push((user.id, device_id, *synapse_admin));
            }
            Change::ProvisionAllUsers { .. } => self.provision_all = true,
            Change::SyncDevices { user } => self.jobs.push(Job::SyncDevices { user_id: user.id }),
        }
    }
}

/// Registers new users with all their rows, and queues their provision jobs.
async fn create_users(
    conn: &mut PgConnection,
    env: &Env,
    creates: &[&crate::plan::NewUser],
    passwords: &PreparedPasswords,
    jobs: &mut Vec<Job>,
) -> Result<(), ExecuteError> {
    if creates.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewUser> = creates
        .iter()
        .map(|new| NewUser {
            username: Username::from_database(new.username.clone()),
            can_request_admin: new.admin,
            locked: new.state == UserState::Locked,
            deactivated: new.state == UserState::Deactivated,
        })
        .collect();
    let ids = store::create_users(conn, env, &rows).await?;
    let mut new_passwords = Vec::new();
    let mut emails = Vec::new();
    let mut links = Vec::new();
    for (new, id) in creates.iter().zip(&ids) {
        if new.password.is_some() {
            new_passwords.push(new_password(*id, &new.username, passwords)?);
        }
        emails.extend(new.emails.iter().map(|email| (*id, email.clone())));
        links.extend(
            new.upstream
                .iter()
                .map(|(provider, subject)| (*id, *provider, subject.clone())),
        );
        // A user created deactivated has nothing to provision on the homeserver.
        if new.state != UserState::Deactivated {
            jobs.push(Job::ProvisionUser {
                user_id: *id,
                set_display_name: new.display_name.clone(),
            });
        }
    }
    store::add_passwords(conn, env, &new_passwords).await?;
    store::add_emails(conn, env, &emails).await?;
    store::link_upstream(conn, env, &links).await?;
    Ok(())
}

fn new_password(
    user_id: UserId,
    username: &str,
    passwords: &PreparedPasswords,
) -> Result<NewPassword, ExecuteError> {
    let hashed = passwords
        .get(username)
        .ok_or_else(|| ExecuteError::MissingPassword(username.to_owned()))?;
    Ok(NewPassword {
        user_id,
        version: hashed.version,
        hash: hashed.hash.clone(),
    })
}
