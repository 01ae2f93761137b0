//! Pruning through the CLI: guards refuse with exit 4 naming the guard and the count,
//! `--allow-destructive` overrides them, an empty kind is never pruned, and with pruning off
//! the plan says what it leaves alone.

use super::support::Workspace;
use crate::common::{dump, TestDb};

const FIVE_USERS: &str = "version: 1
users: { ann: {}, ben: {}, cat: {}, dan: {}, eve: {} }
registration_tokens: [{ token: t1 }, { token: t2 }]
";

async fn five_users(db: &TestDb) -> Workspace {
    let ws = Workspace::new(db);
    ws.write("all.yaml", FIVE_USERS);
    let seeded = ws.masctl(&["apply", "all.yaml", "--yes"], &[]);
    assert_eq!(seeded.code, 0, "{seeded:?}");
    ws
}

#[tokio::test]
async fn a_guard_refuses_pruning_until_allowed() {
    let db = TestDb::new().await;
    let ws = five_users(&db).await;
    ws.write(
        "one.yaml",
        "version: 1\nusers: { ann: {} }\nregistration_tokens: [{ token: t1 }, { token: t2 }]\n\
         prune: { users: lock }\nguards: { max_locks: 2 }\n",
    );
    let plan = ws.masctl(&["plan", "one.yaml"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to change, 4 to lock."),
        "{plan:?}"
    );
    assert!(
        plan.stderr.contains("apply will refuse this plan: guard max_locks refused the plan: 4 locks planned, the limit is 2"),
        "{plan:?}"
    );
    let markdown = ws.masctl(&["plan", "one.yaml", "--output", "markdown"], &[]);
    assert!(
        markdown
            .stdout
            .contains("> [!CAUTION]\n> apply will refuse this plan: guard max\\_locks"),
        "{markdown:?}"
    );

    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let refused = ws.masctl(&["apply", "one.yaml", "--yes"], &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    insta::assert_snapshot!("max_locks_refusal", refused.stderr);
    assert_eq!(dump(&mut conn).await, before);

    let allowed = ws.masctl(&["apply", "one.yaml", "--yes", "--allow-destructive"], &[]);
    assert_eq!(allowed.code, 0, "{allowed:?}");
    let locked: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE locked_at IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(locked, 4);
    let again = ws.masctl(&["plan", "one.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(again.code, 0, "{again:?}");
}

#[tokio::test]
async fn the_percentage_guard_counts_objects() {
    let db = TestDb::new().await;
    let ws = five_users(&db).await;
    ws.write(
        "three.yaml",
        "version: 1\nusers: { ann: {}, ben: {}, cat: {} }\nregistration_tokens: [{ token: t1 }]\n\
         prune: { users: deactivate, registration_tokens: revoke }\n\
         guards: { max_destructive_percent: 30, max_deactivations: 5 }\n",
    );
    // 2 deactivations and 1 revocation of 7 objects: 42.9% > 30%.
    let refused = ws.masctl(&["apply", "three.yaml", "--yes"], &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    // A saved plan whose object count was inflated by hand is judged on the database's count.
    assert_eq!(
        ws.masctl(&["plan", "three.yaml", "-o", "plan.json"], &[])
            .code,
        0
    );
    let tampered = ws
        .read("plan.json")
        .replace("\"managed_objects\": 7", "\"managed_objects\": 7000");
    assert!(tampered.contains("7000"));
    ws.write("plan.json", &tampered);
    let still = ws.masctl(
        &["apply", "--plan", "plan.json", "three.yaml", "--yes"],
        &[],
    );
    assert_eq!(still.code, 4, "{still:?}");
    insta::assert_snapshot!("max_destructive_percent_refusal", refused.stderr);
    let allowed = ws.masctl(
        &["apply", "three.yaml", "--yes", "--allow-destructive"],
        &[],
    );
    assert_eq!(allowed.code, 0, "{allowed:?}");
    assert!(
        allowed.stdout.contains("2 to deactivate, 1 to revoke"),
        "{allowed:?}"
    );
}

#[tokio::test]
async fn pruning_a_kind_the_manifest_does_not_list_is_always_refused() {
    let db = TestDb::new().await;
    let ws = five_users(&db).await;
    // The users file went missing; only the tokens file is left.
    ws.write(
        "tokens.yaml",
        "version: 1\nregistration_tokens: [{ token: t1 }, { token: t2 }]\nprune: { users: deactivate }\n",
    );
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let refused = ws.masctl(
        &["apply", "tokens.yaml", "--yes", "--allow-destructive"],
        &[],
    );
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("refusing to prune users with a manifest that lists none"),
        "{refused:?}"
    );
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn without_pruning_the_plan_names_what_it_leaves_alone() {
    let db = TestDb::new().await;
    let ws = five_users(&db).await;
    ws.write("one.yaml", "version: 1\nusers: { ann: {} }\n");
    let plan = ws.masctl(&["plan", "one.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");
    insta::assert_snapshot!("left_alone", plan.stdout);
}
