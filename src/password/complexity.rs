//! Password strength, scored the way MAS scores it.
//!
//! MAS runs the `zxcvbn` 3.1.1 crate on the plaintext as typed (before any normalisation or
//! pepper) with no user inputs, and accepts the password iff the score (0–4) is at least
//! `passwords.minimum_complexity`. The same crate version is pinned so scores are identical.

/// Returns the zxcvbn score (0–4) of `password`, with no user inputs.
pub(super) fn score(password: &str) -> u8 {
    u8::from(zxcvbn::zxcvbn(password, &[]).score())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scores_known_passwords() {
        assert_eq!(score(""), 0);
        assert_eq!(score("password"), 0);
        assert_eq!(score("hunter2"), 1);
        assert_eq!(score("Tr0ub4dour&3"), 2);
        assert_eq!(score("kitten-piano"), 3);
        assert_eq!(score("correct-horse-battery-staple-lamp"), 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn never_panics(password in "\\PC{0,120}") {
            prop_assert!(score(&password) <= 4);
        }
    }
}
