//! The optimizer service: plans the cheapest node set a cluster's pods fit on (the pure engine in
//! `spot-engine`), stores it as a recommendation, and applies it step by step through the cluster
//! service's execution router.
//!
//! Dashboards and savings come from cost samples the sampler (one runner across replicas) takes
//! from each cluster's reports; the autopilot (also one runner) re-plans clusters as they change
//! and answers interruption notices with replacement capacity first.

mod apply;
mod autopilot;
mod billing_hold;
mod compare;
mod costs;
mod dashboard_rpc;
mod emptying;
mod entity;
mod estimated;
mod interruptions;
mod metering;
mod plan_notices;
mod policy;
mod problem;
mod recommend;
mod retention;
mod rpc;
mod sampler;
mod status;
mod store;

use std::time::Duration;

use spot_kit::{ServiceContext, ServiceRegistry, singleton};

use spot_proto::optimizer::v1::dashboard_service_server::DashboardServiceServer;
use spot_proto::optimizer::v1::metering_service_server::MeteringServiceServer;
use spot_proto::optimizer::v1::optimizer_service_server::OptimizerServiceServer;

#[derive(Clone)]
pub struct OptimizerApi {
    ctx: ServiceContext,
    plans: store::PlanStore,
    policies: policy::LastKnown,
    costs: costs::CostStore,
    /// The pools whose live spot price was not believed, for the plans that launch there.
    estimated_prices: estimated::EstimatedPrices,
    /// Applies plans: the durable step runner, resuming plans other replicas left unfinished.
    runner: spot_kit::steps::StepRunner,
}

impl OptimizerApi {
    /// How long a cluster's changes settle before it is re-planned and its cost sampled.
    fn settle(&self) -> Duration {
        Duration::from_secs(self.ctx.config.settle_seconds)
    }
}

pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let plans = store::PlanStore::new(ctx.db.clone(), ctx.bus.clone())
        .keeping(ctx.config.limits.plans_per_cluster);
    let runner = spot_kit::steps::StepRunner::new(
        ctx,
        std::sync::Arc::new(apply::PlanWorkflow {
            store: plans.clone(),
            bus: ctx.bus.clone(),
        }),
        spot_kit::steps::RunnerSettings::default().with_lease(std::time::Duration::from_secs(
            ctx.config.limits.lease_seconds,
        )),
    );
    runner.spawn_sweeper();
    // Plans applied before plans could resume have no run: they fail, saying so, once their
    // progress has stopped for longer than any start takes.
    let (legacy, runs) = (plans.clone(), runner.store().clone());
    tokio::spawn(async move {
        if let Err(status) = legacy.fail_unresumable(&runs, 60_000).await {
            tracing::warn!(%status, "plans without a run not checked");
        }
    });
    let api = OptimizerApi {
        ctx: ctx.clone(),
        plans,
        policies: policy::LastKnown::default(),
        costs: costs::CostStore::new(ctx.db.clone()),
        estimated_prices: estimated::EstimatedPrices::default(),
        runner,
    };
    let sampler = api.clone();
    singleton(ctx, "optimizer.cost-sampler", move |lost| {
        sampler.clone().run_sampler(lost)
    });
    let autopilot = api.clone();
    singleton(ctx, "optimizer.autopilot", move |lost| {
        autopilot.clone().run_autopilot(lost)
    });
    let interruptions = api.clone();
    singleton(ctx, "optimizer.interruptions", move |lost| {
        interruptions.clone().answer_interruptions(lost)
    });
    let (db, limits) = (ctx.db.clone(), ctx.config.limits.clone());
    spot_kit::retention::every_hour(ctx, "optimizer.retention", move |now| {
        let (db, limits) = (db.clone(), limits.clone());
        async move { retention::sweep(&db, &limits, now).await }
    });
    registry
        .add(OptimizerServiceServer::new(api.clone()))
        .add(MeteringServiceServer::new(api.clone()))
        .add(DashboardServiceServer::new(api));
}
