//! The packing pipeline shared by the strategies: admit offerings, form classes, price resources
//! with the LP, place classes, shrink nodes, use slack, enforce the policy, report.

mod bound;
pub mod envelope;
mod place;
mod policy;
pub mod shrink;
mod slack;
pub mod state;

use crate::admission::admit;
use crate::bitset::BitSet;
use crate::classes::{self, Classes};
use crate::explain::no_offering_reason;
use crate::lower_bound::resource_prices;
use crate::model::{CapacityType, Node, Problem, Resources, Solution, Unschedulable};

pub use envelope::EnvelopeChoice;

/// The knobs that distinguish strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackOptions {
    pub envelope: EnvelopeChoice,
    /// Resize every node to the cheapest offering that holds its pods.
    pub shrink: bool,
    /// Move free pods into slack and repack nodes of free pods.
    pub use_slack: bool,
}

pub fn pack(problem: &Problem, options: PackOptions, strategy: &str) -> Solution {
    let admission = admit(problem);
    let cx = classes::build(problem, &admission.admitted);
    let mut unschedulable: Vec<Unschedulable> = cx
        .invalid
        .iter()
        .map(|r| unschedulable_of(problem, r.pod, r.reason.clone()))
        .collect();
    for class in cx.classes.iter().filter(|c| c.compat.is_empty()) {
        let reason = no_offering_reason(problem, &admission, &problem.pods[class.pods[0]]);
        for &pod in &class.pods {
            unschedulable.push(unschedulable_of(problem, pod, reason.clone()));
        }
    }

    let (usable, demand) = usable_and_demand(problem, &cx, |_| true);
    let prices = resource_prices(&problem.offerings, &usable, &demand, &problem.policy);
    let env = envelope::choose(problem, &cx, &prices, options.envelope);

    let mut state = state::State::new(problem, &cx);
    let mut failures = Vec::new();
    let (zone_group_of, zone_groups) = place::zone_groups(&cx);
    let mut group_done = vec![false; zone_groups.len()];
    for c in place::class_order(&cx, &prices) {
        match zone_group_of[c] {
            Some(g) if options.shrink => {
                if !group_done[g] {
                    group_done[g] = true;
                    place::place_zone_group(
                        &mut state,
                        &env,
                        &prices,
                        &zone_groups[g],
                        &mut failures,
                    );
                }
            }
            _ => place::place_class(&mut state, &env, c, &mut failures),
        }
    }
    let index = shrink::PriceIndex::new(&state, &admission.admitted);
    let free: Vec<bool> = cx.classes.iter().map(|c| c.is_free(&cx.groups)).collect();
    if options.shrink {
        shrink::shrink_all(&mut state, &index);
    }
    if options.use_slack {
        let zone_movable: Vec<bool> = cx
            .classes
            .iter()
            .map(|c| c.is_zone_movable(&cx.groups))
            .collect();
        slack::fill_slack(&mut state, &index, &prices, &free, &zone_movable);
        slack::repack_free_nodes(&mut state, &index, &env, &prices, &free);
    }
    let mut notes = Vec::new();
    policy::enforce(&mut state, &index, &free, &mut notes);

    for failure in failures {
        unschedulable.push(unschedulable_of(problem, failure.pod, failure.reason));
    }
    unschedulable.sort_by_key(|u| u.pod);

    // The bound covers exactly the pods placed (an unplaced pod costs nothing).
    let mut unplaced = vec![false; problem.pods.len()];
    for u in &unschedulable {
        unplaced[u.pod] = true;
    }
    let lower = bound::bound(problem, &cx, &|p| !unplaced[p], notes.is_empty());
    finish(problem, &state, unschedulable, lower, notes, strategy)
}

fn unschedulable_of(problem: &Problem, pod: usize, reason: String) -> Unschedulable {
    Unschedulable {
        pod,
        id: problem.pods[pod].id.clone(),
        reason,
    }
}

/// The offerings some placeable pod can use, and the total demand of the pods `counted` keeps.
fn usable_and_demand(
    problem: &Problem,
    cx: &Classes,
    counted: impl Fn(usize) -> bool,
) -> (Vec<usize>, Resources) {
    let mut usable = BitSet::new(problem.offerings.len());
    let mut demand = Resources::default();
    for class in cx.classes.iter().filter(|c| !c.compat.is_empty()) {
        let count = class.pods.iter().filter(|&&p| counted(p)).count() as i64;
        if count == 0 {
            continue;
        }
        for o in class.compat.iter() {
            usable.insert(o);
        }
        let r = &class.requests;
        demand = demand.plus(&Resources::new(
            r.cpu_m * count,
            r.memory_mib * count,
            count,
            r.gpus * count,
        ));
    }
    (usable.iter().collect(), demand)
}

fn finish(
    problem: &Problem,
    state: &state::State,
    unschedulable: Vec<Unschedulable>,
    lower_bound_per_hour: f64,
    notes: Vec<String>,
    strategy: &str,
) -> Solution {
    let mut nodes = Vec::new();
    for node in state.nodes.iter().filter(|n| n.alive && !n.pods.is_empty()) {
        let offering = &problem.offerings[node.offering];
        let mut pods = node.pods.clone();
        pods.sort_unstable();
        nodes.push(Node {
            name: format!("node-{:05}", nodes.len() + 1),
            offering: node.offering,
            instance_type: offering.instance_type.clone(),
            zone: offering.zone.clone(),
            capacity_type: offering.capacity_type,
            price_per_hour: offering.price_per_hour,
            pods,
        });
    }
    let cost_per_hour: f64 = nodes.iter().map(|n| n.price_per_hour).sum();
    let on_demand_cost_per_hour = nodes
        .iter()
        .map(|n| {
            let o = &problem.offerings[n.offering];
            if o.capacity_type == CapacityType::OnDemand {
                o.price_per_hour
            } else {
                o.on_demand_price_per_hour
            }
        })
        .sum();
    let gap_percent = if lower_bound_per_hour > 0.0 {
        (cost_per_hour - lower_bound_per_hour) / lower_bound_per_hour * 100.0
    } else {
        0.0
    };
    Solution {
        strategy: strategy.to_owned(),
        nodes,
        unschedulable,
        cost_per_hour,
        on_demand_cost_per_hour,
        lower_bound_per_hour,
        gap_percent,
        notes,
    }
}
