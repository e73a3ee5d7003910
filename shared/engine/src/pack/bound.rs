//! The lower bound of a packing run: the LP over all pods with the policy's rows, strengthened by
//! splitting the pods into groups that can never share an offering (e.g. GPU pods that only run on
//! tainted GPU nodes and everything else): the sum of the groups' LPs is also a bound, since no
//! node serves two groups. The larger of the two is reported.

use crate::bitset::BitSet;
use crate::classes::Classes;
use crate::lower_bound::lower_bound;
use crate::model::{Policy, Problem, Resources};

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
        entry.2 = entry.2.plus(&Resources::new(
            r.cpu_m * k,
            r.memory_mib * k,
            k,
            r.gpus * k,
        ));
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
