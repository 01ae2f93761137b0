//! `masctl apply`: show the plan, confirm, and execute it in one transaction; or apply a saved
//! plan (`--plan PLAN`) exactly as it was reviewed, or refuse.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::context::{Context, GlobalArgs, Opened};
use super::output;
use super::plan::{load_desired, print_plan, OutputFormat};
use crate::apply::{self, ApplyError, ApplyOptions, Bookkeeping, EmergencyPolicy};
use crate::exit::Exit;
use crate::ledger;
use crate::model::state::{ActualState, DesiredState};
use crate::pipeline;
use crate::plan::emergency::EmergencyReport;
use crate::plan::{self as planner, check_guards, Plan};
use crate::render;
use crate::saved_plan::{SavedPlan, SavedPlanError};

/// Show the plan, ask for confirmation, and execute it atomically
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Manifest files or directories of them (with --plan: the ones the plan was made from)
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Apply this saved plan (from `plan -o`) exactly, or refuse if anything changed since
    #[arg(long, value_name = "PLAN")]
    plan: Option<PathBuf>,
    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    yes: bool,
    /// Apply even when a guard (max_deactivations, max_locks, max_destructive_percent) refuses
    #[arg(long)]
    allow_destructive: bool,
    /// Undo emergency changes made with `masctl manage` that the manifest disagrees with
    #[arg(long)]
    revert_emergency: bool,
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

/// Plans (or loads the saved plan), checks, confirms and applies.
pub(crate) async fn run(args: &ApplyArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let files = args.files.clone();
    let allow_plaintext = args.allow_plaintext_passwords;
    // The database side only reads: a saved plan that turns out not to match the manifest
    // (checked once both are in) is refused before anything is written or asked.
    let (desired, database) = pipeline::alongside_manifest(
        move || load_desired(&files, &[], allow_plaintext),
        Opened::open(global, "apply"),
    )
    .await?;
    let saved = args.plan.as_deref().map(SavedPlan::read).transpose()?;
    if let Some(Err(error)) = saved.as_ref().map(|saved| saved.check_manifest(&desired)) {
        return refuse(error);
    }
    let Opened {
        context,
        manager,
        homeserver,
        mut conn,
        schema,
        actual,
    } = database?;
    if let Some(Err(error)) = saved
        .as_ref()
        .map(|saved| saved.check_schema(schema.latest))
    {
        return refuse(error);
    }
    let planned =
        pipeline::plan_snapshot(&mut conn, &desired, actual, &manager, homeserver.as_ref()).await?;
    if let Some(saved) = &saved {
        if let Some(exit) = check_saved_early(&mut conn, saved, &planned.plan).await? {
            return Ok(exit);
        }
    }
    // Before anything is shown: a plan whose secrets changed is not worth confirming.
    let key = context.fingerprint_key();
    if let Some(Err(error)) = saved
        .as_ref()
        .map(|saved| saved.check_secrets(&desired, key.as_ref()))
    {
        return refuse(error);
    }
    // A saved plan has the same rows digest and changes as this fresh one (checked above).
    // Everything below uses the fresh one, so that nothing else read from the file (its
    // object count, say, which the percentage guard divides by) can sway a decision.
    let plan = &planned.plan;
    let records = ledger::emergency::open(&mut conn).await?;
    let report = planner::assess(&desired, &planned.actual, plan, &records);
    let reviewed = Reviewed {
        plan,
        actual: &planned.actual,
        desired: &desired,
        report: &report,
        saved: saved.is_some(),
    };
    if let Some(exit) = review(args, &reviewed)? {
        return Ok(exit);
    }
    let passwords = pipeline::prepare_passwords(plan, &desired, &manager, &context.env)?;
    let books = Bookkeeping {
        saved_plan: saved.as_ref().map(SavedPlan::applied),
        emergency: EmergencyPolicy::Check {
            desired: &desired,
            revert_allowed: args.revert_emergency,
        },
    };
    let replan = |actual: &_| planner::plan(&desired, actual, &planned.facts);
    let result = execute(args, &mut conn, &context, plan, &passwords, &books, replan).await;
    finish(args, plan, &report, saved.as_ref(), result)
}

/// What the operator is shown and asked about.
struct Reviewed<'a> {
    plan: &'a Plan,
    actual: &'a ActualState,
    desired: &'a DesiredState,
    report: &'a EmergencyReport,
    saved: bool,
}

/// Shows the plan, applies the refusals, stops when there is nothing to do, and confirms.
/// Returns the exit code when the apply stops here.
fn review(args: &ApplyArgs, reviewed: &Reviewed<'_>) -> miette::Result<Option<Exit>> {
    let Reviewed {
        plan,
        actual,
        desired,
        report,
        saved,
    } = *reviewed;
    if args.output != OutputFormat::Json {
        // Refusals are reported as errors below, not as warnings beside the plan.
        print_plan(args.output, plan, actual, report, &[], None);
    }
    if let Some(exit) = check_refusals(args, plan, desired, report) {
        return Ok(Some(exit));
    }
    // A saved plan is always recorded, even an empty one, so that it cannot be replayed.
    if plan.is_empty() && report.resolutions(args.revert_emergency).is_empty() && !saved {
        if args.output == OutputFormat::Json {
            output::stdout(&render::json::render_with(plan, Some(false), report, None));
        }
        return Ok(Some(Exit::Success));
    }
    if !plan.is_empty() && !args.yes && !confirm()? {
        output::stderr_line("Apply cancelled; nothing was written.");
        return Ok(Some(Exit::Error));
    }
    Ok(None)
}

/// Runs the transaction, telling the operator about a busy lock and, on a terminal, progress.
async fn execute(
    args: &ApplyArgs,
    conn: &mut sqlx::PgConnection,
    context: &Context,
    plan: &Plan,
    passwords: &apply::PreparedPasswords,
    books: &Bookkeeping<'_>,
    replan: impl Fn(&ActualState) -> Result<Plan, planner::PlanError>,
) -> Result<apply::ApplyReport, ApplyError> {
    let show_progress = std::io::stderr().is_terminal() && plan.changes.len() > 100;
    let mut progress = |phase: &str| {
        if show_progress {
            output::stderr_line(&format!("apply: {phase}…"));
        }
    };
    apply::apply_with(
        conn,
        &context.env,
        plan,
        passwords,
        &crate::snapshot::Scope::all(),
        &ApplyOptions {
            lock_timeout: Duration::from_secs(args.lock_timeout),
        },
        books,
        replan,
        |holder| {
            let who = holder.map_or_else(|| "another session".to_owned(), ToString::to_string);
            output::stderr_line(&format!(
                "waiting for the masctl lock held by {who} (up to {}s)…",
                args.lock_timeout
            ));
        },
        &mut progress,
    )
    .await
}

/// Refuses a saved plan before anything is shown: already applied, or stale.
async fn check_saved_early(
    conn: &mut sqlx::PgConnection,
    saved: &SavedPlan,
    fresh: &Plan,
) -> miette::Result<Option<Exit>> {
    if let Some(applied_at) = ledger::plans::applied_at(conn, saved.plan_id).await? {
        let error = ApplyError::AlreadyApplied {
            plan_id: saved.plan_id,
            applied_at,
        };
        output::report(&miette::Report::msg(error.to_string()));
        return Ok(Some(Exit::StalePlan));
    }
    let reason = if fresh.basis != saved.plan.basis {
        "rows the plan depends on differ"
    } else if fresh.changes != saved.plan.changes {
        "the recomputed plan differs"
    } else {
        return Ok(None);
    };
    let error = ApplyError::Stale {
        reason: reason.to_owned(),
    };
    output::report(&miette::Report::msg(error.to_string()));
    Ok(Some(Exit::StalePlan))
}

/// Applies the guards and the emergency-change check; returns the exit code of a refusal.
fn check_refusals(
    args: &ApplyArgs,
    plan: &Plan,
    desired: &DesiredState,
    report: &EmergencyReport,
) -> Option<Exit> {
    if let Err(violation) = check_guards(plan, desired, args.allow_destructive) {
        output::report(&miette::Report::new(violation));
        return Some(Exit::GuardRefused);
    }
    if let Err(refusal) = planner::check_emergencies(report, args.revert_emergency) {
        output::report(&miette::Report::new(refusal));
        return Some(Exit::GuardRefused);
    }
    None
}

/// Prints a saved-plan refusal and returns its exit code (5 when the plan no longer matches).
fn refuse(error: SavedPlanError) -> miette::Result<Exit> {
    let exit = if error.is_stale() {
        Exit::StalePlan
    } else {
        Exit::Error
    };
    output::report(&miette::Report::new(error));
    Ok(exit)
}

/// Reports the outcome of the transaction.
fn finish(
    args: &ApplyArgs,
    plan: &Plan,
    report: &EmergencyReport,
    saved: Option<&SavedPlan>,
    result: Result<apply::ApplyReport, ApplyError>,
) -> miette::Result<Exit> {
    match result {
        Ok(applied) => {
            match args.output {
                OutputFormat::Human | OutputFormat::Markdown => {
                    output::stdout(&format!(
                        "Applied: {}\n",
                        render::human::summary_line(&applied.summary).trim_start_matches("Plan: ")
                    ));
                    if applied.emergencies_closed > 0 {
                        output::stdout(&format!(
                            "Closed {} emergency record{}.\n",
                            applied.emergencies_closed,
                            if applied.emergencies_closed == 1 {
                                ""
                            } else {
                                "s"
                            }
                        ));
                    }
                }
                OutputFormat::Json => output::stdout(&render::json::render_with(
                    plan,
                    Some(true),
                    report,
                    saved.map(|saved| saved.plan_id),
                )),
            }
            Ok(Exit::Success)
        }
        Err(error @ (ApplyError::Stale { .. } | ApplyError::AlreadyApplied { .. })) => {
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
        Err(ApplyError::EmergencyRevert(refusal)) => {
            output::report(&miette::Report::new(refusal));
            Ok(Exit::GuardRefused)
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
