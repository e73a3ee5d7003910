//! Applying a plan: each step in order through the cluster service's execution router (EC2 calls
//! and agent actions, where safe mode and dry-run are enforced). New capacity must be ready before
//! anything is cordoned or drained; the first failure stops the plan and skips the rest.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use spot_bus::SharedBus;
use spot_engine as engine;
use spot_kit::OutgoingChannel;
use spot_kit::topics::CLUSTER_ACTIONS;
use spot_proto::agent::v1::{Action, ActionKind};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::Node;
use spot_proto::optimizer::v1 as pb;

use crate::policy::NodeSetup;
use crate::store::PlanStore;

/// How long new nodes may take to join and become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
const READY_POLL: Duration = Duration::from_secs(2);
/// Beyond an action's own deadline, how long to wait for its result.
const RESULT_GRACE: Duration = Duration::from_secs(60);

type Router = ExecutionServiceClient<OutgoingChannel>;

pub struct PlanRunner {
    pub router: Router,
    pub bus: SharedBus,
    pub store: PlanStore,
    /// Labels and taints from the policy's node templates, for the nodes the plan launches.
    pub node_setup: NodeSetup,
}

enum StepEnd {
    Done,
    Refused(String),
    Failed(String),
}

impl PlanRunner {
    pub async fn run(mut self, mut plan: pb::Plan) {
        let mut launched: Vec<String> = Vec::new();
        for index in 0..plan.steps.len() {
            plan.steps[index].status = pb::StepStatus::Running.into();
            self.save(&plan).await;
            let step = plan.steps[index].clone();
            let already = launched.len();
            let end = self.step(&plan, &step, &mut launched).await;
            plan.steps[index].instance_ids = launched[already..].to_vec();
            let (status, state) = match end {
                StepEnd::Done => (pb::StepStatus::Succeeded, None),
                StepEnd::Refused(reason) => {
                    plan.reason = format!("step {} refused: {reason}", index + 1);
                    (pb::StepStatus::Failed, Some(pb::PlanState::Refused))
                }
                StepEnd::Failed(reason) => {
                    plan.reason = format!("step {} failed: {reason}", index + 1);
                    (pb::StepStatus::Failed, Some(pb::PlanState::Failed))
                }
            };
            plan.steps[index].status = status.into();
            if let Some(state) = state {
                plan.state = state.into();
                for rest in plan.steps.iter_mut().skip(index + 1) {
                    rest.status = pb::StepStatus::Skipped.into();
                }
                self.save(&plan).await;
                return;
            }
        }
        plan.state = pb::PlanState::Succeeded.into();
        plan.reason = format!(
            "applied: the cluster now costs about ${:.3}/h",
            plan.target_usd_per_hour
        );
        self.save(&plan).await;
    }

    async fn save(&self, plan: &pb::Plan) {
        if let Err(status) = self.store.save(plan).await {
            tracing::error!(%status, plan = %plan.id, "plan progress not stored");
        }
    }

    async fn execute(
        &mut self,
        plan: &pb::Plan,
        step: cluster::execute_step_request::Step,
    ) -> Result<cluster::ExecuteStepResponse, StepEnd> {
        let response = self
            .router
            .execute_step(cluster::ExecuteStepRequest {
                cluster_id: plan.cluster_id.clone(),
                plan_id: plan.id.clone(),
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

    async fn step(
        &mut self,
        plan: &pb::Plan,
        step: &pb::PlanStep,
        launched: &mut Vec<String>,
    ) -> StepEnd {
        use cluster::execute_step_request::Step;
        let outcome = match step.kind() {
            pb::StepKind::Launch => {
                let launch = cluster::LaunchCapacity {
                    pools: step.pool.clone().into_iter().collect(),
                    capacity_type: step.capacity_type,
                    count: step.count,
                };
                match self.execute(plan, Step::Launch(launch)).await {
                    Ok(response) => {
                        let got = response.instance_ids.len();
                        launched.extend(response.instance_ids);
                        // Draining onto part of the planned capacity could leave pods pending.
                        if got < step.count as usize {
                            Err(StepEnd::Failed(format!(
                                "the cloud launched {got} of {} (no more capacity in the pool); the rest of the plan is skipped",
                                step.count
                            )))
                        } else {
                            Ok(())
                        }
                    }
                    Err(end) => Err(end),
                }
            }
            pb::StepKind::WaitReady => match self.wait_ready(plan, launched).await {
                Ok((region, nodes)) => self.set_up(plan, &region, &nodes).await,
                Err(end) => Err(end),
            },
            pb::StepKind::Cordon => {
                self.agent_action(plan, ActionKind::Cordon, &step.node_name)
                    .await
            }
            pb::StepKind::Drain => {
                self.agent_action(plan, ActionKind::Drain, &step.node_name)
                    .await
            }
            pb::StepKind::Terminate => self.terminate(plan, &step.node_name).await,
            pb::StepKind::Unspecified => Err(StepEnd::Failed("a step of no kind".to_owned())),
        };
        match outcome {
            Ok(()) => StepEnd::Done,
            Err(end) => end,
        }
    }

    async fn state(
        &mut self,
        plan: &pb::Plan,
    ) -> Result<cluster::GetClusterStateResponse, StepEnd> {
        self.router
            .get_cluster_state(cluster::GetClusterStateRequest {
                cluster_id: plan.cluster_id.clone(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| StepEnd::Failed(status.message().to_owned()))
    }

    /// Every instance launched so far has joined the cluster as a ready node; the cluster's
    /// region and those nodes.
    async fn wait_ready(
        &mut self,
        plan: &pb::Plan,
        launched: &[String],
    ) -> Result<(String, Vec<Node>), StepEnd> {
        let wanted: HashSet<&str> = launched.iter().map(String::as_str).collect();
        let started = tokio::time::Instant::now();
        loop {
            let state = self.state(plan).await?;
            let ready: Vec<Node> = state
                .nodes
                .iter()
                .filter(|n| n.ready && wanted.contains(n.instance_id.as_str()))
                .cloned()
                .collect();
            if ready.len() >= wanted.len() {
                let region = state.cluster.map(|c| c.region).unwrap_or_default();
                return Ok((region, ready));
            }
            let ready = ready.len();
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

    /// Puts on each new node the labels and taints of the node template its pool meets (as the
    /// plan assumed), before any pod moves to it.
    async fn set_up(
        &mut self,
        plan: &pb::Plan,
        region: &str,
        nodes: &[Node],
    ) -> Result<(), StepEnd> {
        if self.node_setup.is_empty() {
            return Ok(());
        }
        let mut zones: Vec<String> = nodes.iter().map(|n| n.zone.clone()).collect();
        zones.sort();
        zones.dedup();
        let offerings = engine::offerings_in(region, &zones);
        for node in nodes {
            let capacity_type = crate::problem::capacity_type(node);
            let Some(setup) = offerings
                .iter()
                .find(|o| {
                    o.zone == node.zone
                        && o.instance_type == node.instance_type
                        && o.capacity_type == capacity_type
                })
                .and_then(|o| self.node_setup.for_offering(o))
                .cloned()
            else {
                continue;
            };
            if !setup.labels.is_empty() {
                self.send_action(
                    plan,
                    Action {
                        kind: ActionKind::Label.into(),
                        node_name: node.name.clone(),
                        labels: setup.labels.into_iter().collect(),
                        ..Default::default()
                    },
                )
                .await?;
            }
            if !setup.taints.is_empty() {
                self.send_action(
                    plan,
                    Action {
                        kind: ActionKind::Taint.into(),
                        node_name: node.name.clone(),
                        taints: setup.taints,
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn agent_action(
        &mut self,
        plan: &pb::Plan,
        kind: ActionKind,
        node: &str,
    ) -> Result<(), StepEnd> {
        let action = Action {
            kind: kind.into(),
            node_name: node.to_owned(),
            ..Default::default()
        };
        self.send_action(plan, action).await
    }

    /// Sends the action through the router and waits for the agent's result.
    async fn send_action(&mut self, plan: &pb::Plan, action: Action) -> Result<(), StepEnd> {
        let kind = action.kind();
        let node = action.node_name.clone();
        // Subscribe first, so the result cannot arrive before we listen.
        let mut changes = self
            .bus
            .subscribe(CLUSTER_ACTIONS)
            .await
            .map_err(|e| StepEnd::Failed(e.to_string()))?;
        let response = self
            .execute(plan, cluster::execute_step_request::Step::Action(action))
            .await?;
        let record = response
            .action
            .ok_or_else(|| StepEnd::Failed("the router stored no action".to_owned()))?;
        let id = record
            .action
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let deadline = record
            .action
            .as_ref()
            .and_then(|a| a.deadline.as_ref())
            .map(spot_proto::time::millis)
            .unwrap_or_default();
        let wait = Duration::from_millis(
            u64::try_from(deadline - chrono::Utc::now().timestamp_millis()).unwrap_or(0),
        ) + RESULT_GRACE;
        let result = tokio::time::timeout(wait, async {
            while let Some(message) = changes.next().await {
                let Ok(update) = cluster::ActionRecord::decode(message.payload.as_slice()) else {
                    continue;
                };
                if update.action.as_ref().is_none_or(|a| a.id != id) {
                    continue;
                }
                match update.status() {
                    cluster::ActionStatus::Succeeded => return Ok(()),
                    cluster::ActionStatus::Failed
                    | cluster::ActionStatus::TimedOut
                    | cluster::ActionStatus::Refused => {
                        return Err(StepEnd::Failed(format!(
                            "{} of {node}: {}",
                            kind.as_str_name(),
                            update.message
                        )));
                    }
                    _ => {}
                }
            }
            Err(StepEnd::Failed("the action updates stopped".to_owned()))
        })
        .await;
        result.unwrap_or_else(|_| {
            Err(StepEnd::Failed(format!(
                "no result for the {} of {node} in time",
                kind.as_str_name()
            )))
        })
    }

    async fn terminate(&mut self, plan: &pb::Plan, node: &str) -> Result<(), StepEnd> {
        let state = self.state(plan).await?;
        let instance_id = state
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.instance_id.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StepEnd::Failed(format!("node {node} has no known instance id")))?;
        self.execute(
            plan,
            cluster::execute_step_request::Step::Terminate(cluster::TerminateInstances {
                instance_ids: vec![instance_id],
            }),
        )
        .await
        .map(drop)
    }
}
