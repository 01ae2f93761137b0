//! Merging the files of one run into a `DesiredState`, with the rules that span entries and
//! files: a user, token, upstream link or email address defined twice, and `prune`/`guards`
//! that disagree.
//!
//! Every duplicate names both places: two labels when they share a file, otherwise a label and
//! a related note in the other file. Users and tokens keep file order, files argument order.

use foldhash::HashMap;
use std::sync::Arc;

use super::error::{IssueKind, ManifestIssue};
use super::validate::FileManifest;
use crate::model::state::{DesiredState, DesiredToken, DesiredUser};
use crate::model::{Origin, ProviderId, Username};

const SETTING_HELP: &str = "set it in one file only, or to the same value everywhere";

/// Merges checked files in order, pushing cross-entry problems to `issues`.
pub(crate) fn merge(files: Vec<FileManifest>, issues: &mut Vec<ManifestIssue>) -> DesiredState {
    let mut merger = Merger {
        state: DesiredState::default(),
        issues,
        folded: HashMap::default(),
        links: HashMap::default(),
        emails: HashMap::default(),
        prune: None,
        guards: None,
    };
    for file in files {
        merger.add_file(file);
    }
    merger.state
}

struct Merger<'a> {
    state: DesiredState,
    issues: &'a mut Vec<ManifestIssue>,
    /// Case-folded username → the position in `state.users` of the spelling first seen.
    folded: HashMap<String, usize>,
    /// (provider, subject) → the position of the user holding the link, and where.
    links: HashMap<(ProviderId, String), (usize, Origin)>,
    /// Case-folded email address → the position of the user listing it.
    emails: HashMap<String, usize>,
    /// Where `prune` and `guards` were first set.
    prune: Option<Origin>,
    guards: Option<Origin>,
}

impl Merger<'_> {
    fn add_file(&mut self, file: FileManifest) {
        for (username, user) in file.users {
            self.add_user(username, user);
        }
        for (name, token) in file.tokens {
            self.add_token(name, token);
        }
        if let Some((prune, origin)) = file.prune {
            match &self.prune {
                None => {
                    self.state.prune = prune;
                    self.prune = Some(origin);
                }
                Some(first) if prune != self.state.prune => {
                    let message = "`prune` is set differently in two places".to_owned();
                    let issue = duplicate(
                        IssueKind::ConflictingSetting,
                        message,
                        &origin,
                        first,
                        SETTING_HELP,
                    );
                    self.issues.push(issue);
                }
                Some(_) => {}
            }
        }
        if let Some((guards, origin)) = file.guards {
            match &self.guards {
                None => {
                    self.state.guards = guards;
                    self.guards = Some(origin);
                }
                Some(first) if guards != self.state.guards => {
                    let message = "`guards` is set differently in two places".to_owned();
                    let issue = duplicate(
                        IssueKind::ConflictingSetting,
                        message,
                        &origin,
                        first,
                        SETTING_HELP,
                    );
                    self.issues.push(issue);
                }
                Some(_) => {}
            }
        }
    }

    fn add_user(&mut self, username: Username, user: DesiredUser) {
        let folded = username.folded_cow().into_owned();
        let first = self.folded.get(&folded).copied();
        if let Some((name, first)) = first.and_then(|at| self.state.users.get_index(at)) {
            let message = if *name == username {
                format!("user `{username}` is defined twice")
            } else {
                format!(
                    "user `{username}` clashes with `{name}`: MAS compares usernames case-insensitively"
                )
            };
            let issue = duplicate(
                IssueKind::DuplicateUser,
                message,
                &user.origin,
                &first.origin,
                "define each user once",
            );
            self.issues.push(issue);
            return;
        }
        // The position this user is about to take in `state.users`.
        let at = self.state.users.len();
        for link in user.upstream.iter().flatten() {
            let key = (link.provider, link.subject.clone());
            if let Some((owner, first)) = self.links.get(&key) {
                let owner = if *owner == at {
                    username.as_str()
                } else {
                    self.name_at(*owner)
                };
                let message = format!(
                    "the account `{}` at provider {} is linked twice (already to `{owner}`)",
                    link.subject, link.provider
                );
                let help = "MAS links an upstream account to one user only";
                self.issues.push(duplicate(
                    IssueKind::DuplicateLink,
                    message,
                    &link.origin,
                    first,
                    help,
                ));
            } else {
                self.links.insert(key, (at, link.origin.clone()));
            }
        }
        self.check_emails(&username, &user, at);
        self.folded.insert(folded, at);
        self.state.users.insert(username, user);
    }

    /// The name of the user at position `at` of `state.users`.
    fn name_at(&self, at: usize) -> &str {
        self.state
            .users
            .get_index(at)
            .map_or("", |(name, _)| name.as_str())
    }

    /// Refuses an address listed for two users: MAS's admin API gives an address to one user
    /// only, and its lookups by address (`LOWER(email)`) would find either.
    fn check_emails(&mut self, username: &Username, user: &DesiredUser, at: usize) {
        for email in user.emails.iter().flatten() {
            let folded = email.folded_cow();
            match self.emails.get(folded.as_ref()) {
                Some(&owner) => {
                    let Some((owner, first)) = self.state.users.get_index(owner) else {
                        continue;
                    };
                    let first = &first.origin;
                    let message = format!(
                        "the email address `{email}` is listed for `{owner}` and for `{username}`"
                    );
                    let help =
                        "MAS gives an email address to one user only: keep it on one of them";
                    self.issues.push(duplicate(
                        IssueKind::DuplicateEmail,
                        message,
                        &user.origin,
                        first,
                        help,
                    ));
                }
                None => {
                    self.emails.insert(folded.into_owned(), at);
                }
            }
        }
    }

    fn add_token(&mut self, name: String, token: DesiredToken) {
        if let Some(first) = self.state.registration_tokens.get(&name) {
            let message = format!("registration token `{name}` is listed twice");
            let issue = duplicate(
                IssueKind::DuplicateToken,
                message,
                &token.origin,
                &first.origin,
                "list each token once",
            );
            self.issues.push(issue);
            return;
        }
        self.state.registration_tokens.insert(name, token);
    }
}

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
    if Arc::ptr_eq(&here.source, &first.source) {
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
