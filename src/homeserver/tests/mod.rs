//! Tests of the homeserver client against a real local HTTP server (`server`).

mod concurrency;
mod errors;
mod legacy;
mod modern;
mod server;

use std::time::Duration;

use super::{HomeserverClient, HomeserverError, HomeserverKind};
use crate::model::Secret;
use server::{Reply, Request, TestServer};

/// The shared secret every test client uses; no error may ever show it.
const SECRET: &str = "s3cr3t-shared-Xy9";

/// The kinds that speak the `_synapse/mas/*` API for reads.
const MODERN_KINDS: [HomeserverKind; 3] = [
    HomeserverKind::Synapse,
    HomeserverKind::SynapseModern,
    HomeserverKind::SynapseReadOnly,
];

/// A client for `endpoint` with server name `example.com`.
fn client_for(kind: HomeserverKind, endpoint: &str, timeout: Duration) -> HomeserverClient {
    HomeserverClient::new(
        kind,
        "example.com".to_owned(),
        endpoint,
        Secret::new(SECRET),
        timeout,
    )
    .expect("valid client configuration")
}

/// A client for the test server's root, with a generous timeout.
fn client(kind: HomeserverKind, server: &TestServer) -> HomeserverClient {
    client_for(kind, &server.url("/"), Duration::from_secs(5))
}

/// Checks what every request must carry.
fn assert_authorised(request: &Request) {
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

/// Checks that an error shows no secret in `Display` or `Debug`, and returns its `Display`.
fn shown(error: &HomeserverError) -> String {
    let display = error.to_string();
    let debug = format!("{error:?}");
    assert!(!display.contains(SECRET), "secret in Display: {display}");
    assert!(!debug.contains(SECRET), "secret in Debug: {debug}");
    display
}

#[test]
fn mxids_join_localpart_and_server_name() {
    let client = client_for(
        HomeserverKind::Synapse,
        "http://hs/",
        Duration::from_secs(1),
    );
    assert_eq!(client.mxid("alice"), "@alice:example.com");
}

#[test]
fn kinds_are_spelled_as_in_mas_config() {
    let spelled: Vec<_> = [
        HomeserverKind::Synapse,
        HomeserverKind::SynapseModern,
        HomeserverKind::SynapseLegacy,
        HomeserverKind::SynapseReadOnly,
    ]
    .map(HomeserverKind::as_str)
    .into();
    assert_eq!(
        spelled,
        [
            "synapse",
            "synapse_modern",
            "synapse_legacy",
            "synapse_read_only"
        ]
    );
}

#[test]
fn the_client_does_not_show_the_secret() {
    let client = client_for(
        HomeserverKind::Synapse,
        "http://hs/",
        Duration::from_secs(1),
    );
    let debug = format!("{client:?}");
    assert!(!debug.contains(SECRET), "{debug}");
}

/// Path joining keeps MAS's URL semantics: with a trailing `/` the prefix stays, without it
/// the last segment is replaced.
#[tokio::test]
async fn paths_are_url_joined_onto_the_endpoint() {
    let server =
        TestServer::start(|_| Reply::matrix_error(404, "M_NOT_FOUND", "User not found")).await;
    for (endpoint, expected) in [
        ("", "/_synapse/mas/query_user"),
        ("/", "/_synapse/mas/query_user"),
        ("/prefix/", "/prefix/_synapse/mas/query_user"),
        ("/a/b/", "/a/b/_synapse/mas/query_user"),
        ("/prefix", "/_synapse/mas/query_user"),
    ] {
        let client = client_for(
            HomeserverKind::Synapse,
            &server.url(endpoint),
            Duration::from_secs(5),
        );
        assert_eq!(client.query_user("alice").await.unwrap(), None);
        let last = server.requests().pop().expect("a request");
        assert_eq!(last.path(), expected, "endpoint {endpoint:?}");
    }

    let legacy = client_for(
        HomeserverKind::SynapseLegacy,
        &server.url("/prefix/"),
        Duration::from_secs(5),
    );
    assert_eq!(legacy.query_user("alice").await.unwrap(), None);
    let last = server.requests().pop().expect("a request");
    assert_eq!(
        last.path(),
        "/prefix/_synapse/admin/v2/users/%40alice%3Aexample.com"
    );
}

#[test]
fn unusable_endpoints_are_refused_without_showing_credentials() {
    for (endpoint, reason) in [
        ("not a url", "relative URL without a base"),
        ("ftp://hs/", "the scheme must be http or https, not ftp"),
        ("http://bob:hunter2@hs/", "it must not contain credentials"),
        ("http://bob:hunter2@hs:99999/", "invalid port number"),
    ] {
        let error = HomeserverClient::new(
            HomeserverKind::Synapse,
            "example.com".to_owned(),
            endpoint,
            Secret::new(SECRET),
            Duration::from_secs(1),
        )
        .unwrap_err();
        let message = shown(&error);
        assert!(
            matches!(error, HomeserverError::InvalidEndpoint { .. }),
            "{error:?}"
        );
        assert!(message.contains(reason), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
}

#[test]
fn unusable_secrets_are_refused_without_showing_them() {
    for (secret, reason) in [
        ("", "it is empty"),
        (
            "line\nbreak-s3cr3t",
            "it contains characters an HTTP header cannot carry",
        ),
    ] {
        let error = HomeserverClient::new(
            HomeserverKind::Synapse,
            "example.com".to_owned(),
            "http://hs/",
            Secret::new(secret),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("matrix.secret cannot be used as the homeserver's shared secret: {reason}")
        );
        assert!(!format!("{error:?}").contains("s3cr3t"));
    }
}
