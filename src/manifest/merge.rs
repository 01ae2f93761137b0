//! Merging the files of one run into a `DesiredState`, with the rules that span entries and
//! files: a user, token, upstream link or email address defined twice, and `prune`/`guards`
//! that disagree.
//!
//! Every duplicate names both places: two labels when they share a file, otherwise a label and
//! a related note in the other file. Users and tokens keep file order, files argument order.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;
use foldhash::HashMap;
use hashbrown::HashTable;
use indexmap::IndexMap;

use super::error::{IssueKind, ManifestIssue};
use crate::model::state::{DesiredState, DesiredToken, DesiredUser, Guards, Prune};
use crate::model::{EmailAddress, Origin, ProviderId, Username};

const SETTING_HELP: &str = "set it in one file only, or to the same value everywhere";

/// Merges checked files in order, collecting cross-entry problems.
///
/// Files are added in argument order and each file's entries in file order; [`Self::finish`]
/// returns the state. The indexes that find clashes hold positions in `state.users`, not copies
/// of names and addresses: a large manifest's users are in memory once.
pub(crate) struct Merger<'a> {
    state: DesiredState,
    issues: &'a mut Vec<ManifestIssue>,
    hasher: RandomState,
    /// (hash, position in `state.users`), by case-folded username. Each entry keeps its hash
    /// so that growing the table does not revisit every user.
    folded: HashTable<(u64, usize)>,
    /// (provider, subject) → the position of the user holding the link, and where.
    links: HashMap<(ProviderId, String), (usize, Origin)>,
    /// (hash, user position, email position in that user's list), by case-folded address.
    emails: HashTable<(u64, usize, usize)>,
    /// Where `prune` and `guards` were first set.
    prune: Option<Origin>,
    guards: Option<Origin>,
}

impl<'a> Merger<'a> {
    /// Returns an empty merger that pushes cross-entry problems to `issues`.
    pub(crate) fn new(issues: &'a mut Vec<ManifestIssue>) -> Self {
        Self {
            state: DesiredState::default(),
            issues,
            hasher: RandomState::default(),
            folded: HashTable::new(),
            links: HashMap::default(),
            emails: HashTable::new(),
            prune: None,
            guards: None,
        }
    }

    /// Returns the merged state.
    pub(crate) fn finish(self) -> DesiredState {
        self.state
    }

    /// Makes room for `additional` more users.
    pub(crate) fn reserve_users(&mut self, additional: usize) {
        self.state.users.reserve(additional);
        self.folded.reserve(additional, |&(hash, _)| hash);
        // Most users have an address or two.
        self.emails
            .reserve(additional.saturating_mul(3) / 2, |&(hash, _, _)| hash);
    }

    /// Takes `prune` from a file, unless another file set it differently.
    pub(crate) fn set_prune(&mut self, prune: Prune, origin: Origin) {
        let current = &mut self.state.prune;
        set_once(
            "prune",
            current,
            &mut self.prune,
            prune,
            origin,
            self.issues,
        );
    }

    /// Takes `guards` from a file, unless another file set them differently.
    pub(crate) fn set_guards(&mut self, guards: Guards, origin: Origin) {
        let current = &mut self.state.guards;
        set_once(
            "guards",
            current,
            &mut self.guards,
            guards,
            origin,
            self.issues,
        );
    }

    /// Adds a user, unless a user of the same (case-folded) name is already there.
    pub(crate) fn add_user(&mut self, username: Username, user: DesiredUser) {
        let folded = username.folded_cow();
        let hash = self.hasher.hash_one(folded.as_ref());
        let users = &self.state.users;
        let first = self.folded.find(hash, |&(_, at)| {
            users
                .get_index(at)
                .is_some_and(|(name, _)| name.folded_cow() == folded)
        });
        if let Some((name, first)) = first.and_then(|&(_, at)| users.get_index(at)) {
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
        let (at, _) = self.state.users.insert_full(username, user);
        self.folded
            .insert_unique(hash, (hash, at), |&(hash, _)| hash);
        self.check_links(at);
        self.check_emails(at);
    }

    /// Refuses an upstream account linked to two users: MAS links it to one user only.
    fn check_links(&mut self, at: usize) {
        let Some((username, user)) = self.state.users.get_index(at) else {
            return;
        };
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
    fn check_emails(&mut self, at: usize) {
        let Self {
            state,
            issues,
            hasher,
            emails: index,
            ..
        } = self;
        let Some((username, user)) = state.users.get_index(at) else {
            return;
        };
        for (position, email) in user.emails.iter().flatten().enumerate() {
            let folded = email.folded_cow();
            let hash = hasher.hash_one(folded.as_ref());
            let owner = index.find(hash, |&(_, owner, position)| {
                email_at(&state.users, owner, position)
                    .is_some_and(|other| other.folded_cow() == folded)
            });
            match owner {
                // The same user twice: `validate` has refused that already.
                Some(&(_, owner, _)) if owner == at => {}
                Some(&(_, owner, _)) => {
                    let Some((owner, first)) = state.users.get_index(owner) else {
                        continue;
                    };
                    let message = format!(
                        "the email address `{email}` is listed for `{owner}` and for `{username}`"
                    );
                    let help =
                        "MAS gives an email address to one user only: keep it on one of them";
                    issues.push(duplicate(
                        IssueKind::DuplicateEmail,
                        message,
                        &user.origin,
                        &first.origin,
                        help,
                    ));
                }
                None => {
                    index.insert_unique(hash, (hash, at, position), |&(hash, _, _)| hash);
                }
            }
        }
    }

    /// Adds a registration token, unless it is already listed.
    pub(crate) fn add_token(&mut self, name: String, token: DesiredToken) {
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

/// Sets a whole-manifest setting the first time; a later file may only repeat it.
fn set_once<T: PartialEq>(
    name: &str,
    current: &mut T,
    set_at: &mut Option<Origin>,
    value: T,
    origin: Origin,
    issues: &mut Vec<ManifestIssue>,
) {
    match set_at {
        None => {
            *current = value;
            *set_at = Some(origin);
        }
        Some(first) if value != *current => {
            let message = format!("`{name}` is set differently in two places");
            let issue = duplicate(
                IssueKind::ConflictingSetting,
                message,
                &origin,
                first,
                SETTING_HELP,
            );
            issues.push(issue);
        }
        Some(_) => {}
    }
}

/// The email address at `position` in the list of the user at `at`.
fn email_at(
    users: &IndexMap<Username, DesiredUser>,
    at: usize,
    position: usize,
) -> Option<&EmailAddress> {
    let (_, user) = users.get_index(at)?;
    user.emails.as_ref()?.get(position)
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
