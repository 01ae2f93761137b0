//! Synapse's admin API (`_synapse/admin/*`), used by kind `synapse_legacy` for homeservers
//! older than 1.135.
//!
//! Users are addressed by their percent-encoded MXID in the path. Each function sends one
//! request and interprets its answer.

use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::endpoint::encode_component;
use super::transport::{Operation, Transport};
use super::{means_unavailable, means_unknown_user, non_empty, HomeserverError, HomeserverUser};

/// The body of `GET _synapse/admin/v1/username_available`.
#[derive(Debug, Deserialize)]
struct UsernameAvailableBody {
    available: bool,
}

/// The fields of `GET _synapse/admin/v2/users/<mxid>` that matter here.
#[derive(Debug, Deserialize)]
struct AdminUserBody {
    #[serde(default)]
    displayname: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    deactivated: bool,
    // Only newer Synapse versions report suspension.
    #[serde(default, deserialize_with = "flag")]
    suspended: bool,
}

/// Reads a flag that old Synapse versions send as `0`/`1` and newer ones as a boolean.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(i64),
    }
    Ok(match Option::<Flag>::deserialize(deserializer)? {
        Some(Flag::Bool(value)) => value,
        Some(Flag::Number(value)) => value != 0,
        None => false,
    })
}

/// The admin API path of one user.
fn user_path(mxid: &str) -> String {
    format!("_synapse/admin/v2/users/{}", encode_component(mxid))
}

/// `GET _synapse/admin/v1/username_available?username=…`: reads `available`.
pub(super) async fn is_localpart_available(
    transport: &Transport,
    localpart: &str,
) -> Result<bool, HomeserverError> {
    let operation = Operation::get("_synapse/admin/v1/username_available");
    let answer = transport
        .send(&operation, Some(("username", localpart)), None)
        .await?;
    if answer.is_success() {
        let body: UsernameAvailableBody = transport.json(&operation, &answer)?;
        Ok(body.available)
    } else if means_unavailable(&answer) {
        Ok(false)
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

/// `GET _synapse/admin/v2/users/<mxid>`; `M_NOT_FOUND` means the user does not exist.
pub(super) async fn query_user(
    transport: &Transport,
    mxid: &str,
) -> Result<Option<HomeserverUser>, HomeserverError> {
    let operation = Operation::get(user_path(mxid));
    let answer = transport.send(&operation, None, None).await?;
    if answer.is_success() {
        let body: AdminUserBody = transport.json(&operation, &answer)?;
        Ok(Some(HomeserverUser {
            display_name: non_empty(body.displayname),
            is_deactivated: body.deactivated,
            is_suspended: body.suspended,
        }))
    } else if means_unknown_user(&answer) {
        Ok(None)
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

/// `POST _synapse/admin/v2/users/<mxid>/devices {"device_id"}`.
pub(super) async fn upsert_device(
    transport: &Transport,
    mxid: &str,
    device_id: &str,
) -> Result<(), HomeserverError> {
    let operation = Operation::post(format!("{}/devices", user_path(mxid)));
    let answer = transport
        .send(&operation, None, Some(&json!({ "device_id": device_id })))
        .await?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

/// `PUT _synapse/admin/v2/users/<mxid> {"displayname"}` (creates the user if it is missing,
/// as MAS's legacy provisioning does).
pub(super) async fn set_display_name(
    transport: &Transport,
    mxid: &str,
    display_name: &str,
) -> Result<(), HomeserverError> {
    let operation = Operation::put(user_path(mxid));
    let answer = transport
        .send(
            &operation,
            None,
            Some(&json!({ "displayname": display_name })),
        )
        .await?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(transport.failure(&operation, &answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_accept_booleans_numbers_null_and_absence() {
        let parse = |text: &str| serde_json::from_str::<AdminUserBody>(text).unwrap();
        assert!(parse(r#"{"deactivated": true}"#).deactivated);
        assert!(parse(r#"{"deactivated": 1}"#).deactivated);
        assert!(!parse(r#"{"deactivated": 0, "suspended": null}"#).deactivated);
        assert!(!parse("{}").suspended);
        assert!(serde_json::from_str::<AdminUserBody>(r#"{"deactivated": "yes"}"#).is_err());
    }
}
