//! What the core's behaviour tests share: an `Lms` on a fresh SQLite file or
//! PostgreSQL schema, with a manual clock.

#![allow(dead_code)]

use std::sync::Arc;

use lms_core::store::conformance::{test_database_url, unique_schema};
use lms_core::store::{PostgresStore, SqliteStore};
use lms_core::{Actor, Config, Credentials, Lms, ManualClock, NewAccount, Role, Store, UserId};

/// A 32-byte signing secret for tests.
pub const SECRET: &str = "test-secret-0123456789abcdef-0123456789";

pub struct Harness {
    pub lms: Lms,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    raw: Raw,
    /// Where the store is, to open another handle on it.
    url: String,
    schema: Option<String>,
}

/// The store's own pool, for a test that must reach past the store steps.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Harness {
    /// Another handle on the same store, with another configuration.
    pub fn with_config(&self, config: Config) -> Lms {
        Lms::builder(config)
            .store(self.store.clone())
            .clock(self.clock.clone())
            .build()
            .unwrap()
    }

    /// Another instance on the same database: its own store handle (and
    /// so its own count of writes), as another server behind a load
    /// balancer has.
    pub async fn another_instance(&self, config: Config) -> Lms {
        let store: Arc<dyn Store> = match &self.raw {
            Raw::Sqlite(_) => Arc::new(SqliteStore::open(&self.url).await.unwrap()),
            Raw::Postgres(_) => Arc::new(
                PostgresStore::open(&self.url, self.schema.as_deref())
                    .await
                    .unwrap(),
            ),
        };
        Lms::builder(config)
            .store(store)
            .clock(self.clock.clone())
            .build()
            .unwrap()
    }

    /// Overwrites a user's stored password hash behind the store's back.
    pub async fn set_password_hash(&self, user: UserId, hash: &str) {
        let sql = "UPDATE users SET password_hash = $1 WHERE id = $2";
        let done = match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql)
                .bind(hash)
                .bind(user.0)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
            Raw::Postgres(pool) => sqlx::query(sql)
                .bind(hash)
                .bind(user.0)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
        };
        assert_eq!(done, 1, "no such user");
    }
}

pub fn config() -> Config {
    Config::with_jwt_secret(SECRET)
}

fn harness(store: Arc<dyn Store>, raw: Raw, url: String, schema: Option<String>) -> Harness {
    let clock = Arc::new(ManualClock::starting_now());
    let lms = Lms::builder(config())
        .store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    Harness {
        lms,
        clock,
        store,
        raw,
        url,
        schema,
    }
}

pub async fn sqlite() -> Harness {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("core-tests")
        .join(format!("{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url).await.unwrap();
    let raw = Raw::Sqlite(store.pool().clone());
    harness(Arc::new(store), raw, url, None)
}

pub async fn postgres() -> Harness {
    let (url, schema) = (test_database_url(), unique_schema());
    let store = PostgresStore::open(&url, Some(&schema)).await.unwrap();
    let raw = Raw::Postgres(store.pool().clone());
    harness(Arc::new(store), raw, url, Some(schema))
}

/// Runs each named `async fn(Harness)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::common::postgres().await).await;
                }
            )*
        }
    };
}

/// The password of every account `account` makes.
pub const PASSWORD: &str = "correct horse battery";

/// A new account with `role`, signed in: the actor its access token
/// authenticates as. Its display name is "Name of <local part>".
pub async fn account(h: &Harness, email: &str, role: Role) -> Actor {
    let name = format!("Name of {}", email.split('@').next().unwrap());
    let new = NewAccount {
        email: email.into(),
        password: PASSWORD.into(),
        display_name: name,
        role,
    };
    h.lms.create_user(&Actor::System, new).await.unwrap();
    let credentials = Credentials {
        email: email.into(),
        password: PASSWORD.into(),
    };
    let session = h.lms.login(credentials).await.unwrap();
    h.lms.authenticate(&session.access_token).await.unwrap()
}
