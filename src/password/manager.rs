//! [`PasswordManager`]: MAS's versioned password schemes behind one value.

use rand::RngCore;

use super::hasher::{self, SALT_LEN};
use super::scheme::PasswordScheme;
use super::{complexity, PasswordError};
use crate::model::Secret;

/// A new password hash and the scheme version that produced it, ready for
/// `user_passwords(hashed_password, version)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedPassword {
    /// The version of the scheme that hashed it (the highest configured one).
    pub version: u16,
    /// The hash string, in the format MAS writes for that scheme.
    pub hash: Secret,
}

/// MAS's `passwords` config section turned into hashing and verification.
///
/// The schemes are kept sorted by version, highest first: the first one hashes new passwords,
/// every one can verify the hashes it produced. A disabled manager refuses every operation
/// with [`PasswordError::Disabled`], as MAS does when `passwords.enabled` is false.
#[derive(Debug, Clone)]
pub struct PasswordManager {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Disabled,
    Enabled {
        minimum_complexity: u8,
        /// Non-empty, sorted by version descending, versions unique.
        schemes: Vec<PasswordScheme>,
    },
}

impl PasswordManager {
    /// Returns the manager for MAS's `passwords` section.
    ///
    /// When `enabled` is false the schemes are ignored (MAS does not check them either).
    ///
    /// # Errors
    /// [`PasswordError::NoSchemes`] if enabled without schemes, and
    /// [`PasswordError::DuplicateVersion`] if two schemes share a version.
    pub fn new(
        enabled: bool,
        minimum_complexity: u8,
        mut schemes: Vec<PasswordScheme>,
    ) -> Result<Self, PasswordError> {
        if !enabled {
            return Ok(Self {
                state: State::Disabled,
            });
        }
        schemes.sort_by_key(|scheme| std::cmp::Reverse(scheme.version));
        if let Some(pair) = schemes
            .windows(2)
            .find(|pair| pair[0].version == pair[1].version)
        {
            return Err(PasswordError::DuplicateVersion(pair[0].version));
        }
        if schemes.is_empty() {
            return Err(PasswordError::NoSchemes);
        }
        Ok(Self {
            state: State::Enabled {
                minimum_complexity,
                schemes,
            },
        })
    }

    /// Returns whether passwords are enabled.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        matches!(self.state, State::Enabled { .. })
    }

    /// Returns the version new passwords are hashed with (the highest one).
    ///
    /// # Errors
    /// [`PasswordError::Disabled`] if passwords are disabled.
    pub fn current_version(&self) -> Result<u16, PasswordError> {
        self.current_scheme().map(|scheme| scheme.version)
    }

    /// Hashes `password` with the highest-version scheme, drawing the salt from `rng`.
    ///
    /// The RNG is consumed exactly as MAS consumes it, so a seeded RNG gives MAS's hash.
    ///
    /// # Errors
    /// [`PasswordError::Disabled`], or [`PasswordError::Hashing`] if the scheme cannot hash
    /// (a bcrypt cost outside 4..=31).
    pub fn hash(
        &self,
        password: &Secret,
        rng: &mut (impl RngCore + ?Sized),
    ) -> Result<HashedPassword, PasswordError> {
        let scheme = self.current_scheme()?;
        let salt = hasher::draw_salt(scheme.algorithm, rng);
        self.hash_with_salt(password, &salt)
    }

    /// Hashes `password` with the highest-version scheme and a salt drawn beforehand.
    pub(super) fn hash_with_salt(
        &self,
        password: &Secret,
        salt: &[u8; SALT_LEN],
    ) -> Result<HashedPassword, PasswordError> {
        let scheme = self.current_scheme()?;
        let hash = hasher::hash(scheme, password, salt)?;
        Ok(HashedPassword {
            version: scheme.version,
            hash,
        })
    }

    /// Returns whether `password` matches `hashed`, a hash stored with scheme `version`
    /// (`user_passwords.version`, an `integer` column, hence `i32`).
    ///
    /// # Errors
    /// [`PasswordError::Disabled`], [`PasswordError::SchemeNotFound`] if no configured
    /// scheme has that version (MAS then refuses the login), and
    /// [`PasswordError::MalformedHash`] if `hashed` is not a hash of that scheme's algorithm.
    pub fn verify(
        &self,
        password: &Secret,
        version: i32,
        hashed: &Secret,
    ) -> Result<bool, PasswordError> {
        let State::Enabled { schemes, .. } = &self.state else {
            return Err(PasswordError::Disabled);
        };
        let scheme = schemes
            .iter()
            .find(|scheme| i32::from(scheme.version) == version)
            .ok_or(PasswordError::SchemeNotFound(version))?;
        hasher::verify(scheme, password, hashed)
    }

    /// Returns whether `password` reaches `passwords.minimum_complexity` (zxcvbn score).
    ///
    /// # Errors
    /// [`PasswordError::Disabled`], as in MAS, even though no scheme is involved.
    pub fn is_strong_enough(&self, password: &Secret) -> Result<bool, PasswordError> {
        let State::Enabled {
            minimum_complexity, ..
        } = &self.state
        else {
            return Err(PasswordError::Disabled);
        };
        Ok(complexity::score(password.expose()) >= *minimum_complexity)
    }

    /// Returns the scheme that hashes new passwords.
    pub(super) fn current_scheme(&self) -> Result<&PasswordScheme, PasswordError> {
        match &self.state {
            State::Disabled => Err(PasswordError::Disabled),
            State::Enabled { schemes, .. } => schemes.first().ok_or(PasswordError::NoSchemes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Algorithm;

    fn scheme(version: u16, algorithm: Algorithm) -> PasswordScheme {
        PasswordScheme {
            version,
            algorithm,
            unicode_normalization: false,
            cost: 4,
            pepper: None,
        }
    }

    fn secret(value: &str) -> Secret {
        Secret::new(value)
    }

    #[test]
    fn refuses_inconsistent_scheme_lists() {
        assert_eq!(
            PasswordManager::new(true, 3, Vec::new()).unwrap_err(),
            PasswordError::NoSchemes
        );
        let duplicated = vec![
            scheme(2, Algorithm::Bcrypt),
            scheme(1, Algorithm::Argon2id),
            scheme(2, Algorithm::Pbkdf2),
        ];
        assert_eq!(
            PasswordManager::new(true, 3, duplicated).unwrap_err(),
            PasswordError::DuplicateVersion(2)
        );
    }

    #[test]
    fn complexity_is_compared_with_the_minimum() {
        let at = |minimum| {
            PasswordManager::new(true, minimum, vec![scheme(1, Algorithm::Bcrypt)]).unwrap()
        };
        let strong_enough =
            |minimum, password: &str| at(minimum).is_strong_enough(&secret(password)).unwrap();
        // zxcvbn 3.1.1 scores: "password" 0, "Tr0ub4dour&3" 2, "kitten-piano" 3, the passphrase 4.
        assert!(!strong_enough(3, "password"));
        assert!(!strong_enough(3, "Tr0ub4dour&3"));
        assert!(strong_enough(3, "kitten-piano"));
        assert!(!strong_enough(4, "kitten-piano"));
        assert!(strong_enough(4, "correct-horse-battery-staple-lamp"));
        assert!(strong_enough(0, ""));
        // MAS does not range-check the minimum: above 4 nothing passes.
        assert!(!strong_enough(5, "correct-horse-battery-staple-lamp"));
    }
}
