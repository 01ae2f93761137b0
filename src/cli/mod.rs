//! The command line: clap definitions, global options and dispatch to one file per subcommand.
//!
//! This is the only module that imports clap, and (through [`output`]) the only one that
//! writes to stdout or stderr.

mod apply;
mod context;
mod demo;
mod export;
mod manage;
pub mod output;
mod plan;
mod schema;
mod validate;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::exit::{Exit, EXIT_CODES_HELP};

/// Keep the users of a Matrix Authentication Service in Git
#[derive(Debug, Parser)]
#[command(name = "masctl", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: context::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    Validate(validate::ValidateArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Export(export::ExportArgs),
    Schema(schema::SchemaArgs),
    Demo(demo::DemoArgs),
    Manage(manage::ManageArgs),
}

/// Parses the process arguments, runs the command and returns how it ended.
#[must_use]
pub fn main() -> Exit {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => return output::clap_error(&error),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => return output::clap_error(&error),
    };
    match run(cli) {
        Ok(exit) => exit,
        Err(report) => {
            output::report(&report);
            Exit::Error
        }
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Returns the diagnostic to print for any failure that maps to exit code 1.
pub fn run(cli: Cli) -> miette::Result<Exit> {
    match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Plan(args) => block_on(plan::run(args, &cli.global)),
        Command::Apply(args) => block_on(apply::run(args, &cli.global)),
        Command::Export(args) => block_on(export::run(args, &cli.global)),
        Command::Demo(args) => block_on(demo::run(args)),
        Command::Manage(args) => manage::run(args, &cli.global),
    }
}

/// Runs an async command on a runtime built for this one invocation.
fn block_on<F: std::future::Future<Output = miette::Result<Exit>>>(
    future: F,
) -> miette::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| miette::miette!("cannot start the async runtime: {error}"))?;
    runtime.block_on(future)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
