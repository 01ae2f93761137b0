//! `masctl manage list-admin-users` (alias `list-admins`, mas-facts §4.5): the usernames of
//! users with `can_request_admin`, one per line on stdout, read in pages of [`PAGE_SIZE`]
//! ordered by `user_id` (keyset pagination, as mas-cli pages them). Nothing is written.

use clap::Args;
use miette::IntoDiagnostic;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::flow::Session;
use super::Shared;
use crate::cli::context::GlobalArgs;
use crate::cli::output;
use crate::exit::Exit;

/// Rows fetched per statement.
pub(crate) const PAGE_SIZE: i64 = 1000;

/// List the users allowed to request admin privileges, one username per line
#[derive(Debug, Args)]
pub(crate) struct ListAdminUsersArgs {}

/// Runs the command.
pub(crate) async fn run(
    args: &ListAdminUsersArgs,
    global: &GlobalArgs,
    shared: Shared,
) -> miette::Result<Exit> {
    let ListAdminUsersArgs {} = args;
    let mut session = Session::open(global, shared, "list-admin-users").await?;
    let count = list(&mut session.conn, |usernames| {
        let mut text = usernames.join("\n");
        text.push('\n');
        output::stdout(&text);
    })
    .await
    .into_diagnostic()?;
    output::stderr_line(&format!(
        "{count} admin user{}",
        if count == 1 { "" } else { "s" }
    ));
    Ok(Exit::Success)
}

/// Streams the admin usernames page by page to `sink` and returns how many there were.
///
/// One read-only REPEATABLE READ transaction: every page sees the same snapshot, so a user
/// promoted or demoted meanwhile is neither listed twice nor skipped.
///
/// # Errors
/// The database's.
pub(crate) async fn list(
    conn: &mut PgConnection,
    mut sink: impl FnMut(&[String]),
) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut after: Option<Uuid> = None;
    let mut count = 0_u64;
    loop {
        let page: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT user_id, username FROM users \
             WHERE can_request_admin AND ($1::uuid IS NULL OR user_id > $1) \
             ORDER BY user_id LIMIT $2",
        )
        .bind(after)
        .bind(PAGE_SIZE)
        .fetch_all(&mut *tx)
        .await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        let usernames: Vec<String> = page.into_iter().map(|(_, username)| username).collect();
        count += u64::try_from(usernames.len()).unwrap_or(0);
        sink(&usernames);
        if i64::try_from(usernames.len()).unwrap_or(0) < PAGE_SIZE {
            break;
        }
    }
    // Read-only: nothing to keep, and a rollback is the cheapest way to end it.
    tx.rollback().await?;
    Ok(count)
}
