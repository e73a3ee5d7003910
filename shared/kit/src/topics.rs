//! Bus topics more than one service uses (a service's own topics stay in that service).

/// Every change of an agent action, as an encoded `spot.cluster.v1.ActionRecord`.
pub const CLUSTER_ACTIONS: &str = "cluster.actions";
/// Every change of a plan, as an encoded `spot.optimizer.v1.Plan`.
pub const OPTIMIZER_PLANS: &str = "optimizer.plans";
/// An agent's snapshot or delta changed a cluster: `{"cluster_id", "tenant_id"}` as JSON.
pub const CLUSTER_UPDATED: &str = "cluster.updated";
/// A spot interruption warning or rebalance recommendation an agent reported, as JSON
/// (`event_id`, `kind`, `tenant_id`, `cluster_id`, `instance_id`, `node_name`, `region`, `zone`,
/// `instance_type`, `action_at_millis`). The risk service turns them into pool flags.
pub const INTERRUPTIONS: &str = "risk.interruptions";
/// A policy changed (a new version, or a rollback): `{"tenant_id", "cluster_id", "version"}` as
/// JSON; `cluster_id` is empty for the tenant default. The optimizer re-plans what it governs.
pub const POLICY_UPDATED: &str = "policy.updated";
