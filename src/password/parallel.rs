//! Hashing and verifying many passwords at once on rayon's thread pool.
//!
//! Password hashing is deliberately slow (tens to hundreds of milliseconds each), so the
//! applier does it for the whole plan *before* opening its transaction, on every core. These
//! functions run on the current rayon pool: call them inside `ThreadPool::install` to bound
//! the threads. Results keep the order of the input.

use rand::RngCore;
use rayon::prelude::*;

use super::hasher;
use super::{HashedPassword, PasswordError, PasswordManager};
use crate::model::Secret;

/// Hashes every password with the highest-version scheme, in parallel.
///
/// All salts are drawn from `rng` first, one per item in input order and exactly as
/// [`PasswordManager::hash`] draws them, so the result is the one sequential calls to
/// `hash` with the same RNG would give, whatever the number of threads.
///
/// # Errors
/// The first error in input order ([`PasswordError::Disabled`] before anything is drawn).
pub fn hash_many<K: Send>(
    manager: &PasswordManager,
    items: Vec<(K, Secret)>,
    rng: &mut (impl RngCore + ?Sized),
) -> Result<Vec<(K, HashedPassword)>, PasswordError> {
    let algorithm = manager.current_scheme()?.algorithm;
    let salted: Vec<_> = items
        .into_iter()
        .map(|(key, password)| (key, password, hasher::draw_salt(algorithm, rng)))
        .collect();
    let results: Vec<_> = salted
        .into_par_iter()
        .map(|(key, password, salt)| Ok((key, manager.hash_with_salt(&password, &salt)?)))
        .collect();
    results.into_iter().collect()
}

/// Verifies every `(key, password, version, stored hash)` item, in parallel.
///
/// Each item gets its own result, exactly what [`PasswordManager::verify`] returns for it.
#[must_use]
pub fn verify_many<K: Send>(
    manager: &PasswordManager,
    items: Vec<(K, Secret, i32, Secret)>,
) -> Vec<(K, Result<bool, PasswordError>)> {
    items
        .into_par_iter()
        .map(|(key, password, version, hashed)| {
            let result = manager.verify(&password, version, &hashed);
            (key, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;
    use crate::password::{Algorithm, PasswordScheme};

    fn bcrypt_manager() -> PasswordManager {
        let scheme = PasswordScheme {
            version: 2,
            algorithm: Algorithm::Bcrypt,
            unicode_normalization: false,
            cost: 4,
            pepper: None,
        };
        PasswordManager::new(true, 3, vec![scheme]).unwrap()
    }

    fn passwords(count: usize) -> Vec<(usize, Secret)> {
        (0..count)
            .map(|n| (n, Secret::new(format!("password number {n}"))))
            .collect()
    }

    #[test]
    fn hash_many_equals_sequential_hashing_whatever_the_threads() {
        let manager = bcrypt_manager();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let sequential: Vec<_> = passwords(24)
            .into_iter()
            .map(|(key, password)| (key, manager.hash(&password, &mut rng).unwrap()))
            .collect();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(5);
            let parallel = pool
                .install(|| hash_many(&manager, passwords(24), &mut rng))
                .unwrap();
            assert_eq!(parallel, sequential);
        }
    }

    #[test]
    fn verify_many_keeps_order_and_per_item_results() {
        let manager = bcrypt_manager();
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let hashed = hash_many(&manager, passwords(20), &mut rng).unwrap();
        let mut items: Vec<_> = hashed
            .into_iter()
            .map(|(key, hashed)| {
                // Every third item is checked with a wrong password.
                let typed = if key % 3 == 0 {
                    "wrong".to_owned()
                } else {
                    format!("password number {key}")
                };
                (
                    key,
                    Secret::new(typed),
                    i32::from(hashed.version),
                    hashed.hash,
                )
            })
            .collect();
        items.push((20, Secret::new("x"), 9, Secret::new("$2b$04$whatever")));
        items.push((21, Secret::new("x"), 2, Secret::new("not a hash")));
        let results = verify_many(&manager, items);
        let keys: Vec<_> = results.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, (0..22).collect::<Vec<_>>());
        for (key, result) in results {
            match key {
                20 => assert_eq!(result, Err(PasswordError::SchemeNotFound(9))),
                21 => assert!(matches!(
                    result,
                    Err(PasswordError::MalformedHash { version: 2, .. })
                )),
                key => assert_eq!(result, Ok(key % 3 != 0), "{key}"),
            }
        }
    }
}
