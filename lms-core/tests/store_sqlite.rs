//! The store conformance suite on SQLite: a fresh database file per test.

use std::sync::Arc;

use lms_core::Store;
use lms_core::store::SqliteStore;

fn fresh_url() -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sqlite-conformance")
        .join(format!("{}.db", uuid::Uuid::now_v7()));
    format!("sqlite://{}", path.display())
}

async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&fresh_url())
            .await
            .expect("open SQLite store"),
    )
}

lms_core::store_conformance_tests!(fresh_store);

#[tokio::test]
async fn an_in_memory_store_works_and_keeps_its_data() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    lms_core::store::conformance::a_created_user_reads_back_by_id_and_email(Arc::new(store)).await;
}

#[tokio::test]
async fn the_event_log_refuses_edits() {
    let sqlite = SqliteStore::open(&fresh_url()).await.unwrap();
    sqlx::query(
        "INSERT INTO events (kind, subject_type, subject_id, actor_kind, payload, created_at) \
         VALUES ('x', 'user', x'00', 'system', '{}', '2026-01-01T00:00:00.000000Z')",
    )
    .execute(sqlite.pool())
    .await
    .unwrap();
    assert!(
        sqlx::query("UPDATE events SET kind = 'y'")
            .execute(sqlite.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM events")
            .execute(sqlite.pool())
            .await
            .is_err()
    );
}
