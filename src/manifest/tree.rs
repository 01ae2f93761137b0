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
//!
//! The tree is compact because a large manifest has millions of nodes and every byte of them is
//! fresh memory the kernel must clear: a node is 20 bytes, scalar texts share one string, and
//! the children of every sequence and mapping share one array, each container's side by side.

use std::ops::Range;

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeId = usize;

/// A parsed YAML document.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Every node; aliases share the node of their anchor.
    pub(crate) nodes: Vec<Node>,
    /// Every scalar's text, back to back.
    pub(crate) texts: String,
    /// Every sequence's items, each sequence's contiguous.
    pub(crate) items: Vec<NodeId>,
    /// Every mapping's entries, each mapping's contiguous.
    pub(crate) entries: Vec<(NodeId, NodeId)>,
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

    /// Returns a node's byte range in the file (empty for an unknown node).
    pub(crate) fn span(&self, id: NodeId) -> Range<usize> {
        self.get(id).map_or(0..0, Node::span)
    }

    /// Returns what a node holds.
    pub(crate) fn kind(&self, id: NodeId) -> Option<NodeKind<'_>> {
        Some(match self.get(id)?.content {
            Content::Scalar { text, plain, tag } => NodeKind::Scalar(Scalar {
                text: self.texts.get(text.range()).unwrap_or_default(),
                plain,
                tag,
            }),
            Content::Seq(items) => NodeKind::Seq(self.items.get(items.range()).unwrap_or_default()),
            Content::Map(entries) => {
                NodeKind::Map(self.entries.get(entries.range()).unwrap_or_default())
            }
        })
    }

    /// Returns a mapping's entries (nothing for other nodes).
    pub(crate) fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match self.kind(id) {
            Some(NodeKind::Map(entries)) => entries,
            _ => &[],
        }
    }

    /// Returns a scalar (`None` for other nodes).
    pub(crate) fn scalar(&self, id: NodeId) -> Option<Scalar<'_>> {
        match self.kind(id) {
            Some(NodeKind::Scalar(scalar)) => Some(scalar),
            _ => None,
        }
    }

    /// Returns a scalar's text.
    pub(crate) fn text(&self, id: NodeId) -> Option<&str> {
        self.scalar(id).map(|scalar| scalar.text)
    }

    /// Returns the value under `key` in the mapping `map`.
    pub(crate) fn lookup(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entries(map)
            .iter()
            .find(|&&(k, _)| self.text(k) == Some(key))
            .map(|&(_, value)| value)
    }
}

/// One YAML node, as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub(crate) content: Content,
    /// Byte range of the whole node in the file (quotes and flow brackets included).
    start: u32,
    end: u32,
}

impl Node {
    /// Returns a node; offsets past `u32::MAX` (far beyond the largest manifest) saturate.
    pub(crate) fn new(content: Content, span: Range<usize>) -> Self {
        Self {
            content,
            start: saturate(span.start),
            end: saturate(span.end),
        }
    }

    /// Returns the node's byte range in the file.
    pub(crate) fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// What a node holds, as stored: ranges into the tree's shared arrays.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    /// A scalar: its text in [`Tree::texts`].
    Scalar {
        text: Slice,
        plain: bool,
        tag: Option<CoreTag>,
    },
    /// A sequence: its items in [`Tree::items`].
    Seq(Slice),
    /// A mapping: its entries in [`Tree::entries`].
    Map(Slice),
}

/// A range of one of the tree's shared arrays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice {
    start: u32,
    len: u32,
}

impl Slice {
    /// Returns the slice `start..end` of a shared array.
    pub(crate) fn new(range: Range<usize>) -> Self {
        let start = saturate(range.start);
        Self {
            start,
            len: saturate(range.end).saturating_sub(start),
        }
    }

    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

fn saturate(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// What a node holds, borrowed from the tree.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeKind<'t> {
    /// A scalar.
    Scalar(Scalar<'t>),
    /// A sequence's items.
    Seq(&'t [NodeId]),
    /// A mapping's entries, in file order.
    Map(&'t [(NodeId, NodeId)]),
}

/// A scalar as written, before any type resolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scalar<'t> {
    /// The scalar's value after YAML unescaping and folding.
    pub(crate) text: &'t str,
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

// The module docs promise small nodes: a large manifest has millions of them.
const _: () = assert!(std::mem::size_of::<Node>() <= 20);
