//! Placing classes: first-fit over open nodes (opening cost-efficient nodes when none fits), zone
//! choice for zone-constrained classes, and water-filling for hostname spread.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::envelope::Envelopes;
use super::state::{Refusal, State};
use crate::classes::{Class, Classes, ZoneRule};
use crate::lower_bound::ResourcePrices;
use crate::model::Resources;

/// A pod the packer could not place, with the reason.
#[derive(Debug, Clone)]
pub struct Failure {
    pub pod: usize,
    pub reason: String,
}

/// The order classes are packed in: pods that need their own nodes first (they open the nodes
/// others fill), then large before small (first-fit decreasing), pods with affinity to others
/// after their targets, and hostname spread last (it must see every node to spread over).
pub fn class_order(cx: &Classes, prices: &ResourcePrices) -> Vec<usize> {
    let phase = |c: usize| {
        let class = &cx.classes[c];
        let depends_on_others = class
            .affinity_host
            .iter()
            .chain(&class.affinity_zone)
            .any(|g| !class.member_of.contains(g));
        if !class.host_rules.is_empty() {
            3
        } else if depends_on_others {
            2
        } else if !class.anti_host.is_empty() || !class.affinity_host.is_empty() {
            0
        } else {
            1
        }
    };
    let size = |c: usize| {
        let r = &cx.classes[c].requests;
        let value = prices.value(r);
        // Without prices fall back to a plain sum, so ordering is still "large first".
        if value > 0.0 {
            value
        } else {
            r.cpu_m as f64 / 1000.0 + r.memory_mib as f64 / 4096.0
        }
    };
    let mut order: Vec<usize> = (0..cx.classes.len())
        .filter(|&c| !cx.classes[c].compat.is_empty())
        .collect();
    order.sort_by(|&a, &b| {
        phase(a)
            .cmp(&phase(b))
            .then(size(b).total_cmp(&size(a)))
            .then(a.cmp(&b))
    });
    order
}

/// Whether a term other than a zone spread looks at group `g`: hostname or zone anti-affinity held
/// by it, or hostname or zone affinity to it.
pub fn group_observed(cx: &Classes, g: usize) -> bool {
    cx.groups.anti_host_held[g]
        || cx.groups.anti_zone_held[g]
        || cx.groups.host_affinity_target[g]
        || cx.classes.iter().any(|c| c.affinity_zone.contains(&g))
}

/// The classes group `g` counts that have somewhere to run.
pub fn runnable_members(cx: &Classes, g: usize) -> Vec<usize> {
    (0..cx.classes.len())
        .filter(|&c| cx.classes[c].member_of.contains(&g) && !cx.classes[c].compat.is_empty())
        .collect()
}

/// The class carries zone rule `r` and no other term (no hostname terms, no (anti-)affinity),
/// over exactly the rule's zones.
pub fn only_zone_rule(class: &Class, r: usize, rule: &ZoneRule) -> bool {
    class.zone_rules == [r]
        && class.host_rules.is_empty()
        && class.anti_host.is_empty()
        && class.anti_zone.is_empty()
        && class.affinity_host.is_empty()
        && class.affinity_zone.is_empty()
        && class.zones == rule.zones
}

/// Zone-spread groups whose pods can be placed together: the group is counted by exactly one zone
/// rule, every member class carries only that zone-level term (no hostname terms, no zone
/// (anti-)affinity, the same zones), and no other term looks at the group. Returns, per class,
/// the index of its group in the result (None for others), and the member classes per group.
pub fn zone_groups(cx: &Classes) -> (Vec<Option<usize>>, Vec<Vec<usize>>) {
    let mut of_class = vec![None; cx.classes.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (r, rule) in cx.zone_rules.iter().enumerate() {
        let g = rule.group;
        if group_observed(cx, g) {
            continue;
        }
        let members = runnable_members(cx, g);
        let simple = members.iter().all(|&c| {
            let class = &cx.classes[c];
            only_zone_rule(class, r, rule) && of_class[c].is_none()
        });
        if members.len() < 2 || !simple {
            continue;
        }
        for &c in &members {
            of_class[c] = Some(groups.len());
        }
        groups.push(members);
    }
    (of_class, groups)
}

/// Places a zone-spread group at once: the zones get balanced counts, the cheapest zones the
/// largest pods and the dearest the smallest (the spread counts pods, not their size), placed
/// round-robin so the skew holds at every step.
pub fn place_zone_group(
    state: &mut State,
    env: &Envelopes,
    prices: &ResourcePrices,
    members: &[usize],
    placed: &[bool],
    failures: &mut Vec<Failure>,
) {
    let cx = state.cx;
    let Some(&first) = members.first() else {
        return;
    };
    let zones_of_group = cx.classes[first].zones.clone();
    // Size: the share of the group's cpu plus its share of memory (the dual prices can rate one
    // resource at zero when both bind about equally).
    let (mut cpu, mut memory) = (0.0f64, 0.0f64);
    for &c in members {
        let r = &cx.classes[c].requests;
        let k = cx.classes[c].pods.len() as f64;
        cpu += r.cpu_m as f64 * k;
        memory += r.memory_mib as f64 * k;
    }
    let size = |r: &Resources| {
        r.cpu_m as f64 / cpu.max(1.0)
            + r.memory_mib as f64 / memory.max(1.0)
            + prices.value(r) * 1e-12
    };
    let mut pods: Vec<(f64, usize, usize)> = members
        .iter()
        .flat_map(|&c| {
            let value = size(&cx.classes[c].requests);
            cx.classes[c]
                .pods
                .iter()
                .filter(|&&p| !placed[p])
                .map(move |&p| (value, c, p))
        })
        .collect();
    pods.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
    let cost = |z: usize| {
        members
            .iter()
            .map(|&c| zone_score(env, c, z))
            .fold(f64::INFINITY, f64::min)
    };
    let mut zones = zones_of_group;
    zones.sort_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(a.cmp(&b)));
    let k = zones.len().max(1);
    let (base, rem) = (pods.len() / k, pods.len() % k);
    let mut chunks: Vec<Vec<(usize, usize)>> = Vec::with_capacity(k);
    let mut start = 0;
    for i in 0..k {
        let len = base + usize::from(i < rem);
        chunks.push(
            pods[start..start + len]
                .iter()
                .map(|&(_, c, p)| (c, p))
                .collect(),
        );
        start += len;
    }
    let all_zones = cx.zone_names.len();
    let mut pointer = vec![0usize; all_zones + 1];
    for round in 0..base + usize::from(rem > 0) {
        for (i, &z) in zones.iter().enumerate() {
            let Some(&(c, pod)) = chunks[i].get(round) else {
                continue;
            };
            let mut own = vec![0usize; all_zones + 1];
            own[z] = pointer[z];
            let placed = if state.zone_refusal(c, z).is_none() {
                match first_fit(state, c, pod, Some(z), &mut pointer[z]) {
                    Some(n) => Ok(n),
                    None => open_in_zone(state, env, c, pod, z),
                }
            } else {
                Err(Refusal::ZoneSpread)
            };
            let placed = match placed {
                Ok(n) => Ok(n),
                Err(_) => place_in_best_zone(state, env, c, pod, &mut own),
            };
            if let Err(refusal) = placed {
                failures.push(Failure {
                    pod,
                    reason: refusal_text(state, c, refusal),
                });
            }
        }
    }
}

pub fn place_class(
    state: &mut State,
    env: &Envelopes,
    c: usize,
    placed: &[bool],
    failures: &mut Vec<Failure>,
) {
    let class = state.class(c);
    if !class.host_rules.is_empty() {
        water_fill(state, env, c, placed, failures);
        return;
    }
    let zone_bound = !class.zone_rules.is_empty()
        || !class.affinity_zone.is_empty()
        || !class.anti_zone.is_empty();
    let zones = state.cx.zone_names.len();
    // First-fit pointers: per zone when zone-bound, else one over all nodes (index `zones`).
    let mut pointer = vec![0usize; zones + 1];
    for &pod in class.pods.iter().filter(|&&p| !placed[p]) {
        let placed = if zone_bound {
            place_in_best_zone(state, env, c, pod, &mut pointer)
        } else {
            match first_fit(state, c, pod, None, &mut pointer[zones]) {
                Some(n) => Ok(n),
                None => open_anywhere(state, env, c, pod),
            }
        };
        if let Err(refusal) = placed {
            failures.push(Failure {
                pod,
                reason: refusal_text(state, c, refusal),
            });
        }
    }
}

type Placed = Result<usize, Refusal>;

/// First node (from the pointer on) that takes the pod; the pointer skips nodes refused for
/// reasons that cannot change while this class is being placed.
fn first_fit(
    state: &mut State,
    c: usize,
    pod: usize,
    zone: Option<usize>,
    pointer: &mut usize,
) -> Option<usize> {
    let len = match zone {
        Some(z) => state.nodes_in_zone[z].len(),
        None => state.nodes.len(),
    };
    let mut prefix = true;
    let mut i = *pointer;
    while i < len {
        let n = match zone {
            Some(z) => state.nodes_in_zone[z][i],
            None => i,
        };
        match state.refusal(c, n) {
            None => {
                state.place(c, pod, n);
                return Some(n);
            }
            Some(
                Refusal::Incompatible
                | Refusal::NoRoom
                | Refusal::AntiAffinity
                | Refusal::ZoneAntiAffinity,
            ) if prefix => *pointer = i + 1,
            Some(_) => prefix = false,
        }
        i += 1;
    }
    None
}

/// Opens a node for the pod in the most cost-efficient zone that allows it.
fn open_anywhere(state: &mut State, env: &Envelopes, c: usize, pod: usize) -> Placed {
    let mut zones: Vec<usize> = state.class(c).zones.clone();
    zones.sort_by(|&a, &b| zone_score(env, c, a).total_cmp(&zone_score(env, c, b)));
    let mut last = Refusal::Incompatible;
    for z in zones {
        match open_in_zone(state, env, c, pod, z) {
            Ok(n) => return Ok(n),
            Err(refusal) => last = refusal,
        }
    }
    Err(last)
}

fn zone_score(env: &Envelopes, c: usize, z: usize) -> f64 {
    env.best_in_zone[c][z].map_or(f64::INFINITY, |o| env.score[o])
}

pub fn open_in_zone(state: &mut State, env: &Envelopes, c: usize, pod: usize, z: usize) -> Placed {
    let Some(offering) = env.best_in_zone[c][z] else {
        return Err(Refusal::Incompatible);
    };
    if let Some(refusal) = state.zone_refusal(c, z) {
        return Err(refusal);
    }
    // A new node is an empty domain for every hostname spread it is eligible for: only open it
    // where that cannot push another class's spread past its skew (the class's own spreads are
    // evened out after it is placed).
    let own = &state.class(c).host_rules;
    let breaks_a_spread = state.cx.host_rules.iter().enumerate().any(|(r, rule)| {
        rule.eligible.contains(offering) && !own.contains(&r) && state.host_max(r) > rule.max_skew
    });
    if breaks_a_spread {
        return Err(Refusal::HostSpread);
    }
    let n = state.open(offering);
    match state.node_refusal(c, n) {
        None => {
            state.place(c, pod, n);
            Ok(n)
        }
        Some(refusal) => {
            state.close_if_empty(n);
            Err(refusal)
        }
    }
}

/// Zone-bound classes: the allowed zone with the fewest pods of the class's spread group (so
/// spreads round-robin), ties to the cheapest; first-fit there, else a new node there.
fn place_in_best_zone(
    state: &mut State,
    env: &Envelopes,
    c: usize,
    pod: usize,
    pointer: &mut [usize],
) -> Placed {
    let class = state.class(c);
    let spread_group = class
        .zone_rules
        .first()
        .map(|&r| state.cx.zone_rules[r].group);
    let mut last = Refusal::Incompatible;
    let mut zones: Vec<usize> = Vec::with_capacity(class.zones.len());
    for &z in &class.zones {
        match state.zone_refusal(c, z) {
            None => zones.push(z),
            Some(refusal) => last = refusal,
        }
    }
    zones.sort_by(|&a, &b| {
        let count = |z: usize| spread_group.map_or(0, |g| state.zone_groups[z][g]);
        count(a)
            .cmp(&count(b))
            .then(zone_score(env, c, a).total_cmp(&zone_score(env, c, b)))
    });
    for z in zones {
        if let Some(n) = first_fit(state, c, pod, Some(z), &mut pointer[z]) {
            return Ok(n);
        }
        match open_in_zone(state, env, c, pod, z) {
            Ok(n) => return Ok(n),
            Err(refusal) => last = refusal,
        }
    }
    Err(last)
}

/// Hostname spread: always the eligible node with the fewest pods of the spread group that takes
/// the pod; a new node when none does; then even out what is still skewed.
fn water_fill(
    state: &mut State,
    env: &Envelopes,
    c: usize,
    already: &[bool],
    failures: &mut Vec<Failure>,
) {
    let class = state.class(c);
    let rule_index = class.host_rules[0];
    let group = state.cx.host_rules[rule_index].group;
    let mut heap: BinaryHeap<Reverse<(u32, usize)>> = state
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.alive && class.compat.contains(node.offering))
        .map(|(n, node)| Reverse((node.group_count(group), n)))
        .collect();
    let mut set_aside = Vec::new();
    for &pod in class.pods.iter().filter(|&&p| !already[p]) {
        let mut placed = None;
        while let Some(Reverse((_, n))) = heap.pop() {
            match state.refusal(c, n) {
                None => {
                    state.place(c, pod, n);
                    placed = Some(n);
                    break;
                }
                Some(Refusal::Incompatible | Refusal::NoRoom | Refusal::AntiAffinity) => {}
                Some(Refusal::HostSpread) => {
                    // The least-loaded node is at the skew limit: so is every other.
                    set_aside.push(n);
                    break;
                }
                Some(_) => set_aside.push(n),
            }
        }
        let placed = match placed {
            Some(n) => Ok(n),
            None => open_anywhere(state, env, c, pod),
        };
        for n in set_aside.drain(..) {
            heap.push(Reverse((state.nodes[n].group_count(group), n)));
        }
        match placed {
            Ok(n) => heap.push(Reverse((state.nodes[n].group_count(group), n))),
            Err(refusal) => failures.push(Failure {
                pod,
                reason: refusal_text(state, c, refusal),
            }),
        }
    }
    even_out(state, c, failures);
}

/// Moves pods of class `c` from the most to the least loaded eligible nodes until every hostname
/// rule the class counts for is within its skew; a pod that cannot be moved anywhere is taken off
/// and reported, so the result never breaks a spread.
fn even_out(state: &mut State, c: usize, failures: &mut Vec<Failure>) {
    let class = state.class(c);
    for &r in &class.host_rules {
        let rule = &state.cx.host_rules[r];
        let mut guard = 0usize;
        while state.host_max(r) > state.host_min(r) + rule.max_skew {
            guard += 1;
            if guard > class.pods.len() * 2 + 16 {
                break;
            }
            let max = state.host_max(r);
            let min = state.host_min(r);
            let eligible = |state: &State, n: usize| {
                state.nodes[n].alive && rule.eligible.contains(state.nodes[n].offering)
            };
            let Some(from) = (0..state.nodes.len()).find(|&n| {
                eligible(state, n)
                    && state.nodes[n].group_count(rule.group) == max
                    && state.nodes[n].classes.iter().any(|(k, _)| *k == c)
            }) else {
                break;
            };
            let Some(pod) = state.nodes[from]
                .pods
                .iter()
                .copied()
                .find(|p| class.pods.contains(p))
            else {
                break;
            };
            state.unplace(c, pod, from);
            let to = (0..state.nodes.len()).find(|&n| {
                n != from
                    && eligible(state, n)
                    && state.nodes[n].group_count(rule.group) == min
                    && state.refusal(c, n).is_none()
            });
            match to {
                Some(n) => state.place(c, pod, n),
                None => failures.push(Failure {
                    pod,
                    reason: refusal_text(state, c, Refusal::HostSpread),
                }),
            }
        }
    }
}

fn selector_text(cx: &Classes, group: usize) -> String {
    let selector = &cx.groups.selectors[group];
    if selector.is_empty() {
        return "{all pods}".into();
    }
    let pairs: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

pub fn refusal_text(state: &State, c: usize, refusal: Refusal) -> String {
    let cx = state.cx;
    let class = state.class(c);
    match refusal {
        Refusal::Incompatible | Refusal::NoRoom => {
            "no admitted offering could be opened for it".into()
        }
        Refusal::AntiAffinity => "hostname anti-affinity leaves no node for it".into(),
        Refusal::Affinity => {
            let g = class.affinity_host.first().copied().unwrap_or(0);
            if state.group_total.get(g).copied().unwrap_or(0) == 0 {
                format!(
                    "pod affinity (hostname) to {} matches no placed pod",
                    selector_text(cx, g)
                )
            } else {
                format!(
                    "pod affinity (hostname) to {}: the nodes with matching pods have no room for it",
                    selector_text(cx, g)
                )
            }
        }
        Refusal::HostSpread => {
            let rule = class.host_rules.first().map(|&r| &cx.host_rules[r]);
            match rule {
                Some(rule) => format!(
                    "hostname topology spread over {} (max skew {}) cannot be kept: the eligible nodes are full",
                    selector_text(cx, rule.group),
                    rule.max_skew
                ),
                None => "hostname topology spread cannot be kept".into(),
            }
        }
        Refusal::ZoneSpread => {
            let rule = class.zone_rules.first().map(|&r| &cx.zone_rules[r]);
            match rule {
                Some(rule) => format!(
                    "zone topology spread over {} (max skew {}) cannot be kept in the zones where it can run",
                    selector_text(cx, rule.group),
                    rule.max_skew
                ),
                None => "zone topology spread cannot be kept".into(),
            }
        }
        Refusal::ZoneAntiAffinity => {
            "zone anti-affinity: every zone where it can run already has a conflicting pod".into()
        }
        Refusal::ZoneAffinity => {
            let g = class.affinity_zone.first().copied().unwrap_or(0);
            format!(
                "pod affinity (zone) to {} matches no placed pod in a zone where it can run",
                selector_text(cx, g)
            )
        }
    }
}
