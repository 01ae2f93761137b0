//! The `_synapse/mas/*` API (kinds `synapse`, `synapse_modern`, and reads of `synapse_read_only`).

use serde_json::json;

use super::{
    assert_authorised, client, shown, HomeserverError, HomeserverKind, Reply, TestServer,
    MODERN_KINDS,
};
use crate::homeserver::HomeserverUser;

#[tokio::test]
async fn availability_is_a_get_with_the_encoded_localpart() {
    for kind in MODERN_KINDS {
        let server = TestServer::start(|_| Reply::json(200, &json!({}))).await;
        assert!(client(kind, &server)
            .is_localpart_available("al ice/+x")
            .await
            .unwrap());
        let request = server.only_request();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), "/_synapse/mas/is_localpart_available");
        assert_eq!(request.query(), Some("localpart=al%20ice%2F%2Bx"));
        assert_authorised(&request);
        assert_eq!(request.body, "");
    }
}

#[tokio::test]
async fn availability_errcodes_mean_taken_and_others_fail() {
    for kind in MODERN_KINDS {
        for errcode in ["M_USER_IN_USE", "M_INVALID_USERNAME", "M_EXCLUSIVE"] {
            let server = TestServer::start(move |_| Reply::matrix_error(400, errcode, "no")).await;
            assert!(!client(kind, &server)
                .is_localpart_available("bob")
                .await
                .unwrap());
        }
        let server =
            TestServer::start(|_| Reply::matrix_error(400, "M_UNKNOWN", "Bad localpart")).await;
        let error = client(kind, &server)
            .is_localpart_available("bob")
            .await
            .unwrap_err();
        assert_eq!(
            shown(&error),
            format!(
                "homeserver {} answered HTTP 400 (GET _synapse/mas/is_localpart_available): \
                 M_UNKNOWN: Bad localpart",
                server.url("/")
            )
        );
    }
}

/// MAS's shortcut: Synapse would answer a non-ASCII localpart with a generic error.
#[tokio::test]
async fn a_non_ascii_localpart_is_taken_without_asking() {
    for kind in MODERN_KINDS
        .into_iter()
        .chain([HomeserverKind::SynapseLegacy])
    {
        let server = TestServer::start(|_| Reply::json(200, &json!({ "available": true }))).await;
        assert!(!client(kind, &server)
            .is_localpart_available("zoë")
            .await
            .unwrap());
        assert!(server.requests().is_empty());
    }
}

#[tokio::test]
async fn query_user_reads_profile_and_status() {
    for kind in MODERN_KINDS {
        let server = TestServer::start(|request| {
            let display_name = match request.query() {
                Some("localpart=alice") => json!("Alice Liddell"),
                Some("localpart=blank") => json!(""),
                _ => json!(null),
            };
            Reply::json(
                200,
                &json!({
                    "user_id": "@x:example.com", "display_name": display_name, "avatar_url": null,
                    "is_suspended": request.query() == Some("localpart=nobody"),
                    "is_deactivated": request.query() == Some("localpart=blank"),
                }),
            )
        })
        .await;
        let client = client(kind, &server);
        assert_eq!(
            client.query_user("alice").await.unwrap(),
            Some(HomeserverUser {
                display_name: Some("Alice Liddell".to_owned()),
                is_deactivated: false,
                is_suspended: false,
            })
        );
        assert_eq!(
            client.query_user("blank").await.unwrap(),
            Some(HomeserverUser {
                display_name: None,
                is_deactivated: true,
                is_suspended: false
            })
        );
        assert_eq!(
            client.query_user("nobody").await.unwrap(),
            Some(HomeserverUser {
                display_name: None,
                is_deactivated: false,
                is_suspended: true
            })
        );
        let request = server.requests().into_iter().next().expect("a request");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path(), "/_synapse/mas/query_user");
        assert_authorised(&request);
    }
}

#[tokio::test]
async fn query_user_maps_not_found_to_none_but_not_other_404s() {
    let server = TestServer::start(|request| match request.query() {
        Some("localpart=ghost") => Reply::matrix_error(404, "M_NOT_FOUND", "User not found"),
        Some("localpart=proxy") => Reply::text(404, "<html>nginx</html>"),
        _ => Reply::matrix_error(404, "M_UNRECOGNIZED", "Unrecognized request"),
    })
    .await;
    let client = client(HomeserverKind::Synapse, &server);
    assert_eq!(client.query_user("ghost").await.unwrap(), None);

    let error = client.query_user("proxy").await.unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} answered HTTP 404 (GET _synapse/mas/query_user)",
            server.url("/")
        )
    );

    let error = client.query_user("old").await.unwrap_err();
    assert!(
        matches!(error, HomeserverError::ApiMissing { status: 404, .. }),
        "{error:?}"
    );
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} does not offer GET _synapse/mas/query_user (HTTP 404 M_UNRECOGNIZED): \
             this matrix.kind needs Synapse 1.135 or newer with MAS support enabled \
             (matrix_authentication_service in homeserver.yaml); use synapse_legacy for older Synapse",
            server.url("/")
        )
    );
}

/// A `200 {}` from something that is not Synapse must not read as "no display name".
#[tokio::test]
async fn query_user_refuses_an_answer_without_the_status_fields() {
    let server = TestServer::start(|_| Reply::json(200, &json!({ "display_name": "A" }))).await;
    let error = client(HomeserverKind::Synapse, &server)
        .query_user("a")
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} sent an answer masctl cannot read (GET _synapse/mas/query_user): \
             unexpected JSON: missing field `is_suspended` at line 1 column 20",
            server.url("/")
        )
    );
}

#[tokio::test]
async fn upsert_device_posts_localpart_and_device_id() {
    for kind in [HomeserverKind::Synapse, HomeserverKind::SynapseModern] {
        for status in [200, 201] {
            let server = TestServer::start(move |_| Reply::json(status, &json!({}))).await;
            client(kind, &server)
                .upsert_device("alice", "ABCDEFGHIJ")
                .await
                .unwrap();
            let request = server.only_request();
            assert_eq!(request.method, "POST");
            assert_eq!(request.target, "/_synapse/mas/upsert_device");
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert_eq!(
                request.json(),
                json!({ "localpart": "alice", "device_id": "ABCDEFGHIJ" })
            );
            assert_authorised(&request);
        }
    }
}

#[tokio::test]
async fn upsert_device_for_an_unknown_user_fails_with_the_errcode() {
    let server =
        TestServer::start(|_| Reply::matrix_error(404, "M_NOT_FOUND", "User not found")).await;
    let error = client(HomeserverKind::Synapse, &server)
        .upsert_device("ghost", "DEV")
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} answered HTTP 404 (POST _synapse/mas/upsert_device): M_NOT_FOUND: User not found",
            server.url("/")
        )
    );
}

#[tokio::test]
async fn set_display_name_provisions_the_user_like_mas() {
    for kind in [HomeserverKind::Synapse, HomeserverKind::SynapseModern] {
        let server = TestServer::start(|_| Reply::json(201, &json!({}))).await;
        client(kind, &server)
            .set_display_name("alice", "Alice Liddell")
            .await
            .unwrap();
        let request = server.only_request();
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/_synapse/mas/provision_user");
        assert_eq!(
            request.json(),
            json!({ "localpart": "alice", "set_displayname": "Alice Liddell" })
        );
        assert_authorised(&request);
    }
}

#[tokio::test]
async fn read_only_refuses_writes_without_a_request() {
    let server = TestServer::start(|_| Reply::json(200, &json!({}))).await;
    let client = client(HomeserverKind::SynapseReadOnly, &server);
    let error = client.upsert_device("alice", "DEV").await.unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} is configured read-only (matrix.kind: synapse_read_only); \
             refusing POST _synapse/mas/upsert_device",
            server.url("/")
        )
    );
    let error = client.set_display_name("alice", "Alice").await.unwrap_err();
    assert!(
        matches!(error, HomeserverError::ReadOnly { .. }),
        "{error:?}"
    );
    assert!(shown(&error).ends_with("refusing POST _synapse/mas/provision_user"));
    assert!(server.requests().is_empty());
    // Reads still go through.
    assert!(client.is_localpart_available("alice").await.unwrap());
    assert_eq!(server.requests().len(), 1);
}
