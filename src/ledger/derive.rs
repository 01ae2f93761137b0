//! Turning the changes a `manage` command executed into emergency records.
//!
//! The values are read back from the database after the writes, inside the same transaction,
//! so a record says exactly what the command left behind (an unlock of a deactivated user
//! leaves it deactivated; a lock followed by a deactivation leaves it deactivated).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

use super::emergency::record;
use super::LedgerError;
use crate::env::Env;
use crate::ids;
use crate::model::{EmailAddress, UserId, UserState};
use crate::plan::emergency::{EmergencyChange, EmergencyObject, EmergencyRecord, EmergencyValue};
use crate::plan::Change;

/// Records every manifest-managed field that `changes` (already executed by `command` in the
/// caller's transaction) changed, and returns the records.
///
/// Changes that touch nothing a manifest manages (provision jobs, sessions, compatibility
/// tokens) leave no record.
///
/// # Errors
/// [`LedgerError`] when the rows cannot be read back or the records not written.
pub async fn record_changes(
    conn: &mut PgConnection,
    env: &Env,
    command: &str,
    changes: &[Change],
) -> Result<Vec<EmergencyRecord>, LedgerError> {
    let after = After::read(conn, changes).await?;
    let mut derived: IndexMap<(String, Ulid, String), EmergencyChange> = IndexMap::new();
    for change in changes {
        for (object, value) in after.values_of(change) {
            let key = (object.kind().to_owned(), object.id(), value.field_key());
            let change = EmergencyChange {
                command: command.to_owned(),
                object,
                value,
            };
            // The last change to a field wins: it is what the command left.
            derived.shift_remove(&key);
            derived.insert(key, change);
        }
    }
    let mut records = Vec::with_capacity(derived.len());
    for change in derived.values() {
        records.push(record(conn, env, change).await?);
    }
    Ok(records)
}

/// `user_id, username, locked, deactivated, can_request_admin` after the writes.
type UserRow = (Uuid, String, bool, bool, bool);
/// `id, token, revoked, usage_limit, expires_at` after the writes.
type TokenRow = (Uuid, String, bool, Option<i32>, Option<DateTime<Utc>>);

/// The rows the executed changes touched, as they are now.
#[derive(Default)]
struct After {
    users: HashMap<Ulid, UserRow>,
    user_by_name: HashMap<String, Ulid>,
    passwords: HashMap<Ulid, Ulid>,
    tokens: HashMap<Ulid, TokenRow>,
    token_by_string: HashMap<String, Ulid>,
}

impl After {
    async fn read(conn: &mut PgConnection, changes: &[Change]) -> Result<Self, LedgerError> {
        let mut user_ids = Vec::new();
        let mut usernames = Vec::new();
        let mut token_ids = Vec::new();
        let mut token_strings = Vec::new();
        for change in changes {
            match change {
                Change::CreateUser(new) => usernames.push(new.username.clone()),
                Change::CreateToken(new) => token_strings.push(new.token.clone()),
                Change::UpdateToken { id, .. }
                | Change::RevokeToken { id, .. }
                | Change::UnrevokeToken { id, .. } => token_ids.push(ids::to_uuid(*id)),
                other => {
                    if let Some(user) = user_ref(other) {
                        user_ids.push(ids::to_uuid(user.0));
                    }
                }
            }
        }
        let mut after = Self::default();
        if user_ids.is_empty()
            && usernames.is_empty()
            && token_ids.is_empty()
            && token_strings.is_empty()
        {
            return Ok(after);
        }
        let users: Vec<UserRow> = sqlx::query_as(
            "SELECT user_id, username, locked_at IS NOT NULL, deactivated_at IS NOT NULL, can_request_admin \
             FROM users WHERE user_id = ANY($1) OR username = ANY($2)",
        )
        .bind(&user_ids)
        .bind(&usernames)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::query("emergency_changes"))?;
        let all_users: Vec<Uuid> = users.iter().map(|row| row.0).collect();
        let passwords: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT DISTINCT ON (user_id) user_id, user_password_id FROM user_passwords \
             WHERE user_id = ANY($1) ORDER BY user_id, created_at DESC",
        )
        .bind(&all_users)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::query("emergency_changes"))?;
        let tokens: Vec<TokenRow> = sqlx::query_as(
            "SELECT user_registration_token_id, token, revoked_at IS NOT NULL, usage_limit, expires_at \
             FROM user_registration_tokens WHERE user_registration_token_id = ANY($1) OR token = ANY($2)",
        )
        .bind(&token_ids)
        .bind(&token_strings)
        .fetch_all(&mut *conn)
        .await
        .map_err(LedgerError::query("emergency_changes"))?;
        for row in users {
            let id = ids::from_uuid(row.0);
            after.user_by_name.insert(row.1.clone(), id);
            after.users.insert(id, row);
        }
        for (user, password) in passwords {
            after
                .passwords
                .insert(ids::from_uuid(user), ids::from_uuid(password));
        }
        for row in tokens {
            let id = ids::from_uuid(row.0);
            after.token_by_string.insert(row.1.clone(), id);
            after.tokens.insert(id, row);
        }
        Ok(after)
    }

    /// Returns the recorded values one executed change leaves behind.
    fn values_of(&self, change: &Change) -> Vec<(EmergencyObject, EmergencyValue)> {
        match change {
            Change::CreateUser(new) => {
                let Some(id) = self.user_by_name.get(&new.username) else {
                    return Vec::new();
                };
                let mut values = vec![
                    self.state_of(*id),
                    Some(EmergencyValue::Admin { admin: new.admin }),
                ];
                if new.password.is_some() {
                    values.push(self.password_of(*id));
                }
                values.extend(
                    new.emails
                        .iter()
                        .map(|email| Some(email_value(email, true))),
                );
                values.extend(new.upstream.iter().map(|(provider, subject)| {
                    Some(EmergencyValue::Upstream {
                        provider: *provider,
                        subject: subject.clone(),
                        present: true,
                    })
                }));
                self.on_user(*id, values)
            }
            Change::CreateToken(new) => self
                .token_by_string
                .get(&new.token)
                .map(|id| self.token_value(*id))
                .into_iter()
                .flatten()
                .collect(),
            Change::UpdateToken { id, .. }
            | Change::RevokeToken { id, .. }
            | Change::UnrevokeToken { id, .. } => self.token_value(*id).into_iter().collect(),
            Change::LockUser { user }
            | Change::UnlockUser { user }
            | Change::DeactivateUser { user }
            | Change::ReactivateUser { user } => {
                self.on_user(user.id.0, vec![self.state_of(user.id.0)])
            }
            Change::SetAdmin { user, admin } => self.on_user(
                user.id.0,
                vec![Some(EmergencyValue::Admin { admin: *admin })],
            ),
            Change::AddEmail { user, email } => {
                self.on_user(user.id.0, vec![Some(email_value(email, true))])
            }
            Change::RemoveEmail { user, email, .. } => {
                self.on_user(user.id.0, vec![Some(email_value(email, false))])
            }
            Change::SetPassword { user, .. } => {
                self.on_user(user.id.0, vec![self.password_of(user.id.0)])
            }
            Change::LinkUpstream {
                user,
                provider,
                subject,
            }
            | Change::UnlinkUpstream {
                user,
                provider,
                subject,
                ..
            } => self.on_user(
                user.id.0,
                vec![Some(EmergencyValue::Upstream {
                    provider: *provider,
                    subject: subject.clone(),
                    present: matches!(change, Change::LinkUpstream { .. }),
                })],
            ),
            // Provision jobs push state to the homeserver and change nothing a manifest manages;
            // the same holds for anything else a manage command does (sessions, compat tokens).
            _ => Vec::new(),
        }
    }

    fn on_user(
        &self,
        id: Ulid,
        values: Vec<Option<EmergencyValue>>,
    ) -> Vec<(EmergencyObject, EmergencyValue)> {
        let Some(row) = self.users.get(&id) else {
            return Vec::new();
        };
        let object = EmergencyObject::User {
            id: UserId(id),
            username: row.1.clone(),
        };
        values
            .into_iter()
            .flatten()
            .map(|value| (object.clone(), value))
            .collect()
    }

    fn state_of(&self, id: Ulid) -> Option<EmergencyValue> {
        let (_, _, locked, deactivated, _) = self.users.get(&id)?;
        let state = if *deactivated {
            UserState::Deactivated
        } else if *locked {
            UserState::Locked
        } else {
            UserState::Active
        };
        Some(EmergencyValue::State { state })
    }

    fn password_of(&self, id: Ulid) -> Option<EmergencyValue> {
        self.passwords
            .get(&id)
            .map(|password_id| EmergencyValue::Password {
                password_id: *password_id,
            })
    }

    fn token_value(&self, id: Ulid) -> Option<(EmergencyObject, EmergencyValue)> {
        let (_, token, revoked, usage_limit, expires_at) = self.tokens.get(&id)?;
        Some((
            EmergencyObject::RegistrationToken {
                id,
                token: token.clone(),
            },
            EmergencyValue::Token {
                revoked: *revoked,
                usage_limit: usage_limit.and_then(|limit| u32::try_from(limit).ok()),
                expires_at: *expires_at,
            },
        ))
    }
}

fn email_value(email: &EmailAddress, present: bool) -> EmergencyValue {
    EmergencyValue::Email {
        address: email.clone(),
        present,
    }
}

/// Returns the existing user a change concerns.
fn user_ref(change: &Change) -> Option<UserId> {
    match change {
        Change::SetAdmin { user, .. }
        | Change::LockUser { user }
        | Change::UnlockUser { user }
        | Change::DeactivateUser { user }
        | Change::ReactivateUser { user }
        | Change::AddEmail { user, .. }
        | Change::RemoveEmail { user, .. }
        | Change::SetPassword { user, .. }
        | Change::LinkUpstream { user, .. }
        | Change::UnlinkUpstream { user, .. } => Some(user.id),
        _ => None,
    }
}
