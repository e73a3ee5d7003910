//! Bus topics more than one service uses (a service's own topics stay in that service). Each
//! carries the protobuf message its type names; `proto/spot/events/v1/events.proto` says who
//! publishes it and who listens.

use spot_bus::Topic;
use spot_proto::cluster::v1::ActionRecord;
use spot_proto::events::v1::{
    ClusterUpdated, InterruptionReported, NotificationRequested, PolicyUpdated,
};
use spot_proto::optimizer::v1::Plan;

/// Every change of an agent action.
pub const CLUSTER_ACTIONS: Topic<ActionRecord> = Topic::new("cluster.actions");
/// Every change of a plan.
pub const OPTIMIZER_PLANS: Topic<Plan> = Topic::new("optimizer.plans");
/// An agent's snapshot or delta changed a cluster.
pub const CLUSTER_UPDATED: Topic<ClusterUpdated> = Topic::new("cluster.updated");
/// A spot interruption warning or rebalance recommendation an agent reported. The risk service
/// turns them into pool flags; the optimizer answers them.
pub const INTERRUPTIONS: Topic<InterruptionReported> = Topic::new("risk.interruptions");
/// A policy changed (a new version, or a rollback). The optimizer re-plans what it governs.
pub const POLICY_UPDATED: Topic<PolicyUpdated> = Topic::new("policy.updated");
/// A service asks for a tenant's users (or those with at least a role) to be notified; the auth
/// service stores it in their inboxes.
pub const NOTIFICATIONS: Topic<NotificationRequested> = Topic::new("notifications");
