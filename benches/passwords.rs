//! How much masctl's parallel password work gains from using every core: 200 Argon2id hashes
//! (MAS's default scheme, what `apply` does for new passwords) and 200 verifications (what
//! `plan` does for `password_policy: enforce`), each on one thread and then on every core.
//!
//! Run with `cargo bench --bench passwords` (or `cargo bench --profile dev --bench passwords`,
//! which is as fast here because the hashing crates are always built optimised). A plain
//! `main` (no harness): the figures are for people sizing a rollout, not for regression
//! tracking, and one hash already takes tens of milliseconds. Without `--bench` (as under
//! `cargo test --benches`) it only does a handful, to check that it still runs.
#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

use std::error::Error;
use std::time::{Duration, Instant};

use masctl::model::Secret;
use masctl::password::{
    hash_many, verify_many, Algorithm, HashedPassword, PasswordManager, PasswordScheme,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// How many passwords each run hashes or verifies when benchmarking.
const COUNT: u16 = 200;
/// How many when merely checking that the benchmark works.
const SMOKE_COUNT: u16 = 4;

type BoxError = Box<dyn Error>;

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench` to harness-less targets; `cargo test` does not.
    let count = if std::env::args().any(|arg| arg == "--bench") {
        COUNT
    } else {
        SMOKE_COUNT
    };
    let scheme = PasswordScheme {
        version: 1,
        algorithm: Algorithm::Argon2id,
        unicode_normalization: false,
        cost: 12,
        pepper: None,
    };
    let manager = PasswordManager::new(true, 3, vec![scheme])?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("{count} passwords, argon2id (m=19456 KiB, t=2, p=1), 1 thread vs {cores}:");

    let (hash_single, hashed) = on_threads(1, || hash(&manager, count))?;
    let (hash_parallel, _) = on_threads(cores, || hash(&manager, count))?;
    print_line("hash", count, hash_single, hash_parallel);

    let (verify_single, ()) = on_threads(1, || verify(&manager, &hashed))?;
    let (verify_parallel, ()) = on_threads(cores, || verify(&manager, &hashed))?;
    print_line("verify", count, verify_single, verify_parallel);
    Ok(())
}

/// The `n`-th benchmark password.
fn password(n: u16) -> Secret {
    Secret::new(format!("correct horse battery {n}"))
}

/// Hashes `count` passwords with `hash_many` (which runs on the current rayon pool).
fn hash(manager: &PasswordManager, count: u16) -> Result<Vec<(u16, HashedPassword)>, BoxError> {
    let items: Vec<_> = (0..count).map(|n| (n, password(n))).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let hashed = hash_many(manager, items, &mut rng)?;
    if hashed.len() != usize::from(count) {
        return Err(format!("expected {count} hashes, got {}", hashed.len()).into());
    }
    Ok(hashed)
}

/// Verifies every password against its hash with `verify_many`; all must match.
fn verify(manager: &PasswordManager, hashed: &[(u16, HashedPassword)]) -> Result<(), BoxError> {
    let items: Vec<_> = hashed
        .iter()
        .map(|(n, hash)| (*n, password(*n), i32::from(hash.version), hash.hash.clone()))
        .collect();
    for (n, result) in verify_many(manager, items) {
        if !result? {
            return Err(format!("password {n} did not verify against its own hash").into());
        }
    }
    Ok(())
}

/// Runs `work` on a pool of `threads` threads and returns its wall time and result.
fn on_threads<T: Send>(
    threads: usize,
    work: impl FnOnce() -> Result<T, BoxError> + Send,
) -> Result<(Duration, T), BoxError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let start = Instant::now();
    let result = pool.install(|| work().map_err(|error| error.to_string()))?;
    Ok((start.elapsed(), result))
}

fn print_line(what: &str, count: u16, single: Duration, parallel: Duration) {
    let per = |total: Duration| total.as_secs_f64() * 1000.0 / f64::from(count);
    println!(
        "  {what:<7} 1 thread {single:>9.2?} ({:.1} ms each), all cores {parallel:>9.2?} ({:.1} ms each): {:.2}x speed-up",
        per(single),
        per(parallel),
        single.as_secs_f64() / parallel.as_secs_f64()
    );
}
