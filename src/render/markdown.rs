//! The plan as a merge-request comment: counts first, then what needs a reviewer's attention
//! (guard refusals, emergency changes), then one folded `<details>` block per object, then the
//! notes. Never longer than [`MAX_CHARS`] however large the plan: objects that do not fit are
//! counted in a final "… and N more objects" line, and any single part is capped too.
//!
//! Everything that comes from the database or the manifest is escaped for where it lands:
//! HTML in `<summary>`, Markdown (and `@` mentions, `#` references) in text, and code fences
//! are made longer than any run of backticks in their content.

use std::fmt::Write;

use super::emergency;
use super::human::{job_of, summary_line};
use super::view::{object_diffs, ObjectDiff, ObjectKind};
use crate::model::state::ActualState;
use crate::plan::emergency::EmergencyReport;
use crate::plan::{Plan, Summary};

/// The most characters the rendered comment may have (GitHub's comment limit is 65 536).
pub const MAX_CHARS: usize = 60_000;

/// The most characters of one object's block, of the warnings, and of the notes.
const MAX_PART: usize = 8_000;

/// Room kept for the "… and N more objects" line and the footer.
const RESERVE: usize = 400;

/// Renders `plan` (computed from `actual`) with the emergency findings and any warnings (for
/// instance a guard that will refuse the apply), in at most [`MAX_CHARS`] characters.
#[must_use]
pub fn render(
    plan: &Plan,
    actual: &ActualState,
    report: &EmergencyReport,
    warnings: &[String],
) -> String {
    let mut out = header(&plan.summary());
    out.push_str(&cap(&attention(report, warnings), MAX_PART));
    let notes = cap(&notes(&plan.notes), MAX_PART);
    let footer = format!(
        "\n<sub>masctl {} · digest of the rows planned against: <code>{}</code></sub>\n",
        env!("CARGO_PKG_VERSION"),
        escape_html(&plan.basis.0.chars().take(12).collect::<String>()),
    );
    let budget = MAX_CHARS.saturating_sub(out.len() + notes.len() + footer.len() + RESERVE);
    let objects = object_diffs(plan, actual);
    let mut body = String::new();
    let mut shown = 0;
    for object in &objects {
        let block = cap(&block(object), MAX_PART);
        if body.len() + block.len() > budget {
            break;
        }
        body.push_str(&block);
        shown += 1;
    }
    out.push_str(&body);
    let hidden = objects.len() - shown;
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\n… and {hidden} more object{} not shown here: run `masctl plan` for the full plan.\n",
            if hidden == 1 { "" } else { "s" }
        );
    }
    out.push_str(&notes);
    out.push_str(&footer);
    // Every part above is bounded, so this never cuts; it only guarantees the contract.
    cap(&out, MAX_CHARS)
}

fn header(summary: &Summary) -> String {
    let Summary {
        create,
        change,
        lock,
        deactivate,
        revoke,
    } = *summary;
    format!(
        "### masctl plan\n\n**{}**\n\n| create | change | lock | deactivate | revoke |\n|---:|---:|---:|---:|---:|\n| {create} | {change} | {lock} | {deactivate} | {revoke} |\n\n",
        summary_line(summary)
    )
}

/// Guard refusals and emergency changes, which a reviewer must see without unfolding anything.
fn attention(report: &EmergencyReport, warnings: &[String]) -> String {
    let mut out = String::new();
    if !warnings.is_empty() {
        out.push_str("> [!CAUTION]\n");
        for warning in warnings {
            let _ = writeln!(out, "> {}", escape_text(warning));
        }
        out.push('\n');
    }
    if !report.findings.is_empty() {
        let kind = if report.has_reverts() {
            "WARNING"
        } else {
            "NOTE"
        };
        let _ = writeln!(
            out,
            "> [!{kind}]\n> **Emergency changes** made with `masctl manage`:\n>"
        );
        for finding in emergency::ordered(report) {
            let _ = writeln!(out, "> - {}", escape_text(&emergency::describe(finding)));
        }
        out.push('\n');
    }
    out
}

fn block(object: &ObjectDiff<'_>) -> String {
    let sign = match object.kind {
        ObjectKind::Create => '+',
        ObjectKind::Change => '~',
        ObjectKind::Remove => '-',
    };
    let mut diff = String::new();
    for line in similar::TextDiff::from_lines(&object.before, &object.after).iter_all_changes() {
        let mark = match line.tag() {
            similar::ChangeTag::Equal => ' ',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Delete => '-',
        };
        let _ = writeln!(diff, "{mark} {}", line.value().trim_end_matches('\n'));
    }
    for job in object.changes.iter().filter_map(|change| job_of(change)) {
        let _ = writeln!(diff, "  # job: {job}");
    }
    let diff = cap(&diff, MAX_PART - 200);
    let fence = "`".repeat(longest_backtick_run(&diff).max(2) + 1);
    format!(
        "<details><summary><code>{sign}</code> {}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n",
        escape_html(&object.title)
    )
}

fn notes(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut out = format!("\n<details><summary>Notes ({})</summary>\n\n", notes.len());
    for note in notes {
        let _ = writeln!(out, "- {}", escape_text(note));
    }
    out.push_str("\n</details>\n");
    out
}

/// Cuts `text` to at most `max` bytes (hence characters) at a line boundary when it can,
/// saying how much was left out.
fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let marker = "\n… (cut to stay within the comment size limit)\n";
    let mut end = max.saturating_sub(marker.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').map_or(end, |newline| newline + 1);
    format!("{}{marker}", &text[..cut])
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Keeps `@name` from notifying someone and `#12` from linking an issue.
            '@' => out.push_str("@&#8203;"),
            '#' => out.push_str("&#35;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown paragraph or list item (one line: newlines become spaces).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("@&#8203;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
