//! The policy service: per-cluster policies (versioned), node templates and hibernation schedules.
//!
//! The contracts are mounted; their behaviour lands with the policies issue.
//! Until then every RPC answers UNIMPLEMENTED (tonic's generated default), never a fake result.

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::policy::v1::hibernation_service_server::{
    HibernationService, HibernationServiceServer,
};
use spot_proto::policy::v1::node_template_service_server::{
    NodeTemplateService, NodeTemplateServiceServer,
};
use spot_proto::policy::v1::policy_service_server::{PolicyService, PolicyServiceServer};

#[derive(Clone)]
pub struct PolicyApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl PolicyService for PolicyApi {}
impl NodeTemplateService for PolicyApi {}
impl HibernationService for PolicyApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = PolicyApi { ctx: ctx.clone() };
    registry
        .add(PolicyServiceServer::new(api.clone()))
        .add(NodeTemplateServiceServer::new(api.clone()))
        .add(HibernationServiceServer::new(api));
}
