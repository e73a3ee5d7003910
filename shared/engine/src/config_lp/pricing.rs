//! Pricing one offering shape at the master's duals `y`: good configurations (greedy, the
//! knapsack relaxation rounded, branch and bound) and a proven upper bound on `max y.a` over all
//! of its configurations, which Farley's bound needs.

use super::{Item, Shape};
use crate::model::Resources;

/// How many pods of `r` fit on an empty node of `capacity` (pod slot counted).
pub(super) fn fit_count(capacity: &Resources, r: &Resources) -> i64 {
    let mut k = capacity.pods.max(0);
    for (have, need) in [
        (capacity.cpu_m, r.cpu_m),
        (capacity.memory_mib, r.memory_mib),
        (capacity.gpus, r.gpus),
        (capacity.ephemeral_storage_mib, r.ephemeral_storage_mib),
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
                left = left.minus(&r.for_pods(take));
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
        left = left.minus(&r.for_pods(a));
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
pub(super) fn prove(
    s: &Shape,
    items: &[Item],
    y: &[f64],
    budget: usize,
) -> (f64, f64, Vec<(usize, i64)>) {
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
                let used = r.for_pods(a);
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
/// tableau simplex. Returns a proven upper bound on it with the items' counts as bounds (see the
/// end), a dual solution `lambda` made exactly feasible (`r_i . lambda >= y_i` for every item of
/// `list`, so `lambda . cap` bounds it too, for any capacity), and the primal solution (per entry
/// of `list`).
pub(super) fn knapsack_lp(
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
