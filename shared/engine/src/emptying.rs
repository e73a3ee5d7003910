//! Nodes left to empty by attrition. A consolidation that does not pay yet would still leave the
//! cluster with nodes it no longer needs; evicting their pods is churn, but new pods need not land
//! on them. The autopilot taints such nodes `PreferNoSchedule`: kube-scheduler then binds new pods
//! (scale-ups, rolled deployments) to the other nodes while they have room, the pods' deletion
//! costs make scale-downs take these nodes' pods first, and a node that has emptied goes with no
//! pod moved. Nothing is evicted and nothing is refused: a pod that fits nowhere else still lands
//! on a tainted node. Karpenter's consolidation prefers deleting empty nodes for the same reason.

use crate::carry_out::remove_underused;
use crate::model::{Problem, Taint, TaintEffect};
use crate::pinned::set_aside_pinned;
use crate::plan::{DisruptionBudget, StepAction};

/// The taint the autopilot puts on a node it leaves to empty (effect `PreferNoSchedule`).
pub const EMPTYING_TAINT_KEY: &str = "spot-optimizer.io/emptying";

pub fn emptying_taint() -> Taint {
    Taint {
        key: EMPTYING_TAINT_KEY.to_owned(),
        value: String::new(),
        effect: TaintEffect::PreferNoSchedule,
    }
}

/// The nodes with pods that the cluster could do without (kube-scheduler would bind their pods
/// to the nodes that stay, as [`remove_underused`] finds), leaving alone the nodes consolidation
/// must not touch (a new node, one that must not be disrupted). Sorted by name.
pub fn nodes_to_empty(problem: &Problem, budget: DisruptionBudget) -> Vec<String> {
    let (movable, _) = set_aside_pinned(problem);
    let plan = remove_underused(&movable, budget);
    let mut names: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|step| match &step.action {
            StepAction::Drain { node } => Some(node.clone()),
            _ => None,
        })
        .filter(|name| {
            movable
                .existing_nodes
                .iter()
                .any(|n| &n.name == name && !n.pods.is_empty())
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapacityType, ExistingNode, Pod, Resources};

    fn pod(id: &str) -> Pod {
        Pod {
            id: id.into(),
            requests: Resources::new(500, 1_024, 1, 0),
            ..Default::default()
        }
    }

    fn node(name: &str, pods: &[&str]) -> ExistingNode {
        ExistingNode::new(
            name,
            "m5.large",
            "us-east-1a",
            CapacityType::Spot,
            0.04,
            pods.iter().map(|p| (*p).to_owned()).collect(),
        )
    }

    #[test]
    fn a_node_whose_pods_fit_elsewhere_is_left_to_empty_and_a_needed_one_is_not() {
        let mut settling = node("new", &["n1"]);
        settling.settling = true;
        let problem = Problem {
            offerings: crate::offerings_in("us-east-1", &["us-east-1a".to_owned()]),
            pods: ["a1", "a2", "b1", "n1"].into_iter().map(pod).collect(),
            existing_nodes: vec![node("a", &["a1", "a2"]), node("b", &["b1"]), settling],
            ..Default::default()
        };
        // b's one pod fits beside a's two; then a's would not fit on what stays.
        assert_eq!(
            nodes_to_empty(&problem, DisruptionBudget::percent(20)),
            vec!["b".to_owned()]
        );
    }
}
