//! One scheme applied to one password: input preparation, salt drawing and dispatch to the
//! algorithm modules.
//!
//! MAS's order of operations (mas-facts §6) is fixed here, in one place: NFKC normalisation
//! first (if the scheme asks for it), then the pepper, which bcrypt and PBKDF2 append to the
//! password bytes while Argon2id takes it as its secret key input. Every intermediate buffer
//! holding the password is zeroed on drop.

use rand::{Rng, RngCore};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::scheme::{Algorithm, PasswordScheme};
use super::{argon2id, bcrypt, pbkdf2, PasswordError};
use crate::model::Secret;

/// The salt length every MAS scheme uses, in bytes.
pub(super) const SALT_LEN: usize = 16;

/// A failure inside an algorithm module, before the scheme version is attached.
///
/// The strings are written by this crate (never copied from the input), so they cannot leak
/// the password, the pepper or the hash.
#[derive(Debug)]
pub(super) enum Failure {
    /// Producing a new hash failed.
    Hashing(String),
    /// The stored hash cannot be parsed or used.
    Malformed(String),
}

impl Failure {
    fn into_error(self, version: u16) -> PasswordError {
        match self {
            Self::Hashing(reason) => PasswordError::Hashing { version, reason },
            Self::Malformed(reason) => PasswordError::MalformedHash { version, reason },
        }
    }
}

/// Draws a salt for `algorithm` from `rng`, consuming the RNG exactly as MAS does.
///
/// MAS fills a 16-byte buffer for Argon2id and PBKDF2 (`SaltString::generate`) but samples a
/// `[u8; 16]` for bcrypt, which rand 0.8 builds from the low byte of sixteen `u32` draws. Doing
/// the same makes a seeded RNG reproduce MAS's own snapshot hashes exactly.
pub(super) fn draw_salt(algorithm: Algorithm, rng: &mut (impl RngCore + ?Sized)) -> [u8; SALT_LEN] {
    match algorithm {
        Algorithm::Bcrypt => rng.gen(),
        Algorithm::Argon2id | Algorithm::Pbkdf2 => {
            let mut salt = [0; SALT_LEN];
            rng.fill_bytes(&mut salt);
            salt
        }
    }
}

/// Hashes `password` with `scheme` and the given salt.
pub(super) fn hash(
    scheme: &PasswordScheme,
    password: &Secret,
    salt: &[u8; SALT_LEN],
) -> Result<Secret, PasswordError> {
    let pepper = scheme
        .pepper
        .as_ref()
        .map(crate::model::SecretBytes::expose);
    let hashed = match scheme.algorithm {
        Algorithm::Argon2id => argon2id::hash(&normalised(scheme, password), pepper, salt),
        Algorithm::Bcrypt => bcrypt::hash(&peppered(scheme, password), scheme.cost, *salt),
        Algorithm::Pbkdf2 => pbkdf2::hash(&peppered(scheme, password), salt),
    };
    hashed
        .map(Secret::new)
        .map_err(|failure| failure.into_error(scheme.version))
}

/// Checks `password` against a hash produced by `scheme`.
pub(super) fn verify(
    scheme: &PasswordScheme,
    password: &Secret,
    hashed: &Secret,
) -> Result<bool, PasswordError> {
    let pepper = scheme
        .pepper
        .as_ref()
        .map(crate::model::SecretBytes::expose);
    let hashed = hashed.expose();
    let matches = match scheme.algorithm {
        Algorithm::Argon2id => argon2id::verify(&normalised(scheme, password), pepper, hashed),
        Algorithm::Bcrypt => bcrypt::verify(&peppered(scheme, password), hashed),
        Algorithm::Pbkdf2 => pbkdf2::verify(&peppered(scheme, password), hashed),
    };
    matches.map_err(|failure| failure.into_error(scheme.version))
}

/// Returns the password bytes, NFKC-normalised if the scheme asks for it.
fn normalised(scheme: &PasswordScheme, password: &Secret) -> Zeroizing<Vec<u8>> {
    if scheme.unicode_normalization {
        // Reserve up front so that growing the buffer does not leave unzeroed copies behind
        // (NFKC rarely expands text by more than a factor of three).
        let mut text = Zeroizing::new(String::with_capacity(password.expose().len() * 3));
        text.extend(password.expose().nfkc());
        Zeroizing::new(text.as_bytes().to_vec())
    } else {
        Zeroizing::new(password.expose().as_bytes().to_vec())
    }
}

/// Returns the normalised password bytes followed by the pepper bytes (bcrypt and PBKDF2).
fn peppered(scheme: &PasswordScheme, password: &Secret) -> Zeroizing<Vec<u8>> {
    let text = normalised(scheme, password);
    let pepper = scheme
        .pepper
        .as_ref()
        .map_or(&[][..], crate::model::SecretBytes::expose);
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() + pepper.len()));
    bytes.extend_from_slice(&text);
    bytes.extend_from_slice(pepper);
    bytes
}
