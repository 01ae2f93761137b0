//! Files that are not a usable YAML mapping: clear diagnostics, never a panic.

use super::{assert_diagnostic, problems, render, valid};
use crate::manifest::{load_str, IssueKind, LoadOptions, ManifestError};

fn kinds(error: &ManifestError) -> Vec<IssueKind> {
    error
        .issues()
        .iter()
        .map(crate::manifest::ManifestIssue::kind)
        .collect()
}

#[test]
fn syntax_error_points_at_the_line_and_column() {
    let error =
        problems("version: 1\nusers:\n  alice:\n    emails: [alice@example.org\n  bob: {}\n");
    assert_diagnostic!("yaml_syntax", error);
}

#[test]
fn bad_indentation() {
    assert_diagnostic!(
        "yaml_indentation",
        problems("version: 1\nusers:\n  alice:\n    admin: true\n   state: locked\n")
    );
}

#[test]
fn tabs_get_a_hint() {
    assert_diagnostic!("yaml_tabs", problems("version: 1\nusers:\n\talice: {}\n"));
}

#[test]
fn empty_file() {
    assert_diagnostic!("empty_file", problems(""));
    assert_eq!(
        kinds(&problems("# only a comment\n")),
        [IssueKind::EmptyFile]
    );
}

#[test]
fn a_list_is_not_a_manifest() {
    assert_diagnostic!("root_is_a_list", problems("- alice\n- bob\n"));
}

#[test]
fn a_scalar_is_not_a_manifest() {
    assert_eq!(kinds(&problems("hello\n")), [IssueKind::InvalidType]);
    assert_eq!(kinds(&problems("~\n")), [IssueKind::InvalidType]);
}

#[test]
fn invalid_utf8() {
    let bytes = b"version: 1\nusers:\n  al\xffce: {}\n".to_vec();
    let mut issues = Vec::new();
    assert!(crate::manifest::document::read("latin1.yaml", bytes, &mut issues).is_none());
    let error = ManifestError::from_issues(issues);
    assert_diagnostic!("invalid_utf8", error);
}

#[test]
fn a_file_larger_than_the_limit_is_refused_before_parsing() {
    let bytes = vec![b'#'; crate::manifest::document::MAX_FILE_SIZE + 1];
    let mut issues = Vec::new();
    assert!(crate::manifest::document::read("huge.yaml", bytes, &mut issues).is_none());
    assert_eq!(
        kinds(&ManifestError::from_issues(issues)),
        [IssueKind::TooLarge]
    );
}

#[test]
fn several_documents() {
    assert_diagnostic!(
        "multiple_documents",
        problems("version: 1\n---\nversion: 1\n")
    );
}

#[test]
fn explicit_document_markers_are_fine() {
    valid("---\nversion: 1\n...\n");
}

#[test]
fn aliases_share_settings() {
    let state = valid(
        "version: 1\nusers:\n  alice: &staff\n    emails: []\n    state: locked\n  bob: *staff\n",
    );
    assert_eq!(state.users.len(), 2);
    assert!(state
        .users
        .values()
        .all(|user| user.state == crate::model::UserState::Locked));
}

#[test]
fn unknown_alias() {
    assert_eq!(
        kinds(&problems("version: 1\nusers:\n  bob: *nobody\n")),
        [IssueKind::YamlSyntax]
    );
}

#[test]
fn recursive_alias() {
    assert_diagnostic!(
        "recursive_alias",
        problems("version: 1\nusers: &u\n  bob: *u\n")
    );
}

#[test]
fn alias_bomb_is_refused() {
    let mut text = String::from("version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = level - 1;
        let refs = vec![format!("*a{previous}"); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let error = problems(&text);
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(kinds(&error), [IssueKind::TooLarge]);
    assert_diagnostic!("alias_bomb", error);
}

#[test]
fn the_node_limit_grows_with_the_file_so_big_alias_free_manifests_load() {
    use crate::manifest::builder::max_expanded_nodes;
    assert_eq!(max_expanded_nodes(0), 2_000_000);
    assert_eq!(max_expanded_nodes(30_000_000), 15_000_000);
    // 2.2 million nodes without an alias: more than the fixed minimum, still accepted.
    let mut text = String::with_capacity(4_500_000);
    text.push_str("version: 1\nnotes: [");
    text.push_str(&"a,".repeat(2_200_000));
    text.push_str("a]\n");
    let tree = crate::manifest::span::parse(&text);
    assert!(tree.is_ok(), "{:?}", tree.err());
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!(
        "version: 1\nusers: {}{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(kinds(&problems(&text)), [IssueKind::TooLarge]);
    let mut block = String::from("version: 1\nusers:\n");
    for depth in 1..60 {
        block.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth)));
    }
    assert_eq!(kinds(&problems(&block)), [IssueKind::TooLarge]);
}

#[test]
fn custom_tags_are_refused() {
    assert_diagnostic!(
        "unsupported_tag",
        problems("version: 1\nusers:\n  alice: !user { admin: true }\n")
    );
}

#[test]
fn core_tags_work() {
    let state = valid("version: !!int 1\nregistration_tokens:\n  - token: !!str 1234\n");
    assert!(state.registration_tokens.contains_key("1234"));
}

#[test]
fn merge_keys_are_explained() {
    let error = problems("version: 1\nusers:\n  alice: &a { admin: true }\n  bob:\n    <<: *a\n");
    assert_diagnostic!("merge_key", error);
}

#[test]
fn duplicate_keys_in_any_mapping() {
    assert_diagnostic!(
        "duplicate_key",
        problems("version: 1\nusers:\n  alice:\n    admin: true\n    admin: false\n")
    );
}

#[test]
fn a_byte_order_mark_is_accepted_and_spans_stay_right() {
    let error = load_str(
        "bom.yaml",
        "\u{feff}version: 1\nusers:\n  é: {}\n  bad@: {}\n",
        &LoadOptions::default(),
    )
    .expect_err("two invalid usernames");
    assert_diagnostic!("byte_order_mark", error);
}

#[test]
fn non_ascii_text_keeps_byte_offsets_right() {
    let text = "version: 1\nusers:\n  alice:\n    display_name: Ålice Lïddell — ünïcödé\n    emails: [\"jörg@bücher.example\", \"bad address\"]\n";
    assert_diagnostic!("non_ascii_offsets", problems(text));
}

#[test]
fn checking_stops_after_many_problems() {
    let mut text = String::from("version: 1\nusers:\n");
    for n in 0..150 {
        text.push_str(&format!("  user{n}: {{ admin: nope }}\n"));
    }
    let error = problems(&text);
    let kinds = kinds(&error);
    assert_eq!(kinds.len(), crate::manifest::de::MAX_PROBLEMS + 1);
    assert_eq!(kinds.last(), Some(&IssueKind::TooManyProblems));
}

#[test]
fn value_problems_are_capped_too() {
    let mut text = String::from("version: 1\nusers:\n");
    for n in 0..150 {
        text.push_str(&format!(
            "  user{n}: {{ emails: [nobody], colour: blue }}\n"
        ));
    }
    let kinds = kinds(&problems(&text));
    assert_eq!(kinds.len(), crate::manifest::de::MAX_PROBLEMS + 1);
    assert_eq!(kinds.first(), Some(&IssueKind::InvalidEmail));
    assert_eq!(kinds.get(1), Some(&IssueKind::UnknownField));
    assert_eq!(kinds.last(), Some(&IssueKind::TooManyProblems));
}

#[test]
fn users_that_is_not_a_mapping_is_one_type_error() {
    let error = problems("version: 1\nusers: [alice, bob]\n");
    assert_eq!(kinds(&error), [IssueKind::InvalidType]);
    assert!(render(&error).contains("expected a mapping, found a sequence"));
    assert!(valid("version: 1\nusers:\n").users.is_empty());
    assert!(valid("version: 1\nusers: {}\n").users.is_empty());
}

#[test]
fn a_username_that_is_not_a_string_hides_its_entry() {
    let text = "version: 1\nusers:\n  [a, b]: { admin: nope }\n  bob: { admin: maybe }\n";
    let error = problems(text);
    assert_eq!(
        kinds(&error),
        [IssueKind::InvalidType, IssueKind::InvalidType]
    );
    let shown = render(&error);
    assert!(
        shown.contains("expected a string, found a sequence"),
        "{shown}"
    );
    assert_eq!(
        shown.matches("expected `true` or `false`").count(),
        1,
        "{shown}"
    );
}

#[test]
fn many_users_keep_file_order_across_parallel_checks() {
    let count = 20_000;
    let mut text = String::from("version: 1\nusers:\n");
    for n in 0..count {
        text.push_str(&format!(
            "  user{n:05}:\n    emails: [user{n:05}@example.org]\n"
        ));
    }
    let state = valid(&text);
    let names: Vec<String> = state
        .users
        .keys()
        .map(|name| name.as_str().to_owned())
        .collect();
    let expected: Vec<String> = (0..count).map(|n| format!("user{n:05}")).collect();
    assert_eq!(names, expected);
    // The last user clashes with the first: found although they are checked by different tasks.
    text.push_str("  USER00000: {}\n  other: { emails: [USER19999@example.org] }\n");
    let error = problems(&text);
    assert_eq!(
        kinds(&error),
        [IssueKind::DuplicateUser, IssueKind::DuplicateEmail]
    );
}

#[test]
fn checking_a_huge_broken_file_stops_early() {
    let mut text = String::from("version: 1\nusers:\n");
    for n in 0..30_000 {
        text.push_str(&format!("  user{n}: {{ admin: nope }}\n"));
    }
    let kinds = kinds(&problems(&text));
    assert_eq!(kinds.len(), crate::manifest::de::MAX_PROBLEMS + 1);
    assert_eq!(kinds.last(), Some(&IssueKind::TooManyProblems));
}

/// Writes a node back as flow YAML, to compare trees with what was written.
fn flow(tree: &crate::manifest::tree::Tree, id: usize) -> String {
    use crate::manifest::tree::NodeKind;
    match tree.kind(id) {
        Some(NodeKind::Scalar(scalar)) => scalar.text.to_owned(),
        Some(NodeKind::Seq(items)) => {
            let items: Vec<String> = items.iter().map(|&item| flow(tree, item)).collect();
            format!("[{}]", items.join(", "))
        }
        Some(NodeKind::Map(entries)) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|&(key, value)| format!("{}: {}", flow(tree, key), flow(tree, value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        None => "?".to_owned(),
    }
}

#[test]
fn nested_containers_and_aliases_keep_their_children() {
    let text =
        "a: &x [1, [2, 3], {k: v, l: [w]}]\nb:\n  - *x\n  - c: {d: [4]}\n    e: \"q\\tr\"\nf: *x\n";
    let tree = crate::manifest::span::parse(text).expect("parses");
    let root = tree.root.expect("a root");
    let a = "[1, [2, 3], {k: v, l: [w]}]";
    assert_eq!(
        flow(&tree, root),
        format!("{{a: {a}, b: [{a}, {{c: {{d: [4]}}, e: q\tr}}], f: {a}}}")
    );
    // Spans cover the node as written, children included.
    let b = tree.lookup(root, "b").expect("b");
    assert_eq!(
        text.get(tree.span(b)),
        Some("- *x\n  - c: {d: [4]}\n    e: \"q\\tr\"")
    );
    // Many keys in one mapping: duplicates are found through the key index too.
    let mut big = String::new();
    for n in 0..40 {
        big.push_str(&format!("k{n}: {n}\n"));
    }
    big.push_str("k7: again\n");
    let tree = crate::manifest::span::parse(&big).expect("parses");
    assert_eq!(tree.duplicates.len(), 1);
    assert_eq!(tree.entries(tree.root.expect("root")).len(), 40);
}
