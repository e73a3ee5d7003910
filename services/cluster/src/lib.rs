//! The cluster service: clusters and their agents (one bidirectional stream per cluster), actions,
//! linked AWS accounts and the instance catalog.
//!
//! Implemented: CatalogService (the embedded catalog; spot prices from this process's cloud, the
//! simulated cloud by default) and AccountService (linking, verification, discovery). Mounted,
//! behaviour still to land with the cluster/agent issue: ClusterService and AgentService, which
//! answer UNIMPLEMENTED (tonic's generated default), never a fake result.

mod accounts_rpc;
mod catalog_rpc;
mod clusters_rpc;
mod common;
mod connector;
mod discovery;
mod entity;
mod policies;
mod prices;

use std::sync::Arc;

use spot_cloud::{SimulatedCloud, SimulationSettings};
use spot_cloud_ec2::Ec2Settings;
use spot_config::CloudKind;
use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
use spot_proto::cluster::v1::account_service_server::AccountServiceServer;
use spot_proto::cluster::v1::catalog_service_server::CatalogServiceServer;
use spot_proto::cluster::v1::cluster_service_server::ClusterServiceServer;

#[derive(Clone)]
pub struct ClusterApi {
    ctx: ServiceContext,
    prices: prices::SpotPriceCache,
    connector: connector::CloudConnector,
}

impl AgentService for ClusterApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    // The embedded default's world; on AWS, linked accounts bring their own providers.
    let simulated = Arc::new(SimulatedCloud::new(SimulationSettings::default()));
    let connector = match ctx.config.cloud {
        CloudKind::Simulated => connector::CloudConnector::Simulated(simulated),
        CloudKind::Aws => connector::CloudConnector::Aws(Ec2Settings {
            endpoint_url: ctx.config.aws_endpoint_url.clone(),
        }),
    };
    let api = ClusterApi {
        ctx: ctx.clone(),
        prices: prices::SpotPriceCache::default(),
        connector,
    };
    registry
        .add(ClusterServiceServer::new(api.clone()))
        .add(AgentServiceServer::new(api.clone()))
        .add(AccountServiceServer::new(api.clone()))
        .add(CatalogServiceServer::new(api));
}
