//! `masctl manage register-user [USERNAME] …` (mas-facts §4.12): create a user with its
//! password, emails, upstream links and admin flag, and schedule its `provision-user` job.
//!
//! Checks, in mas-cli's order where it has one: password complexity (before the username),
//! username normalisation, a case-insensitive clash, the homeserver's availability check. Two
//! deliberate differences: an unknown or disabled upstream provider is a clear error (mas-cli
//! panics), and the same address given twice is stored once.

use clap::Args;
use miette::IntoDiagnostic;
use ulid::Ulid;

use super::add_email::parse_email;
use super::flow::{OneOff, Outcome, Session};
use super::hint::{strings, ManifestEdit};
use super::set_password::{check_complexity, parse_secret};
use super::{homeserver, register_user_prompt as prompt, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::{Context, GlobalArgs};
use crate::cli::output;
use crate::exit::Exit;
use crate::homeserver::HomeserverClient;
use crate::model::state::{ActualProvider, ActualState};
use crate::model::{fold_case, EmailAddress, ProviderId, Secret, UserState};
use crate::password::PasswordManager;
use crate::plan::{Basis, Change, NewUser, PasswordWrite, PasswordWriteSource, Plan};
use crate::snapshot::{Scope, TokenScope, UserScope};

/// Register a user, then schedule MAS's provision-user job for the homeserver
///
/// Without --yes, asks for a missing username, password and email address, shows the plan
/// and asks for confirmation; without --yes and without a terminal it refuses. Needs the
/// `matrix` section of MAS's config (the homeserver must accept the username).
#[derive(Debug, Args)]
pub(crate) struct RegisterUserArgs {
    /// The username (the Matrix ID's localpart); leading `@` and anything from `:` are dropped
    #[arg(value_name = "USERNAME", conflicts_with = "username_flag")]
    username: Option<String>,
    /// The username, as the MAS docs spell it (same as USERNAME)
    #[arg(long = "username", id = "username_flag", value_name = "USERNAME")]
    username_flag: Option<String>,
    /// The user's password
    #[arg(short = 'p', long, value_name = "PASSWORD", value_parser = parse_secret)]
    password: Option<Secret>,
    /// An email address for the user (repeatable)
    #[arg(short = 'e', long = "email", value_name = "EMAIL", value_parser = parse_email)]
    emails: Vec<EmailAddress>,
    /// Link an upstream OAuth account: the provider's ULID, `:`, the subject (repeatable)
    #[arg(short = 'm', long = "upstream-provider-mapping", value_name = "PROVIDER_ULID:SUBJECT", value_parser = parse_mapping)]
    mappings: Vec<(ProviderId, String)>,
    /// Allow the user to request admin privileges
    #[arg(short = 'a', long, conflicts_with = "no_admin")]
    admin: bool,
    /// Do not allow the user to request admin privileges (the default)
    #[arg(short = 'A', long)]
    no_admin: bool,
    /// The display name to set on the homeserver
    #[arg(short = 'd', long, value_name = "NAME")]
    display_name: Option<String>,
    /// Register without asking
    #[arg(short = 'y', long)]
    yes: bool,
    /// Accept a password below the config's minimum_complexity
    #[arg(long)]
    ignore_password_complexity: bool,
}

/// Parses `PROVIDER_ULID:SUBJECT`, split at the first `:` (subjects may contain more).
fn parse_mapping(value: &str) -> Result<(ProviderId, String), String> {
    let (provider, subject) = value
        .split_once(':')
        .ok_or_else(|| "expected PROVIDER_ULID:SUBJECT".to_owned())?;
    let provider: Ulid = provider
        .parse()
        .map_err(|error| format!("`{provider}` is not a ULID: {error}"))?;
    Ok((ProviderId(provider), subject.to_owned()))
}

/// Returns `raw` as mas-cli normalises it: leading `@`s removed, cut at the first `:`.
///
/// # Errors
/// When nothing is left.
pub(crate) fn normalise(raw: &str) -> miette::Result<String> {
    let stripped = raw.trim_start_matches('@');
    let localpart = stripped.split(':').next().unwrap_or_default();
    if localpart.is_empty() {
        return Err(miette::miette!(
            code = "masctl::manage::empty_username",
            "Username cannot be empty"
        ));
    }
    Ok(localpart.to_owned())
}

/// The user to register, as the command line (and the prompts) describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registration {
    /// The normalised username.
    pub(crate) username: String,
    /// `can_request_admin`.
    pub(crate) admin: bool,
    /// Addresses, deduplicated case-insensitively.
    pub(crate) emails: Vec<EmailAddress>,
    /// Whether a password is set.
    pub(crate) password: bool,
    /// Upstream links.
    pub(crate) upstream: Vec<(ProviderId, String)>,
    /// For the provision job.
    pub(crate) display_name: Option<String>,
}

/// Returns the plan that registers `registration`.
///
/// # Errors
/// [`ManageError::UserExists`] for a case-insensitive clash; [`ManageError::UnknownProvider`]
/// or [`ManageError::DisabledProvider`] for a mapping to a provider MAS would not use.
pub(crate) fn plan(actual: &ActualState, registration: &Registration) -> Result<Plan, ManageError> {
    let folded = fold_case(&registration.username);
    if let Some(existing) = actual
        .users
        .iter()
        .find(|user| user.username.folded() == folded)
    {
        return Err(ManageError::UserExists {
            existing: existing.username.to_string(),
        });
    }
    let mut basis = Basis::new();
    basis.add_absent("user", &folded);
    check_providers(actual, &registration.upstream, &mut basis)?;
    let notes = warnings(registration);
    let change = Change::CreateUser(NewUser {
        username: registration.username.clone(),
        admin: registration.admin,
        state: UserState::Active,
        emails: registration.emails.clone(),
        password: registration.password.then_some(PasswordWrite {
            source: PasswordWriteSource::CommandLine,
        }),
        upstream: registration.upstream.clone(),
        display_name: registration.display_name.clone(),
    });
    Ok(Plan {
        changes: vec![change],
        notes,
        basis: basis.finish(),
        managed_objects: 1,
    })
}

/// Checks that every mapping names an enabled provider, and adds those providers to `basis`.
fn check_providers(
    actual: &ActualState,
    upstream: &[(ProviderId, String)],
    basis: &mut Basis,
) -> Result<(), ManageError> {
    let label = |provider: &ActualProvider| {
        let name = provider.name.as_deref().unwrap_or("unnamed");
        format!("{name} ({})", provider.id)
    };
    let enabled = || {
        let enabled = actual.providers.iter().filter(|provider| provider.enabled);
        enabled.map(label).collect()
    };
    for (id, _) in upstream {
        let Some(provider) = actual.providers.iter().find(|provider| provider.id == *id) else {
            return Err(ManageError::UnknownProvider {
                provider: id.to_string(),
                enabled: enabled(),
            });
        };
        if !provider.enabled {
            return Err(ManageError::DisabledProvider {
                provider: label(provider),
                enabled: enabled(),
            });
        }
        basis.add("provider", provider);
    }
    Ok(())
}

/// Returns mas-cli's warnings about a user without email or without a way to log in.
fn warnings(registration: &Registration) -> Vec<String> {
    let mut notes = Vec::new();
    if registration.emails.is_empty() {
        notes.push("no email address: the user cannot receive notifications or recover the account by email".to_owned());
    }
    if !registration.password && registration.upstream.is_empty() {
        notes.push(
            "neither a password nor an upstream link: the user will not be able to log in"
                .to_owned(),
        );
    }
    notes
}

/// Runs the command.
pub(crate) async fn run(
    args: &RegisterUserArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let context = Context::load(global)?;
    let client = homeserver(&context.config, "register-user")?;
    let manager = context.password_manager()?;
    let mut password = args.password.clone();
    // mas-cli scores the password before it looks at the username.
    if let (Some(password), false) = (&password, args.ignore_password_complexity) {
        check_complexity(&manager, password)?;
    }
    let ask = !args.yes && !shared.dry_run && prompt::is_interactive();
    let username = normalise(&raw_username(args, ask)?)?;
    let mut session = Session::connect(context, shared, "register-user").await?;
    let scope = Scope {
        users: UserScope::Named(vec![username.clone()]),
        registration_tokens: TokenScope::Named(Vec::new()),
    };
    let actual = session.read(&scope).await?;
    let mut registration = Registration {
        username: username.clone(),
        admin: args.admin,
        emails: dedup(&args.emails),
        password: password.is_some(),
        upstream: args.mappings.clone(),
        display_name: args.display_name.clone(),
    };
    // Clashes and providers first: no homeserver request for a registration that cannot be.
    plan(&actual, &registration)?;
    check_available(&client, &username).await?;
    if ask {
        ask_missing(
            &mut registration,
            &mut password,
            &manager,
            args.ignore_password_complexity,
        )?;
    }
    let one_off = OneOff {
        plan: plan(&actual, &registration)?,
        actual,
        scope,
        passwords: hash(&manager, &session, &username, password.as_ref())?,
    };
    let outcome = session
        .execute_confirmed(
            &one_off,
            |fresh| plan(fresh, &registration),
            || ask_confirmation(args.yes),
        )
        .await?;
    if let Outcome::Applied(_) = outcome {
        output::stderr_line(&format!("Registered {}.", client.mxid(&username)));
        edit(&registration).print();
    }
    Ok(outcome.exit())
}

/// Hashes the password, if any, with the highest scheme, before the transaction opens.
fn hash(
    manager: &PasswordManager,
    session: &Session,
    username: &str,
    password: Option<&Secret>,
) -> miette::Result<PreparedPasswords> {
    let mut passwords = PreparedPasswords::default();
    if let Some(password) = password {
        let hashed = manager
            .hash(password, &mut *session.context.env.rng())
            .into_diagnostic()?;
        passwords.insert(username.to_owned(), hashed);
    }
    Ok(passwords)
}

/// Returns the username as given, or asked for on the terminal.
fn raw_username(args: &RegisterUserArgs, ask: bool) -> miette::Result<String> {
    match args.username.as_ref().or(args.username_flag.as_ref()) {
        Some(raw) => Ok(raw.clone()),
        None if ask => prompt::username(),
        None => Err(miette::miette!(
            code = "masctl::manage::username_required",
            help = "give it as USERNAME or --username (required with --yes or without a terminal)",
            "no username given"
        )),
    }
}

/// Refuses a username the homeserver will not register, with mas-cli's message.
async fn check_available(client: &HomeserverClient, username: &str) -> miette::Result<()> {
    if client
        .is_localpart_available(username)
        .await
        .into_diagnostic()?
    {
        return Ok(());
    }
    Err(miette::miette!(
        code = "masctl::manage::username_unavailable",
        "Username not available on homeserver: {username}"
    ))
}

/// Asks for the password and email address the command line did not give.
fn ask_missing(
    registration: &mut Registration,
    password: &mut Option<Secret>,
    manager: &PasswordManager,
    ignore_complexity: bool,
) -> miette::Result<()> {
    if password.is_none() && registration.upstream.is_empty() {
        *password = prompt::password()?;
        if let (Some(password), false) = (password.as_ref(), ignore_complexity) {
            check_complexity(manager, password)?;
        }
        registration.password = password.is_some();
    }
    if registration.emails.is_empty() {
        registration.emails.extend(prompt::email()?);
    }
    Ok(())
}

/// The final question; without `--yes` and without a terminal, a refusal.
fn ask_confirmation(yes: bool) -> miette::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !prompt::is_interactive() {
        return Err(miette::miette!(
            code = "masctl::manage::not_a_terminal",
            help = "review the plan above, then run again with --yes",
            "refusing to register without --yes: stdin is not a terminal"
        ));
    }
    prompt::confirm("Register this user?")
}

/// Returns `emails` without case-insensitive repeats, first spelling kept.
fn dedup(emails: &[EmailAddress]) -> Vec<EmailAddress> {
    let mut seen = std::collections::HashSet::new();
    emails
        .iter()
        .filter(|email| seen.insert(email.folded()))
        .cloned()
        .collect()
}

/// Returns the manifest entry that keeps the user if the manifest prunes unlisted users.
fn edit(registration: &Registration) -> ManifestEdit {
    let mut fields = Vec::new();
    if registration.admin {
        fields.push(("admin", true.into()));
    }
    if !registration.emails.is_empty() {
        fields.push((
            "emails",
            strings(registration.emails.iter().map(EmailAddress::as_str)),
        ));
    }
    if let Some(name) = &registration.display_name {
        fields.push(("display_name", name.as_str().into()));
    }
    if !registration.upstream.is_empty() {
        let links = registration.upstream.iter().map(|(provider, subject)| {
            let mut link = serde_yaml::Mapping::new();
            link.insert("provider".into(), provider.to_string().into());
            link.insert("subject".into(), subject.as_str().into());
            serde_yaml::Value::Mapping(link)
        });
        fields.push(("upstream", serde_yaml::Value::Sequence(links.collect())));
    }
    ManifestEdit::user(&registration.username, fields).when(
        "(needed only with `prune: { users: lock | deactivate }`; the password stays out of the manifest)",
    )
}
