//! The digest of the database rows a plan was computed from.
//!
//! The planner feeds every row it consults (matched users with their emails, password row and
//! links; matched tokens; unlisted objects when pruning; providers) and a marker for every
//! manifest object it did not find. Re-reading the database and getting the same digest means
//! the plan is still exactly right; anything else makes the plan stale (exit 5).
//!
//! Rows are fed in a compact binary encoding ([`Digestible`]), not through a text format: a
//! plan over 100k users digests every one of them, and formatting ids and timestamps as text
//! cost a tenth of the whole `plan`. The encoding is unambiguous: strings are length-prefixed,
//! options and sequences are tagged or counted, so two different rows never feed the same bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use crate::model::state::{
    ActualEmail, ActualLink, ActualPassword, ActualProvider, ActualToken, ActualUser,
};
use crate::model::{ProviderId, UserId};

/// A hex SHA-256 digest of a plan's inputs from the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

/// Accumulates the rows a plan depends on (also used by `manage` commands' one-off plans).
pub struct Basis {
    sink: Sink,
}

impl Default for Basis {
    fn default() -> Self {
        Self::new()
    }
}

impl Basis {
    /// Returns an empty basis.
    #[must_use]
    pub fn new() -> Self {
        Self {
            sink: Sink(Sha256::new()),
        }
    }

    /// Adds one consulted object, tagged with its kind so that different objects never collide.
    pub fn add(&mut self, kind: &str, value: &(impl Digestible + ?Sized)) {
        self.sink.str(kind);
        value.feed(&mut self.sink);
    }

    /// Adds a marker for a manifest object that is absent from the database.
    pub fn add_absent(&mut self, kind: &str, key: &str) {
        self.sink.str(kind);
        self.sink.str("absent");
        self.sink.str(key);
    }

    /// Adds the digest of everything added to `part` (a part computed on its own, in parallel),
    /// tagged with `kind`. Parts must be absorbed in a fixed order for the digest to be stable.
    pub fn absorb(&mut self, kind: &str, part: Basis) {
        self.sink.str(kind);
        self.sink.bytes(&part.sink.0.finalize());
    }

    /// Returns the digest of everything added.
    #[must_use]
    pub fn finish(self) -> Fingerprint {
        Fingerprint(hex::encode(self.sink.0.finalize()))
    }
}

/// Where [`Digestible`] values write their encoding.
pub struct Sink(Sha256);

impl Sink {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn str(&mut self, value: &str) {
        self.len(value.len());
        self.bytes(value.as_bytes());
    }

    fn len(&mut self, len: usize) {
        self.bytes(&u64::try_from(len).unwrap_or(u64::MAX).to_le_bytes());
    }

    fn ulid(&mut self, id: Ulid) {
        self.bytes(&id.0.to_le_bytes());
    }

    fn bool(&mut self, value: bool) {
        self.bytes(&[u8::from(value)]);
    }

    fn i32(&mut self, value: i32) {
        self.bytes(&value.to_le_bytes());
    }

    /// A timestamp to the microsecond, PostgreSQL's `timestamptz` precision.
    fn time(&mut self, at: DateTime<Utc>) {
        self.bytes(&at.timestamp_micros().to_le_bytes());
    }

    fn option<T>(&mut self, value: Option<T>, feed: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.bool(false),
            Some(value) => {
                self.bool(true);
                feed(self, value);
            }
        }
    }

    fn seq<T: Digestible>(&mut self, items: &[T]) {
        self.len(items.len());
        for item in items {
            item.feed(self);
        }
    }
}

/// A database row (or set of them) that a plan can depend on.
///
/// Implementations destructure without `..`, so that a field added to a row type does not
/// compile until it is either digested or explicitly left out here.
pub trait Digestible {
    /// Writes this value's encoding.
    fn feed(&self, sink: &mut Sink);
}

impl<T: Digestible> Digestible for [T] {
    fn feed(&self, sink: &mut Sink) {
        sink.seq(self);
    }
}

impl Digestible for UserId {
    fn feed(&self, sink: &mut Sink) {
        sink.ulid(self.0);
    }
}

impl Digestible for ActualUser {
    fn feed(&self, sink: &mut Sink) {
        let Self {
            id,
            username,
            created_at,
            locked_at,
            deactivated_at,
            can_request_admin,
            emails,
            password,
            upstream_links,
        } = self;
        sink.ulid(id.0);
        sink.str(username.as_str());
        sink.time(*created_at);
        sink.option(*locked_at, Sink::time);
        sink.option(*deactivated_at, Sink::time);
        sink.bool(*can_request_admin);
        sink.seq(emails);
        sink.option(password.as_ref(), |sink, password| password.feed(sink));
        sink.seq(upstream_links);
    }
}

impl Digestible for ActualEmail {
    fn feed(&self, sink: &mut Sink) {
        let Self { id, email } = self;
        sink.ulid(*id);
        sink.str(email.as_str());
    }
}

impl Digestible for ActualPassword {
    fn feed(&self, sink: &mut Sink) {
        // The hash itself stays out: the digest is written into saved plans, which never hold
        // anything derived from a secret. MAS never rewrites a hash in place (a new password or
        // an upgrade is a new row), so the row's id and time identify it.
        let Self {
            id,
            hashed_password: _,
            version,
            created_at,
        } = self;
        sink.ulid(*id);
        sink.i32(*version);
        sink.time(*created_at);
    }
}

impl Digestible for ActualLink {
    fn feed(&self, sink: &mut Sink) {
        let Self {
            id,
            provider: ProviderId(provider),
            subject,
        } = self;
        sink.ulid(*id);
        sink.ulid(*provider);
        sink.str(subject);
    }
}

impl Digestible for ActualToken {
    fn feed(&self, sink: &mut Sink) {
        let Self {
            id,
            token,
            usage_limit,
            expires_at,
            revoked_at,
        } = self;
        sink.ulid(*id);
        sink.str(token);
        sink.option(*usage_limit, Sink::i32);
        sink.option(*expires_at, Sink::time);
        sink.option(*revoked_at, Sink::time);
    }
}

impl Digestible for ActualProvider {
    fn feed(&self, sink: &mut Sink) {
        let Self {
            id: ProviderId(id),
            name,
            enabled,
        } = self;
        sink.ulid(*id);
        sink.option(name.as_deref(), Sink::str);
        sink.bool(*enabled);
    }
}

#[cfg(test)]
#[path = "fingerprint_tests.rs"]
mod tests;
