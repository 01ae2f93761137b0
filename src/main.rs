//! The `masctl` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    masctl::cli::main().into()
}
