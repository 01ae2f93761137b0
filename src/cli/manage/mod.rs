//! `masctl manage …`: every `mas-cli manage` subcommand, each as a one-off plan run through the
//! same applier as `masctl apply` (same advisory lock, same fresh re-read and staleness check,
//! same MAS-exact writers).
//!
//! Each verb lives in its own file with its `…Args` and `run`, and a pure function that builds
//! its [`Plan`] from a snapshot; that function is also the re-plan step the applier runs inside
//! its transaction. This file holds the clap enum, the dispatch and what the verbs share (user
//! lookup, errors, the homeserver client); `flow.rs` prints, applies and reports; `hint.rs`
//! prints the manifest edit that keeps an emergency change after the next `masctl apply`.

mod add_email;
mod demote_admin;
mod flow;
mod hint;
mod issue_compatibility_token;
mod issue_user_registration_token;
mod kill_sessions;
mod list_admin_users;
mod lock_user;
mod promote_admin;
mod provision_all_users;
mod register_user;
mod register_user_prompt;
mod set_password;
mod unlock_user;
mod verify_email;

use std::time::Duration;

use clap::{Args, Subcommand};
use miette::Diagnostic;
use thiserror::Error;

use super::context::GlobalArgs;
use crate::config::{HomeserverKind as ConfigKind, MasConfig};
use crate::exit::Exit;
use crate::homeserver::{HomeserverClient, HomeserverKind};
use crate::model::fold_case;
use crate::model::state::{ActualState, ActualUser};
use crate::plan::{Basis, Change, Plan, UserRef};
use crate::snapshot::{Scope, TokenScope, UserScope};

/// How long one request to the homeserver may take (connecting included).
const HOMESERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// Run one emergency operation, as `mas-cli manage` does, through masctl's applier
///
/// Each subcommand builds a one-off plan, prints it, and executes it in one transaction under
/// the same lock as `masctl apply`; if the database changes between the plan and the write,
/// nothing is written (exit 5). With --dry-run the plan is printed to stdout and nothing is
/// written; otherwise the plan goes to stderr, so that stdout carries only what a command
/// outputs (a token, a list of usernames). After a change the manifest would revert, the
/// manifest edit that keeps it is printed to stderr.
#[derive(Debug, Args)]
pub(crate) struct ManageArgs {
    #[command(subcommand)]
    command: ManageCommand,
    /// Print the plan and write nothing
    #[arg(long, global = true)]
    dry_run: bool,
    /// Give up after waiting this long for another masctl run's lock
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    lock_timeout: u64,
}

/// The `manage` subcommands, named as mas-cli names them.
#[derive(Debug, Subcommand)]
enum ManageCommand {
    AddEmail(add_email::AddEmailArgs),
    VerifyEmail(verify_email::VerifyEmailArgs),
    PromoteAdmin(promote_admin::PromoteAdminArgs),
    DemoteAdmin(demote_admin::DemoteAdminArgs),
    #[command(alias = "list-admins")]
    ListAdminUsers(list_admin_users::ListAdminUsersArgs),
    SetPassword(set_password::SetPasswordArgs),
    IssueCompatibilityToken(issue_compatibility_token::IssueCompatibilityTokenArgs),
    IssueUserRegistrationToken(issue_user_registration_token::IssueUserRegistrationTokenArgs),
    ProvisionAllUsers(provision_all_users::ProvisionAllUsersArgs),
    KillSessions(kill_sessions::KillSessionsArgs),
    LockUser(lock_user::LockUserArgs),
    UnlockUser(unlock_user::UnlockUserArgs),
    RegisterUser(register_user::RegisterUserArgs),
}

/// Options every `manage` subcommand shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shared {
    /// Print the plan, write nothing.
    pub(crate) dry_run: bool,
    /// How long to wait for the masctl lock.
    pub(crate) lock_timeout: Duration,
}

/// Runs a `manage` subcommand.
///
/// # Errors
/// Returns the diagnostic to print for any failure that maps to exit code 1.
pub(crate) fn run(args: &ManageArgs, global: &GlobalArgs) -> miette::Result<Exit> {
    let shared = Shared {
        dry_run: args.dry_run,
        lock_timeout: Duration::from_secs(args.lock_timeout),
    };
    match &args.command {
        // Deprecated and inert in MAS: no config, no connection.
        ManageCommand::VerifyEmail(args) => Ok(verify_email::run(args)),
        ManageCommand::AddEmail(args) => super::block_on(add_email::run(args, global, shared)),
        ManageCommand::PromoteAdmin(args) => {
            super::block_on(promote_admin::run(args, global, shared))
        }
        ManageCommand::DemoteAdmin(args) => {
            super::block_on(demote_admin::run(args, global, shared))
        }
        ManageCommand::ListAdminUsers(args) => {
            super::block_on(list_admin_users::run(args, global, shared))
        }
        ManageCommand::SetPassword(args) => {
            super::block_on(set_password::run(args, global, shared))
        }
        ManageCommand::IssueCompatibilityToken(args) => {
            super::block_on(issue_compatibility_token::run(args, global, shared))
        }
        ManageCommand::IssueUserRegistrationToken(args) => {
            super::block_on(issue_user_registration_token::run(args, global, shared))
        }
        ManageCommand::ProvisionAllUsers(args) => {
            super::block_on(provision_all_users::run(args, global, shared))
        }
        ManageCommand::KillSessions(args) => {
            super::block_on(kill_sessions::run(args, global, shared))
        }
        ManageCommand::LockUser(args) => super::block_on(lock_user::run(args, global, shared)),
        ManageCommand::UnlockUser(args) => super::block_on(unlock_user::run(args, global, shared)),
        ManageCommand::RegisterUser(args) => {
            super::block_on(register_user::run(args, global, shared))
        }
    }
}

/// Why a one-off plan cannot be made. Messages follow mas-cli's where it has one.
#[derive(Debug, Error, Diagnostic, Clone, PartialEq, Eq)]
pub(crate) enum ManageError {
    /// No user has this name (case-insensitively), or several do and none is spelled exactly so.
    #[error("User not found: {username}")]
    #[diagnostic(code(masctl::manage::user_not_found), help("{}", not_found_help(.candidates)))]
    UserNotFound {
        /// The name asked for.
        username: String,
        /// Users whose names differ from it only in case.
        candidates: Vec<String>,
    },
    /// register-user: a user with this name exists (case-insensitively).
    #[error("User already exists: {existing}")]
    #[diagnostic(code(masctl::manage::user_exists))]
    UserExists {
        /// The stored spelling of the existing user.
        existing: String,
    },
    /// issue-user-registration-token: the token string is taken.
    #[error("Registration token already exists: {token}")]
    #[diagnostic(
        code(masctl::manage::token_exists),
        help("choose another --token, or omit it to generate one")
    )]
    TokenExists {
        /// The token.
        token: String,
    },
    /// A usage limit does not fit MAS's `integer` column.
    #[error(
        "usage limit {limit} is larger than {}, the most MAS can store",
        i32::MAX
    )]
    #[diagnostic(code(masctl::manage::usage_limit))]
    UsageLimitTooLarge {
        /// The limit asked for.
        limit: u32,
    },
    /// register-user: a mapping names a provider the database does not have.
    #[error("Unknown upstream OAuth provider {provider}")]
    #[diagnostic(code(masctl::manage::unknown_provider), help("{}", enabled_help(.enabled)))]
    UnknownProvider {
        /// The provider's ULID.
        provider: String,
        /// The enabled providers, as `<name> (<ULID>)`.
        enabled: Vec<String>,
    },
    /// register-user: a mapping names a provider that is disabled.
    #[error("Upstream OAuth provider {provider} is disabled")]
    #[diagnostic(code(masctl::manage::disabled_provider), help("{}", enabled_help(.enabled)))]
    DisabledProvider {
        /// The provider, as `<name> (<ULID>)`.
        provider: String,
        /// The enabled providers, as `<name> (<ULID>)`.
        enabled: Vec<String>,
    },
}

fn not_found_help(candidates: &[String]) -> String {
    if candidates.is_empty() {
        "usernames are matched case-insensitively; check the spelling".to_owned()
    } else {
        format!(
            "several users differ from it only in case ({}); spell one exactly",
            candidates.join(", ")
        )
    }
}

fn enabled_help(enabled: &[String]) -> String {
    if enabled.is_empty() {
        "no upstream OAuth provider is enabled in this MAS database".to_owned()
    } else {
        format!("enabled providers: {}", enabled.join(", "))
    }
}

/// Returns the scope of a snapshot that reads one user (all case-insensitive matches) and no
/// registration token.
fn user_scope(username: &str) -> Scope {
    Scope {
        users: UserScope::Named(vec![username.to_owned()]),
        registration_tokens: TokenScope::Named(Vec::new()),
    }
}

/// Finds a user the way MAS's `find_by_username` does: the only case-insensitive match, or
/// among several, the one spelled exactly as asked.
///
/// # Errors
/// [`ManageError::UserNotFound`].
fn find_user<'a>(actual: &'a ActualState, username: &str) -> Result<&'a ActualUser, ManageError> {
    let folded = fold_case(username);
    let matches: Vec<&ActualUser> = actual
        .users
        .iter()
        .filter(|user| user.username.folded() == folded)
        .collect();
    let found = match matches.as_slice() {
        [only] => Some(*only),
        several => several
            .iter()
            .find(|user| user.username.as_str() == username)
            .copied(),
    };
    found.ok_or_else(|| ManageError::UserNotFound {
        username: username.to_owned(),
        candidates: matches
            .iter()
            .map(|user| user.username.as_str().to_owned())
            .collect(),
    })
}

/// Returns the plan reference to an existing user.
fn user_ref(user: &ActualUser) -> UserRef {
    UserRef {
        id: user.id,
        username: user.username.as_str().to_owned(),
    }
}

/// Returns a plan about one existing user, whose basis is that user's rows: any concurrent
/// change to them makes the plan stale.
fn user_plan(user: &ActualUser, changes: Vec<Change>, notes: Vec<String>) -> Plan {
    let mut basis = Basis::new();
    basis.add("user", user);
    Plan {
        changes,
        notes,
        basis: basis.finish(),
        managed_objects: 1,
    }
}

/// Returns a client for the homeserver in MAS's `matrix` section, which `command` requires
/// (as mas-cli requires it for register-user and issue-compatibility-token).
///
/// # Errors
/// When the section is missing or its endpoint or secret are unusable.
fn homeserver(config: &MasConfig, command: &str) -> miette::Result<HomeserverClient> {
    let Some(matrix) = &config.matrix else {
        return Err(miette::miette!(
            code = "masctl::manage::matrix_missing",
            help = "add a `matrix` section (homeserver, endpoint, secret) to the config, \
                    or pass the config file MAS runs with (--config)",
            "`masctl manage {command}` needs the `matrix` section of MAS's config: \
             it talks to the homeserver"
        ));
    };
    let kind = match matrix.kind {
        ConfigKind::Synapse => HomeserverKind::Synapse,
        ConfigKind::SynapseModern => HomeserverKind::SynapseModern,
        ConfigKind::SynapseLegacy => HomeserverKind::SynapseLegacy,
        ConfigKind::SynapseReadOnly => HomeserverKind::SynapseReadOnly,
    };
    HomeserverClient::new(
        kind,
        matrix.homeserver.clone(),
        matrix.endpoint.as_str(),
        matrix.secret.clone(),
        HOMESERVER_TIMEOUT,
    )
    .map_err(|error| miette::Report::msg(error.to_string()))
}

#[cfg(test)]
mod tests;
