//! The only place that writes to stdout and stderr.
//!
//! Data (plans, JSON, schemas) goes to stdout; diagnostics, warnings and progress to stderr.
//! Colour follows `NO_COLOR`, `CLICOLOR_FORCE` and whether the stream is a terminal (anstream).

#![expect(
    clippy::print_stderr,
    reason = "this module is the only writer (stdout goes through anstream)"
)]

use std::io::Write;

use crate::exit::Exit;

/// Prints data to stdout, ignoring a closed pipe (`masctl plan | head` is not an error).
pub fn stdout(text: &str) {
    let mut out = anstream::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Prints a line to stderr.
pub fn stderr_line(text: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{text}");
}

/// Prints a warning line to stderr.
pub fn warning(text: &str) {
    stderr_line(&format!("warning: {text}"));
}

/// Prints a miette report to stderr.
pub fn report(report: &miette::Report) {
    eprintln!("{report:?}");
}

/// Prints a clap error (or help/version text) and returns its exit code.
#[must_use]
pub fn clap_error(error: &clap::Error) -> Exit {
    let _ = error.print();
    if error.use_stderr() {
        Exit::Usage
    } else {
        Exit::Success
    }
}
