//! The embedded default: one SQLite file (or memory), WAL, foreign keys on.
//!
//! SQLite allows one writer at a time. Every write step begins with
//! `BEGIN IMMEDIATE`, taking the write lock up front, so two steps never both
//! read and then fail to upgrade (the deadlock a deferred transaction risks);
//! the busy timeout makes the second writer wait instead of failing.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::batch::Batcher;
use super::enrollment::ProgressWritten;
use super::migrations::{self, MigrationStatus};
use super::sql::enrollment::ProgressStep;
use super::sql::sql_store;
use super::{PoolStats, Store};

/// A store in an SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for every write step. SQLite lets one writer in at a
    /// time; steps waiting here queue in order and start as soon as the
    /// previous one commits, where connections racing for the lock would
    /// sleep in SQLite's busy handler (up to 100 ms a try).
    writer: SqlitePool,
    /// Write steps committed through this handle that may change what the
    /// core's read cache holds (see `Store::committed_writes`).
    writes: Arc<AtomicU64>,
    /// Progress steps waiting to be written together (see `store::batch`).
    progress: Batcher<ProgressStep, ProgressWritten>,
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
            (pool.clone(), pool)
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
            // pages with a system call each.
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma("cache_size", "-65536")
                .pragma("mmap_size", "268435456");
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
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

    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Commits a step and counts it, so the read cache drops what it read
    /// before (counted even when the commit fails: it may have landed).
    /// Steps that change nothing cached commit the transaction directly.
    async fn commit(&self, tx: Transaction<'_, Sqlite>) -> Result<()> {
        let done = tx.commit().await;
        self.writes.fetch_add(1, Ordering::Release);
        Ok(done?)
    }
}

/// Every write step already holds the database's write lock (`BEGIN
/// IMMEDIATE`), so reading a row to change it needs no row lock.
const FOR_UPDATE: &str = "";

/// A group's progress rows as JSON (see `sql::enrollment`); ids are blobs,
/// which JSON cannot hold, so they go as hex.
const PROGRESS_ROWS_JSON: &str =
    "json_group_array(json_array(hex(p.lecture_id), p.completed_at, p.position_secs))";

/// Writers are serialized, so events commit in id order without help.
const BEFORE_EVENT: Option<&str> = None;

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
}
