//! Tests of the password module against MAS's own hashes and independent implementations.
//!
//! Reference vectors, unless stated otherwise, were produced with Python 3.11:
//! `argon2-cffi` 25.1 (the `argon2.low_level.core` call with a filled `argon2_context`, because
//! `hash_secret_raw` has no key input; `secret=` there is the password), `hashlib.pbkdf2_hmac`,
//! `bcrypt` 5.0 (`hashpw`, with a given `$2b$NN$<salt>` where the salt is fixed) and
//! `unicodedata.normalize("NFKC", …)`. `SALT_MAS` is the first 16 bytes of
//! `ChaCha20Rng::seed_from_u64(42)`; `SALT_FIXED` is the ASCII bytes `0123456789abcdef`.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::model::{Secret, SecretBytes};

const PEPPER: &[u8] = b"a-secret-pepper";
const SALT_MAS: [u8; 16] = [
    0x78, 0x48, 0xb5, 0xd7, 0x11, 0xbc, 0x98, 0x83, 0x99, 0x63, 0x17, 0xa3, 0xf9, 0xc9, 0x02, 0x69,
];
const SALT_FIXED: [u8; 16] = *b"0123456789abcdef";

/// MAS's snapshot-test hashes (mas-facts §6): "hunter2", pepper "a-secret-pepper", salts from
/// `ChaChaRng::seed_from_u64(42)`, bcrypt at cost 10. Matched by brute force over likely
/// passwords and peppers with the Python tools above.
const MAS_ARGON2ID: &str = "$argon2id$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$eBeygPqiuImQAaFQOkE6oVkPfqxIGgnqpQd/MwW4YX4";
const MAS_PBKDF2: &str = "$pbkdf2-sha256$i=600000,l=32$eEi11xG8mIOZYxej+ckCaQ$uyS+Ip4DieQ9S+m1EcT+vCtuiWpQ3TsDGPLY4mwkOxc";
const MAS_BCRYPT: &str = "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i";

fn scheme(version: u16, algorithm: Algorithm, pepper: Option<&[u8]>) -> PasswordScheme {
    PasswordScheme {
        version,
        algorithm,
        unicode_normalization: false,
        cost: 4,
        pepper: pepper.map(|pepper| SecretBytes::new(pepper.to_vec())),
    }
}

fn manager(schemes: Vec<PasswordScheme>) -> PasswordManager {
    PasswordManager::new(true, 3, schemes).unwrap()
}

fn secret(value: &str) -> Secret {
    Secret::new(value)
}

/// Asserts that `hashed` verifies "hunter2" (or `password`) and rejects a wrong password.
fn assert_verifies(manager: &PasswordManager, version: i32, password: &str, hashed: &str) {
    let hashed = secret(hashed);
    assert!(
        manager.verify(&secret(password), version, &hashed).unwrap(),
        "{password}"
    );
    assert!(!manager
        .verify(&secret("hunter3"), version, &hashed)
        .unwrap());
}

#[test]
fn reproduces_mas_snapshot_hashes() {
    for (algorithm, cost, expected) in [
        (Algorithm::Argon2id, 4, MAS_ARGON2ID),
        (Algorithm::Pbkdf2, 4, MAS_PBKDF2),
        (Algorithm::Bcrypt, 10, MAS_BCRYPT),
    ] {
        let scheme = PasswordScheme {
            cost,
            ..scheme(1, algorithm, Some(PEPPER))
        };
        let manager = manager(vec![scheme]);
        let mut rng = ChaCha20Rng::seed_from_u64(42);
        let hashed = manager.hash(&secret("hunter2"), &mut rng).unwrap();
        assert_eq!(hashed.hash.expose(), expected);
        assert_eq!(hashed.version, 1);
        assert_verifies(&manager, 1, "hunter2", expected);
    }
}

#[test]
fn argon2id_matches_argon2_cffi() {
    let plain = manager(vec![scheme(1, Algorithm::Argon2id, None)]);
    let expected = "$argon2id$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$LvOB49FYkOnwdc3MY/xrKqmEWecwWKwsaai5IjXrCQ0";
    assert_eq!(
        plain
            .hash_with_salt(&secret("hunter2"), &SALT_MAS)
            .unwrap()
            .hash
            .expose(),
        expected
    );
    assert_verifies(&plain, 1, "hunter2", expected);
    // The peppered MAS hash does not verify without the pepper, nor with it appended.
    assert!(!plain
        .verify(&secret("hunter2"), 1, &secret(MAS_ARGON2ID))
        .unwrap());
    assert!(!plain
        .verify(&secret("hunter2a-secret-pepper"), 1, &secret(MAS_ARGON2ID))
        .unwrap());
}

#[test]
fn argon2_verification_honours_the_stored_parameters() {
    // m=4096, t=3, p=2, key "k"; and plain Argon2i, m=4096, t=3, p=1.
    let keyed = manager(vec![scheme(1, Algorithm::Argon2id, Some(b"k"))]);
    let stored = "$argon2id$v=19$m=4096,t=3,p=2$MDEyMzQ1Njc4OWFiY2RlZg$30rdFSUBiSB/NsELZ6hdFS9TvER+2YJEZ3+HnpqTff0";
    assert_verifies(&keyed, 1, "correct horse", stored);
    let plain = manager(vec![scheme(1, Algorithm::Argon2id, None)]);
    let argon2i = "$argon2i$v=19$m=4096,t=3,p=1$MDEyMzQ1Njc4OWFiY2RlZg$hCHo9t+ikUnm2ZwUjgbb3AqbsDYf7ct3Z/ylB6ZQMN0";
    assert_verifies(&plain, 1, "hunter2", argon2i);
}

#[test]
fn pbkdf2_matches_hashlib() {
    let plain = manager(vec![scheme(1, Algorithm::Pbkdf2, None)]);
    let expected = "$pbkdf2-sha256$i=600000,l=32$eEi11xG8mIOZYxej+ckCaQ$lqZVPp7+qX/gM3UyJTcg04XSWcgnfE/xd+dHOPTnBTQ";
    assert_eq!(
        plain
            .hash_with_salt(&secret("hunter2"), &SALT_MAS)
            .unwrap()
            .hash
            .expose(),
        expected
    );
    assert_verifies(&plain, 1, "hunter2", expected);
    assert!(!plain
        .verify(&secret("hunter2"), 1, &secret(MAS_PBKDF2))
        .unwrap());
    // The pepper is appended: the plain scheme verifies "hunter2" + pepper typed in full.
    assert!(plain
        .verify(&secret("hunter2a-secret-pepper"), 1, &secret(MAS_PBKDF2))
        .unwrap());
    // Verification honours the stored round count.
    let rounds_1000 = "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$pj4T35D2v4tYmC1sTJ1y5tcMADOdtnQGvuHmyYDQh2g";
    assert_verifies(&plain, 1, "hunter2", rounds_1000);
}

#[test]
fn bcrypt_matches_python_bcrypt() {
    let plain = manager(vec![scheme(1, Algorithm::Bcrypt, None)]);
    let expected = "$2b$04$KBCwKxOzLha2MUDgW0PjXeFaAPh7cxmjSZ5c00P8D0A2tzxy8Lhdy";
    assert_eq!(
        plain
            .hash_with_salt(&secret("hunter2"), &SALT_FIXED)
            .unwrap()
            .hash
            .expose(),
        expected
    );
    assert_verifies(&plain, 1, "hunter2", expected);
    assert_verifies(&plain, 1, "hunter2", &expected.replacen("$2b$", "$2y$", 1));
    let random_salt = "$2b$04$hQA8okuUBgoHunrk6neTMuZSi5O/3OGZvfTban9LIoqf4r3qcNmNO";
    assert_verifies(&plain, 1, "hunter2", random_salt);

    let peppered = manager(vec![PasswordScheme {
        cost: 6,
        ..scheme(1, Algorithm::Bcrypt, Some(PEPPER))
    }]);
    let expected = "$2b$06$KBCwKxOzLha2MUDgW0PjXePtOee8S80qUY.6gsffQDUbid9Xzk1y2";
    assert_eq!(
        peppered
            .hash_with_salt(&secret("hunter2"), &SALT_FIXED)
            .unwrap()
            .hash
            .expose(),
        expected
    );
    assert_verifies(&peppered, 1, "hunter2", expected);
    let prefix_2a = "$2a$05$TXnE3b9YbOttKdanArpFKevdb.ibZrsTRt1zDgKk36DZWP/80/8Oa";
    assert_verifies(&peppered, 1, "hunter2", prefix_2a);
    assert!(!plain
        .verify(&secret("hunter2"), 1, &secret(prefix_2a))
        .unwrap());
}

#[test]
fn bcrypt_keeps_72_bytes_like_everyone_else() {
    // Python's bcrypt 5 refuses inputs over 72 bytes, so the vector hashes the first 72.
    let plain = manager(vec![scheme(1, Algorithm::Bcrypt, None)]);
    let stored = secret("$2b$04$bETReLsn/p2K8aujHPx.LuukIy/nJBCKeLx7EAhgmcrSpb1XIxEp.");
    assert!(plain.verify(&secret(&"x".repeat(72)), 1, &stored).unwrap());
    assert!(plain.verify(&secret(&"x".repeat(80)), 1, &stored).unwrap());
    assert!(!plain.verify(&secret(&"x".repeat(71)), 1, &stored).unwrap());
}

#[test]
fn nfkc_normalisation_applies_before_the_pepper() {
    // "ﬁne ﬂour" with ligatures normalises to "fine flour".
    let ligatures = "\u{fb01}ne \u{fb02}our";
    let pbkdf2 = "$pbkdf2-sha256$i=600000,l=32$eEi11xG8mIOZYxej+ckCaQ$31wf/NS1Gjsls3NXdXLvDMj90ltE1mWpJrt38K260nY";
    let argon2 = "$argon2id$v=19$m=19456,t=2,p=1$eEi11xG8mIOZYxej+ckCaQ$/Wt9wqXBnalwZX08gsLGzpF/brT0gdOG4VQm907228A";
    let bcrypt = "$2b$04$AzhkpLdhrn.YhnvXtRWPK.aNm898g5cOrtxtOOU0t19i7jTyZmZ0.";
    for (algorithm, pepper, stored) in [
        (Algorithm::Pbkdf2, Some(PEPPER), pbkdf2),
        (Algorithm::Argon2id, None, argon2),
        (Algorithm::Bcrypt, None, bcrypt),
    ] {
        let stored = secret(stored);
        let normalising = manager(vec![PasswordScheme {
            unicode_normalization: true,
            ..scheme(1, algorithm, pepper)
        }]);
        let verbatim = manager(vec![scheme(1, algorithm, pepper)]);
        assert!(
            normalising.verify(&secret(ligatures), 1, &stored).unwrap(),
            "{algorithm:?}"
        );
        assert!(
            normalising
                .verify(&secret("fine flour"), 1, &stored)
                .unwrap(),
            "{algorithm:?}"
        );
        assert!(
            verbatim.verify(&secret("fine flour"), 1, &stored).unwrap(),
            "{algorithm:?}"
        );
        assert!(
            !verbatim.verify(&secret(ligatures), 1, &stored).unwrap(),
            "{algorithm:?}"
        );
    }
}

#[test]
fn every_algorithm_round_trips_with_and_without_pepper() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for algorithm in [Algorithm::Argon2id, Algorithm::Bcrypt, Algorithm::Pbkdf2] {
        for pepper in [None, Some(PEPPER)] {
            let manager = manager(vec![scheme(4, algorithm, pepper)]);
            let hashed = manager.hash(&secret("pässwörd ✓"), &mut rng).unwrap();
            assert_eq!(hashed.version, 4);
            assert!(manager
                .verify(&secret("pässwörd ✓"), 4, &hashed.hash)
                .unwrap());
            assert!(!manager
                .verify(&secret("pässwörd"), 4, &hashed.hash)
                .unwrap());
            let other_pepper = manager_with_pepper(algorithm, pepper, b"the-wrong-pepper");
            assert!(!other_pepper
                .verify(&secret("pässwörd ✓"), 4, &hashed.hash)
                .unwrap());
        }
    }
}

/// Returns a manager like `scheme(4, algorithm, pepper)` but with `pepper` replaced or added.
fn manager_with_pepper(
    algorithm: Algorithm,
    pepper: Option<&[u8]>,
    other: &[u8],
) -> PasswordManager {
    let replacement = if pepper.is_some() { None } else { Some(other) };
    manager(vec![scheme(4, algorithm, replacement)])
}

#[test]
fn hashes_with_the_highest_version_and_verifies_older_ones() {
    let manager = manager(vec![
        scheme(1, Algorithm::Bcrypt, None),
        scheme(5, Algorithm::Argon2id, Some(PEPPER)),
        scheme(2, Algorithm::Pbkdf2, None),
    ]);
    assert_eq!(manager.current_version(), Ok(5));
    let hashed = manager
        .hash(&secret("hunter2"), &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap();
    assert_eq!(hashed.version, 5);
    assert!(hashed
        .hash
        .expose()
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_verifies(&manager, 5, "hunter2", hashed.hash.expose());
    assert_verifies(
        &manager,
        1,
        "hunter2",
        "$2b$04$KBCwKxOzLha2MUDgW0PjXeFaAPh7cxmjSZ5c00P8D0A2tzxy8Lhdy",
    );
    // A hash verified with another version's scheme is malformed for that scheme.
    let error = manager
        .verify(&secret("hunter2"), 2, &hashed.hash)
        .unwrap_err();
    assert!(
        matches!(error, PasswordError::MalformedHash { version: 2, .. }),
        "{error}"
    );
}

#[test]
fn unknown_versions_are_not_found() {
    let manager = manager(vec![scheme(1, Algorithm::Bcrypt, None)]);
    for version in [0, 2, -1, i32::from(u16::MAX) + 1, i32::MIN] {
        let error = manager
            .verify(&secret("hunter2"), version, &secret(MAS_BCRYPT))
            .unwrap_err();
        assert_eq!(error, PasswordError::SchemeNotFound(version));
    }
    assert_eq!(
        PasswordError::SchemeNotFound(7).to_string(),
        "Hashing scheme not found: no entry of `passwords.schemes` has version 7"
    );
}

#[test]
fn a_disabled_manager_refuses_everything() {
    let manager = PasswordManager::new(false, 3, vec![scheme(1, Algorithm::Bcrypt, None)]).unwrap();
    let password = secret("hunter2");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    assert!(!manager.is_enabled());
    assert_eq!(manager.current_version(), Err(PasswordError::Disabled));
    assert_eq!(
        manager.hash(&password, &mut rng),
        Err(PasswordError::Disabled)
    );
    assert_eq!(
        manager.verify(&password, 1, &secret(MAS_BCRYPT)),
        Err(PasswordError::Disabled)
    );
    assert_eq!(
        manager.is_strong_enough(&password),
        Err(PasswordError::Disabled)
    );
    let items = vec![(0, password.clone())];
    assert_eq!(
        hash_many(&manager, items, &mut rng),
        Err(PasswordError::Disabled)
    );
    let items = vec![(0, password, 1, secret(MAS_BCRYPT))];
    assert_eq!(
        verify_many(&manager, items),
        vec![(0, Err(PasswordError::Disabled))]
    );
    assert_eq!(
        PasswordError::Disabled.to_string(),
        "Password manager is disabled"
    );
    // Disabled without schemes is fine too, as in MAS.
    assert!(PasswordManager::new(false, 3, Vec::new()).is_ok());
}

#[test]
fn a_bad_bcrypt_cost_fails_only_when_hashing() {
    let manager = manager(vec![PasswordScheme {
        cost: 32,
        ..scheme(1, Algorithm::Bcrypt, None)
    }]);
    let error = manager
        .hash(&secret("hunter2"), &mut ChaCha20Rng::seed_from_u64(1))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot hash with password scheme version 1: bcrypt cost 32 is outside 4..=31"
    );
    assert_verifies(
        &manager,
        1,
        "hunter2",
        "$2b$04$KBCwKxOzLha2MUDgW0PjXeFaAPh7cxmjSZ5c00P8D0A2tzxy8Lhdy",
    );
}

#[test]
fn errors_and_debug_output_hold_no_secrets() {
    let manager = manager(vec![
        scheme(1, Algorithm::Bcrypt, Some(PEPPER)),
        scheme(2, Algorithm::Argon2id, Some(PEPPER)),
        scheme(3, Algorithm::Pbkdf2, Some(PEPPER)),
    ]);
    let debug = format!("{manager:?}");
    assert!(!debug.contains("a-secret-pepper"), "{debug}");
    let mangled = [
        (1, MAS_BCRYPT.replace('c', "!")),
        (1, MAS_BCRYPT.replacen("$10$", "$1$", 1)),
        (2, MAS_ARGON2ID.replace('e', "!")),
        (2, MAS_ARGON2ID.replace("t=2", "t=x")),
        (3, MAS_PBKDF2.replace('u', "!")),
        (3, MAS_PBKDF2.replace("l=32", "l=31")),
    ];
    for (version, hashed) in mangled {
        let error = manager
            .verify(&secret("hunter2"), version, &secret(&hashed))
            .unwrap_err();
        let message = format!("{error} {error:?}");
        assert!(
            matches!(error, PasswordError::MalformedHash { .. }),
            "{message}"
        );
        for leak in [
            "hunter2",
            "a-secret-pepper",
            "eEi11xG8",
            "c/EX8bT",
            "uyS",
            "eBey",
        ] {
            assert!(!message.contains(leak), "{message} contains {leak}");
        }
    }
}
