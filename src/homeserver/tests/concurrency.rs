//! `display_names`: many lookups, a bounded number in flight, fail fast.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::{client, shown, HomeserverError, HomeserverKind, Reply, Request, TestServer};

/// Answers `user<N>` with display name `User N` (none for multiples of 5, unknown for
/// multiples of 7), slowly enough for requests to overlap.
fn directory(request: &Request) -> Reply {
    let number: usize = request
        .query()
        .and_then(|query| query.strip_prefix("localpart=user"))
        .and_then(|number| number.parse().ok())
        .expect("a user<N> query");
    let reply = if number % 7 == 0 {
        Reply::matrix_error(404, "M_NOT_FOUND", "User not found")
    } else {
        let display_name = (number % 5 != 0).then(|| format!("User {number}"));
        Reply::json(
            200,
            &json!({ "display_name": display_name, "is_suspended": false, "is_deactivated": false }),
        )
    };
    reply.delayed(Duration::from_millis(20))
}

fn localparts(count: usize) -> Vec<String> {
    (1..=count).map(|number| format!("user{number}")).collect()
}

#[tokio::test]
async fn fifty_users_with_at_most_four_in_flight() {
    let server = TestServer::start(directory).await;
    let names = client(HomeserverKind::Synapse, &server)
        .display_names(&localparts(50), 4)
        .await
        .unwrap();
    let expected: HashMap<String, Option<String>> = (1..=50)
        .map(|number| {
            let name = (number % 5 != 0 && number % 7 != 0).then(|| format!("User {number}"));
            (format!("user{number}"), name)
        })
        .collect();
    assert_eq!(names, expected);
    assert_eq!(server.requests().len(), 50);
    let max = server.max_in_flight();
    assert!((2..=4).contains(&max), "max in flight: {max}");
}

#[tokio::test]
async fn zero_concurrency_means_one_at_a_time() {
    let server = TestServer::start(directory).await;
    let names = client(HomeserverKind::SynapseLegacy, &server)
        .display_names(&localparts(0), 0)
        .await
        .unwrap();
    assert!(names.is_empty());

    let server = TestServer::start(|request| {
        assert!(request.path().starts_with("/_synapse/mas/query_user"));
        directory(request)
    })
    .await;
    let names = client(HomeserverKind::SynapseReadOnly, &server)
        .display_names(&localparts(6), 0)
        .await
        .unwrap();
    assert_eq!(names.len(), 6);
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn duplicates_are_looked_up_once() {
    let server = TestServer::start(directory).await;
    let wanted = ["user1", "user2", "user1", "user2", "user1"].map(String::from);
    let names = client(HomeserverKind::Synapse, &server)
        .display_names(&wanted, 16)
        .await
        .unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_first_failure_ends_the_lookup() {
    let server = TestServer::start(|request| {
        if request.query() == Some("localpart=user3") {
            Reply::matrix_error(500, "M_UNKNOWN", "Internal server error")
        } else {
            directory(request).delayed(Duration::from_millis(50))
        }
    })
    .await;
    let error = client(HomeserverKind::Synapse, &server)
        .display_names(&localparts(50), 4)
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} answered HTTP 500 (GET _synapse/mas/query_user): M_UNKNOWN: Internal server error",
            server.url("/")
        )
    );
    let sent = server.requests().len();
    assert!(sent < 10, "{sent} requests sent after the failure");
}

#[tokio::test]
async fn a_rejected_secret_fails_the_whole_lookup() {
    let server = TestServer::start(|_| Reply::text(403, "")).await;
    let error = client(HomeserverKind::Synapse, &server)
        .display_names(&localparts(50), 16)
        .await
        .unwrap_err();
    assert!(
        matches!(error, HomeserverError::Unauthorized { status: 403, .. }),
        "{error:?}"
    );
    assert!(server.requests().len() <= 16);
}
