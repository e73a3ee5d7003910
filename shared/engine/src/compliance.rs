//! Whether a set of nodes meets its policy: the cluster's nodes now, or the nodes a plan leaves.
//! A cluster that breaks its policy (after the policy changed, or prices and buckets moved) gets a
//! compliance plan; one that meets it is only consolidated when that pays.
//!
//! Risk flags are not breaches: a flagged pool's nodes are the interruption response's to move.

use std::collections::HashSet;

use crate::admission::{Rejection, rejection_of};
use crate::model::{CapacityType, Offering, Policy, Problem};
use crate::plan::{Plan, StepAction};

/// Which part of the policy a cluster breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// More spot nodes than the policy's spot share allows.
    SpotShare,
    /// Fewer on-demand nodes than the policy's on-demand base.
    OnDemandBase,
    /// A node of an instance type the policy does not admit (families, categories,
    /// generations, architectures or node templates).
    InstanceType,
    /// A spot node in a pool whose interruption bucket is above the policy's maximum.
    InterruptionBucket,
    /// A node dearer per vCPU-hour than the policy's cap.
    PriceCap,
    /// Spot nodes spread over fewer pools than the policy asks.
    SpotPools,
}

/// One way the nodes break the policy, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub rule: Rule,
    pub detail: String,
}

/// A node as the policy judges it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub name: String,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: CapacityType,
}

/// How the cluster's nodes break the problem's policy now (empty: compliant).
pub fn breaches(problem: &Problem) -> Vec<Breach> {
    breaches_after(problem, &Plan::default())
}

/// How the nodes a plan leaves behind (the cluster's, minus those it terminates, plus those it
/// launches) would break the policy.
pub fn breaches_after(problem: &Problem, plan: &Plan) -> Vec<Breach> {
    let terminated: HashSet<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Terminate { node } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    let mut nodes: Vec<Held> = problem
        .existing_nodes
        .iter()
        .filter(|n| !terminated.contains(n.name.as_str()))
        .map(|n| Held {
            name: n.name.clone(),
            instance_type: n.instance_type.clone(),
            zone: n.zone.clone(),
            capacity_type: n.capacity_type,
        })
        .collect();
    for step in &plan.steps {
        if let StepAction::Launch {
            instance_type,
            zone,
            capacity_type,
            count,
        } = &step.action
        {
            for i in 0..*count {
                nodes.push(Held {
                    name: format!("new {instance_type} #{}", i + 1),
                    instance_type: instance_type.clone(),
                    zone: zone.clone(),
                    capacity_type: *capacity_type,
                });
            }
        }
    }
    breaches_of(problem, &nodes)
}

fn breaches_of(problem: &Problem, nodes: &[Held]) -> Vec<Breach> {
    let mut out = Vec::new();
    for node in nodes {
        if let Some(breach) = node_breach(problem, node) {
            out.push(breach);
        }
    }
    let spot: Vec<(&str, &str)> = nodes
        .iter()
        .filter(|n| n.capacity_type == CapacityType::Spot)
        .map(|n| (n.instance_type.as_str(), n.zone.as_str()))
        .collect();
    out.extend(fleet_breaches(&problem.policy, nodes.len(), &spot));
    out
}

/// What the policy asks of the fleet as a whole: the on-demand base, the spot share and the
/// spread over spot pools. `spot` holds each spot node's (instance type, zone). The validator
/// judges solutions with this too, so a solution the solver returns is compliant by the same
/// measure.
pub fn fleet_breaches(policy: &Policy, nodes: usize, spot: &[(&str, &str)]) -> Vec<Breach> {
    let mut out = Vec::new();
    let on_demand = nodes - spot.len();
    let base = (policy.on_demand_base as usize).min(nodes);
    let need = policy.required_on_demand(nodes);
    if on_demand < base {
        out.push(Breach {
            rule: Rule::OnDemandBase,
            detail: format!(
                "{on_demand} of {nodes} nodes are on-demand; the policy keeps at least {base} on-demand"
            ),
        });
    } else if on_demand < need {
        out.push(Breach {
            rule: Rule::SpotShare,
            detail: format!(
                "{} of {nodes} nodes are spot ({:.1} %); the policy allows at most {} % spot, so at least {need} must be on-demand",
                spot.len(),
                spot.len() as f64 * 100.0 / nodes as f64,
                policy.spot_share_percent.min(100)
            ),
        });
    }
    let k = policy.min_spot_pools as usize;
    if k > 1 && spot.len() >= k {
        let pools: HashSet<&(&str, &str)> = spot.iter().collect();
        if pools.len() < k {
            out.push(Breach {
                rule: Rule::SpotPools,
                detail: format!(
                    "{} spot nodes span {} pool(s); the policy spreads spot over at least {k}",
                    spot.len(),
                    pools.len()
                ),
            });
        }
    }
    out
}

fn node_breach(problem: &Problem, node: &Held) -> Option<Breach> {
    let offering: Option<&Offering> = problem.offerings.iter().find(|o| {
        o.instance_type == node.instance_type
            && o.zone == node.zone
            && o.capacity_type == node.capacity_type
    });
    let Some(offering) = offering else {
        return Some(Breach {
            rule: Rule::InstanceType,
            detail: format!(
                "{} is a {} the policy does not admit (its families, architectures, generations or node templates)",
                node.name, node.instance_type
            ),
        });
    };
    // Risk flags are the interruption response's, and numbers the catalog got wrong are not the
    // user's policy.
    match rejection_of(offering, &problem.policy)? {
        Rejection::InterruptionBucket => Some(Breach {
            rule: Rule::InterruptionBucket,
            detail: format!(
                "{} is a spot {} in {} whose interruption bucket is above the policy's maximum",
                node.name, node.instance_type, node.zone
            ),
        }),
        Rejection::PriceCap => Some(Breach {
            rule: Rule::PriceCap,
            detail: format!(
                "{} ({}) costs more per vCPU-hour than the policy's cap",
                node.name, node.instance_type
            ),
        }),
        Rejection::RiskFlag | Rejection::InvalidNumbers => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExistingNode;
    use crate::plan::Step;

    fn node(name: &str, instance_type: &str, capacity_type: CapacityType) -> ExistingNode {
        ExistingNode {
            name: name.into(),
            instance_type: instance_type.into(),
            zone: "us-east-1a".into(),
            capacity_type,
            price_per_hour: 0.1,
            pods: Vec::new(),
            allocatable: None,
            labels: Default::default(),
            taints: Vec::new(),
            cordoned: false,
            do_not_disrupt: None,
            settling: false,
        }
    }

    fn problem(policy: Policy, nodes: Vec<ExistingNode>) -> Problem {
        Problem {
            offerings: crate::offerings_in("us-east-1", &["us-east-1a".to_owned()])
                .into_iter()
                .filter(|o| o.instance_type.starts_with("m5."))
                .collect(),
            policy,
            existing_nodes: nodes,
            ..Default::default()
        }
    }

    #[test]
    fn a_cluster_over_its_spot_share_breaks_it_and_one_within_does_not() {
        let policy = Policy {
            spot_share_percent: 50,
            ..Default::default()
        };
        let all_spot = problem(
            policy.clone(),
            vec![
                node("a", "m5.large", CapacityType::Spot),
                node("b", "m5.large", CapacityType::Spot),
            ],
        );
        let found = breaches(&all_spot);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::SpotShare);
        assert!(
            found[0].detail.contains("2 of 2 nodes are spot"),
            "{found:?}"
        );

        let half = problem(
            policy,
            vec![
                node("a", "m5.large", CapacityType::Spot),
                node("b", "m5.large", CapacityType::OnDemand),
            ],
        );
        assert!(breaches(&half).is_empty());
    }

    #[test]
    fn a_node_of_a_type_the_policy_no_longer_admits_is_named() {
        let cluster = problem(
            Policy::default(),
            vec![node("ip-10-0-1-5", "c5.large", CapacityType::Spot)],
        );
        let found = breaches(&cluster);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::InstanceType);
        assert!(found[0].detail.contains("ip-10-0-1-5"), "{found:?}");
    }

    #[test]
    fn the_nodes_a_plan_leaves_are_judged_not_the_ones_it_retires() {
        let policy = Policy {
            on_demand_base: 1,
            ..Default::default()
        };
        let cluster = problem(policy, vec![node("a", "m5.large", CapacityType::Spot)]);
        assert_eq!(breaches(&cluster)[0].rule, Rule::OnDemandBase);
        let plan = Plan {
            steps: vec![
                Step {
                    action: StepAction::Launch {
                        instance_type: "m5.large".into(),
                        zone: "us-east-1a".into(),
                        capacity_type: CapacityType::OnDemand,
                        count: 1,
                    },
                    batch: 0,
                    explanation: String::new(),
                },
                Step {
                    action: StepAction::Terminate { node: "a".into() },
                    batch: 1,
                    explanation: String::new(),
                },
            ],
            ..Plan::empty(0.1, String::new())
        };
        assert!(breaches_after(&cluster, &plan).is_empty());
    }
}
