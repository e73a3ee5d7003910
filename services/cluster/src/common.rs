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

/// Unix milliseconds as a protobuf timestamp.
pub fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}
