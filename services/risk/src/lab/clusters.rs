//! What the lab asks the optimizer, through its contract: what each strategy would pick for a
//! cluster (a cluster's own state comes from `spot_kit::clusters`). Reads only: nothing here can
//! change a cluster.

use spot_config::ServiceName;
use spot_kit::ServiceContext;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::optimizer::v1::{CompareStrategiesRequest, StrategyOutcome};
use tonic::Status;

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
