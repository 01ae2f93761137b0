//! Judging open emergency records against a plan: does the plan undo them, does the manifest
//! now say the same thing, or has the database moved on? Pure, like the planner.
//!
//! A record "holds" when the database still has the value the command left. A plan "reverts"
//! it when replaying the plan's changes on the database makes it stop holding. Only the changes
//! are replayed, never the manifest's intent, so the verdict is exactly what apply would do.

use std::collections::HashMap;

use miette::Diagnostic;
use thiserror::Error;
use ulid::Ulid;

use super::emergency::{
    EmergencyFinding, EmergencyObject, EmergencyRecord, EmergencyReport, EmergencyValue, Verdict,
};
use super::planner::{Index, Lookup};
use super::{Change, Plan};
use crate::model::state::{
    ActualState, ActualToken, ActualUser, DesiredState, DesiredToken, DesiredUser,
};
use crate::model::{PasswordPolicy, TokenState, UserId, UserState};

/// Judges every open record against `plan`, which was computed from `desired` and `actual`.
#[must_use]
pub fn assess(
    desired: &DesiredState,
    actual: &ActualState,
    plan: &Plan,
    records: &[EmergencyRecord],
) -> EmergencyReport {
    if records.is_empty() {
        return EmergencyReport::default();
    }
    let index = Index::new(actual);
    let listed_users: HashMap<UserId, &DesiredUser> = desired
        .users
        .iter()
        .filter_map(|(name, want)| match index.find_user(name) {
            Lookup::Found(user) => Some((user.id, want)),
            Lookup::Missing | Lookup::Ambiguous(_) => None,
        })
        .collect();
    let users: HashMap<UserId, &ActualUser> = actual.users.iter().map(|u| (u.id, u)).collect();
    let tokens: HashMap<Ulid, &ActualToken> = actual
        .registration_tokens
        .iter()
        .map(|t| (t.id, t))
        .collect();
    let mut user_changes: HashMap<UserId, Vec<&Change>> = HashMap::new();
    let mut token_changes: HashMap<Ulid, Vec<&Change>> = HashMap::new();
    for change in &plan.changes {
        if let Some(id) = user_of(change) {
            user_changes.entry(id).or_default().push(change);
        } else if let Some(id) = token_of(change) {
            token_changes.entry(id).or_default().push(change);
        }
    }
    let findings = records
        .iter()
        .map(|record| {
            let value = &record.change.value;
            let verdict = match &record.change.object {
                EmergencyObject::User { id, .. } => {
                    users.get(id).map_or(Verdict::Superseded, |user| {
                        let changes = user_changes.get(id).map_or(&[][..], Vec::as_slice);
                        judge_user(user, value, changes, listed_users.get(id).copied())
                    })
                }
                EmergencyObject::RegistrationToken { id, .. } => {
                    tokens.get(id).map_or(Verdict::Superseded, |token| {
                        let changes = token_changes.get(id).map_or(&[][..], Vec::as_slice);
                        let listed = desired.registration_tokens.get(&token.token);
                        judge_token(token, value, changes, listed)
                    })
                }
            };
            EmergencyFinding {
                record: record.clone(),
                verdict,
            }
        })
        .collect();
    EmergencyReport { findings }
}

/// Returns the user a change belongs to, if it names an existing one.
fn user_of(change: &Change) -> Option<UserId> {
    match change {
        Change::SetAdmin { user, .. }
        | Change::LockUser { user }
        | Change::UnlockUser { user }
        | Change::DeactivateUser { user }
        | Change::ReactivateUser { user }
        | Change::AddEmail { user, .. }
        | Change::RemoveEmail { user, .. }
        | Change::SetPassword { user, .. }
        | Change::LinkUpstream { user, .. }
        | Change::UnlinkUpstream { user, .. }
        | Change::ProvisionUser { user, .. } => Some(user.id),
        // New users cannot carry an emergency record yet; other kinds concern tokens or
        // things a manifest does not manage.
        _ => None,
    }
}

/// Returns the registration token a change belongs to, if it names an existing one.
fn token_of(change: &Change) -> Option<Ulid> {
    match change {
        Change::UpdateToken { id, .. }
        | Change::RevokeToken { id, .. }
        | Change::UnrevokeToken { id, .. } => Some(*id),
        _ => None,
    }
}

fn judge_user(
    user: &ActualUser,
    value: &EmergencyValue,
    changes: &[&Change],
    listed: Option<&DesiredUser>,
) -> Verdict {
    let mut state = (user.locked_at.is_some(), user.deactivated_at.is_some());
    let mut admin = user.can_request_admin;
    let holds_now = holds_on_user(user, value, state, admin, 0);
    if !holds_now {
        return Verdict::Superseded;
    }
    let mut email_delta: i64 = 0;
    for change in changes {
        match change {
            Change::LockUser { .. } => state.0 = true,
            Change::UnlockUser { .. } => state.0 = false,
            Change::DeactivateUser { .. } => state.1 = true,
            Change::ReactivateUser { .. } => state.1 = false,
            Change::SetAdmin { admin: new, .. } => admin = *new,
            Change::AddEmail { email, .. } | Change::RemoveEmail { email, .. } => {
                if let EmergencyValue::Email { address, .. } = value {
                    if email.folded() == address.folded() {
                        email_delta += if matches!(change, Change::AddEmail { .. }) {
                            1
                        } else {
                            -1
                        };
                    }
                }
            }
            // A new password row replaces the one the command wrote.
            Change::SetPassword { .. } if matches!(value, EmergencyValue::Password { .. }) => {
                return Verdict::Reverts;
            }
            Change::LinkUpstream {
                provider, subject, ..
            }
            | Change::UnlinkUpstream {
                provider, subject, ..
            } => {
                if let EmergencyValue::Upstream {
                    provider: p,
                    subject: s,
                    present,
                } = value
                {
                    let linking = matches!(change, Change::LinkUpstream { .. });
                    if p == provider && s == subject && linking != *present {
                        return Verdict::Reverts;
                    }
                }
            }
            _ => {}
        }
    }
    if !holds_on_user(user, value, state, admin, email_delta) {
        return Verdict::Reverts;
    }
    if listed.is_some_and(|want| manifest_says_user(want, value)) {
        Verdict::Adopted
    } else {
        Verdict::Uncovered
    }
}

/// Returns whether `value` holds for `user` with the given (locked, deactivated) flags, admin
/// flag, and a change in the number of rows holding the recorded address.
fn holds_on_user(
    user: &ActualUser,
    value: &EmergencyValue,
    (locked, deactivated): (bool, bool),
    admin: bool,
    email_delta: i64,
) -> bool {
    match value {
        EmergencyValue::State { state } => {
            let now = if deactivated {
                UserState::Deactivated
            } else if locked {
                UserState::Locked
            } else {
                UserState::Active
            };
            now == *state
        }
        EmergencyValue::Admin { admin: wanted } => admin == *wanted,
        EmergencyValue::Email { address, present } => {
            let folded = address.folded();
            let rows = user
                .emails
                .iter()
                .filter(|row| row.email.folded() == folded)
                .count();
            let rows = i64::try_from(rows).unwrap_or(i64::MAX);
            (rows + email_delta > 0) == *present
        }
        EmergencyValue::Password { password_id } => user
            .password
            .as_ref()
            .is_some_and(|row| row.id == *password_id),
        EmergencyValue::Upstream {
            provider,
            subject,
            present,
        } => {
            let linked = user
                .upstream_links
                .iter()
                .any(|link| link.provider == *provider && link.subject == *subject);
            linked == *present
        }
        // A token value recorded against a user is malformed: it never holds.
        EmergencyValue::Token { .. } => false,
    }
}

/// Returns whether the manifest, where it manages this field, asks for the recorded value.
fn manifest_says_user(want: &DesiredUser, value: &EmergencyValue) -> bool {
    match value {
        EmergencyValue::State { state } => want.state == *state,
        EmergencyValue::Admin { admin } => want.admin == *admin,
        EmergencyValue::Email { address, present } => want.emails.as_ref().is_some_and(|emails| {
            emails.iter().any(|e| e.folded() == address.folded()) == *present
        }),
        // The plan keeps the row the command wrote, so an enforced manifest password verified
        // equal to it: the manifest holds the same password.
        EmergencyValue::Password { .. } => {
            want.password.is_some() && want.password_policy == PasswordPolicy::Enforce
        }
        EmergencyValue::Upstream {
            provider,
            subject,
            present,
        } => want.upstream.as_ref().is_some_and(|links| {
            links
                .iter()
                .any(|l| l.provider == *provider && l.subject == *subject)
                == *present
        }),
        EmergencyValue::Token { .. } => false,
    }
}

fn judge_token(
    token: &ActualToken,
    value: &EmergencyValue,
    changes: &[&Change],
    listed: Option<&DesiredToken>,
) -> Verdict {
    let EmergencyValue::Token {
        revoked,
        usage_limit,
        expires_at,
    } = value
    else {
        return Verdict::Superseded;
    };
    let mut now = (
        token.revoked_at.is_some(),
        token
            .usage_limit
            .and_then(|limit| u32::try_from(limit).ok()),
        token.expires_at,
    );
    let recorded = (*revoked, *usage_limit, *expires_at);
    if now != recorded {
        return Verdict::Superseded;
    }
    for change in changes {
        match change {
            Change::RevokeToken { .. } => now.0 = true,
            Change::UnrevokeToken { .. } => now.0 = false,
            Change::UpdateToken {
                usage_limit,
                expires_at,
                ..
            } => {
                now.1 = *usage_limit;
                now.2 = *expires_at;
            }
            _ => {}
        }
    }
    if now != recorded {
        return Verdict::Reverts;
    }
    let adopted = listed.is_some_and(|want| {
        (want.state == TokenState::Revoked, want.usage_limit) == (*revoked, *usage_limit)
            && want.expires_at.map(|t| t.timestamp_micros())
                == expires_at.map(|t| t.timestamp_micros())
    });
    if adopted {
        Verdict::Adopted
    } else {
        Verdict::Uncovered
    }
}

/// Refusal to undo emergency changes without `--revert-emergency` (exit 4, like a guard).
#[derive(Debug, Error, Diagnostic, PartialEq)]
#[error(
    "refusing to revert {} emergency change{} made outside the manifest:\n{}",
    lines.len(),
    if lines.len() == 1 { "" } else { "s" },
    lines.join("\n")
)]
#[diagnostic(
    code(masctl::guard::emergency_change),
    help("{hints}\nor pass --revert-emergency to undo the emergency change on purpose")
)]
pub struct EmergencyRevertRefused {
    /// One line per reverted record.
    pub lines: Vec<String>,
    /// The manifest edits that would keep each change, one per line.
    pub hints: String,
}

/// Refuses a plan that undoes open emergency changes, unless reverting is allowed.
///
/// # Errors
/// [`EmergencyRevertRefused`] listing every record the plan would undo and how to keep it.
pub fn check_emergencies(
    report: &EmergencyReport,
    revert_allowed: bool,
) -> Result<(), EmergencyRevertRefused> {
    if revert_allowed || !report.has_reverts() {
        return Ok(());
    }
    let lines = report
        .reverts()
        .map(|finding| format!("  - {}", finding.record.describe()))
        .collect();
    let hints = report
        .reverts()
        .map(|finding| {
            let change = &finding.record.change;
            format!("to keep it: {}", change.value.manifest_hint(&change.object))
        })
        .collect::<Vec<_>>()
        .join("\n");
    Err(EmergencyRevertRefused { lines, hints })
}

#[cfg(test)]
#[path = "drift_tests.rs"]
mod tests;
