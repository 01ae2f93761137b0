//! How open emergency records read next to a plan: one sentence per record that says what the
//! emergency command did, what this plan does to it, and how to keep it.

use std::fmt::Write;

use crate::plan::emergency::{EmergencyFinding, EmergencyReport, Verdict};

/// Returns one sentence for `finding`.
#[must_use]
pub fn describe(finding: &EmergencyFinding) -> String {
    let record = &finding.record;
    let hint = record.change.value.manifest_hint(&record.change.object);
    match finding.verdict {
        Verdict::Reverts => format!(
            "{} (emergency change): this plan reverts it, and apply refuses without --revert-emergency; to keep it, {hint}",
            record.describe()
        ),
        Verdict::Adopted => format!(
            "{}: the manifest now says the same; apply closes this emergency record",
            record.describe()
        ),
        Verdict::Superseded => format!(
            "{}: the database no longer holds this (changed again since); apply closes this emergency record",
            record.describe()
        ),
        Verdict::Uncovered => format!(
            "{}: the manifest does not manage this, so it stays; to make it permanent, {hint}",
            record.describe()
        ),
    }
}

/// Returns the sign that marks a finding: `!` for a revert, `=` for the rest.
#[must_use]
pub fn sign(finding: &EmergencyFinding) -> char {
    if finding.verdict == Verdict::Reverts {
        '!'
    } else {
        '='
    }
}

/// Returns the findings in display order: reverts first, then record order.
#[must_use]
pub fn ordered(report: &EmergencyReport) -> Vec<&EmergencyFinding> {
    let mut findings: Vec<&EmergencyFinding> = report.findings.iter().collect();
    findings.sort_by_key(|finding| finding.verdict != Verdict::Reverts);
    findings
}

/// Renders the section that follows a human plan; empty when there are no open records.
#[must_use]
pub fn human(report: &EmergencyReport) -> String {
    if report.findings.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nEmergency changes (made with `masctl manage`, recorded in masctl.emergency_changes):\n",
    );
    for finding in ordered(report) {
        let _ = writeln!(out, "  {} {}", sign(finding), describe(finding));
    }
    out
}
