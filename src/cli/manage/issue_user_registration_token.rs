//! `masctl manage issue-user-registration-token [--token T] [--usage-limit N | --unlimited]
//! [--expires-in SECONDS]` (mas-facts §4.7).
//!
//! One deliberate difference from mas-cli (SPEC §6): without `--usage-limit` the token is
//! unlimited, as MAS's admin API and the seed docs have it; mas-cli defaults to 1.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::hint::ManifestEdit;
use super::{ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::GlobalArgs;
use crate::cli::output;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::plan::{Basis, Change, NewToken, Plan};
use crate::snapshot::{Scope, TokenScope, UserScope};

/// Create a user registration token and print it
///
/// Without --usage-limit the token can be used any number of times (as MAS's admin API
/// does); mas-cli instead defaults to a single use. --unlimited is accepted for
/// compatibility with mas-cli.
#[derive(Debug, Args)]
pub(crate) struct IssueUserRegistrationTokenArgs {
    /// The token to create, used verbatim (default: 12 random letters and digits)
    #[arg(long, value_name = "TOKEN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    token: Option<String>,
    /// How many registrations the token allows
    #[arg(long, value_name = "N", group = "limit")]
    usage_limit: Option<u32>,
    /// Allow any number of registrations (the default)
    #[arg(long, group = "limit")]
    unlimited: bool,
    /// Make the token expire this many seconds from now
    #[arg(long, value_name = "SECONDS")]
    expires_in: Option<u32>,
}

/// What the token will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenSpec {
    /// The token string.
    pub(crate) token: String,
    /// `None` = unlimited.
    pub(crate) usage_limit: Option<u32>,
    /// `None` = never.
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// Returns the plan that creates the token `spec`.
///
/// # Errors
/// [`ManageError::TokenExists`] when the token string is taken (tokens are case-sensitive);
/// [`ManageError::UsageLimitTooLarge`] when the limit does not fit MAS's column.
pub(crate) fn plan(actual: &ActualState, spec: &TokenSpec) -> Result<Plan, ManageError> {
    if actual
        .registration_tokens
        .iter()
        .any(|existing| existing.token == spec.token)
    {
        return Err(ManageError::TokenExists {
            token: spec.token.clone(),
        });
    }
    if let Some(limit) = spec
        .usage_limit
        .filter(|limit| i32::try_from(*limit).is_err())
    {
        return Err(ManageError::UsageLimitTooLarge { limit });
    }
    let mut basis = Basis::new();
    basis.add_absent("token", &spec.token);
    let change = Change::CreateToken(NewToken {
        token: spec.token.clone(),
        usage_limit: spec.usage_limit,
        expires_at: spec.expires_at,
        revoked: false,
    });
    Ok(Plan {
        changes: vec![change],
        notes: Vec::new(),
        basis: basis.finish(),
        managed_objects: 1,
    })
}

/// Runs the command.
pub(crate) async fn run(
    args: &IssueUserRegistrationTokenArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let mut session = Session::open(global, shared, "issue-user-registration-token").await?;
    let env = session.context.env.clone();
    let spec = TokenSpec {
        token: args
            .token
            .clone()
            .unwrap_or_else(|| crate::tokens::registration_token(&mut *env.rng())),
        usage_limit: if args.unlimited {
            None
        } else {
            args.usage_limit
        },
        expires_at: args
            .expires_in
            .map(|seconds| env.now() + Duration::seconds(i64::from(seconds))),
    };
    let scope = Scope {
        users: UserScope::Named(Vec::new()),
        registration_tokens: TokenScope::Named(vec![spec.token.clone()]),
    };
    let actual = session.read(&scope).await?;
    let built = plan(&actual, &spec)?;
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, &spec))
        .await?;
    if let Outcome::Applied(_) = outcome {
        output::stdout(&format!("{}\n", spec.token));
        edit(&spec).print();
    }
    Ok(outcome.exit())
}

/// Returns the manifest entry that keeps the token.
fn edit(spec: &TokenSpec) -> ManifestEdit {
    let mut fields = vec![("token", spec.token.as_str().into())];
    if let Some(limit) = spec.usage_limit {
        fields.push(("usage_limit", limit.into()));
    }
    if let Some(expires_at) = spec.expires_at {
        fields.push((
            "expires_at",
            expires_at
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                .into(),
        ));
    }
    ManifestEdit::token(fields).when(
        "(needed only with `prune: { registration_tokens: revoke }`; otherwise apply leaves it alone)",
    )
}
