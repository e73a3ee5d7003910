//! An independent check of a solution against its problem. It shares only the label/taint matching
//! and the admission predicate with the solver (so both mean the same by "compatible" and
//! "admitted"); everything else is recomputed from scratch. Used by the tests, the bench and the
//! service before acting on a plan.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::admission::is_admitted;
use crate::compliance::fleet_breaches;
use crate::labels::{fits_empty, placement_allowed, selects};
use crate::model::{CapacityType, Pod, Problem, Resources, Solution, TopologyKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which rule: "capacity", "compatibility", "anti-affinity", "affinity", "topology-spread",
    /// "policy", "accounting".
    pub rule: &'static str,
    pub detail: String,
}

fn violation(rule: &'static str, detail: String) -> Violation {
    Violation { rule, detail }
}

pub fn validate(problem: &Problem, solution: &Solution) -> Vec<Violation> {
    let mut out = Vec::new();
    let pods = &problem.pods;
    let mut node_of: Vec<Option<usize>> = vec![None; pods.len()];

    for (n, node) in solution.nodes.iter().enumerate() {
        let Some(offering) = problem.offerings.get(node.offering) else {
            out.push(violation(
                "accounting",
                format!(
                    "node {} refers to offering {} that does not exist",
                    node.name, node.offering
                ),
            ));
            continue;
        };
        if offering.instance_type != node.instance_type
            || offering.zone != node.zone
            || offering.capacity_type != node.capacity_type
            || (offering.price_per_hour - node.price_per_hour).abs() > 1e-9
        {
            out.push(violation(
                "accounting",
                format!("node {} does not match its offering", node.name),
            ));
        }
        if !is_admitted(offering, problem) {
            out.push(violation("policy", format!("node {} uses {} in {} ({:?}), which the policy does not admit (bucket, risk flag, price cap or invalid numbers)", node.name, offering.instance_type, offering.zone, offering.capacity_type)));
        }
        if node.pods.is_empty() {
            out.push(violation(
                "accounting",
                format!("node {} is empty", node.name),
            ));
        }
        let mut used = Resources::default();
        for &p in &node.pods {
            let Some(pod) = pods.get(p) else {
                out.push(violation(
                    "accounting",
                    format!("node {} holds pod index {p} that does not exist", node.name),
                ));
                continue;
            };
            if let Some(previous) = node_of[p] {
                out.push(violation(
                    "accounting",
                    format!(
                        "pod {} is on two nodes ({} and {})",
                        pod.id, solution.nodes[previous].name, node.name
                    ),
                ));
            }
            node_of[p] = Some(n);
            used = used.plus(&pod.requests.for_pods(1));
            if !placement_allowed(pod, offering) {
                out.push(violation(
                    "compatibility",
                    format!(
                        "pod {} may not run on node {} ({}): node selector, affinity or taints",
                        pod.id, node.name, offering.instance_type
                    ),
                ));
            }
        }
        if !used.fits_in(&offering.allocatable) {
            out.push(violation(
                "capacity",
                format!(
                    "node {} ({}) is over-committed: uses {:?} of {:?}",
                    node.name, offering.instance_type, used, offering.allocatable
                ),
            ));
        }
    }

    let mut reported: HashSet<usize> = HashSet::new();
    for u in &solution.unschedulable {
        if u.pod >= pods.len() {
            out.push(violation(
                "accounting",
                format!("unschedulable pod index {} does not exist", u.pod),
            ));
            continue;
        }
        if !reported.insert(u.pod) {
            out.push(violation(
                "accounting",
                format!("pod {} is reported unschedulable twice", u.id),
            ));
        }
        if node_of[u.pod].is_some() {
            out.push(violation(
                "accounting",
                format!("pod {} is both placed and reported unschedulable", u.id),
            ));
        }
        if u.reason.trim().is_empty() {
            out.push(violation(
                "accounting",
                format!("pod {} is unschedulable without a reason", u.id),
            ));
        }
    }
    for (p, pod) in pods.iter().enumerate() {
        if node_of[p].is_none() && !reported.contains(&p) {
            out.push(violation(
                "accounting",
                format!(
                    "pod {} is neither placed nor reported unschedulable",
                    pod.id
                ),
            ));
        }
    }

    check_pod_terms(problem, solution, &node_of, &mut out);
    check_policy(problem, solution, &mut out);

    let cost: f64 = solution.nodes.iter().map(|n| n.price_per_hour).sum();
    if (cost - solution.cost_per_hour).abs() > 1e-6 * cost.max(1.0) {
        out.push(violation(
            "accounting",
            format!(
                "cost_per_hour {} is not the sum of node prices {cost}",
                solution.cost_per_hour
            ),
        ));
    }
    if cost + 1e-6 * cost.max(1.0) < solution.lower_bound_per_hour {
        out.push(violation(
            "accounting",
            format!(
                "cost {cost} is below the lower bound {}",
                solution.lower_bound_per_hour
            ),
        ));
    }
    out
}

type Selector<'a> = &'a BTreeMap<String, String>;

fn check_pod_terms(
    problem: &Problem,
    solution: &Solution,
    node_of: &[Option<usize>],
    out: &mut Vec<Violation>,
) {
    let pods = &problem.pods;
    let zone_of_node: Vec<&str> = solution.nodes.iter().map(|n| n.zone.as_str()).collect();
    let domain = |p: usize, key: TopologyKey| -> Option<&str> {
        let n = node_of[p]?;
        Some(match key {
            TopologyKey::Zone => zone_of_node[n],
            TopologyKey::Hostname => solution.nodes[n].name.as_str(),
        })
    };
    // Pods per domain, for the selectors that terms use (counted once per selector).
    let mut counts: HashMap<(Selector, TopologyKey), HashMap<&str, u32>> = HashMap::new();
    let mut matching_total: HashMap<&BTreeMap<String, String>, u32> = HashMap::new();
    for pod in pods {
        for (selector, key) in pod
            .topology_spread
            .iter()
            .map(|s| (&s.match_labels, s.topology_key))
            .chain(
                pod.affinity
                    .iter()
                    .chain(&pod.anti_affinity)
                    .map(|t| (&t.match_labels, t.topology_key)),
            )
        {
            if counts.contains_key(&(selector, key)) {
                continue;
            }
            let mut per: HashMap<&str, u32> = HashMap::new();
            let mut total = 0;
            for (q, other) in pods.iter().enumerate() {
                if selects(selector, &other.labels)
                    && let Some(d) = domain(q, key)
                {
                    *per.entry(d).or_default() += 1;
                    total += 1;
                }
            }
            counts.insert((selector, key), per);
            matching_total.insert(selector, total);
        }
    }
    // Eligible domains per pod placement shape (selector, affinity, tolerations, requests).
    let admitted: Vec<usize> = (0..problem.offerings.len())
        .filter(|&o| is_admitted(&problem.offerings[o], problem))
        .collect();
    let mut zone_domains: HashMap<String, Vec<&str>> = HashMap::new();
    let mut node_domains: HashMap<String, Vec<&str>> = HashMap::new();
    let shape_key = |pod: &Pod| {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            pod.node_selector,
            pod.required_node_affinity,
            pod.tolerations,
            pod.requests,
            pod.volume_zones
        )
    };

    for (p, pod) in pods.iter().enumerate() {
        let Some(n) = node_of[p] else { continue };
        let own = |selector: &BTreeMap<String, String>| u32::from(selects(selector, &pod.labels));
        for term in &pod.anti_affinity {
            let d = domain(p, term.topology_key).unwrap_or_default();
            let count = counts[&(&term.match_labels, term.topology_key)]
                .get(d)
                .copied()
                .unwrap_or(0);
            if count > own(&term.match_labels) {
                out.push(violation(
                    "anti-affinity",
                    format!(
                        "pod {} shares {:?} {} with a pod its anti-affinity excludes",
                        pod.id, term.topology_key, d
                    ),
                ));
            }
        }
        for term in &pod.affinity {
            let d = domain(p, term.topology_key).unwrap_or_default();
            let count = counts[&(&term.match_labels, term.topology_key)]
                .get(d)
                .copied()
                .unwrap_or(0);
            let others_here = count - own(&term.match_labels);
            let alone = own(&term.match_labels) == 1 && matching_total[&term.match_labels] == 1;
            if others_here == 0 && !alone {
                out.push(violation(
                    "affinity",
                    format!(
                        "pod {} has no pod matching its affinity in its {:?} {}",
                        pod.id, term.topology_key, d
                    ),
                ));
            }
        }
        for spread in &pod.topology_spread {
            let per = &counts[&(&spread.match_labels, spread.topology_key)];
            let domains: &Vec<&str> = match spread.topology_key {
                TopologyKey::Zone => zone_domains.entry(shape_key(pod)).or_insert_with(|| {
                    let mut zones: Vec<&str> = admitted
                        .iter()
                        .map(|&o| &problem.offerings[o])
                        .filter(|o| placement_allowed(pod, o) && fits_empty(pod, o))
                        .map(|o| o.zone.as_str())
                        .collect();
                    zones.sort_unstable();
                    zones.dedup();
                    zones
                }),
                TopologyKey::Hostname => node_domains.entry(shape_key(pod)).or_insert_with(|| {
                    solution
                        .nodes
                        .iter()
                        .filter(|node| {
                            problem
                                .offerings
                                .get(node.offering)
                                .is_some_and(|o| placement_allowed(pod, o))
                        })
                        .map(|node| node.name.as_str())
                        .collect()
                }),
            };
            let min = domains
                .iter()
                .map(|d| per.get(d).copied().unwrap_or(0))
                .min()
                .unwrap_or(0);
            let d = match spread.topology_key {
                TopologyKey::Zone => zone_of_node[n],
                TopologyKey::Hostname => solution.nodes[n].name.as_str(),
            };
            let here = per.get(d).copied().unwrap_or(0);
            if here > min + spread.max_skew {
                out.push(violation("topology-spread", format!("pod {}: {:?} {} has {here} matching pods, the least loaded eligible domain {min}, max skew {}", pod.id, spread.topology_key, d, spread.max_skew)));
            }
        }
    }
}

fn check_policy(problem: &Problem, solution: &Solution, out: &mut Vec<Violation>) {
    let spot: Vec<(&str, &str)> = solution
        .nodes
        .iter()
        .filter(|n| n.capacity_type == CapacityType::Spot)
        .map(|n| (n.instance_type.as_str(), n.zone.as_str()))
        .collect();
    for breach in fleet_breaches(&problem.policy, solution.nodes.len(), &spot) {
        out.push(violation("policy", breach.detail));
    }
}
