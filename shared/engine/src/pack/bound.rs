//! The lower bound of a packing run: one covering LP over node counts `x_o` of the usable
//! offerings, with only rows every valid solution satisfies (so its optimum is a bound):
//!
//! - per group of classes that can never share an offering (e.g. GPU pods on tainted GPU nodes and
//!   everything else): the group's cpu, memory and GPU demand is covered by the group's offerings,
//!   and its pod count by how many of its smallest pod could sit on each offering;
//! - per distinct compatibility set `C` of a class (which already encodes "the pod fits an empty
//!   node"): the pods whose offerings all lie in `C` must be on nodes of `C`, so `C`'s capacity
//!   covers their demand and count;
//! - hostname anti-affinity: pods that each repel a group they all belong to need pairwise
//!   distinct nodes, so their offerings' node count covers their number;
//! - zone topology spread: when every pod a selector counts declares the same zone spread (skew
//!   `s`, eligible zones `Z`), every zone of `Z` holds at least `ceil((n - (|Z|-1) s) / |Z|)` of
//!   them, so each zone's capacity covers the demand of that many of the smallest;
//! - the policy's on-demand base and share.
//!
//! If that LP cannot be solved, the older bound (the larger of the all-pods LP with the policy and
//! the sum of the groups' LPs) is reported.

use std::collections::HashMap;

use crate::bitset::BitSet;
use crate::classes::Classes;
use crate::lower_bound::lower_bound;
use crate::model::{CapacityType, Policy, Problem, Resources, TopologyKey};
use crate::simplex;

/// The offerings some counted pod can use and their total demand, per group of classes.
fn groups(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
) -> Vec<(Vec<usize>, Resources)> {
    let n = cx.classes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut owner: Vec<Option<usize>> = vec![None; problem.offerings.len()];
    let mut count = vec![0i64; n];
    for (c, class) in cx.classes.iter().enumerate() {
        count[c] = class.pods.iter().filter(|&&p| counted(p)).count() as i64;
        if count[c] == 0 {
            continue;
        }
        for o in class.compat.iter() {
            match owner[o] {
                Some(other) => {
                    let (a, b) = (find(&mut parent, c), find(&mut parent, other));
                    parent[a] = b;
                }
                None => owner[o] = Some(c),
            }
        }
    }
    let mut result: Vec<(usize, BitSet, Resources)> = Vec::new();
    for (c, class) in cx.classes.iter().enumerate() {
        if count[c] == 0 {
            continue;
        }
        let root = find(&mut parent, c);
        let position = match result.iter().position(|(r, _, _)| *r == root) {
            Some(i) => i,
            None => {
                result.push((
                    root,
                    BitSet::new(problem.offerings.len()),
                    Resources::default(),
                ));
                result.len() - 1
            }
        };
        let entry = &mut result[position];
        for o in class.compat.iter() {
            entry.1.insert(o);
        }
        let k = count[c];
        let r = &class.requests;
        entry.2 = entry.2.plus(&r.for_pods(k));
    }
    result
        .into_iter()
        .map(|(_, usable, demand)| (usable.iter().collect(), demand))
        .collect()
}

/// The bound for placing the pods `counted` keeps, and the usable offerings and demand overall.
/// `policy_met` false drops the policy's rows: a solution that could not meet the policy (and says
/// so in its notes) must not be compared with a bound that assumes it.
pub fn bound(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
    policy_met: bool,
) -> f64 {
    let covering = covering(problem, cx, counted, policy_met);
    let configuration = if covering.config_may_help() {
        crate::config_lp::solve(
            problem,
            cx,
            counted,
            policy_met,
            covering.value,
            crate::config_lp::Purpose::Bound,
        )
        .map_or(0.0, |lp| lp.bound)
    } else {
        0.0
    };
    // Both are lower bounds on the same optimum, so the larger is one too.
    covering.value.max(configuration)
}

/// The covering bound, and how much of it rests on node-count rows (hostname anti-affinity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Covering {
    pub value: f64,
    /// The share of the covering LP's optimum its node-count and zone-spread rows (which the
    /// configuration LP lacks) account for: dual price times right-hand side over the objective.
    pub node_count_share: f64,
}

/// When node-count and zone-spread rows carry at least this share of the covering bound, the
/// configuration LP (which knows nothing of hostname anti-affinity or spreads) is not solved:
/// binding rows it cannot see mean the covering bound already holds what the configuration LP
/// would miss, and on such problems (karpenter: the rows carry ~5%, the configuration LP's proven
/// bound ends ~30% below the covering bound after 40-50 ms) it does not pay.
const NODE_COUNT_SHARE_SKIP: f64 = 0.01;

impl Covering {
    /// Whether the configuration LP could plausibly raise the bound.
    pub fn config_may_help(&self) -> bool {
        self.node_count_share < NODE_COUNT_SHARE_SKIP
    }
}

/// The covering bound alone (see the module notes).
pub fn covering(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
    policy_met: bool,
) -> Covering {
    match strengthened(problem, cx, counted, policy_met) {
        Some(c) => c,
        None => Covering {
            value: basic(problem, cx, counted, policy_met),
            node_count_share: 0.0,
        },
    }
}

/// At most this many compatibility-set and zone rows (each adds up to four LP rows).
const MAX_SUBSETS: usize = 12;
const MAX_ZONE_ROWS: usize = 12;

/// Rows of the covering LP, dense over the columns (usable offerings).
struct Rows<'a> {
    problem: &'a Problem,
    columns: &'a [usize],
    rows: Vec<(Vec<f64>, f64)>,
}

impl Rows<'_> {
    fn push(&mut self, coefficient: impl Fn(usize) -> f64, rhs: f64) {
        if rhs <= 0.0 {
            return;
        }
        let row: Vec<f64> = self.columns.iter().map(|&o| coefficient(o)).collect();
        self.rows.push((row, rhs));
    }

    /// cpu, memory, GPU and count rows: nodes of offerings `inside` cover `demand`, where no pod
    /// needs less than `smallest`.
    fn cover(&mut self, inside: &dyn Fn(usize) -> bool, demand: &Resources, smallest: &Resources) {
        let offerings = &self.problem.offerings;
        let a = |o: usize| offerings[o].allocatable;
        self.push(
            |o| if inside(o) { a(o).cpu_m as f64 } else { 0.0 },
            demand.cpu_m as f64,
        );
        self.push(
            |o| {
                if inside(o) {
                    a(o).memory_mib as f64
                } else {
                    0.0
                }
            },
            demand.memory_mib as f64,
        );
        self.push(
            |o| if inside(o) { a(o).gpus as f64 } else { 0.0 },
            demand.gpus as f64,
        );
        self.push(
            |o| {
                if inside(o) {
                    fit_count(&a(o), smallest) as f64
                } else {
                    0.0
                }
            },
            demand.pods as f64,
        );
    }
}

/// How many pods, none smaller than `smallest` in any resource, a node of `capacity` can hold.
fn fit_count(capacity: &Resources, smallest: &Resources) -> i64 {
    let mut k = capacity.pods.max(0);
    for (have, need) in [
        (capacity.cpu_m, smallest.cpu_m),
        (capacity.memory_mib, smallest.memory_mib),
        (capacity.gpus, smallest.gpus),
        (
            capacity.ephemeral_storage_mib,
            smallest.ephemeral_storage_mib,
        ),
    ] {
        if need > 0 {
            k = k.min(have.max(0) / need);
        }
    }
    k
}

fn componentwise_min(a: &Resources, b: &Resources) -> Resources {
    Resources::new(
        a.cpu_m.min(b.cpu_m),
        a.memory_mib.min(b.memory_mib),
        a.pods.min(b.pods),
        a.gpus.min(b.gpus),
    )
    .with_ephemeral_storage(a.ephemeral_storage_mib.min(b.ephemeral_storage_mib))
}

fn strengthened(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
    policy_met: bool,
) -> Option<Covering> {
    let count: Vec<i64> = cx
        .classes
        .iter()
        .map(|c| c.pods.iter().filter(|&&p| counted(p)).count() as i64)
        .collect();
    let live: Vec<usize> = (0..cx.classes.len())
        .filter(|&c| count[c] > 0 && !cx.classes[c].compat.is_empty())
        .collect();
    if live.is_empty() {
        return Some(Covering {
            value: 0.0,
            node_count_share: 0.0,
        });
    }
    let mut usable = BitSet::new(problem.offerings.len());
    for &c in &live {
        for o in cx.classes[c].compat.iter() {
            usable.insert(o);
        }
    }
    let columns: Vec<usize> = usable.iter().collect();
    let mut rows = Rows {
        problem,
        columns: &columns,
        rows: Vec::new(),
    };
    let huge = Resources::new(i64::MAX, i64::MAX, i64::MAX, i64::MAX);

    // Per group of classes sharing no offering with any other group.
    for (set, demand, smallest) in subset_rows(cx, &live, &count, &huge) {
        rows.cover(&|o| set.contains(o), &demand, &smallest);
    }

    // Hostname anti-affinity: pods repelling a group they belong to need distinct nodes.
    let first_node_count_row = rows.rows.len();
    for g in 0..cx.groups.selectors.len() {
        let members: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&c| {
                let class = &cx.classes[c];
                class.anti_host.contains(&g) && class.member_of.contains(&g)
            })
            .collect();
        let n: i64 = members.iter().map(|&c| count[c]).sum();
        if n < 2 {
            continue;
        }
        let mut set = BitSet::new(problem.offerings.len());
        for &c in &members {
            for o in cx.classes[c].compat.iter() {
                set.insert(o);
            }
        }
        rows.push(|o| if set.contains(o) { 1.0 } else { 0.0 }, n as f64);
    }

    zone_rows(problem, cx, &live, &count, &mut rows);
    let node_count_rows = first_node_count_row..rows.rows.len();

    // Policy.
    let policy = &problem.policy;
    if policy_met {
        let on_demand = |o: usize| problem.offerings[o].capacity_type == CapacityType::OnDemand;
        if policy.on_demand_base > 0 {
            rows.push(|o| if on_demand(o) { 1.0 } else { 0.0 }, 1.0);
        }
        if policy.spot_share_percent < 100 {
            let share = f64::from(policy.spot_share_percent) / 100.0;
            let row: Vec<f64> = columns
                .iter()
                .map(|&o| if on_demand(o) { share } else { -(1.0 - share) })
                .collect();
            rows.rows.push((row, 0.0));
        }
    }

    // Columns, with identical ones (same coefficients in every row) merged to the cheapest.
    let m = rows.rows.len();
    let mut by_shape: HashMap<Vec<u64>, usize> = HashMap::new();
    let mut costs: Vec<f64> = Vec::new();
    let mut lp_columns: Vec<Vec<f64>> = Vec::new();
    for (j, &o) in columns.iter().enumerate() {
        let column: Vec<f64> = (0..m).map(|i| rows.rows[i].0[j]).collect();
        let key: Vec<u64> = column.iter().map(|x| x.to_bits()).collect();
        let price = problem.offerings[o].price_per_hour;
        match by_shape.get(&key) {
            Some(&k) => costs[k] = costs[k].min(price),
            None => {
                by_shape.insert(key, lp_columns.len());
                lp_columns.push(column);
                costs.push(price);
            }
        }
    }
    let rhs: Vec<f64> = rows.rows.iter().map(|(_, b)| *b).collect();
    let lp = simplex::minimize(&costs, &lp_columns, &rhs)?;
    let node_count_value: f64 = node_count_rows.map(|i| lp.duals[i] * rhs[i]).sum();
    let node_count_share = if lp.objective > 0.0 {
        (node_count_value / lp.objective).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(Covering {
        // Shave a hair off for floating-point safety: a bound must never exceed the truth.
        value: (lp.objective * (1.0 - 1e-7)).max(0.0),
        node_count_share,
    })
}

/// (offering set, demand, smallest pod) for every group of classes sharing no offering with
/// others, and for up to [`MAX_SUBSETS`] further distinct compatibility sets: the pods whose
/// compatibility lies inside the set.
fn subset_rows(
    cx: &Classes,
    live: &[usize],
    count: &[i64],
    huge: &Resources,
) -> Vec<(BitSet, Resources, Resources)> {
    let mut sets: Vec<BitSet> = Vec::new();
    // Groups: union-find over classes sharing an offering.
    let mut parts: Vec<BitSet> = Vec::new();
    for &c in live {
        let compat = &cx.classes[c].compat;
        let mut merged = compat.clone();
        let mut keep = Vec::new();
        for part in parts.drain(..) {
            if part.iter().any(|o| compat.contains(o)) {
                for o in part.iter() {
                    merged.insert(o);
                }
            } else {
                keep.push(part);
            }
        }
        keep.push(merged);
        parts = keep;
    }
    sets.extend(parts.iter().cloned());
    let mut distinct: Vec<&BitSet> = Vec::new();
    for &c in live {
        let compat = &cx.classes[c].compat;
        if !distinct.contains(&compat) && !parts.contains(compat) {
            distinct.push(compat);
        }
    }
    distinct.sort_by_key(|s| s.len());
    sets.extend(distinct.into_iter().take(MAX_SUBSETS).cloned());
    sets.into_iter()
        .map(|set| {
            let mut demand = Resources::default();
            let mut smallest = *huge;
            for &c in live {
                let class = &cx.classes[c];
                if class.compat.is_subset(&set) {
                    demand = demand.plus(&class.requests.for_pods(count[c]));
                    smallest = componentwise_min(&smallest, &class.requests);
                }
            }
            (set, demand, smallest)
        })
        .collect()
}

/// Zone-spread rows (see the module notes), only for zones whose offerings are dearer than the
/// cheapest zone's for the spread's pods: elsewhere they cannot bind.
fn zone_rows(problem: &Problem, cx: &Classes, live: &[usize], count: &[i64], rows: &mut Rows) {
    let mut added = 0;
    for rule in &cx.zone_rules {
        let g = rule.group;
        let selector = &cx.groups.selectors[g];
        let members: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&c| cx.classes[c].member_of.contains(&g))
            .collect();
        // Every counted member declares a zone spread over this selector with the same zones.
        let mut skew = 0u32;
        let all_declare = members.iter().all(|&c| {
            let class = &cx.classes[c];
            let pod = &problem.pods[class.pods[0]];
            let declared = pod
                .topology_spread
                .iter()
                .filter(|s| s.topology_key == TopologyKey::Zone && &s.match_labels == selector)
                .map(|s| s.max_skew)
                .min();
            match declared {
                Some(s) if class.zones == rule.zones => {
                    skew = skew.max(s);
                    true
                }
                _ => false,
            }
        });
        let k = rule.zones.len() as i64;
        let n: i64 = members.iter().map(|&c| count[c]).sum();
        if !all_declare || k < 2 || members.is_empty() {
            continue;
        }
        let floor = n - (k - 1) * i64::from(skew);
        if floor <= 0 {
            continue;
        }
        let at_least = (floor + k - 1) / k;
        let mut union = BitSet::new(problem.offerings.len());
        for &c in &members {
            for o in cx.classes[c].compat.iter() {
                union.insert(o);
            }
        }
        // The m smallest requests, resource by resource.
        let smallest_sum = |f: &dyn Fn(&Resources) -> i64| -> i64 {
            let mut sizes: Vec<(i64, i64)> = members
                .iter()
                .map(|&c| (f(&cx.classes[c].requests), count[c]))
                .collect();
            sizes.sort_unstable();
            let mut left = at_least;
            let mut sum = 0;
            for (size, k) in sizes {
                let take = left.min(k);
                sum += size * take;
                left -= take;
            }
            sum
        };
        let demand = Resources::new(
            smallest_sum(&|r| r.cpu_m),
            smallest_sum(&|r| r.memory_mib),
            at_least,
            smallest_sum(&|r| r.gpus),
        );
        let mut smallest = Resources::new(i64::MAX, i64::MAX, i64::MAX, i64::MAX);
        for &c in &members {
            smallest = componentwise_min(&smallest, &cx.classes[c].requests);
        }
        // Cheapest price per resource unit (cpu + memory at 1 core : 4 GiB) per zone.
        let unit = |o: usize| {
            let a = &problem.offerings[o].allocatable;
            problem.offerings[o].price_per_hour
                / (a.cpu_m as f64 / 1000.0 + a.memory_mib as f64 / 4096.0).max(1e-9)
        };
        let per_zone: Vec<f64> = rule
            .zones
            .iter()
            .map(|&z| {
                union
                    .iter()
                    .filter(|&o| cx.offering_zone[o] == z)
                    .map(unit)
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let cheapest = per_zone.iter().copied().fold(f64::INFINITY, f64::min);
        for (i, &z) in rule.zones.iter().enumerate() {
            if per_zone[i] <= cheapest * (1.0 + 1e-9) || added >= MAX_ZONE_ROWS {
                continue;
            }
            added += 1;
            let inside = |o: usize| union.contains(o) && cx.offering_zone[o] == z;
            rows.cover(&inside, &demand, &smallest);
        }
    }
}

/// The older bound: the larger of the all-pods LP with the policy and the sum of the groups' LPs.
fn basic(
    problem: &Problem,
    cx: &Classes,
    counted: &dyn Fn(usize) -> bool,
    policy_met: bool,
) -> f64 {
    let parts = groups(problem, cx, counted);
    let mut all_usable = BitSet::new(problem.offerings.len());
    let mut all_demand = Resources::default();
    let mut split = 0.0;
    for (usable, demand) in &parts {
        for &o in usable {
            all_usable.insert(o);
        }
        all_demand = all_demand.plus(demand);
        split += lower_bound(&problem.offerings, usable, demand, &Policy::default()).per_hour;
    }
    let usable: Vec<usize> = all_usable.iter().collect();
    let policy = if policy_met {
        problem.policy.clone()
    } else {
        Policy::default()
    };
    let global = lower_bound(&problem.offerings, &usable, &all_demand, &policy).per_hour;
    global.max(split)
}
