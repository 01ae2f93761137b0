//! The one table of masctl's exit codes (SPEC §1). `main` maps every outcome through it, and
//! `--help` prints [`EXIT_CODES_HELP`].

use std::process::ExitCode;

/// How a masctl run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success, or nothing to do.
    Success,
    /// 1: an error (invalid manifest, database unreachable, apply rolled back, …).
    Error,
    /// 2: the command line was wrong (clap's own code, as mas-cli).
    Usage,
    /// 3: `plan --detailed-exitcode` found changes.
    ChangesPending,
    /// 4: a safety guard refused the apply.
    GuardRefused,
    /// 5: the database changed since the plan was made.
    StalePlan,
    /// 6: another apply held the lock past `--lock-timeout`.
    LockTimeout,
}

impl Exit {
    /// Returns the numeric process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Error => 1,
            Self::Usage => 2,
            Self::ChangesPending => 3,
            Self::GuardRefused => 4,
            Self::StalePlan => 5,
            Self::LockTimeout => 6,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The exit-code table as printed at the end of `masctl --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success, or nothing to do
  1  error
  2  usage error
  3  changes pending (plan --detailed-exitcode)
  4  refused by a safety guard
  5  stale plan: the database changed since the plan was made
  6  another apply held the lock past --lock-timeout";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code() {
        for exit in [
            Exit::Success,
            Exit::Error,
            Exit::Usage,
            Exit::ChangesPending,
            Exit::GuardRefused,
            Exit::StalePlan,
            Exit::LockTimeout,
        ] {
            assert!(
                EXIT_CODES_HELP.contains(&format!("  {}  ", exit.code())),
                "{exit:?}"
            );
        }
    }
}
