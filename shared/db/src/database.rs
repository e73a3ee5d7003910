use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, TransactionTrait,
};
use sea_orm_migration::{IntoSchemaManagerConnection, MigratorTrait};
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
    /// The SQLite file, when the database is one.
    sqlite_file: Option<std::path::PathBuf>,
    /// A shared lock on `<file>.in-use` while any clone lives: `spot restore` waits for none.
    _in_use: Option<std::sync::Arc<std::fs::File>>,
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
        let sqlite_file = sqlite_file(url);
        let mut in_use = None;
        // A file opened read-only (a backup being checked) is left as it is.
        if let Some(path) = sqlite_file.as_ref().filter(|_| !url.contains("mode=ro")) {
            create_private_file(path);
            in_use = Some(std::sync::Arc::new(hold_in_use(path)?));
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
            // Each connection to an in-memory SQLite database would see its own empty database.
            options.max_connections(1).min_connections(1);
        } else if url.contains("mode=ro") {
            options.max_connections(1);
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
        // Processes that open a new SQLite file together race to switch it to WAL, which needs
        // the file alone for a moment: one that finds it locked tries again for a few seconds.
        let give_up_at = tokio::time::Instant::now() + Duration::from_secs(10);
        let connection = loop {
            match sea_orm::Database::connect(options.clone()).await {
                Ok(connection) => break connection,
                Err(e)
                    if e.to_string().contains("database is locked")
                        && tokio::time::Instant::now() < give_up_at =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(DbError::Connect {
                        url: redact(url),
                        reason: first_line(&e.to_string()),
                    });
                }
            }
        };
        if connection.get_database_backend() == DbBackend::Sqlite {
            // sqlx enables this by default; stated here because the schema relies on it.
            connection
                .execute_unprepared("PRAGMA foreign_keys = ON")
                .await?;
        }
        Ok(Self {
            connection,
            sqlite_file,
            _in_use: in_use,
        })
    }

    /// Applies pending migrations after refusing a schema newer than this binary. On PostgreSQL
    /// they run in one transaction under an advisory lock, so any number of processes (replicas,
    /// a migration Job) may start together: one migrates, the others wait and find it done.
    /// On a SQLite file the same holds through a lock on a file beside it.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let failed = |e: DbErr| DbError::Migration(first_line(&e.to_string()));
        match self.backend() {
            Backend::Postgres => {
                let transaction = self.connection.begin().await?;
                transaction
                    .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                    .await?;
                check_schema_not_newer(&transaction).await?;
                Migrator::up(&transaction, None).await.map_err(failed)?;
                transaction.commit().await?;
                Ok(())
            }
            Backend::Sqlite => {
                let _held = match &self.sqlite_file {
                    Some(path) => Some(lock_beside(path).await?),
                    None => None,
                };
                check_schema_not_newer(&self.connection).await?;
                Migrator::up(&self.connection, None).await.map_err(failed)
            }
        }
    }

    /// Writes a consistent copy of a SQLite database to `to` (a new file) while it serves:
    /// `VACUUM INTO` reads one snapshot, writers carry on.
    pub async fn back_up_to(&self, to: &std::path::Path) -> Result<(), DbError> {
        if self.sqlite_file.is_none() {
            return Err(DbError::Backup(
                "only a SQLite file is backed up this way; for PostgreSQL use pg_dump (see the README)"
                    .to_owned(),
            ));
        }
        if to.exists() {
            return Err(DbError::Backup(format!(
                "{} already exists: give a new file",
                to.display()
            )));
        }
        let path = to
            .to_str()
            .ok_or_else(|| DbError::Backup(format!("{} is not a UTF-8 path", to.display())))?;
        self.connection
            .execute_unprepared(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))
            .await?;
        // It holds password hashes and sealed keys: its owner's only, as the database is.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
                DbError::Backup(format!("cannot make {} private: {e}", to.display()))
            })?;
        }
        Ok(())
    }

    /// The names of the migrations applied to this database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, DbError> {
        applied_migrations(&self.connection).await
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

/// The advisory lock key migrations hold on PostgreSQL ("spotmigr" in ASCII).
const MIGRATION_LOCK: i64 = 0x73706f746d696772;

async fn applied_migrations<'c, C>(db: &'c C) -> Result<Vec<String>, DbError>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    let manager = sea_orm_migration::SchemaManager::new(db);
    if !manager.has_table("seaql_migrations").await? {
        return Ok(Vec::new());
    }
    let rows = Migrator::get_migration_models(db).await?;
    Ok(rows.into_iter().map(|row| row.version).collect())
}

async fn check_schema_not_newer<'c, C>(db: &'c C) -> Result<(), DbError>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    for applied in applied_migrations(db).await? {
        if !known.contains(&applied) {
            return Err(DbError::NewerSchema {
                unknown: applied,
                latest: known.last().cloned().unwrap_or_default(),
            });
        }
    }
    Ok(())
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

fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    url.strip_prefix("sqlite://")
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(':'))
        .map(std::path::PathBuf::from)
}

/// Replaces the SQLite database at `database_url` with the backup at `from`, after checking
/// the backup is a sound database of this platform no newer than this binary, and that no
/// process has the database open. The replaced files are kept as `<file>.before-restore`.
pub async fn restore_sqlite(database_url: &str, from: &std::path::Path) -> Result<(), DbError> {
    let failed = |why: String| DbError::Backup(why);
    let live = sqlite_file(database_url).ok_or_else(|| {
        failed(
            "restore replaces a SQLite file; for PostgreSQL use pg_restore (see the README)"
                .to_owned(),
        )
    })?;
    if !from.is_file() {
        return Err(failed(format!("{} is not a file", from.display())));
    }
    let backup = Database::connect(&format!("sqlite://{}?mode=ro", from.display()))
        .await
        .map_err(|e| failed(format!("{} does not open as SQLite: {e}", from.display())))?;
    let integrity: Option<String> = backup
        .connection
        .query_one(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index(0).ok());
    if integrity.as_deref() != Some("ok") {
        return Err(failed(format!(
            "{} is not a sound SQLite database ({})",
            from.display(),
            integrity.unwrap_or_else(|| "no answer".to_owned())
        )));
    }
    if applied_migrations(&backup.connection).await?.is_empty() {
        return Err(failed(format!("{} is not a spot database", from.display())));
    }
    check_schema_not_newer(&backup.connection).await?;
    backup.close().await?;

    let lock_path = with_suffix(&live, ".in-use");
    let nobody_uses = open_lock_file(&lock_path)
        .map_err(|e| failed(format!("cannot open {}: {e}", lock_path.display())))?;
    match nobody_uses.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(failed(format!(
                "{} is in use: stop every spot process that runs on it first",
                live.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(failed(format!("cannot lock {}: {e}", lock_path.display())));
        }
    }
    let staged = with_suffix(&live, ".restoring");
    let _ = std::fs::remove_file(&staged);
    create_private_file(&staged);
    std::fs::File::open(from)
        .and_then(|mut source| {
            let mut target = std::fs::OpenOptions::new().write(true).open(&staged)?;
            std::io::copy(&mut source, &mut target)?;
            target.sync_all()
        })
        .map_err(|e| failed(format!("cannot copy to {}: {e}", staged.display())))?;
    let kept = with_suffix(&live, ".before-restore");
    for suffix in ["", "-wal", "-shm"] {
        let current = with_suffix(&live, suffix);
        if current.exists() {
            std::fs::rename(&current, with_suffix(&kept, suffix))
                .map_err(|e| failed(format!("cannot move {} aside: {e}", current.display())))?;
        }
    }
    std::fs::rename(&staged, &live)
        .map_err(|e| failed(format!("cannot put the backup in place: {e}")))?;
    drop(nobody_uses);
    Ok(())
}

fn with_suffix(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// A shared lock on `<database file>.in-use`, held by every process that opens the file.
fn hold_in_use(database_file: &std::path::Path) -> Result<std::fs::File, DbError> {
    let path = with_suffix(database_file, ".in-use");
    let cannot = |e: std::io::Error| DbError::Connect {
        url: database_file.display().to_string(),
        reason: format!("cannot lock {}: {e}", path.display()),
    };
    let file = open_lock_file(&path).map_err(cannot)?;
    // Shared locks never wait for each other; only a running restore holds it exclusively.
    file.lock_shared().map_err(cannot)?;
    Ok(file)
}

/// Waits for, and holds until dropped, an exclusive lock on `<database file>.migrating`.
async fn lock_beside(database_file: &std::path::Path) -> Result<std::fs::File, DbError> {
    let path = with_suffix(database_file, ".migrating");
    let cannot =
        |e: std::io::Error| DbError::Migration(format!("cannot lock {}: {e}", path.display()));
    let file = open_lock_file(&path).map_err(cannot)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| DbError::Migration(e.to_string()))?
        .map_err(cannot)
}

/// A lock file beside the database (created private when missing), for `flock`-style locks.
fn open_lock_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    create_private_file(path);
    std::fs::OpenOptions::new().write(true).open(path)
}

/// Creates a new SQLite database file readable by its owner only (SQLite gives its WAL and
/// shared-memory files the same mode): it holds password hashes and key material. An existing
/// file is left as the operator made it.
fn create_private_file(path: &std::path::Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // Already there (or not creatable): sqlx opens it, or says why it cannot.
    let _ = options.open(path);
}
