//! The cluster service: clusters and their agents (one bidirectional stream per cluster), actions,
//! linked AWS accounts and the instance catalog.
//!
//! Implemented: CatalogService (the embedded catalog; spot prices from this process's cloud, the
//! simulated cloud by default). Mounted, behaviour still to land with the cluster/agent and
//! account issues: ClusterService, AgentService, AccountService, which answer UNIMPLEMENTED
//! (tonic's generated default), never a fake result.

mod catalog_rpc;
mod prices;

use std::sync::Arc;

use spot_cloud::{CloudProvider, SimulatedCloud, SimulationSettings};
use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
use spot_proto::cluster::v1::account_service_server::{AccountService, AccountServiceServer};
use spot_proto::cluster::v1::catalog_service_server::CatalogServiceServer;
use spot_proto::cluster::v1::cluster_service_server::{ClusterService, ClusterServiceServer};

#[derive(Clone)]
pub struct ClusterApi {
    #[allow(dead_code)] // used as the cluster RPCs land
    ctx: ServiceContext,
    prices: prices::SpotPriceCache,
}

impl ClusterService for ClusterApi {}
impl AgentService for ClusterApi {}
impl AccountService for ClusterApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    // The embedded default's world; linked AWS accounts bring their own providers.
    let cloud: Arc<dyn CloudProvider> =
        Arc::new(SimulatedCloud::new(SimulationSettings::default()));
    let api = ClusterApi {
        ctx: ctx.clone(),
        prices: prices::SpotPriceCache::new(cloud),
    };
    registry
        .add(ClusterServiceServer::new(api.clone()))
        .add(AgentServiceServer::new(api.clone()))
        .add(AccountServiceServer::new(api.clone()))
        .add(CatalogServiceServer::new(api));
}
