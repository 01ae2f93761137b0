//! `masctl validate`: check manifests offline, without a database.

use std::path::PathBuf;

use clap::Args;

use crate::cli::output;
use crate::exit::Exit;
use crate::manifest::{self, LoadOptions};

/// Check manifest files offline; no database and no secrets are needed
///
/// Every problem in every file is reported. Passwords from `env:` and `file:` are not read.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Manifest files, or directories whose *.yaml and *.yml files are read
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Accept plaintext passwords written in the manifest
    #[arg(long)]
    allow_plaintext_passwords: bool,
}

/// Validates the manifests and reports every problem.
pub(crate) fn run(args: &ValidateArgs) -> miette::Result<Exit> {
    let options = LoadOptions {
        allow_plaintext_passwords: args.allow_plaintext_passwords,
    };
    let loaded = manifest::load_with_files(&args.files, &options)?;
    output::stderr_line(&format!(
        "ok: {}, {} in {}",
        count(loaded.state.users.len(), "user"),
        count(loaded.state.registration_tokens.len(), "registration token"),
        count(loaded.files.len(), "file"),
    ));
    Ok(Exit::Success)
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
