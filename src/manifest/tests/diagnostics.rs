//! One snapshot per kind of problem in a manifest's values and shape.

use super::{assert_diagnostic, problems, problems_with};
use crate::manifest::{IssueKind, LoadOptions};

fn kinds(text: &str) -> Vec<IssueKind> {
    problems(text)
        .issues()
        .iter()
        .map(crate::manifest::ManifestIssue::kind)
        .collect()
}

#[test]
fn unknown_field_suggests_the_closest_name() {
    let error = problems("version: 1\nusers:\n  alice:\n    emial: alice@example.org\n");
    assert_eq!(error.issues().len(), 1);
    assert_diagnostic!("unknown_field", error);
}

#[test]
fn unknown_top_level_field_lists_the_fields() {
    assert_diagnostic!(
        "unknown_top_level_field",
        problems("version: 1\ntokens: []\n")
    );
}

#[test]
fn wrong_type_hints_at_the_fix() {
    let error = problems("version: 1\nusers:\n  alice:\n    emails: alice@example.org\n");
    assert_diagnostic!("invalid_type_sequence", error);
}

#[test]
fn a_number_where_a_string_belongs() {
    let text = "version: 1\nusers:\n  alice:\n    upstream:\n      - provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1\n        subject: 1234\n";
    assert_diagnostic!("invalid_type_quote_it", problems(text));
}

#[test]
fn yes_is_not_a_boolean() {
    assert_diagnostic!(
        "invalid_type_yes",
        problems("version: 1\nusers:\n  alice:\n    admin: yes\n")
    );
}

#[test]
fn unknown_enum_value() {
    assert_diagnostic!(
        "invalid_value_state",
        problems("version: 1\nusers:\n  alice: { state: lockd }\n")
    );
}

#[test]
fn missing_field() {
    let error = problems("version: 1\nregistration_tokens:\n  - usage_limit: 5\n");
    assert_diagnostic!("missing_field", error);
}

#[test]
fn a_misspelt_required_field_is_reported_once() {
    assert_eq!(
        kinds("version: 1\nregistration_tokens:\n  - tokn: x\n"),
        [IssueKind::UnknownField]
    );
}

#[test]
fn missing_version() {
    assert_diagnostic!(
        "missing_version",
        problems("# my users\nusers:\n  alice: {}\n")
    );
}

#[test]
fn unsupported_version_hides_everything_else() {
    let error = problems("version: 2\nusers:\n  alice: { some_new_field: true }\n");
    assert_eq!(error.issues().len(), 1);
    assert_diagnostic!("unsupported_version", error);
}

#[test]
fn odd_versions() {
    assert_eq!(kinds("version: -1\n"), [IssueKind::UnsupportedVersion]);
    assert_eq!(kinds("version: 1.0\n"), [IssueKind::InvalidType]);
    assert_eq!(kinds("version:\n"), [IssueKind::MissingVersion]);
}

#[test]
fn guard_values_out_of_any_range() {
    let text = "version: 1\nguards: { max_destructive_percent: 300, max_locks: -1 }\n";
    assert_eq!(
        kinds(text),
        [IssueKind::InvalidGuard, IssueKind::InvalidValue]
    );
}

#[test]
fn version_of_the_wrong_type_is_not_also_missing() {
    assert_eq!(kinds("version: \"1\"\n"), [IssueKind::InvalidType]);
}

#[test]
fn invalid_username() {
    assert_diagnostic!(
        "invalid_username",
        problems("version: 1\nusers:\n  Alice Liddell:\n    admin: true\n")
    );
}

#[test]
fn invalid_email() {
    let error = problems(
        "version: 1\nusers:\n  alice:\n    emails: [alice@example.org, alice@exa_mple.org]\n",
    );
    assert_diagnostic!("invalid_email", error);
}

#[test]
fn duplicate_email_names_both_places() {
    let text = "version: 1\nusers:\n  alice:\n    emails:\n      - alice@example.org\n      - Alice@Example.org\n";
    assert_diagnostic!("duplicate_email", problems(text));
}

#[test]
fn invalid_ulid() {
    let text = "version: 1\nusers:\n  alice:\n    upstream: [{ provider: 01HQW9-not-a-ulid, subject: \"1\" }]\n";
    assert_diagnostic!("invalid_ulid", problems(text));
}

#[test]
fn ulid_overflow_is_refused() {
    // 26 base32 digits starting above 7 exceed 128 bits; the ulid crate would truncate them.
    let text = "version: 1\nusers:\n  alice:\n    upstream: [{ provider: 81J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"1\" }]\n";
    assert_eq!(kinds(text), [IssueKind::InvalidUlid]);
}

#[test]
fn invalid_timestamp() {
    let error =
        problems("version: 1\nregistration_tokens:\n  - token: t\n    expires_at: 2027-01-01\n");
    assert_diagnostic!("invalid_timestamp", error);
}

#[test]
fn negative_usage_limit() {
    let error = problems("version: 1\nregistration_tokens:\n  - token: t\n    usage_limit: -1\n");
    assert_diagnostic!("usage_limit_negative", error);
}

#[test]
fn usage_limit_beyond_i32() {
    let error =
        problems("version: 1\nregistration_tokens:\n  - token: t\n    usage_limit: 2147483648\n");
    assert_diagnostic!("usage_limit_too_large", error);
}

#[test]
fn usage_limit_beyond_i64() {
    let text = "version: 1\nregistration_tokens:\n  - token: t\n    usage_limit: 99999999999999999999999\n";
    assert_eq!(kinds(text), [IssueKind::InvalidValue]);
}

#[test]
fn invalid_token() {
    assert_diagnostic!(
        "invalid_token",
        problems("version: 1\nregistration_tokens:\n  - token: \"two words\"\n")
    );
}

#[test]
fn hash_without_version() {
    let text = "version: 1\nusers:\n  alice:\n    password:\n      hash: \"$2b$10$c/EX8bTbEMfTn4oCvcQyBOR1zPyLmGzZ2pMXoElLASqv2qpq5X15i\"\n";
    let error = problems(text);
    let rendered = super::render(&error);
    assert!(
        !rendered.contains("c/EX8bTbEMfTn4oCvcQyBOR1"),
        "the hash is a secret:\n{rendered}"
    );
    assert_diagnostic!("hash_without_version", error);
}

#[test]
fn version_without_hash() {
    assert_diagnostic!(
        "version_without_hash",
        problems("version: 1\nusers:\n  alice:\n    password: { env: A, version: 1 }\n")
    );
}

#[test]
fn malformed_hash() {
    let text = "version: 1\nusers:\n  alice:\n    password: { hash: \"$argon2id$v=19$broken\", version: 1 }\n";
    assert_diagnostic!("malformed_hash", problems(text));
}

#[test]
fn two_password_sources() {
    let text = "version: 1\nusers:\n  alice:\n    password: { env: A, file: a.txt }\n";
    assert_diagnostic!("two_password_sources", problems(text));
}

#[test]
fn invalid_env_name() {
    assert_diagnostic!(
        "invalid_env_name",
        problems("version: 1\nusers:\n  alice:\n    password: { env: ALICE-PASSWORD }\n")
    );
}

#[test]
fn plaintext_password_is_refused_and_masked() {
    let error = problems("version: 1\nusers:\n  alice:\n    password: hunter2 and more\n");
    let rendered = super::render(&error);
    assert!(!rendered.contains("hunter2"), "{rendered}");
    assert_diagnostic!("plaintext_password", error);
}

#[test]
fn plaintext_password_is_accepted_when_allowed() {
    let options = LoadOptions {
        allow_plaintext_passwords: true,
    };
    let state = crate::manifest::load_str(
        "m.yaml",
        "version: 1\nusers:\n  alice: { password: hunter2 }\n",
        &options,
    )
    .expect("allowed");
    let password = state
        .users
        .values()
        .next()
        .and_then(|user| user.password.as_ref())
        .expect("password");
    assert_eq!(
        password.source,
        crate::model::state::PasswordSource::Literal(crate::model::Secret::new("hunter2"))
    );
    let empty = problems_with(
        "version: 1\nusers:\n  alice: { password: \"\" }\n",
        &options,
    );
    assert_eq!(
        empty
            .issues()
            .first()
            .map(crate::manifest::ManifestIssue::kind),
        Some(IssueKind::EmptyPassword)
    );
}

#[test]
fn guard_percentage_above_100() {
    assert_diagnostic!(
        "invalid_guard",
        problems("version: 1\nguards: { max_destructive_percent: 101 }\n")
    );
}

#[test]
fn every_problem_of_a_file_is_reported() {
    let text = "\
version: 1
users:
  alice:
    admin: maybe
    emails: [not-an-email]
    state: gone
  bob:
    passwrd: { env: BOB }
  _bot: {}
registration_tokens:
  - token: t1
    usage_limit: -5
    expires_at: tomorrow
prune: { users: delete }
";
    let error = problems(text);
    assert_eq!(error.issues().len(), 8, "{}", super::render(&error));
    assert_diagnostic!("every_problem", error);
}
