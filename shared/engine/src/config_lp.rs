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
//! price; before stopping, pricing searches again with the proof's budget, since a configuration
//! the quick search misses is exactly what keeps the proven bound below the master.
//!
//! The master's configurations with positive value are returned too, for packers to follow.

// Dense numerical kernels read best with explicit indices.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use std::collections::HashMap;

use crate::classes::Classes;
use crate::model::{CapacityType, Problem, Resources};

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
/// Shapes searched again with the proof's budget when the quick search finds nothing.
const DEEP_SHAPES: usize = 8;
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
    /// A proven bound: when the quick pricing finds nothing, a deep search (the proof's budget)
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
            Purpose::Bound => &[(PRICING_BUDGET, PRICED_SHAPES), (PROOF_BUDGET, DEEP_SHAPES)][..],
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

/// How many pods of `r` fit on an empty node of `capacity` (pod slot counted).
fn fit_count(capacity: &Resources, r: &Resources) -> i64 {
    let mut k = capacity.pods.max(0);
    for (have, need) in [
        (capacity.cpu_m, r.cpu_m),
        (capacity.memory_mib, r.memory_mib),
        (capacity.gpus, r.gpus),
    ] {
        if need > 0 {
            k = k.min(have.max(0) / need);
        }
    }
    k
}

/// A good configuration of shape `s` at duals `y`: greedy by value density under two size
/// measures, the better kept.
fn greedy(s: &Shape, items: &[Item], y: &[f64]) -> (f64, Vec<(usize, i64)>) {
    let a = &s.alloc;
    let frac = |r: &Resources| -> [f64; 4] {
        let f = |need: i64, have: i64| {
            if need <= 0 {
                0.0
            } else if have <= 0 {
                f64::INFINITY
            } else {
                need as f64 / have as f64
            }
        };
        [
            f(r.cpu_m, a.cpu_m),
            f(r.memory_mib, a.memory_mib),
            f(r.pods, a.pods),
            f(r.gpus, a.gpus),
        ]
    };
    let mut best = (0.0, Vec::new());
    for measure in 0..3 {
        let mut order: Vec<(f64, usize)> = s
            .items
            .iter()
            .filter(|&&i| y[i] > 0.0)
            .map(|&i| {
                let f = frac(&items[i].requests);
                let size = match measure {
                    0 => f.iter().copied().fold(0.0, f64::max),
                    1 => f.iter().sum(),
                    _ => (f.iter().map(|v| v * v).sum::<f64>()).sqrt(),
                };
                (y[i] / size.max(1e-12), i)
            })
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut left = *a;
        let mut value = 0.0;
        let mut counts = Vec::new();
        for (_, i) in order {
            let take = fit_count(&left, &items[i].requests).min(items[i].count);
            if take > 0 {
                let r = &items[i].requests;
                left = left.minus(&Resources::new(
                    r.cpu_m * take,
                    r.memory_mib * take,
                    take,
                    r.gpus * take,
                ));
                value += y[i] * take as f64;
                counts.push((i, take));
            }
        }
        if value > best.0 {
            counts.sort_unstable();
            best = (value, counts);
        }
    }
    best
}

/// Items that fit at most this many times on a shape are branched on; larger counts are bounded
/// by the LP relaxation (their integrality barely matters).
const BRANCH_FIT: i64 = 48;

/// A configuration of shape `s` from the LP relaxation of `useful` on `cap` (`primal`): its
/// floor, then greedy on what is left; sorted by item.
fn rounded(
    s: &Shape,
    cap: Resources,
    useful: &[usize],
    items: &[Item],
    y: &[f64],
    primal: &[f64],
) -> Vec<(usize, i64)> {
    let mut start: Vec<(usize, i64)> = useful
        .iter()
        .zip(primal)
        .filter(|(_, v)| **v >= 1.0)
        .map(|(&i, v)| (i, (v.floor() as i64).min(items[i].count)))
        .collect();
    let mut left = cap;
    for &(i, a) in &start {
        let r = &items[i].requests;
        left = left.minus(&Resources::new(
            r.cpu_m * a,
            r.memory_mib * a,
            a,
            r.gpus * a,
        ));
    }
    if left.any_negative() {
        return Vec::new();
    }
    let rest_shape = Shape {
        alloc: left,
        items: useful.to_vec(),
        ..s.clone()
    };
    let (_, more) = greedy(&rest_shape, items, y);
    for (i, a) in more {
        let room = items[i].count - start.iter().find(|(k, _)| *k == i).map_or(0, |x| x.1);
        let a = a.min(room);
        if a <= 0 {
            continue;
        }
        match start.iter_mut().find(|(k, _)| *k == i) {
            Some(e) => e.1 += a,
            None => start.push((i, a)),
        }
    }
    start.sort_unstable();
    start
}

/// A proven upper bound on `max y.a` over the configurations of `s`, and the best configuration
/// seen: branch and bound over the items few of which fit (pruned with a dual of the LP relaxation,
/// each leaf finished with the relaxation of the rest on the room left, and rounded into a
/// configuration), else the LP relaxation of everything.
fn prove(s: &Shape, items: &[Item], y: &[f64], budget: usize) -> (f64, f64, Vec<(usize, i64)>) {
    let mut useful: Vec<usize> = s
        .items
        .iter()
        .copied()
        .filter(|&i| y[i] > 0.0 && fit_count(&s.alloc, &items[i].requests) > 0)
        .collect();
    if useful.is_empty() {
        return (0.0, 0.0, Vec::new());
    }
    useful.sort_unstable();
    let (root, all, primal) = knapsack_lp(&s.alloc, &useful, items, y);
    let start = rounded(s, s.alloc, &useful, items, y, &primal);
    let (greedy_value, greedy_counts) = greedy(s, items, y);
    let start_value: f64 = start.iter().map(|&(i, a)| y[i] * a as f64).sum();
    let (mut best_value, mut best_counts) = if start_value > greedy_value {
        (start_value, start)
    } else {
        (greedy_value, greedy_counts)
    };
    let (mut list, small): (Vec<usize>, Vec<usize>) = useful
        .iter()
        .partition(|&&i| fit_count(&s.alloc, &items[i].requests) <= BRANCH_FIT);
    if list.is_empty() || budget == 0 {
        return (root, best_value, best_counts);
    }
    let rest = if small.is_empty() {
        [0.0; 4]
    } else {
        knapsack_lp(&s.alloc, &small, items, y).1
    };
    list.sort_by(|&a, &b| y[b].total_cmp(&y[a]).then(a.cmp(&b)));
    struct Search<'a> {
        shape: &'a Shape,
        list: &'a [usize],
        items: &'a [Item],
        y: &'a [f64],
        all: [f64; 4],
        rest: [f64; 4],
        small: &'a [usize],
        upper: f64,
        best_value: f64,
        best: Vec<(usize, i64)>,
        path: Vec<(usize, i64)>,
        nodes: usize,
        budget: usize,
    }
    impl Search<'_> {
        fn go(&mut self, p: usize, left: Resources, value: f64) -> bool {
            self.nodes += 1;
            if self.nodes > self.budget {
                return false;
            }
            if p == self.list.len() {
                self.leaf(left, value);
                return true;
            }
            if value + dual_upper(&self.all, &left) <= self.upper {
                return true;
            }
            let i = self.list[p];
            let r = self.items[i].requests;
            let max = fit_count(&left, &r).min(self.items[i].count);
            for a in (0..=max).rev() {
                let used = Resources::new(r.cpu_m * a, r.memory_mib * a, a, r.gpus * a);
                if a > 0 {
                    self.path.push((i, a));
                }
                let ok = self.go(p + 1, left.minus(&used), value + self.y[i] * a as f64);
                if a > 0 {
                    self.path.pop();
                }
                if !ok {
                    return false;
                }
            }
            true
        }

        /// A leaf: the branched items are fixed (`path`, worth `value`), `left` is free. The
        /// small items' LP relaxation on `left` bounds what they add (much tighter than the
        /// root's dual once the branched items took their room), and its rounding completes a
        /// configuration, so the search also finds good configurations for pricing.
        fn leaf(&mut self, left: Resources, value: f64) {
            if self.small.is_empty() {
                self.upper = self.upper.max(value);
                if value > self.best_value {
                    self.best_value = value;
                    self.best = self.path.clone();
                }
                return;
            }
            // The root's dual first: when even it shows the leaf cannot raise the bound (which
            // is at least the best value), the relaxation need not be solved.
            let loose = dual_upper(&self.rest, &left);
            if value + loose <= self.upper {
                return;
            }
            let (relaxed, _, primal) = knapsack_lp(&left, self.small, self.items, self.y);
            let bound = relaxed.min(loose);
            self.upper = self.upper.max(value + bound);
            if value + bound <= self.best_value {
                return;
            }
            let fill = rounded(self.shape, left, self.small, self.items, self.y, &primal);
            let filled = value + fill.iter().map(|&(i, a)| self.y[i] * a as f64).sum::<f64>();
            if filled > self.best_value {
                self.best_value = filled;
                self.best = self.path.iter().chain(&fill).copied().collect();
            }
        }
    }
    let mut search = Search {
        shape: s,
        list: &list,
        items,
        y,
        all,
        rest,
        small: &small,
        // A configuration's value: the maximum is at least this, so subtrees bounded below it
        // need no visit.
        upper: best_value,
        best_value,
        best: Vec::new(),
        path: Vec::new(),
        nodes: 0,
        budget,
    };
    let done = search.go(0, s.alloc, 0.0);
    if search.best_value > best_value && !search.best.is_empty() {
        best_value = search.best_value;
        best_counts = search.best;
        best_counts.sort_unstable();
    }
    if done {
        // A hair above for floating point; never above the relaxation of everything.
        (
            (search.upper * (1.0 + 1e-9)).min(root),
            best_value,
            best_counts,
        )
    } else {
        (root, best_value, best_counts)
    }
}

/// The knapsack's LP relaxation `max y.a  s.t.  sum a_i r_i <= cap, a >= 0` over `list` by a dense
/// tableau simplex. Returns a proven upper bound `lambda . cap` from a dual solution `lambda`
/// made exactly feasible (`r_i . lambda >= y_i` for every item of `list`), that `lambda`, and the
/// primal solution (per entry of `list`).
fn knapsack_lp(
    cap: &Resources,
    list: &[usize],
    items: &[Item],
    y: &[f64],
) -> (f64, [f64; 4], Vec<f64>) {
    let c = [
        cap.cpu_m.max(0) as f64,
        cap.memory_mib.max(0) as f64,
        cap.pods.max(0) as f64,
        cap.gpus.max(0) as f64,
    ];
    let req = |i: usize| {
        let r = &items[i].requests;
        [
            r.cpu_m as f64,
            r.memory_mib as f64,
            r.pods as f64,
            r.gpus as f64,
        ]
    };
    let n = list.len();
    let width = n + 4;
    // Rows scaled so capacities are 1 (zero capacity rows keep scale 1).
    let scale: Vec<f64> = c
        .iter()
        .map(|&v| if v > 0.0 { 1.0 / v } else { 1.0 })
        .collect();
    let mut t: Vec<Vec<f64>> = (0..4)
        .map(|j| {
            let mut row = vec![0.0; width + 1];
            for (q, &i) in list.iter().enumerate() {
                row[q] = req(i)[j] * scale[j];
            }
            row[n + j] = 1.0;
            row[width] = c[j] * scale[j];
            row
        })
        .collect();
    // Objective row: reduced costs (negative = improving) for maximisation.
    let mut z: Vec<f64> = vec![0.0; width + 1];
    for (q, &i) in list.iter().enumerate() {
        z[q] = -y[i];
    }
    let mut basis: Vec<usize> = (n..n + 4).collect();
    for _ in 0..200 {
        let Some(e) = (0..width).find(|&q| z[q] < -1e-12) else {
            break;
        };
        let mut leave = None;
        let mut ratio = f64::INFINITY;
        for r in 0..4 {
            if t[r][e] > 1e-12 {
                let v = t[r][width] / t[r][e];
                if v < ratio {
                    ratio = v;
                    leave = Some(r);
                }
            }
        }
        let Some(r) = leave else { break };
        let p = t[r][e];
        for v in t[r].iter_mut() {
            *v /= p;
        }
        let pivot = t[r].clone();
        for (rr, row) in t.iter_mut().enumerate() {
            if rr != r && row[e] != 0.0 {
                let f = row[e];
                for (v, pv) in row.iter_mut().zip(&pivot) {
                    *v -= f * pv;
                }
            }
        }
        let f = z[e];
        for (v, pv) in z.iter_mut().zip(&pivot) {
            *v -= f * pv;
        }
        basis[r] = e;
    }
    let mut primal = vec![0.0; n];
    for r in 0..4 {
        if basis[r] < n {
            primal[basis[r]] = t[r][width].max(0.0);
        }
    }
    // Duals: the slacks' reduced costs, unscaled.
    let mut lambda = [0.0f64; 4];
    for j in 0..4 {
        lambda[j] = (z[n + j] * scale[j]).max(0.0);
    }
    // Exact feasibility: scale up until every item's constraint holds.
    let mut factor: f64 = 1.0;
    for &i in list {
        if y[i] <= 0.0 {
            continue;
        }
        let lhs: f64 = req(i).iter().zip(&lambda).map(|(a, l)| a * l).sum();
        if lhs > 0.0 && lhs.is_finite() {
            factor = factor.max(y[i] / lhs);
        } else {
            factor = f64::INFINITY;
        }
    }
    if !factor.is_finite() || factor > 1.0 + 1e-6 {
        // Numerically off: the always-feasible pod-slot price.
        let top = list.iter().map(|&i| y[i]).fold(0.0, f64::max);
        lambda = [0.0, 0.0, top, 0.0];
        factor = 1.0;
    }
    for l in lambda.iter_mut() {
        *l *= factor;
    }
    // The relaxation above lets an item exceed its pod count. Any `t * lambda` with `t >= 0`,
    // paired with `mu_i = max(0, y_i - r_i . t lambda)` on the bounds `a_i <= count_i`, is dual
    // feasible for the relaxation that keeps them: each gives a valid bound, the least is kept.
    let upper = [1.0, 0.75, 0.5, 0.25, 0.0]
        .into_iter()
        .map(|t| {
            let capacity: f64 = lambda.iter().zip(&c).map(|(l, v)| t * l * v).sum();
            let counts: f64 = list
                .iter()
                .map(|&i| {
                    let priced: f64 = req(i).iter().zip(&lambda).map(|(a, l)| t * a * l).sum();
                    items[i].count as f64 * (y[i] - priced).max(0.0)
                })
                .sum();
            capacity + counts
        })
        .fold(f64::INFINITY, f64::min);
    (upper, lambda, primal)
}

fn dual_upper(lambda: &[f64; 4], left: &Resources) -> f64 {
    lambda[0] * left.cpu_m.max(0) as f64
        + lambda[1] * left.memory_mib.max(0) as f64
        + lambda[2] * left.pods.max(0) as f64
        + lambda[3] * left.gpus.max(0) as f64
}

/// The restricted master: `min c.x  s.t.  A x >= b, x >= 0` by a revised simplex with an explicit
/// basis inverse, columns added between solves (the basis stays feasible). Columns 0..m are
/// surplus (-e_i), m..2m big-M artificials (+e_i), then the configurations.
struct Master {
    m: usize,
    b: Vec<f64>,
    columns: Vec<Vec<f64>>,
    costs: Vec<f64>,
    basis: Vec<usize>,
    inverse: Vec<Vec<f64>>,
    values: Vec<f64>,
}

impl Master {
    fn new(rhs: &[f64], big_m: f64) -> Self {
        let m = rhs.len();
        let mut columns = Vec::with_capacity(2 * m);
        let mut costs = Vec::with_capacity(2 * m);
        for sign in [-1.0, 1.0] {
            for i in 0..m {
                let mut c = vec![0.0; m];
                c[i] = sign;
                columns.push(c);
                costs.push(if sign > 0.0 { big_m } else { 0.0 });
            }
        }
        Master {
            m,
            b: rhs.to_vec(),
            columns,
            costs,
            basis: (m..2 * m).collect(),
            inverse: (0..m)
                .map(|i| (0..m).map(|k| if i == k { 1.0 } else { 0.0 }).collect())
                .collect(),
            values: rhs.to_vec(),
        }
    }

    fn add(&mut self, column: Vec<f64>, cost: f64) {
        self.columns.push(column);
        self.costs.push(cost);
    }

    fn duals(&self) -> Vec<f64> {
        let m = self.m;
        (0..m)
            .map(|k| {
                (0..m)
                    .map(|i| self.costs[self.basis[i]] * self.inverse[i][k])
                    .sum()
            })
            .collect()
    }

    fn objective(&self) -> f64 {
        (0..self.m)
            .filter(|&i| self.basis[i] >= 2 * self.m)
            .map(|i| self.costs[self.basis[i]] * self.values[i])
            .sum()
    }

    fn artificial_value(&self) -> f64 {
        (0..self.m)
            .filter(|&i| (self.m..2 * self.m).contains(&self.basis[i]))
            .map(|i| self.values[i])
            .sum()
    }

    /// Value of every configuration column (index from 0 = first configuration).
    fn primal(&self) -> Vec<f64> {
        let mut x = vec![0.0; self.columns.len().saturating_sub(2 * self.m)];
        for i in 0..self.m {
            if let Some(j) = self.basis[i].checked_sub(2 * self.m) {
                x[j] = self.values[i];
            }
        }
        x
    }

    /// Pivots to optimality (or the cap); false when unbounded or stuck.
    fn optimize(&mut self, cap: usize) -> bool {
        let m = self.m;
        let eps = 1e-10;
        let mut in_basis = vec![false; self.columns.len()];
        for &j in &self.basis {
            in_basis[j] = true;
        }
        for iteration in 0..cap {
            let y = self.duals();
            let bland = iteration > cap / 2;
            let mut entering = None;
            let mut best = -eps;
            for j in 0..self.columns.len() {
                if in_basis[j] {
                    continue;
                }
                let col = &self.columns[j];
                let reduced = self.costs[j] - col.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>();
                let scaled = reduced / (1.0 + self.costs[j]);
                if scaled < best {
                    best = scaled;
                    entering = Some(j);
                    if bland {
                        break;
                    }
                }
            }
            let Some(j) = entering else { return true };
            let col = &self.columns[j];
            let d: Vec<f64> = (0..m)
                .map(|i| (0..m).map(|k| self.inverse[i][k] * col[k]).sum())
                .collect();
            let mut leaving = None;
            let mut ratio = f64::INFINITY;
            for i in 0..m {
                if d[i] > 1e-9 {
                    let r = self.values[i].max(0.0) / d[i];
                    if r < ratio - 1e-12
                        || (r <= ratio + 1e-12
                            && leaving.is_some_and(|l: usize| self.basis[i] < self.basis[l]))
                    {
                        ratio = r;
                        leaving = Some(i);
                    }
                }
            }
            let Some(row) = leaving else { return false };
            let pivot = d[row];
            for cell in self.inverse[row].iter_mut() {
                *cell /= pivot;
            }
            self.values[row] /= pivot;
            let pivot_row = self.inverse[row].clone();
            let pivot_value = self.values[row];
            for i in 0..m {
                if i != row && d[i] != 0.0 {
                    let f = d[i];
                    for (cell, p) in self.inverse[i].iter_mut().zip(&pivot_row) {
                        *cell -= f * p;
                    }
                    self.values[i] -= f * pivot_value;
                    if self.values[i] < 0.0 && self.values[i] > -1e-9 {
                        self.values[i] = 0.0;
                    }
                }
            }
            in_basis[self.basis[row]] = false;
            in_basis[j] = true;
            self.basis[row] = j;
        }
        let _ = &self.b;
        true
    }
}
