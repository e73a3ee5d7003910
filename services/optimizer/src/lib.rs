//! The optimizer service: plans the cheapest node set a cluster's pods fit on, applies it, and
//! reports savings and dashboards.
//!
//! The contracts are mounted; their behaviour lands with the optimizer issue.
//! Until then every RPC answers UNIMPLEMENTED (tonic's generated default), never a fake result.

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::optimizer::v1::dashboard_service_server::{
    DashboardService, DashboardServiceServer,
};
use spot_proto::optimizer::v1::optimizer_service_server::{
    OptimizerService, OptimizerServiceServer,
};

#[derive(Clone)]
pub struct OptimizerApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl OptimizerService for OptimizerApi {}
impl DashboardService for OptimizerApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = OptimizerApi { ctx: ctx.clone() };
    registry
        .add(OptimizerServiceServer::new(api.clone()))
        .add(DashboardServiceServer::new(api));
}
