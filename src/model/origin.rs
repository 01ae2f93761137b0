//! Where a manifest value came from, so that errors found later (at plan time) can still
//! point at the file, line and column of the offending node.

use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// One manifest file as read from disk.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as the user gave it (or as found in a directory).
    pub name: String,
    /// The whole text of the file.
    pub text: String,
}

impl SourceFile {
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
        let offset = self.span.offset().min(self.source.text.len());
        // A span always starts on a character boundary; fall back to the whole text rather than panic.
        let before = self.source.text.get(..offset).unwrap_or(&self.source.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.source.name)
    }
}
