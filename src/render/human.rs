//! The plan as people read it: one block per object (`+` create, `~` change, `-` lock,
//! deactivate or revoke) with a unified diff of its YAML, the MAS jobs it schedules, the notes,
//! and a one-line summary. Colour is optional and only ever decorates; the text alone is complete.

use std::borrow::Cow;
use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::view::{object_diffs, ObjectKind};
use crate::model::state::ActualState;
use crate::plan::{Change, Plan, Summary};

/// Renders `plan` against the snapshot it was computed from.
#[must_use]
pub fn render(plan: &Plan, actual: &ActualState, color: bool) -> String {
    let paint = Painter { color };
    let mut out = String::new();
    for object in object_diffs(plan, actual) {
        let (sign, style) = match object.kind {
            ObjectKind::Create => ('+', AnsiColor::Green),
            ObjectKind::Change => ('~', AnsiColor::Yellow),
            ObjectKind::Remove => ('-', AnsiColor::Red),
        };
        let _ = writeln!(
            out,
            "{}",
            paint.bold(&format!("{sign} {}", visible(&object.title)), style)
        );
        let diff = TextDiff::from_lines(&object.before, &object.after);
        for line in diff.iter_all_changes() {
            let text = visible(line.value().trim_end_matches('\n'));
            let rendered = match line.tag() {
                ChangeTag::Equal => format!("      {text}"),
                ChangeTag::Insert => paint.fg(&format!("    + {text}"), AnsiColor::Green),
                ChangeTag::Delete => paint.fg(&format!("    - {text}"), AnsiColor::Red),
            };
            let _ = writeln!(out, "{rendered}");
        }
        for effect in object.changes.iter().filter_map(|change| effect_of(change)) {
            let _ = writeln!(
                out,
                "{}",
                paint.fg(&format!("    {effect}"), AnsiColor::Yellow)
            );
        }
        for job in object.changes.iter().filter_map(|change| job_of(change)) {
            let _ = writeln!(out, "{}", paint.dim(&format!("    job: {}", visible(&job))));
        }
        out.push('\n');
    }
    for note in &plan.notes {
        let _ = writeln!(out, "{}", paint.dim(&format!("note: {}", visible(note))));
    }
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&summary_line(&plan.summary()), AnsiColor::White)
    );
    out
}

/// Returns `text` with control characters and invisible or bidirectional formatting
/// characters written as `\u{…}` escapes; other text, any script included, is kept as is.
#[must_use]
pub fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{00AD}'
                    | '\u{061C}'
                    | '\u{180E}'
                    | '\u{200B}'..='\u{200F}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{FEFF}'
            )
    };
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Returns the summary line, e.g. `Plan: 3 to create, 2 to change, 1 to deactivate.`
#[must_use]
pub fn summary_line(summary: &Summary) -> String {
    let Summary {
        create,
        change,
        lock,
        deactivate,
        revoke,
    } = *summary;
    if create + change + lock + deactivate + revoke == 0 {
        return "No changes. The database matches the manifest.".to_owned();
    }
    let mut parts = vec![format!("{create} to create"), format!("{change} to change")];
    for (count, verb) in [
        (lock, "lock"),
        (deactivate, "deactivate"),
        (revoke, "revoke"),
    ] {
        if count > 0 {
            parts.push(format!("{count} to {verb}"));
        }
    }
    format!("Plan: {}.", parts.join(", "))
}

/// Names the MAS queue job a change schedules, if any.
pub(crate) fn job_of(change: &Change) -> Option<String> {
    match change {
        // A user created deactivated gets no job (nothing to provision on the homeserver).
        Change::CreateUser(new) if new.state == crate::model::UserState::Deactivated => None,
        Change::CreateUser(new) => Some(match &new.display_name {
            Some(name) => format!("provision-user (set display name {name:?})"),
            None => "provision-user".to_owned(),
        }),
        Change::ProvisionUser {
            set_display_name: Some(name),
            ..
        } => Some(format!("provision-user (set display name {name:?})")),
        Change::ProvisionUser {
            set_display_name: None,
            ..
        } => Some("provision-user".to_owned()),
        Change::DeactivateUser { .. } => Some("deactivate-user".to_owned()),
        Change::ScheduleDeactivation { .. } => Some(
            "deactivate-user (hs_erase: false; MAS's worker sets deactivated_at, ends the \
             sessions and deletes the emails)"
                .to_owned(),
        ),
        Change::ReactivateUser { .. } => Some("reactivate-user".to_owned()),
        Change::ScheduleReactivation { .. } => {
            Some("reactivate-user (MAS's worker clears deactivated_at; locked_at stays)".to_owned())
        }
        Change::SyncDevices { .. } => Some("sync-devices".to_owned()),
        Change::ProvisionAllUsers { count } => Some(format!(
            "provision-user × {count} (every user, locked and deactivated ones included)"
        )),
        _ => None,
    }
}

/// Describes what a change does that the object's YAML cannot show.
fn effect_of(change: &Change) -> Option<String> {
    match change {
        Change::FinishSessions {
            compat,
            oauth2,
            browser,
            ..
        } => Some(format!(
            "end active sessions: {compat} compat, {oauth2} OAuth 2.0, {browser} browser"
        )),
        Change::IssueCompatToken {
            device_id,
            synapse_admin,
            ..
        } => Some(format!(
            "issue a compatibility access token for device {device_id} (never expires{})",
            if *synapse_admin {
                ", grants Synapse admin"
            } else {
                ""
            }
        )),
        _ => None,
    }
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn fg(&self, text: &str, color: AnsiColor) -> String {
        self.paint(text, Style::new().fg_color(Some(color.into())))
    }

    fn bold(&self, text: &str, color: AnsiColor) -> String {
        self.paint(text, Style::new().bold().fg_color(Some(color.into())))
    }

    fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn escapes_what_a_terminal_would_hide_or_obey() {
        assert_eq!(visible("alice@example.org"), "alice@example.org");
        assert_eq!(visible("Алиса 😀 élève"), "Алиса 😀 élève");
        assert_eq!(visible("\u{1b}[2Jx"), "\\u{001b}[2Jx");
        assert_eq!(
            visible("alice@\u{202e}gro.elpmaxe"),
            "alice@\\u{202e}gro.elpmaxe"
        );
        assert_eq!(visible("al\u{200b}ice\u{0}"), "al\\u{200b}ice\\u{0000}");
    }
}
