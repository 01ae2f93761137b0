//! The homeserver (Synapse) client: what masctl needs from the homeserver MAS is attached to.
//!
//! MAS keeps users, emails and passwords in its own database, but display names live on the
//! homeserver, `register-user` asks the homeserver whether a localpart is free, and
//! `issue-compatibility-token` creates the device there first. [`HomeserverClient`] does those
//! calls with MAS's `matrix` config (kind, server name, endpoint, shared secret), speaking
//! either Synapse's `_synapse/mas/*` API (`modern`) or its admin API (`legacy`).
//!
//! This module owns the HTTP side only. It must not read MAS's config file (the caller maps the
//! parsed `matrix` section onto [`HomeserverClient::new`]) nor touch the database, and it must
//! never show the shared secret: it only travels in the `Authorization` header.

mod endpoint;
mod error;
mod legacy;
mod modern;
mod transport;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};

pub use error::HomeserverError;
use transport::{Answer, Transport};

use crate::model::Secret;

/// Which API the homeserver speaks: MAS's `matrix.kind`, one variant per config value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HomeserverKind {
    /// `synapse` (MAS's default): the `_synapse/mas/*` API of Synapse 1.135 and newer.
    Synapse,
    /// `synapse_modern`: the same API as [`HomeserverKind::Synapse`].
    SynapseModern,
    /// `synapse_legacy`: Synapse's `_synapse/admin/*` API, for older Synapse versions.
    SynapseLegacy,
    /// `synapse_read_only`: reads through the `_synapse/mas/*` API; every write fails.
    SynapseReadOnly,
}

impl HomeserverKind {
    /// Returns the value as MAS's config spells it (`synapse_legacy`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synapse => "synapse",
            Self::SynapseModern => "synapse_modern",
            Self::SynapseLegacy => "synapse_legacy",
            Self::SynapseReadOnly => "synapse_read_only",
        }
    }

    fn is_legacy(self) -> bool {
        self == Self::SynapseLegacy
    }

    /// What to check when the homeserver does not know the API at all.
    fn api_hint(self) -> &'static str {
        if self.is_legacy() {
            "matrix.kind synapse_legacy needs Synapse's admin API (/_synapse/admin) at matrix.endpoint"
        } else {
            "this matrix.kind needs Synapse 1.135 or newer with MAS support enabled \
             (matrix_authentication_service in homeserver.yaml); use synapse_legacy for older Synapse"
        }
    }
}

/// What the homeserver knows about one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeserverUser {
    /// The profile's display name; `None` when it has none (an empty name counts as none, as
    /// Synapse stores "unset" that way).
    pub display_name: Option<String>,
    /// Whether the account is deactivated on the homeserver.
    pub is_deactivated: bool,
    /// Whether the account is suspended (always `false` on Synapse versions that do not say).
    pub is_suspended: bool,
}

/// A client for the homeserver of one MAS deployment.
///
/// Cheap to clone (the connection pool is shared). `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct HomeserverClient {
    kind: HomeserverKind,
    server_name: String,
    transport: Transport,
}

impl HomeserverClient {
    /// Creates a client from MAS's `matrix` config.
    ///
    /// `server_name` is `matrix.homeserver` (the part after `:` in MXIDs); `endpoint` is
    /// `matrix.endpoint`, onto which request paths are URL-joined, so an endpoint with a path
    /// needs its trailing `/`, exactly as for MAS. `timeout` bounds both connecting and each
    /// whole request. No request is sent here.
    ///
    /// # Errors
    /// [`HomeserverError::InvalidEndpoint`] for an endpoint that is not an http(s) URL with a
    /// host (or that embeds credentials), [`HomeserverError::InvalidSecret`] for an empty secret
    /// or one that cannot be an HTTP header, [`HomeserverError::Client`] if TLS cannot be set up.
    pub fn new(
        kind: HomeserverKind,
        server_name: String,
        endpoint: &str,
        secret: Secret,
        timeout: Duration,
    ) -> Result<Self, HomeserverError> {
        let transport = Transport::new(endpoint, secret, timeout, kind.api_hint())?;
        Ok(Self {
            kind,
            server_name,
            transport,
        })
    }

    /// Returns the configured kind.
    #[must_use]
    pub fn kind(&self) -> HomeserverKind {
        self.kind
    }

    /// Returns the endpoint as it appears in errors.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    /// Returns the MXID of a localpart: `@localpart:server_name`.
    #[must_use]
    pub fn mxid(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.server_name)
    }

    /// Asks whether a localpart can still be registered on the homeserver.
    ///
    /// A non-ASCII localpart is unavailable without any request, as in MAS (Synapse would
    /// answer with a generic error rather than a "not available" one). The errcodes
    /// `M_INVALID_USERNAME`, `M_USER_IN_USE` and `M_EXCLUSIVE` mean unavailable.
    ///
    /// # Errors
    /// Any other failure: unreachable, timeout, rejected secret, unexpected answer.
    pub async fn is_localpart_available(&self, localpart: &str) -> Result<bool, HomeserverError> {
        if !localpart.is_ascii() {
            return Ok(false);
        }
        if self.kind.is_legacy() {
            legacy::is_localpart_available(&self.transport, localpart).await
        } else {
            modern::is_localpart_available(&self.transport, localpart).await
        }
    }

    /// Looks a user up on the homeserver; `None` means the homeserver does not know it
    /// (`M_NOT_FOUND`).
    ///
    /// A bare 404 without that errcode is an error, not `None`: it comes from a proxy or a
    /// wrong endpoint, and reading it as "no such user" would hide the misconfiguration.
    ///
    /// # Errors
    /// Unreachable, timeout, rejected secret, missing API, unexpected answer.
    pub async fn query_user(
        &self,
        localpart: &str,
    ) -> Result<Option<HomeserverUser>, HomeserverError> {
        if self.kind.is_legacy() {
            legacy::query_user(&self.transport, &self.mxid(localpart)).await
        } else {
            modern::query_user(&self.transport, localpart).await
        }
    }

    /// Reads the display names of many users, with at most `concurrency` requests in flight
    /// (0 counts as 1).
    ///
    /// The map has one entry per distinct localpart; users the homeserver does not know map to
    /// `None`, like users without a display name.
    ///
    /// # Errors
    /// The first failing lookup ends the whole call (the requests still in flight are dropped):
    /// a rejected secret or a failing homeserver would fail every other lookup too.
    pub async fn display_names(
        &self,
        localparts: &[String],
        concurrency: usize,
    ) -> Result<HashMap<String, Option<String>>, HomeserverError> {
        let mut seen = HashSet::with_capacity(localparts.len());
        // Owned localparts: a closure taking `&str` would make the returned future `Send` only
        // for one lifetime, and callers could no longer `tokio::spawn` a plan.
        let distinct: Vec<String> = localparts
            .iter()
            .filter(|localpart| seen.insert(localpart.as_str()))
            .cloned()
            .collect();
        stream::iter(distinct)
            .map(|localpart| async move {
                let user = self.query_user(&localpart).await?;
                Ok((localpart, user.and_then(|user| user.display_name)))
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await
    }

    /// Creates the device on the homeserver, or does nothing if it exists (what
    /// `issue-compatibility-token` does before it writes the compat session).
    ///
    /// # Errors
    /// [`HomeserverError::ReadOnly`] for kind `synapse_read_only` (no request is sent); any
    /// request failure, including `M_NOT_FOUND` for a user the homeserver does not know.
    pub async fn upsert_device(
        &self,
        localpart: &str,
        device_id: &str,
    ) -> Result<(), HomeserverError> {
        match self.kind {
            HomeserverKind::SynapseReadOnly => {
                Err(self.transport.read_only(&modern::upsert_device_operation()))
            }
            HomeserverKind::SynapseLegacy => {
                legacy::upsert_device(&self.transport, &self.mxid(localpart), device_id).await
            }
            HomeserverKind::Synapse | HomeserverKind::SynapseModern => {
                modern::upsert_device(&self.transport, localpart, device_id).await
            }
        }
    }

    /// Sets a user's display name the way MAS's `provision-user` job does (which also creates
    /// the user on the homeserver if it is missing).
    ///
    /// masctl itself leaves this to MAS's worker (it schedules the job); this exists for tests
    /// that play the worker's part against a homeserver.
    ///
    /// # Errors
    /// [`HomeserverError::ReadOnly`] for kind `synapse_read_only` (no request is sent); any
    /// request failure.
    pub async fn set_display_name(
        &self,
        localpart: &str,
        display_name: &str,
    ) -> Result<(), HomeserverError> {
        match self.kind {
            HomeserverKind::SynapseReadOnly => Err(self
                .transport
                .read_only(&modern::set_display_name_operation())),
            HomeserverKind::SynapseLegacy => {
                legacy::set_display_name(&self.transport, &self.mxid(localpart), display_name).await
            }
            HomeserverKind::Synapse | HomeserverKind::SynapseModern => {
                modern::set_display_name(&self.transport, localpart, display_name).await
            }
        }
    }
}

/// Whether an error answer means "this localpart cannot be registered".
fn means_unavailable(answer: &Answer) -> bool {
    matches!(
        answer.errcode().as_deref(),
        Some("M_INVALID_USERNAME" | "M_USER_IN_USE" | "M_EXCLUSIVE")
    )
}

/// Whether an error answer means "the homeserver has no such user".
fn means_unknown_user(answer: &Answer) -> bool {
    answer.errcode().as_deref() == Some("M_NOT_FOUND")
}

/// Synapse reports a cleared display name as `""` or `null`; both mean none.
fn non_empty(display_name: Option<String>) -> Option<String> {
    display_name.filter(|name| !name.is_empty())
}
