//! Writes a plan's changes inside the caller's transaction. No decisions are made here: each
//! change kind maps to the batched store writer that produces MAS's rows, and jobs are
//! scheduled in plan order after the rows they concern.
//!
//! Changes are grouped into phases so that thousands of them cost a handful of statements:
//! unlinks and email removals first (a subject or address moving between users is released
//! before it is taken), then new users, then per-user updates, then tokens, then jobs.

use miette::Diagnostic;
use sqlx::PgConnection;
use thiserror::Error;

use super::PreparedPasswords;
use crate::env::Env;
use crate::model::{UserId, UserState, Username};
use crate::plan::Change;
use crate::store::{self, Job, NewPassword, NewToken, NewUser, StoreError, TokenUpdate};

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
) -> Result<(), ExecuteError> {
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
    Ok(())
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
