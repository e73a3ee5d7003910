//! The policy service: per-cluster policies (versioned), node templates and hibernation schedules.
//!
//! Policies (`policies_rpc`) and node templates (`templates_rpc`) are served by their own types;
//! hibernation answers UNIMPLEMENTED (tonic's generated default) until it lands.

mod admitted;
mod builtin;
mod clusters;
mod entity;
mod policies_rpc;
mod store;
mod template_checks;
mod templates;
mod templates_rpc;
mod validate;
mod windows;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::policy::v1::hibernation_service_server::{
    HibernationService, HibernationServiceServer,
};
use spot_proto::policy::v1::node_template_service_server::NodeTemplateServiceServer;
use spot_proto::policy::v1::policy_service_server::PolicyServiceServer;

#[derive(Clone)]
pub struct PolicyApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl HibernationService for PolicyApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = PolicyApi { ctx: ctx.clone() };
    registry
        .add(PolicyServiceServer::new(policies_rpc::Policies::new(ctx)))
        .add(NodeTemplateServiceServer::new(
            templates_rpc::Templates::new(ctx),
        ))
        .add(HibernationServiceServer::new(api));
}
