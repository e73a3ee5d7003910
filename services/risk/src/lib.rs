//! The risk service: interruption intake from agents and from AWS's EventBridge events
//! (intake.rs, eventbridge.rs), the cross-tenant hive mind (flags_rpc.rs), risk scores from a
//! versioned model (model/, evidence.rs, scores_rpc.rs), the replay that evaluates models
//! (replay.rs, `spot bench risk`) and the lab, where candidates run in shadow (lab/).

mod eventbridge;
mod evidence;
mod flags_rpc;
mod intake;
mod lab;
mod market;
pub mod model;
mod notice;
pub mod replay;
mod scores_rpc;

use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::risk::v1::experiment_service_server::ExperimentServiceServer;
use spot_proto::risk::v1::risk_service_server::RiskServiceServer;

#[derive(Clone)]
pub struct RiskApi {
    ctx: ServiceContext,
    intake: intake::Intake,
    evidence: evidence::EvidenceStore,
    lab: lab::ExperimentStore,
    exposure: market::ExposureCache,
}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let evidence = evidence::EvidenceStore::new(ctx.db.clone());
    let intake = intake::Intake {
        bus: ctx.bus.clone(),
        db: ctx.db.clone(),
        evidence: evidence.clone(),
        pools_per_tenant_per_hour: ctx.config.limits.flagged_pools_per_tenant_per_hour,
    };
    tokio::spawn(intake.clone().run(ctx.shutdown.clone()));
    let api = RiskApi {
        ctx: ctx.clone(),
        intake,
        evidence,
        lab: lab::ExperimentStore::new(ctx.db.clone()),
        exposure: market::ExposureCache::default(),
    };
    let sampler = api.clone();
    spot_kit::singleton(ctx, "risk.price-sampler", move |lost| {
        sampler.clone().run_price_sampler(lost)
    });
    let runner = api.clone();
    spot_kit::singleton(ctx, "risk.lab", move |lost| runner.clone().run_lab(lost));
    registry
        .add(RiskServiceServer::new(api.clone()))
        .add(ExperimentServiceServer::new(api));
}
