//! `masctl apply`: show the plan, confirm, and execute it in one transaction.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::context::{Context, GlobalArgs};
use super::output;
use super::plan::{load_desired, OutputFormat};
use crate::apply::{self, ApplyError, ApplyOptions};
use crate::exit::Exit;
use crate::pipeline;
use crate::plan::{self as planner, check_guards};
use crate::render;

/// Show the plan, ask for confirmation, and execute it atomically
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Manifest files or directories of them
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    yes: bool,
    /// Apply even when a guard (max_deactivations, max_locks, max_destructive_percent) refuses
    #[arg(long)]
    allow_destructive: bool,
    /// Give up after waiting this long for another masctl run's lock
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    lock_timeout: u64,
    /// How to print the plan and the result
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// Accept plaintext `password: "…"` literals in the manifest
    #[arg(long)]
    allow_plaintext_passwords: bool,
}

/// Plans, confirms and applies.
pub(crate) async fn run(args: &ApplyArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let desired = load_desired(&args.files, &[], args.allow_plaintext_passwords)?;
    let context = Context::load(global)?;
    let manager = context.password_manager()?;
    let mut conn = context.connect("apply").await?;
    let planned = pipeline::compute(&mut conn, &desired, &manager).await?;
    let plan = &planned.plan;
    if args.output == OutputFormat::Human {
        output::stdout(&render::human::render(plan, &planned.actual, true));
    }
    if let Err(violation) = check_guards(plan, &desired, args.allow_destructive) {
        output::report(&miette::Report::new(violation));
        return Ok(Exit::GuardRefused);
    }
    if plan.is_empty() {
        if args.output == OutputFormat::Json {
            output::stdout(&render::json::render(plan, Some(false)));
        }
        return Ok(Exit::Success);
    }
    if !args.yes && !confirm()? {
        output::stderr_line("Apply cancelled; nothing was written.");
        return Ok(Exit::Error);
    }
    let passwords = pipeline::prepare_passwords(plan, &desired, &manager, &context.env)?;
    let options = ApplyOptions {
        lock_timeout: Duration::from_secs(args.lock_timeout),
    };
    let show_progress = std::io::stderr().is_terminal() && plan.changes.len() > 100;
    let mut progress = |phase: &str| {
        if show_progress {
            output::stderr_line(&format!("apply: {phase}…"));
        }
    };
    let result = apply::apply(
        &mut conn,
        &context.env,
        plan,
        &passwords,
        &crate::snapshot::Scope::all(),
        &options,
        |actual| planner::plan(&desired, actual, &planned.facts),
        |holder| {
            let who = holder.map_or_else(|| "another session".to_owned(), ToString::to_string);
            output::stderr_line(&format!(
                "waiting for the masctl lock held by {who} (up to {}s)…",
                args.lock_timeout
            ));
        },
        &mut progress,
    )
    .await;
    match result {
        Ok(report) => {
            match args.output {
                OutputFormat::Human => output::stdout(&format!(
                    "Applied: {}\n",
                    render::human::summary_line(&report.summary).trim_start_matches("Plan: ")
                )),
                OutputFormat::Json => output::stdout(&render::json::render(plan, Some(true))),
            }
            Ok(Exit::Success)
        }
        Err(error @ ApplyError::Stale { .. }) => {
            output::report(&miette::Report::msg(error.to_string()));
            Ok(Exit::StalePlan)
        }
        // The plan was valid when made: a fresh read that no longer fits is a stale plan too.
        Err(error @ ApplyError::Replan(_)) => {
            output::report(&miette::Report::new(error));
            Ok(Exit::StalePlan)
        }
        Err(ApplyError::Lock(error @ apply::LockError::Timeout { .. })) => {
            output::report(&miette::Report::msg(error.to_string()));
            Ok(Exit::LockTimeout)
        }
        Err(error) => Err(miette::Report::new(error)),
    }
}

/// Asks on the terminal; refuses when there is none.
fn confirm() -> miette::Result<bool> {
    if !std::io::stdin().is_terminal() {
        miette::bail!(miette::miette!(
            help = "review the plan above, then re-run with --yes",
            "refusing to apply without --yes: stdin is not a terminal"
        ));
    }
    output::stderr_line("Apply these changes? Only `yes` is accepted:");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|error| miette::miette!("cannot read the answer: {error}"))?;
    Ok(answer.trim() == "yes")
}
