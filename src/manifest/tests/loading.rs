//! What a valid manifest turns into.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};

use super::valid;
use crate::manifest::{load_str, load_with_files, LoadOptions};
use crate::model::state::{PasswordSource, PruneTokens, PruneUsers};
use crate::model::{PasswordPolicy, TokenState, UserState, Username};

fn user<'a>(
    state: &'a crate::model::state::DesiredState,
    name: &str,
) -> &'a crate::model::state::DesiredUser {
    state
        .users
        .get(&Username::new(name).expect("valid name"))
        .expect("user present")
}

#[test]
fn defaults_and_absent_keys() {
    let state = valid("version: 1\nusers:\n  alice:\n  bob: {}\n");
    for name in ["alice", "bob"] {
        let user = user(&state, name);
        assert!(!user.admin);
        assert_eq!(user.state, UserState::Active);
        assert_eq!(user.password_policy, PasswordPolicy::Initial);
        assert!(user.emails.is_none() && user.password.is_none() && user.upstream.is_none());
        assert!(user.display_name.is_none());
    }
    assert_eq!(state.prune.users, PruneUsers::Ignore);
    assert_eq!(state.guards, crate::model::state::Guards::default());
}

#[test]
fn a_manifest_without_users() {
    let state = valid("version: 1\n");
    assert!(state.users.is_empty() && state.registration_tokens.is_empty());
    assert!(valid("version: 1\nusers:\nregistration_tokens: []\n")
        .users
        .is_empty());
}

#[test]
fn empty_lists_mean_remove_all() {
    let state = valid("version: 1\nusers:\n  alice: { emails: [], upstream: [] }\n");
    assert_eq!(user(&state, "alice").emails.as_deref(), Some(&[][..]));
    assert_eq!(
        user(&state, "alice").upstream.as_ref().map(Vec::len),
        Some(0)
    );
}

#[test]
fn the_realistic_example_in_detail() {
    let path = PathBuf::from("examples/realistic.yaml");
    let loaded = load_with_files(&[path], &LoadOptions::default()).expect("valid example");
    let state = loaded.state;
    assert_eq!(loaded.files, ["examples/realistic.yaml"]);
    let names: Vec<&str> = state.users.keys().map(Username::as_str).collect();
    assert_eq!(
        names,
        [
            "ada",
            "brian",
            "carol",
            "dave",
            "erin",
            "frank",
            "grace",
            "heidi",
            "ivan",
            "judy",
            "mallory",
            "service-bot"
        ]
    );
    let ada = user(&state, "ada");
    assert!(ada.admin);
    assert_eq!(ada.password_policy, PasswordPolicy::Enforce);
    assert!(matches!(
        ada.password.as_ref().map(|p| &p.source),
        Some(PasswordSource::Hash { version: 1, .. })
    ));
    assert_eq!(ada.origin.location(), "examples/realistic.yaml:17:3");
    let link = ada
        .upstream
        .as_ref()
        .and_then(|links| links.first())
        .expect("link");
    assert_eq!(link.provider.to_string(), "01J9Z5X2F3K4M5N6P7Q8R9S0T1");
    assert_eq!(link.subject, "248289761001");
    let carol = user(&state, "carol");
    let carol_password = carol.password.as_ref().map(|p| p.source.clone());
    assert_eq!(
        carol_password,
        Some(PasswordSource::File(PathBuf::from(
            "examples/secrets/carol.password"
        )))
    );
    assert_eq!(user(&state, "judy").state, UserState::Locked);
    assert_eq!(user(&state, "mallory").state, UserState::Deactivated);
    let conference = state
        .registration_tokens
        .get("conference-spring")
        .expect("token");
    assert_eq!(
        conference.expires_at,
        Some(Utc.with_ymd_and_hms(2026, 6, 30, 16, 0, 0).unwrap())
    );
    assert_eq!(conference.usage_limit, Some(200));
    assert_eq!(
        state
            .registration_tokens
            .get("unlimited-internal")
            .map(|t| t.usage_limit),
        Some(None)
    );
    assert_eq!(
        state
            .registration_tokens
            .get("leaked-2025")
            .map(|t| t.state),
        Some(TokenState::Revoked)
    );
    assert_eq!(state.prune.users, PruneUsers::Lock);
    assert_eq!(state.prune.registration_tokens, PruneTokens::Revoke);
    assert_eq!(state.guards.max_destructive_percent, Some(20));
}

#[test]
fn file_passwords_are_relative_to_their_manifest() {
    let options = LoadOptions::default();
    let text = "version: 1\nusers:\n  a: { password: { file: pw/a.txt } }\n  b: { password: { file: /run/secrets/b } }\n";
    let state = load_str("deploy/users/team.yaml", text, &options).expect("valid");
    let source = |name: &str| {
        user(&state, name)
            .password
            .as_ref()
            .map(|p| p.source.clone())
    };
    assert_eq!(
        source("a"),
        Some(PasswordSource::File(PathBuf::from("deploy/users/pw/a.txt")))
    );
    assert_eq!(
        source("b"),
        Some(PasswordSource::File(PathBuf::from("/run/secrets/b")))
    );
}

#[test]
fn emails_and_usernames_are_kept_verbatim() {
    let state = valid("version: 1\nusers:\n  Alice.Old:\n    emails: [Alice@Example.ORG, \"jörg@bücher.example\"]\n");
    let alice = user(&state, "Alice.Old");
    let emails: Vec<&str> = alice
        .emails
        .iter()
        .flatten()
        .map(crate::model::EmailAddress::as_str)
        .collect();
    assert_eq!(emails, ["Alice@Example.ORG", "jörg@bücher.example"]);
}

#[test]
fn a_numeric_username_is_read_verbatim() {
    let state = valid("version: 1\nusers:\n  0123: {}\n");
    assert!(state
        .users
        .contains_key(&Username::new("0123").expect("valid")));
}

#[test]
fn timestamps_are_converted_to_utc() {
    let state = valid("version: 1\nregistration_tokens:\n  - token: t\n    expires_at: \"2027-01-01T01:30:00+01:30\"\n    usage_limit: 0\n");
    let token = state.registration_tokens.get("t").expect("token");
    assert_eq!(
        token.expires_at,
        Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(token.usage_limit, Some(0));
}

#[test]
fn origins_point_at_the_nodes() {
    let text = "version: 1\nusers:\n  alice:\n    password:\n      env: ALICE_PASSWORD\n    upstream:\n      - { provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: s }\nregistration_tokens:\n  - token: t\n";
    let state = valid(text);
    let alice = user(&state, "alice");
    assert_eq!(alice.origin.location(), "manifest.yaml:3:3");
    assert_eq!(
        alice
            .password
            .as_ref()
            .map(|p| p.origin.location())
            .as_deref(),
        Some("manifest.yaml:5:7")
    );
    let link = alice
        .upstream
        .as_ref()
        .and_then(|links| links.first())
        .expect("link");
    assert_eq!(link.origin.location(), "manifest.yaml:7:9");
    assert_eq!(
        state
            .registration_tokens
            .get("t")
            .map(|t| t.origin.location())
            .as_deref(),
        Some("manifest.yaml:9:12")
    );
}
