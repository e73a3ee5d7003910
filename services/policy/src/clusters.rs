//! What the policy service knows about clusters, learnt from the cluster service's contract
//! (never its tables): whether a cluster is the caller's tenant's, and its region.

use spot_config::ServiceName;
use spot_kit::ServiceContext;
use spot_proto::cluster::v1::GetClusterStateRequest;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use tonic::Status;

/// The cluster's region if it belongs to the tenant; another tenant's cluster does not exist.
pub async fn region_of(
    ctx: &ServiceContext,
    tenant_id: &str,
    cluster_id: &str,
) -> Result<String, Status> {
    let channel = ctx
        .clients
        .channel(ServiceName::Cluster)
        .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
    let state = ExecutionServiceClient::new(channel)
        .get_cluster_state(GetClusterStateRequest {
            cluster_id: cluster_id.to_owned(),
        })
        .await;
    let not_found = || Status::not_found(format!("cluster `{cluster_id}` not found"));
    match state {
        Ok(state) => match state.into_inner().cluster {
            Some(cluster) if cluster.tenant_id == tenant_id => Ok(cluster.region),
            _ => Err(not_found()),
        },
        Err(status) if status.code() == tonic::Code::NotFound => Err(not_found()),
        Err(status) => Err(status),
    }
}
