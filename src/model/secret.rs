//! Strings and bytes that must never be printed, logged or serialised.

use std::fmt;

use serde::{Serialize, Serializer};
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// A secret value (plaintext password, pepper, password hash, shared secret).
///
/// `Debug`, `Display` and `Serialize` all print `<redacted>`; the memory is zeroed on drop.
/// The only way to read the value is [`Secret::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// Returns the secret itself. Call it only where the value is consumed (hashing, SQL).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The inner [`Zeroizing`] wipes the value when a `Secret` (or any clone of it) is dropped.
impl ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// Secret bytes (a password pepper read from MAS's config, which may be any bytes).
///
/// Like [`Secret`]: `Debug` and `Serialize` print `<redacted>` and the memory is zeroed on drop.
/// There is deliberately no `Display`. Read the value with [`SecretBytes::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps secret bytes.
    #[must_use]
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// Returns the bytes themselves. Call it only where the value is consumed (hashing).
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// The inner [`Zeroizing`] wipes the bytes when a `SecretBytes` (or any clone) is dropped.
impl ZeroizeOnDrop for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only for types that wipe their memory when dropped.
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn secrets_are_wiped_on_drop() {
        wiped_on_drop::<Secret>();
        wiped_on_drop::<SecretBytes>();
        wiped_on_drop::<Zeroizing<String>>();
    }

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
        assert_eq!(
            serde_json::to_string(&secret).expect("serialises"),
            "\"<redacted>\""
        );
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn never_prints_the_bytes() {
        let secret = SecretBytes::new(b"a-secret-pepper".to_vec());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(
            serde_json::to_string(&secret).expect("serialises"),
            "\"<redacted>\""
        );
        assert_eq!(secret.expose(), b"a-secret-pepper");
    }
}
