//! The risk service: interruption intake (intake.rs), the cross-tenant hive mind (flags_rpc.rs),
//! risk scores from a versioned model (model/, evidence.rs, scores_rpc.rs) and the replay that
//! evaluates models (replay.rs, `spot bench risk`).
//!
//! Mounted, behaviour still to land with the rest of the risk issue: IngestEventBridgeEvent and
//! the ExperimentService, which answer UNIMPLEMENTED (tonic's generated default), never a fake
//! result.

mod evidence;
mod flags_rpc;
mod intake;
pub mod model;
pub mod replay;
mod scores_rpc;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::risk::v1::experiment_service_server::{ExperimentService, ExperimentServiceServer};
use spot_proto::risk::v1::risk_service_server::RiskServiceServer;

#[derive(Clone)]
pub struct RiskApi {
    ctx: ServiceContext,
    intake: intake::Intake,
    evidence: evidence::EvidenceStore,
}

impl ExperimentService for RiskApi {}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let evidence = evidence::EvidenceStore::new(ctx.db.clone());
    let intake = intake::Intake {
        bus: ctx.bus.clone(),
        db: ctx.db.clone(),
        evidence: evidence.clone(),
    };
    tokio::spawn(intake.clone().run(ctx.shutdown.clone()));
    let api = RiskApi {
        ctx: ctx.clone(),
        intake,
        evidence,
    };
    registry
        .add(RiskServiceServer::new(api.clone()))
        .add(ExperimentServiceServer::new(api));
}
