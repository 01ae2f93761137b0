//! The manifest: YAML files in, a [`DesiredState`] out, or every problem as a located diagnostic.
//!
//! ```text
//! paths ─► bytes ─► span::parse ─► tree::Tree ─► de::decode ─► raw::Manifest ─► validate ─► merge ─► DesiredState
//!                   (YAML syntax, limits)        (shape: keys, types)           (values)    (duplicates)
//! ```
//!
//! Design: serde_yaml keeps no node positions, so a file is parsed once by a span-aware YAML
//! parser (`span`, the only file that knows which parser) into a small tree whose nodes carry
//! byte ranges (`tree`, `builder`). The `raw` serde structs are deserialized from that tree
//! (`de`, `de_node`), which records the node of every problem and keeps going after one: a
//! failing value is masked and decoding restarts, so one run reports every independent problem
//! (only problems in an entry whose required key is broken, e.g. a link without a valid
//! `subject`, show up once that key is fixed).
//! [`raw::Spanned`] values carry their byte range into `validate`, so that value problems (a
//! bad email) and duplicates (`merge`) point at their node too. `raw` also generates the JSON
//! Schema ([`schema`]).
//!
//! Loading reads no secret: `env:` and `file:` passwords are resolved by [`resolve_password`] at
//! plan time, so CI can validate without secrets. Snippets in diagnostics mask password values
//! and hashes (`document`). This module does no database or network I/O and never prints.

mod builder;
mod de;
mod de_node;
mod document;
pub(crate) mod email;
mod error;
mod merge;
pub mod raw;
mod scalar;
mod secrets;
mod span;
mod spanned;
mod suggest;
mod tree;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(crate) use email::check as check_email;
pub use error::{IssueKind, ManifestError, ManifestIssue};
pub(crate) use secrets::check_hash;
pub use secrets::resolve_password;

use crate::model::state::DesiredState;

/// How strict loading is.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Accept `password: "plaintext"` (refused by default: it would sit in Git).
    pub allow_plaintext_passwords: bool,
}

/// A loaded manifest and the files it came from.
#[derive(Debug)]
pub struct Loaded {
    /// What the manifest asks for.
    pub state: DesiredState,
    /// The files read, in merge order, as their names appear in diagnostics.
    pub files: Vec<String>,
}

/// Loads and merges manifest files; a directory contributes its `*.yaml` and `*.yml` files
/// (sorted by name, not recursive).
///
/// # Errors
/// Returns every problem of every file: unreadable paths, YAML errors, unknown fields, invalid
/// values, duplicates across files.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<DesiredState, ManifestError> {
    load_with_files(paths, options).map(|loaded| loaded.state)
}

/// Does what [`load`] does, and also returns the names of the files read.
///
/// # Errors
/// As [`load`].
pub fn load_with_files(paths: &[PathBuf], options: &LoadOptions) -> Result<Loaded, ManifestError> {
    let inputs = collect_files(paths)
        .into_iter()
        .map(|path| {
            let path = path?;
            let name = path.display().to_string();
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Input {
                    name,
                    base: base_dir(&path),
                    bytes,
                }),
                Err(error) => Err(ManifestIssue::new(
                    IssueKind::Io,
                    format!("cannot read `{name}`: {error}"),
                )),
            }
        })
        .collect();
    load_inputs(inputs, options)
}

/// Loads one manifest held in memory; `name` is used in diagnostics and, as a path, to resolve
/// relative `file:` passwords.
///
/// # Errors
/// As [`load`].
pub fn load_str(
    name: &str,
    text: &str,
    options: &LoadOptions,
) -> Result<DesiredState, ManifestError> {
    let input = Input {
        name: name.to_owned(),
        base: base_dir(Path::new(name)),
        bytes: text.as_bytes().to_vec(),
    };
    load_inputs(vec![Ok(input)], options).map(|loaded| loaded.state)
}

/// Returns the JSON Schema of a manifest (draft-07, which editors' YAML plugins support best).
#[must_use]
pub fn schema() -> serde_json::Value {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<raw::Manifest>()
        .to_value()
}

struct Input {
    name: String,
    base: PathBuf,
    bytes: Vec<u8>,
}

fn base_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Checks every input in order, then merges them; an input that could not be read is an issue.
fn load_inputs(
    inputs: Vec<Result<Input, ManifestIssue>>,
    options: &LoadOptions,
) -> Result<Loaded, ManifestError> {
    let mut issues = Vec::new();
    let mut files = Vec::with_capacity(inputs.len());
    // Problems across entries and files are reported after every file's own.
    let mut merge_issues = Vec::new();
    let mut merger = merge::Merger::new(&mut merge_issues);
    for input in inputs {
        let Input { name, base, bytes } = match input {
            Ok(input) => input,
            Err(issue) => {
                issues.push(issue);
                continue;
            }
        };
        let mut file_issues = Vec::new();
        if let Some(document) = document::read(&name, bytes, &mut file_issues) {
            validate::validate(document, &base, options, &mut file_issues, &mut merger);
        }
        issues.extend(in_file_order(file_issues, &name));
        files.push(name);
    }
    let state = merger.finish();
    issues.append(&mut merge_issues);
    if issues.is_empty() {
        Ok(Loaded { state, files })
    } else {
        Err(ManifestError::from_issues(issues))
    }
}

/// Sorts one file's issues by position (they are found stage by stage) and keeps the first
/// [`de::MAX_PROBLEMS`], so that a broken generated file does not flood the terminal.
fn in_file_order(issues: Vec<ManifestIssue>, name: &str) -> Vec<ManifestIssue> {
    let (mut stopped, mut issues): (Vec<_>, Vec<_>) = issues
        .into_iter()
        .partition(|issue| issue.kind() == IssueKind::TooManyProblems);
    issues.sort_by_key(ManifestIssue::offset);
    if issues.len() > de::MAX_PROBLEMS {
        issues.truncate(de::MAX_PROBLEMS);
        if stopped.is_empty() {
            let message = format!(
                "stopped after the first {} problems in `{name}`",
                de::MAX_PROBLEMS
            );
            stopped.push(ManifestIssue::new(IssueKind::TooManyProblems, message));
        }
    }
    issues.extend(stopped.into_iter().take(1));
    issues
}

/// Expands directories (in argument order) and drops files named twice.
fn collect_files(paths: &[PathBuf]) -> Vec<Result<PathBuf, ManifestIssue>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(Ok(path.clone()));
            continue;
        }
        match manifests_in(path) {
            Ok(found) if found.is_empty() => files.push(Err(ManifestIssue::new(
                IssueKind::Io,
                format!("directory `{}` holds no .yaml or .yml file", path.display()),
            ))),
            Ok(found) => files.extend(found.into_iter().map(Ok)),
            Err(error) => files.push(Err(ManifestIssue::new(
                IssueKind::Io,
                format!("cannot read directory `{}`: {error}", path.display()),
            ))),
        }
    }
    // A file given twice (or both alone and through its directory) would clash with itself.
    let mut seen = HashSet::new();
    files.retain(|file| match file {
        Ok(file) => seen.insert(std::fs::canonicalize(file).unwrap_or_else(|_| file.clone())),
        Err(_) => true,
    });
    files
}

fn manifests_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_manifest = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml")
            });
        if is_manifest && path.is_file() {
            found.push(path);
        }
    }
    found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(found)
}
