use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;
use spot_migrations::Migrator;

use crate::DbError;

/// Pooled connections per process unless configured (`database_max_connections`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool over the configured database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    connection: DatabaseConnection,
}

impl Database {
    /// Connects, checks the schema is not newer than this binary, and runs pending migrations.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        Self::open_with_pool(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// As [`Database::open`], with at most `max_connections` pooled connections.
    pub async fn open_with_pool(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let database = Self::connect_with_pool(url, max_connections).await?;
        database.migrate().await?;
        Ok(database)
    }

    /// Connects without migrating (used by tests and tools).
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with_pool(url, DEFAULT_MAX_CONNECTIONS).await
    }

    async fn connect_with_pool(url: &str, max_connections: u32) -> Result<Self, DbError> {
        create_private_sqlite_file(url);
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
            // Each connection to an in-memory SQLite database would see its own empty database.
            options.max_connections(1).min_connections(1);
        } else {
            options.max_connections(max_connections.max(1));
            // WAL (set below) with NORMAL sync stays durable across a process crash and loses
            // at most the last commits on a power cut; every commit no longer waits for an fsync.
            options.map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            });
        }
        let connection =
            sea_orm::Database::connect(options)
                .await
                .map_err(|e| DbError::Connect {
                    url: redact(url),
                    reason: first_line(&e.to_string()),
                })?;
        if connection.get_database_backend() == DbBackend::Sqlite {
            // sqlx enables this by default; stated here because the schema relies on it.
            connection
                .execute_unprepared("PRAGMA foreign_keys = ON")
                .await?;
        }
        Ok(Self { connection })
    }

    /// Applies pending migrations after refusing a schema newer than this binary.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.check_schema_not_newer().await?;
        Migrator::up(&self.connection, None)
            .await
            .map_err(|e| DbError::Migration(first_line(&e.to_string())))
    }

    /// The names of the migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, DbError> {
        if !self.has_migration_table().await? {
            return Ok(Vec::new());
        }
        let rows = Migrator::get_migration_models(&self.connection).await?;
        Ok(rows.into_iter().map(|row| row.version).collect())
    }

    async fn check_schema_not_newer(&self) -> Result<(), DbError> {
        let known: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        for applied in self.applied_migrations().await? {
            if !known.contains(&applied) {
                return Err(DbError::NewerSchema {
                    unknown: applied,
                    latest: known.last().cloned().unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    async fn has_migration_table(&self) -> Result<bool, DbError> {
        let manager = sea_orm_migration::SchemaManager::new(&self.connection);
        Ok(manager.has_table("seaql_migrations").await?)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    pub fn backend(&self) -> Backend {
        match self.connection.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// True when the database answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        self.connection.ping().await.is_ok()
    }

    pub async fn close(self) -> Result<(), DbError> {
        Ok(self.connection.close().await?)
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Creates a new SQLite database file readable by its owner only (SQLite gives its WAL and
/// shared-memory files the same mode): it holds password hashes and key material. An existing
/// file is left as the operator made it.
fn create_private_sqlite_file(url: &str) {
    let Some(path) = url
        .strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(':'))
    else {
        return;
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // Already there (or not creatable): sqlx opens it, or says why it cannot.
    let _ = options.open(path);
}
