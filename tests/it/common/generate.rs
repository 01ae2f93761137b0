//! Generators for fuzzing manifests: YAML built from pools of ordinary, hostile and look-alike
//! values (every key optional), and character-level mutations of that text.

use std::fmt::Write as _;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::Index;

/// What every literal password generated here contains; no output may show it.
pub(crate) const MARKER: &str = "PLAINTEXT-MARKER";

/// Three upstream providers; the generated databases disable the last one.
pub(crate) const PROVIDERS: [&str; 3] = [
    "01J9Z5X2F3K4M5N6P7Q8R9S0T1",
    "01J9Z5X2F3K4M5N6P7Q8R9S0T2",
    "01J9Z5X2F3K4M5N6P7Q8R9S0T3",
];

/// Usernames: valid ones, case variants, look-alikes and outright garbage.
pub(crate) fn username() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(vec!["alice", "Alice", "bob", "carol", "dave.x", "e=f/g+h"])
            .prop_map(str::to_owned),
        12 => "[a-z0-9][a-z0-9._=/+-]{0,11}",
        1 => "[A-Za-z0-9]{1,4}",
        1 => prop::sample::select(vec!["аlice", "al\u{200b}ice", "alice'; DROP TABLE users;--", "_x", "ᴀlice", "K"])
            .prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| s.chars().take(20).collect()),
    ]
}

/// Email addresses: mostly valid, some hostile, some broken.
pub(crate) fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        16 => ("[a-z0-9+]{1,8}", prop::sample::select(vec!["example.org", "Example.ORG", "bücher.example", "[127.0.0.1]"]))
            .prop_map(|(local, domain)| format!("{local}@{domain}")),
        1 => prop::sample::select(vec!["o'brien@example.org", "\"a b\"@example.org", "аlice@example.org", "x@y@z", "@example.org", "a..b@example.org"])
            .prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| s.chars().take(30).collect()),
    ]
}

/// Free text: display names, subjects, tokens.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[A-Za-z0-9_.-]{1,16}",
        2 => "[A-Za-z0-9 _.-]{1,16}",
        1 => prop::sample::select(vec!["1' OR '1'='1", "\u{202e}evil", "Ада 😀", "\\x00", "$$"])
            .prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| s.chars().take(24).collect()),
    ]
}

/// A YAML double-quoted scalar holding `value` (JSON strings are valid YAML).
pub(crate) fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap()
}

/// One generated user, rendered to YAML by [`manifest_yaml`].
#[derive(Debug, Clone)]
pub(crate) struct GenUser {
    pub(crate) name: String,
    pub(crate) admin: Option<bool>,
    pub(crate) state: Option<&'static str>,
    pub(crate) emails: Option<Vec<String>>,
    pub(crate) password: Option<(u8, String)>,
    pub(crate) policy: Option<&'static str>,
    pub(crate) display_name: Option<String>,
    pub(crate) upstream: Option<Vec<(usize, String)>>,
}

pub(crate) fn user() -> impl Strategy<Value = GenUser> {
    (
        username(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop::sample::select(vec![
            "active",
            "locked",
            "deactivated",
        ])),
        proptest::option::of(prop::collection::vec(email(), 0..3)),
        proptest::option::of((0u8..4, "[a-z0-9]{0,6}")),
        proptest::option::of(prop::sample::select(vec!["initial", "enforce"])),
        proptest::option::of(text()),
        proptest::option::of(prop::collection::vec(
            (prop_oneof![12 => 0usize..3, 1 => Just(3)], text()),
            0..3,
        )),
    )
        .prop_map(
            |(name, admin, state, emails, password, policy, display_name, upstream)| GenUser {
                name,
                admin,
                state,
                emails,
                password,
                policy,
                display_name,
                upstream,
            },
        )
}

/// A generated manifest: users, tokens and settings.
#[derive(Debug, Clone)]
pub(crate) struct GenManifest {
    pub(crate) users: Vec<GenUser>,
    pub(crate) tokens: Vec<(String, Option<i64>, Option<i64>, bool)>,
    pub(crate) prune: Option<(&'static str, &'static str)>,
}

pub(crate) fn manifest_value() -> impl Strategy<Value = GenManifest> {
    (
        prop::collection::vec(user(), 0..5),
        prop::collection::vec(
            (
                text(),
                proptest::option::of(prop_oneof![8 => 0i64..1000, 1 => -2i64..3_000_000_000]),
                proptest::option::of(prop_oneof![
                    8 => 946_684_800i64..4_102_444_800,
                    1 => -100_000_000_000i64..300_000_000_000
                ]),
                any::<bool>(),
            ),
            0..4,
        ),
        proptest::option::of((
            prop::sample::select(vec!["ignore", "lock", "deactivate"]),
            prop::sample::select(vec!["ignore", "revoke"]),
        )),
    )
        .prop_map(|(users, tokens, prune)| GenManifest {
            users,
            tokens,
            prune,
        })
}

/// Renders a generated manifest as YAML.
pub(crate) fn manifest_yaml(manifest: &GenManifest) -> String {
    let mut yaml = String::from("version: 1\nusers:\n");
    for user in &manifest.users {
        let _ = writeln!(yaml, "  {}:", quoted(&user.name));
        if let Some(admin) = user.admin {
            let _ = writeln!(yaml, "    admin: {admin}");
        }
        if let Some(state) = user.state {
            let _ = writeln!(yaml, "    state: {state}");
        }
        if let Some(emails) = &user.emails {
            let list: Vec<String> = emails.iter().map(|email| quoted(email)).collect();
            let _ = writeln!(yaml, "    emails: [{}]", list.join(", "));
        }
        if let Some((kind, value)) = &user.password {
            let source = match kind {
                0 => format!("{{ env: PW_{} }}", value.to_ascii_uppercase()),
                1 => format!("{{ file: {} }}", quoted(&format!("pw/{value}"))),
                2 => quoted(&format!("{MARKER}-{value}")),
                _ => "{ hash: \"$2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq\", version: 1 }"
                    .to_owned(),
            };
            let _ = writeln!(yaml, "    password: {source}");
        }
        if let Some(policy) = user.policy {
            let _ = writeln!(yaml, "    password_policy: {policy}");
        }
        if let Some(name) = &user.display_name {
            let _ = writeln!(yaml, "    display_name: {}", quoted(name));
        }
        if let Some(links) = &user.upstream {
            yaml.push_str("    upstream:\n");
            for (provider, subject) in links {
                let provider = PROVIDERS.get(*provider).copied().unwrap_or("not-a-ulid");
                let _ = writeln!(
                    yaml,
                    "      - {{ provider: {provider}, subject: {} }}",
                    quoted(subject)
                );
            }
        }
    }
    yaml.push_str("registration_tokens:\n");
    for (token, limit, expires, revoked) in &manifest.tokens {
        let _ = writeln!(yaml, "  - token: {}", quoted(token));
        if let Some(limit) = limit {
            let _ = writeln!(yaml, "    usage_limit: {limit}");
        }
        if let Some(seconds) = expires.and_then(|s| Utc.timestamp_opt(s, 0).single()) {
            let _ = writeln!(yaml, "    expires_at: {}", seconds.to_rfc3339());
        }
        if *revoked {
            yaml.push_str("    state: revoked\n");
        }
    }
    if let Some((users, tokens)) = manifest.prune {
        let _ = writeln!(
            yaml,
            "prune: {{ users: {users}, registration_tokens: {tokens} }}"
        );
    }
    yaml
}

/// A character-level edit of a manifest's text.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Delete(Index, usize),
    Insert(Index, String),
    DuplicateLine(Index),
    Replace(Index, char),
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..8).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (
            any::<Index>(),
            prop_oneof![
                prop::sample::select(vec![
                    ":", "- ", "\n", "  ", "&a ", "*a", "!!str ", "{", "[", "\"", "'", "#", "\t",
                    "<<: ", "? ", "|\n", "---\n", "\u{0}", "\u{feff}"
                ])
                .prop_map(str::to_owned),
                any::<String>().prop_map(|s| s.chars().take(6).collect()),
            ]
        )
            .prop_map(|(at, text)| Mutation::Insert(at, text)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<char>()).prop_map(|(at, c)| Mutation::Replace(at, c)),
    ]
}

/// Applies `mutations` to `text`, at character positions.
pub(crate) fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for mutation in mutations {
        let len = chars.len().max(1);
        match mutation {
            Mutation::Delete(at, count) => {
                let start = at.index(len).min(chars.len());
                let end = (start + count).min(chars.len());
                chars.drain(start..end);
            }
            Mutation::Insert(at, text) => {
                let at = at.index(len + 1).min(chars.len());
                chars.splice(at..at, text.chars());
            }
            Mutation::DuplicateLine(at) => {
                let text: String = chars.iter().collect();
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                if let Some(line) = lines.get(at.index(lines.len().max(1))) {
                    let position: usize = lines
                        .iter()
                        .take(at.index(lines.len().max(1)))
                        .map(|l| l.chars().count())
                        .sum();
                    let copy: Vec<char> = line.chars().collect();
                    chars.splice(position..position, copy);
                }
            }
            Mutation::Replace(at, c) => {
                if !chars.is_empty() {
                    let at = at.index(chars.len());
                    chars[at] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}
