//! Soft constraints. Kubernetes honours preferred node affinity, preferred pod (anti-)affinity
//! and `ScheduleAnyway` spread by scoring, never by refusing; the engine honours them as far as
//! they cost little. Starting from the packing that ignores them, it holds them as hard
//! constraints one level at a time, the most important first (Karpenter's relaxation order read
//! backwards: spread, then node affinity, pod anti-affinity and pod affinity; within each, the
//! heaviest weight first), and keeps a level when the packing still places every pod the
//! packing without preferences places, for at most [`PREFERENCE_COST_TOLERANCE_PERCENT`] more.
//! The preferences the result does not meet are named in [`Solution::unmet_preferences`].

use std::collections::HashMap;

use crate::labels::{selects, term_holds};
use crate::model::{
    NodeSelectorTerm, Pod, PodAffinityTerm, Preference, Preferred, Problem, Solution, TopologyKey,
    TopologySpread, UnmetPreference,
};

/// What meeting preferences may add to the cost of the packing that ignores them, in percent.
pub const PREFERENCE_COST_TOLERANCE_PERCENT: f64 = 5.0;

/// At most this many packings are tried with preferences held (each adding a few more levels).
const TRIES: usize = 6;

/// Solves `problem` with `hard` (which knows only hard constraints), meeting the pods'
/// preferences as described above.
pub fn solve_with_preferences(problem: &Problem, hard: impl Fn(&Problem) -> Solution) -> Solution {
    if problem.pods.iter().all(|p| p.preferences.is_empty()) {
        return hard(problem);
    }
    let ignoring = hard(&holding(problem, &[]));
    let ceiling = ignoring.cost_per_hour * (1.0 + PREFERENCE_COST_TOLERANCE_PERCENT / 100.0) + 1e-9;
    let unplaced = ignoring.unschedulable.len();
    let levels = importance_order(problem);
    let mut held: Vec<Level> = Vec::new();
    let mut chosen = ignoring;
    for group in levels.chunks(levels.len().div_ceil(TRIES).max(1)) {
        let trial: Vec<Level> = held.iter().chain(group).copied().collect();
        let solution = hard(&holding(problem, &trial));
        if solution.unschedulable.len() <= unplaced && solution.cost_per_hour <= ceiling {
            held = trial;
            chosen = solution;
        }
    }
    chosen.unmet_preferences = unmet(problem, &chosen);
    chosen
}

/// Every preference of one kind and weight, held or given up together.
type Level = (u8, u32);

fn level(preference: &Preference) -> Level {
    let kind = match preference.preferred {
        Preferred::TopologySpread(_) => 3,
        Preferred::NodeAffinity(_) => 2,
        Preferred::PodAntiAffinity(_) => 1,
        Preferred::PodAffinity(_) => 0,
    };
    (kind, preference.weight)
}

/// The levels, the most important first.
fn importance_order(problem: &Problem) -> Vec<Level> {
    let mut levels: Vec<Level> = problem
        .pods
        .iter()
        .flat_map(|p| p.preferences.iter().map(level))
        .collect();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    levels.dedup();
    levels
}

/// The problem with the preferences of `held` levels as hard constraints and the others gone.
fn holding(problem: &Problem, held: &[Level]) -> Problem {
    let mut out = problem.clone();
    for pod in &mut out.pods {
        for preference in std::mem::take(&mut pod.preferences) {
            if held.contains(&level(&preference)) {
                hold(pod, preference.preferred);
            }
        }
    }
    out
}

fn hold(pod: &mut Pod, preferred: Preferred) {
    match preferred {
        Preferred::PodAffinity(term) => pod.affinity.push(term),
        Preferred::PodAntiAffinity(term) => pod.anti_affinity.push(term),
        Preferred::TopologySpread(spread) => pod.topology_spread.push(spread),
        Preferred::NodeAffinity(term) => {
            // Required terms are ORed: the preference must hold beside whichever term does.
            if pod.required_node_affinity.is_empty() {
                pod.required_node_affinity.push(term);
            } else {
                for required in &mut pod.required_node_affinity {
                    required
                        .requirements
                        .extend(term.requirements.iter().cloned());
                }
            }
        }
    }
}

/// The pods' preferences `solution` does not meet.
fn unmet(problem: &Problem, solution: &Solution) -> Vec<UnmetPreference> {
    let mut node_of: HashMap<usize, usize> = HashMap::new();
    for (n, node) in solution.nodes.iter().enumerate() {
        for &p in &node.pods {
            node_of.insert(p, n);
        }
    }
    let domain = |p: usize, key: TopologyKey| -> Option<&str> {
        let node = &solution.nodes[*node_of.get(&p)?];
        Some(match key {
            TopologyKey::Zone => node.zone.as_str(),
            TopologyKey::Hostname => node.name.as_str(),
        })
    };
    let others_in = |p: usize, selector, key| {
        let Some(here) = domain(p, key) else {
            return 0;
        };
        (0..problem.pods.len())
            .filter(|&q| q != p && selects(selector, &problem.pods[q].labels))
            .filter(|&q| domain(q, key) == Some(here))
            .count()
    };
    let mut out = Vec::new();
    for (p, pod) in problem.pods.iter().enumerate() {
        let Some(&n) = node_of.get(&p) else {
            // Unschedulable: its reason says why.
            continue;
        };
        for preference in &pod.preferences {
            let met = match &preference.preferred {
                Preferred::NodeAffinity(term) => problem
                    .offerings
                    .get(solution.nodes[n].offering)
                    .is_some_and(|offering| term_holds(term, offering)),
                Preferred::PodAntiAffinity(term) => {
                    others_in(p, &term.match_labels, term.topology_key) == 0
                }
                Preferred::PodAffinity(term) => {
                    let anywhere = (0..problem.pods.len())
                        .any(|q| q != p && selects(&term.match_labels, &problem.pods[q].labels));
                    !anywhere || others_in(p, &term.match_labels, term.topology_key) > 0
                }
                Preferred::TopologySpread(spread) => {
                    spread_met(problem, solution, p, spread, &domain)
                }
            };
            if !met {
                out.push(UnmetPreference {
                    pod: pod.id.clone(),
                    preference: describe(preference),
                });
            }
        }
    }
    out
}

/// The pod's domain holds at most `max_skew` more matching pods than the emptiest domain of
/// the solution's nodes.
fn spread_met<'a>(
    problem: &Problem,
    solution: &'a Solution,
    p: usize,
    spread: &TopologySpread,
    domain: &impl Fn(usize, TopologyKey) -> Option<&'a str>,
) -> bool {
    let mut counts: HashMap<&str, u32> = solution
        .nodes
        .iter()
        .map(|node| match spread.topology_key {
            TopologyKey::Zone => (node.zone.as_str(), 0),
            TopologyKey::Hostname => (node.name.as_str(), 0),
        })
        .collect();
    for (q, other) in problem.pods.iter().enumerate() {
        if selects(&spread.match_labels, &other.labels)
            && let Some(d) = domain(q, spread.topology_key)
        {
            *counts.entry(d).or_default() += 1;
        }
    }
    let fewest = counts.values().copied().min().unwrap_or(0);
    let own = domain(p, spread.topology_key).map_or(0, |d| counts.get(d).copied().unwrap_or(0));
    own.saturating_sub(fewest) <= spread.max_skew
}

fn describe(preference: &Preference) -> String {
    let weight = preference.weight;
    match &preference.preferred {
        Preferred::NodeAffinity(term) => {
            format!(
                "preferred node affinity {} (weight {weight})",
                term_text(term)
            )
        }
        Preferred::PodAffinity(term) => format!(
            "preferred pod affinity to {} (weight {weight})",
            pod_term_text(term)
        ),
        Preferred::PodAntiAffinity(term) => format!(
            "preferred pod anti-affinity to {} (weight {weight})",
            pod_term_text(term)
        ),
        Preferred::TopologySpread(spread) => format!(
            "ScheduleAnyway spread of {} over {} with max skew {}",
            selector_text(&spread.match_labels),
            key_text(spread.topology_key),
            spread.max_skew
        ),
    }
}

fn term_text(term: &NodeSelectorTerm) -> String {
    term.requirements
        .iter()
        .map(|r| format!("{} {:?} {}", r.key, r.operator, r.values.join(",")))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn pod_term_text(term: &PodAffinityTerm) -> String {
    format!(
        "{} per {}",
        selector_text(&term.match_labels),
        key_text(term.topology_key)
    )
}

fn selector_text(selector: &std::collections::BTreeMap<String, String>) -> String {
    if selector.is_empty() {
        return "every pod".to_owned();
    }
    let labels: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("pods {}", labels.join(","))
}

fn key_text(key: TopologyKey) -> &'static str {
    match key {
        TopologyKey::Zone => "zone",
        TopologyKey::Hostname => "node",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Operator, Requirement, Resources};

    fn replicas(count: usize, preferences: Vec<Preference>) -> Vec<Pod> {
        (0..count)
            .map(|i| Pod {
                id: format!("shop/web-{i}"),
                requests: Resources::new(250, 256, 1, 0),
                labels: [("app".to_owned(), "web".to_owned())].into(),
                preferences: preferences.clone(),
                ..Default::default()
            })
            .collect()
    }

    fn problem(pods: Vec<Pod>) -> Problem {
        Problem {
            offerings: crate::offerings_in(
                "us-east-1",
                &["us-east-1a".to_owned(), "us-east-1b".to_owned()],
            ),
            pods,
            ..Default::default()
        }
    }

    fn anti_affinity(weight: u32, key: TopologyKey) -> Preference {
        Preference {
            weight,
            preferred: Preferred::PodAntiAffinity(PodAffinityTerm {
                topology_key: key,
                match_labels: [("app".to_owned(), "web".to_owned())].into(),
            }),
        }
    }

    fn zones_used(solution: &Solution) -> usize {
        let mut zones: Vec<&str> = solution.nodes.iter().map(|n| n.zone.as_str()).collect();
        zones.sort_unstable();
        zones.dedup();
        zones.len()
    }

    #[test]
    fn a_preference_that_costs_little_is_met() {
        // Spreading two small replicas over two zones costs two small nodes instead of one:
        // more than 5 % of a one-node cluster, so a bigger cluster carries the spread.
        let mut pods = replicas(2, vec![anti_affinity(100, TopologyKey::Zone)]);
        pods.extend((0..40).map(|i| Pod {
            id: format!("batch/job-{i}"),
            requests: Resources::new(1_000, 2_048, 1, 0),
            ..Default::default()
        }));
        let problem = problem(pods);
        let solution = crate::solve(&problem);
        assert!(
            solution.unmet_preferences.is_empty(),
            "{:?}",
            solution.unmet_preferences
        );
        let web_zones: Vec<&str> = solution
            .nodes
            .iter()
            .filter(|n| {
                n.pods
                    .iter()
                    .any(|&p| problem.pods[p].id.starts_with("shop/"))
            })
            .map(|n| n.zone.as_str())
            .collect();
        assert_eq!(web_zones.len(), 2, "{web_zones:?}");
        assert_ne!(web_zones[0], web_zones[1]);
    }

    #[test]
    fn a_preference_that_would_cost_too_much_is_dropped_and_named() {
        // Four tiny replicas, each preferring a node of its own: four nodes instead of one.
        let problem = problem(replicas(4, vec![anti_affinity(50, TopologyKey::Hostname)]));
        let solution = crate::solve(&problem);
        let ignoring = crate::solve(&holding(&problem, &[]));
        assert!(solution.cost_per_hour <= ignoring.cost_per_hour * 1.05 + 1e-9);
        assert!(solution.unschedulable.is_empty());
        assert!(!solution.unmet_preferences.is_empty());
        assert!(
            solution.unmet_preferences[0]
                .preference
                .contains("preferred pod anti-affinity to pods app=web per node (weight 50)"),
            "{:?}",
            solution.unmet_preferences
        );
        assert_eq!(zones_used(&solution), 1);
    }

    #[test]
    fn a_preferred_node_affinity_holds_beside_the_required_one() {
        let prefer_b = Preference {
            weight: 10,
            preferred: Preferred::NodeAffinity(NodeSelectorTerm {
                requirements: vec![Requirement {
                    key: crate::well_known::ZONE.to_owned(),
                    operator: Operator::In,
                    values: vec!["us-east-1b".to_owned()],
                }],
            }),
        };
        let problem = problem(replicas(3, vec![prefer_b]));
        let solution = crate::solve(&problem);
        assert!(
            solution.unmet_preferences.is_empty(),
            "{:?}",
            solution.unmet_preferences
        );
        assert!(solution.nodes.iter().all(|n| n.zone == "us-east-1b"));
    }
}
