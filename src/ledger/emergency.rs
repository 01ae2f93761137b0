//! `masctl.emergency_changes`: what `masctl manage` commands changed, so that the next GitOps
//! plan can tell an emergency change from ordinary drift and refuse to undo it silently.
//!
//! Writers: `manage` commands call [`record`] (or [`record_changes`], which derives the records
//! from the changes they executed) inside their apply transaction; `apply` calls [`resolve`] for
//! the records its plan adopted, superseded or (with `--revert-emergency`) reverted. Readers:
//! [`open`] for `plan` and `apply`. At most one record per object and field is open; a newer
//! one closes the older as superseded.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

pub use super::derive::record_changes;
use super::LedgerError;
use crate::env::Env;
use crate::ids;
use crate::model::UserId;
use crate::plan::emergency::{
    EmergencyChange, EmergencyObject, EmergencyRecord, EmergencyValue, Resolution,
};

const TABLE: &str = "emergency_changes";

/// Records one emergency change, closing any open record for the same object and field.
///
/// Call it inside the transaction that made the change, so that the record exists exactly when
/// the change does. Creates masctl's schema on first use.
///
/// # Errors
/// [`LedgerError`] when the schema cannot be created or the row not written.
pub async fn record(
    conn: &mut PgConnection,
    env: &Env,
    change: &EmergencyChange,
) -> Result<EmergencyRecord, LedgerError> {
    super::ensure_schema(conn).await?;
    let now = env.now();
    let id = env.ulid_at(now);
    let object_id = ids::to_uuid(change.object.id());
    let field = change.value.field_key();
    sqlx::query(
        "UPDATE masctl.emergency_changes SET resolved_at = $1, resolution = 'superseded' \
         WHERE resolved_at IS NULL AND object_kind = $2 AND object_id = $3 AND field = $4",
    )
    .bind(now)
    .bind(change.object.kind())
    .bind(object_id)
    .bind(&field)
    .execute(&mut *conn)
    .await
    .map_err(LedgerError::query(TABLE))?;
    sqlx::query(
        "INSERT INTO masctl.emergency_changes \
           (emergency_change_id, created_at, command, object_kind, object_id, object_name, field, value) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ids::to_uuid(id))
    .bind(now)
    .bind(&change.command)
    .bind(change.object.kind())
    .bind(object_id)
    .bind(change.object.name())
    .bind(&field)
    .bind(Json(&change.value))
    .execute(&mut *conn)
    .await
    .map_err(LedgerError::query(TABLE))?;
    Ok(EmergencyRecord {
        id,
        created_at: now,
        change: change.clone(),
    })
}

/// `id, created_at, command, object_kind, object_id, object_name, value`.
type Row = (
    Uuid,
    DateTime<Utc>,
    String,
    String,
    Uuid,
    String,
    Json<serde_json::Value>,
);

/// Returns the open records, oldest first; none when masctl's schema does not exist yet.
///
/// # Errors
/// [`LedgerError::Query`] when the table cannot be read, [`LedgerError::Malformed`] for a row
/// masctl did not write.
pub async fn open(conn: &mut PgConnection) -> Result<Vec<EmergencyRecord>, LedgerError> {
    if !super::exists(conn).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT emergency_change_id, created_at, command, object_kind, object_id, object_name, value \
         FROM masctl.emergency_changes WHERE resolved_at IS NULL \
         ORDER BY created_at, emergency_change_id",
    )
    .fetch_all(conn)
    .await
    .map_err(LedgerError::query(TABLE))?;
    rows.into_iter().map(to_record).collect()
}

fn to_record(row: Row) -> Result<EmergencyRecord, LedgerError> {
    let (id, created_at, command, kind, object_id, name, Json(value)) = row;
    let malformed = |reason: String| LedgerError::Malformed {
        id: id.to_string(),
        reason,
    };
    let object_id = ids::from_uuid(object_id);
    let object = match kind.as_str() {
        "user" => EmergencyObject::User {
            id: UserId(object_id),
            username: name,
        },
        "registration_token" => EmergencyObject::RegistrationToken {
            id: object_id,
            token: name,
        },
        other => return Err(malformed(format!("unknown object kind `{other}`"))),
    };
    let value: EmergencyValue = serde_json::from_value(value)
        .map_err(|error| malformed(format!("unreadable value: {error}")))?;
    Ok(EmergencyRecord {
        id: ids::from_uuid(id),
        created_at,
        change: EmergencyChange {
            command,
            object,
            value,
        },
    })
}

/// Closes open records with the given resolutions (records already closed are left alone).
///
/// # Errors
/// [`LedgerError::Query`] when the table cannot be written.
pub async fn resolve(
    conn: &mut PgConnection,
    env: &Env,
    resolutions: &[(Ulid, Resolution)],
) -> Result<u64, LedgerError> {
    if resolutions.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = resolutions
        .iter()
        .map(|(id, _)| ids::to_uuid(*id))
        .collect();
    let how: Vec<&str> = resolutions.iter().map(|(_, r)| r.as_str()).collect();
    sqlx::query(
        "UPDATE masctl.emergency_changes AS e SET resolved_at = $3, resolution = r.resolution \
         FROM UNNEST($1::uuid[], $2::text[]) AS r(id, resolution) \
         WHERE e.emergency_change_id = r.id AND e.resolved_at IS NULL",
    )
    .bind(&ids)
    .bind(&how)
    .bind(env.now())
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
    .map_err(LedgerError::query(TABLE))
}
