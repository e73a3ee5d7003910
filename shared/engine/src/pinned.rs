//! Nodes a voluntary move leaves alone. A node is pinned when a pod on it asks not to be
//! disrupted, would lose its data, or has no controller to recreate it, or when the node itself
//! asks (see [`ExistingNode::do_not_disrupt`]); consolidation also leaves new nodes to settle
//! ([`NEW_NODE_SETTLES_MS`]), compliance does not. Consolidation and compliance plan around pinned
//! nodes: they keep running with their pods, and the rest of the cluster is planned as if they
//! were not there. Their cost still counts in the plan's current and target cost, so a saving's
//! share of the cluster stays honest. Interruptions and hibernation are not voluntary: they move
//! pinned nodes too.

use crate::model::{ExistingNode, Problem};
use crate::plan::Plan;

/// A node that joined less than this long ago (milliseconds) is left to settle before a
/// consolidation may move it, like Karpenter's `consolidateAfter`: capacity provisioning just
/// launched is not re-planned away while the workload that asked for it is still arriving.
pub const NEW_NODE_SETTLES_MS: i64 = 10 * 60 * 1_000;

/// For a consolidation: the problem without its pinned and settling nodes and the pods on them,
/// and those nodes.
pub fn set_aside_pinned(problem: &Problem) -> (Problem, Vec<ExistingNode>) {
    set_aside(problem, |n| n.do_not_disrupt.is_some() || n.settling)
}

/// For a compliance plan: only the pinned nodes are set aside; new ones may move, since the user
/// asked for the policy.
pub fn set_aside_do_not_disrupt(problem: &Problem) -> (Problem, Vec<ExistingNode>) {
    set_aside(problem, |n| n.do_not_disrupt.is_some())
}

fn set_aside(
    problem: &Problem,
    stays: impl Fn(&ExistingNode) -> bool,
) -> (Problem, Vec<ExistingNode>) {
    let (pinned, movable): (Vec<ExistingNode>, Vec<ExistingNode>) = problem
        .existing_nodes
        .iter()
        .cloned()
        .partition(|n| stays(n));
    if pinned.is_empty() {
        return (problem.clone(), pinned);
    }
    let on_pinned = |id: &str| pinned.iter().any(|n| n.pods.iter().any(|p| p == id));
    let rest = Problem {
        pods: problem
            .pods
            .iter()
            .filter(|p| !on_pinned(&p.id))
            .cloned()
            .collect(),
        existing_nodes: movable,
        ..problem.clone()
    };
    (rest, pinned)
}

/// Counts the pinned nodes' cost in a plan made without them: they run before and after.
pub fn count_pinned(plan: &mut Plan, pinned: &[ExistingNode]) {
    let cost: f64 = pinned.iter().map(|n| n.price_per_hour).sum();
    plan.current_cost_per_hour += cost;
    plan.target_cost_per_hour += cost;
}

/// "node (why), node (why)": what a plan's reason says about the nodes it leaves alone.
pub fn describe_pinned(pinned: &[ExistingNode]) -> String {
    pinned
        .iter()
        .map(|n| match &n.do_not_disrupt {
            Some(why) => format!("{} ({why})", n.name),
            None => format!(
                "{} (new: it settles {} min before consolidation)",
                n.name,
                NEW_NODE_SETTLES_MS / 60_000
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapacityType, Pod};

    #[test]
    fn pinned_nodes_and_their_pods_are_set_aside_and_still_counted() {
        let mut kept = ExistingNode::new(
            "kept",
            "m5.large",
            "a",
            CapacityType::OnDemand,
            0.1,
            vec!["db".into()],
        );
        kept.do_not_disrupt = Some("pod db asks not to be disrupted".into());
        let free = ExistingNode::new(
            "free",
            "m5.large",
            "a",
            CapacityType::OnDemand,
            0.1,
            vec!["web".into()],
        );
        let problem = Problem {
            pods: vec![
                Pod {
                    id: "db".into(),
                    ..Default::default()
                },
                Pod {
                    id: "web".into(),
                    ..Default::default()
                },
            ],
            existing_nodes: vec![kept, free],
            ..Default::default()
        };
        let (rest, pinned) = set_aside_pinned(&problem);
        assert_eq!(rest.existing_nodes.len(), 1);
        assert_eq!(rest.existing_nodes[0].name, "free");
        assert_eq!(rest.pods.len(), 1);
        assert_eq!(rest.pods[0].id, "web");
        assert_eq!(
            describe_pinned(&pinned),
            "kept (pod db asks not to be disrupted)"
        );
        let mut plan = Plan::empty(0.1, String::new());
        count_pinned(&mut plan, &pinned);
        assert!((plan.current_cost_per_hour - 0.2).abs() < 1e-9);
        assert!((plan.target_cost_per_hour - 0.2).abs() < 1e-9);
        assert_eq!(plan.savings_per_hour, 0.0);
    }

    #[test]
    fn consolidation_leaves_new_nodes_to_settle_and_compliance_does_not_wait() {
        let mut new =
            ExistingNode::new("new", "m5.large", "a", CapacityType::Spot, 0.04, Vec::new());
        new.settling = true;
        let problem = Problem {
            existing_nodes: vec![new],
            ..Default::default()
        };
        let (_, pinned) = set_aside_pinned(&problem);
        assert_eq!(
            describe_pinned(&pinned),
            "new (new: it settles 10 min before consolidation)"
        );
        let (movable, pinned) = set_aside_do_not_disrupt(&problem);
        assert!(pinned.is_empty());
        assert_eq!(movable.existing_nodes.len(), 1);
    }
}
