//! `masctl demo`: run masctl's main job end to end on a throwaway MAS-shaped database.
//!
//! It creates a fresh database from the embedded MAS v1.22 schema fixture, registers the
//! upstream providers the manifests name (as `mas-cli config sync` would from MAS's config),
//! then shows the plan, applies it, and shows that a second plan is empty. The database is
//! dropped at the end unless `--keep` is given.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use miette::{Context as _, IntoDiagnostic};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::output;
use crate::apply::{self, ApplyOptions};
use crate::db::fixture;
use crate::env::Env;
use crate::exit::Exit;
use crate::manifest::{self, LoadOptions};
use crate::model::state::DesiredState;
use crate::password::{Algorithm, PasswordManager, PasswordScheme};
use crate::pipeline;
use crate::plan as planner;
use crate::render;

/// Run plan, apply and plan again on a throwaway MAS database
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Manifest files or directories to apply
    #[arg(value_name = "FILE", default_value = "examples")]
    files: Vec<PathBuf>,
    /// PostgreSQL server (any database on it) where the throwaway database is created
    #[arg(
        long,
        env = "MASCTL_DEMO_SERVER",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    server: String,
    /// Keep the database afterwards and print its URL
    #[arg(long)]
    keep: bool,
}

/// Runs the demo; exits 0 only if the second plan is empty.
pub(crate) async fn run(args: &DemoArgs) -> miette::Result<Exit> {
    let desired = manifest::load(&args.files, &LoadOptions::default())?;
    let server: PgConnectOptions = crate::db::options_from_url(&args.server)?;
    let env = Env::system();
    let name = format!("masctl_demo_{}", hex::encode(env.random_bytes::<4>()));
    output::stderr_line(&format!("Creating the throwaway MAS database `{name}`…"));
    fixture::create_mas_database(&server, &name)
        .await
        .into_diagnostic()
        .wrap_err(
            "cannot create the demo database (is PostgreSQL running, and may this role CREATEDB?)",
        )?;
    let options = server.clone().database(&name);
    let outcome = demo(&options, &desired, &env).await;
    if args.keep {
        output::stderr_line(&format!(
            "Kept the database `{name}` on {}.",
            crate::db::redacted_url(&server)
        ));
    } else {
        fixture::drop_database(&server, &name)
            .await
            .into_diagnostic()
            .wrap_err("cannot drop the demo database")?;
    }
    outcome
}

async fn demo(
    options: &PgConnectOptions,
    desired: &DesiredState,
    env: &Env,
) -> miette::Result<Exit> {
    let mut conn = PgConnection::connect_with(options)
        .await
        .into_diagnostic()?;
    register_providers(&mut conn, desired, env).await?;
    crate::db::check_schema(&mut conn, false).await?;
    // MAS's default `passwords` section: one argon2id scheme, version 1.
    let scheme = PasswordScheme {
        version: 1,
        algorithm: Algorithm::Argon2id,
        unicode_normalization: false,
        cost: 12,
        pepper: None,
    };
    let manager = PasswordManager::new(true, 3, vec![scheme]).into_diagnostic()?;

    output::stdout("== masctl plan ==\n");
    // No homeserver belongs to the throwaway database: display names go out on creation only.
    let planned = pipeline::compute(&mut conn, desired, &manager, None).await?;
    output::stdout(&render::human::render(&planned.plan, &planned.actual, true));

    output::stdout("\n== masctl apply --yes ==\n");
    let passwords = pipeline::prepare_passwords(&planned.plan, desired, &manager, env)?;
    let options = ApplyOptions {
        lock_timeout: Duration::from_secs(30),
    };
    let report = apply::apply(
        &mut conn,
        env,
        &planned.plan,
        &passwords,
        &crate::snapshot::Scope::all(),
        &options,
        |actual| planner::plan(desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .map_err(|error| miette::miette!("{error}"))?;
    output::stdout(&format!(
        "Applied: {}\n",
        render::human::summary_line(&report.summary).trim_start_matches("Plan: ")
    ));
    let jobs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT queue_name, count(*) FROM queue_jobs GROUP BY queue_name ORDER BY queue_name",
    )
    .fetch_all(&mut conn)
    .await
    .into_diagnostic()?;
    for (queue, count) in jobs {
        output::stdout(&format!("  queued for MAS's worker: {count} × {queue}\n"));
    }

    output::stdout("\n== masctl plan (again) ==\n");
    let again = pipeline::compute(&mut conn, desired, &manager, None).await?;
    output::stdout(&render::human::render(&again.plan, &again.actual, true));
    if again.plan.is_empty() {
        Ok(Exit::Success)
    } else {
        output::report(&miette::miette!(
            "the second plan is not empty: masctl did not converge"
        ));
        Ok(Exit::Error)
    }
}

/// Inserts an enabled provider row for every provider the manifests link to, as
/// `mas-cli config sync` would from `upstream_oauth2.providers` in MAS's config.
async fn register_providers(
    conn: &mut PgConnection,
    desired: &DesiredState,
    env: &Env,
) -> miette::Result<()> {
    let providers: BTreeSet<_> = desired
        .users
        .values()
        .flat_map(|user| user.upstream.iter().flatten())
        .map(|link| link.provider)
        .collect();
    for (n, provider) in providers.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO upstream_oauth_providers
               (upstream_oauth_provider_id, issuer, human_name, scope, client_id, token_endpoint_auth_method, created_at)
             VALUES ($1, $2, $3, 'openid profile email', 'masctl-demo', 'client_secret_basic', $4)",
        )
        .bind(crate::ids::to_uuid(provider.0))
        .bind(format!("https://sso{n}.example.org/"))
        .bind(format!("Demo SSO {}", n + 1))
        .bind(env.now())
        .execute(&mut *conn)
        .await
        .into_diagnostic()?;
    }
    Ok(())
}
