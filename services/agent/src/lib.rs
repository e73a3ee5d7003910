//! The in-cluster agent: one bidirectional gRPC stream to the control plane (session.rs), kube-rs
//! watchers that keep a bounded view of nodes, pods and PDBs (watch.rs), the Kubernetes executor
//! for cordon, drain and the other actions (kube_executor.rs), and an IMDSv2 watcher for spot
//! interruption and rebalance notices (imds.rs).

pub mod executor;
pub mod ledger;
pub mod session;
pub mod convert;
pub mod kube_executor;
pub mod quantity;
pub mod watch;
pub mod imds;
