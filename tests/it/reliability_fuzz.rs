//! Property-based fuzzing of the manifest parser and the planner (proptest).
//!
//! Manifests are generated as structured YAML (every key optional, values drawn from pools
//! of ordinary, hostile and look-alike strings) and then mutated character by character. The
//! properties: loading never panics and every error renders; planning against a generated
//! database never panics, is deterministic and prints no plaintext password; and planning
//! against the database the manifest describes finds nothing to do (convergence).
//!
//! Bounded for CI: `PROPTEST_CASES` sets the cases per run (defaults below);
//! `MASCTL_FUZZ_SECONDS=N` keeps generating new runs for N seconds per property.

use std::cell::Cell;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use masctl::manifest::{self, LoadOptions};
use masctl::model::state::{
    ActualEmail, ActualLink, ActualPassword, ActualProvider, ActualState, ActualToken, ActualUser,
    DesiredState, PasswordSource,
};
use masctl::model::{
    EmailAddress, PasswordPolicy, ProviderId, Secret, TokenState, UserId, UserState, Username,
};
use masctl::plan::{self, DisplayNames, Facts, PasswordCheck};
use miette::{GraphicalReportHandler, GraphicalTheme};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ulid::Ulid;

use crate::common::generate::{
    email, manifest_value, manifest_yaml, mutate, mutation, text, username, MARKER, PROVIDERS,
};
use crate::common::process::tally;

/// Loads a manifest held in memory, plaintext passwords allowed.
fn load(text: &str) -> Result<DesiredState, String> {
    manifest::load_str(
        "fuzz.yaml",
        text,
        &LoadOptions {
            allow_plaintext_passwords: true,
        },
    )
    .map_err(|error| {
        let mut out = String::new();
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(80)
            .render_report(&mut out, &error)
            .unwrap();
        out
    })
}

/// A database state built from pools that overlap with the generated manifests'.
fn actual_state() -> impl Strategy<Value = ActualState> {
    let actual_user = (
        username(),
        any::<bool>(),
        0u8..3,
        prop::collection::vec(email(), 0..3),
        proptest::option::of(prop::sample::select(vec![
            "$2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq",
            "garbage",
            "",
        ])),
        prop::collection::vec((0usize..3, text()), 0..2),
    );
    (
        prop::collection::vec(actual_user, 0..8),
        prop::collection::vec(
            (text(), proptest::option::of(-5i32..100), any::<bool>()),
            0..4,
        ),
        prop::collection::vec(any::<bool>(), 3),
        any::<u64>(),
    )
        .prop_map(|(users, tokens, enabled, seed)| {
            let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let mut next = u128::from(seed);
            let mut id = move || {
                next = next.wrapping_add(1);
                Ulid(next)
            };
            let users = users
                .into_iter()
                .map(|(name, admin, state, emails, password, links)| ActualUser {
                    id: UserId(id()),
                    username: Username::from_database(name),
                    created_at: time,
                    locked_at: (state == 1).then_some(time),
                    deactivated_at: (state == 2).then_some(time),
                    can_request_admin: admin,
                    emails: emails
                        .into_iter()
                        .map(|email| ActualEmail {
                            id: id(),
                            email: EmailAddress::new_unchecked(email),
                        })
                        .collect(),
                    password: password.map(|hash| {
                        Box::new(ActualPassword {
                            id: id(),
                            hashed_password: Secret::new(hash),
                            version: 1,
                            created_at: time,
                        })
                    }),
                    upstream_links: links
                        .into_iter()
                        .map(|(provider, subject)| ActualLink {
                            id: id(),
                            provider: provider_id(provider),
                            subject,
                        })
                        .collect(),
                })
                .collect();
            let registration_tokens = tokens
                .into_iter()
                .map(|(token, usage_limit, revoked)| ActualToken {
                    id: id(),
                    token,
                    usage_limit,
                    expires_at: None,
                    revoked_at: revoked.then_some(time),
                })
                .collect();
            let providers = enabled
                .into_iter()
                .enumerate()
                .map(|(index, enabled)| ActualProvider {
                    id: provider_id(index),
                    name: None,
                    enabled,
                })
                .collect();
            ActualState {
                users,
                registration_tokens,
                providers,
            }
        })
}

fn provider_id(index: usize) -> ProviderId {
    ProviderId(PROVIDERS[index % PROVIDERS.len()].parse().unwrap())
}

/// Returns the database state in which `desired` is already true (what a successful apply
/// leaves), with facts saying that enforced plaintext passwords verify.
fn converged(desired: &DesiredState) -> (ActualState, Facts) {
    let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut next = 1u128;
    let mut id = || {
        next += 1;
        Ulid(next)
    };
    let mut facts = Facts::default();
    let mut users = Vec::new();
    for (name, want) in &desired.users {
        let user_id = UserId(id());
        let password = want.password.as_ref().map(|password| {
            let (hash, version) = match &password.source {
                PasswordSource::Hash { hash, version } => (hash.clone(), i32::from(*version)),
                _ => (Secret::new("$2b$04$whatever"), 1),
            };
            if want.password_policy == PasswordPolicy::Enforce {
                facts.passwords.insert(user_id, PasswordCheck::Matches);
            }
            ActualPassword {
                id: id(),
                hashed_password: hash,
                version,
                created_at: time,
            }
        });
        let emails = if want.state == UserState::Deactivated {
            Vec::new()
        } else {
            let emails = want.emails.clone().unwrap_or_default();
            emails
                .into_iter()
                .map(|email| ActualEmail { id: id(), email })
                .collect()
        };
        let upstream_links = want
            .upstream
            .iter()
            .flatten()
            .map(|link| ActualLink {
                id: id(),
                provider: link.provider,
                subject: link.subject.clone(),
            })
            .collect();
        users.push(ActualUser {
            id: user_id,
            username: name.clone(),
            created_at: time,
            locked_at: (want.state == UserState::Locked).then_some(time),
            deactivated_at: (want.state == UserState::Deactivated).then_some(time),
            can_request_admin: want.admin,
            emails,
            password: password.map(Box::new),
            upstream_links,
        });
    }
    let registration_tokens = desired
        .registration_tokens
        .iter()
        .map(|(token, want)| ActualToken {
            id: id(),
            token: token.clone(),
            usage_limit: want.usage_limit.and_then(|limit| i32::try_from(limit).ok()),
            // PostgreSQL keeps microseconds.
            expires_at: want
                .expires_at
                .and_then(|at| DateTime::from_timestamp_micros(at.timestamp_micros())),
            revoked_at: (want.state == TokenState::Revoked).then_some(time),
        })
        .collect();
    let providers = (0..PROVIDERS.len())
        .map(|index| ActualProvider {
            id: provider_id(index),
            name: None,
            enabled: true,
        })
        .collect();
    facts.display_names = DisplayNames::Unknown;
    (
        ActualState {
            users,
            registration_tokens,
            providers,
        },
        facts,
    )
}

/// Runs `property` on cases of `strategy` (see the module docs for the bounds) and prints how
/// many ran and in how many the manifest loaded (`property` returns whether it did).
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    default_cases: u32,
    property: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) -> u64 {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default_cases);
    let budget = std::env::var("MASCTL_FUZZ_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .map(Duration::from_secs);
    let started = Instant::now();
    let ran = Cell::new(0u64);
    let loaded = Cell::new(0u64);
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&strategy, |value| {
            ran.set(ran.get() + 1);
            let did_load = property(value)?;
            loaded.set(loaded.get() + u64::from(did_load));
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{name}: {failure}");
        }
        if budget.is_none_or(|budget| started.elapsed() >= budget) {
            break;
        }
    }
    tally(&format!(
        "fuzz {name}: {} inputs ({} manifests loaded) in {:.1?}, panics: 0",
        ran.get(),
        loaded.get(),
        started.elapsed()
    ));
    ran.get()
}

#[test]
fn any_manifest_text_loads_or_fails_with_a_rendered_diagnostic() {
    let strategy = (manifest_value(), prop::collection::vec(mutation(), 0..5));
    fuzz(
        "manifest parser",
        strategy,
        4000,
        |(manifest, mutations)| {
            let text = mutate(&manifest_yaml(&manifest), &mutations);
            // Loading and rendering must not panic; an error must say what and where.
            match load(&text) {
                Ok(_) => Ok(true),
                Err(report) => {
                    prop_assert!(report.contains("problem"), "{report}");
                    Ok(false)
                }
            }
        },
    );
}

#[test]
fn planning_any_manifest_against_any_database_is_total_deterministic_and_secret_free() {
    let strategy = (manifest_value(), actual_state());
    fuzz("planner", strategy, 2500, |(manifest, actual)| {
        let Ok(desired) = load(&manifest_yaml(&manifest)) else {
            return Ok(false);
        };
        let facts = Facts::default();
        let first = plan::plan(&desired, &actual, &facts);
        let second = plan::plan(&desired, &actual, &facts);
        match (first, second) {
            (Ok(first), Ok(second)) => {
                prop_assert_eq!(&first, &second);
                let human = masctl::render::human::render(&first, &actual, true);
                let json = masctl::render::json::render(&first, None);
                prop_assert!(!human.contains(MARKER) && !json.contains(MARKER));
                let _ = plan::check_guards(&first, &desired, false);
            }
            (Err(first), Err(second)) => {
                prop_assert_eq!(first.to_string(), second.to_string());
                let rendered = format!("{:?}", miette::Report::new(first));
                prop_assert!(!rendered.contains(MARKER));
            }
            _ => prop_assert!(false, "planning is not deterministic"),
        }
        Ok(true)
    });
}

#[test]
fn a_database_that_matches_the_manifest_needs_no_change() {
    fuzz("convergence", manifest_value(), 2500, |manifest| {
        let Ok(desired) = load(&manifest_yaml(&manifest)) else {
            return Ok(false);
        };
        let (actual, facts) = converged(&desired);
        let plan = plan::plan(&desired, &actual, &facts)
            .map_err(|error| TestCaseError::fail(format!("{error:?}")))?;
        prop_assert!(plan.is_empty(), "{:#?}", plan.changes);
        Ok(true)
    });
}
