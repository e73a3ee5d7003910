//! The configuration LP (Gilmore-Gomory) lower bound, by column generation.
//!
//! Pods are grouped into items (identical requests and identical compatible offerings). A
//! configuration is an offering together with how many pods of each item one node of it holds
//! (they must fit together in cpu, memory, pod slots and GPUs). The LP
//!
//! `min sum_c price_c x_c  s.t.  sum_c a_{k,c} x_c >= n_k (every item k),  policy rows,  x >= 0`
//!
//! is solved over a growing set of configurations (the restricted master). Its duals `y` are then
//! turned into a bound that is valid whatever the master reached (Farley's bound): for every
//! offering an upper bound `U_o >= max_a y.a` over every configuration of the offering is proven
//! (by branch and bound over the items few of which fit, each leaf bounded by the LP relaxation
//! of the small items on the room it leaves; by the knapsack's LP relaxation alone when that
//! search runs out of budget), `theta = max_o (U_o + policy part) / price_o`, and then `y/theta` is dual feasible for the full
//! configuration LP, so `y.b / theta` bounds every integer solution from below. No step needs the
//! master to be solved exactly, only `y >= 0` and the upper bounds to be true.
//!
//! Column generation stops when no configuration found gains more than [`ENTERING_GAIN`] of its
//! price; before stopping, pricing searches the most promising shapes again with a larger budget,
//! since a configuration the quick search misses is exactly what keeps the proven bound below
//! the master.
//!
//! The master's configurations with positive value are returned too, for packers to follow.

// Dense numerical kernels read best with explicit indices.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod master;
mod pricing;

use std::collections::HashMap;

use crate::classes::Classes;
use crate::model::{CapacityType, Problem, Resources};
use master::Master;
use pricing::{fit_count, knapsack_lp, prove};

/// Column-generation rounds at most (deterministic work cap; the engine reads no clock).
const MAX_ROUNDS: usize = 40;
/// Configurations added per round at most.
const COLUMNS_PER_ROUND: usize = 24;
/// Simplex pivots per master solve at most.
const MAX_PIVOTS: usize = 4_000;
/// Branch-and-bound nodes per offering shape in the final proof.
const PROOF_BUDGET: usize = 20_000;
/// Branch-and-bound nodes per shape when pricing.
const PRICING_BUDGET: usize = 300;
/// Shapes searched per pricing round at most.
const PRICED_SHAPES: usize = 48;
/// When the quick search finds nothing, the shapes searched again, and the branch-and-bound
/// nodes each (the leaves' rounding finds what the quick search misses well within this; a
/// search that cannot finish gains nothing from more).
const DEEP_SHAPES: usize = 8;
const DEEP_BUDGET: usize = 2_000;
/// At most this many items (more: no configuration bound).
const MAX_ITEMS: usize = 96;
/// A configuration enters the master only when its reduced cost is below this share of its
/// price: the last rounds of column generation move the master by hundredths of a percent, and
/// the proven bound ends within about this share of the master anyway.
const ENTERING_GAIN: f64 = 2e-3;
/// A guide's master needs less: rounding it loses more than these last rounds would gain, and a
/// warm start (see [`Purpose::Guide`]) has most of the columns already.
const GUIDE_ROUNDS: usize = 8;
const GUIDE_ENTERING_GAIN: f64 = 5e-3;

/// What a solve is for.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// A proven bound: when the quick pricing finds nothing, a deeper search (see [`DEEP_BUDGET`])
    /// looks again before column generation stops, and Farley's bound is proven at the end.
    Bound,
    /// Only the master's configurations, for a packer to follow: quick pricing, no proof
    /// (`bound` is 0). `warm`: an earlier solve over more of the same pods, whose
    /// configurations (capped at the counts left) start the master, so column generation
    /// needs few rounds.
    Guide { warm: Option<&'a ConfigLp> },
}

/// A group of interchangeable pods.
#[derive(Debug, Clone)]
pub struct Item {
    pub requests: Resources,
    /// Class indices (into `Classes::classes`) whose counted pods form this item.
    pub classes: Vec<usize>,
    pub count: i64,
}

/// A configuration of the master with its LP value (the LP-guided packer, `pack::guided`, opens
/// nodes from these).
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Config {
    pub offering: usize,
    /// (item, pods of it on one node).
    pub counts: Vec<(usize, i64)>,
    pub x: f64,
}

#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct ConfigLp {
    /// A proven lower bound on the cost of placing the counted pods (0 when nothing is proven).
    pub bound: f64,
    /// The master's objective (not a bound: an estimate of the configuration LP's optimum).
    pub master: f64,
    pub items: Vec<Item>,
    pub configs: Vec<Config>,
}

/// An offering shape: what the LP sees of an offering (cheapest price kept).
#[derive(Debug, Clone)]
struct Shape {
    offering: usize,
    price: f64,
    alloc: Resources,
    on_demand: bool,
    /// Items that may run on it.
    items: Vec<usize>,
}

/// Solves the configuration LP for the pods `counted` keeps. `policy_met` false drops the policy's
/// rows (as for the covering bound). Gives up (None) as soon as the master's objective, which
/// is at least the configuration LP's optimum and so at least its bound, drops to `floor` (a bound
/// already known): the result could not improve on it.
pub fn solve(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
    policy_met: bool,
    floor: f64,
    purpose: Purpose<'_>,
) -> Option<ConfigLp> {
    // Items.
    let mut items: Vec<Item> = Vec::new();
    let mut compat_of_item: Vec<usize> = Vec::new(); // a representative class for compat
    for (c, class) in cx.classes.iter().enumerate() {
        let count = class.pods.iter().filter(|&&p| counted(p)).count() as i64;
        if count == 0 || class.compat.is_empty() {
            continue;
        }
        let same = (0..items.len()).find(|&i| {
            items[i].requests == class.requests
                && cx.classes[compat_of_item[i]].compat == class.compat
        });
        match same {
            Some(i) => {
                items[i].classes.push(c);
                items[i].count += count;
            }
            None => {
                items.push(Item {
                    requests: class.requests,
                    classes: vec![c],
                    count,
                });
                compat_of_item.push(c);
            }
        }
    }
    if items.is_empty() {
        return Some(ConfigLp {
            bound: 0.0,
            master: 0.0,
            items,
            configs: Vec::new(),
        });
    }
    if items.len() > MAX_ITEMS {
        return None;
    }

    // Shapes: offerings by (allocatable, capacity type, compatible items), cheapest kept.
    let mut profiles: Vec<Vec<usize>> = Vec::new();
    let mut profile_index: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut shape_index: HashMap<(Resources, bool, usize), usize> = HashMap::new();
    let mut shapes: Vec<Shape> = Vec::new();
    let mut shape_of: Vec<Option<usize>> = vec![None; problem.offerings.len()];
    for (o, offering) in problem.offerings.iter().enumerate() {
        let on: Vec<usize> = (0..items.len())
            .filter(|&i| cx.classes[compat_of_item[i]].compat.contains(o))
            .collect();
        if on.is_empty() {
            continue;
        }
        let price = offering.price_per_hour;
        if !price.is_finite() || price <= 0.0 {
            return None; // a free node would make every ratio infinite: no bound from here
        }
        let next = profiles.len();
        let profile = *profile_index.entry(on.clone()).or_insert(next);
        if profile == next {
            profiles.push(on.clone());
        }
        let on_demand = offering.capacity_type == CapacityType::OnDemand;
        let key = (offering.allocatable, on_demand, profile);
        match shape_index.get(&key) {
            Some(&s) => {
                shape_of[o] = Some(s);
                if price < shapes[s].price {
                    shapes[s].price = price;
                    shapes[s].offering = o;
                }
            }
            None => {
                shape_of[o] = Some(shapes.len());
                shape_index.insert(key, shapes.len());
                shapes.push(Shape {
                    offering: o,
                    price,
                    alloc: offering.allocatable,
                    on_demand,
                    items: on,
                });
            }
        }
    }

    // Rows: one per item, then the policy's base and share.
    let k = items.len();
    let policy = &problem.policy;
    let base_row = policy_met && policy.on_demand_base > 0;
    let share_row = policy_met && policy.spot_share_percent < 100;
    let share = f64::from(policy.spot_share_percent.min(100)) / 100.0;
    let mut rhs: Vec<f64> = items.iter().map(|it| it.count as f64).collect();
    if base_row {
        rhs.push(1.0);
    }
    if share_row {
        rhs.push(0.0);
    }
    let m = rhs.len();
    let policy_part = |on_demand: bool| -> Vec<f64> {
        let mut v = Vec::new();
        if base_row {
            v.push(if on_demand { 1.0 } else { 0.0 });
        }
        if share_row {
            v.push(if on_demand { share } else { -(1.0 - share) });
        }
        v
    };
    let policy_value_of = |on_demand: bool, y: &[f64]| -> f64 {
        policy_part(on_demand)
            .iter()
            .zip(&y[k..])
            .map(|(a, b)| a * b)
            .sum()
    };
    let column_of = |s: &Shape, counts: &[(usize, i64)]| -> Vec<f64> {
        let mut col = vec![0.0; m];
        for &(i, a) in counts {
            col[i] = a as f64;
        }
        for (r, v) in policy_part(s.on_demand).into_iter().enumerate() {
            col[k + r] = v;
        }
        col
    };

    let max_price = shapes.iter().map(|s| s.price).fold(0.0, f64::max);
    let mut master = Master::new(&rhs, 10.0 * max_price + 1.0);
    let mut configs: Vec<(usize, Vec<(usize, i64)>)> = Vec::new();
    let mut seen: HashMap<(usize, Vec<(usize, i64)>), ()> = HashMap::new();
    let mut add = |master: &mut Master, s: usize, counts: Vec<(usize, i64)>| {
        if counts.is_empty() || seen.contains_key(&(s, counts.clone())) {
            return false;
        }
        seen.insert((s, counts.clone()), ());
        master.add(column_of(&shapes[s], &counts), shapes[s].price);
        configs.push((s, counts));
        true
    };
    // Start: for every item, its cheapest single-item configuration, spot and on-demand.
    for (i, item) in items.iter().enumerate() {
        for want_od in [false, true] {
            let best = shapes
                .iter()
                .enumerate()
                .filter(|(_, s)| s.on_demand == want_od && s.items.contains(&i))
                .filter_map(|(si, s)| {
                    let fit = fit_count(&s.alloc, &item.requests).min(item.count);
                    (fit > 0).then(|| (s.price / fit as f64, si, fit))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, si, fit)) = best {
                add(&mut master, si, vec![(i, fit)]);
            }
        }
    }
    if let Purpose::Guide { warm: Some(prior) } = purpose {
        let mut item_of_class: Vec<Option<usize>> = vec![None; cx.classes.len()];
        for (i, item) in items.iter().enumerate() {
            for &c in &item.classes {
                item_of_class[c] = Some(i);
            }
        }
        for config in &prior.configs {
            let Some(si) = shape_of.get(config.offering).copied().flatten() else {
                continue;
            };
            let mut counts: Vec<(usize, i64)> = config
                .counts
                .iter()
                .filter_map(|&(i, a)| {
                    let j = prior.items[i]
                        .classes
                        .iter()
                        .find_map(|&c| item_of_class[c])?;
                    Some((j, a.min(items[j].count)))
                })
                .collect();
            counts.sort_unstable();
            add(&mut master, si, counts);
        }
    }

    let mut y = vec![0.0; m];
    let (rounds, entering_gain) = match purpose {
        Purpose::Bound => (MAX_ROUNDS, ENTERING_GAIN),
        Purpose::Guide { .. } => (GUIDE_ROUNDS, GUIDE_ENTERING_GAIN),
    };
    for _ in 0..rounds {
        if !master.optimize(MAX_PIVOTS) {
            break;
        }
        if master.artificial_value() <= 1e-7 && master.objective() <= floor {
            return None;
        }
        y = master.duals();
        // Pricing: the shapes whose LP relaxation promises the most are searched for a
        // configuration; the most negative reduced costs enter.
        let ratios = root_ratios(&shapes, &items, &y, &policy_value_of);
        let mut candidates: Vec<(f64, usize, Vec<(usize, i64)>)> = Vec::new();
        let searches = match purpose {
            Purpose::Bound => &[(PRICING_BUDGET, PRICED_SHAPES), (DEEP_BUDGET, DEEP_SHAPES)][..],
            Purpose::Guide { .. } => &[(PRICING_BUDGET, PRICED_SHAPES)][..],
        };
        for &(budget, shapes_searched) in searches {
            for &(ratio, si) in ratios.iter().take(shapes_searched) {
                if ratio <= 1.0 + 1e-9 {
                    break;
                }
                let s = &shapes[si];
                let (_, value, counts) = prove(s, &items, &y, budget);
                let reduced = s.price - value - policy_value_of(s.on_demand, &y);
                if reduced < -entering_gain * s.price && !counts.is_empty() {
                    candidates.push((reduced / s.price, si, counts));
                }
            }
            if !candidates.is_empty() {
                break;
            }
        }
        if candidates.is_empty() {
            break;
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut added = 0;
        for (_, si, counts) in candidates {
            if add(&mut master, si, counts) {
                added += 1;
                if added >= COLUMNS_PER_ROUND {
                    break;
                }
            }
        }
        if added == 0 {
            break;
        }
    }
    master.optimize(MAX_PIVOTS);
    let master_value = master.objective();
    let artificial_left = master.artificial_value() > 1e-7;
    if !artificial_left {
        y = master.duals();
    }
    let y: Vec<f64> = y
        .iter()
        .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
        .collect();

    // Farley's bound.
    // Shapes in decreasing order of their relaxation's ratio: once that is below the ratio
    // already proven, no later shape can raise it (the proof never exceeds the relaxation).
    let mut theta: f64 = 0.0;
    let to_prove = match purpose {
        Purpose::Bound => root_ratios(&shapes, &items, &y, &policy_value_of),
        Purpose::Guide { .. } => Vec::new(),
    };
    for (ratio, si) in to_prove {
        if ratio <= theta {
            break;
        }
        let s = &shapes[si];
        let (upper, _, _) = prove(s, &items, &y, PROOF_BUDGET);
        theta = theta.max((upper + policy_value_of(s.on_demand, &y)) / s.price);
    }
    let yb: f64 = y.iter().zip(&rhs).map(|(a, b)| a * b).sum();
    let bound = if theta > 0.0 && theta.is_finite() && yb.is_finite() {
        (yb / theta * (1.0 - 1e-7)).max(0.0)
    } else {
        0.0
    };

    let x = master.primal();
    let configs = configs
        .into_iter()
        .enumerate()
        .filter_map(|(j, (s, counts))| {
            let v = x.get(j).copied().unwrap_or(0.0);
            (v > 1e-9).then(|| Config {
                offering: shapes[s].offering,
                counts,
                x: v,
            })
        })
        .collect();
    Some(ConfigLp {
        bound,
        master: if artificial_left {
            f64::INFINITY
        } else {
            master_value
        },
        items,
        configs,
    })
}

/// (relaxation ratio, shape), highest first: `(LP relaxation + policy part) / price`, an upper
/// bound on every configuration's ratio of the shape.
fn root_ratios(
    shapes: &[Shape],
    items: &[Item],
    y: &[f64],
    policy_value_of: &dyn Fn(bool, &[f64]) -> f64,
) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = shapes
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let useful: Vec<usize> = s.items.iter().copied().filter(|&i| y[i] > 0.0).collect();
            let root = if useful.is_empty() {
                0.0
            } else {
                knapsack_lp(&s.alloc, &useful, items, y).0
            };
            ((root + policy_value_of(s.on_demand, y)) / s.price, si)
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out
}
