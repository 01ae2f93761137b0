//! Reads YAML text into a [`Tree`] with `saphyr-parser`, a span-aware YAML 1.2 event parser.
//!
//! This is the only file that knows which YAML parser is used: switching parser means
//! rewriting this file (events, positions, tags) and nothing else. The parser reports
//! positions in characters; the tree wants byte offsets, which [`CharOffsets`] computes.
//! Tags other than the core schema's are refused here.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use super::builder::{self, Builder};
use super::tree::{CoreTag, ParseError, ParseErrorKind, Tree};

/// Parses one file into a tree.
///
/// # Errors
/// Returns the first syntax error, or a refused construct (see the module docs).
pub(crate) fn parse(text: &str) -> Result<Tree, ParseError> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder::new(text.len());
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| scan_error(&error, &offsets))?;
        let span = offsets.range(span);
        let Some(event) = convert(event, &span)? else {
            continue;
        };
        if builder.event(event, span)? {
            break;
        }
    }
    Ok(builder.finish())
}

fn scan_error(error: &ScanError, offsets: &CharOffsets<'_>) -> ParseError {
    let at = offsets.byte(error.marker().index());
    ParseError::new(ParseErrorKind::Syntax, error.info().to_owned(), at..at)
}

/// Converts the parser's character indices into byte offsets.
///
/// Keeps the byte offset of every 64th character, so that a lookup walks at most 63
/// characters whatever the file's size or line lengths.
struct CharOffsets<'a> {
    text: &'a str,
    checkpoints: Option<Vec<usize>>,
}

impl<'a> CharOffsets<'a> {
    const STRIDE: usize = 64;

    fn new(text: &'a str) -> Self {
        let checkpoints = (!text.is_ascii()).then(|| {
            text.char_indices()
                .step_by(Self::STRIDE)
                .map(|(byte, _)| byte)
                .collect()
        });
        Self { text, checkpoints }
    }

    fn byte(&self, char_index: usize) -> usize {
        let Some(checkpoints) = &self.checkpoints else {
            return char_index.min(self.text.len());
        };
        let Some(&base) = checkpoints.get(char_index / Self::STRIDE) else {
            return self.text.len();
        };
        let rest = self.text.get(base..).unwrap_or_default();
        rest.char_indices()
            .nth(char_index % Self::STRIDE)
            .map_or(self.text.len(), |(byte, _)| base + byte)
    }

    fn range(&self, span: Span) -> Range<usize> {
        let start = self.byte(span.start.index());
        start..self.byte(span.end.index()).max(start)
    }
}

/// Translates a parser event; `None` for events the tree does not need.
fn convert<'a>(
    event: Event<'a>,
    span: &Range<usize>,
) -> Result<Option<builder::Event<'a>>, ParseError> {
    Ok(Some(match event {
        Event::StreamEnd => builder::Event::StreamEnd,
        Event::DocumentStart(_) => builder::Event::DocumentStart,
        Event::Scalar(text, style, anchor, tag) => {
            let tag = scalar_tag(tag.as_deref(), span)?;
            builder::Event::Scalar {
                text,
                plain: style == ScalarStyle::Plain && tag.is_none(),
                tag,
                anchor,
            }
        }
        Event::Alias(anchor) => builder::Event::Alias(anchor),
        Event::SequenceStart(anchor, tag) => {
            collection_tag(tag.as_deref(), "seq", span)?;
            builder::Event::SequenceStart(anchor)
        }
        Event::MappingStart(anchor, tag) => {
            collection_tag(tag.as_deref(), "map", span)?;
            builder::Event::MappingStart(anchor)
        }
        Event::SequenceEnd | Event::MappingEnd => builder::Event::End,
        Event::StreamStart | Event::DocumentEnd | Event::Nothing => return Ok(None),
    }))
}

fn scalar_tag(tag: Option<&Tag>, span: &Range<usize>) -> Result<Option<CoreTag>, ParseError> {
    let Some(tag) = tag else { return Ok(None) };
    if tag.handle == "!" && tag.suffix.is_empty() {
        return Ok(Some(CoreTag::Str));
    }
    if tag.is_yaml_core_schema() {
        match tag.suffix.as_str() {
            "str" => return Ok(Some(CoreTag::Str)),
            "int" => return Ok(Some(CoreTag::Int)),
            "float" => return Ok(Some(CoreTag::Float)),
            "bool" => return Ok(Some(CoreTag::Bool)),
            "null" => return Ok(Some(CoreTag::Null)),
            _ => {}
        }
    }
    Err(unsupported_tag(tag, span))
}

fn collection_tag(
    tag: Option<&Tag>,
    expected: &str,
    span: &Range<usize>,
) -> Result<(), ParseError> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
        Some(tag) => Err(unsupported_tag(tag, span)),
    }
}

fn unsupported_tag(tag: &Tag, span: &Range<usize>) -> ParseError {
    let shown = if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
    };
    ParseError::new(
        ParseErrorKind::UnsupportedTag,
        format!("the tag `{shown}` is not supported in a manifest"),
        span.clone(),
    )
}
