//! Small helpers every RPC of the cluster service uses.

use spot_access::caller;
use tonic::{Request, Status};

/// The tenant the caller acts in; every RPC here reads and writes only that tenant's rows.
pub fn tenant<T>(request: &Request<T>) -> Result<String, Status> {
    caller(request)?
        .tenant_id()
        .map(str::to_owned)
        .ok_or_else(|| Status::permission_denied("this call acts within a tenant"))
}

pub use spot_proto::time::timestamp;

/// A storage failure as a status: details are logged, never returned.
pub fn db_status(error: sea_orm::DbErr) -> Status {
    spot_error::ServiceError::into_status(spot_db::DbError::from(error))
}
