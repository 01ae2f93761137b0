//! `masctl manage` verbs that change a user's state, flag or emails: lock-user, unlock-user,
//! promote-admin, demote-admin, add-email, and provision-all-users. Each test checks the rows
//! and jobs mas-cli v1.22 would leave (mas-facts §4, §5).

use serde_json::json;

use crate::common::{dump, TestDb};
use crate::manage::{
    assert_ids_encode_created_at, assert_jobs_are_mas_shaped, exec, insert_user, jobs, masctl,
    text, MasConfig,
};

#[tokio::test]
async fn lock_user_locks_and_provisions() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    let run = masctl(&db, &MasConfig::new(None), &["lock-user", "Alice"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ------- stderr -------
    - user alice
          admin: false
        - state: active
        + state: locked
        job: provision-user

    Plan: 0 to create, 0 to change, 1 to lock.
    Applied: 0 to create, 0 to change, 1 to lock.
    To keep this after the next `masctl apply`, change the manifest:
      users:
        alice:
          state: locked
    [exit status: 0]
    ");
    let locked = text(&mut conn, "SELECT locked_at::text FROM users").await;
    assert!(
        locked.is_some_and(|at| at.starts_with("20")),
        "locked_at set"
    );
    assert_eq!(
        text(&mut conn, "SELECT deactivated_at::text FROM users").await,
        None
    );
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        [(
            "provision-user".to_owned(),
            json!({"user_id": alice.to_string(), "set_display_name": null})
        )]
    );
    assert_jobs_are_mas_shaped(&mut conn).await;
}

#[tokio::test]
async fn lock_user_keeps_the_lock_time_and_deactivates_through_the_worker() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    exec(
        &mut conn,
        "UPDATE users SET locked_at = '2025-06-01T00:00:00Z'",
    )
    .await;
    let run = masctl(
        &db,
        &MasConfig::new(None),
        &["lock-user", "alice", "--deactivate"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_stderr_has("note: alice is already locked (since [TIME]); the lock time is kept");
    run.assert_stderr_has("      state: deactivated\n");
    // mas-cli leaves deactivated_at to MAS's worker.
    assert_eq!(
        text(
            &mut conn,
            "SELECT locked_at::text || ' ' || coalesce(deactivated_at::text, 'null') FROM users"
        )
        .await
        .as_deref(),
        Some("2025-06-01 00:00:00+00 null")
    );
    let user = alice.to_string();
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        [
            (
                "provision-user".to_owned(),
                json!({"user_id": user, "set_display_name": null})
            ),
            (
                "deactivate-user".to_owned(),
                json!({"user_id": user, "hs_erase": false})
            ),
        ]
    );
    assert_jobs_are_mas_shaped(&mut conn).await;
}

#[tokio::test]
async fn unlock_user_unlocks_and_reactivate_does_not() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    exec(
        &mut conn,
        "UPDATE users SET locked_at = created_at, deactivated_at = created_at",
    )
    .await;
    let config = MasConfig::new(None);

    let run = masctl(&db, &config, &["unlock-user", "alice", "--reactivate"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ------- stderr -------
    ~ user alice
          admin: false
        - state: deactivated
        + state: locked
        job: provision-user
        job: reactivate-user (MAS's worker clears deactivated_at; locked_at stays)

    note: alice stays locked: --reactivate does not unlock (run unlock-user without it)
    Plan: 0 to create, 1 to change.
    Applied: 0 to create, 1 to change.
    To keep this after the next `masctl apply`, change the manifest:
      users:
        alice:
          state: locked
    [exit status: 0]
    ");
    // Nothing on the row changes: the worker reactivates, and never unlocks.
    assert_eq!(
        text(
            &mut conn,
            "SELECT (locked_at IS NOT NULL)::text || (deactivated_at IS NOT NULL)::text FROM users"
        )
        .await
        .as_deref(),
        Some("truetrue")
    );
    let user = alice.to_string();
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        [
            (
                "provision-user".to_owned(),
                json!({"user_id": user, "set_display_name": null})
            ),
            ("reactivate-user".to_owned(), json!({"user_id": user})),
        ]
    );

    exec(
        &mut conn,
        "UPDATE users SET deactivated_at = NULL; DELETE FROM queue_jobs",
    )
    .await;
    let run = masctl(&db, &config, &["unlock-user", "alice"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_stderr_has("      state: active\n");
    assert_eq!(
        text(&mut conn, "SELECT locked_at::text FROM users").await,
        None
    );
    assert_eq!(jobs(&mut conn).await.len(), 1);
    assert_jobs_are_mas_shaped(&mut conn).await;
}

#[tokio::test]
async fn promote_and_demote_admin_only_set_the_flag() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let config = MasConfig::new(None);
    let run = masctl(&db, &config, &["promote-admin", "alice"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.ends_with("    alice:\n      admin: true\n"),
        "{}",
        run.stderr
    );
    assert_eq!(
        text(&mut conn, "SELECT can_request_admin::text FROM users")
            .await
            .as_deref(),
        Some("true")
    );

    // Already an admin: nothing to write.
    let before = dump(&mut conn).await;
    let run = masctl(&db, &config, &["promote-admin", "alice"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ------- stderr -------
    note: alice is already an admin
    Nothing to do.
    [exit status: 0]
    ");
    assert_eq!(dump(&mut conn).await, before);

    let run = masctl(&db, &config, &["demote-admin", "alice"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        text(&mut conn, "SELECT can_request_admin::text FROM users")
            .await
            .as_deref(),
        Some("false")
    );
    assert!(jobs(&mut conn).await.is_empty(), "no job, as with mas-cli");
}

#[tokio::test]
async fn add_email_stores_it_verbatim_and_provisions() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    let config = MasConfig::new(None);
    let run = masctl(&db, &config, &["add-email", "alice", "Alice@Example.ORG"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ------- stderr -------
    ~ user alice
          admin: false
          state: active
        + emails:
        + - Alice@Example.ORG
        job: provision-user

    Plan: 0 to create, 1 to change.
    Applied: 0 to create, 1 to change.
    To keep this after the next `masctl apply`, change the manifest:
      users:
        alice:
          emails:
          - Alice@Example.ORG
    (needed only if the manifest lists this user's `emails:`; without the key, apply leaves them alone)
    [exit status: 0]
    ");
    assert_eq!(
        text(
            &mut conn,
            &format!(
                "SELECT email FROM user_emails WHERE user_id = '{}'",
                masctl::ids::to_uuid(alice)
            )
        )
        .await
        .as_deref(),
        Some("Alice@Example.ORG")
    );
    assert_ids_encode_created_at(&mut conn, "user_emails", "user_email_id").await;
    assert_eq!(jobs(&mut conn).await.len(), 1);
    assert_jobs_are_mas_shaped(&mut conn).await;

    // The same address in another case: mas-cli's "already exists", exit 0, nothing written.
    let before = dump(&mut conn).await;
    let run = masctl(&db, &config, &["add-email", "alice", "alice@example.org"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_stderr_has("alice already has this email: Alice@Example.ORG");
    assert_eq!(dump(&mut conn).await, before);

    // An invalid address is a usage error.
    let run = masctl(&db, &config, &["add-email", "alice", "alice@exa mple.org"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    run.assert_stderr_has("not a valid email address: a space is not allowed in the domain");
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn provision_all_users_schedules_one_job_per_user() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let config = MasConfig::new(None);
    let run = masctl(&db, &config, &["provision-all-users"]).await;
    assert_eq!(run.snapshot(), "------- stderr -------\nnote: the database has no users\nNothing to do.\n[exit status: 0]\n");

    let mut users = Vec::new();
    for (offset, name) in ["alice", "bob", "carol"].into_iter().enumerate() {
        users.push(insert_user(&mut conn, name, i64::try_from(offset).unwrap()).await);
    }
    exec(&mut conn, "UPDATE users SET locked_at = created_at WHERE username = 'bob'; UPDATE users SET deactivated_at = created_at WHERE username = 'carol'").await;
    let run = masctl(&db, &config, &["provision-all-users"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ------- stderr -------
    ~ all users
        job: provision-user × 3 (every user, locked and deactivated ones included)

    Plan: 0 to create, 3 to change.
    Applied: 0 to create, 3 to change.
    Scheduled 3 provision-user jobs.
    [exit status: 0]
    ");
    let expected: Vec<_> = users
        .iter()
        .map(|user| {
            (
                "provision-user".to_owned(),
                json!({"user_id": user.to_string(), "set_display_name": null}),
            )
        })
        .collect();
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        expected
    );
    assert_jobs_are_mas_shaped(&mut conn).await;
}
