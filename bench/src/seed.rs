//! Writes the data set into SQLite or PostgreSQL, or finds it already there.
//!
//! The store is opened through [`lms_core::Lms::open`] first, so the core's
//! own migrations create the schema (tables, checks, the append-only event
//! triggers, the FTS5 table and its triggers, the generated `tsvector`); the
//! rows then go in through sqlx as multi-row inserts inside one transaction,
//! which is what makes two million rows take seconds rather than hours.
//!
//! A seeded store is kept: the next run counts its rows and checks the
//! shared password against the stored hash, and reuses it when both match.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lms_core::{Config, Lms, Secret};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, PgPool, SqlitePool};

use crate::argon;
use crate::dataset::{self, DataSet, PASSWORD, Scale, Table, Value};

/// Where the data set lives.
#[derive(Debug, Clone)]
pub enum Target {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A schema in a PostgreSQL database (created when missing).
    Postgres { url: String, schema: String },
}

impl Target {
    /// The `LMS_DATABASE_URL` of this target.
    pub fn database_url(&self) -> String {
        match self {
            Target::Sqlite(path) => format!("sqlite://{}", path.display()),
            Target::Postgres { url, .. } => url.clone(),
        }
    }

    /// The `LMS_DATABASE_SCHEMA` of this target.
    pub fn schema(&self) -> Option<&str> {
        match self {
            Target::Sqlite(_) => None,
            Target::Postgres { schema, .. } => Some(schema),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The store already held this data set.
    Reused,
    /// The data set was written, in this long.
    Seeded(Duration),
}

/// Row counts of the tables that define a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub courses: i64,
    pub sections: i64,
    pub lectures: i64,
    pub enrollments: i64,
    pub events: i64,
}

impl Counts {
    fn expected(scale: Scale) -> (i64, i64, i64, i64, i64) {
        let courses = scale.courses as i64;
        let sections = courses * scale.sections_per_course as i64;
        (
            scale.users as i64,
            courses,
            sections,
            sections * scale.lectures_per_section as i64,
            scale.enrollments as i64,
        )
    }

    /// Whether these are the counts of `scale`.
    pub fn match_scale(&self, scale: Scale) -> bool {
        (
            self.users,
            self.courses,
            self.sections,
            self.lectures,
            self.enrollments,
        ) == Self::expected(scale)
    }

    fn empty(&self) -> bool {
        self.users == 0 && self.courses == 0 && self.events == 0
    }
}

const COUNTS_SQL: &str = "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM courses), \
     (SELECT COUNT(*) FROM sections), (SELECT COUNT(*) FROM lectures), \
     (SELECT COUNT(*) FROM enrollments), (SELECT COUNT(*) FROM events)";

const HASH_SQL: &str = "SELECT password_hash FROM users WHERE email = $1";

enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

fn db_error(what: &str) -> impl Fn(sqlx::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Db {
    async fn connect(target: &Target) -> Result<Self, String> {
        match target {
            Target::Sqlite(_) => {
                let options = SqliteConnectOptions::from_str(&target.database_url())
                    .map_err(db_error("sqlite url"))?
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // Only for this bulk load: a crash mid-seed means reseeding
                    // anyway, so waiting for the disk buys nothing.
                    .synchronous(SqliteSynchronous::Off);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(db_error("opening the SQLite file"))?;
                Ok(Db::Sqlite(pool))
            }
            Target::Postgres { url, schema } => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(db_error("postgres url"))?
                    .options([("search_path", schema.as_str())]);
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(db_error("connecting to PostgreSQL"))?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    async fn counts(&self) -> Result<Counts, String> {
        let row: (i64, i64, i64, i64, i64, i64) = match self {
            Db::Sqlite(pool) => sqlx::query_as(COUNTS_SQL).fetch_one(pool).await,
            Db::Postgres(pool) => sqlx::query_as(COUNTS_SQL).fetch_one(pool).await,
        }
        .map_err(db_error("counting rows"))?;
        Ok(Counts {
            users: row.0,
            courses: row.1,
            sections: row.2,
            lectures: row.3,
            enrollments: row.4,
            events: row.5,
        })
    }

    async fn stored_hash(&self) -> Result<Option<String>, String> {
        let email = dataset::learner_email(0);
        let hash: Option<Option<String>> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar(HASH_SQL)
                    .bind(&email)
                    .fetch_optional(pool)
                    .await
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(HASH_SQL)
                    .bind(&email)
                    .fetch_optional(pool)
                    .await
            }
        }
        .map_err(db_error("reading a password hash"))?;
        Ok(hash.flatten())
    }

    async fn write(&self, data: &DataSet) -> Result<(), String> {
        match self {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await.map_err(db_error("begin"))?;
                for table in &data.tables {
                    insert_sqlite(&mut tx, table)
                        .await
                        .map_err(|e| format!("inserting into {}: {e}", table.name))?;
                }
                tx.commit().await.map_err(db_error("commit"))
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(db_error("begin"))?;
                for table in &data.tables {
                    insert_postgres(&mut tx, table)
                        .await
                        .map_err(|e| format!("inserting into {}: {e}", table.name))?;
                }
                tx.commit().await.map_err(db_error("commit"))?;
                // What autovacuum would do within a minute of a bulk load:
                // without statistics and a visibility map the first plans
                // would be those of an empty database.
                sqlx::query("VACUUM ANALYZE")
                    .execute(pool)
                    .await
                    .map_err(db_error("VACUUM ANALYZE"))?;
                Ok(())
            }
        }
    }

    async fn close(self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// `INSERT INTO table (columns) VALUES ($1, ...), ... ` for `rows` rows,
/// with `mark` (`$` or `?`) before each parameter number.
///
/// SQLite reads `$1` as a parameter *named* "$1"; `?1` is its plain numbered
/// form. PostgreSQL only knows `$1`.
fn insert_sql(table: &Table, rows: usize, mark: char) -> String {
    let width = table.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        table.name,
        table.columns.join(", ")
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push(mark);
            sql.push_str(&(r * width + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// Rows per statement: as many as `max_params` parameters allow, capped so
/// one statement stays small.
fn rows_per_statement(table: &Table, max_params: usize) -> usize {
    (max_params / table.columns.len()).clamp(1, 4_000)
}

/// The core stores SQLite times as RFC 3339 text with six fractional digits.
fn sqlite_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite<'q>(q: SqliteQuery<'q>, v: &'q Value) -> SqliteQuery<'q> {
    match v {
        Value::Uuid(u) => q.bind(*u),
        Value::OptUuid(u) => q.bind(*u),
        Value::Text(s) => q.bind(s.as_str()),
        Value::OptText(s) => q.bind(s.as_deref()),
        Value::Int(i) => q.bind(*i),
        Value::OptInt(i) => q.bind(*i),
        Value::Bool(b) => q.bind(*b),
        Value::Time(t) => q.bind(sqlite_time(*t)),
        Value::OptTime(t) => q.bind(t.map(sqlite_time)),
        Value::Json(j) => q.bind(sqlx::types::Json(j)),
    }
}

fn bind_postgres<'q>(q: PgQuery<'q>, v: &'q Value) -> PgQuery<'q> {
    match v {
        Value::Uuid(u) => q.bind(*u),
        Value::OptUuid(u) => q.bind(*u),
        Value::Text(s) => q.bind(s.as_str()),
        Value::OptText(s) => q.bind(s.as_deref()),
        Value::Int(i) => q.bind(*i),
        Value::OptInt(i) => q.bind(*i),
        Value::Bool(b) => q.bind(*b),
        Value::Time(t) => q.bind(*t),
        Value::OptTime(t) => q.bind(*t),
        Value::Json(j) => q.bind(sqlx::types::Json(j)),
    }
}

async fn insert_sqlite(
    conn: &mut sqlx::SqliteConnection,
    table: &Table,
) -> Result<(), sqlx::Error> {
    let width = table.columns.len();
    // sqlx looks each parameter's name up by index, and SQLite's lookup is
    // linear in the statement's parameters: binding is quadratic in the
    // statement size, so SQLite gets many small statements instead.
    let per = rows_per_statement(table, 250);
    let full = insert_sql(table, per, '?');
    for chunk in table.values.chunks(per * width) {
        let rows = chunk.len() / width;
        let partial;
        let sql = if rows == per {
            &full
        } else {
            partial = insert_sql(table, rows, '?');
            &partial
        };
        let mut q = sqlx::query(sql);
        for v in chunk {
            q = bind_sqlite(q, v);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_postgres(conn: &mut sqlx::PgConnection, table: &Table) -> Result<(), sqlx::Error> {
    let width = table.columns.len();
    let per = rows_per_statement(table, 65_535);
    let full = insert_sql(table, per, '$');
    for chunk in table.values.chunks(per * width) {
        let rows = chunk.len() / width;
        let partial;
        let sql = if rows == per {
            &full
        } else {
            partial = insert_sql(table, rows, '$');
            &partial
        };
        let mut q = sqlx::query(sql);
        for v in chunk {
            q = bind_postgres(q, v);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A core configuration for opening `target` (the secret only signs tokens
/// nobody sees here).
fn config(target: &Target) -> Config {
    Config {
        database_schema: target.schema().map(str::to_owned),
        ..Config::with_jwt_secret(Secret::new("lms-bench seeding secret, never used"))
    }
}

/// Runs the core's migrations on `target`, creating it when missing.
async fn migrate(target: &Target) -> Result<(), String> {
    if let Target::Postgres { url, .. } = target {
        create_database(url).await?;
    }
    let lms = Lms::open(&target.database_url(), config(target))
        .await
        .map_err(|e| format!("opening the store through lms-core: {e}"))?;
    drop(lms);
    Ok(())
}

/// Creates the URL's database when it does not exist yet, connecting to the
/// server's `postgres` database to do it.
pub async fn create_database(url: &str) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(db_error("postgres url"))?;
    let name = options
        .get_database()
        .ok_or("the PostgreSQL URL names no database")?
        .to_owned();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("database name {name:?}: use letters, digits and _"));
    }
    let mut conn = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(db_error("connecting to PostgreSQL"))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(db_error("looking up the database"))?;
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(db_error("creating the database"))?;
    }
    conn.close().await.map_err(db_error("closing"))?;
    Ok(())
}

/// Removes the data set: the SQLite file, or the PostgreSQL schema. The
/// event log refuses deletes, so dropping is the only way, and the right one.
pub async fn wipe(target: &Target) -> Result<(), String> {
    match target {
        Target::Sqlite(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("removing {}: {e}", path.display())),
                }
            }
            Ok(())
        }
        Target::Postgres { url, schema } => {
            create_database(url).await?;
            if !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(format!("schema name {schema:?}: use letters, digits and _"));
            }
            let mut conn = PgConnectOptions::from_str(url)
                .map_err(db_error("postgres url"))?
                .connect()
                .await
                .map_err(db_error("connecting to PostgreSQL"))?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut conn)
                .await
                .map_err(db_error("dropping the schema"))?;
            conn.close().await.map_err(db_error("closing"))?;
            Ok(())
        }
    }
}

/// Makes sure `target` holds the data set of `scale`: reuses it when it is
/// complete and its password hash matches [`PASSWORD`], else (or with
/// `reseed`) drops whatever is there and writes it anew. `say` gets progress
/// lines.
pub async fn ensure(
    target: &Target,
    scale: Scale,
    reseed: bool,
    say: &dyn Fn(&str),
) -> Result<Outcome, String> {
    if let Target::Sqlite(path) = target
        && let Some(dir) = path.parent()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    if reseed {
        wipe(target).await?;
    }
    if let Err(e) = migrate(target).await {
        // Most often a store migrated by another build of lms-core (its
        // migration history is not this build's): a cache, so start over.
        say(&format!("{e}; dropping the store and seeding it again"));
        wipe(target).await?;
        migrate(target).await?;
    }
    let db = Db::connect(target).await?;
    let counts = db.counts().await?;
    if counts.match_scale(scale) {
        let hash = db.stored_hash().await?;
        if hash.is_some_and(|h| argon::verify(PASSWORD, &h)) {
            db.close().await;
            return Ok(Outcome::Reused);
        }
    }
    let db = if counts.empty() {
        db
    } else {
        say("the store holds another data set; dropping it");
        db.close().await;
        wipe(target).await?;
        migrate(target).await?;
        Db::connect(target).await?
    };
    let started = Instant::now();
    say("hashing the shared password and generating rows");
    let hash = argon::hash(PASSWORD);
    let data = dataset::generate(scale, &hash);
    let rows: usize = data.tables.iter().map(Table::rows).sum();
    say(&format!("writing {rows} rows"));
    db.write(&data).await?;
    let counts = db.counts().await?;
    db.close().await;
    if !counts.match_scale(scale) {
        return Err(format!("seeded counts {counts:?} do not match {scale:?}"));
    }
    Ok(Outcome::Seeded(started.elapsed()))
}

/// The row counts of a seeded store.
pub async fn counts(target: &Target) -> Result<Counts, String> {
    let db = Db::connect(target).await?;
    let counts = db.counts().await;
    db.close().await;
    counts
}
