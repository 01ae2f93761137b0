//! The random strings MAS generates: compatibility access tokens, registration tokens and
//! device ids (mas-facts §8).
//!
//! Randomness always comes from the caller's RNG (in production `env::Env::rng`), drawn with
//! rand 0.8's `Alphanumeric` as MAS draws it, so a seeded RNG gives reproducible values. This
//! module does no I/O and knows nothing about the database.

use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;

use crate::model::Secret;

/// The prefix of compatibility access tokens.
const COMPAT_ACCESS_PREFIX: &str = "mct";
/// Random characters in a compatibility access token.
const COMPAT_RANDOM_LEN: usize = 30;
/// Characters in a token checksum.
const CHECKSUM_LEN: usize = 6;
/// Characters in a generated registration token.
const REGISTRATION_TOKEN_LEN: usize = 12;
/// Characters in a generated device id.
const DEVICE_ID_LEN: usize = 10;
/// The base62 digits MAS writes checksums with, in value order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Returns a new compatibility access token: `mct_` + 30 `[A-Za-z0-9]` + `_` + checksum.
///
/// This is the token `issue-compatibility-token` stores in `compat_access_tokens.access_token`
/// and prints; it is a credential, hence a [`Secret`].
pub fn compat_access_token(rng: &mut (impl RngCore + ?Sized)) -> Secret {
    let random = Alphanumeric.sample_string(rng, COMPAT_RANDOM_LEN);
    let base = format!("{COMPAT_ACCESS_PREFIX}_{random}");
    let checksum = compat_token_checksum(&base);
    Secret::new(format!("{base}_{checksum}"))
}

/// Returns the 6-character checksum MAS appends to `prefix_and_random` (`mct_<random>`).
///
/// It is the CRC-32/ISO-HDLC (zlib's `crc32`) of the string, written in base62 with the
/// alphabet `0-9A-Za-z`. MAS emits the digits least-significant first and then left-pads the
/// result with `0` to six characters, so the padding sits on the "wrong" side for a number:
/// this is MAS's format, not a bug to fix. 62^6 exceeds 2^32, so six digits always suffice.
#[must_use]
pub fn compat_token_checksum(prefix_and_random: &str) -> String {
    let mut value = crc32fast::hash(prefix_and_random.as_bytes());
    let mut digits = String::with_capacity(CHECKSUM_LEN);
    while value > 0 {
        // `value % 62` is below 62, so the index is in bounds; `get` keeps that visible.
        let digit = BASE62.get((value % 62) as usize).copied().unwrap_or(b'0');
        digits.push(char::from(digit));
        value /= 62;
    }
    format!("{digits:0>CHECKSUM_LEN$}")
}

/// Returns whether `token` has exactly the shape of a MAS compatibility access token and
/// its checksum matches: `mct_`, 30 `[A-Za-z0-9]`, `_`, the 6-character checksum.
#[must_use]
pub fn is_valid_compat_access_token(token: &str) -> bool {
    let Some((base, checksum)) = token.rsplit_once('_') else {
        return false;
    };
    let Some(random) = base.strip_prefix("mct_") else {
        return false;
    };
    random.len() == COMPAT_RANDOM_LEN
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
        && checksum == compat_token_checksum(base)
}

/// Returns a new user registration token: 12 characters uniformly from `[A-Za-z0-9]`.
pub fn registration_token(rng: &mut (impl RngCore + ?Sized)) -> String {
    Alphanumeric.sample_string(rng, REGISTRATION_TOKEN_LEN)
}

/// Returns a new device id: 10 characters uniformly from `[A-Za-z0-9]`.
pub fn device_id(rng: &mut (impl RngCore + ?Sized)) -> String {
    Alphanumeric.sample_string(rng, DEVICE_ID_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// A token from MAS's own test suite (`crates/data-model/src/tokens.rs`).
    const MAS_TOKEN: &str = "mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8S_alcBB4";

    fn is_alphanumeric(value: &str) -> bool {
        value.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn reproduces_the_mas_checksum() {
        assert_eq!(
            compat_token_checksum("mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8S"),
            "alcBB4"
        );
        assert!(is_valid_compat_access_token(MAS_TOKEN));
    }

    #[test]
    fn pads_short_checksums_on_the_left() {
        // CRC-32 of the empty string is 0; of "a" is 0xE8B7BE43 (six digits, no padding).
        assert_eq!(compat_token_checksum(""), "000000");
        assert_eq!(compat_token_checksum("a").len(), 6);
        // Search a few inputs whose CRC is below 62^5 and check the padding side.
        let short = (0..10_000)
            .map(|n| format!("mct_{n}"))
            .find(|base| crc32fast::hash(base.as_bytes()) < 62u32.pow(5))
            .unwrap();
        let checksum = compat_token_checksum(&short);
        assert!(checksum.starts_with('0'), "{checksum}");
        let mut value = 0u64;
        for digit in checksum.trim_start_matches('0').bytes().rev() {
            let position = BASE62.iter().position(|&c| c == digit).unwrap();
            value = value * 62 + position as u64;
        }
        assert_eq!(value, u64::from(crc32fast::hash(short.as_bytes())));
    }

    #[test]
    fn rejects_a_changed_token() {
        let token = compat_access_token(&mut ChaCha20Rng::seed_from_u64(1));
        let token = token.expose();
        assert!(is_valid_compat_access_token(token));
        for position in 0..token.len() {
            let mut changed = token.as_bytes().to_vec();
            changed[position] = if changed[position] == b'x' {
                b'y'
            } else {
                b'x'
            };
            let changed = String::from_utf8(changed).unwrap();
            assert!(!is_valid_compat_access_token(&changed), "{changed}");
        }
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "mct_",
            "mct__alcBB4",
            "mat_16tugBE5Ta9LIWoSJaAEHHq2g3fx8S_alcBB4",
            "mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8S_alcBB4_",
            "mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8S-alcBB4",
            "mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8Salcb4",
            "syt_YWxpY2U_FMsGbYjmDcvwCbDiCBDr_0sP3sl",
        ] {
            assert!(!is_valid_compat_access_token(bad), "{bad}");
        }
        // A correct checksum over a random part of the wrong length is still refused.
        let short = "mct_16tugBE5Ta9LIWoSJaAEHHq2g3fx8";
        assert!(!is_valid_compat_access_token(&format!(
            "{short}_{}",
            compat_token_checksum(short)
        )));
    }

    #[test]
    fn generates_the_documented_shapes() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for _ in 0..100 {
            let token = compat_access_token(&mut rng);
            let token = token.expose();
            assert_eq!(token.len(), 4 + 30 + 1 + 6);
            assert!(token.starts_with("mct_") && is_alphanumeric(&token[4..34]));
            assert_eq!(&token[34..35], "_");
            assert!(is_alphanumeric(&token[35..]));

            let registration = registration_token(&mut rng);
            assert_eq!(registration.len(), 12);
            assert!(is_alphanumeric(&registration));

            let device = device_id(&mut rng);
            assert_eq!(device.len(), 10);
            assert!(is_alphanumeric(&device));
        }
    }

    #[test]
    fn is_reproducible_with_a_seed() {
        let draw = |seed| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let token = compat_access_token(&mut rng).expose().to_owned();
            (token, registration_token(&mut rng), device_id(&mut rng))
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
        // Pinned values: a change here changes every generated token and id.
        insta::assert_debug_snapshot!(draw(42), @r#"
        (
            "mct_1goaAGyKqKWL06ceEcXxGu98ZnxuVE_sgJpM3",
            "IRio2MfZ6FAe",
            "TrXvJnvvmW",
        )
        "#);
    }

    #[test]
    fn uses_the_whole_alphabet() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let sample: String = (0..200).map(|_| registration_token(&mut rng)).collect();
        let distinct: std::collections::BTreeSet<char> = sample.chars().collect();
        assert_eq!(distinct.len(), 62);
    }
}
