//! PBKDF2-HMAC-SHA256 as MAS uses it: 600 000 rounds, 32-byte output, the pepper appended.
//!
//! New hashes are PHC strings `$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>`, built exactly as
//! the `pbkdf2` 0.12 crate (MAS's) builds them. Verification parses the stored string with that
//! crate's rules and honours its digest (`pbkdf2-sha256` or `pbkdf2-sha512`), round count and
//! length, as MAS does.
//!
//! The derivation itself runs on `ring` (already in the tree through rustls). The `pbkdf2`
//! crate is generic over the HMAC type, so its inner loop is compiled inside this crate and,
//! in unoptimised builds, takes about 4.5 s for 600 000 rounds instead of 0.4 s; `ring` is
//! compiled once, optimised. Both compute standard PBKDF2; a test checks they agree.

use std::num::NonZeroU32;

use ::pbkdf2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use ::pbkdf2::{Algorithm as Digest, Params};

use super::hasher::{Failure, SALT_LEN};

/// The parameters MAS writes (the `pbkdf2` 0.12 crate's defaults, spelled out so that a
/// change of default upstream cannot change our output).
const PARAMS: Params = Params {
    rounds: 600_000,
    output_length: 32,
};

/// Hashes `input` (normalised password followed by the pepper) with `salt`.
pub(super) fn hash(input: &[u8], salt: &[u8; SALT_LEN]) -> Result<String, Failure> {
    let failed = |error: password_hash::Error| Failure::Hashing(error.to_string());
    let salt = SaltString::encode_b64(salt).map_err(failed)?;
    let output = derive(Digest::Pbkdf2Sha256, input, salt.as_salt(), PARAMS).map_err(failed)?;
    let hashed = PasswordHash {
        algorithm: Digest::Pbkdf2Sha256.ident(),
        version: None,
        params: ParamsString::try_from(PARAMS).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hashed.to_string())
}

/// Returns whether `input` matches the PBKDF2 PHC string `hashed`.
pub(super) fn verify(input: &[u8], hashed: &str) -> Result<bool, Failure> {
    // `password_hash` errors never quote their input, so their text is safe to pass on.
    let malformed = |error: password_hash::Error| Failure::Malformed(error.to_string());
    let parsed = PasswordHash::new(hashed).map_err(malformed)?;
    let digest = Digest::try_from(parsed.algorithm).map_err(|_| {
        Failure::Malformed("not a PBKDF2 PHC string (pbkdf2-sha256 or pbkdf2-sha512)".to_owned())
    })?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(Failure::Malformed(
            "the salt or the hash field is missing".to_owned(),
        ));
    };
    // Rejects a version field, unknown parameters and an `l` that disagrees with the hash.
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let computed = derive(digest, input, salt, params).map_err(malformed)?;
    // `Output`'s equality is constant-time.
    Ok(computed == expected)
}

/// Runs PBKDF2 with `digest` over `input` and the decoded `salt`.
fn derive(
    digest: Digest,
    input: &[u8],
    salt: Salt<'_>,
    params: Params,
) -> Result<Output, password_hash::Error> {
    let algorithm = match digest {
        Digest::Pbkdf2Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
        Digest::Pbkdf2Sha512 => ring::pbkdf2::PBKDF2_HMAC_SHA512,
        _ => return Err(password_hash::Error::Algorithm),
    };
    // The `pbkdf2` crate would run i=0 as one round; a zero count is corrupt, refuse it.
    let rounds = NonZeroU32::new(params.rounds).ok_or(password_hash::Error::ParamValueInvalid(
        password_hash::errors::InvalidValue::TooShort,
    ))?;
    let mut buffer = [0; 64];
    let salt = salt.decode_b64(&mut buffer)?;
    // `Output` holds at most 64 bytes, far below the length `ring` would refuse.
    Output::init_with(params.output_length, |out| {
        ring::pbkdf2::derive(algorithm, rounds, salt, input, out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

    #[test]
    fn writes_600000_rounds() {
        let hashed = hash(b"hunter2", &SALT).unwrap();
        let (head, tail) = hashed.rsplit_once('$').unwrap();
        assert_eq!(head, "$pbkdf2-sha256$i=600000,l=32$MDEyMzQ1Njc4OWFiY2RlZg");
        assert_eq!(tail.len(), 43);
        assert!(verify(b"hunter2", &hashed).unwrap());
        assert!(!verify(b"hunter3", &hashed).unwrap());
    }

    #[test]
    fn agrees_with_the_pbkdf2_crate() {
        use ::pbkdf2::password_hash::PasswordHasher;
        let salt = SaltString::encode_b64(&SALT).unwrap();
        for (digest, length) in [(Digest::Pbkdf2Sha256, 32), (Digest::Pbkdf2Sha512, 64)] {
            let params = Params {
                rounds: 1000,
                output_length: length,
            };
            let expected = ::pbkdf2::Pbkdf2
                .hash_password_customized(b"hunter2", Some(digest.ident()), None, params, &salt)
                .unwrap();
            assert_eq!(
                derive(digest, b"hunter2", salt.as_salt(), params).unwrap(),
                expected.hash.unwrap()
            );
            assert!(verify(b"hunter2", &expected.to_string()).unwrap());
        }
    }

    #[test]
    fn refuses_malformed_strings() {
        for bad in [
            "",
            "hunter2",
            "$pbkdf2-sha256$",
            "$pbkdf2-sha256$i=600000,l=32$MDEyMzQ1Njc4OWFiY2RlZg",
            "$pbkdf2-sha256$i=600000,l=31$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=x,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=0,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=1,k=2$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$v=1$i=1,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-md5$i=1,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2$i=1,l=32$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i",
        ] {
            let result = verify(b"hunter2", bad);
            assert!(matches!(result, Err(Failure::Malformed(_))), "{bad}: {result:?}");
        }
    }
}
