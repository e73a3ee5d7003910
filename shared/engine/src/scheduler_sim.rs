//! A stand-in for kube-scheduler's default profile. The engine decides where pods *should* go,
//! but in a real cluster kube-scheduler decides where an evicted or new pod *does* go, one pod
//! per scheduling cycle, and by default it prefers the least allocated node (`NodeResourcesFit`
//! with `LeastAllocated` scoring), which spreads pods out and can fragment free room so that a
//! pod the engine's packing placed finds no node. Plans are checked against this, and the demo's
//! and the tests' simulated clusters bind with it, so a disagreement shows in tests.
//!
//! Filters (a node must pass every one): `NodeUnschedulable` (cordoned or not ready),
//! `NodeAffinity` (node selector and required affinity), `TaintToleration` (NoSchedule and
//! NoExecute), `NodeResourcesFit` (cpu, memory, GPUs and one pod slot), `InterPodAffinity` (the
//! incoming pod's required terms) and `PodTopologySpread` (DoNotSchedule). Scores, with the
//! default profile's weights: `NodeResourcesFit` `LeastAllocated` over cpu and memory (weight 1,
//! with kube-scheduler's non-zero defaults of 100m and 200 MiB for pods that request nothing), and
//! the incoming pod's preferences (weight 2 each, each normalised to 0..=100 over the nodes that
//! pass the filters): `NodeAffinity` (the weights of the preferred terms the node meets),
//! `InterPodAffinity` (preferred affinity adds, preferred anti-affinity subtracts, its weight for
//! each matching pod in the node's domain) and `PodTopologySpread` (`ScheduleAnyway`: fewer
//! matching pods in the node's domain scores higher); and `TaintToleration` (weight 3: fewer
//! `PreferNoSchedule` taints the pod does not tolerate scores higher, normalised the same way,
//! so such a node gets new pods only when the others are far fuller). Where kube-scheduler picks at random among
//! the best, this takes the first node by name, so simulations repeat. Not modelled: the other
//! default scorers (BalancedAllocation, ImageLocality, default topology spreading), the
//! anti-affinity terms of pods already bound, priorities and preemption.

use std::collections::BTreeMap;

use crate::labels::{
    first_untolerated, node_labels_match_on, requirement_holds_on, selects, taint_text,
    untolerated_preferences,
};
use crate::model::{Offering, Pod, Preferred, Resources, Taint, TopologyKey, well_known};

/// kube-scheduler scores a pod without requests as if it asked for this much
/// (`schedutil.DefaultMilliCPURequest`, `DefaultMemoryRequest`).
const NON_ZERO_CPU_M: i64 = 100;
const NON_ZERO_MEMORY_MIB: i64 = 200;
const MAX_NODE_SCORE: i64 = 100;
/// The default profile's weight of `NodeResourcesFit`, and of each preference scorer
/// (`NodeAffinity`, `InterPodAffinity`, `PodTopologySpread`).
const FIT_WEIGHT: i64 = 1;
const PREFERENCE_WEIGHT: i64 = 2;
/// The default profile's weight of `TaintToleration`'s score (`PreferNoSchedule` taints).
const TAINT_WEIGHT: i64 = 3;

/// A node as the scheduler sees it, with what is bound to it so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNode {
    pub name: String,
    pub allocatable: Resources,
    /// Every label of the node, well-known ones (zone, hostname, ...) included.
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// False when cordoned or not ready: nothing new lands on it.
    pub schedulable: bool,
    /// What the bound pods request; `pods` counts them.
    pub requested: Resources,
    /// The same, with the non-zero defaults, for scoring only.
    scored: (i64, i64),
    /// The labels of the bound pods, for pod affinity and topology spread.
    pod_labels: Vec<BTreeMap<String, String>>,
}

impl SimNode {
    pub fn new(
        name: &str,
        allocatable: Resources,
        labels: BTreeMap<String, String>,
        taints: Vec<Taint>,
    ) -> Self {
        let mut labels = labels;
        labels
            .entry(well_known::HOSTNAME.to_owned())
            .or_insert_with(|| name.to_owned());
        SimNode {
            name: name.to_owned(),
            allocatable,
            labels,
            taints,
            schedulable: true,
            requested: Resources::default(),
            scored: (0, 0),
            pod_labels: Vec::new(),
        }
    }

    /// A new node of the offering: its labels (well-known ones derived) and taints.
    pub fn of_offering(name: &str, offering: &Offering) -> Self {
        let mut labels = offering.labels.clone();
        for key in [
            well_known::ZONE,
            well_known::INSTANCE_TYPE,
            well_known::CAPACITY_TYPE,
            well_known::ARCH,
        ] {
            if let Some(value) = offering.label(key) {
                labels.insert(key.to_owned(), value.to_owned());
            }
        }
        SimNode::new(name, offering.allocatable, labels, offering.taints.clone())
    }

    pub fn cordoned(mut self) -> Self {
        self.schedulable = false;
        self
    }

    /// Records the pod as bound here (whether the scheduler or the past put it here).
    pub fn bind(&mut self, pod: &Pod) {
        self.requested = self.requested.plus(&Resources {
            pods: 1,
            ..pod.requests
        });
        let (cpu, memory) = non_zero(pod);
        self.scored = (self.scored.0 + cpu, self.scored.1 + memory);
        self.pod_labels.push(pod.labels.clone());
    }

    /// Forgets every bound pod (the node was drained).
    pub fn unbind_all(&mut self) {
        self.requested = Resources::default();
        self.scored = (0, 0);
        self.pod_labels.clear();
    }

    fn domain(&self, key: TopologyKey) -> Option<&str> {
        let label = match key {
            TopologyKey::Zone => well_known::ZONE,
            TopologyKey::Hostname => well_known::HOSTNAME,
        };
        self.labels.get(label).map(String::as_str)
    }

    fn matching_pods(&self, selector: &BTreeMap<String, String>) -> usize {
        self.pod_labels
            .iter()
            .filter(|labels| selects(selector, labels))
            .count()
    }
}

fn non_zero(pod: &Pod) -> (i64, i64) {
    let cpu = if pod.requests.cpu_m == 0 {
        NON_ZERO_CPU_M
    } else {
        pod.requests.cpu_m
    };
    let memory = if pod.requests.memory_mib == 0 {
        NON_ZERO_MEMORY_MIB
    } else {
        pod.requests.memory_mib
    };
    (cpu, memory)
}

/// Why a node was filtered out, counted like kube-scheduler's "0/5 nodes are available" message.
fn filter(nodes: &[SimNode], node: &SimNode, pod: &Pod) -> Result<(), String> {
    if !node.schedulable {
        return Err("node(s) were unschedulable".to_owned());
    }
    if !node_labels_match_on(pod, |key| node.labels.get(key).map(String::as_str)) {
        return Err("node(s) didn't match Pod's node affinity/selector".to_owned());
    }
    if let Some(taint) = first_untolerated(pod, &node.taints) {
        return Err(format!(
            "node(s) had untolerated taint {{{}}}",
            taint_text(taint)
        ));
    }
    let free = node.allocatable.minus(&node.requested);
    let wanted = [
        (pod.requests.cpu_m, free.cpu_m, "cpu"),
        (pod.requests.memory_mib, free.memory_mib, "memory"),
        (pod.requests.gpus, free.gpus, "nvidia.com/gpu"),
        (
            pod.requests.ephemeral_storage_mib,
            free.ephemeral_storage_mib,
            "ephemeral-storage",
        ),
        (1, free.pods, "pods"),
    ];
    if let Some((_, _, name)) = wanted.iter().find(|(want, have, _)| want > have) {
        return Err(if *name == "pods" {
            "node(s) had too many pods".to_owned()
        } else {
            format!("Insufficient {name}")
        });
    }
    for term in &pod.anti_affinity {
        let Some(domain) = node.domain(term.topology_key) else {
            continue;
        };
        let taken = nodes
            .iter()
            .filter(|n| n.domain(term.topology_key) == Some(domain))
            .any(|n| n.matching_pods(&term.match_labels) > 0);
        if taken {
            return Err("node(s) didn't match pod anti-affinity rules".to_owned());
        }
    }
    for term in &pod.affinity {
        let anywhere = nodes
            .iter()
            .any(|n| n.matching_pods(&term.match_labels) > 0);
        // Kubernetes lets the first pod of a group that selects itself start anywhere.
        if !anywhere && selects(&term.match_labels, &pod.labels) {
            continue;
        }
        let Some(domain) = node.domain(term.topology_key) else {
            return Err("node(s) didn't match pod affinity rules".to_owned());
        };
        let near = nodes
            .iter()
            .filter(|n| n.domain(term.topology_key) == Some(domain))
            .any(|n| n.matching_pods(&term.match_labels) > 0);
        if !near {
            return Err("node(s) didn't match pod affinity rules".to_owned());
        }
    }
    for spread in &pod.topology_spread {
        let Some(domain) = node.domain(spread.topology_key) else {
            return Err(
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .to_owned(),
            );
        };
        // Eligible domains: those of nodes the pod's node affinity allows (nodeAffinityPolicy:
        // Honor); taints are ignored (nodeTaintsPolicy: Ignore), as by default.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for other in nodes {
            if !node_labels_match_on(pod, |key| other.labels.get(key).map(String::as_str)) {
                continue;
            }
            if let Some(d) = other.domain(spread.topology_key) {
                *counts.entry(d).or_default() += other.matching_pods(&spread.match_labels);
            }
        }
        let min = counts.values().copied().min().unwrap_or(0);
        let own = usize::from(selects(&spread.match_labels, &pod.labels));
        let here = counts.get(domain).copied().unwrap_or(0) + own;
        if here.saturating_sub(min) > spread.max_skew as usize {
            return Err("node(s) didn't match pod topology spread constraints".to_owned());
        }
    }
    Ok(())
}

/// `LeastAllocated`: the share of cpu and memory left free once the pod is bound, 0..=100.
fn least_allocated(node: &SimNode, pod: &Pod) -> i64 {
    let (cpu, memory) = non_zero(pod);
    let free_share = |requested: i64, allocatable: i64| {
        if allocatable <= 0 || requested > allocatable {
            0
        } else {
            (allocatable - requested) * MAX_NODE_SCORE / allocatable
        }
    };
    (free_share(node.scored.0 + cpu, node.allocatable.cpu_m)
        + free_share(node.scored.1 + memory, node.allocatable.memory_mib))
        / 2
}

/// One scheduling cycle: the node the pod is bound to (an index into `nodes`, which records it),
/// or kube-scheduler's kind of message saying why no node fits.
pub fn schedule_one(nodes: &mut [SimNode], pod: &Pod) -> Result<usize, String> {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut feasible: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        match filter(nodes, node, pod) {
            Ok(()) => feasible.push(i),
            Err(reason) => *reasons.entry(reason).or_default() += 1,
        }
    }
    let preferred = preference_scores(nodes, &feasible, pod);
    let untainted = taint_scores(nodes, &feasible, pod);
    let mut best: Option<(i64, usize)> = None;
    for (k, &i) in feasible.iter().enumerate() {
        let node = &nodes[i];
        let score = FIT_WEIGHT * least_allocated(node, pod)
            + PREFERENCE_WEIGHT * preferred[k]
            + TAINT_WEIGHT * untainted[k];
        let better = best
            .is_none_or(|(top, at)| score > top || (score == top && node.name < nodes[at].name));
        if better {
            best = Some((score, i));
        }
    }
    match best {
        Some((_, i)) => {
            nodes[i].bind(pod);
            Ok(i)
        }
        None => {
            let why: Vec<String> = reasons
                .iter()
                .map(|(reason, count)| format!("{count} {reason}"))
                .collect();
            Err(format!(
                "0/{} nodes are available: {}",
                nodes.len(),
                if why.is_empty() {
                    "no nodes".to_owned()
                } else {
                    why.join(", ")
                }
            ))
        }
    }
}

/// `TaintToleration`'s score of the `feasible` nodes (in that order): fewer `PreferNoSchedule`
/// taints the pod does not tolerate scores higher, normalised to 0..=100 over the feasible nodes
/// (all 100 when none has one), so a node tainted `PreferNoSchedule` gets new pods only when
/// the others cannot take them or are far fuller.
fn taint_scores(nodes: &[SimNode], feasible: &[usize], pod: &Pod) -> Vec<i64> {
    let counts: Vec<i64> = feasible
        .iter()
        .map(|&i| untolerated_preferences(pod, &nodes[i].taints) as i64)
        .collect();
    let most = counts.iter().copied().max().unwrap_or(0);
    counts
        .into_iter()
        .map(|count| {
            if most == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE - MAX_NODE_SCORE * count / most
            }
        })
        .collect()
}

/// The pod's preference scores of the `feasible` nodes (in that order): the sum of the
/// `NodeAffinity`, `InterPodAffinity` and `PodTopologySpread` scores, each normalised to
/// 0..=100 over the feasible nodes as kube-scheduler's plugins do. All 0 without preferences.
fn preference_scores(nodes: &[SimNode], feasible: &[usize], pod: &Pod) -> Vec<i64> {
    let mut total = vec![0; feasible.len()];
    if pod.preferences.is_empty() || feasible.is_empty() {
        return total;
    }
    // Pods matching `selector` in each domain of `key`, counted once over every node; a node's
    // share is then a look-up, not another pass over the cluster.
    let per_domain = |selector: &BTreeMap<String, String>, key: TopologyKey| {
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for n in nodes {
            if let Some(domain) = n.domain(key) {
                *counts.entry(domain).or_default() += n.matching_pods(selector) as i64;
            }
        }
        feasible
            .iter()
            .map(|&i| {
                nodes[i]
                    .domain(key)
                    .and_then(|d| counts.get(d).copied())
                    .unwrap_or(0)
            })
            .collect::<Vec<i64>>()
    };
    let mut node_affinity = vec![0; feasible.len()];
    let mut inter_pod = vec![0; feasible.len()];
    let mut spread = vec![0; feasible.len()];
    for preference in &pod.preferences {
        let weight = i64::from(preference.weight);
        match &preference.preferred {
            Preferred::NodeAffinity(term) => {
                for (k, &i) in feasible.iter().enumerate() {
                    let label = |key: &str| nodes[i].labels.get(key).map(String::as_str);
                    if !term.requirements.is_empty()
                        && term
                            .requirements
                            .iter()
                            .all(|r| requirement_holds_on(r, label))
                    {
                        node_affinity[k] += weight;
                    }
                }
            }
            Preferred::PodAffinity(term) => {
                let counts = per_domain(&term.match_labels, term.topology_key);
                for (score, count) in inter_pod.iter_mut().zip(counts) {
                    *score += weight * count;
                }
            }
            Preferred::PodAntiAffinity(term) => {
                let counts = per_domain(&term.match_labels, term.topology_key);
                for (score, count) in inter_pod.iter_mut().zip(counts) {
                    *score -= weight * count;
                }
            }
            Preferred::TopologySpread(spread_term) => {
                let counts = per_domain(&spread_term.match_labels, spread_term.topology_key);
                for (score, count) in spread.iter_mut().zip(counts) {
                    *score += count;
                }
            }
        }
    }
    // Higher is better for affinity; fewer matching pods is better for spread.
    for (raw, higher_is_better) in [(node_affinity, true), (inter_pod, true), (spread, false)] {
        let (low, high) = (
            raw.iter().copied().min().unwrap_or(0),
            raw.iter().copied().max().unwrap_or(0),
        );
        if high == low {
            continue;
        }
        for (k, value) in raw.iter().enumerate() {
            let share = if higher_is_better {
                value - low
            } else {
                high - value
            };
            total[k] += share * MAX_NODE_SCORE / (high - low);
        }
    }
    total
}

/// Binds the pods one at a time, in the order given (kube-scheduler's queue: first come, first
/// served), each cycle seeing the pods bound before it. Each pod's node, or why none fits.
pub fn schedule(nodes: &mut [SimNode], pods: &[&Pod]) -> Vec<Result<usize, String>> {
    pods.iter().map(|pod| schedule_one(nodes, pod)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PodAffinityTerm, TaintEffect, Toleration, TolerationOperator};

    fn node(name: &str, cpu_m: i64, memory_mib: i64) -> SimNode {
        SimNode::new(
            name,
            Resources::new(cpu_m, memory_mib, 110, 0),
            BTreeMap::from([(well_known::ZONE.to_owned(), "z-a".to_owned())]),
            Vec::new(),
        )
    }

    fn pod(id: &str, cpu_m: i64, memory_mib: i64) -> Pod {
        Pod {
            id: id.into(),
            requests: Resources::new(cpu_m, memory_mib, 1, 0),
            ..Default::default()
        }
    }

    #[test]
    fn a_pods_preferences_outweigh_a_small_difference_in_room() {
        use crate::model::{NodeSelectorTerm, Operator, Preference, Requirement};
        let in_zone = |name: &str, zone: &str| {
            let mut n = node(name, 4_000, 16_000);
            n.labels
                .insert(well_known::ZONE.to_owned(), zone.to_owned());
            n
        };
        let web = |id: &str| Pod {
            labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
            ..pod(id, 500, 1_000)
        };
        // b is a little fuller, so LeastAllocated alone picks a, where a replica runs already.
        let mut nodes = vec![in_zone("a", "z-a"), in_zone("b", "z-b")];
        nodes[0].bind(&web("web-0"));
        nodes[1].bind(&pod("batch", 1_000, 2_000));
        assert_eq!(schedule_one(&mut nodes.clone(), &web("web-1")), Ok(0));
        let mut apart = web("web-1");
        apart.preferences = vec![Preference {
            weight: 50,
            preferred: Preferred::PodAntiAffinity(PodAffinityTerm {
                topology_key: TopologyKey::Zone,
                match_labels: BTreeMap::from([("app".to_owned(), "web".to_owned())]),
            }),
        }];
        assert_eq!(schedule_one(&mut nodes.clone(), &apart), Ok(1));
        let mut in_b = pod("api", 500, 1_000);
        in_b.preferences = vec![Preference {
            weight: 1,
            preferred: Preferred::NodeAffinity(NodeSelectorTerm {
                requirements: vec![Requirement {
                    key: well_known::ZONE.to_owned(),
                    operator: Operator::In,
                    values: vec!["z-b".to_owned()],
                }],
            }),
        }];
        assert_eq!(schedule_one(&mut nodes, &in_b), Ok(1));
    }

    #[test]
    fn binds_to_the_least_allocated_node_not_the_fullest() {
        let mut nodes = vec![node("a", 4_000, 16_000), node("b", 4_000, 16_000)];
        nodes[0].bind(&pod("old", 3_000, 12_000));
        let placed = schedule(&mut nodes, &[&pod("new", 500, 1_000)]);
        assert_eq!(placed, vec![Ok(1)], "the emptier node wins");
        // A bigger, equally loaded node has more room left: it wins over a small one.
        let mut nodes = vec![node("small", 2_000, 8_000), node("big", 8_000, 32_000)];
        assert_eq!(schedule_one(&mut nodes, &pod("p", 500, 1_000)), Ok(1));
    }

    #[test]
    fn spreading_fragments_room_that_packing_would_have_kept() {
        // Two nodes with 2 cpu free each, then 1 cpu pods, then a 2 cpu pod: least allocated
        // puts one small pod on each node, so the big one fits nowhere, although packing both
        // small pods on one node would have left room for it.
        let mut nodes = vec![node("a", 2_000, 8_000), node("b", 2_000, 8_000)];
        let small = pod("small-1", 1_000, 1_000);
        let small2 = pod("small-2", 1_000, 1_000);
        let big = pod("big", 2_000, 1_000);
        let placed = schedule(&mut nodes, &[&small, &small2, &big]);
        assert_eq!(placed[0], Ok(0));
        assert_eq!(placed[1], Ok(1));
        let why = placed[2].clone().unwrap_err();
        assert_eq!(why, "0/2 nodes are available: 2 Insufficient cpu");
    }

    #[test]
    fn cordoned_nodes_taints_and_selectors_filter_nodes_out() {
        let mut tainted = node("tainted", 4_000, 16_000);
        tainted.taints.push(Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: TaintEffect::NoSchedule,
        });
        let mut labelled = node("labelled", 4_000, 16_000);
        labelled.labels.insert("team".into(), "web".into());
        let mut nodes = vec![
            node("cordoned", 4_000, 16_000).cordoned(),
            tainted,
            labelled,
        ];
        let plain = pod("plain", 100, 100);
        let why = schedule_one(&mut nodes[..2], &plain).unwrap_err();
        assert_eq!(
            why,
            "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated=gpu:NoSchedule}, 1 node(s) were unschedulable"
        );
        let mut tolerant = plain.clone();
        tolerant.tolerations.push(Toleration {
            key: "dedicated".into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
        });
        tolerant.node_selector.insert("team".into(), "web".into());
        assert_eq!(schedule_one(&mut nodes, &tolerant), Ok(2));
        tolerant.node_selector.insert("team".into(), "db".into());
        assert!(schedule_one(&mut nodes, &tolerant).is_err());
    }

    #[test]
    fn pod_slots_and_hostname_anti_affinity_are_honoured() {
        let mut nodes = vec![SimNode::new(
            "a",
            Resources::new(4_000, 16_000, 1, 0),
            BTreeMap::new(),
            Vec::new(),
        )];
        assert_eq!(schedule_one(&mut nodes, &pod("one", 10, 10)), Ok(0));
        assert_eq!(
            schedule_one(&mut nodes, &pod("two", 10, 10)).unwrap_err(),
            "0/1 nodes are available: 1 node(s) had too many pods"
        );

        let mut nodes = vec![node("a", 4_000, 16_000), node("b", 4_000, 16_000)];
        let mut replica = pod("web-1", 100, 100);
        replica.labels.insert("app".into(), "web".into());
        replica.anti_affinity.push(PodAffinityTerm {
            topology_key: TopologyKey::Hostname,
            match_labels: BTreeMap::from([("app".into(), "web".into())]),
        });
        let mut second = replica.clone();
        second.id = "web-2".into();
        let mut third = replica.clone();
        third.id = "web-3".into();
        let placed = schedule(&mut nodes, &[&replica, &second, &third]);
        assert_eq!(placed[0], Ok(0));
        assert_eq!(placed[1], Ok(1));
        assert!(placed[2].is_err());
    }

    #[test]
    fn a_prefer_no_schedule_taint_sends_new_pods_elsewhere_while_they_have_room() {
        let mut emptier = node("emptier", 4_000, 16_000);
        emptier.taints.push(Taint {
            key: "spot-optimizer.io/consolidating".into(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        });
        let mut fuller = node("fuller", 4_000, 16_000);
        fuller.bind(&pod("running", 2_000, 8_000));
        let mut nodes = vec![emptier, fuller];
        // Least allocated alone would pick the empty node; the taint outweighs it.
        assert_eq!(schedule_one(&mut nodes, &pod("new", 500, 1_000)), Ok(1));
        // Once the untainted node has no room, the tainted one still takes pods.
        assert_eq!(schedule_one(&mut nodes, &pod("big", 3_000, 4_000)), Ok(0));
        // A pod that tolerates the taint goes by room again.
        let mut tolerant = pod("tolerant", 100, 100);
        tolerant.tolerations.push(Toleration {
            key: "spot-optimizer.io/consolidating".into(),
            operator: TolerationOperator::Exists,
            value: String::new(),
            effect: None,
        });
        let mut nodes = vec![node("a", 4_000, 16_000), nodes[1].clone()];
        nodes[0].taints = vec![Taint {
            key: "spot-optimizer.io/consolidating".into(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        }];
        assert_eq!(schedule_one(&mut nodes, &tolerant), Ok(0));
    }

    #[test]
    fn ties_go_to_the_first_node_by_name() {
        let mut nodes = vec![node("b", 4_000, 16_000), node("a", 4_000, 16_000)];
        assert_eq!(schedule_one(&mut nodes, &pod("p", 100, 100)), Ok(1));
    }
}
