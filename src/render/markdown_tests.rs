//! The Markdown renderer: bounded size, counts first, escaping.

use chrono::{TimeZone, Utc};
use ulid::Ulid;

use super::*;
use crate::model::state::{ActualState, ActualUser};
use crate::model::{EmailAddress, UserId, UserState, Username};
use crate::plan::emergency::{
    EmergencyChange, EmergencyFinding, EmergencyObject, EmergencyRecord, EmergencyValue, Verdict,
};
use crate::plan::{Change, Fingerprint, NewToken, NewUser, UserRef};

fn new_user(name: &str, emails: usize) -> Change {
    Change::CreateUser(NewUser {
        username: name.to_owned(),
        admin: false,
        state: UserState::Active,
        emails: (0..emails)
            .map(|i| EmailAddress::new_unchecked(format!("{name}.{i}@example.org")))
            .collect(),
        password: None,
        upstream: Vec::new(),
        display_name: None,
    })
}

fn plan(changes: Vec<Change>, notes: Vec<String>) -> Plan {
    Plan {
        changes,
        notes,
        basis: Fingerprint("0123456789abcdef".repeat(4)),
        managed_objects: 0,
    }
}

fn existing(name: &str, id: u128) -> ActualUser {
    ActualUser {
        id: UserId(Ulid(id)),
        username: Username::from_database(name.to_owned()),
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        locked_at: None,
        deactivated_at: None,
        can_request_admin: false,
        emails: Vec::new(),
        password: None,
        upstream_links: Vec::new(),
    }
}

#[test]
fn a_twenty_thousand_change_plan_stays_under_the_limit() {
    let mut actual = ActualState::default();
    let mut changes = Vec::new();
    for i in 0..10_000 {
        changes.push(new_user(&format!("user{i:05}"), 0));
    }
    for i in 0..5_000_u128 {
        let user = existing(&format!("old{i:05}"), i + 1);
        changes.push(Change::LockUser {
            user: UserRef {
                id: user.id,
                username: user.username.to_string(),
            },
        });
        actual.users.push(user);
    }
    for i in 0..5_000 {
        changes.push(Change::CreateToken(NewToken {
            token: format!("token-{i}"),
            usage_limit: Some(1),
            expires_at: None,
            revoked: false,
        }));
    }
    let notes = (0..1_000).map(|i| format!("note {i}")).collect();
    let plan = plan(changes, notes);
    assert_eq!(plan.changes.len(), 20_000);
    let text = render(&plan, &actual, &EmergencyReport::default(), &[]);
    assert!(text.chars().count() <= MAX_CHARS, "{}", text.len());
    assert!(text.len() <= MAX_CHARS);
    // Counts come first, before any folded detail.
    let table = text.find("| 15000 | 0 | 5000 | 0 | 0 |").expect("counts");
    assert!(table < text.find("<details>").expect("details"));
    assert!(text
        .starts_with("### masctl plan\n\n**Plan: 15000 to create, 0 to change, 5000 to lock.**"));
    let shown = text.matches("<details><summary><code>").count();
    let hidden: usize = text
        .split("… and ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the hidden count");
    assert!(shown > 50, "{shown}");
    assert_eq!(shown + hidden, 20_000);
    assert!(text.contains("Notes (1000)"));
}

#[test]
fn one_huge_object_is_cut_not_dropped() {
    let plan = plan(vec![new_user("alice", 5_000)], Vec::new());
    let text = render(
        &plan,
        &ActualState::default(),
        &EmergencyReport::default(),
        &[],
    );
    assert!(text.len() < MAX_PART + 2_000, "{}", text.len());
    assert!(text.contains("user alice"));
    assert!(text.contains("cut to stay within the comment size limit"));
    assert!(!text.contains("more object"));
}

#[test]
fn names_are_escaped_where_they_land() {
    let token = "<b>@admins`x`#1";
    let change = Change::CreateToken(NewToken {
        token: token.to_owned(),
        usage_limit: None,
        expires_at: None,
        revoked: false,
    });
    let record = EmergencyRecord {
        id: Ulid(1),
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 3, 12, 0).unwrap(),
        change: EmergencyChange {
            command: "manage lock-user".to_owned(),
            object: EmergencyObject::User {
                id: UserId(Ulid(2)),
                username: "bob".to_owned(),
            },
            value: EmergencyValue::State {
                state: UserState::Locked,
            },
        },
    };
    let report = EmergencyReport {
        findings: vec![EmergencyFinding {
            record,
            verdict: Verdict::Reverts,
        }],
    };
    let warnings =
        vec!["guard max_locks refused the plan: it locks 3 users, the limit is 1".to_owned()];
    let text = render(
        &plan(
            vec![change],
            vec!["a note about <i>@someone</i>".to_owned()],
        ),
        &ActualState::default(),
        &report,
        &warnings,
    );
    insta::assert_snapshot!(text);
}
