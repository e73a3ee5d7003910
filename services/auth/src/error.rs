use spot_error::{ErrorCode, ServiceError};

/// Everything an auth RPC can fail with. Messages never reveal whether an account exists.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid `{field}`: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// Login failures: one message for an unknown email and a wrong password.
    #[error("email or password is wrong")]
    BadCredentials,
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    AlreadyExists(&'static str),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("too many attempts; try again in {retry_after_seconds} s")]
    Throttled { retry_after_seconds: u64 },
    /// A limit on costly work (rate or concurrency); the message says which and when to retry.
    #[error("{0}")]
    Exhausted(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl ServiceError for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::BadCredentials | Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::PermissionDenied(_) => ErrorCode::PermissionDenied,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            Self::Throttled { .. } | Self::Exhausted(_) => ErrorCode::ResourceExhausted,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        error.into_status()
    }
}

impl From<sea_orm::DbErr> for AuthError {
    fn from(error: sea_orm::DbErr) -> Self {
        match spot_db::DbError::from(error) {
            spot_db::DbError::AlreadyExists(_) => Self::AlreadyExists("it already exists"),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<spot_bus::BusError> for AuthError {
    fn from(error: spot_bus::BusError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<spot_error::Error> for AuthError {
    fn from(error: spot_error::Error) -> Self {
        match error {
            spot_error::Error::InvalidArgument { field, reason } => {
                Self::InvalidArgument { field, reason }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

pub type AuthResult<T> = Result<T, AuthError>;
