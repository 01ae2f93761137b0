//! Emergency changes: what a `masctl manage` command changed behind the manifest's back, as
//! recorded in masctl's own schema (`crate::ledger`), and how a GitOps plan relates to it.
//!
//! An on-call engineer who locks an account at 3 a.m. must not see the lock silently undone by
//! the next pipeline run. Each manage command therefore leaves one [`EmergencyChange`] per field
//! it changed (the user's state, admin flag, an email address, the password, an upstream link,
//! a registration token). The planner's caller reads the open records and [`super::assess`]es
//! them against the plan: a plan that would undo one is refused unless the operator says
//! `--revert-emergency`; a manifest that now says the same thing closes the record.
//!
//! This module holds data and pure functions only; reading and writing records is the ledger's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::model::{EmailAddress, ProviderId, UserId, UserState};

/// The object an emergency change touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmergencyObject {
    /// A user.
    User {
        /// `users.user_id`.
        id: UserId,
        /// `users.username`, for messages.
        username: String,
    },
    /// A registration token.
    RegistrationToken {
        /// `user_registration_token_id`.
        id: Ulid,
        /// The token string, for messages.
        token: String,
    },
}

impl EmergencyObject {
    /// Returns `user alice` or `token welcome`.
    #[must_use]
    pub fn title(&self) -> String {
        match self {
            Self::User { username, .. } => format!("user {username}"),
            Self::RegistrationToken { token, .. } => format!("token {token}"),
        }
    }

    /// Returns the value stored in the ledger's `object_kind` column.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User { .. } => "user",
            Self::RegistrationToken { .. } => "registration_token",
        }
    }

    /// Returns the object's database id.
    #[must_use]
    pub fn id(&self) -> Ulid {
        match self {
            Self::User { id, .. } => id.0,
            Self::RegistrationToken { id, .. } => *id,
        }
    }

    /// Returns the username or token string.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::User { username, .. } => username,
            Self::RegistrationToken { token, .. } => token,
        }
    }
}

/// The value an emergency command left one field at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum EmergencyValue {
    /// The user's state (lock-user, unlock-user, register-user).
    State {
        /// Active, locked or deactivated.
        state: UserState,
    },
    /// The admin flag (promote-admin, demote-admin, register-user).
    Admin {
        /// `can_request_admin`.
        admin: bool,
    },
    /// One email address added (add-email, register-user) or removed.
    Email {
        /// The address, verbatim.
        address: EmailAddress,
        /// Whether the command left it present.
        present: bool,
    },
    /// The password (set-password, register-user): this row became the current password.
    Password {
        /// `user_passwords.user_password_id` of the row the command wrote.
        password_id: Ulid,
    },
    /// One upstream link created (register-user) or removed.
    Upstream {
        /// The provider.
        provider: ProviderId,
        /// The subject.
        subject: String,
        /// Whether the command left the link present.
        present: bool,
    },
    /// A registration token as the command left it (issue-user-registration-token).
    Token {
        /// Whether it is revoked.
        revoked: bool,
        /// Its usage limit (`None` = unlimited).
        usage_limit: Option<u32>,
        /// Its expiry (`None` = never).
        expires_at: Option<DateTime<Utc>>,
    },
}

impl EmergencyValue {
    /// Returns the key that identifies the field within its object; a newer record for the same
    /// object and key supersedes an older one.
    #[must_use]
    pub fn field_key(&self) -> String {
        match self {
            Self::State { .. } => "state".to_owned(),
            Self::Admin { .. } => "admin".to_owned(),
            Self::Email { address, .. } => format!("email:{}", address.folded()),
            Self::Password { .. } => "password".to_owned(),
            Self::Upstream {
                provider, subject, ..
            } => format!("upstream:{provider}:{subject}"),
            Self::Token { .. } => "token".to_owned(),
        }
    }

    /// Describes the value for a reader: `state set to locked`, `email bob@example.org added`, …
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::State { state } => format!("state set to {}", state_word(*state)),
            Self::Admin { admin: true } => "admin flag set".to_owned(),
            Self::Admin { admin: false } => "admin flag removed".to_owned(),
            Self::Email { address, present } => {
                format!("email {address} {}", added_or_removed(*present))
            }
            Self::Password { .. } => "password replaced".to_owned(),
            Self::Upstream {
                provider,
                subject,
                present,
            } => format!(
                "upstream link {provider}:{subject} {}",
                added_or_removed(*present)
            ),
            Self::Token {
                revoked,
                usage_limit,
                expires_at,
            } => format!(
                "token {} (usage limit {}, expires {})",
                if *revoked { "revoked" } else { "active" },
                usage_limit.map_or_else(|| "unlimited".to_owned(), |l| l.to_string()),
                expires_at.map_or_else(|| "never".to_owned(), |t| t.to_rfc3339()),
            ),
        }
    }

    /// Returns the manifest edit that makes the change permanent, so the next apply keeps it.
    #[must_use]
    pub fn manifest_hint(&self, object: &EmergencyObject) -> String {
        let name = object.name();
        match self {
            Self::State { state } => {
                format!("set `state: {}` for user {name}", state_word(*state))
            }
            Self::Admin { admin } => format!("set `admin: {admin}` for user {name}"),
            Self::Email {
                address,
                present: true,
            } => format!("list {address} under `emails` of user {name}"),
            Self::Email {
                address,
                present: false,
            } => format!("remove {address} from `emails` of user {name}"),
            Self::Password { .. } => format!(
                "put the new password in the manifest's source for user {name} (or use `password_policy: initial`)"
            ),
            Self::Upstream {
                provider,
                subject,
                present: true,
            } => format!(
                "list `{{ provider: {provider}, subject: \"{subject}\" }}` under `upstream` of user {name}"
            ),
            Self::Upstream {
                provider,
                subject,
                present: false,
            } => format!("remove {provider}:{subject} from `upstream` of user {name}"),
            Self::Token {
                revoked,
                usage_limit,
                expires_at,
            } => {
                let mut entry = format!("{{ token: {name}");
                if let Some(limit) = usage_limit {
                    entry.push_str(&format!(", usage_limit: {limit}"));
                }
                if let Some(at) = expires_at {
                    entry.push_str(&format!(", expires_at: {}", at.to_rfc3339()));
                }
                if *revoked {
                    entry.push_str(", state: revoked");
                }
                format!("list `{entry} }}` under `registration_tokens`")
            }
        }
    }
}

fn state_word(state: UserState) -> &'static str {
    match state {
        UserState::Active => "active",
        UserState::Locked => "locked",
        UserState::Deactivated => "deactivated",
    }
}

fn added_or_removed(present: bool) -> &'static str {
    if present {
        "added"
    } else {
        "removed"
    }
}

/// One field changed by an emergency command, as `manage` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyChange {
    /// The command, as typed after `masctl` (e.g. `manage lock-user`).
    pub command: String,
    /// What it touched.
    pub object: EmergencyObject,
    /// What it left the field at.
    #[serde(flatten)]
    pub value: EmergencyValue,
}

/// An open record of an emergency change, read back from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyRecord {
    /// The record's id.
    pub id: Ulid,
    /// When the command ran.
    pub created_at: DateTime<Utc>,
    /// What it did.
    #[serde(flatten)]
    pub change: EmergencyChange,
}

impl EmergencyRecord {
    /// Returns ``user alice: state set to locked by `masctl manage lock-user` at 2026-01-01 03:12:00 UTC``.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{}: {} by `masctl {}` at {}",
            self.change.object.title(),
            self.change.value.describe(),
            self.change.command,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        )
    }
}

/// How a plan relates to an open emergency record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The plan would undo the emergency change: apply refuses without `--revert-emergency`.
    Reverts,
    /// The manifest now says the same thing: apply closes the record.
    Adopted,
    /// The database no longer holds what the command left (changed again since, by other means):
    /// apply closes the record.
    Superseded,
    /// The manifest does not manage this field (or object): the record stays open, so that a
    /// later manifest that would undo it is still caught.
    Uncovered,
}

/// How a closed record ended, as stored in the ledger's `resolution` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A manifest now says the same thing.
    Adopted,
    /// An apply with `--revert-emergency` undid it.
    Reverted,
    /// The database changed again since (or a newer emergency record replaced it).
    Superseded,
}

impl Resolution {
    /// Returns the value stored in the ledger.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Adopted => "adopted",
            Self::Reverted => "reverted",
            Self::Superseded => "superseded",
        }
    }
}

/// One open record with the plan's verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyFinding {
    /// The record.
    #[serde(flatten)]
    pub record: EmergencyRecord,
    /// What the plan does to it.
    pub verdict: Verdict,
}

/// Every open emergency record, with the plan's verdict on each, in record order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyReport {
    /// The findings.
    pub findings: Vec<EmergencyFinding>,
}

impl EmergencyReport {
    /// Returns the records the plan would undo.
    pub fn reverts(&self) -> impl Iterator<Item = &EmergencyFinding> {
        self.findings
            .iter()
            .filter(|finding| finding.verdict == Verdict::Reverts)
    }

    /// Returns whether the plan would undo any emergency change.
    #[must_use]
    pub fn has_reverts(&self) -> bool {
        self.reverts().next().is_some()
    }

    /// Returns the records an apply closes, and how: adopted and superseded ones always, the
    /// reverted ones only when reverting was allowed.
    #[must_use]
    pub fn resolutions(&self, revert_allowed: bool) -> Vec<(Ulid, Resolution)> {
        self.findings
            .iter()
            .filter_map(|finding| {
                let resolution = match finding.verdict {
                    Verdict::Adopted => Resolution::Adopted,
                    Verdict::Superseded => Resolution::Superseded,
                    Verdict::Reverts if revert_allowed => Resolution::Reverted,
                    Verdict::Reverts | Verdict::Uncovered => return None,
                };
                Some((finding.record.id, resolution))
            })
            .collect()
    }
}
