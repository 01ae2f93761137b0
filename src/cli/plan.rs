//! `masctl plan`: read the database and print what `apply` would do.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::context::{Context, GlobalArgs};
use super::output;
use crate::exit::Exit;
use crate::manifest::{self, LoadOptions};
use crate::model::state::DesiredState;
use crate::pipeline;
use crate::render;

/// How a plan or an apply result is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Per-object diffs and a summary line, for people
    #[default]
    Human,
    /// A versioned JSON document, for CI bots
    Json,
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

/// Computes and prints the plan.
pub(crate) async fn run(args: &PlanArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let desired = load_desired(&args.files, &args.target, args.allow_plaintext_passwords)?;
    let context = Context::load(global)?;
    let manager = context.password_manager()?;
    let homeserver = context.homeserver()?;
    let mut conn = context.connect("plan").await?;
    let planned = pipeline::compute(&mut conn, &desired, &manager, homeserver.as_ref()).await?;
    match args.output {
        OutputFormat::Human => {
            output::stdout(&render::human::render(&planned.plan, &planned.actual, true))
        }
        OutputFormat::Json => output::stdout(&render::json::render(&planned.plan, None)),
    }
    Ok(if args.detailed_exitcode && !planned.plan.is_empty() {
        Exit::ChangesPending
    } else {
        Exit::Success
    })
}
