//! `masctl schema`: print the manifest's JSON Schema.

use clap::Args;

use crate::cli::output;
use crate::exit::Exit;
use crate::manifest;

/// Print the manifest's JSON Schema (for editors and CI)
///
/// `schema/manifest.schema.json` in the repository holds the same text.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {}

/// Prints the schema to stdout.
pub(crate) fn run(_args: &SchemaArgs) -> miette::Result<Exit> {
    output::stdout(&schema_text());
    Ok(Exit::Success)
}

/// Returns the schema as pretty JSON with a final newline, exactly as `schema/` holds it.
pub(crate) fn schema_text() -> String {
    // Serialising a `serde_json::Value` cannot fail; an empty object is a safe fallback anyway.
    let mut text =
        serde_json::to_string_pretty(&manifest::schema()).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}
