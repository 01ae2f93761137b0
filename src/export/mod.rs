//! `masctl export`: the database's users and registration tokens as a manifest, so that an
//! existing deployment can be adopted. `plan` on the exported manifest is empty.
//!
//! What is written: users sorted by username with `admin`, `state`, `emails` (exact, when the
//! user has any and is not deactivated, since MAS removes a deactivated user's emails) and
//! `upstream` links (when any); registration tokens with `usage_limit`, `expires_at` and
//! `state`. Never written: passwords (the key is omitted, which leaves them alone) unless
//! hashes are explicitly asked for, and display names, which live on the homeserver.
//!
//! A value the manifest format cannot express (a username outside the localpart alphabet, an
//! address that is not valid, two users differing only in case…) is left out with a warning,
//! in the narrowest way that keeps the plan empty: an invalid address drops the user's `emails`
//! key (leave alone), not the user. The result is re-loaded with the manifest loader before it
//! is returned, so an export that would not validate is an error rather than a bad file.
//!
//! Pure: this module reads an [`ActualState`] and returns text; the CLI does the I/O.

use std::collections::HashSet;

use chrono::SecondsFormat;
use indexmap::IndexMap;
use thiserror::Error;

use crate::manifest::raw::{self, Spanned};
use crate::manifest::{self, LoadOptions, ManifestError};
use crate::model::state::{ActualState, ActualToken, ActualUser};
use crate::model::{fold_case, UserState, Username};

/// What to export.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Write each user's current password hash as `password: { hash, version }`.
    pub include_password_hashes: bool,
    /// Write the registration tokens (off when exporting selected users only).
    pub include_tokens: bool,
}

/// An exported manifest and what could not be expressed in it.
#[derive(Debug)]
pub struct Export {
    /// The manifest as YAML, with a header comment.
    pub yaml: String,
    /// Users written.
    pub users: usize,
    /// Tokens written.
    pub tokens: usize,
    /// One line per value left out, saying why.
    pub warnings: Vec<String>,
}

/// Why an export failed.
#[derive(Debug, Error, miette::Diagnostic)]
#[error("the exported manifest does not validate (a masctl bug): {0}")]
#[diagnostic(code(masctl::export::invalid))]
pub struct ExportError(#[source] ManifestError);

/// Writes `actual` as a manifest; `header` lines are prepended as comments.
///
/// # Errors
/// [`ExportError`] if the result does not load back (it always should).
pub fn export(
    actual: &ActualState,
    options: ExportOptions,
    header: &[String],
) -> Result<Export, ExportError> {
    let mut warnings = Vec::new();
    let mut users = IndexMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut sorted: Vec<&ActualUser> = actual.users.iter().collect();
    // Case-insensitively, as people read names; the exact spelling breaks ties.
    sorted.sort_by(|a, b| {
        (a.username.folded(), a.username.as_str()).cmp(&(b.username.folded(), b.username.as_str()))
    });
    for user in sorted {
        let name = user.username.as_str();
        if let Err(error) = Username::new(name) {
            warnings.push(format!("user `{name}` left out: {error}"));
            continue;
        }
        if !seen.insert(fold_case(name)) {
            warnings.push(format!(
                "user `{name}` left out: it differs only in case from a user already exported, which a manifest cannot express"
            ));
            continue;
        }
        let exported = export_user(user, options, &mut warnings);
        users.insert(Spanned::new(name.to_owned()), Some(exported));
    }
    let tokens: Vec<raw::Token> = if options.include_tokens {
        actual
            .registration_tokens
            .iter()
            .filter_map(|token| export_token(token, &mut warnings))
            .collect()
    } else {
        Vec::new()
    };
    let counts = (users.len(), tokens.len());
    let manifest = raw::Manifest {
        version: Some(Spanned::new(1)),
        users: (!users.is_empty()).then_some(users),
        registration_tokens: options.include_tokens.then_some(tokens),
        prune: None,
        guards: None,
    };
    let mut yaml: String = header.iter().map(|line| format!("# {line}\n")).collect();
    // Strings, numbers, lists and maps with string keys: serialising cannot fail.
    yaml.push_str(&serde_yaml::to_string(&manifest).unwrap_or_default());
    manifest::load_str("exported manifest", &yaml, &LoadOptions::default()).map_err(ExportError)?;
    Ok(Export {
        yaml,
        users: counts.0,
        tokens: counts.1,
        warnings,
    })
}

fn export_user(user: &ActualUser, options: ExportOptions, warnings: &mut Vec<String>) -> raw::User {
    let name = user.username.as_str();
    let state = match user.state() {
        UserState::Active => raw::UserState::Active,
        UserState::Locked => raw::UserState::Locked,
        UserState::Deactivated => raw::UserState::Deactivated,
    };
    let emails = (!user.emails.is_empty() && user.state() != UserState::Deactivated)
        .then(|| emails_of(user, warnings))
        .flatten();
    let upstream = (!user.upstream_links.is_empty())
        .then(|| {
            if let Some(link) = user.upstream_links.iter().find(|l| l.subject.is_empty()) {
                warnings.push(format!(
                    "user `{name}`: upstream links left alone (not exported): the link to {} has an empty subject",
                    link.provider
                ));
                return None;
            }
            Some(
                user.upstream_links
                    .iter()
                    .map(|link| {
                        Spanned::new(raw::UpstreamLink {
                            provider: Spanned::new(link.provider.to_string()),
                            subject: Spanned::new(link.subject.clone()),
                        })
                    })
                    .collect(),
            )
        })
        .flatten();
    let password = options
        .include_password_hashes
        .then(|| password_of(user, warnings))
        .flatten()
        .map(|password| Spanned::new(Box::new(password.value)));
    raw::User {
        admin: user.can_request_admin,
        emails,
        password,
        password_policy: raw::PasswordPolicy::Initial,
        display_name: None,
        upstream,
        state,
    }
}

/// Returns the user's addresses, or `None` (leave them alone) if one cannot be written.
fn emails_of(user: &ActualUser, warnings: &mut Vec<String>) -> Option<Vec<Spanned<String>>> {
    let name = user.username.as_str();
    let mut seen = HashSet::new();
    for row in &user.emails {
        let problem = match manifest::check_email(row.email.as_str()) {
            Err(reason) => Some(format!("`{}` is not a valid address ({reason})", row.email)),
            Ok(()) if !seen.insert(row.email.folded()) => {
                Some(format!("`{}` is stored twice", row.email))
            }
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            warnings.push(format!(
                "user `{name}`: emails left alone (not exported): {problem}"
            ));
            return None;
        }
    }
    Some(
        user.emails
            .iter()
            .map(|row| Spanned::new(row.email.to_string()))
            .collect(),
    )
}

fn password_of(user: &ActualUser, warnings: &mut Vec<String>) -> Option<Spanned<raw::Password>> {
    let current = user.password.as_ref()?;
    let name = user.username.as_str();
    let version = u16::try_from(current.version).ok().filter(|v| *v > 0);
    let Some(version) = version else {
        warnings.push(format!(
            "user `{name}`: password left out: scheme version {} cannot be written in a manifest",
            current.version
        ));
        return None;
    };
    if let Err(reason) = manifest::check_hash(current.hashed_password.expose()) {
        warnings.push(format!("user `{name}`: password left out: {reason}"));
        return None;
    }
    Some(Spanned::new(raw::Password::Source(raw::PasswordSource {
        hash: Some(Spanned::new(current.hashed_password.expose().to_owned())),
        version: Some(Spanned::new(version)),
        ..raw::PasswordSource::default()
    })))
}

fn export_token(token: &ActualToken, warnings: &mut Vec<String>) -> Option<raw::Token> {
    let typable = !token.token.is_empty()
        && !token
            .token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if !typable {
        warnings.push(format!(
            "a registration token left out: {:?} holds spaces or control characters, which a manifest cannot express",
            token.token
        ));
        return None;
    }
    if token.usage_limit.is_some_and(|limit| limit < 0) {
        warnings.push(format!(
            "registration token `{}` left out: its usage limit is negative",
            token.token
        ));
        return None;
    }
    Some(raw::Token {
        token: Spanned::new(token.token.clone()),
        usage_limit: token
            .usage_limit
            .map(|limit| Spanned::new(i64::from(limit))),
        expires_at: token
            .expires_at
            .map(|at| Spanned::new(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))),
        state: if token.revoked_at.is_some() {
            raw::TokenState::Revoked
        } else {
            raw::TokenState::Active
        },
    })
}
