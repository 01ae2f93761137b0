//! [`canonical`]: a database in a form in which two fully applied runs compare equal although
//! their ids, timestamps and salts differ, while any missing, extra or half-written row still
//! shows. The kill sweep compares every killed run's database with an undisturbed run's.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use sqlx::{PgConnection, Row};

/// A database's rows with run-specific values replaced: user ids by `user:NAME` (also inside
/// job payloads), other ids by `<id>`, timestamps by `<time>`, hashes by `<hash>`. Rows are
/// sorted per table and duplicates kept, so two equal canonical forms mean the same rows.
pub(crate) type Canonical = BTreeMap<String, Vec<Vec<String>>>;

/// Returns the canonical form of every non-empty table (see [`Canonical`]).
pub(crate) async fn canonical(conn: &mut PgConnection) -> Canonical {
    let users: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT user_id::text, username FROM users")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let mut out = Canonical::new();
    for table in tables(conn).await {
        let (columns, rows) = table_rows(conn, &table).await;
        let mut canonical: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| {
                columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| canonical_value(column, value, &users))
                    .collect()
            })
            .collect();
        if canonical.is_empty() {
            continue;
        }
        canonical.sort();
        out.insert(table, canonical);
    }
    out
}

fn canonical_value(column: &str, value: Option<String>, users: &HashMap<String, String>) -> String {
    let Some(value) = value else {
        return "~".to_owned();
    };
    if let Some(name) = users.get(&value) {
        return format!("user:{name}");
    }
    if column == "payload" {
        return canonical_payload(&value, users);
    }
    if column == "hashed_password" {
        return "<hash>".to_owned();
    }
    if column.ends_with("_id") {
        return "<id>".to_owned();
    }
    if column.ends_with("_at") {
        return "<time>".to_owned();
    }
    value
}

/// Job payloads name users by ULID: map them to names too.
fn canonical_payload(payload: &str, users: &HashMap<String, String>) -> String {
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(payload) else {
        return payload.to_owned();
    };
    if let Some(id) = json.get_mut("user_id") {
        let name = id
            .as_str()
            .and_then(|ulid| ulid::Ulid::from_string(ulid).ok())
            .map(|ulid| masctl::ids::to_uuid(ulid).to_string())
            .and_then(|uuid| users.get(&uuid));
        *id = serde_json::Value::String(name.map_or_else(
            || "<unknown user>".to_owned(),
            |name| format!("user:{name}"),
        ));
    }
    json.to_string()
}

async fn tables(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Returns a table's column names and every row as text.
async fn table_rows(
    conn: &mut PgConnection,
    table: &str,
) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let casts: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
    let sql = format!(
        "SELECT ARRAY[{}]::text[] AS r FROM \"{table}\"",
        casts.join(", ")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("r"))
        .collect();
    (columns, rows)
}

/// Describes how two canonical forms differ (row counts per table, first differing row).
pub(crate) fn difference(expected: &Canonical, actual: &Canonical) -> String {
    let mut out = String::new();
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for name in names {
        let (want, got) = (expected.get(name), actual.get(name));
        if want == got {
            continue;
        }
        let (want, got) = (
            want.cloned().unwrap_or_default(),
            got.cloned().unwrap_or_default(),
        );
        let first = want.iter().zip(&got).find(|(a, b)| a != b);
        let _ = writeln!(
            out,
            "{name}: expected {} rows, found {}; first difference: {first:?}",
            want.len(),
            got.len()
        );
    }
    out
}
