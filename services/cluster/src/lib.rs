//! The cluster service: clusters and their agents (one bidirectional stream per cluster), actions,
//! linked AWS accounts and the instance catalog.
//!
//! The contracts are mounted; their behaviour lands with the cluster/agent and cloud issues.
//! Until then every RPC answers UNIMPLEMENTED (tonic's generated default), never a fake result.

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
use spot_proto::cluster::v1::account_service_server::{AccountService, AccountServiceServer};
use spot_proto::cluster::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use spot_proto::cluster::v1::cluster_service_server::{ClusterService, ClusterServiceServer};

#[derive(Clone)]
pub struct ClusterApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl ClusterService for ClusterApi {}
impl AgentService for ClusterApi {}
impl AccountService for ClusterApi {}
impl CatalogService for ClusterApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = ClusterApi { ctx: ctx.clone() };
    registry
        .add(ClusterServiceServer::new(api.clone()))
        .add(AgentServiceServer::new(api.clone()))
        .add(AccountServiceServer::new(api.clone()))
        .add(CatalogServiceServer::new(api));
}
