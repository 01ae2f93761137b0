//! bcrypt as MAS uses it: `$2b$` output, the cost from the scheme, the pepper appended.
//!
//! The `bcrypt` crate NUL-terminates the input and keeps its first 72 bytes, the standard
//! truncation, so a long password (or a long pepper) silently loses its tail, as in MAS
//! and Synapse. Verification accepts `$2a$`, `$2b$` and `$2y$`, which are the same algorithm
//! for every input; `$2x$` (the buggy `crypt_blowfish` variant) is refused because the crate
//! would compute it like `$2b$` and could wrongly reject or accept.

use ::bcrypt::{BcryptError, Version};

use super::hasher::{Failure, SALT_LEN};

/// The costs the bcrypt algorithm accepts.
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// Hashes `input` (normalised password followed by the pepper) with `cost` and `salt`.
pub(super) fn hash(input: &[u8], cost: u32, salt: [u8; SALT_LEN]) -> Result<String, Failure> {
    if !COSTS.contains(&cost) {
        return Err(Failure::Hashing(format!(
            "bcrypt cost {cost} is outside 4..=31"
        )));
    }
    ::bcrypt::hash_with_salt(input, cost, salt)
        .map(|parts| parts.format_for_version(Version::TwoB))
        .map_err(|error| Failure::Hashing(describe(&error)))
}

/// Returns whether `input` matches the bcrypt hash `hashed`.
pub(super) fn verify(input: &[u8], hashed: &str) -> Result<bool, Failure> {
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| hashed.strip_prefix(prefix))
        .ok_or_else(|| Failure::Malformed("not a bcrypt hash ($2a$, $2b$ or $2y$)".to_owned()))?;
    // The crate skips empty `$`-separated fields; insist on the exact shape instead:
    // two cost digits, `$`, 22 salt characters and 31 hash characters.
    let well_formed = rest.split_once('$').is_some_and(|(cost, body)| {
        cost.len() == 2 && cost.bytes().all(|b| b.is_ascii_digit()) && body.len() == 53
    });
    if !well_formed {
        return Err(Failure::Malformed(
            "expected two cost digits, `$`, then 53 salt and hash characters".to_owned(),
        ));
    }
    ::bcrypt::verify(input, hashed).map_err(|error| Failure::Malformed(describe(&error)))
}

/// Describes a bcrypt error without quoting the hash (several variants carry it verbatim).
fn describe(error: &BcryptError) -> String {
    match error {
        BcryptError::CostNotAllowed(cost) => format!("bcrypt cost {cost} is outside 4..=31"),
        BcryptError::InvalidCost(_) => "the cost is not a number".to_owned(),
        BcryptError::InvalidPrefix(_) => "not a bcrypt hash ($2a$, $2b$ or $2y$)".to_owned(),
        BcryptError::InvalidHash(_) => "expected 22 salt and 31 hash characters".to_owned(),
        BcryptError::InvalidSaltLen(len) => format!("the salt is {len} bytes instead of 16"),
        BcryptError::InvalidBase64(_) => "the salt or hash is not bcrypt base64".to_owned(),
        BcryptError::Truncation(len) => format!("the input is {len} bytes, more than 72"),
        BcryptError::Io(_) | BcryptError::Rand(_) => {
            "the system failed to provide randomness".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

    #[test]
    fn writes_2b_with_the_cost() {
        let hashed = hash(b"hunter2", 4, SALT).unwrap();
        assert!(hashed.starts_with("$2b$04$"), "{hashed}");
        assert_eq!(hashed.len(), 60);
        assert!(verify(b"hunter2", &hashed).unwrap());
        assert!(!verify(b"hunter3", &hashed).unwrap());
    }

    #[test]
    fn refuses_a_cost_out_of_range() {
        for cost in [0, 3, 32, u32::MAX] {
            assert!(
                matches!(hash(b"hunter2", cost, SALT), Err(Failure::Hashing(_))),
                "{cost}"
            );
        }
    }

    #[test]
    fn truncates_at_72_bytes() {
        let long = [b'x'; 80];
        let hashed = hash(&long, 4, SALT).unwrap();
        assert_eq!(hashed, hash(&long[..72], 4, SALT).unwrap());
        assert_ne!(hashed, hash(&long[..71], 4, SALT).unwrap());
    }

    #[test]
    fn refuses_malformed_strings() {
        let good = hash(b"hunter2", 4, SALT).unwrap();
        for bad in [
            String::new(),
            "hunter2".to_owned(),
            good.replacen("$2b$", "$2x$", 1),
            good.replacen("$04$", "$4$", 1),
            good.replacen("$04$", "$$04$", 1),
            good.replacen("$04$", "$03$", 1),
            good.replacen("$04$", "$99$", 1),
            good[..59].to_owned(),
            format!("{good}A"),
            good.replacen("$04$", "$04$!", 1)[..60].to_owned(),
            format!("{}é{}", &good[..30], &good[32..]),
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAA".to_owned(),
        ] {
            let result = verify(b"hunter2", &bad);
            assert!(
                matches!(result, Err(Failure::Malformed(_))),
                "{bad}: {result:?}"
            );
        }
    }
}
