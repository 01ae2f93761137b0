//! Planning registration tokens: usage limit and expiry are enforced (absent = unlimited /
//! never), and so is the revoked state.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::planner::Builder;
use super::{Change, NewToken};
use crate::model::state::{ActualState, ActualToken, DesiredState};
use crate::model::TokenState;

/// Appends token changes in manifest order and returns the ids of the tokens the manifest lists.
pub(crate) fn plan(
    builder: &mut Builder,
    desired: &DesiredState,
    actual: &ActualState,
) -> HashSet<Ulid> {
    // Token matching is exact and case-sensitive, as MAS's registration check is.
    let by_token: HashMap<&str, &ActualToken> = actual
        .registration_tokens
        .iter()
        .map(|token| (token.token.as_str(), token))
        .collect();
    let mut matched = HashSet::with_capacity(desired.registration_tokens.len());
    for (token, want) in &desired.registration_tokens {
        let expires_at = want.expires_at.map(truncate_to_micros);
        let Some(row) = by_token.get(token.as_str()) else {
            builder.basis.add_absent("token", token);
            builder.changes.push(Change::CreateToken(NewToken {
                token: token.clone(),
                usage_limit: want.usage_limit,
                expires_at,
                revoked: want.state == TokenState::Revoked,
            }));
            continue;
        };
        matched.insert(row.id);
        builder.basis.add("token", *row);
        let usage_limit_differs =
            row.usage_limit != want.usage_limit.and_then(|limit| i32::try_from(limit).ok());
        if usage_limit_differs || row.expires_at != expires_at {
            builder.changes.push(Change::UpdateToken {
                id: row.id,
                token: token.clone(),
                usage_limit: want.usage_limit,
                expires_at,
            });
        }
        match (want.state, row.revoked_at.is_some()) {
            (TokenState::Revoked, false) => builder.changes.push(Change::RevokeToken {
                id: row.id,
                token: token.clone(),
            }),
            (TokenState::Active, true) => builder.changes.push(Change::UnrevokeToken {
                id: row.id,
                token: token.clone(),
            }),
            _ => {}
        }
    }
    matched
}

/// Truncates to the microsecond precision PostgreSQL stores, so a manifest timestamp with
/// nanoseconds does not differ from its own stored value forever.
fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}
