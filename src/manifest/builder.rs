//! Builds a [`Tree`] from parser events, enforcing the limits that keep hostile input harmless.
//!
//! The limits: nesting depth, the size of the document once aliases are expanded (alias
//! bombs are refused before anything is expanded), recursive aliases and one document per
//! file. The events are masctl's own, so that the parser behind them can change.

use foldhash::HashMap;
use std::ops::Range;

use super::tree::{DuplicateKey, Node, NodeId, NodeKind, ParseError, ParseErrorKind, Scalar, Tree};

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
pub(crate) enum Event {
    /// A document starts.
    DocumentStart,
    /// A scalar, with its anchor id (0 = none).
    Scalar(Scalar, usize),
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

enum Children {
    Seq(Vec<NodeId>),
    Map {
        entries: Vec<(NodeId, NodeId)>,
        pending_key: Option<NodeId>,
        /// Key text → key node, built once the mapping has more than [`INDEXED_FROM`] entries;
        /// smaller ones (a user's own keys: nearly every mapping) are scanned instead, which
        /// spares a table and a copy of every key per mapping.
        index: Option<HashMap<String, NodeId>>,
    },
}

/// Size from which a mapping's keys are indexed rather than scanned for duplicates.
const INDEXED_FROM: usize = 16;

/// Roughly the fewest bytes of text per node in an ordinary manifest: the node arrays are
/// reserved for that many up front, so that they are not copied over and over as they grow.
const BYTES_PER_NODE: usize = 8;

/// Accumulates nodes while events arrive.
pub(crate) struct Builder {
    nodes: Vec<Node>,
    /// Expanded size of each finished node, parallel to `nodes`.
    weights: Vec<u64>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, NodeId>,
    root: Option<NodeId>,
    documents: usize,
    duplicates: Vec<DuplicateKey>,
    /// Most nodes accepted once aliases are expanded.
    max_nodes: u64,
}

impl Builder {
    /// Returns an empty builder for a document of `text_len` bytes.
    pub(crate) fn new(text_len: usize) -> Self {
        let expected = text_len / BYTES_PER_NODE;
        Self {
            max_nodes: max_expanded_nodes(text_len),
            nodes: Vec::with_capacity(expected),
            weights: Vec::with_capacity(expected),
            stack: Vec::new(),
            anchors: HashMap::default(),
            root: None,
            documents: 0,
            duplicates: Vec::new(),
        }
    }

    /// Handles one event; returns `true` at the end of the stream.
    pub(crate) fn event(&mut self, event: Event, span: Range<usize>) -> Result<bool, ParseError> {
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
            Event::Scalar(scalar, anchor) => {
                let id = self.add(NodeKind::Scalar(scalar), span, 1);
                self.register_anchor(anchor, id);
                self.attach(id)?;
            }
            Event::Alias(anchor) => self.alias(anchor, span)?,
            Event::SequenceStart(anchor) => self.open(span, anchor, Children::Seq(Vec::new()))?,
            Event::MappingStart(anchor) => {
                let children = Children::Map {
                    entries: Vec::new(),
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
        Tree {
            nodes: self.nodes,
            root: self.root,
            duplicates: self.duplicates,
        }
    }

    fn add(&mut self, kind: NodeKind, span: Range<usize>, weight: u64) -> NodeId {
        self.nodes.push(Node { kind, span });
        self.weights.push(weight);
        self.nodes.len() - 1
    }

    fn register_anchor(&mut self, anchor: usize, id: NodeId) {
        // The parser numbers anchors from 1; 0 means "no anchor".
        if anchor != 0 {
            self.anchors.insert(anchor, id);
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
        let (kind, last) = match frame.children {
            Children::Seq(items) => {
                let last = items.last().copied();
                (NodeKind::Seq(items), last)
            }
            Children::Map { entries, .. } => {
                let last = entries.last().map(|&(_, value)| value);
                (NodeKind::Map(entries), last)
            }
        };
        // Block collections end with an empty event at the next token; flow ones at `]`/`}`.
        let children_end = last
            .and_then(|id| self.nodes.get(id))
            .map_or(frame.start, |n| n.span.end);
        let end = if span.is_empty() {
            children_end
        } else {
            span.end.max(children_end)
        };
        let id = self.add(kind, frame.start..end, frame.weight);
        self.register_anchor(frame.anchor, id);
        self.attach(id)
    }

    fn alias(&mut self, anchor: usize, span: Range<usize>) -> Result<(), ParseError> {
        if self.stack.iter().any(|frame| frame.anchor == anchor) {
            return Err(ParseError::new(
                ParseErrorKind::RecursiveAlias,
                "this alias refers to a node that contains it",
                span,
            ));
        }
        let Some(&target) = self.anchors.get(&anchor) else {
            return Err(ParseError::new(
                ParseErrorKind::Syntax,
                "unknown anchor",
                span,
            ));
        };
        self.attach(target).map_err(|mut error| {
            if error.kind == ParseErrorKind::TooLarge {
                error.span = span;
            }
            error
        })
    }

    /// Adds a finished node to the open container (or makes it the root).
    fn attach(&mut self, id: NodeId) -> Result<(), ParseError> {
        let weight = self.weights.get(id).copied().unwrap_or(1);
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(id);
            return Ok(());
        };
        frame.weight = frame.weight.saturating_add(weight);
        let total: u64 = self
            .stack
            .iter()
            .map(|f| f.weight)
            .fold(0, u64::saturating_add);
        if total > self.max_nodes {
            let span = self.nodes.get(id).map_or(0..0, |n| n.span.clone());
            return Err(ParseError::new(
                ParseErrorKind::TooLarge,
                format!(
                    "the document has more than {} nodes once aliases are expanded",
                    self.max_nodes
                ),
                span,
            ));
        }
        let Some(Frame { children, .. }) = self.stack.last_mut() else {
            return Ok(());
        };
        match children {
            Children::Seq(items) => items.push(id),
            Children::Map {
                entries,
                pending_key,
                index,
            } => match pending_key.take() {
                None => *pending_key = Some(id),
                Some(key) => {
                    let nodes = &self.nodes;
                    // Only scalar keys can clash; a mapping or sequence as a key never does.
                    let text = scalar_text(nodes, key);
                    let first = text.and_then(|text| match index {
                        Some(index) => index.get(text).copied(),
                        None => entries
                            .iter()
                            .map(|&(k, _)| k)
                            .find(|&k| scalar_text(nodes, k) == Some(text)),
                    });
                    if let Some(first) = first {
                        self.duplicates.push(DuplicateKey { first, second: key });
                        return Ok(());
                    }
                    entries.push((key, id));
                    match (index, text) {
                        (Some(index), Some(text)) => {
                            index.insert(text.to_owned(), key);
                        }
                        (index @ None, _) if entries.len() > INDEXED_FROM => {
                            *index = Some(
                                entries
                                    .iter()
                                    .filter_map(|&(k, _)| {
                                        scalar_text(nodes, k).map(|t| (t.to_owned(), k))
                                    })
                                    .collect(),
                            );
                        }
                        _ => {}
                    }
                }
            },
        }
        Ok(())
    }
}

/// The text of node `id` when it is a scalar.
fn scalar_text(nodes: &[Node], id: NodeId) -> Option<&str> {
    match nodes.get(id).map(|node| &node.kind) {
        Some(NodeKind::Scalar(scalar)) => Some(&scalar.text),
        _ => None,
    }
}
