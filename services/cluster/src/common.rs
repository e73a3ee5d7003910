//! Small helpers every RPC of the cluster service uses.

pub use spot_access::tenant;
pub use spot_db::status as db_status;
pub use spot_proto::time::timestamp;
