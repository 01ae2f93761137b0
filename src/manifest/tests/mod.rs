//! Tests of manifest loading: one snapshot per diagnostic kind, merging, the examples, the
//! schema file, password resolution, and random mutations that must never panic.
//!
//! Diagnostics are rendered as a terminal without colour would show them (miette's unicode
//! theme, 80 columns), and stored under `src/manifest/snapshots/`.

mod diagnostics;
mod duplicates;
mod loading;
mod mutations;
mod passwords;
mod schema;
mod yaml;

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::{load_str, LoadOptions, ManifestError};
use crate::model::state::DesiredState;

/// Renders a diagnostic the way the CLI does on a terminal without colour.
pub(super) fn render(error: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(80)
        .render_report(&mut out, error)
        .expect("rendering into a String cannot fail");
    out
}

/// Loads `text` as `manifest.yaml`, expecting problems.
pub(super) fn problems(text: &str) -> ManifestError {
    problems_with(text, &LoadOptions::default())
}

/// Loads `text` as `manifest.yaml` with `options`, expecting problems.
pub(super) fn problems_with(text: &str, options: &LoadOptions) -> ManifestError {
    match load_str("manifest.yaml", text, options) {
        Ok(state) => panic!("expected problems, got {} users", state.users.len()),
        Err(error) => error,
    }
}

/// Loads `text` as `manifest.yaml`, expecting no problem.
pub(super) fn valid(text: &str) -> DesiredState {
    match load_str("manifest.yaml", text, &LoadOptions::default()) {
        Ok(state) => state,
        Err(error) => panic!("expected a valid manifest:\n{}", render(&error)),
    }
}

/// Snapshots the rendered diagnostic of a manifest under `src/manifest/snapshots/<name>.snap`.
macro_rules! assert_diagnostic {
    ($name:expr, $error:expr) => {{
        let rendered = $crate::manifest::tests::render(&$error);
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, rendered);
        });
    }};
}
pub(super) use assert_diagnostic;
