//! Secret fingerprints: how a saved plan proves, without holding any secret, that the
//! passwords resolved at apply time are the ones it was reviewed with.
//!
//! A saved plan travels: it is a CI artifact, readable by more people than the database or
//! the CI secret variables. So a fingerprint must not let its reader recover a password by
//! guessing offline. A plain SHA-256 would (a password list is cheap to hash). Two schemes:
//!
//! - **Keyed** (`hmac-sha256`): HMAC-SHA256 with a key the file does not contain, derived from
//!   secrets both `plan` and `apply` have: `MASCTL_PLAN_KEY` if set, otherwise MAS's config
//!   (`matrix.secret` and the password peppers). Without the key, a guess cannot be checked at
//!   all; with it, an attacker already holds MAS's homeserver secret. The message binds the
//!   plan id and the username, so equal passwords give unrelated fingerprints. The file names
//!   the key's sources and an id (an HMAC of a constant), so apply can say "wrong key" rather
//!   than "changed password".
//! - **Unkeyed** (`argon2id`), only when no key source exists: an Argon2id PHC string with a
//!   random salt and MAS's own parameters, over the plan id, username and secret. A guess costs
//!   exactly what it costs against MAS's `user_passwords` table; `plan` warns about it.
//!
//! Literal passwords and `hash:` values count as secrets too (a hash is as sensitive as MAS's
//! rows), and get fingerprints like `env:` and `file:` values.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rayon::prelude::*;
use ring::hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use super::SavedPlanError;
use crate::env::Env;
use crate::model::{Secret, SecretBytes};

/// The HMAC key of keyed fingerprints, with where it came from.
pub struct FingerprintKey {
    key: hmac::Key,
    sources: Vec<String>,
    id: String,
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FingerprintKey")
            .field("sources", &self.sources)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl FingerprintKey {
    /// Derives a key from named secrets (`("matrix.secret", bytes)`, …); `None` when there are
    /// none or all are empty.
    #[must_use]
    pub fn derive(sources: Vec<(String, SecretBytes)>) -> Option<Self> {
        let mut sources: Vec<_> = sources
            .into_iter()
            .filter(|(_, value)| !value.expose().is_empty())
            .collect();
        if sources.is_empty() {
            return None;
        }
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hasher = Sha256::new();
        hasher.update(b"masctl saved-plan fingerprint key v1\0");
        for (label, value) in &sources {
            // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
            hasher.update((label.len() as u64).to_be_bytes());
            hasher.update(label.as_bytes());
            hasher.update((value.expose().len() as u64).to_be_bytes());
            hasher.update(value.expose());
        }
        let material = zeroize::Zeroizing::new(hasher.finalize().to_vec());
        let key = hmac::Key::new(hmac::HMAC_SHA256, &material);
        let id = hex::encode(&hmac::sign(&key, b"masctl saved-plan key id").as_ref()[..8]);
        Some(Self {
            key,
            sources: sources.into_iter().map(|(label, _)| label).collect(),
            id,
        })
    }
}

/// How a saved plan's fingerprints were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FingerprintScheme {
    /// HMAC-SHA256 under a key derived from secrets outside the file.
    HmacSha256 {
        /// Where the key came from (`MASCTL_PLAN_KEY`, `matrix.secret`, …), never the values.
        key_sources: Vec<String>,
        /// A public identifier of the key.
        key_id: String,
    },
    /// Argon2id PHC strings with random salts (no key was available).
    Argon2id,
}

/// The fingerprints of every secret a saved plan writes, per username as the plan spells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretFingerprints {
    /// How they were made.
    pub scheme: FingerprintScheme,
    /// Username → fingerprint.
    pub passwords: BTreeMap<String, String>,
}

fn message(plan_id: Ulid, username: &str, secret: &Secret) -> zeroize::Zeroizing<Vec<u8>> {
    let mut bytes = Vec::with_capacity(64 + username.len() + secret.expose().len());
    bytes.extend_from_slice(b"masctl saved-plan secret v1\0");
    bytes.extend_from_slice(&plan_id.to_bytes());
    bytes.extend_from_slice(username.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(secret.expose().as_bytes());
    zeroize::Zeroizing::new(bytes)
}

/// Fingerprints `secrets` (username, resolved value) for the plan `plan_id`.
///
/// # Errors
/// [`SavedPlanError::Fingerprint`] if Argon2 fails (it does not with its default parameters).
pub fn fingerprint(
    plan_id: Ulid,
    secrets: Vec<(String, Secret)>,
    key: Option<&FingerprintKey>,
    env: &Env,
) -> Result<SecretFingerprints, SavedPlanError> {
    let Some(key) = key else {
        // Salts are drawn in input order first, so the result does not depend on threads.
        let salted: Vec<_> = secrets
            .into_iter()
            .map(|(username, secret)| (username, secret, env.random_bytes::<16>()))
            .collect();
        let passwords = salted
            .into_par_iter()
            .map(|(username, secret, salt)| {
                let salt = SaltString::encode_b64(&salt)
                    .map_err(|error| SavedPlanError::Fingerprint(error.to_string()))?;
                let hashed = Argon2::default()
                    .hash_password(&message(plan_id, &username, &secret), &salt)
                    .map_err(|error| SavedPlanError::Fingerprint(error.to_string()))?;
                Ok((username, hashed.to_string()))
            })
            .collect::<Result<_, SavedPlanError>>()?;
        return Ok(SecretFingerprints {
            scheme: FingerprintScheme::Argon2id,
            passwords,
        });
    };
    let passwords = secrets
        .into_iter()
        .map(|(username, secret)| {
            let tag = hmac::sign(&key.key, &message(plan_id, &username, &secret));
            (username, hex::encode(tag.as_ref()))
        })
        .collect();
    Ok(SecretFingerprints {
        scheme: FingerprintScheme::HmacSha256 {
            key_sources: key.sources.clone(),
            key_id: key.id.clone(),
        },
        passwords,
    })
}

/// Checks that the secrets resolved now are the ones fingerprinted in `saved`, and that the
/// plan writes exactly the passwords the file has fingerprints for.
///
/// # Errors
/// [`SavedPlanError::KeyMismatch`] when the key is missing or different,
/// [`SavedPlanError::SecretChanged`] naming the first user whose secret differs, and
/// [`SavedPlanError::Inconsistent`] when the sets of usernames differ.
pub fn verify(
    plan_id: Ulid,
    saved: &SecretFingerprints,
    secrets: Vec<(String, Secret)>,
    key: Option<&FingerprintKey>,
) -> Result<(), SavedPlanError> {
    if secrets.len() != saved.passwords.len() {
        return Err(SavedPlanError::Inconsistent(format!(
            "the plan writes {} passwords but the file holds {} fingerprints",
            secrets.len(),
            saved.passwords.len()
        )));
    }
    if let FingerprintScheme::HmacSha256 {
        key_sources,
        key_id,
    } = &saved.scheme
    {
        match key {
            Some(key) if key.id == *key_id => {}
            _ => {
                return Err(SavedPlanError::KeyMismatch {
                    sources: key_sources.join(", "),
                })
            }
        }
    }
    let results: Vec<Result<(), SavedPlanError>> = secrets
        .into_par_iter()
        .map(|(username, secret)| {
            let Some(expected) = saved.passwords.get(&username) else {
                return Err(SavedPlanError::Inconsistent(format!(
                    "the plan writes a password for user {username}, which the file has no fingerprint for"
                )));
            };
            let message = message(plan_id, &username, &secret);
            let matches = match (&saved.scheme, key) {
                (FingerprintScheme::HmacSha256 { .. }, Some(key)) => hex::decode(expected)
                    .is_ok_and(|tag| hmac::verify(&key.key, &message, &tag).is_ok()),
                (FingerprintScheme::HmacSha256 { .. }, None) => false,
                (FingerprintScheme::Argon2id, _) => PasswordHash::new(expected)
                    .is_ok_and(|hash| Argon2::default().verify_password(&message, &hash).is_ok()),
            };
            if matches {
                Ok(())
            } else {
                Err(SavedPlanError::SecretChanged { username })
            }
        })
        .collect();
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str) -> FingerprintKey {
        FingerprintKey::derive(vec![(
            "matrix.secret".to_owned(),
            SecretBytes::new(value.as_bytes().to_vec()),
        )])
        .unwrap()
    }

    fn secrets(value: &str) -> Vec<(String, Secret)> {
        vec![("alice".to_owned(), Secret::new(value))]
    }

    #[test]
    fn keyed_fingerprints_verify_only_with_the_same_key_and_secret() {
        let env = Env::test(1);
        let id = Ulid(42);
        let saved = fingerprint(id, secrets("correct horse"), Some(&key("k1")), &env).unwrap();
        let text = serde_json::to_string(&saved).unwrap();
        assert!(!text.contains("correct horse"), "{text}");
        assert!(text.contains("\"algorithm\":\"hmac-sha256\""), "{text}");
        assert!(verify(id, &saved, secrets("correct horse"), Some(&key("k1"))).is_ok());
        assert!(matches!(
            verify(id, &saved, secrets("wrong horse"), Some(&key("k1"))),
            Err(SavedPlanError::SecretChanged { .. })
        ));
        assert!(matches!(
            verify(id, &saved, secrets("correct horse"), Some(&key("k2"))),
            Err(SavedPlanError::KeyMismatch { .. })
        ));
        assert!(matches!(
            verify(id, &saved, secrets("correct horse"), None),
            Err(SavedPlanError::KeyMismatch { .. })
        ));
        // Bound to the plan: the same secret under another plan id does not verify.
        assert!(verify(Ulid(43), &saved, secrets("correct horse"), Some(&key("k1"))).is_err());
    }

    #[test]
    fn unkeyed_fingerprints_are_salted_argon2id() {
        let env = Env::test(2);
        let id = Ulid(7);
        let one = fingerprint(id, secrets("correct horse"), None, &env).unwrap();
        let two = fingerprint(id, secrets("correct horse"), None, &env).unwrap();
        let phc = &one.passwords["alice"];
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_ne!(one.passwords, two.passwords, "salts are random");
        assert!(verify(id, &one, secrets("correct horse"), None).is_ok());
        assert!(verify(id, &one, secrets("correct horse!"), None).is_err());
    }

    #[test]
    fn the_sets_of_users_must_match() {
        let env = Env::test(3);
        let saved = fingerprint(Ulid(1), secrets("x y z w"), Some(&key("k")), &env).unwrap();
        let mut more = secrets("x y z w");
        more.push(("bob".to_owned(), Secret::new("x")));
        assert!(matches!(
            verify(Ulid(1), &saved, more, Some(&key("k"))),
            Err(SavedPlanError::Inconsistent(_))
        ));
        assert!(verify(Ulid(1), &saved, Vec::new(), Some(&key("k"))).is_err());
    }

    #[test]
    fn no_key_source_means_no_key() {
        assert!(FingerprintKey::derive(Vec::new()).is_none());
        assert!(FingerprintKey::derive(vec![("x".into(), SecretBytes::new(Vec::new()))]).is_none());
        assert!(!format!("{:?}", key("hunter2")).contains("hunter2"));
    }
}
