//! The manifest as written: serde and schemars structs that mirror the YAML 1:1.
//!
//! These types check shape only (which keys exist, which YAML type each value has); the rules
//! about values (usernames, emails, ULIDs, timestamps, ranges) live in `validate`, which turns a
//! [`Manifest`] into a `DesiredState`. Values that a later problem may need to point at are
//! [`Spanned`]. The doc comments become the descriptions of the JSON Schema that editors use,
//! so they are written for manifest authors. Serialising a `Manifest` writes a valid manifest.

use std::borrow::Cow;
use std::fmt;

use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use super::spanned::Spanned;

/// A masctl manifest (format version 1): the users and registration tokens a Matrix
/// Authentication Service should have.
///
/// Several manifest files may be given at once; they merge, and a user or token defined in two
/// places is an error.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "masctl manifest", transform = require_version)]
pub struct Manifest {
    /// The manifest format version. This version of masctl reads version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "version_schema")]
    pub version: Option<Spanned<i64>>,

    /// The users masctl manages, keyed by username: the localpart of their Matrix ID, stored
    /// verbatim. An entry may be empty (`alice:`) to take every default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<IndexMap<UsernameKey, Option<User>>>")]
    pub users: Option<IndexMap<Spanned<String>, Option<User>>>,

    /// The user registration tokens masctl manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_tokens: Option<Vec<Token>>,

    /// What to do with users and registration tokens in the database that no manifest lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<Spanned<Prune>>,

    /// Limits that make an apply refuse to do too much damage at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guards: Option<Spanned<Guards>>,
}

/// Marks `version` required in the schema, although the struct accepts its absence (so that a
/// missing version is reported at its place, next to the file's other problems).
fn require_version(schema: &mut Schema) {
    schema.insert("required".to_owned(), serde_json::json!(["version"]));
}

fn version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "const": 1 })
}

/// One user. Omitted keys: `admin`, `state` and `password_policy` take their defaults (they are
/// always enforced); `emails`, `password`, `display_name` and `upstream` are left alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Whether the user may request admin access (MAS's `can_request_admin`).
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub admin: bool,

    /// The user's email addresses, exactly. Omit the key to leave them alone; `[]` removes all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<Spanned<String>>>,

    /// Where the user's password comes from. Omit it to leave the password alone.
    // Boxed: few users have one, and inline it would double the size of every user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Spanned<Box<Password>>>,

    /// When masctl writes the password: `initial` sets it only if the user has none, `enforce`
    /// keeps it equal to the manifest's.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(extend("default" = "initial"))]
    pub password_policy: PasswordPolicy,

    /// The display name on the homeserver. Omit it to leave it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Spanned<String>>,

    /// The user's links to upstream OAuth 2.0 / OIDC providers, exactly. Omit the key to leave
    /// them alone; `[]` removes all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Vec<Spanned<UpstreamLink>>>,

    /// Whether the user may log in.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(extend("default" = "active"))]
    pub state: UserState,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(value: &bool) -> bool {
    !value
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A username key: MAS's localpart alphabet (upper case allowed for accounts imported from
/// Synapse), not starting with `_`.
struct UsernameKey;

impl JsonSchema for UsernameKey {
    fn schema_name() -> Cow<'static, str> {
        "Username".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[a-zA-Z0-9.=/+-][a-zA-Z0-9._=/+-]{0,254}$",
        })
    }
}

/// A password: a mapping with exactly one of `env`, `file` or `hash` (+ `version`), or a
/// plaintext string (refused unless `--allow-plaintext-passwords` is given).
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    /// A plaintext password written in the manifest.
    Plaintext(String),
    /// A mapping naming where the password comes from.
    Source(PasswordSource),
}

/// The mapping form of a password, before `validate` checks that exactly one source is named.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSource {
    /// The environment variable holding the plaintext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Spanned<String>>,
    /// The file holding the plaintext, relative to the manifest file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Spanned<String>>,
    /// A ready-made password hash (PHC or bcrypt string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Spanned<String>>,
    /// The `passwords.schemes[].version` of MAS's config that produced `hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Spanned<u16>>,
}

/// The keys of [`PasswordSource`], which the tree deserializer needs to spot unknown ones.
pub(crate) const PASSWORD_FIELDS: &[&str] = &["env", "file", "hash", "version"];

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Plaintext passwords and hashes are secrets: never print them.
        match self {
            Self::Plaintext(_) => f.write_str("Plaintext(<redacted>)"),
            Self::Source(source) => f
                .debug_struct("Source")
                .field("env", &source.env)
                .field("file", &source.file)
                .field("hash", &source.hash.as_ref().map(|_| "<redacted>"))
                .field("version", &source.version)
                .finish(),
        }
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plaintext(text) => serializer.serialize_str(text),
            Self::Source(source) => source.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Password", PASSWORD_FIELDS, PasswordVisitor)
    }
}

struct PasswordVisitor;

impl<'de> Visitor<'de> for PasswordVisitor {
    type Value = Password;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a mapping with `env`, `file` or `hash`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Password, E> {
        Ok(Password::Plaintext(text.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Password, A::Error> {
        PasswordSource::deserialize(de::value::MapAccessDeserializer::new(map))
            .map(Password::Source)
    }
}

impl JsonSchema for Password {
    fn schema_name() -> Cow<'static, str> {
        "Password".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        PasswordSchema::json_schema(generator)
    }
}

/// Where a user's password comes from.
#[derive(JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
#[expect(dead_code, reason = "only describes the schema of `Password`")]
enum PasswordSchema {
    /// Read the plaintext from an environment variable when planning (never when validating).
    Env {
        /// The environment variable's name.
        #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
        env: String,
    },
    /// Read the plaintext from a file when planning; one trailing newline is ignored.
    File {
        /// The file's path, relative to the manifest file.
        #[schemars(length(min = 1))]
        file: String,
    },
    /// Store a ready-made hash as it is.
    Hash {
        /// The hash: a PHC string (`$argon2id$…`, `$pbkdf2-sha256$…`) or a bcrypt string (`$2b$…`).
        #[schemars(regex(pattern = r"^\$(argon2id|pbkdf2-sha256|2[aby])\$"))]
        hash: String,
        /// The `version` of the scheme in MAS's `passwords.schemes` that produced the hash.
        #[schemars(range(min = 1))]
        version: u16,
    },
    /// A plaintext password in the manifest: refused unless `--allow-plaintext-passwords` is
    /// given, because it would sit in Git.
    Plaintext(String),
}

/// A link between the user and an account at an upstream OAuth 2.0 / OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamLink {
    /// The provider's ULID: its `id` under `upstream_oauth2.providers` in MAS's config.
    #[schemars(regex(pattern = r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"))]
    pub provider: Spanned<String>,
    /// The user's subject at the provider (its `sub` claim), compared exactly.
    pub subject: Spanned<String>,
}

/// A user registration token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// The token people type when they register; compared case-sensitively.
    #[schemars(length(min = 1))]
    pub token: Spanned<String>,
    /// How many registrations the token allows. Omit it for unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub usage_limit: Option<Spanned<i64>>,
    /// When the token stops working, as an RFC 3339 timestamp with offset
    /// (`2027-01-01T00:00:00Z`). Omit it for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: Option<Spanned<String>>,
    /// Whether the token may be used.
    #[serde(default, skip_serializing_if = "is_default")]
    #[schemars(extend("default" = "active"))]
    pub state: TokenState,
}

/// What to do with objects in the database that no manifest lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prune {
    /// What happens to users no manifest lists.
    #[serde(default)]
    pub users: PruneUsers,
    /// What happens to registration tokens no manifest lists.
    #[serde(default)]
    pub registration_tokens: PruneTokens,
}

/// Limits on destructive changes (lock, deactivate, demote, email removal, revoke) in one
/// apply; `--allow-destructive` overrides them. Omitted limits do not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    /// The most users one apply may deactivate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deactivations: Option<u32>,
    /// The most users one apply may lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_locks: Option<u32>,
    /// The most destructive changes one apply may make, as a percentage of managed objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub max_destructive_percent: Option<Spanned<i64>>,
}

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// The user may log in.
    #[default]
    Active,
    /// Logins are refused; reversible, and the user's sessions survive.
    Locked,
    /// The account is torn down: sessions end and MAS removes the emails.
    Deactivated,
}

/// When masctl writes a password from the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordPolicy {
    /// Set the password only when the user has none; then it is the user's.
    #[default]
    Initial,
    /// Keep the user's password equal to the manifest's.
    Enforce,
}

/// Whether a registration token may be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// The token may be used.
    #[default]
    Active,
    /// The token is revoked.
    Revoked,
}

/// What happens to users that no manifest lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PruneUsers {
    /// Leave them alone.
    #[default]
    Ignore,
    /// Lock them.
    Lock,
    /// Deactivate them.
    Deactivate,
}

/// What happens to registration tokens that no manifest lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PruneTokens {
    /// Leave them alone.
    #[default]
    Ignore,
    /// Revoke them.
    Revoke,
}
