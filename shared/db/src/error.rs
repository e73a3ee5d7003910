use sea_orm::{DbErr, SqlErr};
use spot_error::{ErrorCode, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database_url: cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "the database schema is newer than this binary: it has migration `{unknown}`, which this version of spot does not know (its latest is `{latest}`); run a newer spot"
    )]
    NewerSchema { unknown: String, latest: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Backup(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Every pooled connection stayed busy past the acquire timeout: a burst, worth retrying.
    #[error("the database is busy; retry shortly")]
    Busy,
    #[error("database error: {0}")]
    Query(DbErr),
}

impl From<DbErr> for DbError {
    fn from(error: DbErr) -> Self {
        if matches!(error, DbErr::ConnectionAcquire(_)) {
            return Self::Busy;
        }
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => Self::AlreadyExists(detail),
            _ => Self::Query(error),
        }
    }
}

impl ServiceError for DbError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Connect { .. } | Self::Busy => ErrorCode::Unavailable,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::NewerSchema { .. } | Self::Backup(_) => ErrorCode::FailedPrecondition,
            Self::Migration(_) | Self::Query(_) => ErrorCode::Internal,
        }
    }
}

/// A storage failure as the status a caller sees (details are logged, never returned).
pub fn status(error: DbErr) -> tonic::Status {
    DbError::from(error).into_status()
}

impl From<DbError> for tonic::Status {
    fn from(error: DbError) -> Self {
        error.into_status()
    }
}
