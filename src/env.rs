//! The clock and the random number generator, injected everywhere time or randomness is needed.
//!
//! Production uses the system clock and an OS-seeded RNG; tests use [`MockClock`] and a fixed
//! seed so that ids, timestamps and generated tokens are reproducible (STYLE R9).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A source of "now", the application clock MAS uses for every timestamp and id.
pub trait Clock: Send + Sync {
    /// Returns the current time, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock for tests: starts at a fixed instant and moves forward one millisecond per reading,
/// so that consecutive rows get distinct, ordered timestamps as they would in MAS.
#[derive(Debug)]
pub struct MockClock {
    next: Mutex<DateTime<Utc>>,
}

impl MockClock {
    /// Returns a clock whose first reading is `start`.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            next: Mutex::new(start),
        }
    }

    /// Returns a clock starting at 2026-01-01T00:00:00Z.
    #[must_use]
    pub fn default_start() -> Self {
        Self::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let now = *next;
        *next = now + Duration::milliseconds(1);
        now
    }
}

/// The clock and RNG handles passed to every layer that writes.
#[derive(Clone)]
pub struct Env {
    clock: Arc<dyn Clock>,
    rng: Arc<Mutex<ChaCha20Rng>>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}

impl Env {
    /// Returns the production environment: system clock, RNG seeded from the OS.
    #[must_use]
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rng: Arc::new(Mutex::new(ChaCha20Rng::from_entropy())),
        }
    }

    /// Returns a reproducible environment for tests.
    #[must_use]
    pub fn fixed(clock: Arc<dyn Clock>, seed: u64) -> Self {
        Self {
            clock,
            rng: Arc::new(Mutex::new(ChaCha20Rng::seed_from_u64(seed))),
        }
    }

    /// Returns a reproducible environment with a [`MockClock`] at its default start.
    #[must_use]
    pub fn test(seed: u64) -> Self {
        Self::fixed(Arc::new(MockClock::default_start()), seed)
    }

    /// Returns the current time, truncated to microseconds as PostgreSQL stores it.
    ///
    /// Truncating here keeps in-memory values equal to what a re-read returns.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        let micros = now.timestamp_micros();
        DateTime::from_timestamp_micros(micros).unwrap_or(now)
    }

    /// Locks and returns the RNG.
    pub fn rng(&self) -> MutexGuard<'_, ChaCha20Rng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns a new ULID for a row created at `now`, the way MAS builds them.
    #[must_use]
    pub fn ulid_at(&self, now: DateTime<Utc>) -> ulid::Ulid {
        crate::ids::ulid_at(now, &mut *self.rng())
    }

    /// Returns `count` random bytes.
    #[must_use]
    pub fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut bytes = [0; N];
        self.rng().fill_bytes(&mut bytes);
        bytes
    }
}
