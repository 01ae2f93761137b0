//! The two inputs of the planner: what the manifest wants and what MAS's database holds.
//!
//! [`DesiredState`] is built only by `manifest::load`; [`ActualState`] only by `snapshot::read`.
//! Both keep a stable order (manifest order, or username / token order from the database) so that
//! plans are deterministic.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Serialize;
use ulid::Ulid;

use super::{
    EmailAddress, Origin, PasswordPolicy, ProviderId, Secret, TokenState, UserId, UserState,
    Username,
};

/// Everything a set of manifest files asks for.
#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    /// Users in manifest order, keyed by username.
    pub users: IndexMap<Username, DesiredUser>,
    /// Registration tokens in manifest order, keyed by the token string.
    pub registration_tokens: IndexMap<String, DesiredToken>,
    /// What to do with users and tokens the manifest does not list.
    pub prune: Prune,
    /// Limits on destructive changes in one apply.
    pub guards: Guards,
}

impl DesiredState {
    /// Keeps only the named users (matched case-insensitively) and tokens, and turns pruning
    /// off: a targeted plan never touches what it was not pointed at.
    pub fn retain_targets(&mut self, users: &[&str], tokens: &[&str]) {
        let folded: Vec<String> = users.iter().map(|name| super::fold_case(name)).collect();
        self.users.retain(|name, _| folded.contains(&name.folded()));
        self.registration_tokens
            .retain(|token, _| tokens.contains(&token.as_str()));
        self.prune = Prune::default();
    }
}

/// One user as the manifest describes it.
///
/// `None` in an optional field means "the key is absent: leave it alone" (SPEC §2).
#[derive(Debug, Clone)]
pub struct DesiredUser {
    /// `users.can_request_admin`; always enforced.
    pub admin: bool,
    /// Active, locked or deactivated; always enforced.
    pub state: UserState,
    /// The exact set of email addresses, if managed.
    pub emails: Option<Vec<EmailAddress>>,
    /// Where the password comes from, if managed.
    pub password: Option<Box<DesiredPassword>>,
    /// Whether the password is set once or kept equal.
    pub password_policy: PasswordPolicy,
    /// The display name on the homeserver, if managed.
    pub display_name: Option<String>,
    /// The exact set of upstream OAuth links, if managed.
    pub upstream: Option<Vec<DesiredLink>>,
    /// The user's key in the manifest.
    pub origin: Origin,
}

/// A password the manifest asks for, with where it was written.
#[derive(Debug, Clone)]
pub struct DesiredPassword {
    /// Where the value comes from.
    pub source: PasswordSource,
    /// The `password:` node, for errors found when the source is resolved.
    pub origin: Origin,
}

/// Where a manifest password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The plaintext is in this environment variable (resolved at plan time, not validate time).
    Env(String),
    /// The plaintext is the content of this file, without one trailing newline. The path is
    /// already resolved against the directory of the manifest file that names it.
    File(PathBuf),
    /// The plaintext is written in the manifest itself (only with `--allow-plaintext-passwords`).
    Literal(Secret),
    /// A ready-made hash, written to `user_passwords` as is.
    Hash {
        /// The PHC (or bcrypt) string.
        hash: Secret,
        /// The `passwords.schemes[].version` that produced it.
        version: u16,
    },
}

/// An upstream OAuth link the manifest asks for.
#[derive(Debug, Clone)]
pub struct DesiredLink {
    /// The provider's ULID (its `id:` in MAS's config).
    pub provider: ProviderId,
    /// The subject the provider sends for this user, compared exactly.
    pub subject: String,
    /// The link's node, for "unknown provider" errors found at plan time.
    pub origin: Origin,
}

/// One registration token as the manifest describes it.
#[derive(Debug, Clone)]
pub struct DesiredToken {
    /// How many registrations it allows; `None` = unlimited.
    pub usage_limit: Option<u32>,
    /// When it stops working; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Active or revoked.
    pub state: TokenState,
    /// The token's node.
    pub origin: Origin,
}

/// What to do with objects in the database that no manifest lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Prune {
    /// Unlisted users.
    pub users: PruneUsers,
    /// Unlisted registration tokens.
    pub registration_tokens: PruneTokens,
}

/// What happens to users the manifest does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneUsers {
    /// Leave them alone.
    #[default]
    Ignore,
    /// Lock them.
    Lock,
    /// Deactivate them.
    Deactivate,
}

/// What happens to registration tokens the manifest does not list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PruneTokens {
    /// Leave them alone.
    #[default]
    Ignore,
    /// Revoke them.
    Revoke,
}

/// Limits that refuse an apply doing too much damage at once; `None` = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Guards {
    /// Most users one apply may deactivate.
    pub max_deactivations: Option<u32>,
    /// Most users one apply may lock.
    pub max_locks: Option<u32>,
    /// Most destructive changes one apply may make, as a percentage of managed objects.
    pub max_destructive_percent: Option<u8>,
}

/// What MAS's database holds, as far as masctl manages it.
///
/// Volatile columns that no plan depends on (`times_used`, `last_used_at`, session activity)
/// are deliberately left out, so that the fingerprint of a snapshot changes only when a
/// plan computed from it could.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActualState {
    /// Users ordered by `username`.
    pub users: Vec<ActualUser>,
    /// Registration tokens ordered by `token`.
    pub registration_tokens: Vec<ActualToken>,
    /// Upstream OAuth providers ordered by id, disabled ones included.
    pub providers: Vec<ActualProvider>,
}

/// One row of `users` with the rows hanging off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualUser {
    /// `users.user_id`.
    pub id: UserId,
    /// `users.username`, verbatim.
    pub username: Username,
    /// `users.created_at`.
    pub created_at: DateTime<Utc>,
    /// `users.locked_at`.
    pub locked_at: Option<DateTime<Utc>>,
    /// `users.deactivated_at`.
    pub deactivated_at: Option<DateTime<Utc>>,
    /// `users.can_request_admin`.
    pub can_request_admin: bool,
    /// `user_emails` rows, ordered by creation (id).
    pub emails: Vec<ActualEmail>,
    /// The current password: the `user_passwords` row with the latest `created_at`.
    pub password: Option<Box<ActualPassword>>,
    /// `upstream_oauth_links` rows owned by the user, ordered by id.
    pub upstream_links: Vec<ActualLink>,
}

/// One row of `user_emails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualEmail {
    /// `user_email_id`.
    pub id: Ulid,
    /// `email`, verbatim.
    pub email: EmailAddress,
}

/// The current `user_passwords` row of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualPassword {
    /// `user_password_id`.
    pub id: Ulid,
    /// `hashed_password`: never printed.
    pub hashed_password: Secret,
    /// `version`: the hashing scheme that produced it.
    pub version: i32,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
}

/// One row of `upstream_oauth_links` with a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualLink {
    /// `upstream_oauth_link_id`.
    pub id: Ulid,
    /// `upstream_oauth_provider_id`.
    pub provider: ProviderId,
    /// `subject`.
    pub subject: String,
}

/// One row of `user_registration_tokens`, without its usage counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualToken {
    /// `user_registration_token_id`.
    pub id: Ulid,
    /// `token`, case-sensitive.
    pub token: String,
    /// `usage_limit`; `None` = unlimited.
    pub usage_limit: Option<i32>,
    /// `expires_at`.
    pub expires_at: Option<DateTime<Utc>>,
    /// `revoked_at`.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One row of `upstream_oauth_providers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActualProvider {
    /// `upstream_oauth_provider_id`.
    pub id: ProviderId,
    /// `human_name`, else `issuer`, for messages.
    pub name: Option<String>,
    /// `disabled_at IS NULL`.
    pub enabled: bool,
}

impl ActualUser {
    /// Returns the user's state as the manifest would spell it.
    #[must_use]
    pub fn state(&self) -> UserState {
        if self.deactivated_at.is_some() {
            UserState::Deactivated
        } else if self.locked_at.is_some() {
            UserState::Locked
        } else {
            UserState::Active
        }
    }
}
