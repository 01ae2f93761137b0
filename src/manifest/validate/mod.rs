//! raw → model for one file: the rules about values (usernames, emails, passwords, ULIDs,
//! timestamps, limits), each broken rule reported at its node.
//!
//! Every user and token is checked even after a problem, so that one run reports everything.
//! Rules that span several entries or files (duplicate users, tokens and links, conflicting
//! `prune`/`guards`) are `merge`'s. Secrets are not read here: see `secrets::resolve_password`.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ulid::Ulid;

mod password;
mod text;

use rayon::prelude::*;

use super::de::MAX_PROBLEMS;
use super::document::{too_many_problems, Document};
use super::error::{IssueKind, ManifestIssue};
use super::merge::Merger;
use super::raw::{self, Spanned};
use super::tree::label_span;
use super::tree::NodeId;
use super::{email, LoadOptions};
use crate::model::state::{
    DesiredLink, DesiredToken, DesiredUser, Guards, Prune, PruneTokens, PruneUsers,
};
use crate::model::{
    fold_case, EmailAddress, Origin, PasswordPolicy, ProviderId, SourceFile, TokenState, UserState,
    Username,
};

/// Checks one decoded file and hands what is valid to `merger`, user by user, so that no
/// second copy of a large file's users is ever held; `base` is the directory relative `file:`
/// passwords start from.
pub(crate) fn validate(
    document: Document,
    base: &Path,
    options: &LoadOptions,
    issues: &mut Vec<ManifestIssue>,
    merger: &mut Merger<'_>,
) {
    users(&document, base, options, issues, merger);
    let Document { source, raw, .. } = document;
    let mut checker = Checker {
        source: &source,
        base,
        options,
        issues,
    };
    for token in raw.registration_tokens.unwrap_or_default() {
        if let Some((name, token)) = checker.token(token) {
            merger.add_token(name, token);
        }
    }
    if let Some(prune) = raw.prune {
        let origin = checker.origin(&prune.span);
        merger.set_prune(convert_prune(prune.value), origin);
    }
    if let Some(guards) = raw.guards {
        let origin = checker.origin(&guards.span);
        merger.set_guards(checker.guards(&guards.value), origin);
    }
}

/// Users decoded and checked by one task.
const USERS_PER_TASK: usize = 1024;

/// Users decoded and checked in parallel before they are merged: bounds the memory held by
/// checked users waiting for the merger.
const USERS_PER_WAVE: usize = 8 * USERS_PER_TASK;

/// Decodes and checks the users, in parallel waves, and merges them in file order.
///
/// Merging is sequential, so it overlaps with the next wave: while the merger takes wave `n`,
/// the other cores check wave `n + 1`. Decoding stops once the problems merged so far pass
/// [`MAX_PROBLEMS`]: only the first problems are shown, and later waves only hold later ones.
fn users(
    document: &Document,
    base: &Path,
    options: &LoadOptions,
    issues: &mut Vec<ManifestIssue>,
    merger: &mut Merger<'_>,
) {
    let entries = document.user_entries();
    merger.reserve_users(entries.len());
    let mut checked = Vec::new();
    for wave in entries.chunks(USERS_PER_WAVE) {
        let merging = std::mem::take(&mut checked);
        let (next, ()) = rayon::join(
            || check_wave(document, base, options, wave),
            || merge_wave(merging, issues, merger),
        );
        checked = next;
        if issues.len() > MAX_PROBLEMS {
            issues.push(too_many_problems(&document.source.name));
            return;
        }
    }
    merge_wave(checked, issues, merger);
}

/// What one task of a wave found: the users that passed, and the problems.
type Checked = (Vec<(Username, DesiredUser)>, Vec<ManifestIssue>);

/// Decodes and checks one wave of user entries, a task per [`USERS_PER_TASK`] users.
fn check_wave(
    document: &Document,
    base: &Path,
    options: &LoadOptions,
    wave: &[(NodeId, NodeId)],
) -> Vec<Checked> {
    wave.par_chunks(USERS_PER_TASK)
        .map(|task| {
            let mut found = Vec::new();
            let mut checker = Checker {
                source: &document.source,
                base,
                options,
                issues: &mut found,
            };
            let users = task
                .iter()
                .filter_map(|&entry| {
                    let (name, user) = document.user(entry, checker.issues)?;
                    checker.user(name, user)
                })
                .collect();
            (users, found)
        })
        .collect()
}

/// Hands a checked wave to the merger, in file order.
fn merge_wave(wave: Vec<Checked>, issues: &mut Vec<ManifestIssue>, merger: &mut Merger<'_>) {
    for (users, found) in wave {
        issues.extend(found);
        for (username, user) in users {
            merger.add_user(username, user);
        }
    }
}

struct Checker<'a> {
    source: &'a Arc<SourceFile>,
    base: &'a Path,
    options: &'a LoadOptions,
    issues: &'a mut Vec<ManifestIssue>,
}

impl Checker<'_> {
    fn origin(&self, span: &Range<usize>) -> Origin {
        Origin {
            source: Arc::clone(self.source),
            span: label_span(&self.source.text, span).into(),
        }
    }

    fn report(
        &mut self,
        kind: IssueKind,
        span: &Range<usize>,
        message: String,
        label: &str,
        help: Option<&str>,
    ) {
        let span = label_span(&self.source.text, span);
        let mut issue =
            ManifestIssue::new(kind, message).located(self.source, span, Some(label.to_owned()));
        if let Some(help) = help {
            issue = issue.help(help);
        }
        self.issues.push(issue);
    }

    fn user(&mut self, name: Spanned<String>, raw: raw::User) -> Option<(Username, DesiredUser)> {
        let Spanned { value: name, span } = name;
        let username = match Username::new(name) {
            Ok(username) => Some(username),
            Err(error) => {
                let help =
                    "a username is the localpart of a Matrix ID: letters, digits and `. _ = - / +`";
                self.report(
                    IssueKind::InvalidUsername,
                    &span,
                    format!("invalid username: {error}"),
                    "this username",
                    Some(help),
                );
                None
            }
        };
        let user = DesiredUser {
            admin: raw.admin,
            state: match raw.state {
                raw::UserState::Active => UserState::Active,
                raw::UserState::Locked => UserState::Locked,
                raw::UserState::Deactivated => UserState::Deactivated,
            },
            emails: raw.emails.map(|emails| self.emails(emails)),
            password: raw.password.and_then(|password| {
                self.password(Spanned {
                    value: *password.value,
                    span: password.span,
                })
                .map(Box::new)
            }),
            password_policy: match raw.password_policy {
                raw::PasswordPolicy::Initial => PasswordPolicy::Initial,
                raw::PasswordPolicy::Enforce => PasswordPolicy::Enforce,
            },
            display_name: raw
                .display_name
                .and_then(|name| {
                    let max = text::MAX_DISPLAY_NAME_CHARS;
                    self.stored_text(name, "display name", usize::MAX, max)
                })
                .map(|name| name.value),
            upstream: raw.upstream.map(|links| {
                links
                    .into_iter()
                    .filter_map(|link| self.link(link))
                    .collect()
            }),
            origin: self.origin(&span),
        };
        Some((username?, user))
    }

    fn emails(&mut self, emails: Vec<Spanned<String>>) -> Vec<EmailAddress> {
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut valid = Vec::new();
        for email in emails {
            if let Err(reason) = email::check(&email.value) {
                let message = format!("`{}` is not a valid email address: {reason}", email.value);
                self.report(
                    IssueKind::InvalidEmail,
                    &email.span,
                    message,
                    "invalid email address",
                    None,
                );
                continue;
            }
            let folded = fold_case(&email.value);
            if let Some(first) = seen.get(&folded) {
                let first = label_span(&self.source.text, first);
                let issue = ManifestIssue::new(
                    IssueKind::DuplicateEmail,
                    format!("`{}` is listed twice for this user", email.value),
                )
                .located(
                    self.source,
                    label_span(&self.source.text, &email.span),
                    Some("listed again here".to_owned()),
                )
                .also(first, "first listed here")
                .help("MAS compares email addresses case-insensitively: keep one of them");
                self.issues.push(issue);
                continue;
            }
            seen.insert(folded, email.span.clone());
            valid.push(EmailAddress::new_unchecked(email.value));
        }
        valid
    }

    fn link(&mut self, link: Spanned<raw::UpstreamLink>) -> Option<DesiredLink> {
        let raw::UpstreamLink { provider, subject } = link.value;
        let provider = match parse_ulid(&provider.value) {
            Ok(ulid) => Some(ProviderId(ulid)),
            Err(reason) => {
                let help = "the provider is the `id` of its entry under `upstream_oauth2.providers` in MAS's config";
                self.report(
                    IssueKind::InvalidUlid,
                    &provider.span,
                    format!("invalid provider ULID: {reason}"),
                    "this ULID",
                    Some(help),
                );
                None
            }
        };
        let subject = self.stored_text(subject, "subject", text::MAX_KEY_BYTES, usize::MAX)?;
        if subject.value.is_empty() {
            self.report(
                IssueKind::InvalidValue,
                &subject.span,
                "the subject is empty".to_owned(),
                "empty subject",
                None,
            );
            return None;
        }
        Some(DesiredLink {
            provider: provider?,
            subject: subject.value,
            origin: self.origin(&link.span),
        })
    }

    /// Returns `text` if it can be stored as a `what` (see [`text`]), else reports why.
    fn stored_text(
        &mut self,
        text: Spanned<String>,
        what: &str,
        max_bytes: usize,
        max_chars: usize,
    ) -> Option<Spanned<String>> {
        match text::check(&text.value, what, max_bytes, max_chars) {
            Ok(()) => Some(text),
            Err(message) => {
                self.report(
                    IssueKind::InvalidValue,
                    &text.span,
                    message,
                    "this value",
                    None,
                );
                None
            }
        }
    }

    fn token(&mut self, token: raw::Token) -> Option<(String, DesiredToken)> {
        let raw::Token {
            token: name,
            usage_limit,
            expires_at,
            state,
        } = token;
        let name_ok = self.token_name(&name);
        // `Some(None)`: present but invalid (already reported).
        let usage_limit = usage_limit.map(|limit| self.usage_limit(&limit));
        let expires_at = expires_at.map(|at| self.timestamp(&at));
        let valid = name_ok && usage_limit != Some(None) && expires_at != Some(None);
        let desired = DesiredToken {
            usage_limit: usage_limit.flatten(),
            expires_at: expires_at.flatten(),
            state: match state {
                raw::TokenState::Active => TokenState::Active,
                raw::TokenState::Revoked => TokenState::Revoked,
            },
            origin: self.origin(&name.span),
        };
        valid.then_some((name.value, desired))
    }

    fn token_name(&mut self, name: &Spanned<String>) -> bool {
        // People type tokens at registration: invisible characters would make them unusable.
        let typable = !name.value.is_empty()
            && !name
                .value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if !typable {
            let message =
                "a registration token cannot be empty or hold spaces or control characters";
            self.report(
                IssueKind::InvalidToken,
                &name.span,
                message.to_owned(),
                "this token",
                None,
            );
            return false;
        }
        if name.value.len() > text::MAX_KEY_BYTES {
            let message = format!(
                "a registration token is at most {} bytes long, this one has {}",
                text::MAX_KEY_BYTES,
                name.value.len()
            );
            self.report(
                IssueKind::InvalidToken,
                &name.span,
                message,
                "this token",
                None,
            );
            return false;
        }
        true
    }

    fn timestamp(&mut self, at: &Spanned<String>) -> Option<DateTime<Utc>> {
        match DateTime::parse_from_rfc3339(&at.value) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(error) => {
                let help = "write it like 2027-01-01T00:00:00Z (date, time and offset)";
                let message = format!("`{}` is not an RFC 3339 timestamp: {error}", at.value);
                self.report(
                    IssueKind::InvalidTimestamp,
                    &at.span,
                    message,
                    "this timestamp",
                    Some(help),
                );
                None
            }
        }
    }

    fn usage_limit(&mut self, limit: &Spanned<i64>) -> Option<u32> {
        // MAS stores the limit in an `integer` column, so it must fit in an i32.
        let max = i64::from(i32::MAX);
        let message = if limit.value < 0 {
            "the usage limit cannot be negative".to_owned()
        } else if limit.value > max {
            format!(
                "the usage limit is too large: MAS stores it as a 32-bit integer (at most {max})"
            )
        } else {
            return u32::try_from(limit.value).ok();
        };
        self.report(
            IssueKind::InvalidUsageLimit,
            &limit.span,
            message,
            "this limit",
            Some("omit `usage_limit` for an unlimited token"),
        );
        None
    }

    fn guards(&mut self, guards: &raw::Guards) -> Guards {
        let percent = guards.max_destructive_percent.as_ref().and_then(|percent| {
            if let Ok(percent @ 0..=100) = u8::try_from(percent.value) {
                return Some(percent);
            }
            let message = "`max_destructive_percent` is a percentage: from 0 to 100".to_owned();
            self.report(
                IssueKind::InvalidGuard,
                &percent.span,
                message,
                "this value",
                None,
            );
            None
        });
        Guards {
            max_deactivations: guards.max_deactivations,
            max_locks: guards.max_locks,
            max_destructive_percent: percent,
        }
    }
}

fn convert_prune(prune: raw::Prune) -> Prune {
    Prune {
        users: match prune.users {
            raw::PruneUsers::Ignore => PruneUsers::Ignore,
            raw::PruneUsers::Lock => PruneUsers::Lock,
            raw::PruneUsers::Deactivate => PruneUsers::Deactivate,
        },
        registration_tokens: match prune.registration_tokens {
            raw::PruneTokens::Ignore => PruneTokens::Ignore,
            raw::PruneTokens::Revoke => PruneTokens::Revoke,
        },
    }
}

/// Parses a ULID case-insensitively, refusing what the `ulid` crate would silently truncate.
pub(crate) fn parse_ulid(text: &str) -> Result<Ulid, String> {
    let length = text.chars().count();
    if length != ulid::ULID_LEN {
        return Err(format!(
            "a ULID has {} characters, this one has {length}",
            ulid::ULID_LEN
        ));
    }
    // 26 base32 digits hold 130 bits; a ULID is 128, so the first digit is at most 7.
    if !text.starts_with(|c: char| ('0'..='7').contains(&c)) {
        return Err("a ULID starts with a digit from 0 to 7".to_owned());
    }
    Ulid::from_string(text).map_err(|_| {
        "a ULID uses Crockford's base32: digits and letters except I, L, O and U".to_owned()
    })
}
