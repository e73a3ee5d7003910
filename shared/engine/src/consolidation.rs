//! Consolidation: remove empty nodes and replace under-used ones, but only when the saving is at
//! least the policy's `min_savings_percent` of the current cost, so small price moves never churn
//! the cluster. Below the threshold the plan is empty and says why. The "when empty" mode
//! (`remove_empty_nodes`) moves no pod, so it removes empty nodes whatever they save.

use serde::{Deserialize, Serialize};

use crate::model::{ExistingNode, Problem, Solution};
use crate::plan::{DisruptionBudget, Plan, finish_plan, plan, push_retirements};
use crate::strategy;

/// The consolidation decision: the plan (possibly empty, with its reason) and the target it aims at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consolidation {
    pub plan: Plan,
    /// The re-solved cluster; None when only empty nodes were considered or solving failed.
    pub target: Option<Solution>,
}

/// Considers (a) removing the empty nodes and (b) re-solving every pod onto a fresh node set
/// (keeping nodes whose pool the target still uses), and takes the cheaper if it saves enough.
pub fn consolidate(problem: &Problem, budget: DisruptionBudget) -> Consolidation {
    let current = &problem.existing_nodes;
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    if current.is_empty() {
        return Consolidation {
            plan: Plan::empty(0.0, "there are no nodes to consolidate".into()),
            target: None,
        };
    }
    let threshold = problem.policy.min_savings_percent.max(0.0);
    let empty: Vec<&ExistingNode> = current.iter().filter(|n| n.pods.is_empty()).collect();
    let empty_saving: f64 = empty.iter().map(|n| n.price_per_hour).sum();

    let target = strategy::live().solve(problem);
    let resolve_ok = target.unschedulable.is_empty() && target.notes.is_empty();
    let resolve_saving = if resolve_ok {
        current_cost - target.cost_per_hour
    } else {
        f64::NEG_INFINITY
    };

    let percent = |saving: f64| {
        if current_cost > 0.0 {
            saving / current_cost * 100.0
        } else {
            0.0
        }
    };
    let (best_saving, use_resolve) = if resolve_saving > empty_saving {
        (resolve_saving, true)
    } else {
        (empty_saving, false)
    };
    if best_saving <= 0.0 || percent(best_saving) < threshold {
        let reason = if best_saving <= 0.0 {
            "no cheaper arrangement of the current pods was found".to_owned()
        } else {
            format!(
                "the best consolidation saves {:.4} USD/h ({:.2}% of {:.4} USD/h), below the policy's minimum of {threshold}%",
                best_saving,
                percent(best_saving),
                current_cost
            )
        };
        return Consolidation {
            plan: Plan::empty(current_cost, reason),
            target: resolve_ok.then_some(target),
        };
    }
    if use_resolve {
        let mut plan = plan(current, &target, budget);
        plan.reason = format!(
            "repacking the pods saves {:.4} USD/h ({:.2}%), at least the policy's minimum of {threshold}%",
            resolve_saving,
            percent(resolve_saving)
        );
        Consolidation {
            plan,
            target: Some(target),
        }
    } else {
        let why_now = format!("at least the policy's minimum of {threshold}%");
        let plan = empty_removal(current, &empty, budget, current_cost, &why_now);
        Consolidation { plan, target: None }
    }
}

/// Consolidation limited to nodes that run no pods (the "when empty" mode). No pod ever moves,
/// so nothing churns and the policy's minimum saving does not hold back the removal.
pub fn remove_empty_nodes(problem: &Problem, budget: DisruptionBudget) -> Plan {
    let current = &problem.existing_nodes;
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    let empty: Vec<&ExistingNode> = current
        .iter()
        // A node that joined a moment ago is empty until the pods it was launched for bind.
        .filter(|n| n.pods.is_empty() && n.do_not_disrupt.is_none() && !n.settling)
        .collect();
    if empty.is_empty() {
        return Plan::empty(current_cost, "no node is empty".into());
    }
    empty_removal(
        current,
        &empty,
        budget,
        current_cost,
        "no pod moves, so the policy's minimum saving does not apply",
    )
}

fn empty_removal(
    current: &[ExistingNode],
    empty: &[&ExistingNode],
    budget: DisruptionBudget,
    current_cost: f64,
    why_now: &str,
) -> Plan {
    let empty_saving: f64 = empty.iter().map(|n| n.price_per_hour).sum();
    let percent = if current_cost > 0.0 {
        empty_saving / current_cost * 100.0
    } else {
        0.0
    };
    let mut steps = Vec::new();
    push_retirements(
        &mut steps,
        empty,
        budget.batch_size(current.len()),
        "it runs no pods",
    );
    finish_plan(
        steps,
        current_cost,
        current_cost - empty_saving,
        format!(
            "removing {} empty nodes saves {:.4} USD/h ({:.2}%): {why_now}",
            empty.len(),
            empty_saving,
            percent
        ),
    )
}
