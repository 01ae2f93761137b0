//! Newtypes shared by every layer: usernames, emails, ids and secrets.
//!
//! Values of these types are valid by construction (R4, "parse, don't validate"): once
//! `manifest::load` or the snapshot reader has produced one, no later stage re-checks it.
//! This module does no I/O and knows nothing about YAML, SQL or the CLI.

mod origin;
mod secret;
pub mod state;

pub use origin::{Origin, SourceFile};
pub use secret::{Secret, SecretBytes};

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// A MAS username: the localpart of a Matrix ID, stored verbatim in `users.username`.
///
/// The accepted alphabet is the one MAS's admin API enforces (`[a-z0-9=_\-./+]`, not starting
/// with `_`, 1–255 bytes), widened by upper-case ASCII so that historical Synapse accounts imported
/// by syn2mas can be managed. MAS compares usernames case-insensitively, so equality for lookups
/// goes through [`Username::folded`]; the stored spelling is never changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// Why a string is not a valid [`Username`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// The string is empty.
    #[error("a username cannot be empty")]
    Empty,
    /// The string is longer than 255 bytes.
    #[error("a username is at most 255 bytes long, this one has {0}")]
    TooLong(usize),
    /// The string starts with `_`, which Matrix reserves for application services.
    #[error("a username cannot start with `_` (reserved for application services)")]
    LeadingUnderscore,
    /// The string holds a character outside the localpart alphabet.
    #[error("`{0}` is not allowed in a username (allowed: a-z, A-Z, 0-9 and . _ = - / +)")]
    InvalidCharacter(char),
}

impl Username {
    /// Longest localpart MAS's admin API accepts, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Returns the username if `value` is a valid localpart.
    ///
    /// # Errors
    /// Returns the first rule `value` breaks.
    pub fn new(value: impl Into<String>) -> Result<Self, UsernameError> {
        let value = value.into();
        if value.is_empty() {
            return Err(UsernameError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(UsernameError::TooLong(value.len()));
        }
        if value.starts_with('_') {
            return Err(UsernameError::LeadingUnderscore);
        }
        if let Some(bad) = value.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '=' | '-' | '/' | '+'))
        }) {
            return Err(UsernameError::InvalidCharacter(bad));
        }
        Ok(Self(value))
    }

    /// Wraps a username read from MAS's database without checking it.
    ///
    /// MAS itself accepts anything the homeserver accepted, so rows written by other tools may
    /// hold characters a manifest may not; they must still be representable.
    #[must_use]
    pub fn from_database(value: String) -> Self {
        Self(value)
    }

    /// Returns the username as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the case-folded form MAS uses for lookups (`LOWER(username)`).
    #[must_use]
    pub fn folded(&self) -> String {
        fold_case(&self.0)
    }

    /// Like [`Username::folded`], without copying a name that is already lower case.
    #[must_use]
    pub fn folded_cow(&self) -> Cow<'_, str> {
        fold_case_cow(&self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-cases a string the way PostgreSQL's `LOWER()` does for the ASCII range MAS data uses.
///
/// Usernames are ASCII; emails may hold non-ASCII, for which Unicode lower-casing matches
/// PostgreSQL's behaviour under a UTF-8 database closely enough for duplicate detection.
#[must_use]
pub fn fold_case(value: &str) -> String {
    value.to_lowercase()
}

/// Like [`fold_case`], borrowing `value` when folding would not change it.
///
/// Nearly every username and address is lower-case ASCII already; the planner and the manifest
/// loader fold hundreds of thousands of them per run, and skipping the copy is most of the cost.
#[must_use]
pub fn fold_case_cow(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .any(|byte| byte.is_ascii_uppercase() || !byte.is_ascii())
    {
        Cow::Owned(value.to_lowercase())
    } else {
        Cow::Borrowed(value)
    }
}

/// An email address, validated like MAS's `lettre::Address` and stored verbatim.
///
/// Comparison with database rows is case-insensitive ([`EmailAddress::folded`]), as MAS's is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Wraps an address that the manifest layer has already validated.
    ///
    /// Validation lives with the parser that can point at the offending node; this constructor
    /// is for that parser and for rows read from the database.
    #[must_use]
    pub fn new_unchecked(value: String) -> Self {
        Self(value)
    }

    /// Returns the address as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the case-folded form used for comparisons (`LOWER(email)`).
    #[must_use]
    pub fn folded(&self) -> String {
        fold_case(&self.0)
    }

    /// Like [`EmailAddress::folded`], without copying an address that is already lower case.
    #[must_use]
    pub fn folded_cow(&self) -> Cow<'_, str> {
        fold_case_cow(&self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of a MAS user: a ULID stored in `users.user_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Ulid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of an upstream OAuth provider: the `id:` ULID of its entry in MAS's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(pub Ulid);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a user may log in, as the manifest's `state` key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// `locked_at` and `deactivated_at` are both NULL.
    #[default]
    Active,
    /// `locked_at` is set and `deactivated_at` is NULL: reversible, sessions survive.
    Locked,
    /// `deactivated_at` is set: sessions ended, emails removed by MAS's worker.
    Deactivated,
}

/// When masctl writes a password the manifest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordPolicy {
    /// Set the password only when the user has none, then leave it to the user.
    #[default]
    Initial,
    /// Keep the user's current password equal to the manifest's.
    Enforce,
}

/// Whether a registration token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// `revoked_at` is NULL.
    #[default]
    Active,
    /// `revoked_at` is set.
    Revoked,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_localpart_alphabet() {
        assert!(Username::new("alice.smith=1/+-").is_ok());
        assert!(Username::new("Alice").is_ok());
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(Username::new("_bot"), Err(UsernameError::LeadingUnderscore));
        assert_eq!(
            Username::new("a:b"),
            Err(UsernameError::InvalidCharacter(':'))
        );
        assert_eq!(
            Username::new("é"),
            Err(UsernameError::InvalidCharacter('é'))
        );
        assert_eq!(
            Username::new("a".repeat(256)),
            Err(UsernameError::TooLong(256))
        );
        assert!(Username::new("a".repeat(255)).is_ok());
    }

    #[test]
    fn folding_is_case_insensitive() {
        let name = Username::new("Alice").expect("valid");
        assert_eq!(name.folded(), "alice");
        assert_eq!(name.as_str(), "Alice");
    }

    #[test]
    fn borrowed_folding_agrees_with_folding_and_copies_only_when_it_must() {
        for value in [
            "alice",
            "Alice",
            "bücher@example.org",
            "BÜCHER",
            "ǅ",
            "a.b=c/d+e-f",
            "",
        ] {
            assert_eq!(fold_case_cow(value), fold_case(value), "{value}");
        }
        assert!(matches!(
            fold_case_cow("alice@example.org"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(fold_case_cow("Alice"), Cow::Owned(_)));
    }

    proptest::proptest! {
        #[test]
        fn borrowed_folding_agrees_with_folding_on_any_text(value in ".*") {
            proptest::prop_assert_eq!(fold_case_cow(&value), fold_case(&value));
        }
    }
}
