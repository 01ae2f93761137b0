//! Display-name facts: what pending `provision-user` jobs carry and what the homeserver has, for
//! the managed users whose manifest sets a display name.
//!
//! Display names live on the homeserver, not in MAS's database (mas-facts §10.3), so they are
//! gathered before planning. A pending job is the freshest value (MAS's worker will send it
//! next), so only users without one are looked up, through Synapse's
//! `_synapse/mas/query_user`, a bounded number at a time.
//!
//! Without a homeserver client (no `matrix` section in MAS's config) the facts are
//! [`DisplayNames::Unknown`] and the planner sends names on creation only, saying so in a note.
//! With one, any failure ends the run before anything is written: a plan that quietly stopped
//! comparing would hide drift, and an apply must not act on facts it could not read.
//!
//! This module only reads: it writes neither to the database nor to the homeserver.

use std::collections::HashMap;

use sqlx::PgConnection;

use super::PipelineError;
use crate::homeserver::HomeserverClient;
use crate::model::state::{ActualState, ActualUser, DesiredState};
use crate::model::{UserId, UserState};
use crate::plan::DisplayNames;
use crate::store;

/// How many `query_user` requests are in flight at once: enough to read thousands of users in
/// seconds, few enough not to load a homeserver that also serves its users.
pub const QUERY_CONCURRENCY: usize = 8;

/// Gathers the display-name facts for `desired` against `actual`.
///
/// Users the manifest gives no display name, users it wants deactivated (MAS's deactivation job
/// owns them on the homeserver) and users that do not exist yet (their name is sent with their
/// creation) are not looked up. When no user needs a lookup, the homeserver is not contacted.
///
/// # Errors
/// [`PipelineError::PendingJobs`] if the job queue cannot be read, and
/// [`PipelineError::Homeserver`] for the first failing homeserver request (unreachable,
/// timeout, rejected secret, error answer).
pub async fn gather(
    conn: &mut PgConnection,
    desired: &DesiredState,
    actual: &ActualState,
    homeserver: Option<&HomeserverClient>,
) -> Result<DisplayNames, PipelineError> {
    let Some(homeserver) = homeserver else {
        return Ok(DisplayNames::Unknown);
    };
    let users = compared_users(desired, actual);
    if users.is_empty() {
        return Ok(DisplayNames::Known {
            current: HashMap::new(),
            pending: HashMap::new(),
        });
    }
    let ids: Vec<UserId> = users.iter().map(|user| user.id).collect();
    let pending: HashMap<UserId, String> = store::pending_display_name_jobs(conn, &ids)
        .await
        .map_err(PipelineError::PendingJobs)?
        .into_iter()
        .collect();
    let lookups: Vec<&ActualUser> = users
        .into_iter()
        .filter(|user| !pending.contains_key(&user.id))
        .collect();
    // The localpart is the username as MAS stores it: that is what MAS provisions.
    let localparts: Vec<String> = lookups
        .iter()
        .map(|user| user.username.as_str().to_owned())
        .collect();
    let names = homeserver
        .display_names(&localparts, QUERY_CONCURRENCY)
        .await
        .map_err(|source| PipelineError::Homeserver {
            endpoint: homeserver.endpoint().to_owned(),
            source: Box::new(source),
        })?;
    let current = lookups
        .iter()
        .filter_map(|user| {
            let name = names.get(user.username.as_str())?;
            Some((user.id, name.clone()))
        })
        .collect();
    Ok(DisplayNames::Known { current, pending })
}

/// Returns the existing users whose display name the planner will compare, once each.
fn compared_users<'a>(desired: &DesiredState, actual: &'a ActualState) -> Vec<&'a ActualUser> {
    let mut by_folded_name: HashMap<String, Vec<&ActualUser>> = HashMap::new();
    for user in &actual.users {
        by_folded_name
            .entry(user.username.folded())
            .or_default()
            .push(user);
    }
    let mut seen = std::collections::HashSet::new();
    desired
        .users
        .iter()
        .filter(|(_, want)| want.display_name.is_some() && want.state != UserState::Deactivated)
        .filter_map(|(username, _)| {
            // The planner's lookup rule (MAS's): one case-insensitive hit is the user; among
            // several, only the exact spelling. An ambiguous name is the planner's error to
            // report, so it is simply not looked up here.
            match by_folded_name.get(&username.folded()).map(Vec::as_slice) {
                Some([only]) => Some(*only),
                Some(several) => several
                    .iter()
                    .find(|user| user.username.as_str() == username.as_str())
                    .copied(),
                None => None,
            }
        })
        .filter(|user| seen.insert(user.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use ulid::Ulid;

    use super::*;
    use crate::manifest::{load_str, LoadOptions};
    use crate::model::Username;

    fn actual(names: &[&str]) -> ActualState {
        let users = names
            .iter()
            .zip(1_u128..)
            .map(|(name, id)| ActualUser {
                id: UserId(Ulid(id)),
                username: Username::new(*name).unwrap(),
                created_at: DateTime::UNIX_EPOCH,
                locked_at: None,
                deactivated_at: None,
                can_request_admin: false,
                emails: Vec::new(),
                password: None,
                upstream_links: Vec::new(),
            })
            .collect();
        ActualState {
            users,
            ..ActualState::default()
        }
    }

    #[test]
    fn only_existing_users_with_a_wanted_name_are_compared() {
        let desired = load_str(
            "users.yaml",
            "version: 1\nusers:\n  alice: {display_name: A}\n  bob: {display_name: B}\n  \
             carol: {display_name: C, state: deactivated}\n  dave: {}\n  erin: {display_name: E}\n  \
             frank: {display_name: F}\n",
            &LoadOptions::default(),
        )
        .unwrap();
        // alice: one case-insensitive hit; bob: two, the exact spelling wins; carol is to be
        // deactivated; dave wants no name; erin does not exist; frank is ambiguous.
        let actual = actual(&["Alice", "Bob", "bob", "carol", "dave", "FRANK", "Frank"]);
        let compared: Vec<&str> = compared_users(&desired, &actual)
            .iter()
            .map(|user| user.username.as_str())
            .collect();
        assert_eq!(compared, ["Alice", "bob"]);
    }
}
