//! The `serde::Deserializer` for one node of the span tree.
//!
//! Type checks happen here rather than in serde's visitors so that messages say what YAML
//! expects ("expected an integer, found a string") and hint at the fix (quotes). A map key is
//! read verbatim whatever it looks like (`1234:` is the username "1234"); a value is not (a bare
//! `1234` where a string belongs is refused, as the schema refuses it in editors).

use std::ops::Range;

use serde::de::value::StrDeserializer;
use serde::de::{self, EnumAccess, IntoDeserializer, VariantAccess, Visitor};

use super::de::{Decoder, Error, MapDe, ProblemKind, SeqDe, SpannedDe};
use super::scalar::{describe, resolve, Resolved};
use super::spanned;
use super::tree::{NodeId, NodeKind, Scalar};

/// Deserializes one node.
#[derive(Clone, Copy)]
pub(crate) struct NodeDe<'d, 't> {
    decoder: &'d Decoder<'t>,
    node: NodeId,
    is_key: bool,
}

type Result<T> = std::result::Result<T, Error>;

macro_rules! integer {
    ($($method:ident => $visit:ident($ty:ty),)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let value = self.integer()?;
            let value = <$ty>::try_from(value).map_err(|_| {
                let message = format!(
                    "the number is out of range: expected an integer from {} to {}",
                    <$ty>::MIN,
                    <$ty>::MAX
                );
                Error::new(ProblemKind::InvalidValue, message, None).at(self.node)
            })?;
            self.tag(visitor.$visit(value))
        }
    )*};
}

impl<'d, 't> NodeDe<'d, 't> {
    /// Returns the deserializer of a value node.
    pub(crate) fn new(decoder: &'d Decoder<'t>, node: NodeId) -> Self {
        Self {
            decoder,
            node,
            is_key: false,
        }
    }

    /// Returns the deserializer of a mapping key (read verbatim, see the module docs).
    pub(crate) fn key(decoder: &'d Decoder<'t>, node: NodeId) -> Self {
        Self {
            decoder,
            node,
            is_key: true,
        }
    }

    fn get(&self) -> Result<NodeKind<'t>> {
        self.decoder
            .tree
            .kind(self.node)
            .ok_or_else(|| Error::new(ProblemKind::InvalidValue, "dangling node".into(), None))
    }

    /// Attributes an error from a visitor to this node (unless a deeper node claimed it).
    fn tag<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| e.at(self.node))
    }

    /// Returns the node's byte range.
    pub(crate) fn span(&self) -> Range<usize> {
        self.decoder.tree.span(self.node)
    }

    fn scalar(&self) -> Result<Option<(Scalar<'t>, Resolved<'t>)>> {
        match self.get()? {
            NodeKind::Scalar(scalar) => {
                let resolved = resolve(&scalar).map_err(|message| {
                    Error::new(ProblemKind::InvalidType, message, None).at(self.node)
                })?;
                Ok(Some((scalar, resolved)))
            }
            _ => Ok(None),
        }
    }

    fn type_error(&self, expected: &str) -> Error {
        let found = self.get().map_or("nothing", describe);
        let quoted = matches!(self.scalar(), Ok(Some((scalar, _))) if !scalar.plain);
        let help = if quoted && found == "a string" && expected != "a string" {
            Some("remove the quotes: quoted values are always strings".to_owned())
        } else if expected == "a string" && matches!(found, "a boolean" | "an integer" | "a float")
        {
            Some("put the value in quotes to make it a string".to_owned())
        } else if expected == "`true` or `false`" && found == "a string" {
            Some("YAML 1.2 reads only `true` and `false` as booleans (not `yes`, `no`, `on` or `off`)".to_owned())
        } else if expected == "a sequence" && found != "a mapping" {
            Some("write a list, e.g. `[one, two]` or one `- item` per line".to_owned())
        } else {
            None
        };
        Error::new(
            ProblemKind::InvalidType,
            format!("expected {expected}, found {found}"),
            help,
        )
        .at(self.node)
    }

    fn integer(&self) -> Result<i128> {
        // A quoted number is a string in YAML; the type error below says to remove the quotes.
        match self.scalar()? {
            Some((_, Resolved::Int(value))) => Ok(value),
            Some((_, Resolved::HugeInt)) => Err(Error::new(
                ProblemKind::InvalidValue,
                "the number is out of range".into(),
                None,
            )
            .at(self.node)),
            _ => Err(self.type_error("an integer")),
        }
    }

    fn text(&self) -> Result<&'t str> {
        match self.scalar()? {
            Some((_, Resolved::Str(text))) => Ok(text),
            Some((scalar, resolved)) if self.is_key && resolved != Resolved::Null => {
                Ok(scalar.text)
            }
            _ => Err(self.type_error("a string")),
        }
    }

    fn map(self, fields: Option<&'static [&'static str]>) -> Result<MapDe<'d, 't>> {
        match self.get()? {
            NodeKind::Map(entries) => Ok(MapDe {
                decoder: self.decoder,
                map: self.node,
                entries: entries.iter(),
                fields,
                value: None,
            }),
            _ => Err(self.type_error("a mapping")),
        }
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.get()? {
            NodeKind::Map(_) => visitor.visit_map(self.map(None)?),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                decoder: self.decoder,
                items: items.iter(),
            }),
            NodeKind::Scalar(_) => match self.scalar()? {
                Some((_, Resolved::Null)) => visitor.visit_unit(),
                Some((_, Resolved::Bool(value))) => visitor.visit_bool(value),
                Some((_, Resolved::Int(value))) => visitor.visit_i128(value),
                Some((_, Resolved::Float(value))) => visitor.visit_f64(value),
                _ => visitor.visit_str(self.text()?),
            },
        };
        result.map_err(|e| e.at(self.node))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.scalar()? {
            Some((_, Resolved::Bool(value))) => self.tag(visitor.visit_bool(value)),
            _ => Err(self.type_error("`true` or `false`")),
        }
    }

    integer! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        #[expect(clippy::cast_precision_loss, reason = "YAML integers are valid floats")]
        let value = match self.scalar()? {
            Some((_, Resolved::Float(value))) => value,
            Some((_, Resolved::Int(value))) => value as f64,
            _ => return Err(self.type_error("a number")),
        };
        self.tag(visitor.visit_f64(value))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.tag(visitor.visit_str(self.text()?))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(self.type_error("binary data (not supported)"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let result = match self.scalar()? {
            Some((_, Resolved::Null)) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        };
        self.tag(result)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.scalar()? {
            Some((_, Resolved::Null)) => self.tag(visitor.visit_unit()),
            _ => Err(self.type_error("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.tag(visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.get()? {
            NodeKind::Seq(items) => self.tag(visitor.visit_seq(SeqDe {
                decoder: self.decoder,
                items: items.iter(),
            })),
            _ => Err(self.type_error("a sequence")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.tag(visitor.visit_map(self.map(None)?))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if name == spanned::SPANNED {
            return visitor.visit_map(SpannedDe {
                node: self,
                step: 0,
            });
        }
        let result = match self.scalar()? {
            // A struct may also accept a string (a password is a string or a mapping); derived
            // structs refuse it with a type error that names "a mapping".
            Some((_, Resolved::Str(text))) => visitor.visit_str(text),
            Some(_) => return Err(self.type_error("a mapping")),
            None => visitor.visit_map(self.map(Some(fields))?),
        };
        result.map_err(|e| e.at(self.node))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.scalar()? {
            Some((_, Resolved::Str(text))) => self.tag(visitor.visit_enum(UnitVariant(text))),
            _ => Err(self.type_error(&format!("one of {}", super::suggest::list(variants)))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
}

/// An enum written as a plain string: only unit variants exist in a manifest.
struct UnitVariant<'a>(&'a str);

impl<'de, 'a> EnumAccess<'de> for UnitVariant<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self)> {
        let name: StrDeserializer<'a, Error> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(de::Error::custom("expected a plain value"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(de::Error::custom("expected a plain value"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(de::Error::custom("expected a plain value"))
    }
}
