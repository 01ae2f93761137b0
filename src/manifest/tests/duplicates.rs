//! Duplicates and conflicts, within a file and across files and directories.

use std::path::{Path, PathBuf};

use super::{assert_diagnostic, problems};
use crate::manifest::{load, IssueKind, LoadOptions, ManifestError};

/// Writes files into a temporary directory and returns it.
fn files(contents: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in contents {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(path, text).expect("write manifest");
    }
    dir
}

/// Loads paths relative to `dir`, with `dir` as the working directory of the names shown.
fn load_in(dir: &Path, paths: &[&str]) -> Result<crate::model::state::DesiredState, ManifestError> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| dir.join(p)).collect();
    load(&paths, &LoadOptions::default())
}

/// Renders with the temporary directory's path removed, so snapshots are stable.
fn scrubbed(error: &ManifestError, dir: &Path) -> String {
    let prefix = format!("{}/", dir.display());
    super::render(error).replace(&prefix, "")
}

#[test]
fn user_defined_twice_in_one_file() {
    let error = problems("version: 1\nusers:\n  alice:\n    admin: true\n  bob: {}\n  alice: {}\n");
    assert_eq!(error.issues().len(), 1);
    assert_diagnostic!("duplicate_user_same_file", error);
}

#[test]
fn duplicates_are_found_in_small_and_large_mappings_alike() {
    // Small mappings are scanned, large ones indexed: a repeat must be caught on either side
    // of the switch, and pointed at its first definition.
    for users in [3, 16, 17, 40] {
        let mut text = String::from("version: 1\nusers:\n");
        for n in 0..users {
            text.push_str(&format!("  user{n}: {{}}\n"));
        }
        text.push_str("  user0: {}\n");
        text.push_str(&format!("  user{}: {{}}\n", users - 1));
        let error = problems(&text);
        let messages: Vec<String> = error.issues().iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "user `user0` is defined twice".to_owned(),
                format!("user `user{}` is defined twice", users - 1)
            ],
            "{users} users"
        );
    }
}

#[test]
fn usernames_differing_only_in_case() {
    assert_diagnostic!(
        "duplicate_user_case",
        problems("version: 1\nusers:\n  alice: {}\n  Alice: {}\n")
    );
}

#[test]
fn user_defined_in_two_files() {
    let dir = files(&[
        ("a.yaml", "version: 1\nusers:\n  alice: {}\n"),
        ("b.yaml", "version: 1\nusers:\n  bob: {}\n  ALICE: {}\n"),
    ]);
    let error = load_in(dir.path(), &["a.yaml", "b.yaml"]).expect_err("duplicate");
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!("duplicate_user_two_files", scrubbed(&error, dir.path()));
    });
}

#[test]
fn token_listed_twice() {
    let text = "version: 1\nregistration_tokens:\n  - token: welcome\n  - token: other\n  - token: welcome\n    usage_limit: 3\n";
    assert_diagnostic!("duplicate_token", problems(text));
}

#[test]
fn tokens_are_case_sensitive() {
    let state =
        super::valid("version: 1\nregistration_tokens:\n  - token: Welcome\n  - token: welcome\n");
    assert_eq!(state.registration_tokens.len(), 2);
}

#[test]
fn upstream_account_linked_to_two_users() {
    let text = "\
version: 1
users:
  alice:
    upstream: [{ provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"42\" }]
  bob:
    upstream: [{ provider: 01j9z5x2f3k4m5n6p7q8r9s0t1, subject: \"42\" }]
";
    assert_diagnostic!("duplicate_link", problems(text));
}

#[test]
fn conflicting_prune_in_two_files() {
    let dir = files(&[
        ("a.yaml", "version: 1\nprune: { users: lock }\n"),
        ("b.yaml", "version: 1\nprune: { users: deactivate }\n"),
        ("c.yaml", "version: 1\nprune: { users: lock }\n"),
    ]);
    let error = load_in(dir.path(), &["a.yaml", "b.yaml", "c.yaml"]).expect_err("conflict");
    assert_eq!(
        error.issues().len(),
        1,
        "the same value again is no conflict"
    );
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
        insta::assert_snapshot!("conflicting_prune", scrubbed(&error, dir.path()));
    });
}

#[test]
fn conflicting_guards() {
    let dir = files(&[
        ("a.yaml", "version: 1\nguards: { max_locks: 1 }\n"),
        ("b.yaml", "version: 1\nguards: { max_locks: 2 }\n"),
    ]);
    let error = load_in(dir.path(), &["a.yaml", "b.yaml"]).expect_err("conflict");
    let kinds: Vec<_> = error
        .issues()
        .iter()
        .map(crate::manifest::ManifestIssue::kind)
        .collect();
    assert_eq!(kinds, [IssueKind::ConflictingSetting]);
}

#[test]
fn a_directory_merges_its_yaml_files_in_name_order() {
    let dir = files(&[
        ("team/20-bob.yml", "version: 1\nusers:\n  bob: {}\n"),
        (
            "team/10-alice.yaml",
            "version: 1\nusers:\n  alice: {}\n  carol: {}\n",
        ),
        ("team/notes.txt", "not a manifest"),
        ("team/nested/zed.yaml", "version: 1\nusers:\n  zed: {}\n"),
        (
            "extra.yaml",
            "version: 1\nusers:\n  dave: {}\nregistration_tokens: [{ token: t }]\n",
        ),
    ]);
    let state = load_in(dir.path(), &["team", "extra.yaml"]).expect("valid");
    let names: Vec<&str> = state
        .users
        .keys()
        .map(crate::model::Username::as_str)
        .collect();
    assert_eq!(names, ["alice", "carol", "bob", "dave"]);
    assert_eq!(state.registration_tokens.len(), 1);
}

#[test]
fn a_file_named_twice_is_read_once() {
    let dir = files(&[("team/a.yaml", "version: 1\nusers:\n  alice: {}\n")]);
    let state = load_in(dir.path(), &["team", "team/a.yaml"]).expect("valid");
    assert_eq!(state.users.len(), 1);
}

#[test]
fn duplicates_across_a_directory_name_both_files() {
    let dir = files(&[
        ("d/a.yaml", "version: 1\nusers:\n  alice: {}\n"),
        ("d/b.yaml", "version: 1\nusers:\n  alice: {}\n"),
    ]);
    let error = load_in(dir.path(), &["d"]).expect_err("duplicate");
    let rendered = scrubbed(&error, dir.path());
    assert!(
        rendered.contains("d/a.yaml:3:3") && rendered.contains("d/b.yaml:3:3"),
        "{rendered}"
    );
}

#[test]
fn problems_of_every_file_are_reported_together() {
    let dir = files(&[
        ("a.yaml", "version: 1\nusers:\n  alice: { admin: maybe }\n"),
        ("b.yaml", "version: 1\nusers: [\n"),
        ("empty", ""),
    ]);
    let error =
        load_in(dir.path(), &["a.yaml", "missing.yaml", "b.yaml", "empty"]).expect_err("problems");
    let kinds: Vec<_> = error
        .issues()
        .iter()
        .map(crate::manifest::ManifestIssue::kind)
        .collect();
    assert_eq!(
        kinds,
        [
            IssueKind::InvalidType,
            IssueKind::Io,
            IssueKind::YamlSyntax,
            IssueKind::EmptyFile
        ]
    );
}

#[test]
fn a_directory_without_manifests_is_an_error() {
    let dir = files(&[("d/readme.txt", "")]);
    let error = load_in(dir.path(), &["d"]).expect_err("no manifest");
    assert_eq!(
        error
            .issues()
            .first()
            .map(crate::manifest::ManifestIssue::kind),
        Some(IssueKind::Io)
    );
}
