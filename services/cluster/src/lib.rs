//! The cluster service: clusters and their agents (one bidirectional stream per cluster), actions,
//! linked AWS accounts and the instance catalog.
//!
//! - AgentService (session.rs): the agent's stream; the hub (hub.rs) routes actions to whichever
//!   replica holds it, through the bus.
//! - ClusterService (clusters_rpc.rs): clusters, nodes, pods, agent status, events, actions.
//! - ExecutionService (execution.rs): the one place where changes leave the platform.
//! - AccountService and CatalogService: linked AWS accounts, discovery and the instance catalog.

mod accounts_rpc;
mod catalog_rpc;
mod clusters_rpc;
mod common;
mod connector;
mod discovery;
mod entity;
mod events;
mod execution;
mod fleet;
mod fleet_rpc;
mod hub;
mod interruptions;
mod inventory;
mod node_classes;
mod node_classes_rpc;
mod outbox;
mod policies;
mod presence;
mod prices;
mod retention;
mod session;

use std::sync::Arc;

use spot_cloud::SimulatedCloud;
use spot_cloud_ec2::Ec2Settings;
use spot_config::CloudKind;
use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::agent::v1::agent_service_server::AgentServiceServer;
use spot_proto::cluster::v1::account_service_server::AccountServiceServer;
use spot_proto::cluster::v1::catalog_service_server::CatalogServiceServer;
use spot_proto::cluster::v1::cluster_service_server::ClusterServiceServer;
use spot_proto::cluster::v1::execution_service_server::ExecutionServiceServer;
use spot_proto::cluster::v1::fleet_service_server::FleetServiceServer;
use spot_proto::cluster::v1::node_class_service_server::NodeClassServiceServer;

/// The largest message an agent may send (a snapshot of a large cluster); larger ones end the
/// stream with RESOURCE_EXHAUSTED, and the agent splits its snapshot into deltas.
pub const MAX_AGENT_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct ClusterApi {
    ctx: ServiceContext,
    prices: prices::SpotPriceCache,
    connector: connector::CloudConnector,
    hub: hub::AgentHub,
    outbox: outbox::Outbox,
    inventory: inventory::Inventory,
    events: events::ClusterEvents,
    presence: presence::PresenceBoard,
}

/// `simulated` is the embedded default's world (`spot demo` drives it too); with `cloud = aws`,
/// linked accounts bring their own providers and it is unused.
pub fn register(
    ctx: &ServiceContext,
    registry: &mut ServiceRegistry,
    simulated: Arc<SimulatedCloud>,
) {
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
        hub: hub::AgentHub::new(ctx.bus.clone()),
        outbox: outbox::Outbox::new(ctx.db.clone(), ctx.bus.clone()),
        inventory: inventory::Inventory::new(
            ctx.db.clone(),
            inventory::Quota {
                nodes: ctx.config.limits.nodes_per_cluster,
                pods: ctx.config.limits.pods_per_cluster,
            },
        ),
        events: events::ClusterEvents::new(ctx.db.clone(), ctx.bus.clone()),
        presence: presence::PresenceBoard::new(ctx.bus.clone()),
    };
    tokio::spawn(
        api.hub
            .clone()
            .run(api.outbox.clone(), ctx.shutdown.clone()),
    );
    let (db, limits) = (ctx.db.clone(), ctx.config.limits.clone());
    spot_kit::retention::every_hour(ctx, "cluster.retention", move |now| {
        let (db, limits) = (db.clone(), limits.clone());
        async move { retention::sweep(&db, &limits, now).await }
    });
    registry
        .add(ClusterServiceServer::new(api.clone()))
        .add(
            AgentServiceServer::new(api.clone()).max_decoding_message_size(MAX_AGENT_MESSAGE_BYTES),
        )
        .add(ExecutionServiceServer::new(api.clone()))
        .add(FleetServiceServer::new(api.clone()))
        .add(AccountServiceServer::new(api.clone()))
        .add(NodeClassServiceServer::new(api.clone()))
        .add(CatalogServiceServer::new(api));
}
