//! Planner tests without a database: a desired state is built in memory, `actual_from` derives
//! the matching database state (so "no change" is the default), and each test changes one thing.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use indexmap::IndexMap;
use ulid::Ulid;

use super::*;
use crate::model::state::*;
use crate::model::*;

fn origin() -> Origin {
    Origin {
        source: Arc::new(SourceFile {
            name: "users.yaml".into(),
            text: "users:\n  alice: {}\n".into(),
        }),
        span: (9, 5).into(),
    }
}

fn user() -> DesiredUser {
    DesiredUser {
        admin: false,
        state: UserState::Active,
        emails: None,
        password: None,
        password_policy: PasswordPolicy::Initial,
        display_name: None,
        upstream: None,
        origin: origin(),
    }
}

fn email(value: &str) -> EmailAddress {
    EmailAddress::new_unchecked(value.to_owned())
}

const PROVIDER: ProviderId = ProviderId(Ulid(0x0190_0000_0000_0000_0000_0000_0000_0001));

fn desired(users: Vec<(&str, DesiredUser)>) -> DesiredState {
    DesiredState {
        users: users
            .into_iter()
            .map(|(name, user)| (Username::new(name).unwrap(), user))
            .collect::<IndexMap<_, _>>(),
        ..DesiredState::default()
    }
}

/// Returns the database state in which `desired` is already true.
fn actual_from(desired: &DesiredState) -> ActualState {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let users = desired
        .users
        .iter()
        .enumerate()
        .map(|(index, (name, want))| ActualUser {
            id: UserId(Ulid(index as u128 + 1)),
            username: name.clone(),
            created_at: time,
            locked_at: (want.state == UserState::Locked).then_some(time),
            deactivated_at: (want.state == UserState::Deactivated).then_some(time),
            can_request_admin: want.admin,
            emails: want
                .emails
                .iter()
                .flatten()
                .enumerate()
                .map(|(n, e)| ActualEmail {
                    id: Ulid(1000 * (index as u128 + 1) + n as u128),
                    email: e.clone(),
                })
                .collect(),
            password: want.password.as_ref().map(|p| {
                Box::new(ActualPassword {
                    id: Ulid(5000 + index as u128),
                    hashed_password: match &p.source {
                        PasswordSource::Hash { hash, .. } => hash.clone(),
                        _ => Secret::new("$argon2id$other"),
                    },
                    version: match &p.source {
                        PasswordSource::Hash { version, .. } => i32::from(*version),
                        _ => 1,
                    },
                    created_at: time,
                })
            }),
            upstream_links: want
                .upstream
                .iter()
                .flatten()
                .enumerate()
                .map(|(n, l)| ActualLink {
                    id: Ulid(9000 + n as u128),
                    provider: l.provider,
                    subject: l.subject.clone(),
                })
                .collect(),
        })
        .collect();
    let registration_tokens = desired
        .registration_tokens
        .iter()
        .enumerate()
        .map(|(n, (token, want))| ActualToken {
            id: Ulid(20_000 + n as u128),
            token: token.clone(),
            usage_limit: want.usage_limit.map(|l| l as i32),
            expires_at: want.expires_at,
            revoked_at: (want.state == TokenState::Revoked).then_some(time),
        })
        .collect();
    ActualState {
        users,
        registration_tokens,
        providers: vec![ActualProvider {
            id: PROVIDER,
            name: Some("Corp SSO".into()),
            enabled: true,
        }],
    }
}

fn changes(desired: &DesiredState, actual: &ActualState) -> Vec<Change> {
    plan(desired, actual, &Facts::default()).unwrap().changes
}

fn kinds(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            serde_json::to_value(c).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn matching_state_gives_an_empty_plan() {
    let mut alice = user();
    alice.admin = true;
    alice.state = UserState::Locked;
    alice.emails = Some(vec![email("alice@example.org")]);
    alice.password = Some(Box::new(DesiredPassword {
        source: PasswordSource::Hash {
            hash: Secret::new("$argon2id$x"),
            version: 1,
        },
        origin: origin(),
    }));
    alice.password_policy = PasswordPolicy::Enforce;
    alice.upstream = Some(vec![DesiredLink {
        provider: PROVIDER,
        subject: "1".into(),
        origin: origin(),
    }]);
    let mut bob = user();
    bob.state = UserState::Deactivated;
    let mut desired = desired(vec![("alice", alice), ("bob", bob)]);
    desired.registration_tokens.insert(
        "welcome".into(),
        DesiredToken {
            usage_limit: Some(5),
            expires_at: None,
            state: TokenState::Revoked,
            origin: origin(),
        },
    );
    let actual = actual_from(&desired);
    let plan = plan(&desired, &actual, &Facts::default()).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    // The same inputs always give the same basis.
    assert_eq!(
        plan.basis,
        super::plan(&desired, &actual, &Facts::default())
            .unwrap()
            .basis
    );
}

#[test]
fn a_missing_user_is_created_with_every_attribute() {
    let mut alice = user();
    alice.admin = true;
    alice.emails = Some(vec![email("a@example.org")]);
    alice.display_name = Some("Alice".into());
    alice.upstream = Some(vec![DesiredLink {
        provider: PROVIDER,
        subject: "7".into(),
        origin: origin(),
    }]);
    let desired = desired(vec![("alice", alice)]);
    let changes = changes(
        &desired,
        &ActualState {
            providers: actual_from(&desired).providers,
            ..ActualState::default()
        },
    );
    insta::assert_debug_snapshot!(changes);
}

#[test]
fn emails_compare_case_insensitively_and_duplicates_are_removed() {
    let mut alice = user();
    alice.emails = Some(vec![email("Alice@Example.org"), email("new@example.org")]);
    let desired = desired(vec![("alice", alice)]);
    let mut actual = actual_from(&desired);
    let rows = &mut actual.users[0].emails;
    rows.truncate(1);
    rows[0].email = email("alice@example.org");
    rows.push(ActualEmail {
        id: Ulid(77),
        email: email("ALICE@example.org"),
    });
    rows.push(ActualEmail {
        id: Ulid(78),
        email: email("old@example.org"),
    });
    assert_eq!(
        kinds(&changes(&desired, &actual)),
        [
            "remove_email",
            "remove_email",
            "add_email",
            "provision_user"
        ]
    );
}

#[test]
fn state_transitions_schedule_the_right_jobs() {
    let mut locked = user();
    locked.state = UserState::Locked;
    let desired_state = desired(vec![("alice", locked)]);
    let mut actual = actual_from(&desired_state);
    actual.users[0].locked_at = None;
    assert_eq!(
        kinds(&changes(&desired_state, &actual)),
        ["lock_user", "provision_user"]
    );

    let desired_active = desired(vec![("alice", user())]);
    let mut actual = actual_from(&desired_active);
    actual.users[0].locked_at = Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap());
    actual.users[0].deactivated_at = Some(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap());
    assert_eq!(
        kinds(&changes(&desired_active, &actual)),
        ["reactivate_user", "unlock_user", "provision_user"]
    );

    let mut gone = user();
    gone.state = UserState::Deactivated;
    gone.emails = Some(vec![email("a@example.org")]);
    let desired_gone = desired(vec![("alice", gone)]);
    let mut actual = actual_from(&desired_gone);
    actual.users[0].deactivated_at = None;
    let plan = plan(&desired_gone, &actual, &Facts::default()).unwrap();
    // Emails of a deactivated user are left to MAS, and no provision job races the deactivation.
    assert_eq!(kinds(&plan.changes), ["deactivate_user"]);
}

#[test]
fn usernames_are_matched_like_mas() {
    let desired = desired(vec![("Alice", user())]);
    let mut actual = actual_from(&desired);
    actual.users[0].username = Username::from_database("alice".into());
    assert!(changes(&desired, &actual).is_empty());
    let mut twin = actual.users[0].clone();
    twin.username = Username::from_database("ALICE".into());
    twin.id = UserId(Ulid(99));
    actual.users.push(twin);
    let error = plan(&desired, &actual, &Facts::default()).unwrap_err();
    assert!(error.issues[0].message.contains("differ only in case"));
}

#[test]
fn passwords_follow_the_policy_and_the_verification() {
    let mut alice = user();
    alice.password = Some(Box::new(DesiredPassword {
        source: PasswordSource::Env("PW".into()),
        origin: origin(),
    }));
    alice.password_policy = PasswordPolicy::Enforce;
    let desired = desired(vec![("alice", alice.clone())]);
    let actual = actual_from(&desired);
    let id = actual.users[0].id;
    let mut facts = Facts::default();
    facts.passwords.insert(id, PasswordCheck::Matches);
    assert!(plan(&desired, &actual, &facts).unwrap().is_empty());
    facts.passwords.insert(id, PasswordCheck::Differs);
    assert_eq!(
        kinds(&plan(&desired, &actual, &facts).unwrap().changes),
        ["set_password"]
    );
    // `initial` never replaces an existing password.
    alice.password_policy = PasswordPolicy::Initial;
    let desired = self::desired(vec![("alice", alice)]);
    assert!(plan(&desired, &actual, &facts).unwrap().is_empty());
    let mut none = actual.clone();
    none.users[0].password = None;
    assert_eq!(
        kinds(&plan(&desired, &none, &facts).unwrap().changes),
        ["set_password"]
    );
}

#[test]
fn upstream_links_are_checked_against_providers_and_owners() {
    let mut alice = user();
    alice.upstream = Some(vec![DesiredLink {
        provider: PROVIDER,
        subject: "1".into(),
        origin: origin(),
    }]);
    let mut bob = user();
    bob.upstream = Some(vec![DesiredLink {
        provider: PROVIDER,
        subject: "2".into(),
        origin: origin(),
    }]);
    let desired = desired(vec![("alice", alice), ("bob", bob)]);
    let mut actual = actual_from(&desired);
    // bob's subject is held by alice, and alice's own link is gone.
    actual.users[0].upstream_links[0].subject = "2".into();
    actual.users[1].upstream_links.clear();
    let error = plan(&desired, &actual, &Facts::default()).unwrap_err();
    assert!(
        error.issues[0]
            .message
            .contains("already linked to user alice"),
        "{error:?}"
    );

    actual.providers[0].enabled = false;
    let error = plan(&desired, &actual, &Facts::default()).unwrap_err();
    assert!(error
        .issues
        .iter()
        .any(|i| i.message.contains("is disabled")));
    actual.providers.clear();
    let error = plan(&desired, &actual, &Facts::default()).unwrap_err();
    assert!(error
        .issues
        .iter()
        .any(|i| i.message.contains("does not exist")));
}

#[test]
fn display_names_are_compared_only_when_known() {
    let mut alice = user();
    alice.display_name = Some("Alice".into());
    let desired = desired(vec![("alice", alice)]);
    let actual = actual_from(&desired);
    let plan_unknown = plan(&desired, &actual, &Facts::default()).unwrap();
    assert!(plan_unknown.is_empty());
    assert!(plan_unknown.notes[0].contains("display names cannot be compared"));

    let id = actual.users[0].id;
    let mut facts = Facts {
        display_names: DisplayNames::Known {
            current: HashMap::from([(id, Some("Old".into()))]),
            pending: HashMap::new(),
        },
        ..Facts::default()
    };
    let changes = plan(&desired, &actual, &facts).unwrap().changes;
    assert!(
        matches!(&changes[..], [Change::ProvisionUser { set_display_name: Some(name), .. }] if name == "Alice")
    );
    facts.display_names = DisplayNames::Known {
        current: HashMap::from([(id, Some("Old".into()))]),
        pending: HashMap::from([(id, "Alice".into())]),
    };
    let pending = plan(&desired, &actual, &facts).unwrap();
    assert!(pending.is_empty());
    assert!(pending.notes[0].contains("on its way"));

    // A pending job with another name will overwrite the homeserver's (right) one: send again.
    facts.display_names = DisplayNames::Known {
        current: HashMap::new(),
        pending: HashMap::from([(id, "Alicia".into())]),
    };
    let changes = plan(&desired, &actual, &facts).unwrap().changes;
    assert!(
        matches!(&changes[..], [Change::ProvisionUser { set_display_name: Some(name), .. }] if name == "Alice")
    );
}

#[test]
fn tokens_are_created_updated_and_revoked() {
    let mut desired = desired(vec![]);
    let token = |limit, state| DesiredToken {
        usage_limit: limit,
        expires_at: None,
        state,
        origin: origin(),
    };
    desired
        .registration_tokens
        .insert("a".into(), token(Some(1), TokenState::Active));
    desired
        .registration_tokens
        .insert("b".into(), token(None, TokenState::Revoked));
    let mut actual = actual_from(&desired);
    actual.registration_tokens[0].usage_limit = Some(3);
    actual.registration_tokens[1].revoked_at = None;
    actual.registration_tokens.push(ActualToken {
        id: Ulid(1),
        token: "stray".into(),
        usage_limit: None,
        expires_at: None,
        revoked_at: None,
    });
    let plan_ignore = plan(&desired, &actual, &Facts::default()).unwrap();
    assert_eq!(
        kinds(&plan_ignore.changes),
        ["update_token", "revoke_token"]
    );
    assert!(plan_ignore.notes[0].contains("1 registration token not in the manifest is left alone"));
    desired.prune.registration_tokens = PruneTokens::Revoke;
    assert_eq!(
        kinds(&changes(&desired, &actual)),
        ["update_token", "revoke_token", "revoke_token"]
    );
}

#[test]
fn pruning_and_guards() {
    let mut desired = desired(vec![("alice", user())]);
    let mut actual = actual_from(&desired);
    for n in 0..3 {
        let mut extra = actual.users[0].clone();
        extra.id = UserId(Ulid(100 + n));
        extra.username = Username::from_database(format!("extra{n}"));
        actual.users.push(extra);
    }
    desired.prune.users = PruneUsers::Deactivate;
    let plan_prune = plan(&desired, &actual, &Facts::default()).unwrap();
    assert_eq!(kinds(&plan_prune.changes), ["deactivate_user"; 3]);
    desired.guards.max_deactivations = Some(2);
    assert_eq!(
        check_guards(&plan_prune, &desired, false),
        Err(GuardViolation::Deactivations { count: 3, limit: 2 })
    );
    assert_eq!(check_guards(&plan_prune, &desired, true), Ok(()));
    desired.guards = Guards {
        max_destructive_percent: Some(50),
        ..Guards::default()
    };
    assert!(matches!(
        check_guards(&plan_prune, &desired, false),
        Err(GuardViolation::DestructivePercent {
            count: 3,
            total: 4,
            ..
        })
    ));
    // Listing only tokens while pruning users is what a lost users file looks like.
    desired.users.clear();
    desired.registration_tokens.insert(
        "welcome".into(),
        DesiredToken {
            usage_limit: None,
            expires_at: None,
            state: TokenState::Active,
            origin: origin(),
        },
    );
    assert!(matches!(
        check_guards(&plan_prune, &desired, true),
        Err(GuardViolation::EmptyManifest { kind: "users", .. })
    ));
    desired.prune.users = PruneUsers::Ignore;
    desired.prune.registration_tokens = PruneTokens::Revoke;
    assert_eq!(check_guards(&plan_prune, &desired, true), Ok(()));
    desired.registration_tokens.clear();
    desired
        .users
        .insert(Username::new("alice").unwrap(), user());
    assert!(matches!(
        check_guards(&plan_prune, &desired, true),
        Err(GuardViolation::EmptyManifest {
            kind: "registration tokens",
            ..
        })
    ));
}

#[test]
fn percentages_leave_no_gap_for_small_sets() {
    let desired_one = desired(vec![("alice", user())]);
    let mut actual = actual_from(&desired_one);
    let mut desired = desired_one.clone();
    desired.prune.users = PruneUsers::Lock;
    desired.guards.max_destructive_percent = Some(9);
    // One stray user among 11 (9.09%) is over a 9% limit; among 12 (8.3%) it is not.
    for n in 0..10_u128 {
        let mut extra = actual.users[0].clone();
        extra.id = UserId(Ulid(200 + n));
        extra.username = Username::from_database(format!("extra{n:02}"));
        extra.locked_at = (n > 0).then(|| actual.users[0].created_at);
        actual.users.push(extra);
    }
    let eleven = plan(&desired, &actual, &Facts::default()).unwrap();
    assert_eq!(eleven.managed_objects, 11);
    assert!(matches!(
        check_guards(&eleven, &desired, false),
        Err(GuardViolation::DestructivePercent {
            count: 1,
            total: 11,
            limit: 9,
            ..
        })
    ));
    let mut twelfth = actual.users[1].clone();
    twelfth.id = UserId(Ulid(300));
    twelfth.username = Username::from_database("listed".into());
    actual.users.push(twelfth);
    desired
        .users
        .insert(Username::new("listed").unwrap(), user());
    let twelve = plan(&desired, &actual, &Facts::default()).unwrap();
    assert_eq!(twelve.managed_objects, 12);
    assert_eq!(check_guards(&twelve, &desired, false), Ok(()));
}

#[test]
fn the_basis_changes_when_a_consulted_row_changes() {
    let desired = desired(vec![("alice", user())]);
    let mut actual = actual_from(&desired);
    let before = plan(&desired, &actual, &Facts::default()).unwrap().basis;
    // An unlisted user does not matter while pruning is off…
    let mut extra = actual.users[0].clone();
    extra.id = UserId(Ulid(50));
    extra.username = Username::from_database("zed".into());
    actual.users.push(extra);
    assert_eq!(
        plan(&desired, &actual, &Facts::default()).unwrap().basis,
        before
    );
    // …but a change to a managed user does.
    actual.users[0].can_request_admin = true;
    assert_ne!(
        plan(&desired, &actual, &Facts::default()).unwrap().basis,
        before
    );
}

#[test]
fn large_manifests_plan_in_manifest_order_with_a_stable_basis() {
    // More users than one parallel chunk holds: the chunks' results must join in order.
    let users: Vec<(String, DesiredUser)> = (0..5000)
        .map(|n| {
            let mut want = user();
            want.admin = n % 7 == 0;
            (format!("user{n:05}"), want)
        })
        .collect();
    let desired = desired(users.iter().map(|(n, u)| (n.as_str(), u.clone())).collect());
    let mut actual = actual_from(&desired);
    let clean = plan(&desired, &actual, &Facts::default()).unwrap();
    assert!(clean.is_empty());
    assert_eq!(
        plan(&desired, &actual, &Facts::default()).unwrap().basis,
        clean.basis
    );
    // Flip the admin flag of every 500th user: the changes come out in manifest order, and a
    // change in the last chunk still changes the basis.
    for user in actual.users.iter_mut().step_by(500) {
        user.can_request_admin = !user.can_request_admin;
    }
    let drifted = plan(&desired, &actual, &Facts::default()).unwrap();
    let changed: Vec<&str> = drifted
        .changes
        .iter()
        .filter_map(|change| match change {
            Change::SetAdmin { user, .. } => Some(user.username.as_str()),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..5000)
        .step_by(500)
        .map(|n| format!("user{n:05}"))
        .collect();
    assert_eq!(changed, expected);
    assert_ne!(drifted.basis, clean.basis);
    actual.users.iter_mut().step_by(500).for_each(|user| {
        user.can_request_admin = !user.can_request_admin;
    });
    actual.users[4999].created_at += chrono::Duration::seconds(1);
    assert_ne!(
        plan(&desired, &actual, &Facts::default()).unwrap().basis,
        clean.basis
    );
}
