//! Using the slack shrinking leaves. Nodes held by constrained pods (anti-affinity, spreads) end up
//! small and partly empty; pods free of any constraint can move into that room at no cost, pods
//! with only zone-level terms can too within their zone, and the nodes they leave shrink or
//! disappear. Then the nodes holding only free pods are repacked from
//! scratch, kept only when that is cheaper and every hostname spread still holds.

use super::envelope::Envelopes;
use super::shrink::{PriceIndex, shrink_all, shrink_node};
use super::state::State;
use crate::lower_bound::ResourcePrices;

pub fn fill_slack(
    state: &mut State,
    index: &PriceIndex,
    prices: &ResourcePrices,
    free: &[bool],
    zone_movable: &[bool],
) {
    let value = |state: &State, n: usize, free_only: bool| -> f64 {
        state.nodes[n]
            .classes
            .iter()
            .filter(|(c, _)| !free_only || zone_movable[*c])
            .map(|(c, k)| prices.value(&state.cx.classes[*c].requests) * f64::from(*k))
            .sum()
    };
    let alive: Vec<usize> = (0..state.nodes.len())
        .filter(|&n| state.nodes[n].alive && !state.nodes[n].pods.is_empty())
        .collect();
    // Recipients: the most constrained nodes first. Donors: the least filled first.
    let mut share = vec![0.0f64; state.nodes.len()];
    let mut fill = vec![0.0f64; state.nodes.len()];
    for &n in &alive {
        let total = value(state, n, false);
        share[n] = if total > 0.0 {
            value(state, n, true) / total
        } else {
            1.0
        };
        let capacity = prices.value(state.allocatable(n));
        fill[n] = if capacity > 0.0 {
            total / capacity
        } else {
            1.0
        };
    }
    let mut order = alive.clone();
    order.sort_by(|&a, &b| {
        share[a]
            .total_cmp(&share[b])
            .then(fill[b].total_cmp(&fill[a]))
    });
    let mut rank = vec![usize::MAX; state.nodes.len()];
    for (i, &n) in order.iter().enumerate() {
        rank[n] = i;
    }
    let mut candidates: Vec<(usize, usize, usize)> = Vec::new(); // (pod, class, node)
    for &n in &alive {
        for &pod in &state.nodes[n].pods {
            let c = class_of(state, n, pod);
            if let Some(c) = c
                && zone_movable[c]
            {
                candidates.push((pod, c, n));
            }
        }
    }
    candidates.sort_by(|a, b| {
        fill[a.2].total_cmp(&fill[b.2]).then(
            prices
                .value(&state.cx.classes[b.1].requests)
                .total_cmp(&prices.value(&state.cx.classes[a.1].requests)),
        )
    });
    let (min_cpu, min_mem) = candidates.iter().fold((i64::MAX, i64::MAX), |(c, m), k| {
        let r = &state.cx.classes[k.1].requests;
        (c.min(r.cpu_m), m.min(r.memory_mib))
    });
    let mut touched = vec![false; state.nodes.len()];
    // Recipients come in rank order, so a candidate whose donor ranks no later than the current
    // recipient is out for good. While one recipient fills, a refusal of a zone-movable class
    // stands (its room only shrinks, and the pods moved in hold no hostname terms), so the
    // class's other candidates need no check, and once no candidate left could go to the
    // recipient (every class refused, or only pods tied to other zones) it is done.
    let zones = state.cx.zone_names.len();
    let mut live = vec![vec![0usize; zones]; state.cx.classes.len()];
    for &(_, c, donor) in &candidates {
        live[c][state.nodes[donor].zone] += 1;
    }
    let eligible = |live: &[Vec<usize>], c: usize, zone: usize| -> usize {
        if free[c] {
            live[c].iter().sum()
        } else {
            live[c][zone]
        }
    };
    let mut refused_by = vec![usize::MAX; state.cx.classes.len()];
    for &recipient in &order {
        if candidates.is_empty() {
            break;
        }
        let zone = state.nodes[recipient].zone;
        let mut open: usize = (0..live.len()).map(|c| eligible(&live, c, zone)).sum();
        let mut gone = false;
        for k in candidates.iter_mut() {
            if open == 0 {
                break;
            }
            let slack = state
                .allocatable(recipient)
                .minus(&state.nodes[recipient].used);
            if slack.cpu_m < min_cpu || slack.memory_mib < min_mem || slack.pods < 1 {
                break;
            }
            let (pod, c, donor) = *k;
            if donor == usize::MAX {
                continue;
            }
            let refused = refused_by[c] == recipient;
            let same_zone = free[c] || state.nodes[donor].zone == zone;
            if rank[donor] <= rank[recipient] {
                k.2 = usize::MAX;
                gone = true;
                live[c][state.nodes[donor].zone] -= 1;
                if !refused && same_zone {
                    open -= 1;
                }
                continue;
            }
            if refused || !same_zone {
                continue;
            }
            if state.node_refusal(c, recipient).is_some() {
                refused_by[c] = recipient;
                open -= eligible(&live, c, zone);
                continue;
            }
            live[c][state.nodes[donor].zone] -= 1;
            state.unplace(c, pod, donor);
            state.place(c, pod, recipient);
            touched[donor] = true;
            k.2 = usize::MAX;
            gone = true;
            open -= 1;
        }
        if gone {
            candidates.retain(|k| k.2 != usize::MAX);
        }
    }
    for (n, _) in touched.iter().enumerate().filter(|(_, t)| **t) {
        shrink_node(state, index, n);
    }
}

fn class_of(state: &State, n: usize, pod: usize) -> Option<usize> {
    state.nodes[n]
        .classes
        .iter()
        .map(|(c, _)| *c)
        .find(|&c| state.cx.classes[c].pods.binary_search(&pod).is_ok())
}

/// Repacks the nodes that hold only free pods (first-fit decreasing into existing slack, then new
/// cost-efficient nodes, then shrink), keeping the result only when it is cheaper and valid.
pub fn repack_free_nodes(
    state: &mut State,
    index: &PriceIndex,
    env: &Envelopes,
    prices: &ResourcePrices,
    free: &[bool],
) {
    let pure: Vec<usize> = (0..state.nodes.len())
        .filter(|&n| {
            let node = &state.nodes[n];
            node.alive && !node.pods.is_empty() && node.classes.iter().all(|(c, _)| free[*c])
        })
        .collect();
    if pure.len() < 2 {
        return;
    }
    let before = cost(state);
    let mut trial = state.clone();
    let mut pods: Vec<(usize, usize)> = Vec::new();
    for &n in &pure {
        let node_pods = trial.nodes[n].pods.clone();
        for pod in node_pods {
            if let Some(c) = class_of(&trial, n, pod) {
                trial.unplace(c, pod, n);
                pods.push((pod, c));
            }
        }
        trial.close_if_empty(n);
    }
    pods.sort_by(|a, b| {
        prices
            .value(&trial.cx.classes[b.1].requests)
            .total_cmp(&prices.value(&trial.cx.classes[a.1].requests))
            .then(a.0.cmp(&b.0))
    });
    let first_new = trial.nodes.len();
    let (min_cpu, min_mem) = pods
        .iter()
        .fold((i64::MAX, i64::MAX), |(cpu, mem), (_, c)| {
            let r = &trial.cx.classes[*c].requests;
            (cpu.min(r.cpu_m), mem.min(r.memory_mib))
        });
    // Nodes before the pointer cannot take even the smallest pod left.
    let mut pointer = first_new;
    for (pod, c) in pods {
        let mut placed = false;
        let mut i = pointer;
        let mut prefix = true;
        while i < trial.nodes.len() {
            if prefix {
                let slack = trial.allocatable(i).minus(&trial.nodes[i].used);
                if slack.cpu_m < min_cpu || slack.memory_mib < min_mem || slack.pods < 1 {
                    pointer = i + 1;
                    i += 1;
                    continue;
                }
                prefix = false;
            }
            if trial.node_refusal(c, i).is_none() {
                trial.place(c, pod, i);
                placed = true;
                break;
            }
            i += 1;
        }
        if !placed {
            let Some(o) = env.best[c] else { return };
            let n = trial.open(o);
            if trial.node_refusal(c, n).is_some() {
                return;
            }
            trial.place(c, pod, n);
        }
    }
    shrink_all(&mut trial, index);
    let spreads_hold = (0..trial.cx.host_rules.len())
        .all(|r| trial.host_max(r) <= trial.host_min(r) + trial.cx.host_rules[r].max_skew);
    if spreads_hold && cost(&trial) < before - 1e-9 {
        *state = trial;
    }
}

pub fn cost(state: &State) -> f64 {
    state
        .nodes
        .iter()
        .filter(|n| n.alive && !n.pods.is_empty())
        .map(|n| state.problem.offerings[n.offering].price_per_hour)
        .sum()
}
