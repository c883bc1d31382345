//! The store conformance suite on PostgreSQL: a fresh schema per test in the
//! database `LMS_TEST_DATABASE_URL` names (which must be set).

use std::sync::Arc;

use lms_core::Store;
use lms_core::store::PostgresStore;
use lms_core::store::conformance::{test_database_url, unique_schema};

async fn fresh_store() -> Arc<dyn Store> {
    let schema = unique_schema();
    Arc::new(
        PostgresStore::open(&test_database_url(), Some(&schema))
            .await
            .expect("open PostgreSQL store"),
    )
}

lms_core::store_conformance_tests!(fresh_store);

#[tokio::test]
async fn two_schools_in_one_database_do_not_see_each_other() {
    let url = test_database_url();
    let a = PostgresStore::open(&url, Some(&unique_schema()))
        .await
        .unwrap();
    let b = PostgresStore::open(&url, Some(&unique_schema()))
        .await
        .unwrap();
    let a: Arc<dyn Store> = Arc::new(a);
    lms_core::store::conformance::a_created_user_reads_back_by_id_and_email(a.clone()).await;
    // The same e-mail is free in the other school, whose log is empty.
    lms_core::store::conformance::a_created_user_reads_back_by_id_and_email(Arc::new(b)).await;
}

#[tokio::test]
async fn the_event_log_refuses_edits() {
    let store = PostgresStore::open(&test_database_url(), Some(&unique_schema()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO events (kind, subject_type, subject_id, actor_kind, payload, created_at) VALUES ('x', 'user', gen_random_uuid(), 'system', '{}', now())")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        sqlx::query("UPDATE events SET kind = 'y'")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM events")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("TRUNCATE events")
            .execute(store.pool())
            .await
            .is_err()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 1);
}

/// Instances starting at once on a new school all open it, though each
/// finds the schema missing and tries to create it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_a_new_schema_all_open_it() {
    let schema = unique_schema();
    let opening: Vec<_> = (0..8)
        .map(|_| {
            let schema = schema.clone();
            tokio::spawn(async move {
                PostgresStore::open(&test_database_url(), Some(&schema))
                    .await
                    .map(drop)
            })
        })
        .collect();
    for open in opening {
        open.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_bad_schema_name_is_invalid_input() {
    let err = PostgresStore::open(&test_database_url(), Some("bad;name"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), lms_core::ErrorKind::InvalidInput);
    assert_eq!(err.fields()[0].field, "database_schema");
}
