//! The generated gRPC contracts, one module per protobuf package, and the descriptor set that
//! the server offers for reflection. Generated types stay at the edge of each service.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

macro_rules! package {
    ($name:ident, $file:literal) => {
        pub mod $name {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/", $file, ".rs"));
            }
        }
    };
}

package!(common, "spot.common.v1");
package!(auth, "spot.auth.v1");
package!(agent, "spot.agent.v1");
package!(cluster, "spot.cluster.v1");
package!(policy, "spot.policy.v1");
package!(billing, "spot.billing.v1");
package!(risk, "spot.risk.v1");
package!(optimizer, "spot.optimizer.v1");

/// Every contract of the platform as an encoded `FileDescriptorSet`, for gRPC reflection and for
/// tests that enumerate all RPCs.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spot_descriptor");
