//! After packing, every node becomes the cheapest offering that still holds its pods (same zone,
//! same capacity type, every pod still compatible). Nodes are opened large for packing room; this
//! is what turns the half-empty last node of each group into a small one, and a node whose
//! content is cpu-heavy into a compute-optimised type.

use super::state::State;
use crate::model::CapacityType;

/// Admitted offerings per (zone, capacity type), cheapest first.
#[derive(Debug, Clone)]
pub struct PriceIndex {
    lists: Vec<[Vec<usize>; 2]>,
}

fn slot(capacity: CapacityType) -> usize {
    match capacity {
        CapacityType::Spot => 0,
        CapacityType::OnDemand => 1,
    }
}

impl PriceIndex {
    pub fn new(state: &State, admitted: &[usize]) -> Self {
        let offerings = &state.problem.offerings;
        let mut lists = vec![[Vec::new(), Vec::new()]; state.cx.zone_names.len()];
        for &o in admitted {
            lists[state.cx.offering_zone[o]][slot(offerings[o].capacity_type)].push(o);
        }
        for pair in &mut lists {
            for list in pair.iter_mut() {
                list.sort_by(|&a, &b| {
                    offerings[a]
                        .price_per_hour
                        .total_cmp(&offerings[b].price_per_hour)
                        .then(a.cmp(&b))
                });
            }
        }
        PriceIndex { lists }
    }

    pub fn cheapest_first(&self, zone: usize, capacity: CapacityType) -> &[usize] {
        self.lists
            .get(zone)
            .map_or(&[][..], |pair| &pair[slot(capacity)][..])
    }
}

/// The cheapest offering of `capacity` that node `n` could be resized to.
pub fn cheapest_resize(
    state: &State,
    index: &PriceIndex,
    n: usize,
    capacity: CapacityType,
    exclude: impl Fn(usize) -> bool,
) -> Option<usize> {
    index
        .cheapest_first(state.nodes[n].zone, capacity)
        .iter()
        .copied()
        .find(|&o| !exclude(o) && state.can_resize_to(n, o))
}

pub fn shrink_node(state: &mut State, index: &PriceIndex, n: usize) {
    if !state.nodes[n].alive {
        return;
    }
    if state.nodes[n].pods.is_empty() {
        state.close_if_empty(n);
        return;
    }
    let current = state.nodes[n].offering;
    let capacity = state.problem.offerings[current].capacity_type;
    if let Some(o) = cheapest_resize(state, index, n, capacity, |_| false)
        && state.problem.offerings[o].price_per_hour
            < state.problem.offerings[current].price_per_hour
    {
        state.nodes[n].offering = o;
    }
}

pub fn shrink_all(state: &mut State, index: &PriceIndex) {
    for n in 0..state.nodes.len() {
        shrink_node(state, index, n);
    }
}
