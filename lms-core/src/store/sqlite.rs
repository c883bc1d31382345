//! The embedded default: one SQLite file (or memory), WAL, foreign keys on.
//!
//! SQLite allows one writer at a time. Every write step begins with
//! `BEGIN IMMEDIATE`, taking the write lock up front, so two steps never both
//! read and then fail to upgrade (the deadlock a deferred transaction risks);
//! the busy timeout makes the second writer wait instead of failing.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions,
    SqliteSynchronous, SqliteTransactionManager,
};
use sqlx::{ConnectOptions, Sqlite, SqlitePool, Transaction, TransactionManager};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::batch::Batcher;
use super::enrollment::ProgressWritten;
use super::migrations::{self, MigrationStatus};
use super::sql::enrollment::ProgressStep;
use super::sql::sql_store;
use super::{PoolStats, Store};

/// Prepared statements the writer connection keeps (see `connect`).
const WRITER_STATEMENTS: usize = 1024;

/// A store in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Writer,
    /// Write steps committed through this handle that may change what the
    /// core's read cache holds (see `Store::committed_writes`).
    writes: Arc<AtomicU64>,
    /// Progress steps waiting to be written together (see `store::batch`).
    progress: Batcher<ProgressStep, ProgressWritten>,
}

/// The one connection every write step goes through. SQLite lets one
/// writer in at a time; steps waiting here queue in order (the lock is
/// fair) and start as soon as the previous one commits, where connections
/// racing for the database's lock would sleep in SQLite's busy handler (up
/// to 100 ms a try).
///
/// A connection of its own rather than a pool of one: a pool pings each
/// returned connection, a round trip to its thread, before handing it out
/// again, and the next write step waited for that. One connection also
/// keeps its page cache warm; two taking turns each found theirs stale.
#[derive(Debug, Clone)]
enum Writer {
    Own(Arc<Mutex<SqliteConnection>>),
    /// `:memory:`: the pool's one connection is the database.
    Shared(SqlitePool),
}

/// A write step's transaction, begun with `BEGIN IMMEDIATE`; dropped
/// uncommitted, it rolls back. It derefs to the connection, like sqlx's
/// `Transaction`.
#[derive(Debug)]
pub(crate) enum WriteTx {
    Own(OwnTx),
    Shared(Transaction<'static, Sqlite>),
}

/// A transaction on the writer connection, holding it until done.
#[derive(Debug)]
pub(crate) struct OwnTx {
    /// Taken only by `Drop`, to roll back in a task of its own.
    conn: Option<OwnedMutexGuard<SqliteConnection>>,
    open: bool,
    /// Begun by a statement in our own text ([`SqliteStore::write_by_text`])
    /// rather than by the driver, which then does not know of it: it is
    /// committed and rolled back by statements too.
    by_text: bool,
    /// A call's text ended with the `COMMIT` ([`commit_text`]): once that
    /// call has succeeded, committing has nothing left to send.
    commit_sent: bool,
}

impl OwnTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("taken only when dropped")
    }

    async fn end(&mut self, end: End) -> std::result::Result<(), sqlx::Error> {
        if self.open {
            let (by_text, commit_sent) = (self.by_text, self.commit_sent);
            let conn = self.conn();
            match end {
                End::Commit if commit_sent => {}
                _ if by_text => {
                    sqlx::query(end.statement()).execute(conn).await?;
                }
                End::Commit => SqliteTransactionManager::commit(conn).await?,
                End::Rollback => SqliteTransactionManager::rollback(conn).await?,
            }
            self.open = false;
        }
        Ok(())
    }
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Commit,
    Rollback,
}

impl End {
    /// The statement that ends it, for a transaction begun by text.
    fn statement(self) -> &'static str {
        match self {
            End::Commit => "COMMIT",
            End::Rollback => "ROLLBACK",
        }
    }
}

impl WriteTx {
    /// Commits, sending what a statement text has not (see
    /// [`commit_text`]); should that fail, the transaction rolls back when
    /// dropped.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        match self {
            WriteTx::Own(mut tx) => tx.end(End::Commit).await,
            WriteTx::Shared(tx) => tx.commit().await,
        }
    }

    /// Rolls back now rather than when dropped.
    pub(crate) async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        match self {
            WriteTx::Own(mut tx) => tx.end(End::Rollback).await,
            WriteTx::Shared(tx) => tx.rollback().await,
        }
    }
}

impl Drop for OwnTx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        if !self.by_text {
            // Queued ahead of the next step's commands on the same connection.
            SqliteTransactionManager::start_rollback(self.conn());
            return;
        }
        // The driver cannot queue a statement without running it, so a task
        // holding the writer runs the rollback; the next step waits for it
        // on the (fair) lock. Outside a runtime nothing can run it; the
        // connection would stay in the transaction, so it is not let go.
        let mut conn = self.conn.take().expect("taken only when dropped");
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = sqlx::query(End::Rollback.statement())
                        .execute(&mut *conn)
                        .await;
                });
            }
            Err(_) => std::mem::forget(conn),
        }
    }
}

/// What ends a statement text to commit `tx` in the same call: `"; COMMIT"`
/// for a transaction begun by text, else nothing. Either way the step then
/// calls `tx.commit()`, which sends only what the text did not; should the
/// call fail first, the transaction rolls back as usual.
fn commit_text(tx: &mut WriteTx) -> &'static str {
    match tx {
        WriteTx::Own(tx) if tx.by_text && tx.open => {
            tx.commit_sent = true;
            "; COMMIT"
        }
        _ => "",
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            WriteTx::Own(tx) => tx.conn.as_ref().expect("taken only when dropped"),
            WriteTx::Shared(tx) => tx,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            WriteTx::Own(tx) => tx.conn(),
            WriteTx::Shared(tx) => tx,
        }
    }
}

impl SqliteStore {
    /// Opens (creating when missing, with its folder) the database at `url`
    /// (`sqlite://path/to/file.db`, `sqlite::memory:`) and applies migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// [`SqliteStore::open`] without applying migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| {
                Error::invalid_field("database_url", format!("is not a valid SQLite URL: {e}"))
            })?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let filename = options.get_filename().to_owned();
        let in_memory = url.contains(":memory:") || filename.as_os_str().is_empty();
        let (pool, writer) = if in_memory {
            // Every connection to `:memory:` is its own database: keep one,
            // for reads and writes alike.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            (pool.clone(), Writer::Shared(pool))
        } else {
            if let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::invalid_field(
                        "database_url",
                        format!("cannot create folder {}: {e}", dir.display()),
                    )
                })?;
            }
            // A 64 MiB page cache and memory-mapped reads per connection:
            // with SQLite's 2 MB default a catalog or course tree reads most
            // pages with a system call each. Temporary data in memory: a
            // multi-row write keeps a statement journal (the pages it
            // changes, to undo it alone), which past 64 KiB went to a file
            // created and deleted each time.
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma("cache_size", "-65536")
                .pragma("mmap_size", "268435456")
                .pragma("temp_store", "memory");
            // Batch statements differ in their number of rows, so the
            // writer keeps more prepared statements than the driver's 100:
            // with fewer, a batch's statements were mostly prepared anew.
            let writer = options
                .clone()
                .statement_cache_capacity(WRITER_STATEMENTS)
                .connect()
                .await?;
            let writer = Writer::Own(Arc::new(Mutex::new(writer)));
            // No ping before handing out a connection: it is a round trip
            // to the connection's thread that can only find that thread
            // gone, and it doubled the round trips of a one-statement read.
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            (pool, writer)
        };
        Ok(Self {
            pool,
            writer,
            writes: Arc::default(),
            progress: Batcher::default(),
        })
    }

    /// Applies the migrations not yet applied, each in its transaction.
    pub async fn migrate(&self) -> Result<()> {
        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// The connection pool, for hosts that add their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write(&self) -> Result<WriteTx> {
        const BEGIN: &str = "BEGIN IMMEDIATE";
        Ok(match &self.writer {
            Writer::Own(conn) => {
                let mut conn = conn.clone().lock_owned().await;
                SqliteTransactionManager::begin(&mut conn, Some(BEGIN.into())).await?;
                WriteTx::Own(OwnTx {
                    conn: Some(conn),
                    open: true,
                    by_text: false,
                    commit_sent: false,
                })
            }
            Writer::Shared(pool) => WriteTx::Shared(pool.begin_with(BEGIN).await?),
        })
    }

    /// A write step whose first call begins the transaction: it starts
    /// with the text returned, `BEGIN IMMEDIATE; ` on the writer
    /// connection. One round trip fewer, for the step every progress write
    /// waits on. The step is open as soon as the text is sent; should the
    /// `BEGIN` itself fail, the rollback finds nothing to undo.
    async fn write_by_text(&self) -> Result<(WriteTx, &'static str)> {
        Ok(match &self.writer {
            Writer::Own(conn) => {
                let conn = conn.clone().lock_owned().await;
                let tx = OwnTx {
                    conn: Some(conn),
                    open: true,
                    by_text: true,
                    commit_sent: false,
                };
                (WriteTx::Own(tx), "BEGIN IMMEDIATE; ")
            }
            Writer::Shared(_) => (self.write().await?, ""),
        })
    }

    /// Commits a step and counts it, so the read cache drops what it read
    /// before (counted even when the commit fails: it may have landed).
    /// Steps that change nothing cached commit the transaction directly.
    async fn commit(&self, tx: WriteTx) -> Result<()> {
        let done = tx.commit().await;
        self.writes.fetch_add(1, Ordering::Release);
        Ok(done?)
    }

    /// A write step sent as one text: what goes before it begins the
    /// transaction and what goes after commits it (see `write_by_text` and
    /// [`commit_text`]), so the step is one round trip. Committing the
    /// returned transaction then sends nothing more.
    async fn write_in_one_text(&self) -> Result<(OneText, &'static str, &'static str)> {
        let (mut tx, begin) = self.write_by_text().await?;
        let commit = commit_text(&mut tx);
        Ok((tx, begin, commit))
    }
}

/// The transaction of a write step sent as one text (see
/// [`SqliteStore::write_in_one_text`]).
pub(crate) type OneText = WriteTx;

/// Every write step already holds the database's write lock (`BEGIN
/// IMMEDIATE`), so reading a row to change it needs no row lock.
const FOR_UPDATE: &str = "";

/// A group's progress rows as JSON (see `sql::enrollment`); ids are blobs,
/// which JSON cannot hold, so they go as hex.
const PROGRESS_ROWS_JSON: &str = "json_group_array(json_array(hex(p.lecture_id), \
     p.completed_at, p.position_secs, p.updated_at))";

/// `first`, then `second`, in one call: the driver runs each statement of
/// a text in turn, and `$N` parameters number across them.
fn then(first: &str, second: &str) -> String {
    format!("{first}; {second}")
}

/// `change`, an `UPDATE … RETURNING` of one row at most, then each of
/// `inserts`, an `INSERT … SELECT … FROM changed`, as one text that answers
/// the row `change` returned.
///
/// SQLite has no writes in a `WITH`, so each insert reads the row again, by
/// `reread`, as `changed`, and only while the statement before it changed
/// a row (`changes()` counts the rows the last finished statement changed):
/// first the update, then each insert, one row for one. An update that
/// matched no row thus inserts nothing.
fn changed_then(change: &str, reread: &str, inserts: &[&str]) -> String {
    let mut sql = change.to_owned();
    for insert in inserts {
        sql.push_str(&format!(
            "; WITH changed AS (SELECT * FROM ({reread}) WHERE changes() = 1) {insert}"
        ));
    }
    sql
}

/// The function that builds a JSON object from keys and values.
const JSON_OBJECT: &str = "json_object";

/// Writers are serialized, so events commit in id order without help.
const EVENT_ORDER: &str = "";

/// Times are stored as RFC 3339 UTC text with exactly six fractional digits,
/// so comparing the text compares the times.
fn ts(at: Timestamp) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Courses carrying the tag bound at `param`.
fn tag_match(param: &str) -> String {
    format!("EXISTS (SELECT 1 FROM json_each(courses.tags) WHERE json_each.value = {param})")
}
/// Courses matching the FTS5 query bound at `param`.
fn text_match(param: &str) -> String {
    format!("id IN (SELECT course_id FROM course_search WHERE course_search MATCH {param})")
}

/// Search words (letters and digits only) as an FTS5 query: every word
/// required, each as a prefix.
fn text_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let mut conn = self.pool.acquire().await?;
        migrations::status(&mut *conn, migrations::SQLITE).await
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

sql_store!(SqliteStore, Sqlite, sqlx::sqlite::SqliteRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_sort_as_text() {
        let a = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let b = a + chrono::Duration::microseconds(1);
        assert_eq!(ts(a), "2026-01-02T03:04:05.000000Z");
        assert!(ts(a) < ts(b));
    }

    #[tokio::test]
    async fn a_write_dropped_unfinished_rolls_back_and_frees_the_writer() {
        let path = std::env::temp_dir().join(format!("lms-writer-{}.db", uuid::Uuid::now_v7()));
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let table = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'scratch'";
        let create = "CREATE TABLE scratch (n INTEGER)";

        let mut tx = store.write().await.unwrap();
        sqlx::query(create).execute(&mut *tx).await.unwrap();
        drop(tx);
        let mut tx = tokio::time::timeout(Duration::from_secs(5), store.write())
            .await
            .expect("the writer is free again")
            .unwrap();
        let n: i64 = sqlx::query_scalar(table).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 0, "the dropped write rolled back");
        sqlx::query(create).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let n: i64 = sqlx::query_scalar(table)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 1, "the committed write is seen by readers");

        // The same for a transaction begun and committed by statements.
        let insert = "INSERT INTO scratch (n) VALUES (7)";
        let count = "SELECT COUNT(*) FROM scratch";
        let (mut tx, begin) = store.write_by_text().await.unwrap();
        sqlx::query(&format!("{begin}{insert}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        let (mut tx, begin) = tokio::time::timeout(Duration::from_secs(5), store.write_by_text())
            .await
            .expect("the writer is free again")
            .unwrap();
        let n: i64 = sqlx::query_scalar(&format!("{begin}{count}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 0, "the dropped write rolled back");
        let commit = commit_text(&mut tx);
        assert_eq!(commit, "; COMMIT");
        sqlx::query(&format!("{insert}{commit}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let n: i64 = sqlx::query_scalar(count)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            n, 1,
            "the write committed by its own text is seen by readers"
        );
        // And the writer is not left in a transaction.
        let mut tx = store.write().await.unwrap();
        sqlx::query(insert).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
