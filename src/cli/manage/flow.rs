//! What every writing `manage` verb does once it has a plan: print it, stop on `--dry-run`,
//! apply it through [`crate::apply::apply`] (lock, fresh re-read, re-plan, compare, write,
//! commit), and report how it went.
//!
//! The verbs decide what to change; this file decides nothing about MAS. It owns the
//! connection of one `manage` run and maps the applier's outcomes to exit codes: stale → 5,
//! lock timeout → 6, any other failure → 1.

use miette::IntoDiagnostic;
use sqlx::PgConnection;

use super::{ManageError, Shared};
use crate::apply::{self, ApplyError, ApplyOptions, ApplyReport, LockError, PreparedPasswords};
use crate::cli::context::{Context, GlobalArgs};
use crate::cli::output;
use crate::exit::Exit;
use crate::model::state::ActualState;
use crate::plan::{Fingerprint, Plan, PlanError};
use crate::render;
use crate::snapshot::{self, Scope};

/// One `manage` run: the loaded config, the clock/RNG, and a connection that passed the
/// schema guard.
pub(crate) struct Session {
    pub(crate) context: Context,
    pub(crate) conn: PgConnection,
    pub(crate) shared: Shared,
    /// `manage <verb>`, as recorded with the emergency changes this run makes.
    command: String,
}

/// How running a one-off plan ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `--dry-run`: the plan was printed, nothing written.
    DryRun,
    /// The plan was empty: nothing to write.
    NothingToDo,
    /// The plan was applied and committed.
    Applied(ApplyReport),
    /// The applier refused (stale plan, lock timeout); the reason was printed.
    Refused(Exit),
    /// The operator answered "no" at the confirmation: nothing written.
    Declined,
}

impl Outcome {
    /// Returns the exit code of a run that ends here without more output.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Self::DryRun | Self::NothingToDo | Self::Applied(_) | Self::Declined => Exit::Success,
            Self::Refused(exit) => *exit,
        }
    }
}

/// A one-off plan with what it was computed from.
pub(crate) struct OneOff {
    /// The plan.
    pub(crate) plan: Plan,
    /// The snapshot it was computed from (the "before" side of the printed diff).
    pub(crate) actual: ActualState,
    /// What the applier re-reads inside its transaction.
    pub(crate) scope: Scope,
    /// Password hashes the plan writes, computed beforehand.
    pub(crate) passwords: PreparedPasswords,
}

impl Session {
    /// Loads MAS's config and connects as `masctl manage <command>`, checking the schema first.
    pub(crate) async fn open(
        global: &GlobalArgs,
        shared: Shared,
        command: &str,
    ) -> miette::Result<Self> {
        Self::connect(Context::load(global)?, shared, command).await
    }

    /// Connects with an already loaded config (for verbs that check it before connecting).
    pub(crate) async fn connect(
        context: Context,
        shared: Shared,
        command: &str,
    ) -> miette::Result<Self> {
        let command = format!("manage {command}");
        let conn = context.connect(&command).await?;
        Ok(Self {
            context,
            conn,
            shared,
            command,
        })
    }

    /// Reads a snapshot of `scope` (outside any transaction: the applier re-reads under its lock).
    pub(crate) async fn read(&mut self, scope: &Scope) -> miette::Result<ActualState> {
        snapshot::read(&mut self.conn, scope)
            .await
            .into_diagnostic()
    }

    /// Prints the plan, then (unless `--dry-run`) applies it with `replan` as the re-plan step.
    ///
    /// `replan` must be the pure function that built `one_off.plan`, with the same inputs
    /// captured: inside the transaction it runs on a fresh snapshot, and any difference in the
    /// rows read or in the changes makes the plan stale (nothing written, exit 5).
    pub(crate) async fn execute(
        &mut self,
        one_off: &OneOff,
        replan: impl Fn(&ActualState) -> Result<Plan, ManageError>,
    ) -> miette::Result<Outcome> {
        self.execute_confirmed(one_off, replan, || Ok(true)).await
    }

    /// Like [`Session::execute`], asking `confirm` after the plan is printed and before
    /// anything is written (never on a dry run).
    pub(crate) async fn execute_confirmed(
        &mut self,
        one_off: &OneOff,
        replan: impl Fn(&ActualState) -> Result<Plan, ManageError>,
        confirm: impl FnOnce() -> miette::Result<bool>,
    ) -> miette::Result<Outcome> {
        let OneOff {
            plan,
            actual,
            scope,
            passwords,
        } = one_off;
        if plan.is_empty() {
            for note in &plan.notes {
                output::stderr_line(&format!("note: {note}"));
            }
            output::stderr_line("Nothing to do.");
            return Ok(Outcome::NothingToDo);
        }
        let rendered = render::human::render(plan, actual, true);
        if self.shared.dry_run {
            output::stdout(&rendered);
            output::stderr_line("Dry run: nothing was written.");
            return Ok(Outcome::DryRun);
        }
        output::stderr_line(rendered.trim_end());
        if !confirm()? {
            output::stderr_line("Aborted: nothing was written.");
            return Ok(Outcome::Declined);
        }
        let options = ApplyOptions {
            lock_timeout: self.shared.lock_timeout,
        };
        let timeout = options.lock_timeout.as_secs();
        // Every manifest-managed field this command changes is recorded as an emergency
        // change, so that the next GitOps apply does not silently revert it.
        let books = apply::Bookkeeping {
            saved_plan: None,
            emergency: apply::EmergencyPolicy::Record {
                command: &self.command,
            },
        };
        let result = apply::apply_with(
            &mut self.conn,
            &self.context.env,
            plan,
            passwords,
            scope,
            &options,
            &books,
            |fresh| Ok::<_, PlanError>(replan(fresh).unwrap_or_else(|error| unplannable(&error))),
            |holder| {
                let who = holder.map_or_else(|| "another session".to_owned(), ToString::to_string);
                output::stderr_line(&format!(
                    "waiting for the masctl lock held by {who} (up to {timeout}s)…"
                ));
            },
            &mut |_| {},
        )
        .await;
        match result {
            Ok(report) => {
                output::stderr_line(&format!(
                    "Applied: {}",
                    render::human::summary_line(&report.summary).trim_start_matches("Plan: ")
                ));
                Ok(Outcome::Applied(report))
            }
            Err(error @ ApplyError::Stale { .. }) => {
                output::report(&miette::Report::msg(error.to_string()));
                Ok(Outcome::Refused(Exit::StalePlan))
            }
            Err(ApplyError::Lock(error @ LockError::Timeout { .. })) => {
                output::report(&miette::Report::msg(error.to_string()));
                Ok(Outcome::Refused(Exit::LockTimeout))
            }
            Err(error) => Err(miette::Report::msg(error.to_string())),
        }
    }
}

/// Returns a plan that can never equal a real one, for a fresh snapshot the verb cannot plan
/// against any more (the user vanished, the token appeared): the applier then reports the
/// plan as stale and writes nothing.
fn unplannable(error: &ManageError) -> Plan {
    Plan {
        changes: Vec::new(),
        notes: vec![error.to_string()],
        basis: Fingerprint(format!("unplannable: {error}")),
        managed_objects: 0,
    }
}
