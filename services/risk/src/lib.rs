//! The risk service: interruption intake, the cross-tenant hive mind, risk scores and the lab.
//!
//! The contracts are mounted; their behaviour lands with the risk issue.
//! Until then every RPC answers UNIMPLEMENTED (tonic's generated default), never a fake result.

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::risk::v1::experiment_service_server::{ExperimentService, ExperimentServiceServer};
use spot_proto::risk::v1::risk_service_server::{RiskService, RiskServiceServer};

#[derive(Clone)]
pub struct RiskApi {
    #[allow(dead_code)] // used as the RPCs land
    ctx: ServiceContext,
}

impl RiskService for RiskApi {}
impl ExperimentService for RiskApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let api = RiskApi { ctx: ctx.clone() };
    registry
        .add(RiskServiceServer::new(api.clone()))
        .add(ExperimentServiceServer::new(api));
}
