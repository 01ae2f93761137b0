//! The admin API of kind `synapse_legacy`.

use serde_json::json;

use super::{assert_authorised, client, shown, HomeserverKind, Reply, TestServer};
use crate::homeserver::HomeserverUser;

const LEGACY: HomeserverKind = HomeserverKind::SynapseLegacy;
const USER_PATH: &str = "/_synapse/admin/v2/users/%40alice%3Aexample.com";

#[tokio::test]
async fn availability_reads_the_available_field() {
    let server = TestServer::start(|request| match request.query() {
        Some("username=alice") => Reply::json(200, &json!({ "available": true })),
        Some("username=bob") => Reply::json(200, &json!({ "available": false })),
        Some("username=carol") => {
            Reply::matrix_error(400, "M_USER_IN_USE", "User ID already taken.")
        }
        Some("username=dave") => Reply::matrix_error(400, "M_EXCLUSIVE", "reserved"),
        _ => Reply::json(200, &json!({})),
    })
    .await;
    let client = client(LEGACY, &server);
    assert!(client.is_localpart_available("alice").await.unwrap());
    assert!(!client.is_localpart_available("bob").await.unwrap());
    assert!(!client.is_localpart_available("carol").await.unwrap());
    assert!(!client.is_localpart_available("dave").await.unwrap());
    let error = client.is_localpart_available("erin").await.unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} sent an answer masctl cannot read (GET _synapse/admin/v1/username_available): \
             unexpected JSON: missing field `available` at line 1 column 2",
            server.url("/")
        )
    );
    let request = server.requests().into_iter().next().expect("a request");
    assert_eq!(request.method, "GET");
    assert_eq!(request.path(), "/_synapse/admin/v1/username_available");
    assert_authorised(&request);
}

#[tokio::test]
async fn query_user_gets_the_user_by_encoded_mxid() {
    let server = TestServer::start(|request| match request.path() {
        USER_PATH => Reply::json(
            200,
            &json!({ "name": "@alice:example.com", "displayname": "Alice", "deactivated": 1 }),
        ),
        _ => Reply::matrix_error(404, "M_NOT_FOUND", "User not found"),
    })
    .await;
    let client = client(LEGACY, &server);
    assert_eq!(
        client.query_user("alice").await.unwrap(),
        Some(HomeserverUser {
            display_name: Some("Alice".to_owned()),
            is_deactivated: true,
            is_suspended: false,
        })
    );
    assert_eq!(client.query_user("ghost").await.unwrap(), None);
    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].target, USER_PATH);
    assert_eq!(
        requests[1].target,
        "/_synapse/admin/v2/users/%40ghost%3Aexample.com"
    );
    assert_authorised(&requests[0]);
}

#[tokio::test]
async fn upsert_device_posts_to_the_users_devices() {
    let server = TestServer::start(|_| Reply::json(201, &json!({}))).await;
    client(LEGACY, &server)
        .upsert_device("alice", "ABCDEFGHIJ")
        .await
        .unwrap();
    let request = server.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, format!("{USER_PATH}/devices"));
    assert_eq!(request.json(), json!({ "device_id": "ABCDEFGHIJ" }));
    assert_authorised(&request);
}

#[tokio::test]
async fn set_display_name_puts_the_user() {
    let server = TestServer::start(|_| Reply::json(200, &json!({}))).await;
    client(LEGACY, &server)
        .set_display_name("alice", "Alice")
        .await
        .unwrap();
    let request = server.only_request();
    assert_eq!(request.method, "PUT");
    assert_eq!(request.target, USER_PATH);
    assert_eq!(request.json(), json!({ "displayname": "Alice" }));
    assert_authorised(&request);
}

#[tokio::test]
async fn a_missing_admin_api_is_named() {
    let server =
        TestServer::start(|_| Reply::matrix_error(404, "M_UNRECOGNIZED", "Unrecognized request"))
            .await;
    let error = client(LEGACY, &server)
        .upsert_device("alice", "DEV")
        .await
        .unwrap_err();
    assert_eq!(
        shown(&error),
        format!(
            "homeserver {} does not offer POST _synapse/admin/v2/users/%40alice%3Aexample.com/devices \
             (HTTP 404 M_UNRECOGNIZED): matrix.kind synapse_legacy needs Synapse's admin API \
             (/_synapse/admin) at matrix.endpoint",
            server.url("/")
        )
    );
}
