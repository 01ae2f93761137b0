//! Users by a case-folded key (a username, an email address), for the planner's lookups.

use std::borrow::Cow;

use foldhash::{HashMap, HashMapExt};

use crate::model::state::ActualUser;

/// The users holding each case-folded key, in database order.
///
/// Nearly every key has one user, so the common case is one map entry and no list; keys that
/// several users share (or one user twice) also get the full list. The maps use foldhash: they
/// hold every user of the homeserver.
pub(crate) struct UsersByFolded<'a> {
    first: HashMap<Cow<'a, str>, &'a ActualUser>,
    shared: HashMap<Cow<'a, str>, Vec<&'a ActualUser>>,
}

impl<'a> UsersByFolded<'a> {
    /// Returns an empty index with room for `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            first: HashMap::with_capacity(capacity),
            shared: HashMap::new(),
        }
    }

    /// Records that `user` holds the folded key `folded`.
    pub(crate) fn add(&mut self, folded: Cow<'a, str>, user: &'a ActualUser) {
        match self.first.get(folded.as_ref()) {
            None => {
                self.first.insert(folded, user);
            }
            Some(&first) => self
                .shared
                .entry(folded)
                .or_insert_with(|| vec![first])
                .push(user),
        }
    }

    /// The users holding the folded key `folded`, in the order they were added.
    pub(crate) fn get(&self, folded: &str) -> &[&'a ActualUser] {
        match self.shared.get(folded) {
            Some(users) => users,
            None => self.first.get(folded).map_or(&[], std::slice::from_ref),
        }
    }

    /// Whether some key is held more than once.
    pub(crate) fn has_shared(&self) -> bool {
        !self.shared.is_empty()
    }
}
