//! `masctl manage issue-compatibility-token USER [DEVICE_ID] [--device-id ID]
//! [--yes-i-want-to-grant-synapse-admin-privileges]` (mas-facts §4.6).
//!
//! As mas-cli: the device is created on the homeserver first. If that fails, a `sync-devices`
//! job is scheduled and committed (so the homeserver's device list is put right later) and the
//! command exits 1 naming the endpoint. Otherwise a compat session and a never-expiring
//! `mct_…` access token are stored, and the token is printed on stdout. The token is generated
//! by the applier while it writes: it is never part of the plan.

use clap::Args;

use super::flow::{OneOff, Outcome, Session};
use super::{find_user, homeserver, user_plan, user_ref, user_scope, ManageError, Shared};
use crate::apply::PreparedPasswords;
use crate::cli::context::{Context, GlobalArgs};
use crate::cli::output;
use crate::exit::Exit;
use crate::homeserver::HomeserverError;
use crate::model::state::ActualState;
use crate::plan::{Change, Plan};

/// Issue a compatibility access token (for legacy Matrix clients and bots) and print it
///
/// The device is created on the homeserver first; if that fails, MAS's sync-devices job is
/// scheduled and the command fails. The token never expires; kill-sessions ends it. Needs the
/// `matrix` section of MAS's config.
#[derive(Debug, Args)]
pub(crate) struct IssueCompatibilityTokenArgs {
    /// The user's name (the Matrix ID's localpart), matched case-insensitively
    #[arg(value_name = "USERNAME")]
    username: String,
    /// The device id, used verbatim (default: 10 random letters and digits)
    #[arg(value_name = "DEVICE_ID", conflicts_with = "device_id_flag")]
    device_id: Option<String>,
    /// The device id, as the MAS docs spell it (same as DEVICE_ID)
    #[arg(long = "device-id", id = "device_id_flag", value_name = "ID")]
    device_id_flag: Option<String>,
    /// Give the session Synapse admin privileges
    #[arg(long)]
    yes_i_want_to_grant_synapse_admin_privileges: bool,
}

/// Returns the plan that issues a token for `username` on `device_id`.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn plan(
    actual: &ActualState,
    username: &str,
    device_id: &str,
    synapse_admin: bool,
) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    let change = Change::IssueCompatToken {
        user: user_ref(user),
        device_id: device_id.to_owned(),
        synapse_admin,
    };
    let note =
        format!("device {device_id} is created on the homeserver before anything is written");
    Ok(user_plan(user, vec![change], vec![note]))
}

/// Returns the fallback plan after the homeserver refused the device: one `sync-devices` job.
///
/// # Errors
/// [`ManageError::UserNotFound`].
pub(crate) fn sync_plan(actual: &ActualState, username: &str) -> Result<Plan, ManageError> {
    let user = find_user(actual, username)?;
    Ok(user_plan(
        user,
        vec![Change::SyncDevices {
            user: user_ref(user),
        }],
        Vec::new(),
    ))
}

/// Runs the command.
pub(crate) async fn run(
    args: &IssueCompatibilityTokenArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let context = Context::load(global)?;
    let client = homeserver(&context.config, "issue-compatibility-token")?;
    let mut session = Session::connect(context, shared, "issue-compatibility-token").await?;
    let username = args.username.as_str();
    let scope = user_scope(username);
    let actual = session.read(&scope).await?;
    let localpart = find_user(&actual, username)?.username.to_string();
    let device_id = match args.device_id.as_ref().or(args.device_id_flag.as_ref()) {
        Some(given) => given.clone(),
        None => crate::tokens::device_id(&mut *session.context.env.rng()),
    };
    let admin = args.yes_i_want_to_grant_synapse_admin_privileges;
    let built = plan(&actual, username, &device_id, admin)?;
    let one_off = OneOff {
        plan: built,
        actual,
        scope,
        passwords: PreparedPasswords::default(),
    };
    if !shared.dry_run {
        if let Err(error) = client.upsert_device(&localpart, &device_id).await {
            return device_failed(&mut session, one_off, username, &error).await;
        }
    }
    let outcome = session
        .execute(&one_off, |fresh| plan(fresh, username, &device_id, admin))
        .await?;
    if let Outcome::Applied(report) = &outcome {
        for issued in &report.effects.compat_tokens {
            output::stdout(&format!("{}\n", issued.token.expose()));
            output::stderr_line(&format!(
                "Compatibility token issued for device {} of {localpart}; it never expires.",
                issued.device_id
            ));
        }
        if admin {
            output::warning("the session has Synapse admin privileges");
        }
    }
    Ok(outcome.exit())
}

/// Schedules `sync-devices` after the homeserver refused the device, and fails as mas-cli does.
async fn device_failed(
    session: &mut Session,
    one_off: OneOff,
    username: &str,
    error: &HomeserverError,
) -> miette::Result<Exit> {
    output::stderr_line("Could not create the device on the homeserver, aborting.");
    let fallback = OneOff {
        plan: sync_plan(&one_off.actual, username)?,
        ..one_off
    };
    let scheduled = match session
        .execute(&fallback, |fresh| sync_plan(fresh, username))
        .await
    {
        Ok(Outcome::Applied(_)) => {
            "a sync-devices job was scheduled so that MAS puts the homeserver's device list right"
        }
        Ok(_) => "the sync-devices job was not scheduled (see above)",
        Err(report) => {
            output::report(&report);
            "scheduling the sync-devices job failed too (see above)"
        }
    };
    Err(miette::miette!(
        code = "masctl::manage::homeserver",
        help = format!("{scheduled}; no token was issued"),
        "Could not create the device on the homeserver: {error}"
    ))
}
