//! One manifest file from bytes to [`raw::Manifest`]: size, UTF-8, YAML syntax, shape and version.
//!
//! Problems become located issues. A file that cannot be read as YAML at all stops here; one
//! with shape problems still yields the parts that decoded, so that `validate` can find more.
//! This is also where password values are masked in the copy of the text that diagnostics
//! show, so that no snippet ever prints a plaintext password or a hash.

use std::sync::Arc;

use super::de::{self, Problem, ProblemKind, MAX_PROBLEMS};
use super::error::{IssueKind, ManifestIssue};
use super::raw::{self, Spanned};
use super::scalar;
use super::span;
use super::tree::{label_span, NodeId, NodeKind, ParseError, ParseErrorKind, Tree};
use crate::model::SourceFile;

/// Largest manifest file accepted, in bytes.
pub(crate) const MAX_FILE_SIZE: usize = 32 * 1024 * 1024;

/// The only manifest format version this masctl reads.
const VERSION: i64 = 1;

/// A file that parsed, with its (masked) text for diagnostics.
pub(crate) struct Document {
    /// The file, as diagnostics show it.
    pub(crate) source: Arc<SourceFile>,
    /// What decoded; parts with problems are missing. `users` is always `None`: users are
    /// decoded one by one with [`Document::user`], so that a large file's users never exist
    /// twice (as raw structs and as checked ones) and can be checked in parallel.
    pub(crate) raw: raw::Manifest,
    /// The file's tree, which the users are decoded from.
    tree: Tree,
    root: NodeId,
    /// The `users` mapping, if the file has one.
    users: Option<NodeId>,
}

impl Document {
    /// Returns the entries (username, user) of the `users` mapping, in file order.
    pub(crate) fn user_entries(&self) -> &[(NodeId, NodeId)] {
        self.users.map_or(&[], |users| self.tree.entries(users))
    }

    /// Decodes one entry of [`Self::user_entries`], pushing its problems to `issues`; `None`
    /// when the username or the user could not be decoded.
    pub(crate) fn user(
        &self,
        (key, value): (NodeId, NodeId),
        issues: &mut Vec<ManifestIssue>,
    ) -> Option<(Spanned<String>, raw::User)> {
        let name = de::decode_key::<Spanned<String>>(&self.tree, key);
        // A broken username hides its entry, as any broken key does.
        let user = name
            .value
            .is_some()
            .then(|| de::decode::<Option<raw::User>>(&self.tree, value));
        let problems = name
            .problems
            .iter()
            .chain(user.iter().flat_map(|user| &user.problems));
        for problem in problems {
            issues.push(problem_issue(&self.tree, self.root, &self.source, problem));
        }
        if user.as_ref().is_some_and(|user| user.truncated) {
            issues.push(too_many_problems(&self.source.name));
        }
        Some((name.value?, user?.value?.unwrap_or_default()))
    }
}

/// Reads one file, pushing its problems to `issues`; `None` when nothing in it is usable.
pub(crate) fn read(
    name: &str,
    bytes: Vec<u8>,
    issues: &mut Vec<ManifestIssue>,
) -> Option<Document> {
    if bytes.len() > MAX_FILE_SIZE {
        let message = format!(
            "`{name}` is {} bytes long; a manifest file may have at most {MAX_FILE_SIZE}",
            bytes.len()
        );
        issues.push(
            ManifestIssue::new(IssueKind::TooLarge, message)
                .help("split the manifest into several files"),
        );
        return None;
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let source = Arc::new(SourceFile {
                name: name.to_owned(),
                text,
            });
            let issue = ManifestIssue::new(IssueKind::InvalidUtf8, "the file is not valid UTF-8")
                .located(&source, at..at + 1, Some("this byte".to_owned()))
                .help("save the file as UTF-8");
            issues.push(issue);
            return None;
        }
    };
    let tree = match span::parse(&text) {
        Ok(tree) => tree,
        Err(error) => {
            let text = masked(text, None);
            issues.push(parse_issue(
                error,
                Arc::new(SourceFile {
                    name: name.to_owned(),
                    text,
                }),
            ));
            return None;
        }
    };
    let source = Arc::new(SourceFile {
        name: name.to_owned(),
        text: masked(text, Some(&tree)),
    });
    let Some(root) = tree.root else {
        let issue = ManifestIssue::new(IssueKind::EmptyFile, "the file holds no manifest")
            .located(&source, 0..0, None)
            .help("a manifest starts with `version: 1`");
        issues.push(issue);
        return None;
    };
    decode(tree, root, &source, issues)
}

fn decode(
    tree: Tree,
    root: NodeId,
    source: &Arc<SourceFile>,
    issues: &mut Vec<ManifestIssue>,
) -> Option<Document> {
    let users = users_entry(&tree, root);
    let decoded = match users {
        Some((key, _)) => de::decode_without::<raw::Manifest>(&tree, root, key),
        None => de::decode::<raw::Manifest>(&tree, root),
    };
    let version = decoded.value.as_ref().and_then(|raw| raw.version.as_ref());
    if let Some(version) = version.filter(|version| version.value != VERSION) {
        // Another format version: the rest of the file would only produce noise.
        let message = format!("manifest version {} is not supported", version.value);
        let label = Some("this masctl reads version 1".to_owned());
        let issue = ManifestIssue::new(IssueKind::UnsupportedVersion, message)
            .located(source, version.span.clone(), label)
            .help("upgrade masctl, or write the manifest in format version 1");
        issues.push(issue);
        return None;
    }
    if version.is_none() {
        issues.extend(missing_version(&tree, root, source));
    }
    for problem in &decoded.problems {
        issues.push(problem_issue(&tree, root, source, problem));
    }
    if decoded.truncated {
        issues.push(too_many_problems(&source.name));
    }
    duplicate_keys(&tree, root, source, issues);
    let raw = decoded.value?;
    Some(Document {
        source: Arc::clone(source),
        raw,
        tree,
        root,
        users: users.map(|(_, users)| users),
    })
}

/// The notice that a file's problems were cut short.
pub(crate) fn too_many_problems(name: &str) -> ManifestIssue {
    let message = format!("stopped after the first {MAX_PROBLEMS} problems in `{name}`");
    ManifestIssue::new(IssueKind::TooManyProblems, message)
}

/// The `users` entry (key, value) of the top mapping, when its value is a mapping: the users
/// are then decoded one by one ([`Document::user`]); anything else there (null, or a value of
/// the wrong type) is decoded and reported with the rest of the file.
fn users_entry(tree: &Tree, root: NodeId) -> Option<(NodeId, NodeId)> {
    let &(key, value) = tree
        .entries(root)
        .iter()
        .find(|&&(key, _)| tree.text(key) == Some("users"))?;
    matches!(tree.kind(value), Some(NodeKind::Map(_))).then_some((key, value))
}

/// Reports a mapping without `version` (or with an empty one); a `version` of the wrong type
/// and a file that is not a mapping were reported by decoding already.
fn missing_version(tree: &Tree, root: NodeId, source: &Arc<SourceFile>) -> Option<ManifestIssue> {
    if !matches!(tree.kind(root), Some(NodeKind::Map(_))) {
        return None;
    }
    match tree.lookup(root, "version") {
        Some(value) if !is_null(tree, value) => None,
        Some(value) => {
            let at = tree.span(value).start;
            let issue = ManifestIssue::new(IssueKind::MissingVersion, "`version` has no value")
                .located(source, at..at, None)
                .help("write `version: 1`");
            Some(issue)
        }
        None => {
            let start = label_span(&source.text, &tree.span(root)).start;
            let issue =
                ManifestIssue::new(IssueKind::MissingVersion, "the manifest has no `version`")
                    .located(source, start..start, None)
                    .help("add `version: 1` as the first line");
            Some(issue)
        }
    }
}

fn is_null(tree: &Tree, id: NodeId) -> bool {
    tree.scalar(id)
        .is_some_and(|scalar| scalar::resolve(&scalar) == Ok(scalar::Resolved::Null))
}

fn problem_issue(
    tree: &Tree,
    root: NodeId,
    source: &Arc<SourceFile>,
    problem: &Problem,
) -> ManifestIssue {
    let (kind, label) = match problem.kind {
        ProblemKind::UnknownField => (IssueKind::UnknownField, "unknown field"),
        ProblemKind::InvalidType => (IssueKind::InvalidType, "wrong type"),
        ProblemKind::InvalidValue => (IssueKind::InvalidValue, "invalid value"),
        ProblemKind::MissingField => (IssueKind::MissingField, "in this mapping"),
    };
    let span = label_span(&source.text, &tree.span(problem.node));
    let mut issue = ManifestIssue::new(kind, problem.message.clone()).located(
        source,
        span,
        Some(label.to_owned()),
    );
    if problem.node == root && problem.kind == ProblemKind::InvalidType {
        issue = issue.help("a manifest is a mapping that starts with `version: 1`");
    } else if let Some(help) = &problem.help {
        issue = issue.help(help.clone());
    }
    issue
}

/// Reports keys written twice in one mapping; a user written twice gets its own wording.
fn duplicate_keys(
    tree: &Tree,
    root: NodeId,
    source: &Arc<SourceFile>,
    issues: &mut Vec<ManifestIssue>,
) {
    let users = tree.lookup(root, "users");
    for duplicate in &tree.duplicates {
        let key = tree.text(duplicate.first).unwrap_or_default();
        let in_users = users.is_some_and(|users| {
            tree.entries(users)
                .iter()
                .any(|&(k, _)| k == duplicate.first)
        });
        let (kind, message) = if in_users {
            (
                IssueKind::DuplicateUser,
                format!("user `{key}` is defined twice"),
            )
        } else {
            (
                IssueKind::DuplicateKey,
                format!("`{key}` appears twice in the same mapping"),
            )
        };
        let second = label_span(&source.text, &tree.span(duplicate.second));
        let first = label_span(&source.text, &tree.span(duplicate.first));
        let issue = ManifestIssue::new(kind, message)
            .located(source, second, Some("defined again here".to_owned()))
            .also(first, "first defined here")
            .help("remove one of them");
        issues.push(issue);
    }
}

fn parse_issue(error: ParseError, source: Arc<SourceFile>) -> ManifestIssue {
    let ParseError {
        kind,
        message,
        span,
    } = error;
    let (kind, help) = match kind {
        // A word match: "found unprintable character" contains "tab" too.
        ParseErrorKind::Syntax
            if message
                .split(|c: char| !c.is_ascii_alphabetic())
                .any(|word| word == "tab" || word == "tabs") =>
        {
            (
                IssueKind::YamlSyntax,
                Some("YAML does not allow tabs for indentation: use spaces"),
            )
        }
        ParseErrorKind::Syntax if message.contains("unprintable") => (
            IssueKind::YamlSyntax,
            Some(
                "the file holds a control character (such as a NUL byte) that YAML does not allow",
            ),
        ),
        ParseErrorKind::Syntax => (IssueKind::YamlSyntax, None),
        ParseErrorKind::MultipleDocuments => (
            IssueKind::MultipleDocuments,
            Some("put each manifest in its own file, or remove the `---` line"),
        ),
        ParseErrorKind::UnsupportedTag => (IssueKind::UnsupportedTag, Some("remove the tag")),
        ParseErrorKind::TooLarge => (
            IssueKind::TooLarge,
            Some("a manifest needs neither deep nesting nor large aliases"),
        ),
        ParseErrorKind::RecursiveAlias => (IssueKind::RecursiveAlias, None),
    };
    let message = if kind == IssueKind::YamlSyntax {
        format!("invalid YAML: {message}")
    } else {
        message
    };
    let mut issue = ManifestIssue::new(kind, message).located(&source, span, None);
    if let Some(help) = help {
        issue = issue.help(help);
    }
    issue
}

/// Returns the text with every password value replaced by `*`, keeping offsets and line breaks.
///
/// Diagnostics print the lines around a problem, so secrets are masked wherever they may be:
/// the value of any `password` key that is a string (a plaintext password), the value of any
/// `hash` key, and anything that looks like a password hash, even in a file that does not parse.
fn masked(text: String, tree: Option<&Tree>) -> String {
    let mut secrets = hash_like(&text);
    if let Some(tree) = tree {
        for &(key, value) in &tree.entries {
            let is_scalar = tree.scalar(value).is_some();
            if is_scalar && matches!(tree.text(key), Some("password" | "hash")) {
                secrets.push(tree.span(value));
            }
        }
    }
    if secrets.is_empty() {
        return text;
    }
    let mut bytes = text.into_bytes();
    for span in secrets {
        for byte in bytes.get_mut(span).into_iter().flatten() {
            if !byte.is_ascii_whitespace() {
                *byte = b'*';
            }
        }
    }
    // Every non-ASCII byte in a masked range became `*`, and ranges start and end on character
    // boundaries, so the result is still UTF-8; fall back to a lossy copy rather than panic.
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Finds runs of text that look like MAS password hashes (`$argon2…`, `$pbkdf2…`, `$2b$…`).
fn hash_like(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    for prefix in ["$argon2", "$pbkdf2", "$2a$", "$2b$", "$2y$"] {
        for (start, _) in text.match_indices(prefix) {
            let rest = text.get(start..).unwrap_or_default();
            let length = rest
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | '}' | ']') || !c.is_ascii()
                })
                .unwrap_or(rest.len());
            found.push(start..start + length);
        }
    }
    found
}
