//! Resolving `env:` and `file:` passwords at plan time, and the diagnostics when that fails.

use std::io::Write;

use super::{assert_diagnostic, valid};
use crate::manifest::{load_str, resolve_password, IssueKind, LoadOptions};
use crate::model::state::DesiredPassword;

fn password_of(text: &str, name: &str) -> DesiredPassword {
    let state = load_str(name, text, &LoadOptions::default()).expect("valid manifest");
    state
        .users
        .values()
        .next()
        .and_then(|user| user.password.as_deref().cloned())
        .expect("a password")
}

#[test]
fn a_missing_environment_variable() {
    let password = password_of(
        "version: 1\nusers:\n  alice:\n    password: { env: MASCTL_TEST_SURELY_UNSET_7F3A }\n",
        "manifest.yaml",
    );
    let error = resolve_password(&password).expect_err("unset");
    assert_eq!(
        error
            .issues()
            .first()
            .map(crate::manifest::ManifestIssue::kind),
        Some(IssueKind::MissingEnvVar)
    );
    assert_diagnostic!("missing_env_var", error);
}

#[test]
fn a_set_environment_variable() {
    // PATH is set wherever tests run; setting a variable here would race with other threads.
    let password = password_of(
        "version: 1\nusers:\n  alice:\n    password: { env: PATH }\n",
        "manifest.yaml",
    );
    let secret = resolve_password(&password).expect("set");
    assert_eq!(Some(secret.expose()), std::env::var("PATH").ok().as_deref());
}

#[test]
fn a_password_file_loses_one_trailing_newline() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (file, content, expected) in [
        ("unix", "s3cret pass\n", "s3cret pass"),
        ("windows", "s3cret\r\n", "s3cret"),
        ("two", "s3cret\n\n", "s3cret\n"),
        ("none", "  s3cret ", "  s3cret "),
    ] {
        let mut handle = std::fs::File::create(dir.path().join(file)).expect("create");
        handle.write_all(content.as_bytes()).expect("write");
        let manifest = dir.path().join("m.yaml");
        let text = format!("version: 1\nusers:\n  alice:\n    password: {{ file: {file} }}\n");
        let password = password_of(&text, &manifest.display().to_string());
        assert_eq!(
            resolve_password(&password).expect("readable").expose(),
            expected,
            "{file}"
        );
    }
}

#[test]
fn an_unreadable_password_file() {
    let password = password_of(
        "version: 1\nusers:\n  alice:\n    password: { file: secrets/missing.txt }\n",
        "manifest.yaml",
    );
    let error = resolve_password(&password).expect_err("missing");
    assert_diagnostic!("unreadable_password_file", error);
}

#[test]
fn an_empty_password_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("empty"), "\n").expect("write");
    let manifest = dir.path().join("m.yaml").display().to_string();
    let password = password_of(
        "version: 1\nusers:\n  alice: { password: { file: empty } }\n",
        &manifest,
    );
    let error = resolve_password(&password).expect_err("empty");
    assert_eq!(
        error
            .issues()
            .first()
            .map(crate::manifest::ManifestIssue::kind),
        Some(IssueKind::EmptyPassword)
    );
}

#[test]
fn a_password_file_that_is_not_utf8_is_not_printed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("latin1"), b"caf\xe9-secret").expect("write");
    let manifest = dir.path().join("m.yaml").display().to_string();
    let password = password_of(
        "version: 1\nusers:\n  alice: { password: { file: latin1 } }\n",
        &manifest,
    );
    let rendered = super::render(&resolve_password(&password).expect_err("not UTF-8"));
    assert!(
        rendered.contains("not valid UTF-8") && !rendered.contains("secret"),
        "{rendered}"
    );
}

#[test]
fn hashes_resolve_to_themselves() {
    let hash = "$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i";
    let state = valid(&format!(
        "version: 1\nusers:\n  a: {{ password: {{ hash: \"{hash}\", version: 2 }} }}\n"
    ));
    let password = state
        .users
        .values()
        .next()
        .and_then(|user| user.password.clone())
        .expect("password");
    assert_eq!(resolve_password(&password).expect("hash").expose(), hash);
    assert!(!format!("{password:?}").contains("c/EX8bTbEMfTn4oCvcQyBOR1"));
}
