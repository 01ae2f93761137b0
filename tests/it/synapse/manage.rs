//! `masctl manage register-user` and `manage issue-compatibility-token` against a real Synapse:
//! a localpart Synapse reports as taken is refused with nothing written, a free one registers,
//! and a compatibility token's device is created in Synapse before the token is stored.

use std::process::{Command, Output};

use super::{localpart, shared};
use crate::common::{dump, TestDb};

/// Runs `masctl manage ARGS --config config.yaml --database-url …` in `dir`.
fn manage(dir: &std::path::Path, db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_masctl"))
        .current_dir(dir)
        .arg("manage")
        .args(args)
        .arg("--config")
        .arg(dir.join("config.yaml"))
        .arg("--database-url")
        .arg(db.url())
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .env_remove("MAS_CONFIG")
        .output()
        .unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn register_user_asks_synapse_whether_the_localpart_is_free() {
    let Some(synapse) = shared() else { return };
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), synapse.matrix_config()).unwrap();
    let taken = localpart("manage", "taken");
    let free = localpart("manage", "free");
    // Synapse learns of `taken` the way MAS's worker would tell it: provision_user.
    synapse
        .client()
        .set_display_name(&taken, "Already Here")
        .await
        .unwrap();

    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let refused = manage(dir.path(), &db, &["register-user", &taken, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", describe(&refused));
    assert!(
        describe(&refused).contains("Username not available on homeserver"),
        "{}",
        describe(&refused)
    );
    assert_eq!(dump(&mut conn).await, before);

    let registered = manage(dir.path(), &db, &["register-user", &free, "--yes"]);
    assert_eq!(
        registered.status.code(),
        Some(0),
        "{}",
        describe(&registered)
    );
    let users: Vec<String> = sqlx::query_scalar("SELECT username FROM users")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(users, [free]);
}

#[tokio::test]
async fn issue_compatibility_token_creates_the_device_in_synapse() {
    let Some(synapse) = shared() else { return };
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), synapse.matrix_config()).unwrap();
    let user = localpart("manage", "compat");
    let registered = manage(dir.path(), &db, &["register-user", &user, "--yes"]);
    assert_eq!(
        registered.status.code(),
        Some(0),
        "{}",
        describe(&registered)
    );
    // MAS's worker would provision the new user; play it so that Synapse knows the user.
    synapse
        .client()
        .set_display_name(&user, "Compat User")
        .await
        .unwrap();

    let issued = manage(
        dir.path(),
        &db,
        &["issue-compatibility-token", &user, "MASCTLDEV1"],
    );
    assert_eq!(issued.status.code(), Some(0), "{}", describe(&issued));
    let token = String::from_utf8_lossy(&issued.stdout).trim().to_owned();
    assert!(
        masctl::tokens::is_valid_compat_access_token(&token),
        "{}",
        describe(&issued)
    );
    assert_eq!(synapse.devices(&user), ["MASCTLDEV1"]);

    let mut conn = db.connect().await;
    let (device, stored): (String, String) = sqlx::query_as(
        "SELECT s.device_id, t.access_token FROM compat_sessions s JOIN compat_access_tokens t USING (compat_session_id)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (device.as_str(), stored.as_str()),
        ("MASCTLDEV1", token.as_str())
    );
}
