//! Argon2id as MAS uses it: the `argon2` 0.5 crate's defaults and the pepper as secret key.
//!
//! New hashes use Argon2id, version 0x13, m=19456 KiB, t=2, p=1, a 32-byte output and a
//! 16-byte salt, written as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//! The pepper is Argon2's secret input K (RFC 9106 §3.2), so it does not show in the string
//! and, unlike bcrypt and PBKDF2, is *not* appended to the password. Verification honours
//! the variant, version and parameters written in the stored string, as MAS does.

use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};

use super::hasher::{Failure, SALT_LEN};

/// The most memory a stored hash may ask for before verification refuses it, in KiB (2 GiB).
///
/// The `argon2` crate allocates `m` KiB up front, and a failed allocation aborts the process
/// instead of returning an error. MAS only ever writes m=19456; 2 GiB is the largest setting
/// RFC 9106 recommends, so a corrupt or hostile `m` is reported as malformed instead.
const MAX_VERIFY_M_COST: u32 = 2 * 1024 * 1024;

/// Returns the hasher MAS configures: library defaults, plus the pepper as secret key.
fn hasher(pepper: Option<&[u8]>) -> Result<Argon2<'_>, Failure> {
    match pepper {
        None => Ok(Argon2::default()),
        Some(pepper) => Argon2::new_with_secret(
            pepper,
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::default(),
        )
        .map_err(|error| {
            Failure::Hashing(format!(
                "the pepper cannot be used as Argon2 secret: {error}"
            ))
        }),
    }
}

/// Hashes `password` (already normalised, pepper not appended) with `salt`.
pub(super) fn hash(
    password: &[u8],
    pepper: Option<&[u8]>,
    salt: &[u8; SALT_LEN],
) -> Result<String, Failure> {
    let salt = SaltString::encode_b64(salt)
        .map_err(|error| Failure::Hashing(format!("cannot encode the salt: {error}")))?;
    let hashed = hasher(pepper)?
        .hash_password(password, &salt)
        .map_err(|error| Failure::Hashing(error.to_string()))?;
    Ok(hashed.to_string())
}

/// Returns whether `password` matches the Argon2 PHC string `hashed`.
pub(super) fn verify(
    password: &[u8],
    pepper: Option<&[u8]>,
    hashed: &str,
) -> Result<bool, Failure> {
    // `password_hash` errors describe the fault ("invalid Base64 encoding", …) and never
    // quote the input, so their text is safe to pass on.
    let malformed = |error: password_hash::Error| Failure::Malformed(error.to_string());
    let parsed = PasswordHash::new(hashed).map_err(malformed)?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return Err(Failure::Malformed("not an Argon2 PHC string".to_owned()));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(Failure::Malformed(
            "the salt or the hash field is missing".to_owned(),
        ));
    }
    let params = Params::try_from(&parsed).map_err(malformed)?;
    if params.m_cost() > MAX_VERIFY_M_COST {
        return Err(Failure::Malformed(format!(
            "m={} KiB exceeds the {MAX_VERIFY_M_COST} KiB masctl allows",
            params.m_cost()
        )));
    }
    match hasher(pepper)?.verify_password(password, &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(error) => Err(malformed(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

    #[test]
    fn writes_the_library_defaults() {
        let hashed = hash(b"hunter2", None, &SALT).unwrap();
        let (head, tail) = hashed.rsplit_once('$').unwrap();
        assert_eq!(
            head,
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg"
        );
        assert_eq!(tail.len(), 43);
        assert!(verify(b"hunter2", None, &hashed).unwrap());
        assert!(!verify(b"hunter3", None, &hashed).unwrap());
    }

    #[test]
    fn the_pepper_is_a_key_not_a_suffix() {
        let peppered = hash(b"hunter2", Some(b"pepper"), &SALT).unwrap();
        assert_ne!(peppered, hash(b"hunter2pepper", None, &SALT).unwrap());
        assert!(verify(b"hunter2", Some(b"pepper"), &peppered).unwrap());
        assert!(!verify(b"hunter2", None, &peppered).unwrap());
        assert!(!verify(b"hunter2pepper", None, &peppered).unwrap());
    }

    #[test]
    fn refuses_malformed_strings() {
        let good = hash(b"hunter2", None, &SALT).unwrap();
        let huge = good.replace("m=19456", "m=4294967295");
        for bad in [
            "",
            "hunter2",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg",
            "$argon2id$v=19$m=19456,t=0,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAA",
            "$argon2id$v=99$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=600000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i",
            &huge,
        ] {
            assert!(matches!(verify(b"hunter2", None, bad), Err(Failure::Malformed(_))), "{bad}");
        }
    }
}
