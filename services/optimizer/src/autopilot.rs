//! The autopilot: one runner across replicas (a bus lease) keeps every cluster on its best plan.
//! (Interruption notices and hive-mind flags are answered apart, see [`crate::interruptions`], so
//! they never wait behind a re-plan.)
//! - Pods reported waiting for a node: within seconds ([`PROVISION_AFTER`]), a launch-only plan for
//!   the pods kube-scheduler cannot bind to the nodes that exist, applied at once, in every
//!   consolidation mode and outside disruption windows (nothing is drained), beside any plan
//!   already running. Pods it launched for that still wait are not launched for again for
//!   [`RELAUNCH_AFTER`]; pods no launch would help get a stored plan without steps that names
//!   them and says why (once per change).
//! - A change reported by the agent: after it settles (`settle_seconds`, 30 s), re-plan, leaving
//!   nodes that joined in the last 10 minutes to settle; apply a consolidation only when it pays
//!   the policy's minimum saving (never a loss), strands no pod, no other plan of the cluster is
//!   running and no pod waits for capacity; at most one consolidation per cluster every 5
//!   minutes, so the cluster never churns.
//!
//! - A cluster whose nodes break its policy (after the policy changed, or prices and buckets
//!   moved): a compliance plan, applied whatever it costs, in every consolidation mode, within
//!   the disruption budget and windows and the same cool-down; none when the policy cannot be met
//!   with the pools it admits now (the cluster keeps its nodes; `GetAutopilotStatus` says why).
//!
//! - A policy change: re-plan the cluster (every known cluster of the tenant for its default)
//!   at once, under the new policy.
//!
//! - Every [`REPLAN_AFTER_SETTLES`] settle periods (5 minutes by default): re-plan every known
//!   cluster, since spot prices move and flags expire; the policy's minimum saving decides whether
//!   the new plan is worth applying.
//!
//! Every plan follows the cluster's policy: its consolidation mode (off, empty nodes only, or
//! re-packing), its disruption budget, and its windows (outside them a consolidation is only
//! recommended). A cluster or policy in dry-run gets recommendations only; safe mode is left to
//! the execution router, which refuses every change (the plan then shows as refused, with why).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use spot_bus::CancellationToken;
use spot_kit::topics::{CLUSTER_UPDATED, POLICY_UPDATED};
use spot_proto::cluster::v1::GetClusterStateRequest;
use spot_proto::events::v1::{ClusterUpdated, PolicyUpdated};
use spot_proto::optimizer::v1 as pb;
use tokio::time::Instant;

use crate::OptimizerApi;
use crate::policy::{Consolidation, NodeSetup};
use crate::recommend::{comply, note_policy_dry_run, recommend, remove_empty};

const COOLDOWN: Duration = Duration::from_secs(300);
/// Reports come in bursts (a scale-up creates its pods one by one): provisioning waits this long
/// after the last one, so one plan serves the burst.
const PROVISION_AFTER: Duration = Duration::from_secs(2);
/// A pod launched for that still waits once its plan ended (another pod took the room) gets one
/// more launch at once; after that it is not launched for again within this time of the first,
/// since it may wait for something capacity does not fix.
const RELAUNCH_AFTER: Duration = Duration::from_secs(600);
/// Known clusters are re-planned every this many settle periods, for price moves.
const REPLAN_AFTER_SETTLES: u32 = 10;

struct Pending {
    tenant_id: String,
    due: Instant,
}

/// What provisioning remembers of a cluster between reports.
#[derive(Default)]
struct Provisioned {
    /// Pods a provisioning plan launched for.
    launched_for: HashMap<String, Launched>,
    /// The pods last reported as beyond what capacity can fix, so a report is stored once.
    unplaceable: Vec<String>,
}

/// A waiting pod's launches.
struct Launched {
    first_at: Instant,
    /// The provisioning plan of the latest launch.
    plan_id: String,
    /// Applied, not only recommended (dry-run).
    applied: bool,
    attempts: u32,
}

impl Launched {
    /// Capacity is on its way for the pod, or it had its second chance: not launched for now.
    fn covers(&self, applying: Option<&HashSet<String>>) -> bool {
        !self.applied
            || self.attempts > 1
            || applying.is_none_or(|plans| plans.contains(&self.plan_id))
    }
}

impl OptimizerApi {
    pub(crate) async fn run_autopilot(self, lost: CancellationToken) {
        let subscriptions = async {
            let updates = CLUSTER_UPDATED.subscribe(self.ctx.bus.as_ref()).await?;
            let policies = POLICY_UPDATED.subscribe(self.ctx.bus.as_ref()).await?;
            Ok::<_, spot_bus::BusError>((updates, policies))
        };
        let (mut updates, mut policies) = match subscriptions.await {
            Ok(both) => both,
            Err(error) => {
                tracing::error!(%error, "the autopilot cannot listen on the bus");
                return;
            }
        };
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut provision_due: HashMap<String, Pending> = HashMap::new();
        let mut provisioned: HashMap<String, Provisioned> = HashMap::new();
        let mut last_plan: HashMap<String, Instant> = HashMap::new();
        // Clusters seen reporting, by id, with their tenant.
        let mut known: HashMap<String, String> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut replan = tokio::time::interval(self.settle() * REPLAN_AFTER_SETTLES);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                Some(ClusterUpdated { cluster_id, tenant_id }) = updates.next() => {
                    known.insert(cluster_id.clone(), tenant_id.clone());
                    provision_due.insert(cluster_id.clone(), Pending { tenant_id: tenant_id.clone(), due: Instant::now() + PROVISION_AFTER });
                    pending.insert(cluster_id, Pending { tenant_id, due: Instant::now() + self.settle() });
                }
                Some(PolicyUpdated { cluster_id, tenant_id, .. }) = policies.next() => {
                    // A deliberate change: re-plan now, not after the cool-down.
                    let governed: Vec<String> = if cluster_id.is_empty() {
                        known.iter().filter(|(_, t)| **t == tenant_id).map(|(c, _)| c.clone()).collect()
                    } else {
                        vec![cluster_id]
                    };
                    for cluster_id in governed {
                        last_plan.remove(&cluster_id);
                        pending.insert(cluster_id, Pending { tenant_id: tenant_id.clone(), due: Instant::now() });
                    }
                }
                _ = replan.tick() => {
                    for (cluster_id, tenant_id) in &known {
                        pending.entry(cluster_id.clone()).or_insert_with(|| Pending { tenant_id: tenant_id.clone(), due: Instant::now() });
                    }
                }
                _ = tick.tick() => {
                    let waiting: Vec<String> = provision_due
                        .iter()
                        .filter(|(_, p)| p.due <= Instant::now())
                        .map(|(id, _)| id.clone())
                        .collect();
                    for cluster_id in waiting {
                        if let Some(entry) = provision_due.remove(&cluster_id) {
                            let memory = provisioned.entry(cluster_id.clone()).or_default();
                            self.provision(&entry.tenant_id, &cluster_id, memory).await;
                        }
                    }
                    let due: Vec<String> = pending
                        .iter()
                        .filter(|(id, p)| p.due <= Instant::now() && last_plan.get(*id).is_none_or(|at| at.elapsed() >= COOLDOWN))
                        .map(|(id, _)| id.clone())
                        .collect();
                    for cluster_id in due {
                        if let Some(entry) = pending.remove(&cluster_id)
                            && self.consolidate(&entry.tenant_id, &cluster_id).await
                        {
                            last_plan.insert(cluster_id, Instant::now());
                        }
                    }
                }
            }
        }
    }

    async fn running_plan(&self, tenant_id: &str, cluster_id: &str) -> bool {
        self.plans
            .applying(tenant_id, cluster_id)
            .await
            .map(|plans| !plans.is_empty())
            .unwrap_or(true)
    }

    /// Re-plans the cluster; true when a plan was applied or recommended. A hibernating cluster
    /// is left alone: its drained pods wait for the wake, not for new nodes.
    async fn consolidate(&self, tenant_id: &str, cluster_id: &str) -> bool {
        if self.running_plan(tenant_id, cluster_id).await {
            return false;
        }
        if spot_kit::hibernation::is_marked(self.ctx.bus.as_ref(), cluster_id)
            .await
            .unwrap_or(false)
        {
            return false;
        }
        let Ok(mut fleet) = self.fleet() else {
            return false;
        };
        let Ok(state) = fleet
            .get_cluster_state(GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
        else {
            return false;
        };
        let Some(cluster) = state.cluster.clone() else {
            return false;
        };
        if state.nodes.is_empty() {
            return false;
        }
        let policy = match self.policy_for(tenant_id, cluster_id).await {
            Ok(policy) => policy,
            Err(status) => {
                tracing::warn!(%status, cluster = %cluster_id, "no policy: not consolidating");
                return false;
            }
        };
        let (region, mut problem) = self.problem_for(&state, &policy).await;
        crate::problem::mark_settling(
            &mut problem,
            &state.nodes,
            chrono::Utc::now().timestamp_millis(),
        );
        let id = cluster_id.to_owned();
        let (budget, mode) = (policy.budget, policy.consolidation);
        let nodes = state.nodes.clone();
        let planned = tokio::task::spawn_blocking(move || {
            // The nodes to leave to empty: none when consolidation is off.
            let emptying = match mode {
                Consolidation::Off => Vec::new(),
                _ => spot_engine::nodes_to_empty(&problem, budget),
            };
            let taints = crate::emptying::taint_changes(&nodes, &emptying);
            let breaches = spot_engine::breaches(&problem);
            let plan = if !breaches.is_empty() {
                // Like Karpenter's drift: the user asked for the policy, so it is enforced in
                // every consolidation mode.
                Some(comply(&id, &region, &problem, budget, &breaches))
            } else {
                match mode {
                    Consolidation::Off => None,
                    Consolidation::WhenEmpty => Some(remove_empty(&id, &region, &problem, budget)),
                    Consolidation::WhenUnderutilized => {
                        Some(recommend(&id, &region, &problem, budget))
                    }
                }
            };
            (plan.map(|plan| (plan, problem)), taints)
        })
        .await;
        let Ok((planned, taints)) = planned else {
            return false;
        };
        if !(cluster.dry_run || policy.dry_run) {
            self.mark_emptying(cluster_id, taints).await;
        }
        let Some((mut plan, problem)) = planned else {
            return false;
        };
        if policy.dry_run {
            note_policy_dry_run(&mut plan);
        }
        // Pods waiting for capacity are provisioning's; a consolidation waits until they run.
        if plan.steps.is_empty() || plan.kind() == pb::PlanKind::Provisioning {
            return false;
        }
        // Billing's hold: the plan is shown, saying why it was not applied.
        let billing_hold = self
            .billing_hold(tenant_id, cluster_id, state.nodes.len())
            .await;
        if let Some(reason) = &billing_hold {
            plan.reason = format!("{} (recommended only: {reason})", plan.reason);
        }
        // A plan that would strand running pods is only ever shown: their loss is the user's call.
        let recommend_only = cluster.dry_run
            || policy.dry_run
            || billing_hold.is_some()
            || !policy.in_window(chrono::Utc::now())
            || !plan.stranded_pods.is_empty();
        self.keep(
            tenant_id,
            &cluster.region,
            plan,
            &problem,
            recommend_only,
            &policy.node_setup,
        )
        .await
    }

    /// A launch-only plan for the pods kube-scheduler cannot bind to the cluster's nodes, applied
    /// at once (recommended only in dry-run), even while other plans run: pods already launched
    /// for are left out, so capacity on its way is never launched twice, and a pod that arrives
    /// meanwhile does not wait for the earlier launch to finish before its own starts.
    async fn provision(&self, tenant_id: &str, cluster_id: &str, memory: &mut Provisioned) {
        if spot_kit::hibernation::is_marked(self.ctx.bus.as_ref(), cluster_id)
            .await
            .unwrap_or(true)
        {
            return;
        }
        let Ok(mut fleet) = self.fleet() else {
            return;
        };
        let Ok(state) = fleet
            .get_cluster_state(GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
        else {
            return;
        };
        let Some(cluster) = state.cluster.clone() else {
            return;
        };
        let running: HashSet<String> = state
            .pods
            .iter()
            .filter(|p| !p.node_name.is_empty())
            .map(crate::problem::pod_id)
            .collect();
        let waiting: Vec<String> = state
            .pods
            .iter()
            .filter(|p| p.node_name.is_empty() && crate::problem::is_planned(p))
            .map(crate::problem::pod_id)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let policy = match self.policy_for(tenant_id, cluster_id).await {
            Ok(policy) => policy,
            Err(status) => {
                tracing::warn!(%status, cluster = %cluster_id, "no policy: not provisioning");
                return;
            }
        };
        let (region, mut problem) = self.problem_for(&state, &policy).await;
        memory.launched_for.retain(|pod, launched| {
            launched.first_at.elapsed() < RELAUNCH_AFTER && !running.contains(pod)
        });
        // Unknown when the store cannot say: then every launch still counts as on its way.
        let applying: Option<HashSet<String>> = self
            .plans
            .applying(tenant_id, cluster_id)
            .await
            .ok()
            .map(|plans| plans.into_iter().map(|p| p.id).collect());
        let covered: HashSet<String> = memory
            .launched_for
            .iter()
            .filter(|(_, launched)| launched.covers(applying.as_ref()))
            .map(|(pod, _)| pod.clone())
            .collect();
        problem.pods.retain(|p| !covered.contains(&p.id));
        let id = cluster_id.to_owned();
        let Ok((plan, problem)) = tokio::task::spawn_blocking(move || {
            let plan = crate::recommend::provision(&id, &region, &problem);
            (plan, problem)
        })
        .await
        else {
            return;
        };
        let unplaceable: Vec<String> = plan
            .unplaced_pods
            .iter()
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect();
        if plan.steps.is_empty() {
            // Shown once per change, so the plan list says why those pods wait.
            if !unplaceable.is_empty() && unplaceable != memory.unplaceable {
                memory.unplaceable = unplaceable;
                if let Err(status) = self.plans.insert(tenant_id, &plan, &problem).await {
                    tracing::warn!(%status, "provisioning report not stored");
                }
            }
            return;
        }
        memory.unplaceable = unplaceable.clone();
        let dry_run = cluster.dry_run || policy.dry_run;
        let launched_for = waiting
            .into_iter()
            .filter(|p| !covered.contains(p) && !unplaceable.contains(p));
        for pod in launched_for {
            let latest = Launched {
                first_at: Instant::now(),
                plan_id: plan.id.clone(),
                applied: !dry_run,
                attempts: 1,
            };
            memory
                .launched_for
                .entry(pod)
                .and_modify(|launched| {
                    launched.attempts += 1;
                    launched.plan_id = latest.plan_id.clone();
                    launched.applied = latest.applied;
                })
                .or_insert(latest);
        }
        self.keep(
            tenant_id,
            &cluster.region,
            plan,
            &problem,
            dry_run,
            &policy.node_setup,
        )
        .await;
    }

    /// Stores the plan, and applies it unless the cluster only wants recommendations.
    pub(crate) async fn keep(
        &self,
        tenant_id: &str,
        region: &str,
        mut plan: pb::Plan,
        problem: &spot_engine::Problem,
        dry_run: bool,
        node_setup: &NodeSetup,
    ) -> bool {
        self.estimated_prices.note(tenant_id, region, &mut plan);
        if let Err(status) = self.plans.insert(tenant_id, &plan, problem).await {
            tracing::warn!(%status, "autopilot plan not stored");
            return false;
        }
        if dry_run {
            return true;
        }
        match self.start_applying(plan, node_setup.clone()).await {
            Ok(_) => true,
            Err(status) => {
                tracing::warn!(%status, "autopilot plan not applied");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launched(attempts: u32, applied: bool) -> Launched {
        Launched {
            first_at: Instant::now(),
            plan_id: "plan-1".into(),
            applied,
            attempts,
        }
    }

    #[test]
    fn a_pod_still_waiting_after_its_launch_ended_gets_one_more_launch() {
        let running: HashSet<String> = ["plan-1".to_owned()].into();
        let ended = HashSet::new();
        // Capacity on its way: not launched for twice.
        assert!(launched(1, true).covers(Some(&running)));
        // The plan ended and the pod still waits (another pod took the room): launch again.
        assert!(!launched(1, true).covers(Some(&ended)));
        // It had its second chance: it waits out the relaunch time.
        assert!(launched(2, true).covers(Some(&ended)));
        // Only recommended (dry-run): nothing is on its way, and nothing is recommended again.
        assert!(launched(1, false).covers(Some(&ended)));
        // The store cannot say whether the plan runs: count it as running.
        assert!(launched(1, true).covers(None));
    }
}
