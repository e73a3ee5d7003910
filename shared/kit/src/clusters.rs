//! What other services learn about a tenant's cluster, through the cluster service's contract
//! (never its tables).

use spot_config::ServiceName;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::cluster::v1::{GetClusterStateRequest, GetClusterStateResponse};
use tonic::Status;

use crate::ServiceContext;

/// The cluster as its agent last reported it, if it belongs to the tenant; another tenant's
/// cluster does not exist (NOT_FOUND).
pub async fn tenant_cluster_state(
    ctx: &ServiceContext,
    tenant_id: &str,
    cluster_id: &str,
) -> Result<GetClusterStateResponse, Status> {
    let channel = ctx
        .clients
        .channel(ServiceName::Cluster)
        .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
    let not_found = || Status::not_found(format!("cluster `{cluster_id}` not found"));
    match FleetServiceClient::new(channel)
        .get_cluster_state(GetClusterStateRequest {
            cluster_id: cluster_id.to_owned(),
        })
        .await
    {
        Ok(state) => {
            let state = state.into_inner();
            match &state.cluster {
                Some(cluster) if cluster.tenant_id == tenant_id => Ok(state),
                _ => Err(not_found()),
            }
        }
        Err(status) if status.code() == tonic::Code::NotFound => Err(not_found()),
        Err(status) => Err(status),
    }
}
