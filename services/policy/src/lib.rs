//! The policy service: per-cluster policies (versioned), node templates and hibernation schedules.
//!
//! The contracts are mounted; policies and node templates land with the policies issue (until
//! then they answer UNIMPLEMENTED, tonic's generated default, never a fake result). Hibernation
//! lives in its own module, [`hibernation`].

mod hibernation;

use spot_kit::{ServiceContext, ServiceRegistry};
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

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = PolicyApi { ctx: ctx.clone() };
    registry
        .add(PolicyServiceServer::new(api.clone()))
        .add(NodeTemplateServiceServer::new(api));
    hibernation::register(ctx, registry);
}
