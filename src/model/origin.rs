//! Where a manifest value came from, so that errors found later (at plan time) can still
//! point at the file, line and column of the offending node.

use std::ops::Range;
use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents};

/// Longest line, in bytes, that a diagnostic shows as a snippet. miette panics when asked to
/// place a label past column 65,535, and a megabyte-long line helps nobody: a problem on such a
/// line is reported by line and column instead.
pub(crate) const MAX_SNIPPET_LINE: usize = 1024;
/// Largest region, in bytes, that a diagnostic shows as a snippet (a multi-line node).
const MAX_SNIPPET: usize = 64 * 1024;

/// One manifest file as read from disk.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as the user gave it (or as found in a directory).
    pub name: String,
    /// The whole text of the file.
    pub text: String,
}

impl SourceFile {
    /// Returns whether a diagnostic can show `span` as a snippet: the lines it covers, with one
    /// line of context on each side, are each at most [`MAX_SNIPPET_LINE`] bytes long and
    /// [`MAX_SNIPPET`] bytes together.
    #[must_use]
    pub fn can_show(&self, span: &Range<usize>) -> bool {
        let text = self.text.as_bytes();
        let start = span.start.min(text.len());
        let end = span.end.clamp(start, text.len());
        // One line of context before: back over the previous newline to the start of that line.
        let line_start = |at: usize| {
            let before = text.get(..at).unwrap_or_default();
            before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let line_end = |at: usize| {
            let after = text.get(at..).unwrap_or_default();
            after
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |i| at + i)
        };
        let first = line_start(start);
        let from = if first > 0 { line_start(first - 1) } else { 0 };
        let last = line_end(end);
        let to = if last < text.len() {
            line_end(last + 1)
        } else {
            last
        };
        to - from <= MAX_SNIPPET
            && text
                .get(from..to)
                .unwrap_or_default()
                .split(|&b| b == b'\n')
                .all(|line| line.len() <= MAX_SNIPPET_LINE)
    }

    /// Returns the 1-based line and column (in characters) of byte `offset`.
    #[must_use]
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = self.text.get(..offset).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// Returns a miette source for diagnostics that label spans of this file.
    #[must_use]
    pub fn named_source(&self) -> NamedSource<String> {
        NamedSource::new(&self.name, self.text.clone()).with_language("yaml")
    }
}

/// A span of a manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file the value was read from.
    pub source: Arc<SourceFile>,
    /// Byte range of the value's node in that file.
    pub span: SourceSpan,
}

impl Origin {
    /// Returns `file:line:column` (1-based) of the span's start, for one-line messages.
    #[must_use]
    pub fn location(&self) -> String {
        let (line, column) = self.source.position(self.span.offset());
        format!("{}:{line}:{column}", self.source.name)
    }

    /// Returns the span as a byte range.
    #[must_use]
    pub fn range(&self) -> Range<usize> {
        self.span.offset()..self.span.offset() + self.span.len()
    }
}

/// A file is its own miette source, named after the file: diagnostics share it through an
/// `Arc` instead of copying the text for every problem.
impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )
        .with_language("yaml");
        Ok(Box::new(contents))
    }
}
