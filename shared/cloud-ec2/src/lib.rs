//! [`Ec2Provider`]: the [`spot_cloud::CloudProvider`] for a linked AWS account, through
//! aws-sdk-ec2. It assumes the customer's role with the tenant's external id, retries throttling
//! with jittered backoff, remembers pools that just ran out of capacity (so plans route around
//! them for a few minutes, as Karpenter's ICE cache does) and reports partial fleets per pool.

mod convert;
mod ice_cache;
mod launch;
mod launch_template;
mod node_class;
pub mod permissions;
mod provider;
mod retry;
pub mod testing;

pub use ice_cache::IceCache;
pub use provider::{Ec2Provider, Ec2Settings};
