//! `plan`: desired state × actual state × facts → [`Plan`]. Pure, total and deterministic.
//!
//! Users come first in manifest order, then unlisted users (when pruning), then tokens in
//! manifest order, then unlisted tokens. Problems that only show against the database (an
//! unknown provider, a subject linked to someone else) are all collected and reported at the
//! manifest node that caused them.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use miette::{Diagnostic, SourceSpan};
use rayon::prelude::*;
use thiserror::Error;

use super::fingerprint::Basis;
use super::folded::UsersByFolded;
use super::{prune, tokens, users, Facts, Plan};

use crate::model::state::{ActualState, ActualUser, DesiredState, DesiredUser};
use crate::model::{fold_case_cow, Origin, ProviderId, SourceFile, UserId, Username};

/// Problems that make a manifest impossible to plan against this database.
#[derive(Debug, Error, Diagnostic)]
#[error("the manifest cannot be applied to this database ({} problem{})", issues.len(), if issues.len() == 1 { "" } else { "s" })]
#[diagnostic(code(masctl::plan::invalid))]
pub struct PlanError {
    /// Every problem found.
    #[related]
    pub issues: Vec<PlanIssue>,
}

/// One problem, located at the manifest node that caused it.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(masctl::plan::conflict))]
pub struct PlanIssue {
    /// What is wrong.
    pub message: String,
    #[source_code]
    source_code: Option<Arc<SourceFile>>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
}

impl PlanIssue {
    pub(crate) fn at(origin: &Origin, message: String, label: &str, help: Option<String>) -> Self {
        // The file is shared, not copied per issue; a node on a line too long for a snippet
        // is named by its position instead (see `model::origin::MAX_SNIPPET_LINE`).
        let shown = origin.source.can_show(&origin.range());
        Self {
            message: if shown {
                message
            } else {
                format!("{message} (at {})", origin.location())
            },
            source_code: shown.then(|| Arc::clone(&origin.source)),
            span: shown.then_some(origin.span),
            label: label.to_owned(),
            help,
        }
    }
}

/// Read-only lookups over the actual state, built once per plan.
///
/// The maps (like the manifest loader's and the snapshot's) use foldhash rather than SipHash:
/// they hold every user of the homeserver, and foldhash, seeded per process, is several times
/// faster while still not letting crafted usernames be chosen to collide.
pub(crate) struct Index<'a> {
    /// Users by folded username (almost always one; borrowed when already folded).
    by_folded_name: UsersByFolded<'a>,
    link_owners: HashMap<(ProviderId, &'a str), &'a ActualUser>,
    pub(crate) providers: HashMap<ProviderId, &'a crate::model::state::ActualProvider>,
}

/// The result of looking a manifest username up the way MAS does.
pub(crate) enum Lookup<'a> {
    Found(&'a ActualUser),
    Missing,
    Ambiguous(Vec<&'a str>),
}

impl<'a> Index<'a> {
    /// Builds the lookups over `actual`.
    pub(crate) fn new(actual: &'a ActualState) -> Self {
        let mut by_folded_name = UsersByFolded::with_capacity(actual.users.len());
        let mut link_owners = HashMap::new();
        for user in &actual.users {
            by_folded_name.add(user.username.folded_cow(), user);
            for link in &user.upstream_links {
                link_owners.insert((link.provider, link.subject.as_str()), user);
            }
        }
        let providers = actual.providers.iter().map(|p| (p.id, p)).collect();
        Self {
            by_folded_name,
            link_owners,
            providers,
        }
    }

    /// Finds a user like MAS's `find_by_username`: one case-insensitive hit is the user; among
    /// several, only an exact spelling counts.
    pub(crate) fn find_user(&self, username: &Username) -> Lookup<'a> {
        match self.by_folded_name.get(username.folded_cow().as_ref()) {
            [] => Lookup::Missing,
            [only] => Lookup::Found(only),
            several => several
                .iter()
                .find(|user| user.username.as_str() == username.as_str())
                .map_or_else(
                    || Lookup::Ambiguous(several.iter().map(|u| u.username.as_str()).collect()),
                    |user| Lookup::Found(user),
                ),
        }
    }

    /// Returns the user who holds the link `(provider, subject)`, if anyone does.
    pub(crate) fn link_owner(&self, provider: ProviderId, subject: &str) -> Option<&'a ActualUser> {
        self.link_owners.get(&(provider, subject)).copied()
    }
}

/// What the per-resource planners append to.
pub(crate) struct Builder {
    pub(crate) changes: Vec<super::Change>,
    pub(crate) notes: Vec<String>,
    pub(crate) issues: Vec<PlanIssue>,
    pub(crate) basis: Basis,
}

impl Builder {
    fn new() -> Self {
        Self {
            changes: Vec::new(),
            notes: Vec::new(),
            issues: Vec::new(),
            basis: Basis::new(),
        }
    }
}

/// How many listed users one parallel task plans. Fixed rather than derived from the number of
/// cores: the basis digests chunk by chunk, and must not depend on the machine.
const USERS_PER_CHUNK: usize = 2048;

/// Plans a chunk of the manifest's users; returns what it found and the users it matched.
fn plan_listed(
    chunk: &[(&Username, &DesiredUser)],
    index: &Index<'_>,
    facts: &Facts,
) -> (Builder, Vec<UserId>) {
    let mut builder = Builder::new();
    let mut matched = Vec::with_capacity(chunk.len());
    for &(username, want) in chunk {
        match index.find_user(username) {
            Lookup::Found(user) => {
                matched.push(user.id);
                builder.basis.add("user", user);
                users::plan_existing(&mut builder, index, user, want, facts);
            }
            Lookup::Missing => {
                builder
                    .basis
                    .add_absent("user", &fold_case_cow(username.as_str()));
                users::plan_new(&mut builder, index, username, want);
            }
            Lookup::Ambiguous(candidates) => builder.issues.push(PlanIssue::at(
                &want.origin,
                format!(
                    "`{username}` matches several users that differ only in case ({}), none spelled exactly like this",
                    candidates.join(", ")
                ),
                "ambiguous username",
                Some("spell the username exactly as it is stored".to_owned()),
            )),
        }
    }
    (builder, matched)
}

/// Computes the plan that makes `actual` what `desired` asks for.
///
/// # Errors
/// Returns every manifest node that cannot be satisfied against this database (unknown or
/// disabled upstream provider, a subject linked to another user, an ambiguous username).
pub fn plan(
    desired: &DesiredState,
    actual: &ActualState,
    facts: &Facts,
) -> Result<Plan, PlanError> {
    let index = Index::new(actual);
    let mut builder = Builder::new();
    let listed: Vec<(&Username, &DesiredUser)> = desired.users.iter().collect();
    // Each user is planned on its own, so chunks of users are planned in parallel; the chunks'
    // changes, notes and basis are then joined in manifest order.
    let chunks: Vec<(Builder, Vec<UserId>)> = listed
        .par_chunks(USERS_PER_CHUNK)
        .map(|chunk| plan_listed(chunk, &index, facts))
        .collect();
    let mut matched: HashSet<UserId> = HashSet::with_capacity(desired.users.len());
    for (chunk, chunk_matched) in chunks {
        builder.changes.extend(chunk.changes);
        builder.notes.extend(chunk.notes);
        builder.issues.extend(chunk.issues);
        builder.basis.absorb("users", chunk.basis);
        matched.extend(chunk_matched);
    }
    users::note_display_names(&mut builder, desired, facts);
    super::emails::check_taken(&mut builder, desired, actual);
    prune::plan_users(&mut builder, desired, actual, &matched);
    let matched_tokens = tokens::plan(&mut builder, desired, actual);
    prune::plan_tokens(&mut builder, desired, actual, &matched_tokens);
    for provider in &actual.providers {
        builder.basis.add("provider", provider);
    }

    if !builder.issues.is_empty() {
        return Err(PlanError {
            issues: builder.issues,
        });
    }
    Ok(Plan {
        changes: builder.changes,
        notes: builder.notes,
        basis: builder.basis.finish(),
        managed_objects: actual.users.len() + actual.registration_tokens.len(),
    })
}
