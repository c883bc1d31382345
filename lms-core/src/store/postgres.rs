//! The production store: PostgreSQL, one pool, one schema per school.
//!
//! A school's schema is set as the connections' `search_path` startup
//! parameter, so every statement (and the migration table) lands in it with
//! no extra round trip, and two schools on one server never see each other.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, Transaction};

use super::batch::Batcher;
use super::enrollment::ProgressWritten;
use super::migrations::{self, MigrationStatus};
use super::sql::enrollment::ProgressStep;
use super::sql::sql_store;
use super::{PoolStats, Store};
use crate::config::valid_schema_name;

/// How long a pooled connection may sit idle and still be handed out
/// without a ping first (see `connect`).
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A store in a PostgreSQL database (and schema).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Write steps committed through this handle that may change what the
    /// core's read cache holds (see `Store::committed_writes`).
    writes: Arc<AtomicU64>,
    /// Progress steps waiting to be written together (see `store::batch`).
    progress: Batcher<ProgressStep, ProgressWritten>,
}

impl PostgresStore {
    /// Connects to `url`, creates `schema` when given and missing, and
    /// applies migrations in it.
    pub async fn open(url: &str, schema: Option<&str>) -> Result<Self> {
        let store = Self::connect(url, schema).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// [`PostgresStore::open`] without applying migrations.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::invalid_field(
                "database_url",
                format!("is not a valid PostgreSQL URL: {e}"),
            )
        })?;
        if let Some(schema) = schema {
            if !valid_schema_name(schema) {
                return Err(Error::invalid_field(
                    "database_schema",
                    "must be 1 to 63 lower-case letters, digits or '_', starting with a letter or '_'",
                ));
            }
            // The name is a checked plain identifier, so quoting is enough.
            let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
            let mut conn = options.connect().await?;
            // Two instances starting at once can both find the schema
            // missing; the slower one then fails on the catalog's unique
            // key. By then the schema exists, so one retry succeeds.
            if let Err(err) = sqlx::query(&create).execute(&mut conn).await {
                let raced = matches!(&err, sqlx::Error::Database(db) if db.is_unique_violation());
                if !raced {
                    return Err(err.into());
                }
                sqlx::query(&create).execute(&mut conn).await?;
            }
            conn.close().await?;
            options = options.options([("search_path", schema)]);
        }
        // The driver pings each connection when it comes back to the pool;
        // pinging it again when handed out is a second round trip that can
        // only find it gone if it sat idle since (the server restarted, a
        // proxy dropped it). So only a connection idle for a while is
        // pinged first.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writes: Arc::default(),
            progress: Batcher::default(),
        })
    }

    /// Applies the migrations not yet applied, each in its transaction.
    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator(migrations::POSTGRES)
            .await?
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// The connection pool, for hosts that add their own tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn write(&self) -> Result<WriteTx> {
        Ok(self.pool.begin().await?)
    }

    /// [`PostgresStore::write`]: a prepared statement holds one
    /// statement, so no `BEGIN` goes with the first (see the SQLite store).
    async fn write_by_text(&self) -> Result<(WriteTx, &'static str)> {
        Ok((self.write().await?, ""))
    }

    /// Commits a step and counts it, so the read cache drops what it read
    /// before (counted even when the commit fails: it may have landed).
    /// Steps that change nothing cached commit the transaction directly.
    async fn commit(&self, tx: WriteTx) -> Result<()> {
        let done = tx.commit().await;
        self.writes.fetch_add(1, Ordering::Release);
        Ok(done?)
    }

    /// A write step sent as one text, which `changed_then` makes one
    /// statement here: a statement is atomic alone, so it runs on a pooled
    /// connection with no transaction around it, saving the `BEGIN` and
    /// `COMMIT` round trips. Nothing goes before or after the text.
    async fn write_in_one_text(&self) -> Result<(OneText, &'static str, &'static str)> {
        Ok((OneText(self.pool.acquire().await?), "", ""))
    }
}

/// A write step's transaction.
pub(crate) type WriteTx = Transaction<'static, Postgres>;

/// The connection of a write step sent as one statement (see
/// [`PostgresStore::write_in_one_text`]).
#[derive(Debug)]
pub(crate) struct OneText(PoolConnection<Postgres>);

impl OneText {
    /// Nothing to send: the statement committed itself.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }
}

impl Deref for OneText {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for OneText {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// Locks the row read, so no other transaction changes it before this
/// one's update.
///
/// `NO KEY UPDATE` rather than `UPDATE`: our updates never change a key, and
/// the weaker lock does not block the `KEY SHARE` locks that foreign-key
/// checks take. With `FOR UPDATE`, a transaction inserting a row that
/// references a locked course or coupon (a new order, say) would wait on the
/// locker while holding its own key locks, which a locker taking a second
/// row could then wait on in turn: a deadlock.
const FOR_UPDATE: &str = " FOR NO KEY UPDATE";

/// A group's progress rows as JSON (see `sql::enrollment`).
const PROGRESS_ROWS_JSON: &str =
    "json_agg(json_build_array(p.lecture_id, p.completed_at, p.position_secs, p.updated_at))";

/// Nothing: a commit cannot go in a prepared statement (see the SQLite
/// store's `commit_text`).
fn commit_text(_: &mut WriteTx) -> &'static str {
    ""
}

/// `first`, then `second`, as one statement: a prepared statement holds
/// one, so `first` goes in a `WITH`. The two see the same snapshot, so
/// `second` must not read what `first` writes.
fn then(first: &str, second: &str) -> String {
    format!("WITH first AS ({first}) {second}")
}

/// `change`, an `UPDATE … RETURNING` of one row at most, then each of
/// `inserts`, an `INSERT … SELECT … FROM changed` reading the row `change`
/// returned, as one statement that answers that row. (`reread`, the row
/// read again, is for SQLite, which has no writes in a `WITH`.)
///
/// The main query reads `changed`, so the update runs first, taking its
/// row lock; the inserts, which nothing reads, run after it, at the
/// statement's end. An event insert thus takes the event-order lock after
/// the row lock, as it does as the last statement of a transaction.
fn changed_then(change: &str, _reread: &str, inserts: &[&str]) -> String {
    let mut sql = format!("WITH changed AS ({change})");
    for (n, insert) in inserts.iter().enumerate() {
        sql.push_str(&format!(", insert{n} AS ({insert})"));
    }
    sql.push_str(" SELECT * FROM changed");
    sql
}

/// The function that builds a JSON object from keys and values.
const JSON_OBJECT: &str = "jsonb_build_object";

/// Taken by every event insert before its rows, held until the commit:
/// the event-order lock.
///
/// An identity column hands out ids at insert time, but transactions commit
/// in their own order, so without it a reader could see event 8 committed
/// while 7 is still in flight, move its cursor past 7 and never see it.
/// Under this lock the id is drawn and the transaction commits before the
/// next writer may draw one, so ids become visible in order and a cursor
/// never skips one.
///
/// A condition on the insert's rows rather than a statement of its own, to
/// save a round trip: PostgreSQL evaluates the uncorrelated subquery once,
/// as a one-time filter before it reads the first row, so the lock is taken
/// before any id is drawn.
///
/// The cost: transactions that write events serialize at their end. Every
/// step inserts its event as its last statement, so the lock is held only
/// from that insert to the commit (one round trip). The second key is the
/// `events` table's oid, so each schema (school) has its own lock.
const EVENT_ORDER: &str = " WHERE (SELECT 1 FROM \
     pg_advisory_xact_lock(7263, 'events'::regclass::oid::int4)) = 1";

fn ts(at: Timestamp) -> Timestamp {
    at
}

/// Courses carrying the tag bound at `param`.
fn tag_match(param: &str) -> String {
    format!("tags @> jsonb_build_array(CAST({param} AS TEXT))")
}
/// Courses matching the `tsquery` bound at `param`.
fn text_match(param: &str) -> String {
    format!("search @@ to_tsquery('simple', {param})")
}

/// Search words (letters and digits only) as a tsquery: every word
/// required, each as a prefix.
fn text_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("{w}:*"))
        .collect::<Vec<_>>()
        .join(" & ")
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let mut conn = self.pool.acquire().await?;
        migrations::status(&mut *conn, migrations::POSTGRES).await
    }

    async fn apply_migrations(&self) -> Result<()> {
        self.migrate().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn stats(&self) -> Result<super::Stats> {
        stats_of(&self.pool).await
    }

    fn committed_writes(&self) -> Option<u64> {
        Some(self.writes.load(Ordering::Acquire))
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }
}

sql_store!(PostgresStore, Postgres, sqlx::postgres::PgRow);
