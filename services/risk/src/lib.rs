//! The risk service: interruption intake and the cross-tenant hive mind (intake.rs, flags_rpc.rs).
//!
//! Implemented: ReportInterruption, ListRiskFlags, WatchRiskFlags, and the intake of agents'
//! notices from the bus. Mounted, behaviour still to land with the rest of the risk issue:
//! IngestEventBridgeEvent, GetRiskScores and the ExperimentService, which answer UNIMPLEMENTED
//! (tonic's generated default), never a fake result.

mod flags_rpc;
mod intake;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::risk::v1::experiment_service_server::{ExperimentService, ExperimentServiceServer};
use spot_proto::risk::v1::risk_service_server::RiskServiceServer;

#[derive(Clone)]
pub struct RiskApi {
    ctx: ServiceContext,
    intake: intake::Intake,
}

impl ExperimentService for RiskApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let intake = intake::Intake {
        bus: ctx.bus.clone(),
        db: ctx.db.clone(),
    };
    tokio::spawn(intake.clone().run(ctx.shutdown.clone()));
    let api = RiskApi {
        ctx: ctx.clone(),
        intake,
    };
    registry
        .add(RiskServiceServer::new(api.clone()))
        .add(ExperimentServiceServer::new(api));
}
