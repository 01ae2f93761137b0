//! MAS's ids: ULIDs whose time part is the row's `created_at`, stored in `uuid` columns.

use chrono::{DateTime, Utc};
use rand::RngCore;
use ulid::Ulid;
use uuid::Uuid;

/// Returns the ULID MAS would give a row created at `now`.
///
/// The top 48 bits are `now` in Unix milliseconds; the low 80 bits are a random `u16` followed
/// by a random `u64`, in that order, as MAS draws them (mas-facts §3). Cleanup jobs and
/// "created before/after" filters read the time back from the id, so it must be the real one.
pub fn ulid_at(now: DateTime<Utc>, rng: &mut impl RngCore) -> Ulid {
    // Timestamps before 1970 cannot occur from a real clock; clamp rather than wrap.
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let high = u128::from(u16::try_from(rng.next_u32() & 0xFFFF).unwrap_or(0));
    let low = u128::from(rng.next_u64());
    Ulid::from_parts(millis, (high << 64) | low)
}

/// Returns the uuid column value holding `id` (same 128 bits, no version bits set).
#[must_use]
pub fn to_uuid(id: Ulid) -> Uuid {
    Uuid::from_u128(id.0)
}

/// Returns the ULID stored in a uuid column.
#[must_use]
pub fn from_uuid(id: Uuid) -> Ulid {
    Ulid(id.as_u128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn uuid_and_ulid_share_their_bits() {
        // The example from mas-facts §3.
        let ulid: Ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().expect("valid ULID");
        assert_eq!(
            to_uuid(ulid).to_string(),
            "01563e3a-b5d3-d676-4c61-efb99302bd5b"
        );
        assert_eq!(from_uuid(to_uuid(ulid)), ulid);
        assert_eq!(ulid.timestamp_ms(), 1_469_922_850_259);
    }

    #[test]
    fn time_part_is_created_at() {
        let now = DateTime::from_timestamp_millis(1_767_225_600_123).expect("valid time");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let a = ulid_at(now, &mut rng);
        let b = ulid_at(now, &mut rng);
        assert_eq!(a.timestamp_ms(), 1_767_225_600_123);
        assert_eq!(b.timestamp_ms(), 1_767_225_600_123);
        assert_ne!(a, b);
    }
}
