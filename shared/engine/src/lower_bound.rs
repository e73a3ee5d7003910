//! The LP relaxation lower bound: no solution that places the same pods on nodes of the given
//! offerings (each node hosting at least one pod) can cost less.
//!
//! `min sum_o price_o x_o` subject to, for every resource r (cpu, memory, pod slots, GPUs),
//! `sum_o allocatable_{o,r} x_o >= demand_r`, plus the policy's on-demand share
//! (`sum_od x >= (1 - spot share) sum x`) and base (at least one on-demand node when the base is
//! positive), `x >= 0`. Every integer solution satisfies these, so the LP optimum is a bound. Its
//! dual prices say what a millicore, a MiB, a pod slot and a GPU are worth at the margin; the
//! packer uses them to rank offerings by cost-efficiency.

use crate::model::{CapacityType, Offering, Policy, Resources};
use crate::simplex;

/// The marginal value of one unit of each resource, USD/hour.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourcePrices {
    pub cpu_m: f64,
    pub memory_mib: f64,
    pub pods: f64,
    pub gpus: f64,
}

impl ResourcePrices {
    /// The value of an amount of resources at these prices.
    pub fn value(&self, r: &Resources) -> f64 {
        self.cpu_m * r.cpu_m as f64
            + self.memory_mib * r.memory_mib as f64
            + self.pods * r.pods as f64
            + self.gpus * r.gpus as f64
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LowerBound {
    pub per_hour: f64,
    pub prices: ResourcePrices,
    /// False when the LP could not be solved and the bound fell back to 0.
    pub exact: bool,
    /// The LP's node mix: (offering index, fractional count).
    pub mix: Vec<(usize, f64)>,
}

/// The bound for placing `demand` (pod slots included) on nodes of `usable` offerings.
pub fn lower_bound(
    offerings: &[Offering],
    usable: &[usize],
    demand: &Resources,
    policy: &Policy,
) -> LowerBound {
    if demand.pods <= 0 || usable.is_empty() {
        return LowerBound {
            per_hour: 0.0,
            prices: fallback_prices(offerings, usable),
            exact: demand.pods <= 0,
            mix: Vec::new(),
        };
    }
    let with_policy = solve(offerings, usable, demand, policy, true, true);
    let result = with_policy.or_else(|| solve(offerings, usable, demand, policy, false, true));
    match result {
        Some(bound) => bound,
        None => LowerBound {
            per_hour: 0.0,
            prices: fallback_prices(offerings, usable),
            exact: false,
            mix: Vec::new(),
        },
    }
}

/// Resource prices for ranking offerings: the LP's duals without the pod-slot row. With it, tiny
/// instances (many slots per dollar) look efficient although packing pods onto them wastes their
/// cpu and memory; without it, the prices reflect what pods really consume.
pub fn resource_prices(
    offerings: &[Offering],
    usable: &[usize],
    demand: &Resources,
    policy: &Policy,
) -> ResourcePrices {
    if demand.pods <= 0 || usable.is_empty() {
        return fallback_prices(offerings, usable);
    }
    solve(offerings, usable, demand, policy, true, false)
        .or_else(|| solve(offerings, usable, demand, policy, false, false))
        .map_or_else(|| fallback_prices(offerings, usable), |b| b.prices)
}

fn solve(
    offerings: &[Offering],
    usable: &[usize],
    demand: &Resources,
    policy: &Policy,
    with_policy: bool,
    slots: bool,
) -> Option<LowerBound> {
    let mut rhs = vec![
        demand.cpu_m as f64,
        demand.memory_mib as f64,
        if slots { demand.pods as f64 } else { 0.0 },
    ];
    let gpu_row = demand.gpus > 0;
    if gpu_row {
        rhs.push(demand.gpus as f64);
    }
    let base_row = with_policy && policy.on_demand_base > 0;
    if base_row {
        rhs.push(1.0);
    }
    let spot_share = f64::from(policy.spot_share_percent.min(100)) / 100.0;
    let share_row = with_policy && policy.spot_share_percent < 100;
    if share_row {
        rhs.push(0.0);
    }
    let mut columns = Vec::with_capacity(usable.len());
    let mut costs = Vec::with_capacity(usable.len());
    for &o in usable {
        let offering = &offerings[o];
        let a = &offering.allocatable;
        let mut column = vec![a.cpu_m as f64, a.memory_mib as f64, a.pods as f64];
        if gpu_row {
            column.push(a.gpus as f64);
        }
        let on_demand = offering.capacity_type == CapacityType::OnDemand;
        if base_row {
            column.push(if on_demand { 1.0 } else { 0.0 });
        }
        if share_row {
            column.push(if on_demand {
                spot_share
            } else {
                -(1.0 - spot_share)
            });
        }
        columns.push(column);
        costs.push(offering.price_per_hour);
    }
    let lp = simplex::minimize(&costs, &columns, &rhs)?;
    Some(LowerBound {
        // Shave a hair off for floating-point safety: a bound must never exceed the truth.
        per_hour: (lp.objective * (1.0 - 1e-9)).max(0.0),
        prices: ResourcePrices {
            cpu_m: lp.duals[0],
            memory_mib: lp.duals[1],
            pods: lp.duals[2],
            gpus: if gpu_row { lp.duals[3] } else { 0.0 },
        },
        exact: true,
        mix: lp.primal.iter().map(|&(j, x)| (usable[j], x)).collect(),
    })
}

/// Prices from the cheapest offering per unit when the LP is unavailable, so ranking still works.
fn fallback_prices(offerings: &[Offering], usable: &[usize]) -> ResourcePrices {
    let per = |f: &dyn Fn(&Resources) -> i64| -> f64 {
        usable
            .iter()
            .map(|&o| &offerings[o])
            .filter(|o| f(&o.allocatable) > 0)
            .map(|o| o.price_per_hour / f(&o.allocatable) as f64)
            .fold(f64::INFINITY, f64::min)
    };
    let finite = |x: f64| if x.is_finite() { x / 2.0 } else { 0.0 };
    ResourcePrices {
        cpu_m: finite(per(&|r| r.cpu_m)),
        memory_mib: finite(per(&|r| r.memory_mib)),
        pods: 0.0,
        gpus: finite(per(&|r| r.gpus)),
    }
}

/// The configuration-LP bound alone (see `config_lp`) for the pods `solution` places, with the
/// policy's rows when the solution reports no unmet policy: what the solver's reported bound takes
/// the maximum with. 0 when nothing is proven.
pub fn configuration_bound(
    problem: &crate::model::Problem,
    solution: &crate::model::Solution,
) -> f64 {
    let admission = crate::admission::admit(problem);
    let cx = crate::classes::build(problem, &admission.admitted);
    let mut unplaced = vec![false; problem.pods.len()];
    for u in &solution.unschedulable {
        if let Some(flag) = unplaced.get_mut(u.pod) {
            *flag = true;
        }
    }
    crate::config_lp::solve(
        problem,
        &cx,
        &|p| !unplaced[p],
        solution.notes.is_empty(),
        0.0,
        crate::config_lp::Purpose::Bound,
    )
    .map_or(0.0, |lp| lp.bound)
}
