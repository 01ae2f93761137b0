//! Planning upstream OAuth links: an exact set of (provider, subject) pairs when the key is
//! present, checked against the providers MAS has enabled and the links other users hold.

use std::collections::HashSet;

use super::planner::{Builder, Index, PlanIssue};
use super::{Change, UserRef};
use crate::model::state::{ActualUser, DesiredLink, DesiredUser};
use crate::model::{ProviderId, UserId};

/// Appends link and unlink changes for an existing user.
pub(crate) fn plan_existing(
    builder: &mut Builder,
    index: &Index<'_>,
    user: &UserRef,
    actual: &ActualUser,
    want: &DesiredUser,
) {
    let Some(wanted) = &want.upstream else {
        return;
    };
    let wanted_pairs: HashSet<(ProviderId, &str)> = wanted
        .iter()
        .map(|link| (link.provider, link.subject.as_str()))
        .collect();
    let existing: HashSet<(ProviderId, &str)> = actual
        .upstream_links
        .iter()
        .map(|link| (link.provider, link.subject.as_str()))
        .collect();
    // Unlinks come first so that a subject moving between two users is released before it is taken.
    for link in &actual.upstream_links {
        if !wanted_pairs.contains(&(link.provider, link.subject.as_str())) {
            builder.changes.push(Change::UnlinkUpstream {
                user: user.clone(),
                link_id: link.id,
                provider: link.provider,
                subject: link.subject.clone(),
            });
        }
    }
    for link in wanted {
        if existing.contains(&(link.provider, link.subject.as_str())) {
            continue;
        }
        if check_link(builder, index, link, Some(actual.id)) {
            builder.changes.push(Change::LinkUpstream {
                user: user.clone(),
                provider: link.provider,
                subject: link.subject.clone(),
            });
        }
    }
}

/// Returns the links to create with a new user, reporting the ones that cannot be created.
pub(crate) fn plan_new(
    builder: &mut Builder,
    index: &Index<'_>,
    want: &DesiredUser,
) -> Vec<(ProviderId, String)> {
    let Some(wanted) = &want.upstream else {
        return Vec::new();
    };
    wanted
        .iter()
        .filter(|link| check_link(builder, index, link, None))
        .map(|link| (link.provider, link.subject.clone()))
        .collect()
}

/// Checks that the provider is enabled and the subject free; reports and returns false if not.
fn check_link(
    builder: &mut Builder,
    index: &Index<'_>,
    link: &DesiredLink,
    owner: Option<UserId>,
) -> bool {
    match index.providers.get(&link.provider) {
        None => {
            builder.issues.push(PlanIssue::at(
                &link.origin,
                format!("upstream provider {} does not exist in MAS's database", link.provider),
                "unknown provider",
                Some("use the `id` of an entry under `upstream_oauth2.providers` in MAS's config (run `mas-cli config sync` after adding one)".to_owned()),
            ));
            return false;
        }
        Some(provider) if !provider.enabled => {
            builder.issues.push(PlanIssue::at(
                &link.origin,
                format!(
                    "upstream provider {} ({}) is disabled",
                    link.provider,
                    provider.name.as_deref().unwrap_or("unnamed")
                ),
                "disabled provider",
                Some("enable it in MAS's config, or remove the link from the manifest".to_owned()),
            ));
            return false;
        }
        Some(_) => {}
    }
    if let Some(holder) = index.link_owner(link.provider, &link.subject) {
        if Some(holder.id) != owner {
            builder.issues.push(PlanIssue::at(
                &link.origin,
                format!(
                    "subject {:?} of provider {} is already linked to user {}",
                    link.subject, link.provider, holder.username
                ),
                "linked to another user",
                Some(format!(
                    "remove it from {} first (in the manifest, or with an `upstream` list there)",
                    holder.username
                )),
            ));
            return false;
        }
    }
    true
}
