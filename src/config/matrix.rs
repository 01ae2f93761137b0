//! The `matrix` section: which homeserver MAS serves and how to reach its admin API.
//!
//! Optional for masctl (only display names and the homeserver-facing manage commands need it),
//! but when present it must be complete: exactly one of `secret` or `secret_file`, as MAS
//! requires. A `secret_file` is read and trimmed, as MAS does. [`MatrixConfig::client`] maps the
//! parsed section onto the homeserver client, which itself never sees MAS's config.

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::tree::Cursor;
use super::{exclusive, opt_string, read_trimmed_key_file, ConfigError};
use crate::homeserver::{self, HomeserverClient, HomeserverError};
use crate::model::Secret;

/// MAS's default `homeserver` (the server name in MXIDs).
pub const DEFAULT_HOMESERVER: &str = "localhost:8008";
/// MAS's default `endpoint` (the homeserver's client API base URL).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:8008/";

/// The flavour of homeserver API MAS talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HomeserverKind {
    /// `synapse` (default): Synapse's `/_synapse/mas/*` API.
    #[default]
    Synapse,
    /// `synapse_modern`: the same API, named explicitly.
    SynapseModern,
    /// `synapse_legacy`: Synapse's `/_synapse/admin/*` API.
    SynapseLegacy,
    /// `synapse_read_only`: reads are forwarded, every write fails.
    SynapseReadOnly,
}

impl From<HomeserverKind> for homeserver::HomeserverKind {
    fn from(kind: HomeserverKind) -> Self {
        match kind {
            HomeserverKind::Synapse => Self::Synapse,
            HomeserverKind::SynapseModern => Self::SynapseModern,
            HomeserverKind::SynapseLegacy => Self::SynapseLegacy,
            HomeserverKind::SynapseReadOnly => Self::SynapseReadOnly,
        }
    }
}

impl HomeserverKind {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "synapse" => Some(Self::Synapse),
            "synapse_modern" => Some(Self::SynapseModern),
            "synapse_legacy" => Some(Self::SynapseLegacy),
            "synapse_read_only" => Some(Self::SynapseReadOnly),
            _ => None,
        }
    }
}

/// The `matrix` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixConfig {
    /// The homeserver flavour (`kind`).
    pub kind: HomeserverKind,
    /// The server name used in MXIDs (`homeserver`), e.g. `example.com`.
    pub homeserver: String,
    /// The base URL of the homeserver (`endpoint`); request paths are URL-joined onto it.
    pub endpoint: Url,
    /// The shared secret sent as a Bearer token (`secret`, or `secret_file` trimmed).
    pub secret: Secret,
}

impl MatrixConfig {
    /// Builds the client for this homeserver; `timeout` bounds connecting and each request.
    ///
    /// No request is sent here, so an unreachable homeserver only shows at the first call.
    ///
    /// # Errors
    /// An endpoint the client cannot use (not http(s), no host, credentials in the URL), an
    /// empty secret or one that cannot be an HTTP header, or a TLS set-up failure.
    pub fn client(&self, timeout: Duration) -> Result<HomeserverClient, HomeserverError> {
        HomeserverClient::new(
            self.kind.into(),
            self.homeserver.clone(),
            self.endpoint.as_str(),
            self.secret.clone(),
            timeout,
        )
    }
}

/// Parses the section; `None` means it is absent (allowed: masctl then works without it).
pub(super) fn parse(
    section: Option<Cursor<'_>>,
    cwd: &Path,
) -> Result<Option<MatrixConfig>, ConfigError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let kind = match section.get("kind")? {
        Some(field) => {
            let cursor = field.cursor();
            let name = cursor.string()?;
            HomeserverKind::parse(&name).ok_or_else(|| {
                cursor.error(format!(
                    "unknown homeserver kind `{name}` (expected synapse, synapse_modern, \
                     synapse_legacy or synapse_read_only)"
                ))
            })?
        }
        None => HomeserverKind::default(),
    };
    let homeserver =
        opt_string(section, "homeserver")?.unwrap_or_else(|| DEFAULT_HOMESERVER.to_owned());
    let endpoint = match section.get("endpoint")? {
        Some(field) => {
            let cursor = field.cursor();
            Url::parse(&cursor.string()?)
                .map_err(|error| cursor.error(format!("not a valid URL: {error}")))?
        }
        None => Url::parse(DEFAULT_ENDPOINT).map_err(|error| section.error(error.to_string()))?,
    };
    exclusive(section, "secret", "secret_file")?;
    let secret = match opt_string(section, "secret")? {
        Some(secret) => Secret::new(secret),
        None => read_trimmed_key_file(section, "secret_file", cwd)?
            .ok_or_else(|| section.error("one of `secret` or `secret_file` is required"))?,
    };
    Ok(Some(MatrixConfig {
        kind,
        homeserver,
        endpoint,
        secret,
    }))
}
