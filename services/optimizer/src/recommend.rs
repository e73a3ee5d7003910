//! Recommend: the engine's cheapest node set for the cluster's pods, and the ordered steps from the
//! nodes that exist to it, as a plan a user can read.

use std::collections::HashSet;

use spot_engine as engine;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::optimizer::v1 as pb;

fn capacity(capacity_type: engine::CapacityType) -> CapacityType {
    match capacity_type {
        engine::CapacityType::Spot => CapacityType::Spot,
        engine::CapacityType::OnDemand => CapacityType::OnDemand,
    }
}

fn step(index: usize, region: &str, step: &engine::Step) -> pb::PlanStep {
    let mut out = pb::PlanStep {
        index: index as u32,
        status: pb::StepStatus::Pending.into(),
        explanation: step.explanation.clone(),
        ..Default::default()
    };
    match &step.action {
        engine::StepAction::Launch {
            instance_type,
            zone,
            capacity_type,
            count,
        } => {
            out.kind = pb::StepKind::Launch.into();
            out.pool = Some(Pool {
                region: region.to_owned(),
                zone: zone.clone(),
                instance_type: instance_type.clone(),
            });
            out.capacity_type = capacity(*capacity_type).into();
            out.count = *count;
        }
        engine::StepAction::WaitReady { count } => {
            out.kind = pb::StepKind::WaitReady.into();
            out.count = *count;
        }
        engine::StepAction::Cordon { node } => {
            out.kind = pb::StepKind::Cordon.into();
            out.node_name = node.clone();
        }
        engine::StepAction::Drain { node } => {
            out.kind = pb::StepKind::Drain.into();
            out.node_name = node.clone();
        }
        engine::StepAction::Terminate { node } => {
            out.kind = pb::StepKind::Terminate.into();
            out.node_name = node.clone();
        }
    }
    out
}

/// An engine plan as the message users see, in the given state.
pub fn message(cluster_id: &str, region: &str, planned: &engine::Plan, strategy: &str) -> pb::Plan {
    pb::Plan {
        id: uuid::Uuid::now_v7().simple().to_string(),
        cluster_id: cluster_id.to_owned(),
        state: pb::PlanState::Recommended.into(),
        steps: planned
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| step(i, region, s))
            .collect(),
        current_usd_per_hour: planned.current_cost_per_hour,
        target_usd_per_hour: planned.target_cost_per_hour,
        savings_usd_per_month: planned.savings_per_month,
        strategy: strategy.to_owned(),
        created_at: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis(),
        )),
        reason: planned.reason.clone(),
        ..Default::default()
    }
}

/// Replacement capacity from other pools first, then the drain of the nodes in the interrupted
/// (or flagged) pool.
pub fn respond(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    pool: &engine::PoolRef,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let mut flagged = problem.clone();
    flagged.risk_flags.push(pool.clone());
    let planned = engine::respond_to_interruption(&flagged, pool, budget);
    let mut plan = message(cluster_id, region, &planned, "interruption-response");
    if plan.reason.is_empty() {
        plan.reason = format!(
            "spot capacity in {} / {} is being reclaimed: replacement first, then the drain",
            pool.zone, pool.instance_type
        );
    }
    plan
}

/// Only the empty nodes go (the "when empty" consolidation mode); nothing else moves.
pub fn remove_empty(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let planned = engine::remove_empty_nodes(problem, budget);
    message(cluster_id, region, &planned, "remove-empty-nodes")
}

/// How many of the pods no node runs yet (pending) the solution places.
fn pending_pods_placed(problem: &engine::Problem, solution: &engine::Solution) -> usize {
    let running: HashSet<&str> = problem
        .existing_nodes
        .iter()
        .flat_map(|n| n.pods.iter().map(String::as_str))
        .collect();
    let unplaced: HashSet<&str> = solution
        .unschedulable
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    problem
        .pods
        .iter()
        .filter(|p| !running.contains(p.id.as_str()) && !unplaced.contains(p.id.as_str()))
        .count()
}

/// Solves and plans; a change saving less than the policy's minimum becomes an empty plan that
/// says why (so the cluster does not churn for pennies), unless it places pods that wait for a
/// node.
pub fn recommend(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let solution = engine::solve(problem);
    let planned = engine::plan(&problem.existing_nodes, &solution, budget);
    let unplaced_pods = solution
        .unschedulable
        .iter()
        .map(|u| {
            let (namespace, name) = u.id.split_once('/').unwrap_or(("", u.id.as_str()));
            pb::UnplacedPod {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                reason: u.reason.clone(),
            }
        })
        .collect();
    let minimum = problem.policy.min_savings_percent;
    let saving_percent = if planned.current_cost_per_hour > 0.0 {
        planned.savings_per_hour / planned.current_cost_per_hour * 100.0
    } else {
        0.0
    };
    // Pods waiting for a node matter more than the minimum saving, which only stops churn.
    let placed_pending = pending_pods_placed(problem, &solution);
    let worth_it = !planned.steps.is_empty() && (saving_percent >= minimum || placed_pending > 0);
    let reason = if planned.steps.is_empty() {
        planned.reason.clone()
    } else if placed_pending > 0 {
        format!(
            "{placed_pending} pods wait for a node: the plan places them, the cluster going from ${:.3}/h to ${:.3}/h",
            planned.current_cost_per_hour, planned.target_cost_per_hour
        )
    } else if !worth_it {
        format!(
            "the best plan saves {saving_percent:.1} % (${:.2} per month), below the policy's minimum of {minimum} %: nothing to do",
            planned.savings_per_month
        )
    } else {
        format!(
            "moves the cluster from ${:.3}/h to ${:.3}/h, saving {saving_percent:.1} %",
            planned.current_cost_per_hour, planned.target_cost_per_hour
        )
    };
    let mut plan = message(cluster_id, region, &planned, &solution.strategy);
    plan.optimality_gap_percent = solution.gap_percent;
    plan.unplaced_pods = unplaced_pods;
    plan.reason = reason;
    if !worth_it {
        plan.steps.clear();
        plan.target_usd_per_hour = plan.current_usd_per_hour;
        plan.savings_usd_per_month = 0.0;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(id: &str) -> engine::Pod {
        engine::Pod {
            id: id.into(),
            requests: engine::Resources {
                cpu_m: 1_500,
                memory_mib: 3_000,
                pods: 1,
                gpus: 0,
            },
            ..Default::default()
        }
    }

    /// A cluster of one on-demand node running `shop/a`, priced so that no other arrangement
    /// saves anything, under an on-demand-only policy.
    fn cluster(pods: &[&str]) -> engine::Problem {
        engine::Problem {
            offerings: engine::offerings_in("us-east-1", &["us-east-1a".to_owned()]),
            pods: pods.iter().map(|id| pod(id)).collect(),
            policy: engine::Policy {
                spot_share_percent: 0,
                min_savings_percent: 5.0,
                ..Default::default()
            },
            existing_nodes: vec![engine::ExistingNode {
                name: "n1".into(),
                instance_type: "m5.large".into(),
                zone: "us-east-1a".into(),
                capacity_type: engine::CapacityType::OnDemand,
                price_per_hour: 0.001,
                pods: vec!["shop/a".into()],
                allocatable: None,
                labels: Default::default(),
                taints: Vec::new(),
                cordoned: false,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn pods_waiting_for_a_node_get_a_plan_whatever_it_saves() {
        let budget = engine::DisruptionBudget::percent(20);
        let settled = recommend("c", "us-east-1", &cluster(&["shop/a"]), budget);
        assert!(settled.steps.is_empty(), "{}", settled.reason);

        let waiting = recommend("c", "us-east-1", &cluster(&["shop/a", "shop/b"]), budget);
        assert!(
            waiting
                .steps
                .iter()
                .any(|s| s.kind() == pb::StepKind::Launch),
            "{}",
            waiting.reason
        );
        assert!(
            waiting.reason.starts_with("1 pods wait for a node"),
            "{}",
            waiting.reason
        );
        assert!(waiting.unplaced_pods.is_empty());
    }
}
