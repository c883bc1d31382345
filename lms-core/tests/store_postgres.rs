//! The store conformance suite on PostgreSQL: a fresh schema per test in the
//! database `LMS_TEST_DATABASE_URL` names (which must be set).

use std::sync::Arc;
use std::time::Duration;

use lms_core::domain::Email;
use lms_core::store::conformance::{t0, test_database_url, unique_schema};
use lms_core::store::{AccountStore, EventStore, NewUser, PostgresStore};
use lms_core::{Actor, EventQuery, Role, Store, UserId};
use sqlx::Connection;

async fn fresh_store() -> Arc<dyn Store> {
    let schema = unique_schema();
    Arc::new(
        PostgresStore::open(&test_database_url(), Some(&schema))
            .await
            .expect("open PostgreSQL store"),
    )
}

lms_core::store_conformance_tests!(fresh_store);

/// A new student account (the password hash is never checked here).
fn ada() -> NewUser {
    NewUser {
        id: UserId::new(),
        email: Email::parse("email", "ada@example.com").unwrap(),
        display_name: "Ada".into(),
        password_hash: "$argon2id$not-checked".into(),
        role: Role::Student,
    }
}

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

/// Event ids are drawn when the row is inserted, but transactions commit
/// in their own order. If a later id could commit first, a reader paging by
/// id would move past the earlier one and never see it. So a step's event
/// insert takes the event-order lock before it draws an id, and an earlier
/// writer holds that lock until its commit: the reader sees neither event,
/// then both in commit order, never a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_writer_waits_until_the_one_before_it_commits() {
    let store = Arc::new(
        PostgresStore::open(&test_database_url(), Some(&unique_schema()))
            .await
            .unwrap(),
    );
    // An earlier writer: it has taken the lock, as a store step does when
    // it inserts its event, and has not committed yet.
    let mut earlier = store.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(7263, 'events'::regclass::oid::int4)")
        .execute(&mut *earlier)
        .await
        .unwrap();

    let step = tokio::spawn({
        let store = store.clone();
        async move { store.create_user(ada(), None, Actor::System, t0()).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !step.is_finished(),
        "the step committed its event before an earlier event writer did"
    );
    let seen = store.events(&EventQuery::default()).await.unwrap();
    assert!(seen.is_empty(), "{seen:?}");

    // The earlier writer draws its id only now: a step that drew its own
    // before waiting for the lock would hold the smaller id and commit
    // second, the gap a reader must never see.
    let first: i64 = sqlx::query_scalar(
        "INSERT INTO events (kind, subject_type, subject_id, actor_kind, payload, created_at) \
         VALUES ('test.earlier', 'user', gen_random_uuid(), 'system', '{}', now()) RETURNING id",
    )
    .fetch_one(&mut *earlier)
    .await
    .unwrap();
    earlier.commit().await.unwrap();
    step.await.unwrap().unwrap();
    let seen = store.events(&EventQuery::default()).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].id, seen[0].kind.as_str()), (first, "test.earlier"));
    assert!(seen[1].id > first);
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

/// A connection the server dropped while it sat in the pool (a restart, a
/// proxy's idle cut) is pinged before it is handed out again, found gone
/// and replaced: the next step succeeds.
#[tokio::test]
async fn a_connection_dropped_while_idle_is_replaced_before_use() {
    let store = PostgresStore::open(&test_database_url(), Some(&unique_schema()))
        .await
        .unwrap();
    store.ping().await.unwrap();
    // Every connection the pool holds, taken at once to learn their pids.
    let mut held = Vec::new();
    for _ in 0..store.pool().size() {
        held.push(store.pool().acquire().await.unwrap());
    }
    let mut pids = Vec::new();
    for conn in &mut held {
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        pids.push(pid);
    }
    drop(held);
    let mut killer = sqlx::PgConnection::connect(&test_database_url())
        .await
        .unwrap();
    for pid in &pids {
        let done: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut killer)
            .await
            .unwrap();
        assert!(done, "backend {pid} was not terminated");
    }
    // Idle long enough to be pinged on the way out of the pool.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    store.ping().await.unwrap();
    store
        .create_user(ada(), None, Actor::System, t0())
        .await
        .unwrap();
}
