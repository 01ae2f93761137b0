//! What every database-backed command needs: MAS's config, a connection that passed the
//! schema guard, the password manager, and the clock/RNG.

use std::path::PathBuf;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};
use sqlx::postgres::PgConnectOptions;
use sqlx::PgConnection;

use crate::config::{self, MasConfig};
use crate::db;
use crate::env::Env;
use crate::password::PasswordManager;

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
        let application_name = format!("masctl {command} (pid {})", std::process::id());
        let mut conn = db::connect(&self.options, &application_name).await?;
        db::check_schema(&mut conn, self.allow_newer_schema).await?;
        Ok(conn)
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
