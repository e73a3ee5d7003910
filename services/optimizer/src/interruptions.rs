//! Interruption notices and hive-mind flags, answered apart from the autopilot's re-plans (one
//! runner across replicas, a bus lease of its own), so a warning never waits behind a
//! consolidation, and many clusters' warnings at once (a bulk reclaim) are answered side by side.
//! - An interruption notice for a spot node: a plan with replacement capacity from other pools,
//!   then the drain of that node, applied at once (the notice gives 120 s). The drain waits for
//!   the replacement to be Ready, but never past [`DRAIN_LEAD`] before AWS takes the node: a
//!   replacement slow to boot must not leave the pods to be killed with their node. The node's
//!   other pool mates keep running until their own notice comes: AWS sends one per reclaimed
//!   instance.
//! - A corroborated hive-mind flag (interruptions reported by at least
//!   [`risk_flags::CORROBORATING_REPORTERS`] independent tenants) on a pool a known cluster uses:
//!   the same response for every node of the pool, before that pool's warning reaches this
//!   cluster, at most [`MAX_PREEMPTIONS_PER_HOUR`] times per cluster an hour. A flag only one
//!   tenant raised moves nobody's running nodes: it only steers new capacity away from the pool.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use spot_bus::CancellationToken;
use spot_kit::risk_flags::{self, Flag};
use spot_kit::topics::{CLUSTER_UPDATED, INTERRUPTIONS};
use spot_proto::cluster::v1::GetClusterStateRequest;
use spot_proto::events::v1::InterruptionReported;
use spot_proto::optimizer::v1 as pb;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::OptimizerApi;
use crate::recommend::respond;

/// A pool a cluster already answered for is not answered again within this time (the agent's
/// notice and the flag it raises arrive close together).
const ANSWERED_FOR: Duration = Duration::from_secs(300);
/// Pre-emptive responses to other tenants' flags one cluster gets an hour: corroborated flags on
/// many pools at once must not turn into endless re-plans of the same cluster.
const MAX_PREEMPTIONS_PER_HOUR: usize = 2;
/// The drain of a noticed node starts at least this long before AWS takes the node, Ready
/// replacement or not: time to evict its pods and for them to stop within the default 30 s
/// grace period. (They then wait for the replacement as pending pods.)
const DRAIN_LEAD: Duration = Duration::from_secs(60);
/// Answers worked on at once; more wait for a turn (each holds database connections while it
/// reads the cluster and stores its plan).
const ANSWERS_AT_ONCE: usize = 16;

struct Interruption {
    cluster_id: String,
    tenant_id: String,
    interrupted: spot_engine::Interrupted,
    /// When AWS takes the node back (unix millis), as its notice says; None for a flagged pool.
    action_at_millis: Option<i64>,
}

fn interruption(reported: InterruptionReported) -> Option<Interruption> {
    let interrupted = if reported.node_name.is_empty() {
        let pool = reported.pool?;
        spot_engine::Interrupted::Pool(spot_engine::PoolRef {
            instance_type: pool.instance_type,
            zone: pool.zone,
        })
    } else {
        spot_engine::Interrupted::Node(reported.node_name)
    };
    Some(Interruption {
        cluster_id: reported.cluster_id,
        tenant_id: reported.tenant_id,
        interrupted,
        action_at_millis: (reported.action_at_millis != 0).then_some(reported.action_at_millis),
    })
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A response was stored (and is applying, or recommended in dry-run).
    Stored,
    /// Nothing to do: answered before, no plan needed, or not the tenant's cluster.
    NotNeeded,
    /// It could not be worked out now (the cluster's state or policy unread, the plan not stored
    /// or not started): a repeat of the notice is looked at again.
    Failed,
}

/// An answer once worked out.
struct Answered {
    key: (String, spot_engine::Interrupted),
    preemptive: bool,
    answer: Answer,
}

/// True the first time a cluster answers for a node or pool within [`ANSWERED_FOR`].
fn first_answer(
    answered: &mut HashMap<(String, spot_engine::Interrupted), Instant>,
    notice: &Interruption,
) -> bool {
    answered.retain(|_, at| at.elapsed() < ANSWERED_FOR);
    answered
        .insert(
            (notice.cluster_id.clone(), notice.interrupted.clone()),
            Instant::now(),
        )
        .is_none()
}

/// True when the cluster may still be moved pre-emptively this hour.
fn may_preempt(preempted: &mut HashMap<String, Vec<Instant>>, cluster_id: &str) -> bool {
    let hour = Duration::from_secs(3_600);
    let times = preempted.entry(cluster_id.to_owned()).or_default();
    times.retain(|at| at.elapsed() < hour);
    times.len() < MAX_PREEMPTIONS_PER_HOUR
}

impl OptimizerApi {
    pub(crate) async fn answer_interruptions(self, lost: CancellationToken) {
        let subscriptions = async {
            let bus = self.ctx.bus.as_ref();
            let interruptions = INTERRUPTIONS.subscribe(bus).await?;
            let flags = risk_flags::TOPIC.subscribe(bus).await?;
            let updates = CLUSTER_UPDATED.subscribe(bus).await?;
            Ok::<_, spot_bus::BusError>((interruptions, flags, updates))
        };
        let (mut interruptions, mut flags, mut updates) = match subscriptions.await {
            Ok(all) => all,
            Err(error) => {
                tracing::error!(%error, "interruptions cannot be answered: no bus");
                return;
            }
        };
        // Clusters seen reporting, by id, with their tenant.
        let mut known: HashMap<String, String> = HashMap::new();
        let mut answered: HashMap<(String, spot_engine::Interrupted), Instant> = HashMap::new();
        let mut preempted: HashMap<String, Vec<Instant>> = HashMap::new();
        let turns = Arc::new(Semaphore::new(ANSWERS_AT_ONCE));
        // Each answer: what it answered, whether pre-emptively, and whether it stored a plan.
        let mut answering: JoinSet<Answered> = JoinSet::new();
        let answer = |notice: Interruption, preemptive: bool| {
            let (api, turns) = (self.clone(), turns.clone());
            async move {
                let key = (notice.cluster_id.clone(), notice.interrupted.clone());
                let answer = match turns.acquire_owned().await {
                    Ok(_turn) => api.handle_interruption(notice).await,
                    Err(_) => Answer::Failed,
                };
                Answered {
                    key,
                    preemptive,
                    answer,
                }
            }
        };
        loop {
            tokio::select! {
                () = lost.cancelled() => break,
                Some(reported) = interruptions.next() => {
                    if let Some(notice) = interruption(reported)
                        && first_answer(&mut answered, &notice)
                    {
                        answering.spawn(answer(notice, false));
                    }
                }
                Some(raised) = flags.next() => {
                    let Some(flag) = Flag::from_event(raised) else { continue };
                    if !flag.corroborated() {
                        continue;
                    }
                    for (cluster_id, tenant_id) in &known {
                        let notice = Interruption {
                            cluster_id: cluster_id.clone(),
                            tenant_id: tenant_id.clone(),
                            interrupted: spot_engine::Interrupted::Pool(spot_engine::PoolRef { instance_type: flag.instance_type.clone(), zone: flag.zone.clone() }),
                            action_at_millis: None,
                        };
                        if may_preempt(&mut preempted, cluster_id) && first_answer(&mut answered, &notice) {
                            answering.spawn(answer(notice, true));
                        }
                    }
                }
                Some(updated) = updates.next() => {
                    known.insert(updated.cluster_id, updated.tenant_id);
                }
                Some(done) = answering.join_next() => {
                    let Ok(done) = done else { continue };
                    if done.answer == Answer::Failed {
                        answered.remove(&done.key);
                    } else if done.answer == Answer::Stored && done.preemptive {
                        preempted.entry(done.key.0).or_default().push(Instant::now());
                    }
                }
            }
        }
        // Answers under way finish: a plan half stored helps no one.
        while answering.join_next().await.is_some() {}
    }

    /// True when a stored response already drains the noticed node (applying or done, or
    /// recommended when the cluster only wants recommendations): a notice repeated by its agent,
    /// or reaching another replica after the answerer moved, is answered once. (The in-memory
    /// [`first_answer`] only knows this replica's answers.)
    async fn answered_before(&self, notice: &Interruption, dry_run: bool) -> bool {
        let spot_engine::Interrupted::Node(node) = &notice.interrupted else {
            return false;
        };
        let since = chrono::Utc::now().timestamp_millis() - ANSWERED_FOR.as_millis() as i64;
        let recent = match self
            .plans
            .list(&notice.tenant_id, &notice.cluster_id, None, 20)
            .await
        {
            Ok(plans) => plans,
            Err(status) => {
                tracing::warn!(%status, "earlier answers not checked");
                return false;
            }
        };
        recent.iter().any(|plan| {
            plan.kind() == pb::PlanKind::InterruptionResponse
                && match plan.state() {
                    pb::PlanState::Applying | pb::PlanState::Succeeded => true,
                    pb::PlanState::Recommended => dry_run,
                    _ => false,
                }
                && plan
                    .created_at
                    .as_ref()
                    .is_some_and(|at| spot_proto::time::millis(at) >= since)
                && plan
                    .steps
                    .iter()
                    .any(|s| s.kind() == pb::StepKind::Drain && s.node_name == *node)
        })
    }

    /// Answers an interruption of a pool the cluster may run in.
    async fn handle_interruption(&self, notice: Interruption) -> Answer {
        let Ok(mut fleet) = self.fleet() else {
            return Answer::Failed;
        };
        let Ok(state) = fleet
            .get_cluster_state(GetClusterStateRequest {
                cluster_id: notice.cluster_id.clone(),
            })
            .await
            .map(tonic::Response::into_inner)
        else {
            return Answer::Failed;
        };
        let Some(cluster) = state.cluster.clone() else {
            return Answer::NotNeeded;
        };
        if cluster.tenant_id != notice.tenant_id {
            return Answer::NotNeeded;
        }
        let policy = match self.policy_for(&notice.tenant_id, &notice.cluster_id).await {
            Ok(policy) => policy,
            Err(status) => {
                tracing::error!(%status, cluster = %notice.cluster_id, "no policy: the interruption is not answered");
                return Answer::Failed;
            }
        };
        let dry_run = cluster.dry_run || policy.dry_run;
        if self.answered_before(&notice, dry_run).await {
            return Answer::NotNeeded;
        }
        let (region, problem) = self.problem_for(&state, &policy).await;
        let cluster_id = notice.cluster_id.clone();
        let interrupted = notice.interrupted.clone();
        let budget = policy.budget;
        let planned = tokio::task::spawn_blocking(move || {
            let plan = respond(&cluster_id, &region, &problem, &interrupted, budget);
            (plan, problem)
        })
        .await;
        let Ok((mut plan, problem)) = planned else {
            return Answer::Failed;
        };
        if plan.steps.is_empty() {
            tracing::info!(cluster = %notice.cluster_id, reason = %plan.reason, "interruption needs no plan");
            return Answer::NotNeeded;
        }
        if let Some(action_at) = notice.action_at_millis {
            let go_ahead_at = action_at - DRAIN_LEAD.as_millis() as i64;
            for step in plan
                .steps
                .iter_mut()
                .filter(|s| s.kind() == pb::StepKind::WaitReady)
            {
                step.go_ahead_at = Some(spot_proto::time::timestamp(go_ahead_at));
                step.explanation.push_str(&format!(
                    "; the drain starts by {} whatever, {} s before AWS takes the node",
                    chrono::DateTime::from_timestamp_millis(go_ahead_at)
                        .map(|at| at.format("%H:%M:%S UTC").to_string())
                        .unwrap_or_default(),
                    DRAIN_LEAD.as_secs()
                ));
            }
        }
        // The node goes whatever its pods ask: its drain says what cannot be saved.
        for step in plan
            .steps
            .iter_mut()
            .filter(|s| s.kind() == pb::StepKind::Drain)
        {
            let hurt: Vec<String> = state
                .pods
                .iter()
                .filter(|p| p.node_name == step.node_name)
                .filter_map(|p| spot_kit::kube_terms::eviction_hurts(p, &Default::default()))
                .collect();
            if !hurt.is_empty() {
                step.explanation
                    .push_str(&format!("; it goes regardless, so: {}", hurt.join("; ")));
            }
        }
        let region = state.cluster.as_ref().map_or("", |c| c.region.as_str());
        let kept = self
            .keep(
                &notice.tenant_id,
                region,
                plan,
                &problem,
                dry_run,
                &policy.node_setup,
            )
            .await;
        if kept { Answer::Stored } else { Answer::Failed }
    }
}
