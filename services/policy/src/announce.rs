//! Tells the optimizer that the policy in force for a cluster (or a tenant's default) changed, on
//! the bus; a lost message only delays the re-plan to the next one.

use spot_kit::ServiceContext;
use spot_kit::topics::POLICY_UPDATED;
use spot_proto::events::v1::PolicyUpdated;
use spot_proto::policy::v1 as pb;

/// Publishes POLICY_UPDATED for `policy` of the tenant.
pub async fn policy_changed(ctx: &ServiceContext, tenant_id: &str, policy: &pb::Policy) {
    let updated = PolicyUpdated {
        tenant_id: tenant_id.to_owned(),
        cluster_id: policy.cluster_id.clone(),
        version: policy.version,
    };
    if let Err(error) = POLICY_UPDATED.publish(ctx.bus.as_ref(), &updated).await {
        tracing::warn!(%error, cluster = %policy.cluster_id, "a policy change was stored but not announced");
    }
}
