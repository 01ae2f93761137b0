//! `masctl validate`: check manifests offline, without a database.

use std::path::PathBuf;

use clap::Args;

use crate::exit::Exit;

/// Check manifest files offline; no database is needed
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Manifest files or directories of them
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Validates the manifests and reports every problem.
pub(crate) fn run(_args: &ValidateArgs) -> miette::Result<Exit> {
    Err(miette::miette!("not implemented yet"))
}
