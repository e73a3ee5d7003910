//! Which CPU architectures new nodes may have when the policy does not say. An image built for
//! amd64 only crashes on a Graviton node, and nothing in a pod says which images it runs, so a
//! cluster keeps the architectures its nodes run today; a pod that asks for another
//! architecture (by node selector or required affinity on `kubernetes.io/arch`) gets it.

use std::collections::BTreeSet;

use spot_cloud::Catalog;

use crate::model::well_known::ARCH as ARCH_LABEL;
use crate::model::{Architecture, Operator, Problem};

/// The architectures of the problem's nodes and those its pods ask for; empty when the cluster
/// has no node whose architecture is known.
pub fn architectures_in_use(problem: &Problem) -> BTreeSet<Architecture> {
    let catalog = Catalog::embedded();
    let mut running: BTreeSet<Architecture> = problem
        .existing_nodes
        .iter()
        .filter_map(|node| {
            node.labels
                .get(ARCH_LABEL)
                .and_then(|value| Architecture::from_label(value))
                .or_else(|| {
                    let known = catalog.get(&node.instance_type).ok()?;
                    Some(known.architecture.into())
                })
        })
        .collect();
    if running.is_empty() {
        return running;
    }
    for pod in &problem.pods {
        running.extend(
            pod.node_selector
                .get(ARCH_LABEL)
                .and_then(|v| Architecture::from_label(v)),
        );
        for term in &pod.required_node_affinity {
            for requirement in &term.requirements {
                if requirement.key == ARCH_LABEL && requirement.operator == Operator::In {
                    running.extend(
                        requirement
                            .values
                            .iter()
                            .filter_map(|v| Architecture::from_label(v)),
                    );
                }
            }
        }
    }
    running
}

/// Leaves only offerings of the architectures in use (see [`architectures_in_use`]); a cluster
/// without known nodes keeps every offering. Returns the architectures kept to, if any.
pub fn keep_architectures_in_use(problem: &mut Problem) -> Option<BTreeSet<Architecture>> {
    let in_use = architectures_in_use(problem);
    if in_use.is_empty() {
        return None;
    }
    problem
        .offerings
        .retain(|offering| in_use.contains(&offering.architecture));
    Some(in_use)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{CapacityType, ExistingNode, NodeSelectorTerm, Requirement};
    use crate::scenarios;

    /// A catalog scenario whose pods ask for no architecture, on nodes of `node_types`.
    fn cluster(node_types: &[&str]) -> Problem {
        let mut problem = scenarios::catalog(40, 1);
        for pod in &mut problem.pods {
            pod.node_selector.remove(ARCH_LABEL);
            pod.required_node_affinity.clear();
        }
        problem.existing_nodes = node_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                ExistingNode::new(
                    &format!("n{i}"),
                    t,
                    "us-east-1a",
                    CapacityType::OnDemand,
                    0.1,
                    Vec::new(),
                )
            })
            .collect();
        problem
    }

    fn architectures(problem: &Problem) -> BTreeSet<Architecture> {
        problem.offerings.iter().map(|o| o.architecture).collect()
    }

    #[test]
    fn an_amd64_cluster_gets_only_amd64_nodes() {
        let mut problem = cluster(&["m5.large", "c5.xlarge"]);
        assert_eq!(
            architectures(&problem),
            BTreeSet::from([Architecture::Amd64, Architecture::Arm64]),
            "the catalog offers both"
        );
        keep_architectures_in_use(&mut problem);
        assert_eq!(
            architectures(&problem),
            BTreeSet::from([Architecture::Amd64])
        );
    }

    #[test]
    fn a_pod_that_asks_for_arm64_gets_arm64_beside_the_clusters_amd64() {
        let mut by_selector = cluster(&["m5.large"]);
        by_selector.pods[0].node_selector =
            BTreeMap::from([(ARCH_LABEL.to_owned(), "arm64".to_owned())]);
        keep_architectures_in_use(&mut by_selector);
        assert_eq!(
            architectures(&by_selector),
            BTreeSet::from([Architecture::Amd64, Architecture::Arm64])
        );
        let mut by_affinity = cluster(&["m5.large"]);
        by_affinity.pods[0].required_node_affinity = vec![NodeSelectorTerm {
            requirements: vec![Requirement {
                key: ARCH_LABEL.to_owned(),
                operator: Operator::In,
                values: vec!["arm64".to_owned()],
            }],
        }];
        keep_architectures_in_use(&mut by_affinity);
        assert!(architectures(&by_affinity).contains(&Architecture::Arm64));
    }

    #[test]
    fn a_graviton_cluster_stays_on_graviton_and_a_new_cluster_is_not_restricted() {
        let mut graviton = cluster(&["m6g.large"]);
        keep_architectures_in_use(&mut graviton);
        assert_eq!(
            architectures(&graviton),
            BTreeSet::from([Architecture::Arm64])
        );
        let mut empty = cluster(&[]);
        assert_eq!(keep_architectures_in_use(&mut empty), None);
        assert_eq!(
            architectures(&empty),
            BTreeSet::from([Architecture::Amd64, Architecture::Arm64])
        );
    }
}
