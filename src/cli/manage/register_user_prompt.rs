//! The interactive side of `register-user`: asking for what the command line left out, and
//! the final confirmation, on the terminal.
//!
//! Questions go to stderr through [`output`]; answers are read from the terminal with
//! `console` (passwords without echo). Without a terminal nothing is asked: the caller refuses
//! instead, since a script that forgot `--yes` must not hang or register by accident.

use std::io::IsTerminal;

use console::Term;
use miette::IntoDiagnostic;

use super::add_email::parse_email;
use crate::cli::output;
use crate::model::{EmailAddress, Secret};

/// How many times a question is asked again after an invalid answer.
const ATTEMPTS: usize = 3;

/// Returns whether questions can be asked (stdin and stderr are terminals).
pub(crate) fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks for a username until a non-empty one is given.
pub(crate) fn username() -> miette::Result<String> {
    for _ in 0..ATTEMPTS {
        let answer = line("Username (the Matrix ID's localpart):")?;
        if !answer.trim().is_empty() {
            return Ok(answer.trim().to_owned());
        }
    }
    Err(miette::miette!("no username given"))
}

/// Asks for an optional password (empty = none), twice, without echo.
pub(crate) fn password() -> miette::Result<Option<Secret>> {
    for _ in 0..ATTEMPTS {
        output::stderr_line("Password (input hidden; leave empty to register without one):");
        let first = Secret::new(Term::stderr().read_secure_line().into_diagnostic()?);
        if first.expose().is_empty() {
            return Ok(None);
        }
        output::stderr_line("Repeat the password:");
        let second = Secret::new(Term::stderr().read_secure_line().into_diagnostic()?);
        if first == second {
            return Ok(Some(first));
        }
        output::warning("the passwords differ; try again");
    }
    Err(miette::miette!("the passwords did not match"))
}

/// Asks for an optional email address (empty = none), validated like `--email`.
pub(crate) fn email() -> miette::Result<Option<EmailAddress>> {
    for _ in 0..ATTEMPTS {
        let answer = line("Email address (leave empty for none):")?;
        let answer = answer.trim();
        if answer.is_empty() {
            return Ok(None);
        }
        match parse_email(answer) {
            Ok(email) => return Ok(Some(email)),
            Err(reason) => output::warning(&reason),
        }
    }
    Err(miette::miette!("no valid email address given"))
}

/// Asks a yes/no question; only `y` or `yes` (any case) count as yes.
pub(crate) fn confirm(question: &str) -> miette::Result<bool> {
    let answer = line(&format!("{question} [y/N]"))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// Prints `question` and reads one line from the terminal.
fn line(question: &str) -> miette::Result<String> {
    output::stderr_line(question);
    Term::stderr().read_line().into_diagnostic()
}
