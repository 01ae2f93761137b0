//! A homeserver that refuses, is down, hangs or fails: planning stops with an error that names
//! the endpoint and the request, within the client's timeout, before anything is written.
//!
//! The refused secret is real Synapse's answer; "down", "hangs" and "HTTP 500" are played by
//! loopback sockets (no Synapse needed), since Synapse cannot be made to do them on cue.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use masctl::env::Env;
use masctl::homeserver::{HomeserverClient, HomeserverKind};
use masctl::model::Secret;
use masctl::pipeline;
use sqlx::PgConnection;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::display_names::{desired, manager};
use super::{shared, SERVER_NAME};
use crate::common::{dump, TestDb};

/// The secret sent to the sockets playing a homeserver (long enough not to be scrubbed from
/// their answers by accident).
const STUB_SECRET: &str = "stub-secret-4f9c2a";

/// A manifest whose one user exists and wants a display name, so planning must ask.
const MANIFEST: &str = "version: 1\nusers:\n  fail_frank:\n    display_name: Frank\n";

/// A database where `fail_frank` exists (created without asking any homeserver).
async fn database_with_frank() -> (TestDb, PgConnection) {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let wanted = desired(MANIFEST);
    let planned = pipeline::compute(&mut conn, &wanted, &manager(), None)
        .await
        .unwrap();
    let env = Env::test(51);
    let passwords = pipeline::prepare_passwords(&planned.plan, &wanted, &manager(), &env).unwrap();
    masctl::apply::apply(
        &mut conn,
        &env,
        &planned.plan,
        &passwords,
        &masctl::snapshot::Scope::all(),
        &masctl::apply::ApplyOptions {
            lock_timeout: Duration::from_secs(5),
        },
        |actual| masctl::plan::plan(&wanted, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    // The job of the creation has "run": the name must now be read from the homeserver.
    sqlx::query("UPDATE queue_jobs SET status = 'completed'")
        .execute(&mut conn)
        .await
        .unwrap();
    (db, conn)
}

fn client(endpoint: &str, secret: &str, timeout: Duration) -> HomeserverClient {
    HomeserverClient::new(
        HomeserverKind::Synapse,
        SERVER_NAME.to_owned(),
        endpoint,
        Secret::new(secret),
        timeout,
    )
    .unwrap()
}

/// Plans against `homeserver`, expects failure, checks that nothing changed, and returns the
/// error's messages, outermost first.
async fn failing_plan(conn: &mut PgConnection, homeserver: &HomeserverClient) -> Vec<String> {
    let before = dump(conn).await;
    let error = pipeline::compute(conn, &desired(MANIFEST), &manager(), Some(homeserver))
        .await
        .unwrap_err();
    assert_eq!(dump(conn).await, before);
    let messages: Vec<String> = error.chain().map(ToString::to_string).collect();
    assert_eq!(
        messages[0],
        format!(
            "cannot read display names from the homeserver at {}; nothing was written",
            homeserver.endpoint()
        )
    );
    messages
}

#[tokio::test]
async fn a_rejected_secret_names_the_endpoint_and_the_key_to_check() {
    let Some(synapse) = shared() else { return };
    let (_db, mut conn) = database_with_frank().await;
    let homeserver = client(&synapse.endpoint(), "not-the-secret", super::CLIENT_TIMEOUT);
    let messages = failing_plan(&mut conn, &homeserver).await;
    assert_eq!(
        messages[1],
        format!(
            "homeserver {} rejected the shared secret (HTTP 403, GET _synapse/mas/query_user): \
             check matrix.secret in MAS's config",
            synapse.endpoint()
        )
    );
    assert!(
        !messages.concat().contains("not-the-secret"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn an_unreachable_homeserver_names_the_endpoint() {
    let (_db, mut conn) = database_with_frank().await;
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/");
    let messages = failing_plan(
        &mut conn,
        &client(&endpoint, STUB_SECRET, Duration::from_secs(5)),
    )
    .await;
    assert!(
        messages[1].starts_with(&format!(
            "homeserver {endpoint} is unreachable (GET _synapse/mas/query_user): "
        )),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_hanging_homeserver_times_out_within_the_bound() {
    let (_db, mut conn) = database_with_frank().await;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    // Accepts connections and never answers.
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let started = Instant::now();
    let homeserver = client(&endpoint, STUB_SECRET, Duration::from_millis(500));
    let messages = failing_plan(&mut conn, &homeserver).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        messages[1],
        format!("homeserver {endpoint} did not answer within 500ms (GET _synapse/mas/query_user)")
    );
    hold.abort();
}

#[tokio::test]
async fn an_error_answer_names_the_endpoint_and_the_status() {
    let (_db, mut conn) = database_with_frank().await;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let endpoint = format!("http://{}/", listener.local_addr().unwrap());
    let serve = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let body = r#"{"errcode":"M_UNKNOWN","error":"Internal server error"}"#;
            let answer = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let messages = failing_plan(
        &mut conn,
        &client(&endpoint, STUB_SECRET, Duration::from_secs(5)),
    )
    .await;
    assert_eq!(
        messages[1],
        format!(
            "homeserver {endpoint} answered HTTP 500 (GET _synapse/mas/query_user): \
             M_UNKNOWN: Internal server error"
        )
    );
    serve.abort();
}
