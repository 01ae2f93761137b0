//! How much `password::hash_many` gains from rayon: 200 Argon2id hashes (MAS's default
//! scheme) on one thread, then on every core, and the speed-up.
//!
//! Run with `cargo bench --bench passwords` (or `cargo bench --profile dev --bench passwords`,
//! which is as fast here because the hashing crates are always built optimised). A plain
//! `main` (no harness): the figures are for people sizing a rollout, not for regression
//! tracking, and one hash already takes tens of milliseconds. Without `--bench` (as under
//! `cargo test --all-targets`) it only hashes a handful, to check that it still runs.
#![expect(
    clippy::print_stdout,
    reason = "a benchmark reports its figures on stdout"
)]

use std::error::Error;
use std::time::{Duration, Instant};

use masctl::model::Secret;
use masctl::password::{hash_many, Algorithm, PasswordManager, PasswordScheme};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// How many passwords each run hashes when benchmarking.
const COUNT: u16 = 200;
/// How many when merely checking that the benchmark works.
const SMOKE_COUNT: u16 = 4;

fn main() -> Result<(), Box<dyn Error>> {
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

    let single = run(&manager, 1, count)?;
    let parallel = run(&manager, cores, count)?;
    let per_hash = |total: Duration| total.as_secs_f64() * 1000.0 / f64::from(count);
    let threads = format!("{cores} threads:");
    println!("{count} argon2id hashes (m=19456 KiB, t=2, p=1)");
    println!(
        "  {:<12} {single:>8.2?}  ({:.1} ms/hash)",
        "1 thread:",
        per_hash(single)
    );
    println!(
        "  {threads:<12} {parallel:>8.2?}  ({:.1} ms/hash)",
        per_hash(parallel)
    );
    println!(
        "  {:<12} {:>7.2}x",
        "speed-up:",
        single.as_secs_f64() / parallel.as_secs_f64()
    );
    Ok(())
}

/// Hashes `count` passwords on a pool of `threads` threads and returns the wall time.
fn run(manager: &PasswordManager, threads: usize, count: u16) -> Result<Duration, Box<dyn Error>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let items: Vec<_> = (0..count)
        .map(|n| (n, Secret::new(format!("correct horse battery {n}"))))
        .collect();
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let start = Instant::now();
    let hashed = pool.install(|| hash_many(manager, items, &mut rng))?;
    let elapsed = start.elapsed();
    if hashed.len() != usize::from(count) {
        return Err(format!("expected {count} hashes, got {}", hashed.len()).into());
    }
    Ok(elapsed)
}
