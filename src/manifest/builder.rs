//! Builds a [`Tree`] from parser events, enforcing the limits that keep hostile input harmless.
//!
//! The limits: nesting depth, the size of the document once aliases are expanded (alias
//! bombs are refused before anything is expanded), recursive aliases and one document per
//! file. The events are masctl's own, so that the parser behind them can change.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::ops::Range;

use foldhash::fast::RandomState;
use foldhash::HashMap;
use hashbrown::HashTable;

use super::tree::{
    Content, CoreTag, DuplicateKey, Node, NodeId, ParseError, ParseErrorKind, Slice, Tree,
};

/// Deepest nesting accepted; a valid manifest needs five levels.
const MAX_DEPTH: usize = 32;

/// Fewest nodes a document may always have once every alias is expanded.
///
/// A manifest of 200,000 ordinary users stays below this; a "billion laughs" alias bomb reaches
/// it after a few levels and is refused before anything is expanded. Larger files get a limit
/// proportional to their size (see [`max_expanded_nodes`]).
const MIN_EXPANDED_NODES_LIMIT: u64 = 2_000_000;

/// Most nodes a document of `text_len` bytes may have once every alias is expanded.
///
/// Without aliases every node needs at least two bytes of text (a one-character scalar and a
/// separator), so no alias-free document is ever refused, however many users it lists, while an
/// alias bomb stays held to a size proportional to the file it came in (itself at most
/// `MAX_FILE_SIZE`).
pub(crate) fn max_expanded_nodes(text_len: usize) -> u64 {
    MIN_EXPANDED_NODES_LIMIT.max(u64::try_from(text_len / 2).unwrap_or(u64::MAX))
}

/// A parser event, in the parser-independent form the builder consumes.
pub(crate) enum Event<'a> {
    /// A document starts.
    DocumentStart,
    /// A scalar, with its anchor id (0 = none).
    Scalar {
        /// The value after YAML unescaping and folding.
        text: Cow<'a, str>,
        /// Whether the scalar is plain (unquoted, not a block scalar) and untagged.
        plain: bool,
        /// Its core-schema tag, if any.
        tag: Option<CoreTag>,
        /// Its anchor id (0 = none).
        anchor: usize,
    },
    /// An alias to the anchor with this id.
    Alias(usize),
    /// A sequence starts, with its anchor id (0 = none).
    SequenceStart(usize),
    /// A mapping starts, with its anchor id (0 = none).
    MappingStart(usize),
    /// The innermost open sequence or mapping ends.
    End,
    /// The input ends.
    StreamEnd,
}

/// A container being built.
struct Frame {
    start: usize,
    anchor: usize,
    /// Expanded size of the container so far (itself included).
    weight: u64,
    children: Children,
}

/// Where an open container's children wait: on the builder's shared pending stacks, from
/// `base` on. A nested container is closed before its parent gets another child, so each open
/// container's children stay contiguous on top of its parent's.
enum Children {
    Seq {
        base: usize,
    },
    Map {
        base: usize,
        pending_key: Option<NodeId>,
        /// The keys by text, built once the mapping has more than [`INDEXED_FROM`] entries;
        /// smaller ones (a user's own keys: nearly every mapping) are scanned instead.
        /// Each entry keeps its key's hash, so that growing the table reads no key again.
        index: Option<HashTable<(u64, NodeId)>>,
    },
}

/// Size from which a mapping's keys are indexed rather than scanned for duplicates.
const INDEXED_FROM: usize = 16;

/// Roughly the fewest bytes of text per node in an ordinary manifest: the node arrays are
/// reserved for that many up front, so that they are not copied over and over as they grow.
const BYTES_PER_NODE: usize = 8;

/// Accumulates nodes while events arrive.
pub(crate) struct Builder {
    tree: Tree,
    /// Children of the open sequences, innermost last.
    pending_items: Vec<NodeId>,
    /// Entries of the open mappings, innermost last.
    pending_entries: Vec<(NodeId, NodeId)>,
    stack: Vec<Frame>,
    /// Anchor id → its node and the node's expanded size.
    anchors: HashMap<usize, (NodeId, u64)>,
    documents: usize,
    /// Most nodes accepted once aliases are expanded.
    max_nodes: u64,
    hasher: RandomState,
}

impl Builder {
    /// Returns an empty builder for a document of `text_len` bytes.
    pub(crate) fn new(text_len: usize) -> Self {
        let expected = text_len / BYTES_PER_NODE;
        let tree = Tree {
            nodes: Vec::with_capacity(expected),
            texts: String::with_capacity(text_len),
            items: Vec::with_capacity(expected / 2),
            entries: Vec::with_capacity(expected / 2),
            ..Tree::default()
        };
        Self {
            tree,
            pending_items: Vec::new(),
            pending_entries: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::default(),
            documents: 0,
            max_nodes: max_expanded_nodes(text_len),
            hasher: RandomState::default(),
        }
    }

    /// Handles one event; returns `true` at the end of the stream.
    pub(crate) fn event(
        &mut self,
        event: Event<'_>,
        span: Range<usize>,
    ) -> Result<bool, ParseError> {
        match event {
            Event::StreamEnd => return Ok(true),
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(ParseError::new(
                        ParseErrorKind::MultipleDocuments,
                        "a manifest file holds one YAML document, this is a second one",
                        span,
                    ));
                }
            }
            Event::Scalar {
                text,
                plain,
                tag,
                anchor,
            } => {
                let texts = &mut self.tree.texts;
                let start = texts.len();
                texts.push_str(&text);
                let text = Slice::new(start..texts.len());
                let id = self.add(Content::Scalar { text, plain, tag }, span);
                self.register_anchor(anchor, id, 1);
                self.attach(id, 1)?;
            }
            Event::Alias(anchor) => self.alias(anchor, span)?,
            Event::SequenceStart(anchor) => {
                let base = self.pending_items.len();
                self.open(span, anchor, Children::Seq { base })?;
            }
            Event::MappingStart(anchor) => {
                let children = Children::Map {
                    base: self.pending_entries.len(),
                    pending_key: None,
                    index: None,
                };
                self.open(span, anchor, children)?;
            }
            Event::End => self.close(&span)?,
        }
        Ok(false)
    }

    /// Returns the tree built so far.
    pub(crate) fn finish(self) -> Tree {
        self.tree
    }

    fn add(&mut self, content: Content, span: Range<usize>) -> NodeId {
        self.tree.nodes.push(Node::new(content, span));
        self.tree.nodes.len() - 1
    }

    fn register_anchor(&mut self, anchor: usize, id: NodeId, weight: u64) {
        // The parser numbers anchors from 1; 0 means "no anchor".
        if anchor != 0 {
            self.anchors.insert(anchor, (id, weight));
        }
    }

    fn open(
        &mut self,
        span: Range<usize>,
        anchor: usize,
        children: Children,
    ) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                format!("the document is nested more than {MAX_DEPTH} levels deep"),
                span,
            ));
        }
        self.stack.push(Frame {
            start: span.start,
            anchor,
            weight: 1,
            children,
        });
        Ok(())
    }

    fn close(&mut self, span: &Range<usize>) -> Result<(), ParseError> {
        let Some(frame) = self.stack.pop() else {
            return Err(ParseError::new(
                ParseErrorKind::Syntax,
                "unbalanced collection end",
                span.clone(),
            ));
        };
        let tree = &mut self.tree;
        let (content, last) = match frame.children {
            Children::Seq { base } => {
                let start = tree.items.len();
                let children = self.pending_items.get(base..).unwrap_or_default();
                tree.items.extend_from_slice(children);
                self.pending_items.truncate(base);
                let last = tree.items.get(start..).and_then(<[_]>::last).copied();
                (Content::Seq(Slice::new(start..tree.items.len())), last)
            }
            Children::Map { base, .. } => {
                let start = tree.entries.len();
                let children = self.pending_entries.get(base..).unwrap_or_default();
                tree.entries.extend_from_slice(children);
                self.pending_entries.truncate(base);
                let last = tree.entries.get(start..).and_then(<[_]>::last);
                let last = last.map(|&(_, value)| value);
                (Content::Map(Slice::new(start..tree.entries.len())), last)
            }
        };
        // Block collections end with an empty event at the next token; flow ones at `]`/`}`.
        let children_end = last.map_or(frame.start, |id| tree.span(id).end);
        let end = if span.is_empty() {
            children_end
        } else {
            span.end.max(children_end)
        };
        let id = self.add(content, frame.start..end);
        self.register_anchor(frame.anchor, id, frame.weight);
        self.attach(id, frame.weight)
    }

    fn alias(&mut self, anchor: usize, span: Range<usize>) -> Result<(), ParseError> {
        if self.stack.iter().any(|frame| frame.anchor == anchor) {
            return Err(ParseError::new(
                ParseErrorKind::RecursiveAlias,
                "this alias refers to a node that contains it",
                span,
            ));
        }
        let Some(&(target, weight)) = self.anchors.get(&anchor) else {
            return Err(ParseError::new(
                ParseErrorKind::Syntax,
                "unknown anchor",
                span,
            ));
        };
        self.attach(target, weight).map_err(|mut error| {
            if error.kind == ParseErrorKind::TooLarge {
                error.span = span;
            }
            error
        })
    }

    /// Adds a finished node, of expanded size `weight`, to the open container (or makes it the
    /// root).
    fn attach(&mut self, id: NodeId, weight: u64) -> Result<(), ParseError> {
        let Some(frame) = self.stack.last_mut() else {
            self.tree.root = Some(id);
            return Ok(());
        };
        frame.weight = frame.weight.saturating_add(weight);
        let total: u64 = self
            .stack
            .iter()
            .map(|f| f.weight)
            .fold(0, u64::saturating_add);
        if total > self.max_nodes {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                format!(
                    "the document has more than {} nodes once aliases are expanded",
                    self.max_nodes
                ),
                self.tree.span(id),
            ));
        }
        let Self {
            tree,
            stack,
            pending_items,
            pending_entries,
            hasher,
            ..
        } = self;
        let Some(Frame { children, .. }) = stack.last_mut() else {
            return Ok(());
        };
        match children {
            Children::Seq { .. } => pending_items.push(id),
            Children::Map {
                base,
                pending_key,
                index,
            } => match pending_key.take() {
                None => *pending_key = Some(id),
                Some(key) => {
                    // Only scalar keys can clash; a mapping or sequence as a key never does.
                    let text = tree.text(key);
                    let entries = pending_entries.get(*base..).unwrap_or_default();
                    let first = text.and_then(|text| match index {
                        Some(index) => index
                            .find(hasher.hash_one(text), |&(_, k)| tree.text(k) == Some(text))
                            .map(|&(_, k)| k),
                        None => entries
                            .iter()
                            .map(|&(k, _)| k)
                            .find(|&k| tree.text(k) == Some(text)),
                    });
                    if let Some(first) = first {
                        tree.duplicates.push(DuplicateKey { first, second: key });
                        return Ok(());
                    }
                    pending_entries.push((key, id));
                    let rehash = |&(hash, _): &(u64, NodeId)| hash;
                    match (index, text) {
                        (Some(index), Some(text)) => {
                            let hash = hasher.hash_one(text);
                            index.insert_unique(hash, (hash, key), rehash);
                        }
                        (index @ None, _)
                            if pending_entries.len().saturating_sub(*base) > INDEXED_FROM =>
                        {
                            let entries = pending_entries.get(*base..).unwrap_or_default();
                            let mut table = HashTable::with_capacity(entries.len() * 2);
                            for &(k, _) in entries {
                                if let Some(text) = tree.text(k) {
                                    let hash = hasher.hash_one(text);
                                    table.insert_unique(hash, (hash, k), rehash);
                                }
                            }
                            *index = Some(table);
                        }
                        _ => {}
                    }
                }
            },
        }
        Ok(())
    }
}
