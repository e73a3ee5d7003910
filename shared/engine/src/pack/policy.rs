//! Bringing a packed solution within the policy's node-level rules at the least extra cost:
//! the on-demand base and spot share (convert a spot node to on-demand, or carve a free pod onto
//! a new small on-demand node, whichever is cheaper) and spot pool diversification (re-pick a spot
//! node's type within its zone, or carve a free pod onto a new pool). What cannot be met is
//! written into the solution's notes, never silently dropped.

use std::collections::HashMap;

use super::shrink::{PriceIndex, cheapest_resize, shrink_node};
use super::state::State;
use crate::model::CapacityType;

struct Census {
    nodes: usize,
    on_demand: usize,
    spot: usize,
    pools: HashMap<(usize, usize), usize>,
}

impl Census {
    /// A spot node of `pool` became on-demand.
    fn convert(&mut self, pool: (usize, usize)) {
        self.on_demand += 1;
        self.spot -= 1;
        if let Some(k) = self.pools.get_mut(&pool) {
            *k -= 1;
            if *k == 0 {
                self.pools.remove(&pool);
            }
        }
    }
}

fn census(state: &State) -> Census {
    let mut c = Census {
        nodes: 0,
        on_demand: 0,
        spot: 0,
        pools: HashMap::new(),
    };
    for node in state.nodes.iter().filter(|n| n.alive && !n.pods.is_empty()) {
        c.nodes += 1;
        let offering = &state.problem.offerings[node.offering];
        match offering.capacity_type {
            CapacityType::OnDemand => c.on_demand += 1,
            CapacityType::Spot => {
                c.spot += 1;
                *c.pools.entry(pool_key(state, node.offering)).or_default() += 1;
            }
        }
    }
    c
}

/// (instance type name id, zone) of an offering: pools are compared by name, not offering index.
fn pool_key(state: &State, offering: usize) -> (usize, usize) {
    (
        state.cx.offering_type[offering],
        state.cx.offering_zone[offering],
    )
}

fn pools_short(state: &State, c: &Census) -> bool {
    let k = state.problem.policy.min_spot_pools as usize;
    k > 1 && c.spot >= k && c.pools.len() < k
}

pub fn enforce(state: &mut State, index: &PriceIndex, free: &[bool], notes: &mut Vec<String>) {
    for _ in 0..4 {
        fix_pools(state, index, free);
        fix_on_demand(state, index, free);
        let c = census(state);
        if !pools_short(state, &c)
            && c.on_demand >= state.problem.policy.required_on_demand(c.nodes)
        {
            return;
        }
    }
    let c = census(state);
    let need = state.problem.policy.required_on_demand(c.nodes);
    if c.on_demand < need {
        notes.push(format!(
            "policy needs at least {need} on-demand nodes of {} but only {} could be made on-demand (no compatible admitted on-demand offering)",
            c.nodes, c.on_demand
        ));
    }
    if pools_short(state, &c) {
        notes.push(format!(
            "policy asks spot nodes to span at least {} pools but only {} compatible admitted spot pools could be used",
            state.problem.policy.min_spot_pools,
            c.pools.len()
        ));
    }
}

/// The cheapest offering of `capacity` a single pod of free class `c` could open a node as,
/// excluding offerings `exclude` rejects, such that no hostname spread is broken by a new node.
fn carve_offering(
    state: &State,
    c: usize,
    capacity: CapacityType,
    exclude: impl Fn(usize) -> bool,
) -> Option<usize> {
    let class = &state.cx.classes[c];
    class
        .compat
        .iter()
        .filter(|&o| state.problem.offerings[o].capacity_type == capacity && !exclude(o))
        .filter(|&o| {
            state
                .cx
                .host_rules
                .iter()
                .enumerate()
                .all(|(r, rule)| !rule.eligible.contains(o) || state.host_max(r) <= rule.max_skew)
        })
        .min_by(|&a, &b| {
            state.problem.offerings[a]
                .price_per_hour
                .total_cmp(&state.problem.offerings[b].price_per_hour)
        })
}

/// A node holding a pod of free class `c` alongside other pods (so carving it leaves no hole).
fn carve_source(state: &State, c: usize) -> Option<(usize, usize)> {
    state.nodes.iter().enumerate().find_map(|(n, node)| {
        if !node.alive || node.pods.len() < 2 || !node.classes.iter().any(|(k, _)| *k == c) {
            return None;
        }
        let pods = &state.cx.classes[c].pods;
        node.pods
            .iter()
            .copied()
            .find(|p| pods.binary_search(p).is_ok())
            .map(|p| (n, p))
    })
}

fn carve(state: &mut State, index: &PriceIndex, c: usize, offering: usize) -> bool {
    let Some((source, pod)) = carve_source(state, c) else {
        return false;
    };
    state.unplace(c, pod, source);
    let n = state.open(offering);
    if state.node_refusal(c, n).is_some() {
        state.close_if_empty(n);
        state.place(c, pod, source);
        return false;
    }
    state.place(c, pod, n);
    shrink_node(state, index, source);
    true
}

fn fix_on_demand(state: &mut State, index: &PriceIndex, free: &[bool]) {
    // Conversion deltas do not change when other nodes convert: compute them once.
    let mut conversions: Vec<(f64, usize, usize)> = (0..state.nodes.len())
        .filter(|&n| {
            let node = &state.nodes[n];
            node.alive
                && !node.pods.is_empty()
                && state.problem.offerings[node.offering].capacity_type == CapacityType::Spot
        })
        .filter_map(|n| {
            let o = cheapest_resize(state, index, n, CapacityType::OnDemand, |_| false)?;
            let delta = state.problem.offerings[o].price_per_hour
                - state.problem.offerings[state.nodes[n].offering].price_per_hour;
            Some((delta, n, o))
        })
        .collect();
    conversions.sort_by(|a, b| b.0.total_cmp(&a.0)); // cheapest last, to pop
    let mut carves: Vec<(f64, usize, usize)> = (0..state.cx.classes.len())
        .filter(|&c| free[c])
        .filter_map(|c| {
            let o = carve_offering(state, c, CapacityType::OnDemand, |_| false)?;
            Some((state.problem.offerings[o].price_per_hour, c, o))
        })
        .collect();
    carves.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Kept up to date as nodes convert (one full count per loop would make this quadratic);
    // recounted after a carve, which can resize its source node into another pool.
    let mut c = census(state);
    loop {
        if c.on_demand >= state.problem.policy.required_on_demand(c.nodes) {
            return;
        }
        // Skip conversions that would empty a pool diversification needs.
        while let Some(&(_, n, _)) = conversions.last() {
            let key = pool_key(state, state.nodes[n].offering);
            let k = state.problem.policy.min_spot_pools as usize;
            let alive = state.nodes[n].alive
                && state.problem.offerings[state.nodes[n].offering].capacity_type
                    == CapacityType::Spot;
            if !alive || (c.pools.get(&key) == Some(&1) && c.pools.len() <= k && c.spot > k) {
                conversions.pop();
            } else {
                break;
            }
        }
        let convert = conversions.last().copied();
        let carve_option = carves
            .iter()
            .copied()
            .find(|(_, class, _)| carve_source(state, *class).is_some());
        match (convert, carve_option) {
            (Some((delta, n, o)), carve) if carve.is_none_or(|(price, _, _)| delta <= price) => {
                conversions.pop();
                if state.can_resize_to(n, o) {
                    c.convert(pool_key(state, state.nodes[n].offering));
                    state.nodes[n].offering = o;
                }
            }
            (_, Some((_, class, o))) => {
                if !carve(state, index, class, o) {
                    carves.retain(|k| k.1 != class);
                }
                c = census(state);
            }
            _ => return,
        }
    }
}

fn fix_pools(state: &mut State, index: &PriceIndex, free: &[bool]) {
    for _ in 0..state.problem.policy.min_spot_pools.min(64) {
        let c = census(state);
        if !pools_short(state, &c) {
            return;
        }
        let used = |o: usize| c.pools.contains_key(&pool_key(state, o));
        // Re-pick a spot node of a pool with more than one node.
        let repick = (0..state.nodes.len())
            .filter(|&n| {
                let node = &state.nodes[n];
                node.alive
                    && !node.pods.is_empty()
                    && state.problem.offerings[node.offering].capacity_type == CapacityType::Spot
                    && c.pools
                        .get(&pool_key(state, node.offering))
                        .is_some_and(|&k| k > 1)
            })
            .filter_map(|n| {
                let o = cheapest_resize(state, index, n, CapacityType::Spot, used)?;
                let delta = state.problem.offerings[o].price_per_hour
                    - state.problem.offerings[state.nodes[n].offering].price_per_hour;
                Some((delta, n, o))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let carve_option = (0..state.cx.classes.len())
            .filter(|&k| free[k] && carve_source(state, k).is_some())
            .filter_map(|k| {
                let o = carve_offering(state, k, CapacityType::Spot, used)?;
                Some((state.problem.offerings[o].price_per_hour, k, o))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match (repick, carve_option) {
            (Some((delta, n, o)), carve) if carve.is_none_or(|(price, _, _)| delta <= price) => {
                state.nodes[n].offering = o;
            }
            (_, Some((_, k, o))) => {
                if !carve(state, index, k, o) {
                    return;
                }
            }
            _ => return,
        }
    }
}
