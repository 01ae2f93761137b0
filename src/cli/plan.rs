//! `masctl plan`: read the database and print what `apply` would do, and optionally save the
//! plan (`-o PLAN`) for a later `apply --plan PLAN`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::context::{Context, GlobalArgs, Opened};
use super::output;
use crate::exit::Exit;
use crate::ledger;
use crate::manifest::{self, LoadOptions};
use crate::model::state::{ActualState, DesiredState};
use crate::pipeline;
use crate::plan::emergency::EmergencyReport;
use crate::plan::{self as planner, Plan};
use crate::render;
use crate::saved_plan::SavedPlan;

/// How a plan or an apply result is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Per-object diffs and a summary line, for people
    #[default]
    Human,
    /// A versioned JSON document, for CI bots
    Json,
    /// A bounded summary for a merge-request comment (at most 60 000 characters)
    Markdown,
}

/// Show what apply would change, without changing anything
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Manifest files or directories of them
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// How to print the plan
    #[arg(long, value_enum, default_value_t)]
    pub(crate) output: OutputFormat,
    /// Also save the plan to this file (mode 0600) for `apply --plan`
    #[arg(
        short = 'o',
        long = "out",
        value_name = "PLAN",
        conflicts_with = "target"
    )]
    pub(crate) out: Option<PathBuf>,
    /// Exit with 3 when there are changes (0: none, 1: error)
    #[arg(long)]
    pub(crate) detailed_exitcode: bool,
    /// Plan only these objects (`user:NAME` or `token:TOKEN`); repeatable; never prunes
    #[arg(long, value_name = "KIND:NAME", value_parser = parse_target)]
    pub(crate) target: Vec<Target>,
    /// Accept plaintext `password: "…"` literals in the manifest
    #[arg(long)]
    pub(crate) allow_plaintext_passwords: bool,
}

/// One object named with `--target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `user:NAME`
    User(String),
    /// `token:TOKEN`
    Token(String),
}

fn parse_target(value: &str) -> Result<Target, String> {
    match value.split_once(':') {
        Some(("user", name)) if !name.is_empty() => Ok(Target::User(name.to_owned())),
        Some(("token", token)) if !token.is_empty() => Ok(Target::Token(token.to_owned())),
        _ => Err(format!("`{value}` is not `user:NAME` or `token:TOKEN`")),
    }
}

/// Loads the manifests and narrows them to the targets, if any.
pub(crate) fn load_desired(
    files: &[PathBuf],
    targets: &[Target],
    allow_plaintext_passwords: bool,
) -> miette::Result<DesiredState> {
    let mut desired = manifest::load(
        files,
        &LoadOptions {
            allow_plaintext_passwords,
        },
    )?;
    if !targets.is_empty() {
        let users: Vec<&str> = targets
            .iter()
            .filter_map(|t| {
                if let Target::User(name) = t {
                    Some(name.as_str())
                } else {
                    None
                }
            })
            .collect();
        let tokens: Vec<&str> = targets
            .iter()
            .filter_map(|t| {
                if let Target::Token(token) = t {
                    Some(token.as_str())
                } else {
                    None
                }
            })
            .collect();
        for name in &users {
            if !desired
                .users
                .keys()
                .any(|key| key.folded() == crate::model::fold_case(name))
            {
                miette::bail!("--target user:{name}: the manifest has no such user");
            }
        }
        for token in &tokens {
            if !desired.registration_tokens.contains_key(*token) {
                miette::bail!("--target token:{token}: the manifest has no such token");
            }
        }
        desired.retain_targets(&users, &tokens);
    }
    Ok(desired)
}

/// Computes and prints the plan, and saves it when asked.
pub(crate) async fn run(args: &PlanArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let (files, targets) = (args.files.clone(), args.target.clone());
    let allow_plaintext = args.allow_plaintext_passwords;
    let (desired, database) = pipeline::alongside_manifest(
        move || load_desired(&files, &targets, allow_plaintext),
        Opened::open(global, "plan"),
    )
    .await?;
    let Opened {
        context,
        manager,
        homeserver,
        mut conn,
        schema,
        actual,
    } = database?;
    let planned =
        pipeline::plan_snapshot(&mut conn, &desired, actual, &manager, homeserver.as_ref()).await?;
    let records = ledger::emergency::open(&mut conn).await?;
    let report = planner::assess(&desired, &planned.actual, &planned.plan, &records);
    let refusals = refusals(&planned.plan, &desired, &report);
    let plan_id = match &args.out {
        Some(path) => Some(save(
            path,
            &planned.plan,
            schema.latest,
            &desired,
            &context,
        )?),
        None => None,
    };
    print_plan(
        args.output,
        &planned.plan,
        &planned.actual,
        &report,
        &refusals,
        plan_id,
    );
    Ok(if args.detailed_exitcode && !planned.plan.is_empty() {
        Exit::ChangesPending
    } else {
        Exit::Success
    })
}

/// Saves `plan` for a later `apply --plan` and returns its id.
fn save(
    path: &std::path::Path,
    plan: &Plan,
    schema_version: i64,
    desired: &DesiredState,
    context: &Context,
) -> miette::Result<ulid::Ulid> {
    let key = context.fingerprint_key();
    let saved = SavedPlan::new(
        plan.clone(),
        schema_version,
        desired,
        key.as_ref(),
        &context.env,
    )?;
    if key.is_none() && !saved.secrets.passwords.is_empty() {
        output::warning(
            "no MAS config secret or MASCTL_PLAN_KEY to key the saved plan's password fingerprints: \
             they are salted Argon2id, as hard to guess as MAS's own password hashes",
        );
    }
    saved.write(path, &context.env)?;
    output::stderr_line(&format!(
        "Saved plan {} to {} (apply it with `masctl apply --plan {} FILE…`).",
        saved.plan_id,
        path.display(),
        path.display()
    ));
    Ok(saved.plan_id)
}

/// Prints the plan in the chosen format; refusals go to stderr unless the format embeds them.
pub(crate) fn print_plan(
    format: OutputFormat,
    plan: &Plan,
    actual: &ActualState,
    report: &EmergencyReport,
    refusals: &[String],
    plan_id: Option<ulid::Ulid>,
) {
    match format {
        OutputFormat::Human => {
            output::stdout(&render::human::render(plan, actual, true));
            output::stdout(&render::emergency::human(report));
        }
        OutputFormat::Json => {
            output::stdout(&render::json::render_with(plan, None, report, plan_id));
        }
        OutputFormat::Markdown => {
            output::stdout(&render::markdown::render(plan, actual, report, refusals));
            return;
        }
    }
    for refusal in refusals {
        output::warning(refusal);
    }
}

/// Says why `apply` would refuse this plan (guards, emergency changes), one line each.
pub(crate) fn refusals(
    plan: &Plan,
    desired: &DesiredState,
    report: &EmergencyReport,
) -> Vec<String> {
    let mut refusals = Vec::new();
    if let Err(violation) = planner::check_guards(plan, desired, false) {
        refusals.push(format!(
            "apply will refuse this plan: {violation} (--allow-destructive overrides)"
        ));
    }
    let reverts = report.reverts().count();
    if reverts > 0 {
        refusals.push(format!(
            "apply will refuse this plan: it reverts {reverts} emergency change{} made with `masctl manage` (--revert-emergency overrides)",
            if reverts == 1 { "" } else { "s" }
        ));
    }
    refusals
}
