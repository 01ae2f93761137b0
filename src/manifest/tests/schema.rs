//! The generated schema file, the examples, and the consistency of the raw types.

use std::path::{Path, PathBuf};

use crate::manifest::{load, load_str, raw, schema, LoadOptions};

const SCHEMA_FILE: &str = "schema/manifest.schema.json";

#[test]
fn schema_file_is_up_to_date() {
    let mut expected = serde_json::to_string_pretty(&schema()).expect("serialisable");
    expected.push('\n');
    let actual = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
    assert!(
        actual == expected,
        "{SCHEMA_FILE} is out of date; regenerate it with `cargo run -- schema > {SCHEMA_FILE}`"
    );
}

#[test]
fn schema_describes_every_top_level_key() {
    let schema = schema();
    let properties = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .expect("properties");
    let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["version", "users", "registration_tokens", "prune", "guards"]
    );
    assert!(properties.values().all(|p| p.get("description").is_some()));
    assert_eq!(
        schema.get("required"),
        Some(&serde_json::json!(["version"]))
    );
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
        .expect("examples/ exists")
        .map(|entry| entry.expect("readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_is_valid_alone_and_together() {
    let files = examples();
    assert!(files.len() >= 2, "{files:?}");
    for file in &files {
        if let Err(error) = load(std::slice::from_ref(file), &LoadOptions::default()) {
            panic!("{} is invalid:\n{}", file.display(), super::render(&error));
        }
        let text = std::fs::read_to_string(file).expect("readable");
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/manifest.schema.json\n"),
            "{} lacks the schema modeline",
            file.display()
        );
    }
    load(&[PathBuf::from("examples")], &LoadOptions::default()).expect("the examples merge");
}

#[test]
fn example_password_files_exist() {
    let state = load(&[PathBuf::from("examples")], &LoadOptions::default()).expect("valid");
    for user in state.users.values() {
        if let Some(password) = &user.password {
            crate::manifest::resolve_password(password)
                .expect("example passwords resolve without setup");
        }
    }
    assert!(Path::new("examples/secrets").is_dir());
}

#[test]
fn serialising_raw_writes_an_equivalent_manifest() {
    let text = std::fs::read_to_string("examples/realistic.yaml").expect("readable");
    let tree = crate::manifest::span::parse(&text).expect("parses");
    let decoded = crate::manifest::de::decode::<raw::Manifest>(&tree, tree.root.expect("root"));
    assert!(decoded.problems.is_empty());
    let written = serde_yaml::to_string(&decoded.value.expect("decoded")).expect("serialises");
    let original = load_str("a.yaml", &text, &LoadOptions::default()).expect("valid");
    let again =
        load_str("b.yaml", &written, &LoadOptions::default()).expect("written manifest is valid");
    assert_eq!(
        format!("{:?}", names(&original)),
        format!("{:?}", names(&again))
    );
    assert_eq!(original.prune, again.prune);
    assert_eq!(original.guards, again.guards);
}

fn names(state: &crate::model::state::DesiredState) -> Vec<(String, bool, usize)> {
    state
        .users
        .iter()
        .map(|(name, user)| {
            (
                name.to_string(),
                user.admin,
                user.emails.as_ref().map_or(0, Vec::len),
            )
        })
        .collect()
}

#[test]
fn password_fields_match_the_password_struct() {
    let source = raw::PasswordSource {
        env: Some(raw::Spanned::new("A".to_owned())),
        file: Some(raw::Spanned::new("f".to_owned())),
        hash: Some(raw::Spanned::new("h".to_owned())),
        version: Some(raw::Spanned::new(1)),
    };
    let written = serde_json::to_value(&source).expect("serialisable");
    let keys: Vec<&str> = written
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, raw::PASSWORD_FIELDS);
}
