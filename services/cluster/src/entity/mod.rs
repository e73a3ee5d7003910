//! sea-orm entities of the cluster service's tables. Times are unix milliseconds.

pub mod actions;
pub mod aws_accounts;
pub mod aws_external_ids;
pub mod cluster_events;
pub mod cluster_objects;
pub mod clusters;
pub mod discovered_clusters;
pub mod node_classes;
