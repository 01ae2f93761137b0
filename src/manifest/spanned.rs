//! [`Spanned`]: a raw value together with the byte range of its YAML node.
//!
//! The tree deserializer ([`super::de`]) recognises the private struct name [`SPANNED`] and hands
//! the visitor the node's range and then the node itself (the same protocol as `serde_spanned`
//! uses for TOML). Any other deserializer fails on it, which is fine: raw manifests are only ever
//! read from the span tree. For schemas and serialisation a `Spanned<T>` is just a `T`.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};

/// The struct name that asks the tree deserializer for a span.
pub(crate) const SPANNED: &str = "$masctl::private::Spanned";
/// The field that carries the start offset.
pub(crate) const START: &str = "$masctl::private::start";
/// The field that carries the end offset.
pub(crate) const END: &str = "$masctl::private::end";
/// The field that carries the value itself.
pub(crate) const VALUE: &str = "$masctl::private::value";
/// All three fields, in the order the deserializer yields them.
pub(crate) const FIELDS: &[&str] = &[START, END, VALUE];

/// A value read from a manifest, with the byte range of its node in the file.
///
/// Equality, hashing and serialisation look at the value only.
#[derive(Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Byte range of the node in its file (empty for values built in code).
    pub span: Range<usize>,
}

impl<T> Spanned<T> {
    /// Wraps a value built in code (no position), e.g. for writing a manifest.
    pub fn new(value: T) -> Self {
        Self { value, span: 0..0 }
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} @ {:?}", self.value, self.span)
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED, FIELDS, SpannedVisitor(PhantomData))
    }
}

struct SpannedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
    type Value = Spanned<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a value with its position")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let position = |key: Option<&str>, expected: &'static str| {
            if key == Some(expected) {
                Ok(())
            } else {
                Err(de::Error::missing_field(expected))
            }
        };
        position(map.next_key::<&str>()?, START)?;
        let start: usize = map.next_value()?;
        position(map.next_key::<&str>()?, END)?;
        let end: usize = map.next_value()?;
        position(map.next_key::<&str>()?, VALUE)?;
        let value = map.next_value()?;
        Ok(Spanned {
            value,
            span: start..end,
        })
    }
}
