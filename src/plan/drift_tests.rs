//! Verdicts on emergency records, one value kind at a time, against plans made by the real
//! planner from small manifests.

use chrono::{TimeZone, Utc};
use ulid::Ulid;

use super::*;
use crate::manifest::{load_str, LoadOptions};
use crate::model::state::{ActualEmail, ActualLink, ActualPassword, ActualProvider};
use crate::model::{EmailAddress, ProviderId, Secret, Username};
use crate::plan::emergency::EmergencyChange;
use crate::plan::{plan, Facts, PasswordCheck};

const PROVIDER: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T1";
const BOB: UserId = UserId(Ulid(2));

fn desired(yaml: &str) -> DesiredState {
    let options = LoadOptions {
        allow_plaintext_passwords: true,
    };
    load_str("users.yaml", &format!("version: 1\n{yaml}"), &options).unwrap()
}

fn bob() -> ActualUser {
    ActualUser {
        id: BOB,
        username: Username::from_database("bob".to_owned()),
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        locked_at: None,
        deactivated_at: None,
        can_request_admin: false,
        emails: Vec::new(),
        password: None,
        upstream_links: Vec::new(),
    }
}

fn actual(user: ActualUser, tokens: Vec<ActualToken>) -> ActualState {
    ActualState {
        users: vec![user],
        registration_tokens: tokens,
        providers: vec![ActualProvider {
            id: ProviderId(PROVIDER.parse().unwrap()),
            name: None,
            enabled: true,
        }],
    }
}

fn on_bob(value: EmergencyValue) -> EmergencyRecord {
    EmergencyRecord {
        id: Ulid(1),
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 3, 12, 0).unwrap(),
        change: EmergencyChange {
            command: "manage test".to_owned(),
            object: EmergencyObject::User {
                id: BOB,
                username: "bob".to_owned(),
            },
            value,
        },
    }
}

fn verdict(yaml: &str, actual: &ActualState, facts: &Facts, record: EmergencyRecord) -> Verdict {
    let desired = desired(yaml);
    let plan = plan(&desired, actual, facts).unwrap();
    let report = assess(&desired, actual, &plan, &[record]);
    report.findings[0].verdict
}

#[test]
fn state() {
    let mut locked = bob();
    locked.locked_at = Some(locked.created_at);
    let db = actual(locked, Vec::new());
    let record = || {
        on_bob(EmergencyValue::State {
            state: UserState::Locked,
        })
    };
    let none = Facts::default();
    assert_eq!(
        verdict("users: { bob: {} }", &db, &none, record()),
        Verdict::Reverts
    );
    assert_eq!(
        verdict(
            "users: { bob: { state: deactivated } }",
            &db,
            &none,
            record()
        ),
        Verdict::Reverts
    );
    assert_eq!(
        verdict("users: { bob: { state: locked } }", &db, &none, record()),
        Verdict::Adopted
    );
    assert_eq!(
        verdict("users: { alice: {} }", &db, &none, record()),
        Verdict::Uncovered
    );
    let unlocked = actual(bob(), Vec::new());
    assert_eq!(
        verdict("users: { bob: {} }", &unlocked, &none, record()),
        Verdict::Superseded
    );
    let gone = ActualState::default();
    assert_eq!(
        verdict("users: { bob: {} }", &gone, &none, record()),
        Verdict::Superseded
    );
}

#[test]
fn admin() {
    let db = actual(bob(), Vec::new());
    let record = || on_bob(EmergencyValue::Admin { admin: false });
    let none = Facts::default();
    assert_eq!(
        verdict("users: { bob: { admin: true } }", &db, &none, record()),
        Verdict::Reverts
    );
    assert_eq!(
        verdict("users: { bob: {} }", &db, &none, record()),
        Verdict::Adopted
    );
}

#[test]
fn email() {
    let mut user = bob();
    user.emails.push(ActualEmail {
        id: Ulid(10),
        email: EmailAddress::new_unchecked("bob2@example.org".to_owned()),
    });
    let db = actual(user, Vec::new());
    let record = || {
        on_bob(EmergencyValue::Email {
            address: EmailAddress::new_unchecked("bob2@example.org".to_owned()),
            present: true,
        })
    };
    let none = Facts::default();
    let bob_only = "users: { bob: { emails: [bob@example.org] } }";
    assert_eq!(verdict(bob_only, &db, &none, record()), Verdict::Reverts);
    assert_eq!(
        verdict("users: { bob: {} }", &db, &none, record()),
        Verdict::Uncovered
    );
    let both = "users: { bob: { emails: [bob@example.org, BOB2@example.org] } }";
    assert_eq!(verdict(both, &db, &none, record()), Verdict::Adopted);
}

#[test]
fn password() {
    let mut user = bob();
    user.password = Some(Box::new(ActualPassword {
        id: Ulid(30),
        hashed_password: Secret::new("$argon2id$x"),
        version: 1,
        created_at: user.created_at,
    }));
    let db = actual(user, Vec::new());
    let record = || {
        on_bob(EmergencyValue::Password {
            password_id: Ulid(30),
        })
    };
    let enforced = "users: { bob: { password: { env: BOB }, password_policy: enforce } }";
    let check = |check| Facts {
        passwords: [(BOB, check)].into_iter().collect(),
        ..Facts::default()
    };
    assert_eq!(
        verdict(enforced, &db, &check(PasswordCheck::Differs), record()),
        Verdict::Reverts
    );
    assert_eq!(
        verdict(enforced, &db, &check(PasswordCheck::Matches), record()),
        Verdict::Adopted
    );
    let initial = "users: { bob: { password: { env: BOB } } }";
    assert_eq!(
        verdict(initial, &db, &Facts::default(), record()),
        Verdict::Uncovered
    );
}

#[test]
fn upstream() {
    let provider = ProviderId(PROVIDER.parse().unwrap());
    let mut user = bob();
    user.upstream_links.push(ActualLink {
        id: Ulid(40),
        provider,
        subject: "1".to_owned(),
    });
    let db = actual(user, Vec::new());
    let record = || {
        on_bob(EmergencyValue::Upstream {
            provider,
            subject: "1".to_owned(),
            present: true,
        })
    };
    let none = Facts::default();
    assert_eq!(
        verdict("users: { bob: { upstream: [] } }", &db, &none, record()),
        Verdict::Reverts
    );
    let listed =
        format!("users: {{ bob: {{ upstream: [{{ provider: {PROVIDER}, subject: '1' }}] }} }}");
    assert_eq!(verdict(&listed, &db, &none, record()), Verdict::Adopted);
}

#[test]
fn token() {
    let token = ActualToken {
        id: Ulid(50),
        token: "emergency".to_owned(),
        usage_limit: None,
        expires_at: None,
        revoked_at: None,
    };
    let db = actual(bob(), vec![token]);
    let record = || EmergencyRecord {
        change: EmergencyChange {
            object: EmergencyObject::RegistrationToken {
                id: Ulid(50),
                token: "emergency".to_owned(),
            },
            value: EmergencyValue::Token {
                revoked: false,
                usage_limit: None,
                expires_at: None,
            },
            ..on_bob(EmergencyValue::Admin { admin: false }).change
        },
        ..on_bob(EmergencyValue::Admin { admin: false })
    };
    let none = Facts::default();
    let pruned = "registration_tokens: [{ token: other }]\nprune: { registration_tokens: revoke }";
    assert_eq!(verdict(pruned, &db, &none, record()), Verdict::Reverts);
    let limited = "registration_tokens: [{ token: emergency, usage_limit: 5 }]";
    assert_eq!(verdict(limited, &db, &none, record()), Verdict::Reverts);
    let listed = "registration_tokens: [{ token: emergency }]";
    assert_eq!(verdict(listed, &db, &none, record()), Verdict::Adopted);
    assert_eq!(
        verdict("users: { bob: {} }", &db, &none, record()),
        Verdict::Uncovered
    );
}

#[test]
fn refusals_name_every_reverted_record_and_how_to_keep_it() {
    let mut locked = bob();
    locked.locked_at = Some(locked.created_at);
    let db = actual(locked, Vec::new());
    let desired = desired("users: { bob: {} }");
    let plan = plan(&desired, &db, &Facts::default()).unwrap();
    let record = on_bob(EmergencyValue::State {
        state: UserState::Locked,
    });
    let report = assess(&desired, &db, &plan, &[record]);
    let refusal = check_emergencies(&report, false).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "refusing to revert 1 emergency change made outside the manifest:\n  - user bob: state set to locked by `masctl manage test` at 2026-03-01 03:12:00 UTC"
    );
    assert_eq!(
        refusal.hints,
        "to keep it: set `state: locked` for user bob"
    );
    assert!(check_emergencies(&report, true).is_ok());
    assert_eq!(
        report.resolutions(true),
        [(Ulid(1), crate::plan::emergency::Resolution::Reverted)]
    );
    assert!(report.resolutions(false).is_empty());
}
