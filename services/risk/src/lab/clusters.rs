//! What the lab reads from the other services, through their contracts: a cluster's state (only
//! if it is the tenant's) and what each optimizer strategy would pick for it. Reads only: nothing
//! here can change a cluster.

use spot_config::ServiceName;
use spot_kit::ServiceContext;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::cluster::v1::{GetClusterStateRequest, GetClusterStateResponse};
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::optimizer::v1::{CompareStrategiesRequest, StrategyOutcome};
use tonic::Status;

/// The cluster as its agent last reported it; another tenant's cluster does not exist.
pub async fn state(
    ctx: &ServiceContext,
    tenant_id: &str,
    cluster_id: &str,
) -> Result<GetClusterStateResponse, Status> {
    let channel = ctx
        .clients
        .channel(ServiceName::Cluster)
        .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
    let not_found = || Status::not_found(format!("cluster `{cluster_id}` not found"));
    match ExecutionServiceClient::new(channel)
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

/// What each strategy would pick for the cluster now (in the order asked).
pub async fn compare_strategies(
    ctx: &ServiceContext,
    tenant_id: &str,
    cluster_id: &str,
    strategies: &[&str],
) -> Result<Vec<StrategyOutcome>, Status> {
    let channel = ctx
        .clients
        .channel(ServiceName::Optimizer)
        .ok_or_else(|| Status::unavailable("the optimizer is not reachable"))?;
    Ok(OptimizerServiceClient::new(channel)
        .compare_strategies(CompareStrategiesRequest {
            tenant_id: tenant_id.to_owned(),
            cluster_id: cluster_id.to_owned(),
            strategies: strategies.iter().map(|s| (*s).to_owned()).collect(),
        })
        .await?
        .into_inner()
        .outcomes)
}
