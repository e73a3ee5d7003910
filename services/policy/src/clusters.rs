//! What the policy service knows about clusters, learnt from the cluster service's contract
//! (never its tables): whether a cluster is the caller's tenant's, and its region.

use spot_kit::ServiceContext;
use tonic::Status;

/// The cluster's region if it belongs to the tenant; another tenant's cluster does not exist.
pub async fn region_of(
    ctx: &ServiceContext,
    tenant_id: &str,
    cluster_id: &str,
) -> Result<String, Status> {
    let state = spot_kit::clusters::tenant_cluster_state(ctx, tenant_id, cluster_id).await?;
    Ok(state.cluster.map(|c| c.region).unwrap_or_default())
}
