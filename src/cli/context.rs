//! What every database-backed command needs: MAS's config, a connection that passed the
//! schema guard, the password manager, the homeserver client, and the clock/RNG.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;

use crate::config::{self, MasConfig};
use crate::db::{self, SchemaVersion};
use crate::env::Env;
use crate::homeserver::HomeserverClient;
use crate::model::SecretBytes;
use crate::password::PasswordManager;
use crate::saved_plan::FingerprintKey;

/// The environment variable that, when set, is the only key of saved plans' secret
/// fingerprints (instead of secrets from MAS's config).
pub(crate) const PLAN_KEY_VAR: &str = "MASCTL_PLAN_KEY";

/// How long masctl waits for the homeserver: to connect, and for each whole answer. Synapse
/// answers `_synapse/mas/*` calls in milliseconds; this only bounds a hung or overloaded one.
pub(crate) const HOMESERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// MAS's configuration file; repeat to merge several (later files win)
    #[arg(long = "config", short = 'c', global = true, value_name = "FILE")]
    pub(crate) config: Vec<PathBuf>,
    /// URL of MAS's PostgreSQL database; overrides the config's `database` section
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) database_url: Option<String>,
    /// Accept a database migrated by a newer MAS than this masctl knows
    #[arg(long, global = true)]
    pub(crate) allow_newer_schema: bool,
}

/// The loaded configuration and injected environment of one run.
pub(crate) struct Context {
    pub(crate) config: MasConfig,
    options: PgConnectOptions,
    allow_newer_schema: bool,
    pub(crate) env: Env,
}

impl Context {
    /// Loads `.env`, MAS's config and the connection settings.
    pub(crate) fn load(global: &GlobalArgs) -> miette::Result<Self> {
        // mas-cli loads `.env` from the working directory before reading its config; so do we.
        let _ = dotenvy::dotenv();
        let config = config::load(&global.config, &config::env_snapshot())?;
        let options = match &global.database_url {
            Some(url) => db::options_from_url(url)?,
            None => config.database.connect_options()?,
        };
        Ok(Self {
            config,
            options,
            allow_newer_schema: global.allow_newer_schema,
            env: Env::system(),
        })
    }

    /// Connects to MAS's database as `command` and checks its schema before anything else.
    pub(crate) async fn connect(&self, command: &str) -> miette::Result<PgConnection> {
        self.connect_checked(command).await.map(|(conn, _)| conn)
    }

    /// Connects like [`Context::connect`] and also returns the schema version found.
    pub(crate) async fn connect_checked(
        &self,
        command: &str,
    ) -> miette::Result<(PgConnection, SchemaVersion)> {
        let application_name = format!("masctl {command} (pid {})", std::process::id());
        let mut conn = db::connect(&self.options, &application_name).await?;
        let version = db::check_schema(&mut conn, self.allow_newer_schema).await?;
        Ok((conn, version))
    }

    /// Returns the key of saved plans' secret fingerprints: `MASCTL_PLAN_KEY` if set, else
    /// derived from MAS's config (`matrix.secret` and the password peppers), else none.
    pub(crate) fn fingerprint_key(&self) -> Option<FingerprintKey> {
        if let Some(value) = std::env::var_os(PLAN_KEY_VAR).filter(|v| !v.is_empty()) {
            let bytes = SecretBytes::new(value.into_encoded_bytes());
            return FingerprintKey::derive(vec![(PLAN_KEY_VAR.to_owned(), bytes)]);
        }
        let mut sources = Vec::new();
        if let Some(matrix) = &self.config.matrix {
            let secret = SecretBytes::new(matrix.secret.expose().as_bytes().to_vec());
            sources.push(("matrix.secret".to_owned(), secret));
        }
        for scheme in self.config.passwords.schemes() {
            if let Some(pepper) = scheme.pepper {
                let label = format!("passwords.schemes[version {}].secret", scheme.version);
                sources.push((label, pepper));
            }
        }
        FingerprintKey::derive(sources)
    }

    /// Builds the homeserver client from the config's `matrix` section; `None` without one.
    ///
    /// A section that is present but unusable (an endpoint that is not http(s), an empty
    /// secret) is an error rather than "no homeserver": MAS would not start with it either.
    pub(crate) fn homeserver(&self) -> miette::Result<Option<HomeserverClient>> {
        let Some(matrix) = &self.config.matrix else {
            return Ok(None);
        };
        let client = matrix
            .client(HOMESERVER_TIMEOUT)
            .wrap_err("invalid `matrix` section in MAS's config")?;
        Ok(Some(client))
    }

    /// Builds the password manager from the config's `passwords` section.
    pub(crate) fn password_manager(&self) -> miette::Result<PasswordManager> {
        let passwords = &self.config.passwords;
        PasswordManager::new(
            passwords.enabled,
            passwords.minimum_complexity,
            passwords.schemes(),
        )
        .into_diagnostic()
        .wrap_err("invalid `passwords` section in MAS's config")
    }
}

/// Everything `plan` and `apply` take from MAS's config and database before planning.
pub(crate) struct Opened {
    pub(crate) context: Context,
    pub(crate) manager: PasswordManager,
    pub(crate) homeserver: Option<HomeserverClient>,
    pub(crate) conn: PgConnection,
    pub(crate) schema: SchemaVersion,
    pub(crate) actual: crate::model::state::ActualState,
}

impl Opened {
    /// Loads MAS's config, connects as `command`, checks the schema and reads the snapshot,
    /// in that order, so that a config error is reported before the database is contacted.
    pub(crate) async fn open(global: &GlobalArgs, command: &str) -> miette::Result<Self> {
        let context = Context::load(global)?;
        let manager = context.password_manager()?;
        let homeserver = context.homeserver()?;
        let (mut conn, schema) = context.connect_checked(command).await?;
        let actual = crate::pipeline::read_snapshot(&mut conn).await?;
        Ok(Self {
            context,
            manager,
            homeserver,
            conn,
            schema,
            actual,
        })
    }
}
