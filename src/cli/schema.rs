//! `masctl schema`: print the manifest's JSON Schema.

use clap::Args;

use crate::exit::Exit;

/// Print the manifest's JSON Schema
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {}

/// Prints the schema to stdout.
pub(crate) fn run(_args: &SchemaArgs) -> miette::Result<Exit> {
    Err(miette::miette!("not implemented yet"))
}
