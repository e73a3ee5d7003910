//! Hibernate and wake runs as runs of the durable step runner (`spot_kit::steps`): the steps
//! execute through the cluster service's execution router (EC2 launches and terminations, cordon
//! and drain on the agent's stream), where safe mode and the cluster's dry-run are enforced, and
//! resume on any replica after a crash. Every change shows in the stored hibernation run, so
//! `ListHibernationRuns` sees it as before. A wake that fails terminates what it launched that
//! never joined. When a run ends, the cluster's recorded state follows and the outcome is audited
//! in the cluster's tenant.

use spot_bus::SharedBus;
use spot_config::ServiceName;
use spot_kit::ServiceContext;
use spot_kit::steps::{self, PoolSpec, Run, RunState, StepKind, StepStatus};
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::auth::v1::{AuditEvent, RecordAuditEventsRequest};
use spot_proto::common::v1::{Actor, actor};
use spot_proto::policy::v1 as pb;

use super::plan::{CORDON, DRAIN, LAUNCH, RELEASE, TERMINATE, WAIT_READY};
use super::schedule::Change;
use super::store::{HibernationStore, State};

/// The name hibernation runs are stored under in the step runner.
pub const WORKFLOW: &str = "hibernation";
/// Who the audit trail names for the scheduler's runs.
pub const SCHEDULER: &str = "policy.hibernation-scheduler";

fn now_timestamp() -> prost_types::Timestamp {
    spot_proto::time::timestamp(chrono::Utc::now().timestamp_millis())
}

/// The step runner's run for a hibernation run: one step per step, in order.
pub fn run_of(tenant_id: &str, run: &pb::HibernationRun) -> Run {
    let steps = run
        .steps
        .iter()
        .map(|step| match step.kind.as_str() {
            CORDON => StepKind::Cordon {
                node: step.node_name.clone(),
            },
            DRAIN => StepKind::Drain {
                node: step.node_name.clone(),
            },
            TERMINATE => StepKind::Terminate {
                node: step.node_name.clone(),
            },
            LAUNCH => {
                let group = step.capacity.clone().unwrap_or_default();
                StepKind::Launch {
                    pools: group
                        .pool
                        .iter()
                        .chain(&step.fallback_pools)
                        .map(|p| PoolSpec {
                            zone: p.zone.clone(),
                            instance_type: p.instance_type.clone(),
                        })
                        .collect(),
                    capacity_type: group.capacity_type,
                    count: group.count,
                }
            }
            WAIT_READY => StepKind::WaitReady {
                setup: Vec::new(),
                go_ahead_at_millis: None,
            },
            RELEASE => StepKind::Release {
                instance_ids: step.instance_ids.clone(),
            },
            other => StepKind::Invalid {
                reason: format!("unknown step `{other}`"),
            },
        })
        .collect();
    let mut runner_run = Run::new(WORKFLOW, &run.id, tenant_id, &run.cluster_id, steps);
    runner_run.release_on_failure = run.kind == Change::Wake.as_str();
    runner_run
}

fn status_of(status: StepStatus) -> pb::HibernationStepStatus {
    match status {
        StepStatus::Pending => pb::HibernationStepStatus::Pending,
        StepStatus::Running => pb::HibernationStepStatus::Running,
        StepStatus::Succeeded => pb::HibernationStepStatus::Succeeded,
        StepStatus::Failed => pb::HibernationStepStatus::Failed,
        StepStatus::Skipped => pb::HibernationStepStatus::Skipped,
    }
}

/// The hibernation run as the step runner's run stands.
pub fn show(shown: &mut pb::HibernationRun, run: &Run) {
    for (index, step) in run.steps.iter().enumerate() {
        if shown.steps.len() <= index {
            // A step the runner added: the release after a failed wake.
            shown.steps.push(pb::HibernationStep {
                kind: step.kind_name().to_owned(),
                ..Default::default()
            });
        }
        let target = &mut shown.steps[index];
        target.status = status_of(step.status).into();
        target.message.clone_from(&step.message);
        if matches!(
            step.kind,
            StepKind::Launch { .. } | StepKind::Release { .. }
        ) {
            target.instance_ids.clone_from(&step.instance_ids);
        }
    }
    shown.status = match run.state {
        RunState::Running => pb::HibernationRunStatus::Running,
        RunState::Succeeded => pb::HibernationRunStatus::Succeeded,
        RunState::Failed => pb::HibernationRunStatus::Failed,
        RunState::Refused => pb::HibernationRunStatus::Refused,
    }
    .into();
    if !run.state.is_final() {
        return;
    }
    match run.failed_step() {
        None => {
            shown.reason = if shown.kind == Change::Hibernate.as_str() {
                format!(
                    "asleep: {} nodes stopped, {} kept for must-run workloads",
                    shown.steps.iter().filter(|s| s.kind == TERMINATE).count(),
                    shown.kept_nodes.len()
                )
            } else {
                format!("awake: {} nodes launched", run.launched().len())
            };
        }
        Some(index) => {
            let verb = if run.state == RunState::Refused {
                "refused"
            } else {
                "failed"
            };
            let step = &run.steps[index];
            shown.reason = format!(
                "step {} ({}) {verb}: {}",
                index + 1,
                step.kind_name(),
                step.message
            );
            if let Some(release) = run.steps[index + 1..]
                .iter()
                .find(|s| matches!(s.kind, StepKind::Release { .. }) && s.attempts > 0)
            {
                shown.reason = format!("{}; then {}", shown.reason, release.message);
            }
        }
    }
    if shown.finished_at.is_none() {
        shown.finished_at = Some(now_timestamp());
    }
}

/// Hibernation runs as runs of the step runner.
pub struct HibernationWorkflow {
    pub store: HibernationStore,
    pub bus: SharedBus,
    pub ctx: ServiceContext,
}

impl HibernationWorkflow {
    fn auditor(&self) -> Option<AuditServiceClient<spot_kit::OutgoingChannel>> {
        self.ctx
            .clients
            .channel(ServiceName::Auth)
            .map(AuditServiceClient::new)
    }
}

#[async_trait::async_trait]
impl steps::Workflow for HibernationWorkflow {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    async fn progressed(&self, run: &Run) {
        let mut shown = match self.store.run(&run.id).await {
            Ok(Some(shown)) => shown,
            Ok(None) => {
                tracing::error!(run = %run.id, "a step run without its hibernation run");
                return;
            }
            Err(status) => {
                tracing::error!(%status, run = %run.id, "hibernation run not readable");
                return;
            }
        };
        show(&mut shown, run);
        if let Err(status) = self.store.save_run(&shown).await {
            tracing::error!(%status, run = %run.id, "hibernation progress not stored");
        }
    }

    /// The cluster's recorded state follows a successful run (a failed one is retried by the
    /// scheduler); the outcome is audited.
    async fn finished(&self, run: &Run) {
        let Ok(Some(shown)) = self.store.run(&run.id).await else {
            return;
        };
        if run.state == RunState::Succeeded {
            self.settle(&shown).await;
        }
        if let Some(mut client) = self.auditor() {
            audit_run(&mut client, &run.tenant_id, &shown).await;
        }
    }
}

impl HibernationWorkflow {
    async fn settle(&self, shown: &pb::HibernationRun) {
        let cluster_id = &shown.cluster_id;
        let mut recorded = match self.store.recorded(cluster_id).await {
            Ok(Some(recorded)) => recorded,
            Ok(None) => return,
            Err(status) => {
                tracing::error!(%status, cluster = %cluster_id, "hibernation state not readable");
                return;
            }
        };
        if shown.kind == Change::Wake.as_str() {
            recorded.state = State::Awake;
            recorded.capacity.clear();
            if let Err(error) = spot_kit::hibernation::clear(self.bus.as_ref(), cluster_id).await {
                tracing::warn!(%error, cluster = %cluster_id, "hibernation mark not cleared");
            }
        } else {
            recorded.state = State::Asleep;
        }
        if let Err(status) = self.store.record(cluster_id, &recorded).await {
            tracing::error!(%status, cluster = %cluster_id, "hibernation state not stored");
        }
    }
}

/// Records a finished run's outcome in the audit trail of the cluster's tenant.
pub async fn audit_run(
    client: &mut AuditServiceClient<spot_kit::OutgoingChannel>,
    tenant_id: &str,
    run: &pb::HibernationRun,
) {
    let result = match run.status() {
        pb::HibernationRunStatus::Succeeded => "ok".to_owned(),
        pb::HibernationRunStatus::Refused => format!("refused: {}", run.reason),
        _ => format!("failed: {}", run.reason),
    };
    let event = AuditEvent {
        tenant_id: tenant_id.to_owned(),
        actor: Some(Actor {
            kind: Some(actor::Kind::Service(SCHEDULER.to_owned())),
        }),
        action: format!("hibernation.{}", run.kind),
        target: format!("cluster/{}", run.cluster_id),
        result,
        request_id: run.id.clone(),
        at: Some(now_timestamp()),
        ..Default::default()
    };
    if let Err(status) = client
        .record_audit_events(RecordAuditEventsRequest {
            events: vec![event],
        })
        .await
    {
        tracing::warn!(%status, run = %run.id, "a hibernation run was not audited");
    }
}
