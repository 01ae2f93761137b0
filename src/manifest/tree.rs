//! The span-carrying YAML tree: every node of a manifest file with its byte range.
//!
//! serde_yaml keeps no node positions, so masctl does not use it for manifests. A file is read
//! once by a span-aware parser ([`super::span`]) into this small arena tree, whose nodes know
//! their byte range in the file; [`super::de`] deserializes the `raw` structs from it, so that
//! every problem, down to a bad email, can point at its node.
//!
//! Aliases share the node of their anchor. Duplicate keys are not in the tree: the later entry
//! is dropped and recorded in [`Tree::duplicates`] so that the caller can name both places.
//! Nothing here knows the YAML parser or the manifest's fields.

use std::ops::Range;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeId = usize;

/// A parsed YAML document.
#[derive(Debug)]
pub(crate) struct Tree {
    /// Every node; aliases share the node of their anchor.
    pub(crate) nodes: Vec<Node>,
    /// The document's top node, `None` for a file with no document (empty or comments only).
    pub(crate) root: Option<NodeId>,
    /// Keys that appeared twice in one mapping; the second entry is not in the tree.
    pub(crate) duplicates: Vec<DuplicateKey>,
}

impl Tree {
    /// Returns a node.
    pub(crate) fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Returns a mapping's entries (nothing for other nodes).
    pub(crate) fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match self.get(id).map(|node| &node.kind) {
            Some(NodeKind::Map(entries)) => entries,
            _ => &[],
        }
    }

    /// Returns a scalar's text.
    pub(crate) fn text(&self, id: NodeId) -> Option<&str> {
        match self.get(id).map(|node| &node.kind) {
            Some(NodeKind::Scalar(scalar)) => Some(&scalar.text),
            _ => None,
        }
    }

    /// Returns the value under `key` in the mapping `map`.
    pub(crate) fn lookup(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entries(map)
            .iter()
            .find(|&&(k, _)| self.text(k) == Some(key))
            .map(|&(_, value)| value)
    }
}

/// One YAML node.
#[derive(Debug)]
pub(crate) struct Node {
    /// Scalar, sequence or mapping.
    pub(crate) kind: NodeKind,
    /// Byte range of the whole node in the file (quotes and flow brackets included).
    pub(crate) span: Range<usize>,
}

/// What a node holds.
#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence of nodes.
    Seq(Vec<NodeId>),
    /// A mapping, entries in file order.
    Map(Vec<(NodeId, NodeId)>),
}

/// A scalar as written, before any type resolution.
#[derive(Debug)]
pub(crate) struct Scalar {
    /// The scalar's value after YAML unescaping and folding.
    pub(crate) text: String,
    /// `true` for plain (unquoted, non-block) scalars, whose type the core schema resolves.
    pub(crate) plain: bool,
    /// An explicit core-schema tag (`!!str`, `!!int`, …), if any.
    pub(crate) tag: Option<CoreTag>,
}

/// The YAML core-schema tags a manifest may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoreTag {
    /// `!!str` or the non-specific `!`.
    Str,
    /// `!!int`.
    Int,
    /// `!!float`.
    Float,
    /// `!!bool`.
    Bool,
    /// `!!null`.
    Null,
}

/// A key written twice in one mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DuplicateKey {
    /// The key that is kept.
    pub(crate) first: NodeId,
    /// The key that was dropped.
    pub(crate) second: NodeId,
}

/// Why a file could not be turned into a tree.
#[derive(Debug)]
pub(crate) struct ParseError {
    /// What went wrong.
    pub(crate) kind: ParseErrorKind,
    /// The message, without position (the span carries that).
    pub(crate) message: String,
    /// Where: often an empty range at the offending character.
    pub(crate) span: Range<usize>,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseErrorKind {
    /// The text is not YAML.
    Syntax,
    /// A second `---` document.
    MultipleDocuments,
    /// A tag other than the core schema's.
    UnsupportedTag,
    /// Nesting deeper than [`MAX_DEPTH`], or aliases expanding past the node limit.
    TooLarge,
    /// An alias used inside the node it refers to.
    RecursiveAlias,
}

impl ParseError {
    /// Returns an error of `kind` at `span`.
    pub(crate) fn new(
        kind: ParseErrorKind,
        message: impl Into<String>,
        span: Range<usize>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            span,
        }
    }
}

/// Returns the part of `span` worth underlining: its first line, without trailing blanks.
///
/// Containers and block scalars span many lines; a label on the first line reads better and
/// keeps the snippet short. A zero-length span stays as it is (miette draws a point).
pub(crate) fn label_span(text: &str, span: &Range<usize>) -> Range<usize> {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let Some(slice) = text.get(start..end) else {
        return start..start;
    };
    let first_line = slice.split('\n').next().unwrap_or_default();
    start..start + first_line.trim_end().len()
}
