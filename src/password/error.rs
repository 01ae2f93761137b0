//! The one error type of the password module.
//!
//! Messages name the scheme version involved but never the password, the pepper or the
//! stored hash: callers may print these errors, log them or put them in a plan.

/// Why a password operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// `passwords.enabled` is false in MAS's config: MAS refuses every password operation.
    #[error("Password manager is disabled")]
    Disabled,
    /// Passwords are enabled but `passwords.schemes` is empty.
    #[error("no password scheme is configured: `passwords.schemes` is empty while passwords are enabled")]
    NoSchemes,
    /// Two entries of `passwords.schemes` share a version number.
    #[error("Multiple password schemes have the same versions: version {0} appears more than once in `passwords.schemes`")]
    DuplicateVersion(u16),
    /// A stored hash carries a version that no configured scheme has, so MAS cannot verify it.
    #[error("Hashing scheme not found: no entry of `passwords.schemes` has version {0}")]
    SchemeNotFound(i32),
    /// Hashing a new password failed (for example a bcrypt cost outside 4..=31).
    #[error("cannot hash with password scheme version {version}: {reason}")]
    Hashing {
        /// The scheme that was asked to hash.
        version: u16,
        /// What went wrong; never contains secret material.
        reason: String,
    },
    /// A stored hash cannot be parsed by the algorithm its version's scheme uses.
    #[error("the stored hash for password scheme version {version} is malformed: {reason}")]
    MalformedHash {
        /// The scheme the hash was checked with.
        version: u16,
        /// What is wrong with it; never contains the hash or a part of it.
        reason: String,
    },
}
