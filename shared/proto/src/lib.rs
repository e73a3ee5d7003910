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
package!(events, "spot.events.v1");

/// Every contract of the platform as an encoded `FileDescriptorSet`, for gRPC reflection and for
/// tests that enumerate all RPCs.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spot_descriptor");

/// The platform keeps times as unix milliseconds; these convert at the wire's edge.
pub mod time {
    /// Unix milliseconds as a protobuf timestamp.
    pub fn timestamp(millis: i64) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
        }
    }

    /// A protobuf timestamp as unix milliseconds.
    pub fn millis(timestamp: &prost_types::Timestamp) -> i64 {
        timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000
    }
}
