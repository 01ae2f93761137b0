//! Failures: rejected secret, server errors, silence, refused connections, odd answers.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;

use super::{client, client_for, shown, HomeserverError, HomeserverKind, Reply, TestServer};

#[tokio::test]
async fn a_rejected_secret_says_where_to_look() {
    for (kind, status, operation) in [
        (HomeserverKind::Synapse, 403, "GET _synapse/mas/query_user"),
        (
            HomeserverKind::SynapseModern,
            401,
            "GET _synapse/mas/query_user",
        ),
        (
            HomeserverKind::SynapseLegacy,
            401,
            "GET _synapse/admin/v2/users/%40alice%3Aexample.com",
        ),
    ] {
        let server = TestServer::start(move |_| {
            Reply::matrix_error(
                status,
                "M_FORBIDDEN",
                "This endpoint must only be called by MAS",
            )
        })
        .await;
        let error = client(kind, &server).query_user("alice").await.unwrap_err();
        assert_eq!(
            shown(&error),
            format!(
                "homeserver {} rejected the shared secret (HTTP {status}, {operation}): \
                 check matrix.secret in MAS's config",
                server.url("/")
            )
        );
    }
}

#[tokio::test]
async fn every_operation_reports_a_rejected_secret() {
    let server = TestServer::start(|_| Reply::text(401, "")).await;
    let client = client(HomeserverKind::Synapse, &server);
    let errors = [
        client.is_localpart_available("a").await.unwrap_err(),
        client.query_user("a").await.unwrap_err(),
        client.upsert_device("a", "D").await.unwrap_err(),
        client.set_display_name("a", "A").await.unwrap_err(),
    ];
    for error in errors {
        assert!(
            matches!(error, HomeserverError::Unauthorized { status: 401, .. }),
            "{error:?}"
        );
    }
}

/// A homeserver (or proxy) that echoes the request back must not leak the secret.
#[tokio::test]
async fn server_errors_are_shown_without_the_secret() {
    let server = TestServer::start(|request| {
        let echoed = request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        Reply::matrix_error(500, "M_UNKNOWN", &format!("Internal error, got {echoed}"))
    })
    .await;
    let error = client(HomeserverKind::Synapse, &server)
        .upsert_device("alice", "DEV")
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} answered HTTP 500 (POST _synapse/mas/upsert_device): \
             M_UNKNOWN: Internal error, got Bearer <redacted>",
            server.url("/")
        )
    );
}

#[tokio::test]
async fn unreadable_answers_are_shown_without_the_secret() {
    let server = TestServer::start(|request| {
        let echoed = request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        Reply::json(200, &json!({ "is_suspended": echoed }))
    })
    .await;
    let error = client(HomeserverKind::Synapse, &server)
        .query_user("alice")
        .await
        .unwrap_err();
    let message = shown(&error);
    assert!(
        matches!(error, HomeserverError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("invalid type: string \"Bearer <redacted>\""),
        "{message}"
    );
}

#[tokio::test]
async fn a_silent_homeserver_times_out_within_the_bound() {
    let server = TestServer::start(|_| Reply::Hang).await;
    let bound = Duration::from_millis(300);
    let client = client_for(HomeserverKind::Synapse, &server.url("/"), bound);
    let started = Instant::now();
    let error = client.query_user("alice").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= bound && elapsed < Duration::from_secs(2),
        "took {elapsed:?}"
    );
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} did not answer within 300ms (GET _synapse/mas/query_user)",
            server.url("/")
        )
    );
    assert_eq!(server.requests().len(), 1);
}

/// A slow answer and a body that stops halfway are bounded by the same timeout.
#[tokio::test]
async fn slow_and_stalled_answers_time_out_too() {
    for reply in [
        Reply::json(200, &json!({})).delayed(Duration::from_secs(5)),
        Reply::Stall,
    ] {
        let server = TestServer::start(move |_| reply.clone()).await;
        let client = client_for(
            HomeserverKind::Synapse,
            &server.url("/"),
            Duration::from_millis(300),
        );
        let started = Instant::now();
        let error = client.query_user("alice").await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            matches!(error, HomeserverError::Timeout { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    // Bind, learn the port, close: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let client = client_for(
        HomeserverKind::SynapseLegacy,
        &endpoint,
        Duration::from_secs(2),
    );
    let error = client.is_localpart_available("alice").await.unwrap_err();
    let message = shown(&error);
    assert!(
        matches!(error, HomeserverError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(
        message.starts_with(&format!(
            "homeserver {endpoint} is unreachable (GET _synapse/admin/v1/username_available): "
        )),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
}

/// Following a redirect would send the secret elsewhere; it is an error instead.
#[tokio::test]
async fn redirects_are_not_followed() {
    let server = TestServer::start(|request| match request.path() {
        "/elsewhere" => Reply::json(
            200,
            &json!({ "is_suspended": false, "is_deactivated": false }),
        ),
        _ => Reply::Redirect("/elsewhere".to_owned()),
    })
    .await;
    let error = client(HomeserverKind::Synapse, &server)
        .query_user("alice")
        .await
        .unwrap_err();
    assert!(
        matches!(error, HomeserverError::UnexpectedStatus { status: 302, .. }),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let server = TestServer::start(|_| Reply::text(200, &"x".repeat(1024 * 1024 + 1))).await;
    let error = client(HomeserverKind::Synapse, &server)
        .query_user("alice")
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} sent an answer masctl cannot read (GET _synapse/mas/query_user): \
             the answer is larger than 1 MiB",
            server.url("/")
        )
    );
}
