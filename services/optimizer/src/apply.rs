//! Applying a plan: its steps become a run of the durable step runner (`spot_kit::steps`), which
//! executes them through the cluster service's execution router (where safe mode and dry-run are
//! enforced) and resumes them on any replica after a crash. New capacity must be ready before
//! anything is cordoned or drained; the first failure stops the plan and skips the rest, except a
//! failed launch in an interruption response, after which the drain goes on regardless. Every
//! change of the run shows in the stored plan, so `GetPlan` and `WatchPlan` see it as before.

use spot_engine as engine;
use spot_kit::steps::{self, PoolSpec, Run, RunState, StepKind, StepStatus};
use spot_kit::topics::NOTIFICATIONS;
use spot_proto::common::v1::CapacityType;
use spot_proto::optimizer::v1 as pb;

use crate::policy::NodeSetup;
use crate::store::PlanStore;

/// The name plans' runs are stored under.
pub const WORKFLOW: &str = "plan";

/// The run that applies the plan: one step per plan step, in order.
pub fn run_of(tenant_id: &str, plan: &pb::Plan, node_setup: &NodeSetup) -> Run {
    let setup = setup_of(plan, node_setup);
    let steps = plan
        .steps
        .iter()
        .map(|step| match step.kind() {
            pb::StepKind::Launch => StepKind::Launch {
                pools: step
                    .pool
                    .iter()
                    .chain(&step.fallback_pools)
                    .map(|p| PoolSpec {
                        zone: p.zone.clone(),
                        instance_type: p.instance_type.clone(),
                    })
                    .collect(),
                capacity_type: step.capacity_type,
                count: step.count,
            },
            pb::StepKind::WaitReady => StepKind::WaitReady {
                setup: setup.clone(),
                go_ahead_at_millis: step.go_ahead_at.as_ref().map(spot_proto::time::millis),
            },
            pb::StepKind::Cordon => StepKind::Cordon {
                node: step.node_name.clone(),
            },
            pb::StepKind::Drain => StepKind::Drain {
                node: step.node_name.clone(),
            },
            pb::StepKind::Terminate => StepKind::Terminate {
                node: step.node_name.clone(),
            },
            pb::StepKind::Unspecified => StepKind::Invalid {
                reason: "a step of no kind".to_owned(),
            },
        })
        .collect();
    let mut run = Run::new(WORKFLOW, &plan.id, tenant_id, &plan.cluster_id, steps);
    // The interrupted nodes go whatever happens: their pods are moved off in time, even when no
    // replacement could be launched (they then wait for provisioning, as pending pods).
    run.interrupted = plan.kind() == pb::PlanKind::InterruptionResponse;
    run
}

/// The labels and taints of the node template each launch's pool meets (as the plan assumed),
/// for the nodes its instances become.
fn setup_of(plan: &pb::Plan, node_setup: &NodeSetup) -> Vec<steps::NodeSetup> {
    if node_setup.is_empty() {
        return Vec::new();
    }
    let mut rules: Vec<steps::NodeSetup> = Vec::new();
    for (index, step) in plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind() == pb::StepKind::Launch)
    {
        let Some(pool) = &step.pool else { continue };
        let capacity_type = if step.capacity_type() == CapacityType::Spot {
            engine::CapacityType::Spot
        } else {
            engine::CapacityType::OnDemand
        };
        let offerings = engine::offerings_in(&pool.region, std::slice::from_ref(&pool.zone));
        let Some(setup) = offerings
            .iter()
            .find(|o| {
                o.zone == pool.zone
                    && o.instance_type == pool.instance_type
                    && o.capacity_type == capacity_type
            })
            .and_then(|o| node_setup.for_offering(o))
        else {
            continue;
        };
        rules.push(steps::NodeSetup {
            launch_step: index,
            labels: setup.labels.clone().into_iter().collect(),
            taints: setup
                .taints
                .iter()
                .map(|t| (t.key.clone(), t.value.clone(), t.effect))
                .collect(),
        });
    }
    rules
}

/// The plan as the run stands: each step's status, what launches launched, the plan's state.
pub fn show(plan: &mut pb::Plan, run: &Run) {
    for (shown, step) in plan.steps.iter_mut().zip(&run.steps) {
        shown.status = match step.status {
            StepStatus::Pending => pb::StepStatus::Pending,
            StepStatus::Running => pb::StepStatus::Running,
            StepStatus::Succeeded => pb::StepStatus::Succeeded,
            StepStatus::Failed => pb::StepStatus::Failed,
            StepStatus::Skipped => pb::StepStatus::Skipped,
        }
        .into();
        if matches!(step.kind, StepKind::Launch { .. }) {
            shown.instance_ids.clone_from(&step.instance_ids);
        }
    }
    let failed = run
        .failed_step()
        .map(|index| (index + 1, run.steps[index].message.as_str()));
    match (run.state, failed) {
        (RunState::Running, _) => plan.state = pb::PlanState::Applying.into(),
        (RunState::Succeeded, _) => {
            plan.state = pb::PlanState::Succeeded.into();
            plan.reason = format!(
                "applied: the cluster now costs about ${:.3}/h",
                plan.target_usd_per_hour
            );
        }
        (RunState::Refused, failed) => {
            plan.state = pb::PlanState::Refused.into();
            let (step, reason) = failed.unwrap_or((0, ""));
            plan.reason = format!("step {step} refused: {reason}");
        }
        (RunState::Failed, failed) => {
            plan.state = pb::PlanState::Failed.into();
            let (step, reason) = failed.unwrap_or((0, ""));
            plan.reason = format!("step {step} failed: {reason}");
        }
    }
}

/// Plans as runs of the step runner.
pub struct PlanWorkflow {
    pub store: PlanStore,
    pub bus: spot_bus::SharedBus,
}

#[async_trait::async_trait]
impl steps::Workflow for PlanWorkflow {
    fn name(&self) -> &'static str {
        WORKFLOW
    }

    async fn progressed(&self, run: &Run) {
        let mut plan = match self.store.get(&run.tenant_id, &run.id).await {
            Ok(plan) => plan,
            Err(status) => {
                tracing::error!(%status, plan = %run.id, "the plan of a run is not readable");
                return;
            }
        };
        let was_applying = plan.state() == pb::PlanState::Applying;
        show(&mut plan, run);
        if let Err(status) = self.store.save(&plan).await {
            tracing::error!(%status, plan = %plan.id, "plan progress not stored");
            return;
        }
        if was_applying
            && let Some(notice) = crate::plan_notices::notice(&run.tenant_id, &plan)
            && let Err(error) = NOTIFICATIONS.publish(self.bus.as_ref(), &notice).await
        {
            tracing::warn!(%error, plan = %plan.id, "plan outcome not notified");
        }
    }
}
