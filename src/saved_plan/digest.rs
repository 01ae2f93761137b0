//! The manifest digest: a SHA-256 of the manifest's meaning, not of its bytes.
//!
//! Comments, key order inside a user, quoting, file names and how the users are split across
//! files do not matter; everything the planner reads does, in the order it reads it. Secret
//! values (plaintext literals, hashes) are deliberately left out: a plain digest of a password
//! could be brute-forced offline. They are covered by the saved plan's keyed secret
//! fingerprints instead (`super::secrets`), for every password the plan writes; a secret the
//! plan does not write can only change the plan, which apply's re-plan catches.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::state::{DesiredState, DesiredToken, DesiredUser, PasswordSource};
use crate::model::{PasswordPolicy, TokenState, UserState};

#[derive(Serialize)]
struct Canonical<'a> {
    users: Vec<(&'a str, CanonicalUser<'a>)>,
    registration_tokens: Vec<(&'a str, CanonicalToken)>,
    prune: crate::model::state::Prune,
    guards: crate::model::state::Guards,
}

#[derive(Serialize)]
struct CanonicalUser<'a> {
    admin: bool,
    state: UserState,
    emails: Option<Vec<&'a str>>,
    password: Option<String>,
    password_policy: PasswordPolicy,
    display_name: Option<&'a str>,
    upstream: Option<Vec<(String, &'a str)>>,
}

#[derive(Serialize)]
struct CanonicalToken {
    usage_limit: Option<u32>,
    expires_at: Option<i64>,
    state: TokenState,
}

/// Returns the hex SHA-256 of the canonical form of `desired`.
#[must_use]
pub fn manifest_digest(desired: &DesiredState) -> String {
    let canonical = Canonical {
        users: desired
            .users
            .iter()
            .map(|(name, user)| (name.as_str(), user_of(user)))
            .collect(),
        registration_tokens: desired
            .registration_tokens
            .iter()
            .map(|(token, want)| (token.as_str(), token_of(want)))
            .collect(),
        prune: desired.prune,
        guards: desired.guards,
    };
    // Plain strings, numbers and lists: serialising cannot fail; were it to, the error text
    // still yields a digest that matches nothing real.
    let bytes =
        serde_json::to_vec(&canonical).unwrap_or_else(|error| error.to_string().into_bytes());
    hex::encode(Sha256::digest(&bytes))
}

fn user_of(user: &DesiredUser) -> CanonicalUser<'_> {
    // Destructured so that a new field cannot be forgotten here.
    let DesiredUser {
        admin,
        state,
        emails,
        password,
        password_policy,
        display_name,
        upstream,
        origin: _,
    } = user;
    CanonicalUser {
        admin: *admin,
        state: *state,
        emails: emails
            .as_ref()
            .map(|emails| emails.iter().map(|e| e.as_str()).collect()),
        password: password.as_ref().map(|password| match &password.source {
            PasswordSource::Env(name) => format!("env:{name}"),
            PasswordSource::File(path) => format!("file:{}", path.display()),
            PasswordSource::Literal(_) => "literal".to_owned(),
            PasswordSource::Hash { version, .. } => format!("hash:{version}"),
        }),
        password_policy: *password_policy,
        display_name: display_name.as_deref(),
        upstream: upstream.as_ref().map(|links| {
            links
                .iter()
                .map(|link| (link.provider.to_string(), link.subject.as_str()))
                .collect()
        }),
    }
}

fn token_of(token: &DesiredToken) -> CanonicalToken {
    let DesiredToken {
        usage_limit,
        expires_at,
        state,
        origin: _,
    } = token;
    CanonicalToken {
        usage_limit: *usage_limit,
        expires_at: expires_at.map(|at| at.timestamp_micros()),
        state: *state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{load_str, LoadOptions};

    fn digest(yaml: &str) -> String {
        let options = LoadOptions {
            allow_plaintext_passwords: true,
        };
        manifest_digest(&load_str("m.yaml", yaml, &options).unwrap())
    }

    #[test]
    fn layout_does_not_matter_meaning_does() {
        let base =
            digest("version: 1\nusers:\n  alice: { admin: true, emails: [a@example.org] }\n");
        let same = digest(
            "# a comment\nversion: 1\nusers:\n  alice:\n    emails: ['a@example.org']\n    admin: true\n",
        );
        assert_eq!(base, same);
        for other in [
            "version: 1\nusers:\n  alice: { admin: false, emails: [a@example.org] }\n",
            "version: 1\nusers:\n  alice: { admin: true, emails: [b@example.org] }\n",
            "version: 1\nusers:\n  alice: { admin: true }\n",
            "version: 1\nusers:\n  alice: { admin: true, emails: [a@example.org] }\nprune: { users: lock }\n",
            "version: 1\nusers:\n  alice: { admin: true, emails: [a@example.org] }\n  bob: {}\n",
        ] {
            assert_ne!(base, digest(other), "{other}");
        }
    }

    #[test]
    fn secret_values_are_not_digested() {
        let one = digest("version: 1\nusers:\n  alice: { password: \"first passphrase\" }\n");
        let two = digest("version: 1\nusers:\n  alice: { password: \"second passphrase\" }\n");
        // Equal on purpose: secrets are covered by keyed fingerprints, never by a plain hash.
        assert_eq!(one, two);
        let env = digest("version: 1\nusers:\n  alice: { password: { env: ALICE } }\n");
        assert_ne!(one, env);
    }
}
