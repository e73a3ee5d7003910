//! Which pods a scale-down should remove first, as `controller.kubernetes.io/pod-deletion-cost`
//! values. The ReplicaSet controller deletes the pods with the lowest cost first, so ranking the
//! nodes in the order consolidation takes them lets a scale-down empty a node instead of leaving a
//! hole on every node; the empty node then goes with no pod moved. Nodes a consolidation leaves
//! alone (one that must not be disrupted, a new one) are not ranked: their pods keep the default
//! cost, 0, and go last. Karpenter's pod deletion cost controller (the RFC in
//! kubernetes-sigs/karpenter#2935) ranks nodes the same way.

use std::collections::BTreeMap;

use crate::carry_out::consolidation_order;
use crate::model::ExistingNode;

/// Each pod's deletion cost, by pod id: `-n` on the node consolidation would take first, up to
/// `-1`, with `n` the number of ranked nodes. Cordoned nodes, whose pods are leaving anyway, come
/// first. Pods not listed keep the default.
pub fn pod_deletion_costs(nodes: &[ExistingNode]) -> BTreeMap<String, i32> {
    let ranked = |i: &usize| nodes[*i].do_not_disrupt.is_none() && !nodes[*i].settling;
    let cordoned = (0..nodes.len()).filter(|&i| nodes[i].cordoned);
    let order: Vec<usize> = cordoned
        .chain(consolidation_order(nodes))
        .filter(ranked)
        .collect();
    let first = -i32::try_from(order.len()).unwrap_or(i32::MAX);
    order
        .iter()
        .zip(first..)
        .flat_map(|(&i, cost)| nodes[i].pods.iter().map(move |pod| (pod.clone(), cost)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CapacityType;

    fn node(name: &str, pods: &[&str], price: f64) -> ExistingNode {
        ExistingNode::new(
            name,
            "m5.large",
            "us-east-1a",
            CapacityType::Spot,
            price,
            pods.iter().map(|p| (*p).to_owned()).collect(),
        )
    }

    #[test]
    fn the_pods_of_the_node_consolidation_takes_first_are_deleted_first() {
        let mut new = node("new", &["n1"], 0.5);
        new.settling = true;
        let mut guarded = node("guarded", &["g1"], 0.5);
        guarded.do_not_disrupt = Some("pod g1 asks not to be disrupted".into());
        let mut draining = node("draining", &["x1", "x2", "x3", "x4"], 0.1);
        draining.cordoned = true;
        let nodes = vec![
            node("full", &["f1", "f2", "f3"], 0.1),
            node("light", &["l1"], 0.1),
            node("dear", &["d1"], 0.2),
            new,
            guarded,
            draining,
        ];
        let costs = pod_deletion_costs(&nodes);
        assert_eq!(costs["x1"], -4, "a draining node's pods are leaving anyway");
        // One pod each on `dear` and `light`: the dearer node goes first.
        assert_eq!(costs["d1"], -3);
        assert_eq!(costs["l1"], -2);
        assert_eq!(costs["f1"], -1);
        assert_eq!(costs["f3"], -1);
        assert!(
            !costs.contains_key("n1"),
            "a new node's pods keep the default"
        );
        assert!(!costs.contains_key("g1"), "so do a guarded node's");
    }
}
