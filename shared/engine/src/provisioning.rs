//! Provisioning, apart from consolidation: pods waiting for a node get the smallest set of
//! launches that places them, and nothing is drained. A re-plan of the whole cluster to place one
//! pod moves running pods for a reason that has nothing to do with them; launching only is fast,
//! cannot strand anything, and leaves any repacking to a consolidation that must pay for itself.
//!
//! Only pods kube-scheduler cannot bind to the nodes that exist need capacity (a pod reported
//! pending a moment before it is bound needs none). Pods no admitted pool can run, or that the
//! scheduler would still not bind once the new nodes are Ready, are named with why, so they are
//! not launched for again and again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::carry_out::replay;
use crate::model::{CapacityType, Policy, Problem, UnmetPreference};
use crate::plan::{Plan, finish_plan, push_launches};

/// A launch-only plan for the pods that wait for a node, and the waiting pods it cannot help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provisioning {
    pub plan: Plan,
    /// Pods waiting for a node that new capacity would not place, with why.
    pub unplaceable: Vec<(String, String)>,
    /// The waiting pods' preferences the launches do not meet (see [`crate::solve`]).
    #[serde(default)]
    pub unmet_preferences: Vec<UnmetPreference>,
}

pub fn provision(problem: &Problem) -> Provisioning {
    let current_cost: f64 = problem
        .existing_nodes
        .iter()
        .map(|n| n.price_per_hour)
        .sum();
    let waiting = replay(problem, &[]).still_pending;
    if waiting.is_empty() {
        return Provisioning {
            plan: Plan::empty(
                current_cost,
                "no pod waits for a node the cluster does not have".into(),
            ),
            unplaceable: Vec::new(),
            unmet_preferences: Vec::new(),
        };
    }
    let waiting_ids: Vec<&str> = waiting.iter().map(|(id, _)| id.as_str()).collect();
    // The cluster-wide rules (an on-demand base, pool spread) are a consolidation's business: a
    // pod waiting for a node must not wait for a cluster-wide rearrangement. The spot share is
    // kept: the new nodes follow the policy's mix, and a policy without spot never gets any.
    let sub = Problem {
        offerings: problem.offerings.clone(),
        pods: problem
            .pods
            .iter()
            .filter(|p| waiting_ids.contains(&p.id.as_str()))
            .cloned()
            .collect(),
        policy: Policy {
            on_demand_base: 0,
            min_spot_pools: 0,
            ..problem.policy.clone()
        },
        risk_flags: problem.risk_flags.clone(),
        existing_nodes: Vec::new(),
    };
    // The waiting pods' preferences shape the launches as far as they cost little.
    let solution = crate::solve(&sub);
    let mut unplaceable: Vec<(String, String)> = solution
        .unschedulable
        .iter()
        .map(|u| (u.id.clone(), u.reason.clone()))
        .collect();
    let mut launches: BTreeMap<(String, String, CapacityType), (u32, f64)> = BTreeMap::new();
    for node in &solution.nodes {
        let entry = launches
            .entry((
                node.instance_type.clone(),
                node.zone.clone(),
                node.capacity_type,
            ))
            .or_insert((0, node.price_per_hour));
        entry.0 += 1;
    }
    let mut steps = Vec::new();
    push_launches(
        &mut steps,
        launches
            .iter()
            .map(|(key, (count, _))| (key.clone(), *count)),
        |(instance_type, zone, capacity_type), count| {
            let price = launches
                .get(&(instance_type.clone(), zone.clone(), *capacity_type))
                .map_or(0.0, |(_, price)| *price);
            format!(
                "launch {count} x {instance_type} ({}) in {zone} at {price:.4} USD/h each: pods wait for a node and no node has room for them",
                capacity_type.label()
            )
        },
        |launched| {
            format!(
                "wait until the {launched} new nodes are Ready: the waiting pods are scheduled onto them"
            )
        },
    );
    // The scheduler, not the engine, binds them: a pod it would still not bind is named, and
    // capacity no pod would use is not launched at all.
    let after = replay(problem, &steps).still_pending;
    for (id, reason) in &after {
        if !unplaceable.iter().any(|(u, _)| u == id) {
            unplaceable.push((
                id.clone(),
                format!("kube-scheduler would not bind it to the new nodes either: {reason}"),
            ));
        }
    }
    let placed = waiting.len().saturating_sub(after.len());
    if steps.is_empty() || placed == 0 {
        let reason = match unplaceable.first() {
            Some((id, why)) => format!(
                "{} pod(s) wait for a node that no launch would give them; {id}: {why}",
                unplaceable.len()
            ),
            None => "no launch places the waiting pods".to_owned(),
        };
        return Provisioning {
            plan: Plan::empty(current_cost, reason),
            unplaceable,
            unmet_preferences: Vec::new(),
        };
    }
    let reason = format!(
        "{placed} pod(s) wait for a node: launching {} node(s) for {:.4} USD/h places them; nothing is drained",
        solution.nodes.len(),
        solution.cost_per_hour
    );
    Provisioning {
        plan: finish_plan(
            steps,
            current_cost,
            current_cost + solution.cost_per_hour,
            reason,
        ),
        unplaceable,
        unmet_preferences: solution.unmet_preferences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExistingNode, Offering, Pod, Resources, Taint, TaintEffect};
    use crate::plan::StepAction;

    fn offerings() -> Vec<Offering> {
        crate::offerings_in("us-east-1", &["us-east-1a".to_owned()])
    }

    fn pod(id: &str, cpu_m: i64) -> Pod {
        Pod {
            id: id.into(),
            requests: Resources::new(cpu_m, 1_024, 1, 0),
            ..Default::default()
        }
    }

    fn cluster(pods: Vec<Pod>, running: &[&str]) -> Problem {
        Problem {
            offerings: offerings(),
            pods,
            existing_nodes: vec![ExistingNode::new(
                "n1",
                "m5.large",
                "us-east-1a",
                CapacityType::OnDemand,
                0.096,
                running.iter().map(|p| (*p).to_owned()).collect(),
            )],
            ..Default::default()
        }
    }

    #[test]
    fn waiting_pods_get_launches_only_and_nothing_is_drained() {
        let problem = cluster(
            vec![pod("a", 1_500), pod("b", 1_500), pod("c", 1_500)],
            &["a"],
        );
        let provisioned = provision(&problem);
        let steps = &provisioned.plan.steps;
        assert!(!steps.is_empty(), "{}", provisioned.plan.reason);
        assert!(steps.iter().all(|s| matches!(
            s.action,
            StepAction::Launch { .. } | StepAction::WaitReady { .. }
        )));
        assert!(provisioned.unplaceable.is_empty());
        assert!(replay(&problem, steps).still_pending.is_empty());
        assert!(
            provisioned
                .plan
                .reason
                .starts_with("2 pod(s) wait for a node"),
            "{}",
            provisioned.plan.reason
        );
    }

    #[test]
    fn a_policy_without_spot_gets_only_on_demand_launches() {
        let mut problem = cluster(vec![pod("a", 1_500), pod("b", 1_500)], &[]);
        problem.existing_nodes.clear();
        problem.policy.spot_share_percent = 0;
        let provisioned = provision(&problem);
        let launches: Vec<_> = provisioned
            .plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                StepAction::Launch { capacity_type, .. } => Some(*capacity_type),
                _ => None,
            })
            .collect();
        assert!(!launches.is_empty(), "{}", provisioned.plan.reason);
        assert!(
            launches.iter().all(|c| *c == CapacityType::OnDemand),
            "{launches:?}"
        );
    }

    #[test]
    fn a_pending_pod_that_fits_an_existing_node_needs_no_launch() {
        let problem = cluster(vec![pod("a", 500), pod("b", 500)], &["a"]);
        let provisioned = provision(&problem);
        assert!(provisioned.plan.steps.is_empty());
    }

    #[test]
    fn pods_capacity_cannot_help_are_named_and_nothing_is_launched() {
        let mut huge = pod("huge", 10_000_000);
        huge.requests.memory_mib = 1;
        let mut picky = pod("picky", 100);
        picky
            .node_selector
            .insert("example.com/team".into(), "nobody".into());
        let mut problem = cluster(vec![huge, picky], &[]);
        // Every offering carries a taint neither pod tolerates, too.
        for offering in &mut problem.offerings {
            offering.taints.push(Taint {
                key: "dedicated".into(),
                value: "batch".into(),
                effect: TaintEffect::NoSchedule,
            });
        }
        let provisioned = provision(&problem);
        assert!(provisioned.plan.steps.is_empty());
        let named: Vec<&str> = provisioned
            .unplaceable
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(named.len(), 2, "{:?}", provisioned.unplaceable);
        assert!(named.contains(&"huge") && named.contains(&"picky"));
        assert!(
            provisioned
                .plan
                .reason
                .contains("no launch would give them"),
            "{}",
            provisioned.plan.reason
        );
    }
}
