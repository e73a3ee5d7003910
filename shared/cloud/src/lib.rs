//! What the optimizer knows about capacity and prices, and the clouds it acts on.
//!
//! - [`Catalog`]: every EC2 instance type, on-demand prices, the spot advisor's savings and
//!   interruption buckets, embedded in the binary (see `data/README.md` for the sources).
//! - [`CloudProvider`]: the narrow contract for describing offerings and prices, launching,
//!   terminating and listing instances.
//! - [`SimulatedCloud`]: the embedded default and the world of `spot demo`, deterministic under a seed.

mod catalog;
pub mod node_class;
mod provider;
mod role_arn;
mod simulated;
pub mod user_data;
mod zones;

pub use catalog::{
    Advice, Architecture, Catalog, CatalogError, InstanceType, Resources, TypeFilter,
};
pub use node_class::{
    AmiFamily, FieldError, KubeCluster, LaunchSpec, NodeClass, NodeClassError, Selector,
};
pub use provider::{
    CLUSTER_ID_TAG, CapacityType, CloudError, CloudProvider, Instance, InstanceState,
    LAUNCH_TOKEN_TAG, LaunchFailure, LaunchRequest, LaunchResult, MANAGED_TAG, Offering, Pool,
    SpotPrice,
};
pub use role_arn::RoleArn;
pub use simulated::{Interruption, NOTICE_SECONDS, SimulatedCloud, SimulationSettings};
pub use zones::zones_of;
