//! serde over the span tree: decodes `raw` structs and collects every problem, not just the first.
//!
//! serde stops at the first error, so [`decode`] runs the derived `Deserialize` impls in a loop:
//! each failure is recorded with the node it happened at, that node is then *masked* (its
//! sequence item or mapping entry is hidden from the next attempt) and decoding starts again,
//! until it succeeds. A missing field whose entry was masked (or misspelt) is a consequence, not
//! a new problem, and is not reported twice. Unknown fields never stop decoding: the struct
//! deserializer knows the field names serde passes it, records the stranger and skips it.
//!
//! The result of a decode that reported problems is only used to find more problems.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, UsizeDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, MapAccess, SeqAccess, Unexpected,
};

use super::spanned;
use super::suggest::{closest, list, shorten};
use super::tree::{NodeId, NodeKind, Tree};

pub(crate) use super::de_node::NodeDe;

/// Most problems recorded for one file before decoding gives up.
pub(crate) const MAX_PROBLEMS: usize = 100;

/// What kind of problem decoding found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProblemKind {
    /// A key the struct does not have.
    UnknownField,
    /// A value of the wrong YAML type.
    InvalidType,
    /// A value of the right type that is not allowed (unknown enum value, out of range).
    InvalidValue,
    /// A required key is absent.
    MissingField,
}

/// One problem, located at a node.
#[derive(Debug)]
pub(crate) struct Problem {
    /// The kind.
    pub(crate) kind: ProblemKind,
    /// The node to point at.
    pub(crate) node: NodeId,
    /// The message; never contains a scalar's text.
    pub(crate) message: String,
    /// A hint, if there is a useful one.
    pub(crate) help: Option<String>,
}

/// What [`decode`] produced.
#[derive(Debug)]
pub(crate) struct Decoded<T> {
    /// The value, if decoding eventually succeeded.
    pub(crate) value: Option<T>,
    /// Every problem, in file order.
    pub(crate) problems: Vec<Problem>,
    /// `true` when decoding stopped after [`MAX_PROBLEMS`].
    pub(crate) truncated: bool,
}

/// Decodes `T` from the node `root`, collecting every problem.
pub(crate) fn decode<T: DeserializeOwned>(tree: &Tree, root: NodeId) -> Decoded<T> {
    run(tree, root, Role::Value, None)
}

/// Decodes `T` from the node `root` as if the mapping `root` did not have the entry whose key
/// is the node `key`: the caller decodes that entry's value on its own.
pub(crate) fn decode_without<T: DeserializeOwned>(
    tree: &Tree,
    root: NodeId,
    key: NodeId,
) -> Decoded<T> {
    run(tree, root, Role::Value, Some((root, key)))
}

/// Decodes `T` from the mapping key `key`, read verbatim as keys are (see [`NodeDe::key`]).
pub(crate) fn decode_key<T: DeserializeOwned>(tree: &Tree, key: NodeId) -> Decoded<T> {
    run(tree, key, Role::Key, None)
}

/// Whether the node decoded is a value or a mapping key.
#[derive(Clone, Copy)]
enum Role {
    Value,
    Key,
}

fn run<T: DeserializeOwned>(
    tree: &Tree,
    root: NodeId,
    role: Role,
    skipped: Option<(NodeId, NodeId)>,
) -> Decoded<T> {
    let decoder = Decoder {
        tree,
        skipped,
        masked: RefCell::default(),
        unknown: RefCell::default(),
        reported: RefCell::default(),
    };
    let mut fatal = Vec::new();
    let mut truncated = false;
    let value = loop {
        let node = match role {
            Role::Value => NodeDe::new(&decoder, root),
            Role::Key => NodeDe::key(&decoder, root),
        };
        match T::deserialize(node) {
            Ok(value) => break Some(value),
            Err(error) => {
                let node = error.node.unwrap_or(root);
                if !decoder.is_consequence(&error, node) {
                    fatal.push(Problem {
                        kind: error.kind,
                        node,
                        message: error.message,
                        help: error.help,
                    });
                }
                if fatal.len() + decoder.unknown.borrow().len() >= MAX_PROBLEMS {
                    truncated = true;
                    break None;
                }
                if node == root || !decoder.masked.borrow_mut().insert(node) {
                    break None;
                }
            }
        }
    };
    let mut problems: Vec<Problem> = decoder
        .unknown
        .into_inner()
        .into_iter()
        .map(|u| u.problem)
        .collect();
    problems.extend(fatal);
    problems.sort_by_key(|p| tree.span(p.node).start);
    Decoded {
        value,
        problems,
        truncated,
    }
}

/// An unknown key, with the struct it was found in.
#[derive(Debug)]
struct Unknown {
    problem: Problem,
    map: NodeId,
    suggestion: Option<&'static str>,
}

/// State shared by every node deserializer of one decode.
pub(crate) struct Decoder<'t> {
    pub(crate) tree: &'t Tree,
    /// (mapping, key) of an entry decoded elsewhere, hidden from this decode.
    skipped: Option<(NodeId, NodeId)>,
    masked: RefCell<HashSet<NodeId>>,
    unknown: RefCell<Vec<Unknown>>,
    /// The keys in `unknown`, to record each once however many attempts see it.
    reported: RefCell<HashSet<NodeId>>,
}

impl<'t> Decoder<'t> {
    /// Whether a problem hid this node from decoding.
    pub(crate) fn is_masked(&self, node: NodeId) -> bool {
        self.masked.borrow().contains(&node)
    }

    /// Records an unknown key once, however many decode attempts see it.
    fn unknown_field(&self, map: NodeId, key: NodeId, name: &str, fields: &'static [&'static str]) {
        if !self.reported.borrow_mut().insert(key) {
            return;
        }
        let mut unknown = self.unknown.borrow_mut();
        let suggestion = closest(name, fields);
        let help = if name == "<<" {
            Some("YAML merge keys (`<<`) are not supported; write the fields out".to_owned())
        } else {
            Some(match suggestion {
                Some(field) => format!("did you mean `{field}`?"),
                None => format!("expected one of {}", list(fields)),
            })
        };
        let message = format!("unknown field `{}`", shorten(name));
        let problem = Problem {
            kind: ProblemKind::UnknownField,
            node: key,
            message,
            help,
        };
        unknown.push(Unknown {
            problem,
            map,
            suggestion,
        });
    }

    /// Whether a missing field only follows from a problem already reported in the same mapping.
    fn is_consequence(&self, error: &Error, node: NodeId) -> bool {
        let Some(field) = error.missing_field else {
            return false;
        };
        if self
            .unknown
            .borrow()
            .iter()
            .any(|u| u.map == node && u.suggestion == Some(field))
        {
            return true;
        }
        let Some(NodeKind::Map(entries)) = self.tree.kind(node) else {
            return false;
        };
        entries.iter().any(|&(key, value)| {
            (self.is_masked(key) || self.is_masked(value)) && self.key_text(key) == Some(field)
        })
    }

    /// Returns a key's text, if it is a scalar.
    pub(crate) fn key_text(&self, key: NodeId) -> Option<&'t str> {
        self.tree.text(key)
    }
}

/// A decoding error on its way up to [`decode`].
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) kind: ProblemKind,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
    /// The innermost node the error happened at; set on the way up.
    pub(crate) node: Option<NodeId>,
    missing_field: Option<&'static str>,
}

impl Error {
    /// Returns an error not yet attributed to a node.
    pub(crate) fn new(kind: ProblemKind, message: String, help: Option<String>) -> Self {
        Self {
            kind,
            message,
            help,
            node: None,
            missing_field: None,
        }
    }

    /// Attributes the error to `node` unless a deeper node already claimed it.
    pub(crate) fn at(mut self, node: NodeId) -> Self {
        self.node.get_or_insert(node);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::new(ProblemKind::InvalidValue, message.to_string(), None)
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let found = match unexpected {
            Unexpected::Bool(_) => "a boolean",
            Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
            Unexpected::Float(_) => "a float",
            Unexpected::Char(_) | Unexpected::Str(_) => "a string",
            Unexpected::Unit | Unexpected::Option => "null",
            Unexpected::Seq => "a sequence",
            Unexpected::Map => "a mapping",
            _ => "a value of another type",
        };
        let expected = expected.to_string();
        let expected = if expected.starts_with("struct ") {
            "a mapping".to_owned()
        } else {
            expected
        };
        Self::new(
            ProblemKind::InvalidType,
            format!("expected {expected}, found {found}"),
            None,
        )
    }

    fn invalid_value(_unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::new(
            ProblemKind::InvalidValue,
            format!("invalid value: expected {expected}"),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = match closest(variant, expected) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("expected one of {}", list(expected)),
        };
        let message = format!("unknown value `{}`", shorten(variant));
        Self::new(ProblemKind::InvalidValue, message, Some(help))
    }

    fn missing_field(field: &'static str) -> Self {
        let mut error = Self::new(
            ProblemKind::MissingField,
            format!("missing field `{field}`"),
            None,
        );
        error.missing_field = Some(field);
        error
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let help = format!("expected one of {}", list(expected));
        Self::new(
            ProblemKind::UnknownField,
            format!("unknown field `{}`", shorten(field)),
            Some(help),
        )
    }
}

/// Iterates over a sequence's items, skipping masked ones.
pub(crate) struct SeqDe<'d, 't> {
    pub(crate) decoder: &'d Decoder<'t>,
    pub(crate) items: std::slice::Iter<'t, NodeId>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(&item) = self
            .items
            .by_ref()
            .find(|&&item| !self.decoder.is_masked(item))
        else {
            return Ok(None);
        };
        seed.deserialize(NodeDe::new(self.decoder, item)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // At most this many (masked items are skipped): serde sizes the collection up front.
        Some(self.items.len())
    }
}

/// Iterates over a mapping's entries, skipping masked entries and (for structs) unknown keys.
pub(crate) struct MapDe<'d, 't> {
    pub(crate) decoder: &'d Decoder<'t>,
    pub(crate) map: NodeId,
    pub(crate) entries: std::slice::Iter<'t, (NodeId, NodeId)>,
    /// The struct's field names, or `None` for a free-form map.
    pub(crate) fields: Option<&'static [&'static str]>,
    pub(crate) value: Option<NodeId>,
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        for &(key, value) in self.entries.by_ref() {
            if self.decoder.is_masked(key)
                || self.decoder.is_masked(value)
                || self.decoder.skipped == Some((self.map, key))
            {
                continue;
            }
            if let Some(fields) = self.fields {
                let name = self.decoder.key_text(key).unwrap_or("<complex key>");
                if !fields.contains(&name) {
                    self.decoder.unknown_field(self.map, key, name, fields);
                    continue;
                }
            }
            self.value = Some(value);
            return seed.deserialize(NodeDe::key(self.decoder, key)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(NodeDe::new(self.decoder, value)),
            None => Err(de::Error::custom("a value was requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Hands a [`spanned::Spanned`] visitor the node's range, then the node.
pub(crate) struct SpannedDe<'d, 't> {
    pub(crate) node: NodeDe<'d, 't>,
    pub(crate) step: usize,
}

impl<'de> MapAccess<'de> for SpannedDe<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(&field) = spanned::FIELDS.get(self.step) else {
            return Ok(None);
        };
        seed.deserialize(BorrowedStrDeserializer::new(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let step = self.step;
        self.step += 1;
        let span = self.node.span();
        match step {
            0 => seed.deserialize(UsizeDeserializer::new(span.start)),
            1 => seed.deserialize(UsizeDeserializer::new(span.end)),
            _ => seed.deserialize(self.node),
        }
    }
}
