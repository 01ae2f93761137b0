//! The plan for machines: a stable, versioned JSON document.
//!
//! ```json
//! { "format_version": 1, "summary": {"create": 1, "change": 0, "lock": 0, "deactivate": 0, "revoke": 0},
//!   "changes": [{"type": "create_user", "username": "alice", …}], "notes": [], "basis": "<sha256>" }
//! ```
//! `changes[].type` is one of the snake_case names of [`crate::plan::Change`]'s variants. Adding a
//! field is not a breaking change; renaming or removing one bumps `format_version`.
//!
//! When emergency changes are open, `emergencies` lists them, each with its `verdict`
//! (`reverts`, `adopted`, `superseded` or `uncovered`), and `plan_id` names a saved plan.

use serde::Serialize;

use crate::plan::emergency::{EmergencyFinding, EmergencyReport};
use crate::plan::{Change, Plan, Summary};

/// The current version of the JSON format.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    summary: Summary,
    changes: &'a [Change],
    notes: &'a [String],
    basis: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<bool>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    emergencies: &'a [EmergencyFinding],
    #[serde(skip_serializing_if = "Option::is_none")]
    plan_id: Option<String>,
}

/// Renders a plan (`applied: None`) or the result of an apply (`applied: Some(..)`).
#[must_use]
pub fn render(plan: &Plan, applied: Option<bool>) -> String {
    render_with(plan, applied, &EmergencyReport::default(), None)
}

/// Renders like [`render`], with the open emergency records and a saved plan's id.
#[must_use]
pub fn render_with(
    plan: &Plan,
    applied: Option<bool>,
    emergencies: &EmergencyReport,
    plan_id: Option<ulid::Ulid>,
) -> String {
    let document = Document {
        format_version: FORMAT_VERSION,
        summary: plan.summary(),
        changes: &plan.changes,
        notes: &plan.notes,
        basis: &plan.basis.0,
        applied,
        emergencies: &emergencies.findings,
        plan_id: plan_id.map(|id| id.to_string()),
    };
    // A plan holds only strings, numbers and lists: serialising it cannot fail.
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
