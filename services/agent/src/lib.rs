//! The in-cluster agent: one bidirectional gRPC stream to the control plane (session.rs), kube-rs
//! watchers that keep a bounded view of nodes, pods and PDBs (watch.rs), the Kubernetes executor
//! for cordon, drain and the other actions (kube_executor.rs), and an IMDSv2 watcher for spot
//! interruption and rebalance notices (imds.rs).

pub mod convert;
pub mod executor;
pub mod imds;
pub mod kube_executor;
pub mod ledger;
pub mod notices;
pub mod quantity;
pub mod scale_down_order;
pub mod session;
pub mod watch;

impl session::ClusterSource for watch::ClusterView {
    fn snapshot(&self) -> spot_proto::agent::v1::Snapshot {
        watch::ClusterView::snapshot(self)
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<spot_proto::agent::v1::Delta> {
        watch::ClusterView::subscribe(self)
    }
}
