//! Recommend: the engine's cheapest node set for the cluster's pods, and the ordered steps from the
//! nodes that exist to it, as a plan a user can read.

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
pub fn message(
    cluster_id: &str,
    region: &str,
    planned: &engine::Plan,
    strategy: &str,
    kind: pb::PlanKind,
) -> pb::Plan {
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
        kind: kind.into(),
        ..Default::default()
    }
}

/// Gives each launch of a plan that must land the pools it may fall back to when its own is out
/// of capacity ([`engine::fallback_instance_types`]): a dry pool then costs nothing but a little
/// more per hour, where it would fail the plan and leave pods waiting.
fn add_fallback_pools(plan: &mut pb::Plan, problem: &engine::Problem) {
    for step in plan
        .steps
        .iter_mut()
        .filter(|s| s.kind() == pb::StepKind::Launch)
    {
        let Some(pool) = step.pool.clone() else {
            continue;
        };
        let capacity_type = if step.capacity_type() == CapacityType::Spot {
            engine::CapacityType::Spot
        } else {
            engine::CapacityType::OnDemand
        };
        step.fallback_pools = engine::fallback_instance_types(
            problem,
            &pool.instance_type,
            &pool.zone,
            capacity_type,
        )
        .into_iter()
        .map(|instance_type| Pool {
            instance_type,
            ..pool.clone()
        })
        .collect();
    }
}

/// Says on the plan that its cluster's policy only wants recommendations.
pub fn note_policy_dry_run(plan: &mut pb::Plan) {
    plan.reason = format!(
        "{} (the cluster's policy is in dry-run: recommended, never applied)",
        plan.reason
    );
}

/// Replacement capacity from other pools first, then the drain of the noticed node (or of every
/// node in a flagged pool).
pub fn respond(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    interrupted: &engine::Interrupted,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let planned = engine::respond_to_interruption(problem, interrupted, budget);
    let mut plan = message(
        cluster_id,
        region,
        &planned,
        "interruption-response",
        pb::PlanKind::InterruptionResponse,
    );
    add_fallback_pools(&mut plan, problem);
    if plan.reason.is_empty() {
        plan.reason = match interrupted {
            engine::Interrupted::Node(name) => {
                format!("spot node {name} is being reclaimed: replacement first, then the drain")
            }
            engine::Interrupted::Pool(pool) => format!(
                "spot capacity in {} / {} is being reclaimed: replacement first, then the drain",
                pool.zone, pool.instance_type
            ),
        };
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
    message(
        cluster_id,
        region,
        &planned,
        "remove-empty-nodes",
        pb::PlanKind::Consolidation,
    )
}

pub(crate) fn pod_message(id: &str, reason: String) -> pb::UnplacedPod {
    let (namespace, name) = id.split_once('/').unwrap_or(("", id));
    pb::UnplacedPod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason,
    }
}

/// The launch-only plan for the pods kube-scheduler cannot bind to the nodes that exist (empty
/// when none waits, or when no launch would help them: `unplaced_pods` then says why).
pub fn provision(cluster_id: &str, region: &str, problem: &engine::Problem) -> pb::Plan {
    let provisioned = engine::provision(problem);
    let mut plan = message(
        cluster_id,
        region,
        &provisioned.plan,
        "provisioning",
        pb::PlanKind::Provisioning,
    );
    add_fallback_pools(&mut plan, problem);
    plan.unplaced_pods = provisioned
        .unplaceable
        .into_iter()
        .map(|(id, reason)| pod_message(&id, reason))
        .collect();
    plan.unmet_preferences = unmet_preferences(&provisioned.unmet_preferences);
    plan
}

/// What the user (Recommend) and the autopilot are offered: pods waiting for a node come first,
/// with a launch-only plan; then, when the nodes break the policy, a compliance plan; otherwise a
/// consolidation, which must pay the policy's minimum saving.
pub fn recommend(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let provisioning = provision(cluster_id, region, problem);
    if !provisioning.steps.is_empty() {
        return provisioning;
    }
    let breaches = engine::breaches(problem);
    if !breaches.is_empty() {
        return comply(cluster_id, region, problem, budget, &breaches);
    }
    consolidate(cluster_id, region, problem, budget)
}

/// The running pods a solution has no place for: with them, the policy cannot be met by any
/// plan (a pod that already waits is provisioning's concern, not the policy's).
pub fn cannot_meet(problem: &engine::Problem, solution: &engine::Solution) -> String {
    let running: Vec<&engine::Unschedulable> = solution
        .unschedulable
        .iter()
        .filter(|u| {
            problem
                .existing_nodes
                .iter()
                .any(|n| n.pods.contains(&u.id))
        })
        .collect();
    running
        .iter()
        .map(|u| format!("{} ({})", u.id, u.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The plan that brings the cluster back within its policy, whatever it costs (the user asked
/// for the policy), in steps kube-scheduler can carry out and within the disruption budget (a
/// cluster far out of policy gets there over several plans). Empty, saying why, when the policy
/// cannot be met with the pools it admits now (the cluster then keeps its nodes) or no plan
/// kube-scheduler can carry out gets closer.
pub fn comply(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    budget: engine::DisruptionBudget,
    breaches: &[engine::Breach],
) -> pb::Plan {
    let (movable, pinned) = engine::set_aside_do_not_disrupt(problem);
    let solution = engine::solve(&movable);
    let mut safe = engine::carry_out_safely(&movable, &solution, budget);
    engine::count_pinned(&mut safe.plan, &pinned);
    let broken = breaches
        .iter()
        .map(|b| b.detail.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let mut plan = message(
        cluster_id,
        region,
        &safe.plan,
        &solution.strategy,
        pb::PlanKind::Compliance,
    );
    plan.optimality_gap_percent = solution.gap_percent;
    let unmet = cannot_meet(problem, &solution);
    let left = engine::breaches_after(problem, &safe.plan).len();
    let empty_because = if !unmet.is_empty() {
        Some(format!(
            "the cluster breaks its policy ({broken}), and the policy cannot be met with the pools it admits now: no admitted pool for {unmet}; the cluster keeps its nodes"
        ))
    } else if safe.plan.steps.is_empty() || left >= breaches.len() {
        let why = if pinned.is_empty() {
            String::new()
        } else {
            format!(" (it leaves alone {})", engine::describe_pinned(&pinned))
        };
        Some(format!(
            "the cluster breaks its policy ({broken}), and no plan kube-scheduler can carry out brings it closer now{why}; the cluster keeps its nodes"
        ))
    } else {
        None
    };
    if let Some(reason) = empty_because {
        plan.steps.clear();
        plan.target_usd_per_hour = plan.current_usd_per_hour;
        plan.savings_usd_per_month = 0.0;
        plan.reason = reason;
        return plan;
    }
    let cost = if safe.plan.savings_per_month >= 0.0 {
        format!("saves ${:.2} per month", safe.plan.savings_per_month)
    } else {
        format!("costs ${:.2} more per month", -safe.plan.savings_per_month)
    };
    plan.reason = format!("brings the cluster back within its policy ({broken}); {cost}");
    if !pinned.is_empty() {
        plan.reason.push_str(&format!(
            "; leaves alone {}",
            engine::describe_pinned(&pinned)
        ));
    }
    if left > 0 {
        plan.reason.push_str(&format!(
            "; the disruption budget leaves {left} breach(es) for the next plan"
        ));
    }
    plan.stranded_pods = stranded(&safe, &solution);
    plan.unmet_preferences = unmet_preferences(&solution.unmet_preferences);
    add_fallback_pools(&mut plan, &movable);
    plan
}

/// The pods' soft constraints the target packing does not meet, each naming the preference.
fn unmet_preferences(unmet: &[engine::UnmetPreference]) -> Vec<pb::UnplacedPod> {
    unmet
        .iter()
        .map(|u| pod_message(&u.pod, format!("its {} is not met", u.preference)))
        .collect()
}

/// The running pods a plan evicts with no node to go to, each with why.
fn stranded(safe: &engine::SafePlan, solution: &engine::Solution) -> Vec<pb::UnplacedPod> {
    let why_unplaceable = |id: &str| {
        solution
            .unschedulable
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.reason.clone())
            .unwrap_or_default()
    };
    safe.lost
        .iter()
        .map(|lost| {
            pod_message(
                &lost.pod,
                format!(
                    "evicted from {} with no node to go to: {}",
                    lost.node,
                    why_unplaceable(&lost.pod)
                ),
            )
        })
        .collect()
}

/// Solves the cluster afresh and plans the way there that kube-scheduler can carry out: a node
/// whose drain would strand a pod is kept. A plan that saves less than the policy's minimum (or
/// nothing) is empty and says why; one that evicts pods the target has no place for names them.
pub fn consolidate(
    cluster_id: &str,
    region: &str,
    problem: &engine::Problem,
    budget: engine::DisruptionBudget,
) -> pb::Plan {
    let judged = engine::paying_consolidation(problem, budget);
    let (safe, solution) = (&judged.safe, &judged.solution);
    let planned = &safe.plan;
    let stranded = stranded(safe, solution);
    let minimum = problem.policy.min_savings_percent;
    let saving_percent = judged.net_saving_percent;
    let mut reason = match &judged.verdict {
        engine::Verdict::NothingToDo if safe.kept.is_empty() => {
            "the cluster already runs on its best node set: nothing to do".to_owned()
        }
        engine::Verdict::NothingToDo => {
            "nothing to do that kube-scheduler could carry out".to_owned()
        }
        engine::Verdict::BreaksPolicy(broken) => format!(
            "the cheapest plan kube-scheduler can carry out would break the policy ({}): nothing to do",
            broken
                .iter()
                .map(|b| b.detail.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        engine::Verdict::BelowMinimum if saving_percent >= minimum => format!(
            "the best plan kube-scheduler can carry out saves {saving_percent:.1} % (${:.2} per month) once the move is paid for, too little for each node it moves (each must save a quarter of the average node's price and at least ${:.0} per month, unless the move saves half the cluster): not worth evicting pods for; nodes the cluster could do without are left to empty instead",
            planned.savings_per_month,
            engine::MIN_MONTHLY_SAVING_PER_MOVED_NODE_USD
        ),
        engine::Verdict::BelowMinimum => format!(
            "the best plan kube-scheduler can carry out saves {saving_percent:.1} % (${:.2} per month) once the move is paid for, below the policy's minimum of {minimum} %: nothing to do",
            planned.savings_per_month
        ),
        engine::Verdict::Pays => format!(
            "moves the cluster from ${:.3}/h to ${:.3}/h, saving {saving_percent:.1} % once the move is paid for{}",
            planned.current_cost_per_hour,
            planned.target_cost_per_hour,
            if planned
                .steps
                .iter()
                .any(|s| matches!(s.action, engine::StepAction::Launch { .. }))
            {
                String::new()
            } else {
                format!(": {}", planned.reason)
            }
        ),
    };
    if safe.added > 0 {
        reason.push_str(&format!(
            "; adds {} node(s) ({:.4} USD/h) beyond the cheapest packing: kube-scheduler, preferring the least allocated node, would otherwise leave evicted pods without a node",
            safe.added, safe.added_cost_per_hour
        ));
    }
    if !safe.kept.is_empty() {
        reason.push_str(&format!(
            "; keeps {} ({} node(s) the cheapest packing would drain): kube-scheduler, preferring the least allocated node, would leave their pods without a node",
            safe.kept.join(", "),
            safe.kept.len()
        ));
    }
    if !judged.pinned.is_empty() {
        reason.push_str(&format!(
            "; leaves alone {}",
            engine::describe_pinned(&judged.pinned)
        ));
    }
    let worth_it = judged.pays();
    if worth_it && !stranded.is_empty() {
        reason.push_str(&format!(
            "; it would leave {} running pod(s) with no node ({}): never applied by the autopilot, and applied by hand only by accepting their loss",
            stranded.len(),
            stranded
                .iter()
                .map(|p| format!("{}/{}", p.namespace, p.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut plan = message(
        cluster_id,
        region,
        planned,
        &solution.strategy,
        pb::PlanKind::Consolidation,
    );
    plan.optimality_gap_percent = solution.gap_percent;
    plan.unplaced_pods = solution
        .unschedulable
        .iter()
        .map(|u| pod_message(&u.id, u.reason.clone()))
        .collect();
    plan.reason = reason;
    plan.unmet_preferences = unmet_preferences(&solution.unmet_preferences);
    if worth_it {
        plan.stranded_pods = stranded;
    } else {
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
                ..Default::default()
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
                do_not_disrupt: None,
                settling: false,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn pods_waiting_for_a_node_get_launches_only_and_a_consolidation_must_pay() {
        let budget = engine::DisruptionBudget::percent(20);
        let settled = recommend("c", "us-east-1", &cluster(&["shop/a"]), budget);
        assert!(settled.steps.is_empty(), "{}", settled.reason);
        assert_eq!(settled.kind(), pb::PlanKind::Consolidation);

        let waiting = recommend("c", "us-east-1", &cluster(&["shop/a", "shop/b"]), budget);
        assert_eq!(waiting.kind(), pb::PlanKind::Provisioning);
        assert!(
            waiting
                .steps
                .iter()
                .any(|s| s.kind() == pb::StepKind::Launch),
            "{}",
            waiting.reason
        );
        assert!(
            waiting
                .steps
                .iter()
                .all(|s| matches!(s.kind(), pb::StepKind::Launch | pb::StepKind::WaitReady)),
            "nothing is drained to place a waiting pod: {:?}",
            waiting.steps
        );
        assert!(
            waiting.reason.starts_with("1 pod(s) wait for a node"),
            "{}",
            waiting.reason
        );
        assert!(waiting.unplaced_pods.is_empty());
    }

    #[test]
    fn a_cluster_out_of_its_policy_gets_a_compliance_plan_whatever_it_costs() {
        let budget = engine::DisruptionBudget::percent(100);
        let mut cluster = cluster(&["shop/a"]);
        // A spot node under a policy with no spot, and a minimum saving nothing meets.
        cluster.existing_nodes[0].capacity_type = engine::CapacityType::Spot;
        cluster.policy.min_savings_percent = 99.0;
        let plan = recommend("c", "us-east-1", &cluster, budget);
        assert_eq!(plan.kind(), pb::PlanKind::Compliance, "{}", plan.reason);
        assert!(
            plan.reason
                .starts_with("brings the cluster back within its policy (1 of 1 nodes are spot"),
            "{}",
            plan.reason
        );
        assert!(
            plan.savings_usd_per_month < 0.0,
            "it costs more: {}",
            plan.reason
        );
        let launched: Vec<CapacityType> = plan
            .steps
            .iter()
            .filter(|s| s.kind() == pb::StepKind::Launch)
            .map(|s| s.capacity_type())
            .collect();
        assert_eq!(launched, [CapacityType::OnDemand], "{:?}", plan.steps);
        assert!(
            plan.steps
                .iter()
                .any(|s| s.kind() == pb::StepKind::Terminate && s.node_name == "n1"),
            "{:?}",
            plan.steps
        );
    }

    #[test]
    fn a_breach_on_a_node_that_must_not_move_is_kept_and_says_why() {
        let budget = engine::DisruptionBudget::percent(100);
        let mut cluster = cluster(&["shop/a"]);
        cluster.existing_nodes[0].capacity_type = engine::CapacityType::Spot;
        cluster.existing_nodes[0].do_not_disrupt =
            Some("pod shop/a asks not to be disrupted".into());
        let plan = recommend("c", "us-east-1", &cluster, budget);
        assert_eq!(plan.kind(), pb::PlanKind::Compliance, "{}", plan.reason);
        assert!(plan.steps.is_empty(), "{:?}", plan.steps);
        assert!(
            plan.reason
                .contains("(it leaves alone n1 (pod shop/a asks not to be disrupted))"),
            "{}",
            plan.reason
        );
    }

    #[test]
    fn a_policy_no_plan_can_meet_keeps_the_nodes_and_names_the_pods() {
        let budget = engine::DisruptionBudget::percent(100);
        let mut cluster = cluster(&["shop/a"]);
        cluster.existing_nodes[0].capacity_type = engine::CapacityType::Spot;
        // Only Graviton could run `a`, and the policy's pools are all x86.
        cluster.pods[0]
            .node_selector
            .insert("kubernetes.io/arch".into(), "arm64".into());
        cluster
            .offerings
            .retain(|o| o.architecture != engine::Architecture::Arm64);
        let plan = recommend("c", "us-east-1", &cluster, budget);
        assert_eq!(plan.kind(), pb::PlanKind::Compliance);
        assert!(plan.steps.is_empty(), "{:?}", plan.steps);
        assert!(
            plan.reason.contains("cannot be met") && plan.reason.contains("shop/a"),
            "{}",
            plan.reason
        );
        assert!(
            plan.reason.ends_with("the cluster keeps its nodes"),
            "{}",
            plan.reason
        );
    }
}
