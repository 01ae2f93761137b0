//! The typed changes a plan is made of: one variant per operation on MAS's database.
//!
//! Each variant carries what the applier needs and what a reader wants to see, and nothing
//! secret. The applier maps each variant to the rows (and MAS queue jobs) that MAS itself would
//! write for the same operation (mas-facts §4, §5).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::model::{EmailAddress, ProviderId, UserId, UserState};

/// An existing user, by id (what the applier uses) and name (what the reader sees).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// `users.user_id`.
    pub id: UserId,
    /// `users.username`, verbatim.
    pub username: String,
}

/// One operation on the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// Register a user with all of its attributes, and schedule its `provision-user` job.
    CreateUser(NewUser),
    /// Set `users.can_request_admin`.
    SetAdmin {
        /// The user.
        user: UserRef,
        /// The new value.
        admin: bool,
    },
    /// Lock the user (`locked_at = now`).
    LockUser {
        /// The user.
        user: UserRef,
    },
    /// Unlock the user (`locked_at = NULL`).
    UnlockUser {
        /// The user.
        user: UserRef,
    },
    /// Deactivate the user (`deactivated_at = now`) and schedule MAS's `deactivate-user` job.
    DeactivateUser {
        /// The user.
        user: UserRef,
    },
    /// Reactivate the user (`deactivated_at = NULL`) and schedule MAS's `reactivate-user` job.
    ReactivateUser {
        /// The user.
        user: UserRef,
    },
    /// Add a `user_emails` row.
    AddEmail {
        /// The user.
        user: UserRef,
        /// The address, verbatim.
        email: EmailAddress,
    },
    /// Delete a `user_emails` row.
    RemoveEmail {
        /// The user.
        user: UserRef,
        /// `user_email_id` of the row.
        email_id: Ulid,
        /// The address, for the reader.
        email: EmailAddress,
    },
    /// Add a `user_passwords` row, which becomes the current password.
    SetPassword {
        /// The user.
        user: UserRef,
        /// Where the new password comes from.
        password: PasswordWrite,
    },
    /// Link an upstream OAuth account to the user.
    LinkUpstream {
        /// The user.
        user: UserRef,
        /// The provider.
        provider: ProviderId,
        /// The subject at that provider.
        subject: String,
    },
    /// Remove an upstream OAuth link the MAS way.
    UnlinkUpstream {
        /// The user.
        user: UserRef,
        /// `upstream_oauth_link_id`.
        link_id: Ulid,
        /// The provider, for the reader.
        provider: ProviderId,
        /// The subject, for the reader.
        subject: String,
    },
    /// Schedule one `provision-user` job, which pushes the user's state to the homeserver.
    ProvisionUser {
        /// The user.
        user: UserRef,
        /// A display name to set on the homeserver, if it changes.
        set_display_name: Option<String>,
    },
    /// Create a registration token.
    CreateToken(NewToken),
    /// Change a token's usage limit or expiry.
    UpdateToken {
        /// `user_registration_token_id`.
        id: Ulid,
        /// The token string.
        token: String,
        /// The new usage limit (`None` = unlimited).
        usage_limit: Option<u32>,
        /// The new expiry (`None` = never).
        expires_at: Option<DateTime<Utc>>,
    },
    /// Revoke a token (`revoked_at = now`).
    RevokeToken {
        /// `user_registration_token_id`.
        id: Ulid,
        /// The token string.
        token: String,
    },
    /// Un-revoke a token (`revoked_at = NULL`).
    UnrevokeToken {
        /// `user_registration_token_id`.
        id: Ulid,
        /// The token string.
        token: String,
    },
    /// Schedule MAS's `deactivate-user` job (`hs_erase: false`) without touching the row, as
    /// `mas-cli manage lock-user --deactivate` does: the worker sets `deactivated_at`, ends the
    /// sessions and deletes the emails.
    ScheduleDeactivation {
        /// The user.
        user: UserRef,
    },
    /// Schedule MAS's `reactivate-user` job without touching the row, as `mas-cli manage
    /// unlock-user --reactivate` does: the worker clears `deactivated_at` (never `locked_at`).
    ScheduleReactivation {
        /// The user.
        user: UserRef,
    },
    /// End the user's active compat, OAuth 2.0 and browser sessions (`finished_at = now`), as
    /// kill-sessions does; personal sessions are left alone.
    FinishSessions {
        /// The user.
        user: UserRef,
        /// Active `compat_sessions` when the plan was made (for the reader).
        compat: u64,
        /// Active `oauth2_sessions` when the plan was made (for the reader).
        oauth2: u64,
        /// Active `user_sessions` when the plan was made (for the reader).
        browser: u64,
    },
    /// Create a compat session on `device_id` with a never-expiring access token.
    ///
    /// The token is generated by the applier and handed back in its report; it is never part
    /// of a plan. The device must already exist on the homeserver.
    IssueCompatToken {
        /// The user.
        user: UserRef,
        /// The Matrix device id, verbatim.
        device_id: String,
        /// `compat_sessions.is_synapse_admin`.
        synapse_admin: bool,
    },
    /// Schedule one `provision-user` job (no display name) for every user in the database.
    ProvisionAllUsers {
        /// How many users there were when the plan was made.
        count: u64,
    },
    /// Schedule MAS's `sync-devices` job, which sends the user's device list to the homeserver.
    SyncDevices {
        /// The user.
        user: UserRef,
    },
}

/// A user to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// The username, verbatim.
    pub username: String,
    /// `can_request_admin`.
    pub admin: bool,
    /// Whether it is created locked or deactivated.
    pub state: UserState,
    /// Email addresses to add.
    pub emails: Vec<EmailAddress>,
    /// The initial password, if any.
    pub password: Option<PasswordWrite>,
    /// Upstream links to create.
    pub upstream: Vec<(ProviderId, String)>,
    /// Display name for the `provision-user` job.
    pub display_name: Option<String>,
}

/// A registration token to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// The token string, case-sensitive.
    pub token: String,
    /// `None` = unlimited.
    pub usage_limit: Option<u32>,
    /// `None` = never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Created already revoked.
    pub revoked: bool,
}

/// A password to write, named by its origin; the value itself is resolved by the applier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordWrite {
    /// Where the password comes from.
    pub source: PasswordWriteSource,
}

/// Where a password to write comes from, without the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum PasswordWriteSource {
    /// An environment variable.
    Env {
        /// Its name.
        name: String,
    },
    /// A file.
    File {
        /// Its path.
        path: PathBuf,
    },
    /// A ready-made hash from the manifest.
    Hash {
        /// The scheme version it was made with.
        version: u16,
    },
    /// A literal in the manifest (only with `--allow-plaintext-passwords`).
    Literal,
    /// Given on the command line (`manage set-password`, `manage register-user`).
    CommandLine,
}

/// The object key of [`Change::ProvisionAllUsers`], which concerns every user at once.
pub const ALL_USERS_KEY: &str = "users:all";

impl Change {
    /// Returns a key naming the object the change belongs to (`user:alice`, `token:welcome`,
    /// or [`ALL_USERS_KEY`]).
    #[must_use]
    pub fn object_key(&self) -> String {
        match self {
            Self::CreateUser(new) => format!("user:{}", new.username),
            Self::CreateToken(new) => format!("token:{}", new.token),
            Self::UpdateToken { token, .. }
            | Self::RevokeToken { token, .. }
            | Self::UnrevokeToken { token, .. } => format!("token:{token}"),
            Self::SetAdmin { user, .. }
            | Self::LockUser { user }
            | Self::UnlockUser { user }
            | Self::DeactivateUser { user }
            | Self::ReactivateUser { user }
            | Self::AddEmail { user, .. }
            | Self::RemoveEmail { user, .. }
            | Self::SetPassword { user, .. }
            | Self::LinkUpstream { user, .. }
            | Self::UnlinkUpstream { user, .. }
            | Self::ProvisionUser { user, .. }
            | Self::ScheduleDeactivation { user }
            | Self::ScheduleReactivation { user }
            | Self::FinishSessions { user, .. }
            | Self::IssueCompatToken { user, .. }
            | Self::SyncDevices { user } => format!("user:{}", user.username),
            Self::ProvisionAllUsers { .. } => ALL_USERS_KEY.to_owned(),
        }
    }

    /// Returns whether the change takes something away (what guards count).
    #[must_use]
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Self::LockUser { .. }
                | Self::DeactivateUser { .. }
                | Self::ScheduleDeactivation { .. }
                | Self::FinishSessions { .. }
                | Self::SetAdmin { admin: false, .. }
                | Self::RemoveEmail { .. }
                | Self::RevokeToken { .. }
                | Self::UnlinkUpstream { .. }
        )
    }
}
