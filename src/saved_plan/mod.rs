//! Saved plans: `masctl plan -o plan.json`, reviewed on a merge request, then
//! `masctl apply --plan plan.json FILE…` after merge, applied exactly or refused.
//!
//! The file is a versioned JSON document ([`PLAN_FORMAT_VERSION`]):
//!
//! ```json
//! { "plan_format_version": 1, "masctl_version": "0.1.0", "plan_id": "01J…",
//!   "created_at": "…", "schema_version": 20260720134722,
//!   "manifest_digest": "<sha256 of the manifest's meaning>",
//!   "secrets": { "scheme": { "algorithm": "hmac-sha256", "key_sources": ["matrix.secret"], "key_id": "…" },
//!                "passwords": { "alice": "<fingerprint>" } },
//!   "plan": { "changes": […], "notes": […], "basis": "<sha256 of the rows>", "managed_objects": 3 } }
//! ```
//!
//! What apply checks before writing anything, each a refusal with exit 5: the manifest given
//! to apply has the same digest ([`digest`]); the database has the same schema version; every
//! password the plan writes resolves to the fingerprinted secret ([`secrets`]); inside the
//! transaction, the plan id was never applied (`masctl.applied_plans`), and re-reading and
//! re-planning gives the same rows digest and the same changes. The file holds no secret and
//! is written with mode 0600 from the start (created under a temporary name, then renamed).
//!
//! This module reads and writes the file and resolves secrets; it opens no database connection.

mod digest;
pub mod secrets;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use ulid::Ulid;

pub use digest::manifest_digest;
pub use secrets::{FingerprintKey, FingerprintScheme, SecretFingerprints};

use crate::env::Env;
use crate::ledger::plans::AppliedPlan;
use crate::manifest::{self, ManifestError};
use crate::model::state::{DesiredPassword, DesiredState};
use crate::model::{fold_case, Secret};
use crate::plan::{Change, Plan};

/// The version of the saved-plan format this masctl reads and writes.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// Plan files larger than this are refused before parsing (a 20 000-change plan is ~10 MB).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// A plan saved for a later apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    /// [`PLAN_FORMAT_VERSION`] when written.
    pub plan_format_version: u32,
    /// The masctl that wrote it.
    pub masctl_version: String,
    /// A nonce identifying this plan; recorded in `masctl.applied_plans` when applied.
    pub plan_id: Ulid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The MAS schema version (latest migration) it was computed against.
    pub schema_version: i64,
    /// [`manifest_digest`] of the manifest it was computed from.
    pub manifest_digest: String,
    /// Fingerprints of the secrets it writes.
    pub secrets: SecretFingerprints,
    /// The plan itself, with the digest of the rows it depends on (`basis`).
    pub plan: Plan,
}

/// Why a plan could not be saved, loaded or trusted.
#[derive(Debug, Error, Diagnostic)]
pub enum SavedPlanError {
    /// The file could not be read or written.
    #[error("cannot {action} plan file {}: {source}", path.display())]
    #[diagnostic(code(masctl::saved_plan::io))]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a saved plan this masctl can read.
    #[error("{} is not a masctl saved plan: {message}", path.display())]
    #[diagnostic(code(masctl::saved_plan::invalid))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The manifest given to apply is not the one the plan was made from.
    #[error("the manifest differs from the one the plan was made from (digest {saved}, now {now}); nothing was written")]
    #[diagnostic(
        code(masctl::saved_plan::manifest_changed),
        help("pass apply the same manifest files as plan, or run plan again")
    )]
    ManifestChanged {
        /// Digest in the file.
        saved: String,
        /// Digest of the manifest given now.
        now: String,
    },
    /// MAS's schema was migrated since the plan was made.
    #[error("MAS's schema changed since the plan was made (migration {saved}, now {now}); nothing was written: run plan again")]
    #[diagnostic(code(masctl::saved_plan::schema_changed))]
    SchemaChanged {
        /// Version in the file.
        saved: i64,
        /// Version of the database now.
        now: i64,
    },
    /// A password resolves to another value than when the plan was made.
    #[error("the password for user {username} is not the one the plan was made with (its source changed since); nothing was written: run plan again")]
    #[diagnostic(code(masctl::saved_plan::secret_changed))]
    SecretChanged {
        /// Whose password.
        username: String,
    },
    /// The fingerprint key is missing or different.
    #[error("the plan's secret fingerprints were keyed with secrets apply does not have or that differ ({sources}); nothing was written")]
    #[diagnostic(
        code(masctl::saved_plan::key_mismatch),
        help("run apply with the same MAS config (--config) or MASCTL_PLAN_KEY as plan")
    )]
    KeyMismatch {
        /// The key's sources named in the file.
        sources: String,
    },
    /// The file's parts do not agree with each other.
    #[error("the saved plan is inconsistent: {0}")]
    #[diagnostic(code(masctl::saved_plan::inconsistent))]
    Inconsistent(String),
    /// Fingerprinting failed.
    #[error("cannot fingerprint a secret: {0}")]
    #[diagnostic(code(masctl::saved_plan::fingerprint))]
    Fingerprint(String),
    /// A password source could not be resolved.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Secret(#[from] ManifestError),
}

impl SavedPlanError {
    /// Returns whether the error means "the plan no longer matches" (exit 5), as opposed to a
    /// file or environment problem (exit 1).
    #[must_use]
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            Self::ManifestChanged { .. }
                | Self::SchemaChanged { .. }
                | Self::SecretChanged { .. }
                | Self::KeyMismatch { .. }
        )
    }
}

impl SavedPlan {
    /// Wraps `plan`, computed from `desired` against schema `schema_version`, for saving:
    /// draws a plan id and fingerprints every secret the plan writes.
    ///
    /// # Errors
    /// A secret that cannot be resolved, or a fingerprinting failure.
    pub fn new(
        plan: Plan,
        schema_version: i64,
        desired: &DesiredState,
        key: Option<&FingerprintKey>,
        env: &Env,
    ) -> Result<Self, SavedPlanError> {
        let created_at = env.now();
        let plan_id = env.ulid_at(created_at);
        let written = written_secrets(&plan, desired)?;
        let secrets = secrets::fingerprint(plan_id, written, key, env)?;
        Ok(Self {
            plan_format_version: PLAN_FORMAT_VERSION,
            masctl_version: env!("CARGO_PKG_VERSION").to_owned(),
            plan_id,
            created_at,
            schema_version,
            manifest_digest: manifest_digest(desired),
            secrets,
            plan,
        })
    }

    /// Refuses a manifest other than the one the plan was made from.
    ///
    /// # Errors
    /// [`SavedPlanError::ManifestChanged`].
    pub fn check_manifest(&self, desired: &DesiredState) -> Result<(), SavedPlanError> {
        let now = manifest_digest(desired);
        if now == self.manifest_digest {
            Ok(())
        } else {
            Err(SavedPlanError::ManifestChanged {
                saved: short(&self.manifest_digest),
                now: short(&now),
            })
        }
    }

    /// Refuses a database migrated since the plan was made.
    ///
    /// # Errors
    /// [`SavedPlanError::SchemaChanged`].
    pub fn check_schema(&self, now: i64) -> Result<(), SavedPlanError> {
        if now == self.schema_version {
            Ok(())
        } else {
            Err(SavedPlanError::SchemaChanged {
                saved: self.schema_version,
                now,
            })
        }
    }

    /// Resolves the secrets the plan writes and checks them against the fingerprints.
    ///
    /// # Errors
    /// See [`secrets::verify`]; also a source that cannot be resolved.
    pub fn check_secrets(
        &self,
        desired: &DesiredState,
        key: Option<&FingerprintKey>,
    ) -> Result<(), SavedPlanError> {
        let written = written_secrets(&self.plan, desired)?;
        secrets::verify(self.plan_id, &self.secrets, written, key)
    }

    /// Returns what `masctl.applied_plans` records for this plan.
    #[must_use]
    pub fn applied(&self) -> AppliedPlan {
        AppliedPlan {
            plan_id: self.plan_id,
            manifest_digest: self.manifest_digest.clone(),
            basis: self.plan.basis.0.clone(),
            changes: self.plan.changes.len(),
        }
    }

    /// Writes the plan to `path` with mode 0600, atomically ([`crate::private_file::write`]).
    ///
    /// # Errors
    /// [`SavedPlanError::Io`].
    pub fn write(&self, path: &Path, env: &Env) -> Result<(), SavedPlanError> {
        let io = |source| SavedPlanError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|error| io(std::io::Error::other(error.to_string())))?;
        text.push(b'\n');
        crate::private_file::write(path, &text, env).map_err(io)
    }

    /// Reads a saved plan, refusing other formats with a clear message.
    ///
    /// # Errors
    /// [`SavedPlanError::Io`] or [`SavedPlanError::Invalid`].
    pub fn read(path: &Path) -> Result<Self, SavedPlanError> {
        let invalid = |message: String| SavedPlanError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|source| SavedPlanError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(invalid(format!(
                "larger than {} MiB",
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|error| invalid(format!("not JSON ({error})")))?;
        let version = value
            .get("plan_format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
            let found = version.map_or_else(|| "none".to_owned(), |v| v.to_string());
            return Err(invalid(format!(
                "plan_format_version is {found}, this masctl reads {PLAN_FORMAT_VERSION}"
            )));
        }
        serde_json::from_value(value).map_err(|error| invalid(error.to_string()))
    }
}

/// Resolves the secret of every password the plan writes, keyed by the plan's spelling.
fn written_secrets(
    plan: &Plan,
    desired: &DesiredState,
) -> Result<Vec<(String, Secret)>, SavedPlanError> {
    let by_name: HashMap<String, &DesiredPassword> = desired
        .users
        .iter()
        .filter_map(|(name, user)| user.password.as_deref().map(|p| (name.folded(), p)))
        .collect();
    let mut written: BTreeMap<String, &DesiredPassword> = BTreeMap::new();
    for change in &plan.changes {
        let username = match change {
            Change::CreateUser(new) if new.password.is_some() => &new.username,
            Change::SetPassword { user, .. } => &user.username,
            _ => continue,
        };
        let password = by_name.get(&fold_case(username)).ok_or_else(|| {
            SavedPlanError::Inconsistent(format!(
                "the plan sets a password for user {username}, but the manifest has none for that user"
            ))
        })?;
        written.entry(username.clone()).or_insert(password);
    }
    let mut issues = Vec::new();
    let mut resolved = Vec::with_capacity(written.len());
    for (username, password) in written {
        match manifest::resolve_password(password) {
            Ok(secret) => resolved.push((username, secret)),
            Err(error) => issues.push(error),
        }
    }
    if let Some(error) = ManifestError::merge(issues) {
        return Err(error.into());
    }
    Ok(resolved)
}

fn short(digest: &str) -> String {
    digest.chars().take(12).collect()
}
