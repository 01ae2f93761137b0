//! The snapshot reader: what MAS's database holds, as an [`ActualState`].
//!
//! [`read`] costs a fixed number of set-based statements ([`STATEMENTS`]), one per table,
//! whatever the number of users: the users in scope, their emails, their current passwords,
//! their upstream links, the registration tokens in scope and the upstream providers. Rows are
//! streamed and stitched together in Rust through a hash map keyed by user id, in O(n).
//!
//! This module only reads. It does not open a transaction either: for a consistent view the
//! caller runs it inside one at `REPEATABLE READ` (apply does, under its advisory lock). Under
//! `READ COMMITTED` a user created between two statements may be missing while its emails are
//! not; such child rows are skipped ([`SnapshotStats::skipped`] counts them).

mod copy;
mod queries;

use foldhash::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids;
use crate::model::state::{
    ActualEmail, ActualLink, ActualPassword, ActualProvider, ActualState, ActualToken, ActualUser,
};
use crate::model::{EmailAddress, ProviderId, Secret, UserId, Username};
use queries::Reader;

/// How many statements [`read`] sends, for any scope and any number of users.
pub const STATEMENTS: usize = 6;

/// Which objects a snapshot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Which users (with their emails, passwords and links).
    pub users: UserScope,
    /// Which registration tokens.
    pub registration_tokens: TokenScope,
}

impl Scope {
    /// Returns the scope covering every user and every token.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }
}

/// Which users a snapshot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UserScope {
    /// Every user.
    #[default]
    All,
    /// The users with these usernames, matched case-insensitively like MAS
    /// (`LOWER(username) = LOWER(name)`): `Alice` finds `alice`, and finds both `alice` and
    /// `ALICE` when both exist.
    Named(Vec<String>),
}

/// Which registration tokens a snapshot reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenScope {
    /// Every token.
    #[default]
    All,
    /// The tokens with exactly these strings (tokens are case-sensitive).
    Named(Vec<String>),
}

/// What reading a snapshot cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Statements sent to PostgreSQL: always [`STATEMENTS`].
    pub statements: usize,
    /// Rows received, over all statements.
    pub rows: usize,
    /// Child rows skipped because their user was not in the users read (see the module docs).
    pub skipped: usize,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A statement failed (connection lost, table missing, permission denied, …).
    #[error("could not read table `{table}` from the MAS database")]
    Query {
        /// The table being read.
        table: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

impl SnapshotError {
    /// Returns a mapper from a driver error to [`SnapshotError::Query`] on `table`.
    fn query(table: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { table, source }
    }
}

/// Reads the users and tokens in `scope`, and all upstream providers.
///
/// Users are ordered by username, tokens by token (both byte order), providers by id, and each
/// user's emails and links by id.
///
/// # Errors
/// [`SnapshotError::Query`] naming the table whose statement failed.
pub async fn read(conn: &mut PgConnection, scope: &Scope) -> Result<ActualState, SnapshotError> {
    read_with_stats(conn, scope).await.map(|(state, _)| state)
}

/// Reads like [`read`] and also returns what it cost.
///
/// # Errors
/// [`SnapshotError::Query`] naming the table whose statement failed.
pub async fn read_with_stats(
    conn: &mut PgConnection,
    scope: &Scope,
) -> Result<(ActualState, SnapshotStats), SnapshotError> {
    let mut reader = Reader::new(conn);
    let (users, skipped) = read_users(&mut reader, &scope.users).await?;

    let mut registration_tokens = Vec::new();
    queries::tokens(&mut reader, &scope.registration_tokens, |row| {
        registration_tokens.push(token(row));
    })
    .await?;
    registration_tokens.sort_unstable_by(|a: &ActualToken, b| a.token.cmp(&b.token));

    let mut providers = Vec::new();
    queries::providers(&mut reader, |row| providers.push(provider(row))).await?;
    providers.sort_unstable_by_key(|provider: &ActualProvider| provider.id);

    let stats = SnapshotStats {
        statements: reader.statements,
        rows: reader.rows,
        skipped,
    };
    let state = ActualState {
        users,
        registration_tokens,
        providers,
    };
    Ok((state, stats))
}

/// Reads the users in `scope` with their emails, current passwords and links, and returns them
/// with the number of child rows skipped.
async fn read_users(
    reader: &mut Reader<'_>,
    scope: &UserScope,
) -> Result<(Vec<ActualUser>, usize), SnapshotError> {
    let mut rows = Vec::new();
    queries::users(reader, scope, |row| rows.push(user(row))).await?;
    let mut users = Stitcher::new(rows);
    // Named scopes filter the child tables by the ids just read; `All` reads them whole.
    let in_scope = match scope {
        UserScope::All => None,
        UserScope::Named(_) => Some(users.ids()),
    };
    let filter = in_scope.as_deref();
    queries::emails(reader, filter, |(id, user, email)| {
        if let Some(owner) = users.owner(user) {
            let email = EmailAddress::new_unchecked(email);
            // Most users have one or two addresses: grow one at a time, not by four.
            owner.emails.reserve_exact(1);
            owner.emails.push(ActualEmail {
                id: ids::from_uuid(id),
                email,
            });
        }
    })
    .await?;
    queries::passwords(reader, filter, |(user, id, hash, version, created_at)| {
        if let Some(owner) = users.owner(user) {
            owner.password = Some(Box::new(ActualPassword {
                id: ids::from_uuid(id),
                hashed_password: Secret::new(hash),
                version,
                created_at,
            }));
        }
    })
    .await?;
    queries::links(reader, filter, |(id, user, provider, subject)| {
        if let Some(owner) = users.owner(user) {
            let provider = ProviderId(ids::from_uuid(provider));
            owner.upstream_links.push(ActualLink {
                id: ids::from_uuid(id),
                provider,
                subject,
            });
        }
    })
    .await?;
    Ok(users.finish())
}

/// Attaches child rows to their users in O(1) each, through a map from user id to position.
struct Stitcher {
    users: Vec<ActualUser>,
    index: HashMap<Uuid, usize>,
    skipped: usize,
}

impl Stitcher {
    /// Orders `users` by username (byte order) and indexes them by id.
    fn new(mut users: Vec<ActualUser>) -> Self {
        users.sort_unstable_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
        let index = users
            .iter()
            .enumerate()
            .map(|(at, user)| (ids::to_uuid(user.id.0), at))
            .collect();
        Self {
            users,
            index,
            skipped: 0,
        }
    }

    /// Returns the ids of the users read.
    fn ids(&self) -> Vec<Uuid> {
        self.index.keys().copied().collect()
    }

    /// Returns the user with id `user`, or counts the row as skipped when it was not read.
    fn owner(&mut self, user: Uuid) -> Option<&mut ActualUser> {
        let owner = self.index.get(&user).and_then(|at| self.users.get_mut(*at));
        if owner.is_none() {
            self.skipped += 1;
        }
        owner
    }

    /// Orders each user's emails and links by id; returns the users and the skipped count.
    fn finish(mut self) -> (Vec<ActualUser>, usize) {
        for user in &mut self.users {
            user.emails.sort_unstable_by_key(|email| email.id);
            user.upstream_links.sort_unstable_by_key(|link| link.id);
        }
        (self.users, self.skipped)
    }
}

/// Builds a user (without child rows) from its `users` row.
fn user(row: queries::UserRow) -> ActualUser {
    let (id, username, created_at, locked_at, deactivated_at, can_request_admin) = row;
    ActualUser {
        id: UserId(ids::from_uuid(id)),
        // Rows written by MAS or other tools may break the manifest's rules; they must still load.
        username: Username::from_database(username),
        created_at,
        locked_at,
        deactivated_at,
        can_request_admin,
        emails: Vec::new(),
        password: None,
        upstream_links: Vec::new(),
    }
}

/// Builds a token from its `user_registration_tokens` row.
fn token(row: queries::TokenRow) -> ActualToken {
    let (id, token, usage_limit, expires_at, revoked_at) = row;
    ActualToken {
        id: ids::from_uuid(id),
        token,
        usage_limit,
        expires_at,
        revoked_at,
    }
}

/// Builds a provider from its `upstream_oauth_providers` row.
fn provider(row: queries::ProviderRow) -> ActualProvider {
    let (id, name, enabled) = row;
    ActualProvider {
        id: ProviderId(ids::from_uuid(id)),
        name,
        enabled,
    }
}
