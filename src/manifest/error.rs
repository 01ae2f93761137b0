//! [`ManifestError`] and [`ManifestIssue`]: every manifest problem as a located miette diagnostic.
//!
//! An issue names its file, labels the offending node (line and column come from the span),
//! carries a stable code (`masctl::manifest::<kind>`) and, where one helps, a hint. A problem that
//! involves two places ("defined twice") labels both: twice in one snippet when they share a
//! file, or with a related note in the other file. Messages never contain a secret, and the
//! snippets of a file have its password values masked (see `validate`).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode, SourceSpan,
    SpanContents,
};

use crate::model::{Origin, SourceFile};

/// The kinds of manifest problems; each has a stable diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssueKind {
    /// A path could not be read.
    Io,
    /// A file, its nesting or its alias expansion is too large.
    TooLarge,
    /// A file is not UTF-8.
    InvalidUtf8,
    /// A file is not valid YAML.
    YamlSyntax,
    /// A file holds more than one YAML document.
    MultipleDocuments,
    /// A YAML tag other than the core schema's.
    UnsupportedTag,
    /// An alias inside the node it refers to.
    RecursiveAlias,
    /// A file holds no document.
    EmptyFile,
    /// A key the manifest format does not have.
    UnknownField,
    /// A value of the wrong YAML type.
    InvalidType,
    /// A value that is not allowed (unknown enum value, number out of range).
    InvalidValue,
    /// A required key is absent.
    MissingField,
    /// The file has no `version`.
    MissingVersion,
    /// The file's `version` is not one this masctl reads.
    UnsupportedVersion,
    /// A key written twice in one mapping.
    DuplicateKey,
    /// A username that is not a valid localpart.
    InvalidUsername,
    /// A user defined twice (also when the names differ only in case).
    DuplicateUser,
    /// An email address that is not valid.
    InvalidEmail,
    /// An email address listed twice for one user, or for two users.
    DuplicateEmail,
    /// A malformed password entry (no source, several sources, bad hash, bad env name …).
    InvalidPassword,
    /// A plaintext password in the manifest without `--allow-plaintext-passwords`.
    PlaintextPassword,
    /// A password's environment variable is not set (or not UTF-8).
    MissingEnvVar,
    /// A password file cannot be read.
    UnreadablePasswordFile,
    /// A password resolved to the empty string.
    EmptyPassword,
    /// A provider id that is not a ULID.
    InvalidUlid,
    /// An upstream link listed twice.
    DuplicateLink,
    /// A registration token string that is not allowed.
    InvalidToken,
    /// A registration token listed twice.
    DuplicateToken,
    /// A timestamp that is not RFC 3339.
    InvalidTimestamp,
    /// A usage limit that is negative or too large.
    InvalidUsageLimit,
    /// A guard value out of range.
    InvalidGuard,
    /// `prune` or `guards` given differently in two files.
    ConflictingSetting,
    /// A file has so many problems that checking stopped.
    TooManyProblems,
    /// The other place of a duplicate (a note, not a problem of its own).
    DefinedHere,
    /// An upstream link names a provider that MAS does not know (found at plan time).
    UnknownProvider,
    /// An upstream link names a disabled provider (found at plan time).
    DisabledProvider,
}

impl IssueKind {
    /// Returns the stable diagnostic code, e.g. `masctl::manifest::unknown_field`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Io => "masctl::manifest::io",
            Self::TooLarge => "masctl::manifest::too_large",
            Self::InvalidUtf8 => "masctl::manifest::invalid_utf8",
            Self::YamlSyntax => "masctl::manifest::yaml_syntax",
            Self::MultipleDocuments => "masctl::manifest::multiple_documents",
            Self::UnsupportedTag => "masctl::manifest::unsupported_tag",
            Self::RecursiveAlias => "masctl::manifest::recursive_alias",
            Self::EmptyFile => "masctl::manifest::empty_file",
            Self::UnknownField => "masctl::manifest::unknown_field",
            Self::InvalidType => "masctl::manifest::invalid_type",
            Self::InvalidValue => "masctl::manifest::invalid_value",
            Self::MissingField => "masctl::manifest::missing_field",
            Self::MissingVersion => "masctl::manifest::missing_version",
            Self::UnsupportedVersion => "masctl::manifest::unsupported_version",
            Self::DuplicateKey => "masctl::manifest::duplicate_key",
            Self::InvalidUsername => "masctl::manifest::invalid_username",
            Self::DuplicateUser => "masctl::manifest::duplicate_user",
            Self::InvalidEmail => "masctl::manifest::invalid_email",
            Self::DuplicateEmail => "masctl::manifest::duplicate_email",
            Self::InvalidPassword => "masctl::manifest::invalid_password",
            Self::PlaintextPassword => "masctl::manifest::plaintext_password",
            Self::MissingEnvVar => "masctl::manifest::missing_env_var",
            Self::UnreadablePasswordFile => "masctl::manifest::unreadable_password_file",
            Self::EmptyPassword => "masctl::manifest::empty_password",
            Self::InvalidUlid => "masctl::manifest::invalid_ulid",
            Self::DuplicateLink => "masctl::manifest::duplicate_link",
            Self::InvalidToken => "masctl::manifest::invalid_token",
            Self::DuplicateToken => "masctl::manifest::duplicate_token",
            Self::InvalidTimestamp => "masctl::manifest::invalid_timestamp",
            Self::InvalidUsageLimit => "masctl::manifest::invalid_usage_limit",
            Self::InvalidGuard => "masctl::manifest::invalid_guard",
            Self::ConflictingSetting => "masctl::manifest::conflicting_setting",
            Self::TooManyProblems => "masctl::manifest::too_many_problems",
            Self::DefinedHere => "masctl::manifest::defined_here",
            Self::UnknownProvider => "masctl::manifest::unknown_provider",
            Self::DisabledProvider => "masctl::manifest::disabled_provider",
        }
    }
}

/// One problem in a manifest, located in its file when it has a place.
#[derive(Debug, Clone)]
pub struct ManifestIssue {
    kind: IssueKind,
    message: String,
    source: Option<FileSource>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    related: Vec<ManifestIssue>,
}

impl ManifestIssue {
    /// Returns an issue with no location (e.g. a path that cannot be read).
    #[must_use]
    pub fn new(kind: IssueKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            labels: Vec::new(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Returns an issue pointing at `origin`, with an optional short label under the node.
    #[must_use]
    pub fn at(
        origin: &Origin,
        kind: IssueKind,
        message: impl Into<String>,
        label: Option<String>,
    ) -> Self {
        Self::new(kind, message).located(
            &origin.source,
            origin.span.offset()..origin.span.offset() + origin.span.len(),
            label,
        )
    }

    /// Points the issue at `span` of `source` (a primary label).
    #[must_use]
    pub fn located(
        mut self,
        source: &Arc<SourceFile>,
        span: Range<usize>,
        label: Option<String>,
    ) -> Self {
        if !source.can_show(&span) {
            // Too long a line for a snippet: say where instead (see `MAX_SNIPPET_LINE`).
            let (line, column) = source.position(span.start);
            self.message = format!(
                "{} (at {}:{line}:{column}; the line is too long to show)",
                self.message, source.name
            );
            return self;
        }
        let span = clamp(&source.text, span);
        self.source = Some(FileSource(Arc::clone(source)));
        self.labels
            .push(LabeledSpan::new_primary_with_span(label, span));
        self
    }

    /// Adds a secondary label in the same file (the other place of a duplicate).
    #[must_use]
    pub fn also(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        if let Some(FileSource(source)) = &self.source {
            if !source.can_show(&span) {
                let (line, column) = source.position(span.start);
                self.message = format!("{} (also line {line}, column {column})", self.message);
                return self;
            }
            let span = clamp(&source.text, span);
            self.labels
                .push(LabeledSpan::new_with_span(Some(label.into()), span));
        }
        self
    }

    /// Adds a hint, shown as `help:` under the snippet.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note about another place, possibly in another file.
    #[must_use]
    pub fn related(mut self, note: ManifestIssue) -> Self {
        self.related.push(note);
        self
    }

    /// Returns the kind of problem.
    #[must_use]
    pub fn kind(&self) -> IssueKind {
        self.kind
    }

    /// Returns the message, without location.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the file the issue points into, if any.
    #[must_use]
    pub fn file(&self) -> Option<&str> {
        self.source
            .as_ref()
            .map(|FileSource(source)| source.name.as_str())
    }

    /// Returns the byte offset of the primary label, for ordering issues within a file.
    pub(crate) fn offset(&self) -> usize {
        self.labels.first().map_or(0, LabeledSpan::offset)
    }
}

/// Keeps a span inside the text and on character boundaries, so rendering can never fail.
fn clamp(text: &str, span: Range<usize>) -> SourceSpan {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    (start..end).into()
}

impl fmt::Display for ManifestIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestIssue {}

impl Diagnostic for ManifestIssue {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.kind == IssueKind::DefinedHere {
            Severity::Advice
        } else {
            Severity::Error
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|source| source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|issue| issue as &dyn Diagnostic),
        ))
    }
}

/// Everything wrong with a set of manifest files.
#[derive(Debug, Clone)]
pub struct ManifestError {
    issues: Vec<ManifestIssue>,
}

impl ManifestError {
    /// Wraps the issues found; there should be at least one.
    #[must_use]
    pub fn from_issues(issues: Vec<ManifestIssue>) -> Self {
        Self { issues }
    }

    /// Returns an error with one issue at `origin`, for problems found after loading (at plan
    /// time), such as a link to a provider that MAS does not know.
    #[must_use]
    pub fn at(
        origin: &Origin,
        kind: IssueKind,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let mut issue = ManifestIssue::at(origin, kind, message, None);
        issue.help = help;
        Self {
            issues: vec![issue],
        }
    }

    /// Combines several errors into one that reports all their issues; `None` if there are none.
    #[must_use]
    pub fn merge(errors: Vec<ManifestError>) -> Option<Self> {
        let issues: Vec<ManifestIssue> =
            errors.into_iter().flat_map(|error| error.issues).collect();
        (!issues.is_empty()).then_some(Self { issues })
    }

    /// Returns every issue, in file order.
    #[must_use]
    pub fn issues(&self) -> &[ManifestIssue] {
        &self.issues
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.issues.len() {
            1 => f.write_str("1 problem in the manifest"),
            n => write!(f, "{n} problems in the manifest"),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Diagnostic for ManifestError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("masctl::manifest::invalid"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.issues.iter().map(|issue| issue as &dyn Diagnostic),
        ))
    }
}

/// A manifest file as a miette source, shared by all issues in it (no copy per issue).
#[derive(Debug, Clone)]
struct FileSource(Arc<SourceFile>);

impl SourceCode for FileSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .0
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let contents = MietteSpanContents::new_named(
            self.0.name.clone(),
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
