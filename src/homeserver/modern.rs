//! Synapse's `_synapse/mas/*` API (Synapse 1.135 and newer): kinds `synapse` and
//! `synapse_modern`, and the reads of `synapse_read_only`.
//!
//! Each function sends one request and interprets its answer; refusing writes for the read-only
//! kind is the caller's job (`HomeserverClient`).

use serde::Deserialize;
use serde_json::json;

use super::transport::{Operation, Transport};
use super::{means_unavailable, means_unknown_user, non_empty, HomeserverError, HomeserverUser};

/// The body of a `query_user` success; `user_id` and `avatar_url` are not needed.
#[derive(Debug, Deserialize)]
struct QueryUserBody {
    #[serde(default)]
    display_name: Option<String>,
    // Required on purpose: Synapse always sends them, and a `200 {}` from something else must
    // not read as "a user without a display name".
    is_suspended: bool,
    is_deactivated: bool,
}

/// `GET _synapse/mas/is_localpart_available?localpart=…`: any 2xx means available.
pub(super) async fn is_localpart_available(
    transport: &Transport,
    localpart: &str,
) -> Result<bool, HomeserverError> {
    let operation = Operation::get("_synapse/mas/is_localpart_available");
    let answer = transport
        .send(&operation, Some(("localpart", localpart)), None)
        .await?;
    if answer.is_success() {
        Ok(true)
    } else if means_unavailable(&answer) {
        Ok(false)
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

/// `GET _synapse/mas/query_user?localpart=…`; `M_NOT_FOUND` means the user does not exist.
pub(super) async fn query_user(
    transport: &Transport,
    localpart: &str,
) -> Result<Option<HomeserverUser>, HomeserverError> {
    let operation = Operation::get("_synapse/mas/query_user");
    let answer = transport
        .send(&operation, Some(("localpart", localpart)), None)
        .await?;
    if answer.is_success() {
        let body: QueryUserBody = transport.json(&operation, &answer)?;
        Ok(Some(HomeserverUser {
            display_name: non_empty(body.display_name),
            is_deactivated: body.is_deactivated,
            is_suspended: body.is_suspended,
        }))
    } else if means_unknown_user(&answer) {
        Ok(None)
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

/// `POST _synapse/mas/upsert_device {"localpart", "device_id"}` (no device display name, as
/// `issue-compatibility-token` sends none).
pub(super) async fn upsert_device(
    transport: &Transport,
    localpart: &str,
    device_id: &str,
) -> Result<(), HomeserverError> {
    let operation = upsert_device_operation();
    let body = json!({ "localpart": localpart, "device_id": device_id });
    expect_success(transport, &operation, &body).await
}

/// `POST _synapse/mas/provision_user {"localpart", "set_displayname"}`: what MAS's
/// `provision-user` job sends for the display name (it creates the user if it is missing).
/// Emails and the lock flag are left out, so Synapse leaves them unchanged.
pub(super) async fn set_display_name(
    transport: &Transport,
    localpart: &str,
    display_name: &str,
) -> Result<(), HomeserverError> {
    let operation = set_display_name_operation();
    let body = json!({ "localpart": localpart, "set_displayname": display_name });
    expect_success(transport, &operation, &body).await
}

/// The request `upsert_device` sends (also named when the read-only kind refuses it).
pub(super) fn upsert_device_operation() -> Operation {
    Operation::post("_synapse/mas/upsert_device")
}

/// The request `set_display_name` sends (also named when the read-only kind refuses it).
pub(super) fn set_display_name_operation() -> Operation {
    Operation::post("_synapse/mas/provision_user")
}

async fn expect_success(
    transport: &Transport,
    operation: &Operation,
    body: &serde_json::Value,
) -> Result<(), HomeserverError> {
    let answer = transport.send(operation, None, Some(body)).await?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(transport.failure(operation, &answer))
    }
}
