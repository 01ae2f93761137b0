//! Hostile manifests: the corpus in `tests/hostile/` (files named `accept-*` must load, every
//! other one must be refused with a located diagnostic), and the accepted SQL metacharacters
//! and Unicode look-alikes applied to a real database, which must store them verbatim. Inputs
//! too large to commit are `reliability_huge_inputs`'.
//!
//! No input may panic, in loading or in rendering its diagnostic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use masctl::apply::{self, ApplyOptions};
use masctl::env::Env;
use masctl::manifest::{self, LoadOptions, ManifestError};
use masctl::model::state::DesiredState;
use masctl::password::{Algorithm, PasswordManager, PasswordScheme};
use masctl::pipeline;
use miette::{GraphicalReportHandler, GraphicalTheme};
use sqlx::PgConnection;

use crate::common::process::{tally, Masctl};
use crate::common::{workload, TestDb};

/// Longest a corpus file may take to load (a debug build, on a loaded machine).
const CORPUS_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Returns the corpus files, sorted.
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// Renders a manifest error the way the CLI shows it (without colour, 80 columns).
fn render(error: &ManifestError) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(80)
        .render_report(&mut out, error)
        .unwrap();
    out
}

#[test]
fn every_hostile_manifest_is_refused_clearly_or_accepted() {
    let files = corpus();
    assert!(files.len() >= 100, "only {} corpus files", files.len());
    let (mut accepted, mut rejected, mut panics) = (0, 0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    let options = LoadOptions::default();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            manifest::load(std::slice::from_ref(path), &options).map_err(|error| render(&error))
        }));
        let took = started.elapsed();
        if took > slowest.0 {
            slowest = (took, name.clone());
        }
        assert!(took < CORPUS_TIME_LIMIT, "{name} took {took:?}");
        match outcome {
            Err(_) => panics += 1,
            Ok(Ok(_)) => {
                accepted += 1;
                assert!(name.starts_with("accept-"), "{name} was accepted");
            }
            Ok(Err(report)) => {
                rejected += 1;
                assert!(
                    !name.starts_with("accept-"),
                    "{name} was refused:\n{report}"
                );
                // Every refusal names the file, and points into it where the YAML is readable.
                assert!(
                    report.contains(&name),
                    "{name}: the error names no file:\n{report}"
                );
            }
        }
    }
    tally(&format!(
        "hostile corpus: inputs: {}, rejected: {rejected}, accepted: {accepted}, panics: {panics}, \
         slowest: {} in {:.0?}",
        files.len(),
        slowest.1,
        slowest.0
    ));
    assert_eq!(panics, 0);
}

fn manager() -> PasswordManager {
    let scheme = PasswordScheme {
        version: 1,
        algorithm: Algorithm::Bcrypt,
        unicode_normalization: false,
        cost: 4,
        pepper: None,
    };
    PasswordManager::new(true, 0, vec![scheme]).unwrap()
}

/// Plans and applies `desired` in-process; the plan must then be empty.
async fn apply_and_converge(conn: &mut PgConnection, desired: &DesiredState) {
    let env = Env::test(7);
    let planned = pipeline::compute(conn, desired, &manager(), None)
        .await
        .unwrap();
    let passwords = pipeline::prepare_passwords(&planned.plan, desired, &manager(), &env).unwrap();
    apply::apply(
        conn,
        &env,
        &planned.plan,
        &passwords,
        &masctl::snapshot::Scope::all(),
        &ApplyOptions {
            lock_timeout: Duration::from_secs(5),
        },
        |actual| masctl::plan::plan(desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    let again = pipeline::compute(conn, desired, &manager(), None)
        .await
        .unwrap();
    assert!(
        again.plan.is_empty(),
        "not converged: {:#?}",
        again.plan.changes
    );
}

/// Checks that every user, email, subject, display name and token of `desired` is in the
/// database byte for byte.
async fn assert_stored_verbatim(conn: &mut PgConnection, desired: &DesiredState) -> usize {
    let mut values = 0;
    for (username, user) in &desired.users {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM users WHERE username = $1")
            .bind(username.as_str())
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|_| panic!("user {username:?} not stored verbatim"));
        values += 1;
        let mut stored: Vec<String> =
            sqlx::query_scalar("SELECT email FROM user_emails WHERE user_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let mut wanted: Vec<String> = user
            .emails
            .iter()
            .flatten()
            .map(|email| email.as_str().to_owned())
            .collect();
        stored.sort();
        wanted.sort();
        assert_eq!(stored, wanted, "emails of {username}");
        values += wanted.len();
        for link in user.upstream.iter().flatten() {
            let found: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM upstream_oauth_links WHERE user_id = $1 AND subject = $2)",
            )
            .bind(id)
            .bind(&link.subject)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            assert!(found, "subject {:?} of {username}", link.subject);
            values += 1;
        }
        if let Some(name) = &user.display_name {
            let found: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM queue_jobs WHERE payload->>'set_display_name' = $1)",
            )
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            assert!(found, "display name {name:?} of {username}");
            values += 1;
        }
    }
    for token in desired.registration_tokens.keys() {
        let found: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM user_registration_tokens WHERE token = $1)",
        )
        .bind(token)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert!(found, "token {token:?}");
        values += 1;
    }
    values
}

#[tokio::test]
async fn accepted_hostile_values_are_stored_verbatim() {
    let accepted: Vec<PathBuf> = corpus()
        .into_iter()
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("accept-")
        })
        .collect();
    let mut values = 0;
    for path in &accepted {
        let desired = manifest::load(std::slice::from_ref(path), &LoadOptions::default())
            .unwrap_or_else(|error| panic!("{}: {}", path.display(), render(&error)));
        let db = TestDb::new().await;
        let mut conn = db.connect().await;
        workload::insert_provider(&mut conn).await;
        apply_and_converge(&mut conn, &desired).await;
        values += assert_stored_verbatim(&mut conn, &desired).await;
    }
    tally(&format!(
        "hostile values applied: {} manifests, {values} values stored verbatim, re-plans empty",
        accepted.len()
    ));
}

/// The plan a reviewer reads shows invisible and bidirectional characters escaped, so an
/// address that renders as `alice@example.org` cannot hide another one.
#[tokio::test]
async fn plans_show_invisible_characters_escaped() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let name = "accept-unicode-email-rtl-override.yaml";
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    std::fs::copy(corpus.join(name), dir.path().join(name)).unwrap();
    let output = Masctl::new(dir.path(), &["plan", name]).db(&db).run().await;
    assert_eq!(output.code, Some(0), "{}", output.both());
    assert!(
        output.stdout.contains("alice@\\u{202e}gro.elpmaxe") && !output.stdout.contains('\u{202e}'),
        "{}",
        output.both()
    );
}

/// The whole corpus through the binary at once (`masctl validate DIR`): one run, every refused
/// file named, no panic.
#[tokio::test]
async fn the_binary_validates_the_whole_corpus_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let corpus_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let started = Instant::now();
    let output = Masctl::new(dir.path(), &["validate", corpus_dir.to_str().unwrap()])
        .run()
        .await;
    assert_eq!(output.code, Some(1), "{}", output.both());
    assert!(!output.stderr.contains("panicked"), "{}", output.both());
    let refused: Vec<String> = corpus()
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("accept-"))
        .collect();
    let unnamed: Vec<&String> = refused
        .iter()
        .filter(|name| !output.stderr.contains(name.as_str()))
        .collect();
    assert!(unnamed.is_empty(), "not reported: {unnamed:?}");
    tally(&format!(
        "hostile corpus through `masctl validate`: {} files in one run, {} refused files named, \
         panics: 0, {:.1?}",
        corpus().len(),
        refused.len(),
        started.elapsed()
    ));
}
