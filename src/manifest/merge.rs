//! Merging the files of one run into a `DesiredState`, with the rules that span entries and
//! files: a user, token or upstream link defined twice, and `prune`/`guards` that disagree.
//!
//! Every duplicate names both places: two labels when they share a file, otherwise a label and
//! a related note in the other file. Users and tokens keep file order, files argument order.

use std::collections::HashMap;

use super::error::{IssueKind, ManifestIssue};
use super::validate::FileManifest;
use crate::model::state::DesiredState;
use crate::model::{Origin, ProviderId, Username};

/// Merges checked files in order, pushing cross-entry problems to `issues`.
pub(crate) fn merge(files: Vec<FileManifest>, issues: &mut Vec<ManifestIssue>) -> DesiredState {
    let mut state = DesiredState::default();
    let mut folded: HashMap<String, Username> = HashMap::new();
    let mut links: HashMap<(ProviderId, String), (Username, Origin)> = HashMap::new();
    let mut prune: Option<Origin> = None;
    let mut guards: Option<Origin> = None;
    for file in files {
        for (username, user) in file.users {
            if let Some(first) = folded
                .get(&username.folded())
                .and_then(|name| state.users.get(name))
            {
                let message = if state.users.contains_key(&username) {
                    format!("user `{username}` is defined twice")
                } else {
                    let first_name = folded
                        .get(&username.folded())
                        .map(Username::as_str)
                        .unwrap_or_default();
                    format!("user `{username}` clashes with `{first_name}`: MAS compares usernames case-insensitively")
                };
                issues.push(duplicate(
                    IssueKind::DuplicateUser,
                    message,
                    &user.origin,
                    &first.origin,
                    "define each user once",
                ));
                continue;
            }
            for link in user.upstream.iter().flatten() {
                let key = (link.provider, link.subject.clone());
                if let Some((owner, first)) = links.get(&key) {
                    let message = format!(
                        "the account `{}` at provider {} is linked twice (already to `{owner}`)",
                        link.subject, link.provider
                    );
                    let help = "MAS links an upstream account to one user only";
                    issues.push(duplicate(
                        IssueKind::DuplicateLink,
                        message,
                        &link.origin,
                        first,
                        help,
                    ));
                } else {
                    links.insert(key, (username.clone(), link.origin.clone()));
                }
            }
            folded.insert(username.folded(), username.clone());
            state.users.insert(username, user);
        }
        for (name, token) in file.tokens {
            if let Some(first) = state.registration_tokens.get(&name) {
                let message = format!("registration token `{name}` is listed twice");
                issues.push(duplicate(
                    IssueKind::DuplicateToken,
                    message,
                    &token.origin,
                    &first.origin,
                    "list each token once",
                ));
                continue;
            }
            state.registration_tokens.insert(name, token);
        }
        if let Some((value, origin)) = file.prune {
            match &prune {
                Some(first) if value != state.prune => {
                    let message = "`prune` is set differently in two places".to_owned();
                    issues.push(duplicate(
                        IssueKind::ConflictingSetting,
                        message,
                        &origin,
                        first,
                        SETTING_HELP,
                    ));
                }
                Some(_) => {}
                None => {
                    state.prune = value;
                    prune = Some(origin);
                }
            }
        }
        if let Some((value, origin)) = file.guards {
            match &guards {
                Some(first) if value != state.guards => {
                    let message = "`guards` is set differently in two places".to_owned();
                    issues.push(duplicate(
                        IssueKind::ConflictingSetting,
                        message,
                        &origin,
                        first,
                        SETTING_HELP,
                    ));
                }
                Some(_) => {}
                None => {
                    state.guards = value;
                    guards = Some(origin);
                }
            }
        }
    }
    state
}

const SETTING_HELP: &str = "set it in one file only, or to the same value everywhere";

/// An issue at `here` that also points at `first`, in the same snippet or in a related note.
fn duplicate(
    kind: IssueKind,
    message: String,
    here: &Origin,
    first: &Origin,
    help: &str,
) -> ManifestIssue {
    let issue =
        ManifestIssue::at(here, kind, message, Some("defined again here".to_owned())).help(help);
    let first_span = first.span.offset()..first.span.offset() + first.span.len();
    if std::sync::Arc::ptr_eq(&here.source, &first.source) {
        issue.also(first_span, "first defined here")
    } else {
        let note = ManifestIssue::at(
            first,
            IssueKind::DefinedHere,
            format!("first defined in {}", first.location()),
            Some("first defined here".to_owned()),
        );
        issue.related(note)
    }
}
