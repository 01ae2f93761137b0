//! Unit tests of the one-off planners: pure functions from a snapshot to a plan, so each case
//! builds an [`ActualState`] in memory and checks the changes, the notes and the basis.

use chrono::{TimeZone, Utc};
use clap::CommandFactory;
use ulid::Ulid;

use super::*;
use crate::model::state::{ActualEmail, ActualProvider, ActualToken};
use crate::model::{EmailAddress, ProviderId, UserId, Username};
use crate::plan::{NewToken, ALL_USERS_KEY};
use crate::store::SessionCounts;

fn user(name: &str, n: u128) -> ActualUser {
    ActualUser {
        id: UserId(Ulid(n)),
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

fn state(users: Vec<ActualUser>) -> ActualState {
    ActualState {
        users,
        ..ActualState::default()
    }
}

fn email(value: &str) -> EmailAddress {
    EmailAddress::new_unchecked(value.to_owned())
}

#[test]
fn users_are_found_as_mas_finds_them() {
    let actual = state(vec![user("Alice", 1)]);
    assert_eq!(
        find_user(&actual, "alice").unwrap().username.as_str(),
        "Alice"
    );
    let actual = state(vec![user("Alice", 1), user("alice", 2)]);
    assert_eq!(find_user(&actual, "alice").unwrap().id, UserId(Ulid(2)));
    assert_eq!(
        find_user(&actual, "ALICE").unwrap_err(),
        ManageError::UserNotFound {
            username: "ALICE".to_owned(),
            candidates: vec!["Alice".to_owned(), "alice".to_owned()],
        }
    );
    let error = find_user(&actual, "bob").unwrap_err();
    assert_eq!(error.to_string(), "User not found: bob");
}

#[test]
fn lock_keeps_an_existing_lock_and_deactivates_through_the_worker() {
    let mut alice = user("alice", 1);
    let plan = lock_user::plan(&state(vec![alice.clone()]), "alice", false).unwrap();
    let target = user_ref(&alice);
    assert_eq!(
        plan.changes,
        [
            Change::LockUser {
                user: target.clone()
            },
            Change::ProvisionUser {
                user: target.clone(),
                set_display_name: None
            },
        ]
    );
    alice.locked_at = Some(alice.created_at);
    let plan = lock_user::plan(&state(vec![alice]), "alice", true).unwrap();
    assert_eq!(
        plan.changes,
        [
            Change::ProvisionUser {
                user: target.clone(),
                set_display_name: None
            },
            Change::ScheduleDeactivation { user: target },
        ]
    );
    assert!(
        plan.notes[0].starts_with("alice is already locked"),
        "{:?}",
        plan.notes
    );
    assert_eq!(plan.summary().deactivate, 1);
}

#[test]
fn unlock_with_reactivate_never_unlocks() {
    let mut alice = user("alice", 1);
    alice.locked_at = Some(alice.created_at);
    alice.deactivated_at = Some(alice.created_at);
    let target = user_ref(&alice);
    let actual = state(vec![alice]);
    let plan = unlock_user::plan(&actual, "alice", true).unwrap();
    assert_eq!(
        plan.changes,
        [
            Change::ProvisionUser {
                user: target.clone(),
                set_display_name: None
            },
            Change::ScheduleReactivation {
                user: target.clone()
            },
        ]
    );
    let plan = unlock_user::plan(&actual, "alice", false).unwrap();
    assert_eq!(plan.changes[0], Change::UnlockUser { user: target });
}

#[test]
fn the_basis_changes_with_the_users_rows() {
    let alice = user("alice", 1);
    let before = promote_admin::plan(&state(vec![alice.clone()]), "alice", true).unwrap();
    let mut changed = alice;
    changed.emails.push(ActualEmail {
        id: Ulid(9),
        email: email("a@example.org"),
    });
    let after = promote_admin::plan(&state(vec![changed]), "alice", true).unwrap();
    assert_eq!(before.changes, after.changes);
    assert_ne!(
        before.basis, after.basis,
        "a concurrent change must make the plan stale"
    );
}

#[test]
fn admin_flag_already_set_is_nothing_to_do() {
    let mut alice = user("alice", 1);
    alice.can_request_admin = true;
    let plan = promote_admin::plan(&state(vec![alice.clone()]), "alice", true).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.notes, ["alice is already an admin"]);
    let plan = promote_admin::plan(&state(vec![alice.clone()]), "alice", false).unwrap();
    assert_eq!(
        plan.changes,
        [Change::SetAdmin {
            user: user_ref(&alice),
            admin: false
        }]
    );
}

#[test]
fn add_email_skips_duplicates_and_deactivated_users_provisioning() {
    let mut alice = user("alice", 1);
    alice.emails.push(ActualEmail {
        id: Ulid(5),
        email: email("Alice@Example.org"),
    });
    let plan = add_email::plan(
        &state(vec![alice.clone()]),
        "alice",
        &email("alice@example.ORG"),
    )
    .unwrap();
    assert!(plan.is_empty());
    assert_eq!(
        plan.notes,
        ["alice already has this email: Alice@Example.org"]
    );

    alice.deactivated_at = Some(alice.created_at);
    let plan = add_email::plan(
        &state(vec![alice.clone()]),
        "alice",
        &email("new@example.org"),
    )
    .unwrap();
    assert_eq!(
        plan.changes,
        [Change::AddEmail {
            user: user_ref(&alice),
            email: email("new@example.org")
        }]
    );
    assert!(add_email::parse_email("no-at-sign").is_err());
    assert_eq!(add_email::parse_email("A@b.c").unwrap(), email("A@b.c"));
}

#[test]
fn kill_sessions_carries_the_counts_for_display_only() {
    let alice = user("alice", 1);
    let counts = SessionCounts {
        compat: 1,
        oauth2: 2,
        browser: 3,
    };
    let plan = kill_sessions::plan(&state(vec![alice.clone()]), "alice", counts).unwrap();
    let none = kill_sessions::plan(
        &state(vec![alice.clone()]),
        "alice",
        SessionCounts::default(),
    )
    .unwrap();
    assert_eq!(plan.basis, none.basis, "sessions are not part of the basis");
    assert_eq!(
        plan.changes,
        [
            Change::FinishSessions {
                user: user_ref(&alice),
                compat: 1,
                oauth2: 2,
                browser: 3
            },
            Change::SyncDevices {
                user: user_ref(&alice)
            },
        ]
    );
}

#[test]
fn provision_all_users_counts_every_user() {
    let actual = state(vec![user("a", 1), user("b", 2), user("c", 3)]);
    let plan = provision_all_users::plan(&actual).unwrap();
    assert_eq!(plan.changes, [Change::ProvisionAllUsers { count: 3 }]);
    assert_eq!(plan.changes[0].object_key(), ALL_USERS_KEY);
    assert_eq!(plan.summary().change, 3);
    let fewer = provision_all_users::plan(&state(vec![user("a", 1), user("b", 2)])).unwrap();
    assert_ne!(plan.basis, fewer.basis);
    assert!(provision_all_users::plan(&state(Vec::new()))
        .unwrap()
        .is_empty());
}

#[test]
fn registration_tokens_must_be_new_and_fit() {
    let spec = issue_user_registration_token::TokenSpec {
        token: "Welcome".to_owned(),
        usage_limit: None,
        expires_at: None,
    };
    let plan = issue_user_registration_token::plan(&ActualState::default(), &spec).unwrap();
    assert_eq!(
        plan.changes,
        [Change::CreateToken(NewToken {
            token: "Welcome".to_owned(),
            usage_limit: None,
            expires_at: None,
            revoked: false
        })]
    );
    let existing = ActualState {
        registration_tokens: vec![ActualToken {
            id: Ulid(1),
            token: "Welcome".to_owned(),
            usage_limit: None,
            expires_at: None,
            revoked_at: None,
        }],
        ..ActualState::default()
    };
    assert_eq!(
        issue_user_registration_token::plan(&existing, &spec).unwrap_err(),
        ManageError::TokenExists {
            token: "Welcome".to_owned()
        }
    );
    let huge = issue_user_registration_token::TokenSpec {
        usage_limit: Some(u32::MAX),
        ..spec
    };
    assert_eq!(
        issue_user_registration_token::plan(&ActualState::default(), &huge).unwrap_err(),
        ManageError::UsageLimitTooLarge { limit: u32::MAX }
    );
}

#[test]
fn registration_checks_clashes_and_providers() {
    let enabled = ProviderId(Ulid(100));
    let disabled = ProviderId(Ulid(101));
    let mut actual = state(vec![user("Bob", 1)]);
    actual.providers = vec![
        ActualProvider {
            id: enabled,
            name: Some("SSO".to_owned()),
            enabled: true,
        },
        ActualProvider {
            id: disabled,
            name: None,
            enabled: false,
        },
    ];
    let registration =
        |username: &str, upstream: Vec<(ProviderId, String)>| register_user::Registration {
            username: username.to_owned(),
            admin: false,
            emails: Vec::new(),
            password: false,
            upstream,
            display_name: None,
        };
    assert_eq!(
        register_user::plan(&actual, &registration("bob", Vec::new())).unwrap_err(),
        ManageError::UserExists {
            existing: "Bob".to_owned()
        }
    );
    let error = register_user::plan(
        &actual,
        &registration("carol", vec![(ProviderId(Ulid(7)), "x".into())]),
    )
    .unwrap_err();
    assert!(
        matches!(error, ManageError::UnknownProvider { ref enabled, .. } if enabled.len() == 1),
        "{error:?}"
    );
    let error = register_user::plan(
        &actual,
        &registration("carol", vec![(disabled, "x".into())]),
    )
    .unwrap_err();
    assert!(
        matches!(error, ManageError::DisabledProvider { .. }),
        "{error:?}"
    );
    let plan =
        register_user::plan(&actual, &registration("carol", vec![(enabled, "x".into())])).unwrap();
    assert_eq!(
        plan.notes.len(),
        1,
        "no email; the link is a way to log in: {:?}",
        plan.notes
    );
    assert_eq!(plan.summary().create, 1);
}

#[test]
fn usernames_are_normalised_as_mas_does() {
    assert_eq!(
        register_user::normalise("@@alice:example.com:8448").unwrap(),
        "alice"
    );
    assert_eq!(register_user::normalise("Bob").unwrap(), "Bob");
    assert!(register_user::normalise("@").is_err());
    assert!(register_user::normalise(":x").is_err());
}

#[test]
fn manifest_edits_render_as_yaml() {
    let edit = hint::ManifestEdit::user("alice", vec![("state", "locked".into())]);
    assert_eq!(
        edit.render(),
        "To keep this after the next `masctl apply`, change the manifest:\n  users:\n    alice:\n      state: locked\n"
    );
    let edit = hint::ManifestEdit::token(vec![("token", "yes".into())]).when("(caveat)");
    assert_eq!(
        edit.render(),
        "To keep this after the next `masctl apply`, change the manifest:\n  registration_tokens:\n  - token: yes\n(caveat)\n"
    );
}

#[test]
fn the_command_line_accepts_both_argument_shapes() {
    let parse = |args: &[&str]| {
        crate::cli::Cli::command()
            .try_get_matches_from(args)
            .map(|_| ())
    };
    assert!(parse(&[
        "masctl",
        "manage",
        "issue-compatibility-token",
        "alice",
        "DEV"
    ])
    .is_ok());
    assert!(parse(&[
        "masctl",
        "manage",
        "issue-compatibility-token",
        "alice",
        "--device-id",
        "DEV"
    ])
    .is_ok());
    assert!(parse(&[
        "masctl",
        "manage",
        "register-user",
        "--username",
        "alice",
        "-a"
    ])
    .is_ok());
    assert!(parse(&["masctl", "manage", "register-user", "alice", "-a", "-A"]).is_err());
    assert!(parse(&["masctl", "manage", "list-admins"]).is_ok());
    assert!(parse(&["masctl", "manage", "kill-sessions", "alice", "--dry-run"]).is_ok());
    assert!(parse(&["masctl", "manage", "--dry-run", "lock-user", "alice"]).is_ok());
    assert!(parse(&["masctl", "manage", "register-user", "a", "-m", "bad:x"]).is_err());
}
