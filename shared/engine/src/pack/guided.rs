//! LP-guided seeding: the configuration LP's solution, rounded down, as the first nodes of a
//! packing. Every configuration with value `x_c` opens `floor(x_c)` nodes filled with exactly its
//! pod counts (each node as the cheapest admitted offering of the configuration's capacity type
//! that holds them, in the zone that keeps zone spreads most even); the packer then places what
//! is left. Only pods free of constraints, or whose only terms are a simple zone spread (see
//! [`super::place::zone_groups`]), are seeded: the LP knows nothing of hostname terms. Seeding
//! ignores the spread while it opens nodes; the packer fills the least-loaded zones first and
//! [`balance_zones`] moves pods until every spread holds again.

use super::envelope::Envelopes;
use super::place::{group_observed, only_zone_rule, open_in_zone, runnable_members};
use super::shrink::PriceIndex;
use super::state::State;
use crate::classes::Classes;
use crate::config_lp::{ConfigLp, Purpose};
use crate::model::Resources;

/// Residual rounds: after the first LP's nodes are seeded, the configuration LP of the pods still
/// unplaced is solved and rounded again, this many times at most; the last round rounds up (its
/// partly filled nodes shrink afterwards), so the LP's large nodes of value below 1 still open.
const RESIDUAL_ROUNDS: usize = 2;

/// Seeds with `lp`, then with the LPs of what is left (see [`RESIDUAL_ROUNDS`]); returns which
/// pods were placed.
pub fn seed_all(
    state: &mut State,
    lp: &ConfigLp,
    index: &PriceIndex,
    spreads: &[Spread],
) -> Vec<bool> {
    let cx = state.cx;
    let problem = state.problem;
    let guidable = guidable(cx, spreads);
    let mut seedable = vec![false; problem.pods.len()];
    for (c, class) in cx.classes.iter().enumerate() {
        if guidable[c] && !class.compat.is_empty() {
            for &p in &class.pods {
                seedable[p] = true;
            }
        }
    }
    let mut placed = vec![false; problem.pods.len()];
    seed(state, lp, index, &guidable, &mut placed, false);
    let mut previous: Option<ConfigLp> = None;
    for round in 0..RESIDUAL_ROUNDS {
        let left = |p: usize| !placed[p];
        let counted = |p: usize| left(p) && seedable[p];
        if !(0..problem.pods.len()).any(counted) {
            break;
        }
        let warm = Some(previous.as_ref().unwrap_or(lp));
        let purpose = Purpose::Guide { warm };
        let Some(residual) = crate::config_lp::solve(problem, cx, &counted, true, 0.0, purpose)
        else {
            break;
        };
        if residual.configs.is_empty() {
            break;
        }
        seed(
            state,
            &residual,
            index,
            &guidable,
            &mut placed,
            round + 1 == RESIDUAL_ROUNDS,
        );
        previous = Some(residual);
    }
    placed
}

/// Classes whose pods may be seeded: free ones and the members of simple zone spreads.
fn guidable(cx: &Classes, spreads: &[Spread]) -> Vec<bool> {
    let mut guidable: Vec<bool> = cx.classes.iter().map(|c| c.is_free(&cx.groups)).collect();
    for spread in spreads {
        for &c in &spread.members {
            guidable[c] = true;
        }
    }
    guidable
}

/// Opens the rounded-down nodes of `lp` and places their pods, marking them in `placed`.
fn seed(
    state: &mut State,
    lp: &ConfigLp,
    index: &PriceIndex,
    guidable: &[bool],
    placed: &mut [bool],
    round_up: bool,
) {
    let cx = state.cx;
    let problem = state.problem;
    // Per item, the pods still to seed, taken from the back.
    let mut queues: Vec<Vec<(usize, usize)>> = lp
        .items
        .iter()
        .map(|item| {
            let mut queue: Vec<(usize, usize)> = item
                .classes
                .iter()
                .filter(|&&c| guidable[c])
                .flat_map(|&c| cx.classes[c].pods.iter().map(move |&p| (c, p)))
                .filter(|&(_, p)| !placed[p])
                .collect();
            queue.reverse();
            queue
        })
        .collect();
    let mut order: Vec<usize> = (0..lp.configs.len()).collect();
    order.sort_by(|&a, &b| {
        lp.configs[b]
            .x
            .total_cmp(&lp.configs[a].x)
            .then(lp.configs[a].offering.cmp(&lp.configs[b].offering))
            .then(a.cmp(&b))
    });
    let zones = cx.zone_names.len();
    for j in order {
        let config = &lp.configs[j];
        let Some(offering) = problem.offerings.get(config.offering) else {
            continue;
        };
        let capacity = offering.capacity_type;
        let copies = if round_up {
            (config.x - 1e-6).ceil()
        } else {
            (config.x + 1e-6).floor()
        }
        .max(0.0) as usize;
        for _ in 0..copies {
            let mut pods: Vec<(usize, usize)> = Vec::new();
            for &(i, a) in &config.counts {
                let Some(queue) = queues.get_mut(i) else {
                    continue;
                };
                for _ in 0..a.max(0) {
                    match queue.pop() {
                        Some(entry) => pods.push(entry),
                        None => break,
                    }
                }
            }
            if pods.is_empty() {
                break;
            }
            let mut usage = Resources::default();
            for &(c, _) in &pods {
                usage = usage.plus(&cx.classes[c].requests);
            }
            // The cheapest offering per zone that holds the pods.
            let fits = |o: usize| {
                usage.fits_in(&problem.offerings[o].allocatable)
                    && pods.iter().all(|&(c, _)| cx.classes[c].compat.contains(o))
            };
            let per_zone: Vec<Option<usize>> = (0..zones)
                .map(|z| {
                    index
                        .cheapest_first(z, capacity)
                        .iter()
                        .copied()
                        .find(|&o| fits(o))
                })
                .collect();
            let price = |o: usize| problem.offerings[o].price_per_hour;
            let cheapest = per_zone
                .iter()
                .flatten()
                .map(|&o| price(o))
                .fold(f64::INFINITY, f64::min);
            // Among the cheapest zones, the one holding the fewest pods of the node's spreads.
            let load = |z: usize| -> u64 {
                pods.iter()
                    .flat_map(|&(c, _)| cx.classes[c].zone_rules.iter())
                    .map(|&r| u64::from(state.zone_groups[z][cx.zone_rules[r].group]))
                    .sum()
            };
            let chosen = (0..zones)
                .filter_map(|z| per_zone[z].map(|o| (z, o)))
                .filter(|&(_, o)| price(o) <= cheapest * (1.0 + 1e-9))
                .min_by_key(|&(z, _)| (load(z), z));
            let Some((_, o)) = chosen else {
                for &(c, p) in pods.iter().rev() {
                    if let Some(i) = item_of(lp, c) {
                        queues[i].push((c, p));
                    }
                }
                continue;
            };
            let n = state.open(o);
            for (c, p) in pods {
                if state.node_refusal(c, n).is_none() {
                    state.place(c, p, n);
                    placed[p] = true;
                }
            }
            state.close_if_empty(n);
        }
    }
}

fn item_of(lp: &ConfigLp, c: usize) -> Option<usize> {
    lp.items.iter().position(|item| item.classes.contains(&c))
}

/// A zone spread whose pods can be seeded and moved between zones freely: its group is counted by
/// exactly this rule, every member class carries only this zone-level term (no hostname terms, no
/// zone (anti-)affinity, the rule's zones), and no other term looks at the group.
pub struct Spread {
    rule: usize,
    members: Vec<usize>,
}

pub fn simple_spreads(cx: &Classes) -> Vec<Spread> {
    let mut taken = vec![false; cx.classes.len()];
    let mut out = Vec::new();
    for (r, rule) in cx.zone_rules.iter().enumerate() {
        let g = rule.group;
        if group_observed(cx, g) {
            continue;
        }
        let members = runnable_members(cx, g);
        let simple = members.iter().all(|&c| {
            let class = &cx.classes[c];
            only_zone_rule(class, r, rule)
                && class
                    .member_of
                    .iter()
                    .all(|&h| h == g || !group_observed(cx, h))
                && !taken[c]
        });
        if members.is_empty() || !simple {
            continue;
        }
        for &c in &members {
            taken[c] = true;
        }
        out.push(Spread { rule: r, members });
    }
    out
}

/// Moves pods of each simple zone spread from its fullest to its emptiest zone (into a node there
/// with room, else a new one) until the spread holds.
pub fn balance_zones(state: &mut State, env: &Envelopes, spreads: &[Spread]) {
    let cx = state.cx;
    for spread in spreads {
        let members = &spread.members;
        let rule = &cx.zone_rules[spread.rule];
        let g = rule.group;
        let total: usize = members.iter().map(|&c| cx.classes[c].pods.len()).sum();
        for _ in 0..total {
            let count = |state: &State, z: usize| state.zone_groups[z][g];
            let Some(&high) = rule.zones.iter().max_by_key(|&&z| (count(state, z), z)) else {
                break;
            };
            let Some(&low) = rule.zones.iter().min_by_key(|&&z| (count(state, z), z)) else {
                break;
            };
            if count(state, high) <= count(state, low) + rule.max_skew {
                break;
            }
            // The smallest member pod in the fullest zone.
            let mut best: Option<(i64, usize, usize, usize)> = None;
            for &n in &state.nodes_in_zone[high] {
                let node = &state.nodes[n];
                if !node.alive {
                    continue;
                }
                for &(c, _) in &node.classes {
                    if !members.contains(&c) {
                        continue;
                    }
                    let r = &cx.classes[c].requests;
                    let size = r.cpu_m.saturating_add(r.memory_mib / 4);
                    if best.is_some_and(|b| b.0 <= size) {
                        continue;
                    }
                    let pods = &cx.classes[c].pods;
                    if let Some(&p) = node.pods.iter().find(|p| pods.binary_search(p).is_ok()) {
                        best = Some((size, c, p, n));
                    }
                }
            }
            let Some((_, c, pod, from)) = best else {
                break;
            };
            state.unplace(c, pod, from);
            let target = state.nodes_in_zone[low]
                .iter()
                .copied()
                .find(|&n| state.refusal(c, n).is_none());
            match target {
                Some(n) => state.place(c, pod, n),
                None => {
                    if open_in_zone(state, env, c, pod, low).is_err() {
                        state.place(c, pod, from);
                        break;
                    }
                }
            }
            state.close_if_empty(from);
        }
    }
}
