//! Hibernation: turns clusters off when nobody needs them.
//!
//! - Schedules ([`schedule`]): sleep and wake cron patterns in an IANA time zone, with DST rules
//!   in [`cron`], plus the workloads that must keep running.
//! - Overrides ([`overrides`]): wake now for N hours, or sleep now until a time; the newest one
//!   in force beats the schedules.
//! - The scheduler ([`scheduler`], one runner across replicas) brings each cluster to the state
//!   its calendar wants with hibernate and wake runs ([`plan`], [`workflow`]) executed by the
//!   durable step runner through the cluster service; runs, their steps and results are stored and listed, and audited.

mod cron;
mod entity;
mod overrides;
mod plan;
mod retention;
mod rpc;
mod schedule;
mod scheduler;
mod store;
mod workflow;

use std::sync::Arc;

use spot_bus::Topic;
use spot_config::ServiceName;
use spot_kit::steps::{RunnerSettings, StepRunner};
use spot_kit::{ServiceContext, ServiceRegistry};
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::events::v1::HibernationCalendarChanged;
use spot_proto::policy::v1::hibernation_service_server::HibernationServiceServer;
use tonic::Status;

use store::HibernationStore;

/// A cluster's schedules or overrides changed. The scheduler looks at it at once instead of at
/// its next planned check.
const CALENDAR_CHANGED: Topic<HibernationCalendarChanged> =
    Topic::new("hibernation.calendar-changed");

type Fleet = FleetServiceClient<spot_kit::OutgoingChannel>;

#[derive(Clone)]
pub struct HibernationApi {
    ctx: ServiceContext,
    store: HibernationStore,
    /// Runs hibernate and wake runs: the durable step runner, resuming what other replicas left.
    runner: StepRunner,
}

impl HibernationApi {
    /// What the cluster service tells about its clusters.
    fn fleet(&self) -> Result<Fleet, Status> {
        self.ctx
            .clients
            .channel(ServiceName::Cluster)
            .map(FleetServiceClient::new)
            .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))
    }

    /// Tells the scheduler (on whichever replica runs it) that the cluster's calendar changed; a
    /// lost message only delays the change to the scheduler's next look, within a minute.
    async fn calendar_changed(&self, cluster_id: &str) {
        let changed = HibernationCalendarChanged {
            cluster_id: cluster_id.to_owned(),
        };
        if let Err(error) = CALENDAR_CHANGED
            .publish(self.ctx.bus.as_ref(), &changed)
            .await
        {
            tracing::warn!(%error, cluster = %cluster_id, "calendar change not announced");
        }
    }

    fn auditor(&self) -> Option<AuditServiceClient<spot_kit::OutgoingChannel>> {
        self.ctx
            .clients
            .channel(ServiceName::Auth)
            .map(AuditServiceClient::new)
    }
}

/// Mounts HibernationService and starts the scheduler (on one replica at a time).
pub fn register(ctx: &ServiceContext, registry: &mut ServiceRegistry) {
    let store = HibernationStore::new(ctx.db.clone());
    let runner = StepRunner::new(
        ctx,
        Arc::new(workflow::HibernationWorkflow {
            store: store.clone(),
            bus: ctx.bus.clone(),
            ctx: ctx.clone(),
        }),
        RunnerSettings::default().with_lease(std::time::Duration::from_secs(
            ctx.config.limits.lease_seconds,
        )),
    );
    runner.spawn_sweeper();
    let api = HibernationApi {
        ctx: ctx.clone(),
        store,
        runner,
    };
    let scheduler = api.clone();
    spot_kit::singleton(ctx, "policy.hibernation-scheduler", move |lost| {
        scheduler.clone().run_scheduler(lost)
    });
    let (db, limits) = (ctx.db.clone(), ctx.config.limits.clone());
    spot_kit::retention::every_hour(ctx, "policy.hibernation-retention", move |now| {
        let (db, limits) = (db.clone(), limits.clone());
        async move { retention::sweep(&db, &limits, now).await }
    });
    registry.add(HibernationServiceServer::new(api));
}
