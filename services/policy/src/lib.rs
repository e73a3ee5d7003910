//! The policy service: per-cluster policies (versioned), node templates and hibernation schedules.
//!
//! Policies (`policies_rpc`) and node templates (`templates_rpc`) are served by their own types;
//! hibernation lives in its own module, [`hibernation`].

mod admitted;
mod announce;
mod builtin;
mod clusters;
mod entity;
mod hibernation;
mod policies_rpc;
mod store;
mod template_checks;
mod templates;
mod templates_rpc;
mod validate;
mod windows;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::policy::v1::node_template_service_server::NodeTemplateServiceServer;
use spot_proto::policy::v1::policy_service_server::PolicyServiceServer;

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    registry
        .add(PolicyServiceServer::new(policies_rpc::Policies::new(ctx)))
        .add(NodeTemplateServiceServer::new(
            templates_rpc::Templates::new(ctx),
        ));
    hibernation::register(ctx, registry);
}
