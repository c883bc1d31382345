//! Versioned schema migrations, one list per backend, embedded in the crate.
//! sqlx's migrator applies them (each in a transaction, under its lock) and
//! records them with checksums, so an edited past migration is refused.

use std::borrow::Cow;

use futures_core::future::BoxFuture;
use serde::Serialize;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, Migration, MigrationSource, MigrationType, Migrator};

use crate::error::Result;

/// (version, description, SQL)
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(crate) static SQLITE: Embedded = &[
    (
        1,
        "accounts",
        include_str!("migrations/sqlite/0001_accounts.sql"),
    ),
    (
        2,
        "learning",
        include_str!("migrations/sqlite/0002_learning.sql"),
    ),
    (
        3,
        "rate limits",
        include_str!("migrations/sqlite/0003_rate_limits.sql"),
    ),
    (
        4,
        "catalog indexes",
        include_str!("migrations/sqlite/0004_catalog_indexes.sql"),
    ),
    (5, "media", include_str!("migrations/sqlite/0005_media.sql")),
    (6, "live", include_str!("migrations/sqlite/0006_live.sql")),
    (
        7,
        "payments",
        include_str!("migrations/sqlite/0007_payments.sql"),
    ),
    (
        8,
        "progress layout",
        include_str!("migrations/sqlite/0008_progress_layout.sql"),
    ),
    (
        9,
        "completed progress",
        include_str!("migrations/sqlite/0009_completed_progress.sql"),
    ),
    (
        10,
        "revoked by",
        include_str!("migrations/sqlite/0010_revoked_by.sql"),
    ),
];

pub(crate) static POSTGRES: Embedded = &[
    (
        1,
        "accounts",
        include_str!("migrations/postgres/0001_accounts.sql"),
    ),
    (
        2,
        "learning",
        include_str!("migrations/postgres/0002_learning.sql"),
    ),
    (
        3,
        "rate limits",
        include_str!("migrations/postgres/0003_rate_limits.sql"),
    ),
    (
        4,
        "catalog indexes",
        include_str!("migrations/postgres/0004_catalog_indexes.sql"),
    ),
    (
        5,
        "media",
        include_str!("migrations/postgres/0005_media.sql"),
    ),
    (6, "live", include_str!("migrations/postgres/0006_live.sql")),
    (
        7,
        "payments",
        include_str!("migrations/postgres/0007_payments.sql"),
    ),
    (
        8,
        "completed progress",
        include_str!("migrations/postgres/0008_completed_progress.sql"),
    ),
    (
        9,
        "revoked by",
        include_str!("migrations/postgres/0009_revoked_by.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) async fn migrator(list: Embedded) -> Result<Migrator> {
    Ok(Migrator::new(Source(list)).await?)
}

/// One migration and whether the store has applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// Version number, in application order.
    pub version: i64,
    /// What it does.
    pub description: String,
    /// Whether it is applied.
    pub applied: bool,
}

/// Applied and pending migrations of `list` on `conn`.
pub(crate) async fn status<C: Migrate + ?Sized>(
    conn: &mut C,
    list: Embedded,
) -> Result<Vec<MigrationStatus>> {
    conn.ensure_migrations_table().await?;
    let applied = conn.list_applied_migrations().await?;
    Ok(list
        .iter()
        .map(|&(version, description, _)| MigrationStatus {
            version,
            description: description.to_owned(),
            applied: applied.iter().any(|a| a.version == version),
        })
        .collect())
}
