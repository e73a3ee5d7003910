//! The lab: a candidate risk model or optimizer strategy runs in shadow beside the live one on
//! some of a tenant's clusters for a while; both sides' decisions are recorded and compared
//! (predicted vs observed interruptions; cost and risk of the node sets each would pick).
//! Experiments only read: nothing here can change a cluster.

mod clusters;
mod entity;
mod report;
mod rpc;
mod runner;
mod store;
mod validate;

pub use store::ExperimentStore;
