//! Pods with identical requests and constraints form a class; the solver works class by class, so
//! 10k pods from a dozen deployments cost a dozen compatibility scans, not 10k.
//!
//! This module also interns the label selectors used by spread and (anti-)affinity terms
//! ("groups"), and turns topology spread constraints into rules the packer enforces on every pod
//! that the selector counts.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::bitset::BitSet;
use crate::labels::{fits_empty, placement_allowed, selects};
use crate::model::{Pod, Problem, Resources, TopologyKey};

/// A pod viewed without its id: the equivalence used to form classes.
struct PodShape<'a>(&'a Pod);

impl PartialEq for PodShape<'_> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        a.requests == b.requests
            && a.labels == b.labels
            && a.node_selector == b.node_selector
            && a.required_node_affinity == b.required_node_affinity
            && a.tolerations == b.tolerations
            && a.topology_spread == b.topology_spread
            && a.affinity == b.affinity
            && a.anti_affinity == b.anti_affinity
            && a.volume_zones == b.volume_zones
    }
}

impl Eq for PodShape<'_> {}

impl Hash for PodShape<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let p = self.0;
        p.requests.hash(state);
        p.labels.hash(state);
        p.node_selector.hash(state);
        p.required_node_affinity.hash(state);
        p.tolerations.hash(state);
        p.topology_spread.hash(state);
        p.affinity.hash(state);
        p.anti_affinity.hash(state);
        p.volume_zones.hash(state);
    }
}

/// What decides which nodes a pod may run on by labels and taints.
struct PlacementShape<'a>(&'a Pod);

impl PartialEq for PlacementShape<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.node_selector == other.0.node_selector
            && self.0.required_node_affinity == other.0.required_node_affinity
            && self.0.tolerations == other.0.tolerations
            && self.0.volume_zones == other.0.volume_zones
    }
}

impl Eq for PlacementShape<'_> {}

impl Hash for PlacementShape<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.node_selector.hash(state);
        self.0.required_node_affinity.hash(state);
        self.0.tolerations.hash(state);
        self.0.volume_zones.hash(state);
    }
}

/// A zone topology spread: the pods of `group` stay within `max_skew` of each other over `zones`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneRule {
    pub group: usize,
    pub max_skew: u32,
    /// Zone indices (the eligible domains of the carrying pods).
    pub zones: Vec<usize>,
}

/// A hostname topology spread: on every node whose offering is in `eligible`, the counts of
/// `group` pods stay within `max_skew` of each other.
#[derive(Debug, Clone)]
pub struct HostRule {
    pub group: usize,
    pub max_skew: u32,
    /// Offerings (problem indices) whose nodes are eligible domains.
    pub eligible: BitSet,
    eligibility_shape: usize,
}

#[derive(Debug, Clone)]
pub struct Class {
    /// Pod indices of the problem.
    pub pods: Vec<usize>,
    /// The requests with one pod slot.
    pub requests: Resources,
    /// Groups (selectors) whose selector matches this class's labels.
    pub member_of: Vec<usize>,
    pub anti_host: Vec<usize>,
    pub anti_zone: Vec<usize>,
    pub affinity_host: Vec<usize>,
    pub affinity_zone: Vec<usize>,
    /// Zone rules whose group counts this class (the packer keeps them on its placements).
    pub zone_rules: Vec<usize>,
    /// Hostname rules whose group counts this class.
    pub host_rules: Vec<usize>,
    /// Admitted offerings the pod can run on: labels, taints and an empty node's resources.
    pub compat: BitSet,
    /// Zone indices in which `compat` has an offering.
    pub zones: Vec<usize>,
}

impl Class {
    /// No topology or pod (anti-)affinity ties this class to other pods, and no such term of
    /// another pod counts it: it can move to any compatible node.
    pub fn is_free(&self, groups: &Groups) -> bool {
        self.zone_rules.is_empty()
            && self.host_rules.is_empty()
            && self.anti_host.is_empty()
            && self.anti_zone.is_empty()
            && self.affinity_host.is_empty()
            && self.affinity_zone.is_empty()
            && self.member_of.iter().all(|g| !groups.referenced[*g])
    }
}

impl Class {
    /// Only zone-level terms tie this class to other pods: moving one of its pods to another node
    /// of the same zone changes no count any constraint looks at.
    pub fn is_zone_movable(&self, groups: &Groups) -> bool {
        self.host_rules.is_empty()
            && self.anti_host.is_empty()
            && self.affinity_host.is_empty()
            && self
                .member_of
                .iter()
                .all(|g| !groups.host_affinity_target[*g])
    }
}

/// The interned selectors.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub selectors: Vec<std::collections::BTreeMap<String, String>>,
    /// The group is used by some constraint (always true for interned groups; kept for clarity).
    pub referenced: Vec<bool>,
    /// Some pod has a hostname anti-affinity term with this group.
    pub anti_host_held: Vec<bool>,
    /// Some pod has a zone anti-affinity term with this group.
    pub anti_zone_held: Vec<bool>,
    /// Some pod has a hostname pod-affinity term with this group.
    pub host_affinity_target: Vec<bool>,
}

impl Groups {
    fn intern(&mut self, selector: &std::collections::BTreeMap<String, String>) -> usize {
        if let Some(i) = self.selectors.iter().position(|s| s == selector) {
            return i;
        }
        self.selectors.push(selector.clone());
        self.referenced.push(true);
        self.anti_host_held.push(false);
        self.anti_zone_held.push(false);
        self.host_affinity_target.push(false);
        self.selectors.len() - 1
    }
}

/// A pod the classes could not take, with the reason.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub pod: usize,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Classes {
    pub classes: Vec<Class>,
    pub groups: Groups,
    pub zone_rules: Vec<ZoneRule>,
    pub host_rules: Vec<HostRule>,
    /// Zone names, sorted; offerings refer to them by index via `offering_zone`.
    pub zone_names: Vec<String>,
    /// Zone index of every problem offering.
    pub offering_zone: Vec<usize>,
    /// Instance type id (equal names, equal ids) of every problem offering.
    pub offering_type: Vec<usize>,
    /// Pods rejected for invalid input before classing.
    pub invalid: Vec<Rejected>,
}

/// Groups the problem's pods into classes and computes everything per class the packer needs.
pub fn build(problem: &Problem, admitted: &[usize]) -> Classes {
    let mut zone_names: Vec<String> = problem.offerings.iter().map(|o| o.zone.clone()).collect();
    zone_names.sort();
    zone_names.dedup();
    let offering_zone: Vec<usize> = problem
        .offerings
        .iter()
        .map(|o| zone_names.binary_search(&o.zone).unwrap_or(0))
        .collect();

    let mut type_ids: HashMap<&str, usize> = HashMap::new();
    let offering_type: Vec<usize> = problem
        .offerings
        .iter()
        .map(|o| {
            let next = type_ids.len();
            *type_ids.entry(o.instance_type.as_str()).or_insert(next)
        })
        .collect();

    let mut invalid = Vec::new();
    let mut by_shape: HashMap<PodShape, usize> = HashMap::new();
    let mut pods_of: Vec<Vec<usize>> = Vec::new();
    for (index, pod) in problem.pods.iter().enumerate() {
        let r = &pod.requests;
        if r.cpu_m < 0 || r.memory_mib < 0 || r.gpus < 0 || r.ephemeral_storage_mib < 0 {
            invalid.push(Rejected {
                pod: index,
                reason: "requests a negative amount of a resource".into(),
            });
            continue;
        }
        if let Some(bad) = pod
            .topology_spread
            .iter()
            .find(|s| s.max_skew == 0)
            .map(|_| "has a topology spread with max_skew 0 (must be at least 1)")
        {
            invalid.push(Rejected {
                pod: index,
                reason: bad.into(),
            });
            continue;
        }
        let next = pods_of.len();
        let class = *by_shape.entry(PodShape(pod)).or_insert(next);
        if class == next {
            pods_of.push(Vec::new());
        }
        pods_of[class].push(index);
    }

    // Placement shapes: label/taint compatibility computed once per distinct shape.
    let mut shape_index: HashMap<PlacementShape, usize> = HashMap::new();
    let mut shape_allowed: Vec<BitSet> = Vec::new();
    let mut class_shape = Vec::with_capacity(pods_of.len());
    for pods in &pods_of {
        let pod = &problem.pods[pods[0]];
        let next = shape_allowed.len();
        let shape = *shape_index.entry(PlacementShape(pod)).or_insert(next);
        if shape == next {
            let mut allowed = BitSet::new(problem.offerings.len());
            for &o in admitted {
                if placement_allowed(pod, &problem.offerings[o]) {
                    allowed.insert(o);
                }
            }
            shape_allowed.push(allowed);
        }
        class_shape.push(shape);
    }

    let mut groups = Groups::default();
    let mut zone_rules: Vec<ZoneRule> = Vec::new();
    let mut host_rules: Vec<HostRule> = Vec::new();
    let mut classes = Vec::with_capacity(pods_of.len());
    for (pods, &shape) in pods_of.into_iter().zip(&class_shape) {
        let pod = &problem.pods[pods[0]];
        let mut compat = BitSet::new(problem.offerings.len());
        let mut zones = Vec::new();
        for o in shape_allowed[shape].iter() {
            let offering = &problem.offerings[o];
            if fits_empty(pod, offering) {
                compat.insert(o);
                let z = offering_zone[o];
                if !zones.contains(&z) {
                    zones.push(z);
                }
            }
        }
        zones.sort_unstable();
        let mut class = Class {
            pods,
            requests: pod.requests.for_pods(1),
            member_of: Vec::new(),
            anti_host: Vec::new(),
            anti_zone: Vec::new(),
            affinity_host: Vec::new(),
            affinity_zone: Vec::new(),
            zone_rules: Vec::new(),
            host_rules: Vec::new(),
            compat,
            zones,
        };
        for term in &pod.anti_affinity {
            let g = groups.intern(&term.match_labels);
            match term.topology_key {
                TopologyKey::Hostname => {
                    groups.anti_host_held[g] = true;
                    push_unique(&mut class.anti_host, g);
                }
                TopologyKey::Zone => {
                    groups.anti_zone_held[g] = true;
                    push_unique(&mut class.anti_zone, g);
                }
            }
        }
        for term in &pod.affinity {
            let g = groups.intern(&term.match_labels);
            match term.topology_key {
                TopologyKey::Hostname => {
                    groups.host_affinity_target[g] = true;
                    push_unique(&mut class.affinity_host, g);
                }
                TopologyKey::Zone => push_unique(&mut class.affinity_zone, g),
            }
        }
        for spread in &pod.topology_spread {
            let g = groups.intern(&spread.match_labels);
            match spread.topology_key {
                TopologyKey::Zone => {
                    let rule = ZoneRule {
                        group: g,
                        max_skew: spread.max_skew,
                        zones: class.zones.clone(),
                    };
                    if !zone_rules.contains(&rule) {
                        zone_rules.push(rule);
                    }
                }
                TopologyKey::Hostname => {
                    if !host_rules.iter().any(|r| {
                        r.group == g
                            && r.max_skew == spread.max_skew
                            && r.eligibility_shape == shape
                    }) {
                        host_rules.push(HostRule {
                            group: g,
                            max_skew: spread.max_skew,
                            eligible: shape_allowed[shape].clone(),
                            eligibility_shape: shape,
                        });
                    }
                }
            }
        }
        classes.push(class);
    }

    // Membership: which classes each group counts, and so which rules bind which classes.
    for class in &mut classes {
        let labels = &problem.pods[class.pods[0]].labels;
        for (g, selector) in groups.selectors.iter().enumerate() {
            if selects(selector, labels) {
                class.member_of.push(g);
            }
        }
        for (r, rule) in zone_rules.iter().enumerate() {
            if class.member_of.contains(&rule.group) {
                class.zone_rules.push(r);
            }
        }
        for (r, rule) in host_rules.iter().enumerate() {
            if class.member_of.contains(&rule.group) {
                class.host_rules.push(r);
            }
        }
    }

    Classes {
        classes,
        groups,
        zone_rules,
        host_rules,
        zone_names,
        offering_zone,
        offering_type,
        invalid,
    }
}

fn push_unique(list: &mut Vec<usize>, value: usize) {
    if !list.contains(&value) {
        list.push(value);
    }
}
