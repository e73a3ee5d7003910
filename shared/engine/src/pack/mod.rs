//! The packing pipeline shared by the strategies: admit offerings, form classes, price resources
//! with the LP, place classes, shrink nodes, use slack, enforce the policy, report.

mod bound;
pub mod envelope;
mod guided;
mod place;
mod policy;
pub mod shrink;
mod slack;
pub mod state;

use crate::admission::{Admission, admit};
use crate::bitset::BitSet;
use crate::classes::{self, Classes};
use crate::config_lp::{self, ConfigLp};
use crate::explain::no_offering_reason;
use crate::lower_bound::{ResourcePrices, resource_prices};
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
    let prep = prepare(problem);
    let packed = run(problem, &prep, options, None);
    let lower = prep.bound_for(problem, &packed, None);
    packed.into_solution(problem, lower, strategy)
}

/// What every packing pass of one solve shares: admission, classes, the pods no offering can
/// take, and the LP's resource prices. Computed once per solve.
pub struct Prepared {
    pub admission: Admission,
    pub cx: Classes,
    /// Pods rejected before packing (invalid input, no compatible admitted offering).
    rejected: Vec<Unschedulable>,
    prices: ResourcePrices,
}

pub fn prepare(problem: &Problem) -> Prepared {
    let admission = admit(problem);
    let cx = classes::build(problem, &admission.admitted);
    let mut rejected: Vec<Unschedulable> = cx
        .invalid
        .iter()
        .map(|r| unschedulable_of(problem, r.pod, r.reason.clone()))
        .collect();
    for class in cx.classes.iter().filter(|c| c.compat.is_empty()) {
        let reason = no_offering_reason(problem, &admission, &problem.pods[class.pods[0]]);
        for &pod in &class.pods {
            rejected.push(unschedulable_of(problem, pod, reason.clone()));
        }
    }
    let (usable, demand) = usable_and_demand(problem, &cx, |_| true);
    let prices = resource_prices(&problem.offerings, &usable, &demand, &problem.policy);
    Prepared {
        admission,
        cx,
        rejected,
        prices,
    }
}

/// The bounds of the pods a solve can place at all (every pod not rejected before packing), with
/// the policy's rows: what a packing that places all of them and meets the policy is compared
/// with. The configuration LP is solved fully (no early stop) so its configurations can guide a
/// packer, and only when the covering bound does not make it pointless.
pub struct SolveBounds {
    pub covering: bound::Covering,
    pub config: Option<ConfigLp>,
}

impl SolveBounds {
    pub fn value(&self) -> f64 {
        let config = self.config.as_ref().map_or(0.0, |lp| lp.bound);
        self.covering.value.max(config)
    }
}

impl Prepared {
    fn placeable(&self, problem: &Problem) -> Vec<bool> {
        let mut placeable = vec![true; problem.pods.len()];
        for u in &self.rejected {
            placeable[u.pod] = false;
        }
        placeable
    }

    pub fn solve_bounds(&self, problem: &Problem) -> SolveBounds {
        let placeable = self.placeable(problem);
        let counted = |p: usize| placeable[p];
        let covering = bound::covering(problem, &self.cx, &counted, true);
        // Stops (None) as soon as the master shows it cannot beat the covering bound.
        let config = if covering.config_may_help() {
            config_lp::solve(
                problem,
                &self.cx,
                &counted,
                true,
                covering.value,
                config_lp::Purpose::Bound,
            )
        } else {
            None
        };
        SolveBounds { covering, config }
    }

    /// The lower bound for exactly the pods `packed` places (an unplaced pod costs nothing), reusing
    /// `known` when it was computed for the same pods and policy rows.
    pub fn bound_for(
        &self,
        problem: &Problem,
        packed: &Packed,
        known: Option<&SolveBounds>,
    ) -> f64 {
        let policy_met = packed.notes.is_empty();
        let same_pods = packed.unschedulable.len() == self.rejected.len();
        if let Some(known) = known
            && policy_met
            && same_pods
        {
            return known.value();
        }
        let mut unplaced = vec![false; problem.pods.len()];
        for u in &packed.unschedulable {
            unplaced[u.pod] = true;
        }
        bound::bound(problem, &self.cx, &|p| !unplaced[p], policy_met)
    }
}

/// A packing before its bound is known.
pub struct Packed {
    /// (offering, pods) per node with pods.
    nodes: Vec<(usize, Vec<usize>)>,
    unschedulable: Vec<Unschedulable>,
    notes: Vec<String>,
    pub cost: f64,
}

impl Packed {
    /// Ranking between packings of the same problem: fewer unplaced pods, fewer policy notes,
    /// then cheaper.
    pub fn better_than(&self, other: &Packed) -> bool {
        let key = |p: &Packed| (p.unschedulable.len(), p.notes.len());
        key(self) < key(other) || (key(self) == key(other) && self.cost < other.cost)
    }

    pub fn into_solution(self, problem: &Problem, lower: f64, strategy: &str) -> Solution {
        finish(problem, self, lower, strategy)
    }
}

/// One packing pass. With `guide`, nodes the configuration LP's solution rounds down to are
/// opened first and filled with its pod counts (see [`guided`]); the packer places the rest.
pub fn run(
    problem: &Problem,
    prep: &Prepared,
    options: PackOptions,
    guide: Option<&ConfigLp>,
) -> Packed {
    let cx = &prep.cx;
    let prices = &prep.prices;
    let env = envelope::choose(problem, cx, prices, options.envelope);

    let mut state = state::State::new(problem, cx);
    let index = shrink::PriceIndex::new(&state, &prep.admission.admitted);
    let mut failures = Vec::new();
    let (zone_group_of, zone_groups) = place::zone_groups(cx);
    let spreads = match guide {
        Some(_) => guided::simple_spreads(cx),
        None => Vec::new(),
    };
    let placed = match guide {
        Some(lp) => guided::seed_all(&mut state, lp, &index, &spreads),
        None => vec![false; problem.pods.len()],
    };
    let mut group_done = vec![false; zone_groups.len()];
    for c in place::class_order(cx, prices) {
        match zone_group_of[c] {
            Some(g) if options.shrink => {
                if !group_done[g] {
                    group_done[g] = true;
                    place::place_zone_group(
                        &mut state,
                        &env,
                        prices,
                        &zone_groups[g],
                        &placed,
                        &mut failures,
                    );
                }
            }
            _ => place::place_class(&mut state, &env, c, &placed, &mut failures),
        }
    }
    if guide.is_some() {
        guided::balance_zones(&mut state, &env, &spreads);
    }
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
        slack::fill_slack(&mut state, &index, prices, &free, &zone_movable);
        slack::repack_free_nodes(&mut state, &index, &env, prices, &free);
    }
    let mut notes = Vec::new();
    policy::enforce(&mut state, &index, &free, &mut notes);

    let mut unschedulable = prep.rejected.clone();
    for failure in failures {
        unschedulable.push(unschedulable_of(problem, failure.pod, failure.reason));
    }
    unschedulable.sort_by_key(|u| u.pod);
    let nodes: Vec<(usize, Vec<usize>)> = state
        .nodes
        .iter()
        .filter(|n| n.alive && !n.pods.is_empty())
        .map(|n| {
            let mut pods = n.pods.clone();
            pods.sort_unstable();
            (n.offering, pods)
        })
        .collect();
    let cost = nodes
        .iter()
        .map(|(o, _)| problem.offerings[*o].price_per_hour)
        .sum();
    Packed {
        nodes,
        unschedulable,
        notes,
        cost,
    }
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
        demand = demand.plus(&r.for_pods(count));
    }
    (usable.iter().collect(), demand)
}

fn finish(
    problem: &Problem,
    packed: Packed,
    lower_bound_per_hour: f64,
    strategy: &str,
) -> Solution {
    let Packed {
        nodes: packed_nodes,
        unschedulable,
        notes,
        ..
    } = packed;
    let mut nodes = Vec::new();
    for (offering_index, pods) in packed_nodes {
        let offering = &problem.offerings[offering_index];
        nodes.push(Node {
            name: format!("node-{:05}", nodes.len() + 1),
            offering: offering_index,
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
        unmet_preferences: Vec::new(),
    }
}
