//! Runs a hibernate or wake run step by step through the cluster service's execution router (EC2
//! launches and terminations, cordon and drain on the agent's stream), where safe mode and the
//! cluster's dry-run are enforced. Every step's progress is stored as it happens; the first
//! refusal or failure ends the run and skips the rest. The outcome is audited in the cluster's
//! tenant.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use spot_bus::SharedBus;
use spot_kit::OutgoingChannel;
use spot_kit::topics::CLUSTER_ACTIONS;
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::auth::v1::audit_service_client::AuditServiceClient;
use spot_proto::auth::v1::{AuditEvent, RecordAuditEventsRequest};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::{Actor, actor};
use spot_proto::policy::v1 as pb;

use super::plan::{self, CORDON, DRAIN, LAUNCH, RELEASE, TERMINATE, WAIT_READY};
use super::schedule::Change;
use super::store::HibernationStore;

/// How long new nodes may take to join and become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
const READY_POLL: Duration = Duration::from_millis(500);
/// Beyond an action's own deadline, how long to wait for its result.
const RESULT_GRACE: Duration = Duration::from_secs(60);
/// Who the audit trail names for the scheduler's runs.
pub const SCHEDULER: &str = "policy.hibernation-scheduler";

pub type Router = ExecutionServiceClient<OutgoingChannel>;

pub struct Runner {
    pub router: Router,
    pub audit: Option<AuditServiceClient<OutgoingChannel>>,
    pub bus: SharedBus,
    pub store: HibernationStore,
}

enum StepEnd {
    Refused(String),
    Failed(String),
}

fn now_timestamp() -> prost_types::Timestamp {
    spot_proto::time::timestamp(chrono::Utc::now().timestamp_millis())
}

impl Runner {
    /// Runs every step; the run's final status.
    pub async fn run(mut self, tenant_id: &str, run: &mut pb::HibernationRun) {
        let mut launched: Vec<String> = Vec::new();
        let mut end = None;
        for index in 0..run.steps.len() {
            if end.is_some() {
                run.steps[index].status = pb::HibernationStepStatus::Skipped.into();
                continue;
            }
            run.steps[index].status = pb::HibernationStepStatus::Running.into();
            self.save(run).await;
            let mut step = run.steps[index].clone();
            let outcome = self
                .step(&run.id, &run.cluster_id, &mut step, &mut launched)
                .await;
            run.steps[index] = step;
            match outcome {
                Ok(message) => {
                    run.steps[index].status = pb::HibernationStepStatus::Succeeded.into();
                    run.steps[index].message = message;
                }
                Err(failure) => {
                    let (status, reason) = match failure {
                        StepEnd::Refused(reason) => (pb::HibernationRunStatus::Refused, reason),
                        StepEnd::Failed(reason) => (pb::HibernationRunStatus::Failed, reason),
                    };
                    run.steps[index].status = pb::HibernationStepStatus::Failed.into();
                    run.steps[index].message = reason.clone();
                    let verb = if status == pb::HibernationRunStatus::Refused {
                        "refused"
                    } else {
                        "failed"
                    };
                    let kind = &run.steps[index].kind;
                    run.reason = format!("step {} ({kind}) {verb}: {reason}", index + 1);
                    end = Some(status);
                }
            }
            // Saved at once, so a replica ending now leaves the launched instances on record.
            self.save(run).await;
        }
        if end.is_some() && run.kind == Change::Wake.as_str() && !launched.is_empty() {
            self.release_leftovers(run, &mut launched).await;
        }
        run.status = end.unwrap_or(pb::HibernationRunStatus::Succeeded).into();
        if end.is_none() {
            run.reason = match run.kind.as_str() {
                "hibernate" => format!(
                    "asleep: {} nodes stopped, {} kept for must-run workloads",
                    run.steps.iter().filter(|s| s.kind == TERMINATE).count(),
                    run.kept_nodes.len()
                ),
                _ => format!("awake: {} nodes launched", launched.len()),
            };
        }
        run.finished_at = Some(now_timestamp());
        self.save(run).await;
        self.audit(tenant_id, run).await;
    }

    /// After a failed wake: terminates what it launched that never joined, so its retry starts
    /// from the nodes the agent reports. When that fails too, the next run releases them first.
    async fn release_leftovers(
        &mut self,
        run: &mut pb::HibernationRun,
        launched: &mut Vec<String>,
    ) {
        let Ok(state) = self.state(&run.cluster_id).await else {
            return;
        };
        let leftovers: Vec<String> = launched
            .iter()
            .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == *id))
            .cloned()
            .collect();
        if leftovers.is_empty() {
            return;
        }
        let mut step = plan::release(leftovers);
        let outcome = self
            .step(&run.id, &run.cluster_id, &mut step, launched)
            .await;
        let (status, message) = match outcome {
            Ok(message) => (pb::HibernationStepStatus::Succeeded, message),
            Err(StepEnd::Refused(reason) | StepEnd::Failed(reason)) => {
                (pb::HibernationStepStatus::Failed, reason)
            }
        };
        step.status = status.into();
        step.message.clone_from(&message);
        run.steps.push(step);
        run.reason = format!("{}; then {message}", run.reason);
    }

    async fn save(&self, run: &pb::HibernationRun) {
        if let Err(status) = self.store.save_run(run).await {
            tracing::error!(%status, run = %run.id, "hibernation progress not stored");
        }
    }

    async fn audit(&mut self, tenant_id: &str, run: &pb::HibernationRun) {
        if let Some(client) = self.audit.as_mut() {
            audit_run(client, tenant_id, run).await;
        }
    }

    async fn execute(
        &mut self,
        run_id: &str,
        cluster_id: &str,
        step: cluster::execute_step_request::Step,
    ) -> Result<cluster::ExecuteStepResponse, StepEnd> {
        let response = self
            .router
            .execute_step(cluster::ExecuteStepRequest {
                cluster_id: cluster_id.to_owned(),
                plan_id: run_id.to_owned(),
                step: Some(step),
            })
            .await
            .map_err(|status| StepEnd::Failed(status.message().to_owned()))?
            .into_inner();
        if response.outcome() == cluster::ExecutionOutcome::Refused {
            return Err(StepEnd::Refused(response.reason));
        }
        Ok(response)
    }

    /// Runs one step; what it did.
    async fn step(
        &mut self,
        run_id: &str,
        cluster_id: &str,
        step: &mut pb::HibernationStep,
        launched: &mut Vec<String>,
    ) -> Result<String, StepEnd> {
        use cluster::execute_step_request::Step;
        match step.kind.as_str() {
            CORDON => {
                self.agent_action(run_id, cluster_id, ActionKind::Cordon, &step.node_name)
                    .await
            }
            DRAIN => {
                self.agent_action(run_id, cluster_id, ActionKind::Drain, &step.node_name)
                    .await
            }
            TERMINATE => {
                let state = self.state(cluster_id).await?;
                let instance_id = state
                    .nodes
                    .iter()
                    .find(|n| n.name == step.node_name)
                    .map(|n| n.instance_id.clone())
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| {
                        StepEnd::Failed(format!("node {} has no known instance id", step.node_name))
                    })?;
                let response = self
                    .execute(
                        run_id,
                        cluster_id,
                        Step::Terminate(cluster::TerminateInstances {
                            instance_ids: vec![instance_id],
                        }),
                    )
                    .await?;
                Ok(format!("terminated {}", response.instance_ids.join(", ")))
            }
            LAUNCH => {
                let group = step.capacity.clone().unwrap_or_default();
                let launch = cluster::LaunchCapacity {
                    pools: group.pool.into_iter().collect(),
                    capacity_type: group.capacity_type,
                    count: group.count,
                };
                let response = self
                    .execute(run_id, cluster_id, Step::Launch(launch))
                    .await?;
                let mut message = format!(
                    "launched {} of {}",
                    response.instance_ids.len(),
                    group.count
                );
                if !response.instance_ids.is_empty() {
                    message = format!("{message}: {}", response.instance_ids.join(", "));
                }
                step.instance_ids.clone_from(&response.instance_ids);
                launched.extend(response.instance_ids);
                // Part of a pool would not bring back the capacity that was there.
                if step.instance_ids.len() < group.count as usize {
                    return Err(StepEnd::Failed(format!(
                        "{message} (the pool had no more capacity)"
                    )));
                }
                Ok(message)
            }
            WAIT_READY => self.wait_ready(cluster_id, launched).await,
            RELEASE => {
                // One that joined meanwhile is a node now, and pods may run on it: it stays.
                let state = self.state(cluster_id).await?;
                let gone: Vec<String> = step
                    .instance_ids
                    .iter()
                    .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == *id))
                    .cloned()
                    .collect();
                if gone.is_empty() {
                    return Ok("every instance joined meanwhile; nothing released".to_owned());
                }
                let response = self
                    .execute(
                        run_id,
                        cluster_id,
                        Step::Terminate(cluster::TerminateInstances { instance_ids: gone }),
                    )
                    .await?;
                Ok(format!(
                    "terminated {} launched instances that never joined: {}",
                    response.instance_ids.len(),
                    response.instance_ids.join(", ")
                ))
            }
            other => Err(StepEnd::Failed(format!("unknown step `{other}`"))),
        }
    }

    async fn state(
        &mut self,
        cluster_id: &str,
    ) -> Result<cluster::GetClusterStateResponse, StepEnd> {
        self.router
            .get_cluster_state(cluster::GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| StepEnd::Failed(status.message().to_owned()))
    }

    /// Every instance launched so far has joined the cluster as a ready node.
    async fn wait_ready(
        &mut self,
        cluster_id: &str,
        launched: &[String],
    ) -> Result<String, StepEnd> {
        let wanted: HashSet<&str> = launched.iter().map(String::as_str).collect();
        let started = tokio::time::Instant::now();
        loop {
            let state = self.state(cluster_id).await?;
            let ready = state
                .nodes
                .iter()
                .filter(|n| n.ready && wanted.contains(n.instance_id.as_str()))
                .count();
            if ready >= wanted.len() {
                return Ok(format!("{ready} new nodes ready"));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(StepEnd::Failed(format!(
                    "{ready} of {} new nodes became ready within {} minutes",
                    wanted.len(),
                    READY_TIMEOUT.as_secs() / 60
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Sends the action through the router and waits for the agent's result.
    async fn agent_action(
        &mut self,
        run_id: &str,
        cluster_id: &str,
        kind: ActionKind,
        node: &str,
    ) -> Result<String, StepEnd> {
        // Subscribe first, so the result cannot arrive before we listen.
        let mut changes = self
            .bus
            .subscribe(CLUSTER_ACTIONS)
            .await
            .map_err(|e| StepEnd::Failed(e.to_string()))?;
        let action = Action {
            kind: kind.into(),
            node_name: node.to_owned(),
            ..Default::default()
        };
        let response = self
            .execute(
                run_id,
                cluster_id,
                cluster::execute_step_request::Step::Action(action),
            )
            .await?;
        let record = response
            .action
            .and_then(|record| record.action)
            .ok_or_else(|| StepEnd::Failed("the router stored no action".to_owned()))?;
        let deadline = record
            .deadline
            .as_ref()
            .map(spot_proto::time::millis)
            .unwrap_or_default();
        let wait = Duration::from_millis(
            u64::try_from(deadline - chrono::Utc::now().timestamp_millis()).unwrap_or(0),
        ) + RESULT_GRACE;
        let what = format!(
            "{} of {node}",
            kind.as_str_name()
                .trim_start_matches("ACTION_KIND_")
                .to_lowercase()
        );
        let result = tokio::time::timeout(wait, async {
            while let Some(message) = changes.next().await {
                let Ok(update) = cluster::ActionRecord::decode(message.payload.as_slice()) else {
                    continue;
                };
                if update.action.as_ref().is_none_or(|a| a.id != record.id) {
                    continue;
                }
                match update.status() {
                    cluster::ActionStatus::Succeeded => return Ok(format!("{what} done")),
                    cluster::ActionStatus::Failed
                    | cluster::ActionStatus::TimedOut
                    | cluster::ActionStatus::Refused => {
                        return Err(StepEnd::Failed(format!("{what}: {}", update.message)));
                    }
                    _ => {}
                }
            }
            Err(StepEnd::Failed("the action updates stopped".to_owned()))
        })
        .await;
        result.unwrap_or_else(|_| Err(StepEnd::Failed(format!("no result for the {what} in time"))))
    }
}

/// Records a finished run's outcome in the audit trail of the cluster's tenant.
pub async fn audit_run(
    client: &mut AuditServiceClient<OutgoingChannel>,
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
