//! The consolidation the autopilot may apply, and whether it pays: the best of a repack
//! kube-scheduler can carry out, removing the nodes the cluster no longer needs, and replacing
//! nodes one at a time with cheaper ones, judged against the policy's minimum saving after the
//! cost of the move, with each drained node earning its own move. Pinned nodes (a pod that must
//! not be disrupted, a new node) are left alone. The optimizer and `spot bench autopilot` decide
//! with this one function.

use crate::carry_out::{SafePlan, carry_out_safely, consolidation_order, remove_underused, replay};
use crate::compliance::{Breach, breaches_after};
use crate::consolidation::remove_empty_nodes;
use crate::model::{ExistingNode, Problem, Solution};
use crate::pinned::{count_pinned, set_aside_pinned};
use crate::plan::{
    DisruptionBudget, HOURS_PER_MONTH, Plan, Step, StepAction, finish_plan, push_retirements,
};
use crate::provisioning::provision;

/// Launched capacity runs beside the nodes it replaces until their pods have moved: what a
/// move spends before it saves anything.
pub const MOVE_OVERLAP_HOURS: f64 = 10.0 / 60.0;
/// A move must earn its cost back within this time to count as saving anything.
pub const MOVE_PAYBACK_HOURS: f64 = 24.0;
/// Each node a consolidation drains must save at least this share of the price of the
/// cluster's average node: re-packing many nodes to save a little is churn, not saving
/// (moving a node from on-demand to spot, or removing one the cluster no longer needs, saves
/// far more than this).
pub const MIN_SAVING_PER_MOVED_NODE: f64 = 0.25;
/// And never less than this, USD a month: pods are not evicted to save pennies (removing a
/// micro node that the next scale-up launches again is churn; `spot bench autopilot` at a change
/// every 10 minutes moved 2.61 nodes an hour per 10 nodes without a floor, 1.79 at 10 USD). At
/// 20 USD, with the nodes the cluster could do without left to empty ([`crate::nodes_to_empty`])
/// rather than drained, seeds 1-5 moved 1.28 nodes an hour per 10 nodes at 9.8 % above the
/// cheapest packing, against 1.41 and 11.3 % at 10 USD without.
pub const MIN_MONTHLY_SAVING_PER_MOVED_NODE_USD: f64 = 20.0;
/// A move that saves at least this share of the cluster's cost is worth it whatever each node
/// saves: the floors above keep clusters from churning for pennies, not a small cluster from
/// its savings (moving one from on-demand to spot saves about 70 %). At 25 %, `spot bench
/// autopilot` moved 1.77 nodes an hour per 10 nodes (seeds 1-3): churn's repacks of the demo's
/// small cluster often save a quarter of it.
pub const SAVING_PERCENT_ALWAYS_WORTH_MOVING: f64 = 50.0;

/// Why a consolidation is or is not applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pays,
    /// The cluster already runs on its best node set, or nothing kube-scheduler could carry
    /// out would change it.
    NothingToDo,
    /// It saves less than the policy's minimum (or nothing) once the move is paid for.
    BelowMinimum,
    /// It would take the cluster out of its policy.
    BreaksPolicy(Vec<Breach>),
}

pub struct PayingConsolidation {
    pub safe: SafePlan,
    /// The repack target (its unschedulable pods say why a stranded pod has no place).
    pub solution: Solution,
    /// What the move spends, spread over [`MOVE_PAYBACK_HOURS`], USD/h.
    pub move_cost_per_hour: f64,
    /// The saving after the move's cost, as a share of the current cost.
    pub net_saving_percent: f64,
    pub verdict: Verdict,
    /// The nodes it leaves alone (see [`crate::set_aside_pinned`]).
    pub pinned: Vec<ExistingNode>,
}

impl PayingConsolidation {
    pub fn pays(&self) -> bool {
        self.verdict == Verdict::Pays
    }
}

pub fn paying_consolidation(whole: &Problem, budget: DisruptionBudget) -> PayingConsolidation {
    let (movable, pinned) = set_aside_pinned(whole);
    let problem = &movable;
    let solution = crate::solve(problem);
    // Empty nodes go first, whenever removing them saves anything: no pod moves, so neither the
    // policy's minimum nor the per-node floor applies (as in the empty-nodes mode). Nodes the
    // autopilot leaves to empty (see [`crate::nodes_to_empty`]) end this way.
    let empty = remove_empty_nodes(problem, budget);
    if !empty.steps.is_empty() && breaches_after(whole, &empty).is_empty() {
        let mut safe = SafePlan {
            plan: empty,
            kept: Vec::new(),
            added: 0,
            added_cost_per_hour: 0.0,
            lost: Vec::new(),
        };
        count_pinned(&mut safe.plan, &pinned);
        let judged = judge(whole, safe);
        if judged.net_saving_per_hour > 0.0 {
            return PayingConsolidation {
                safe: judged.safe,
                solution,
                move_cost_per_hour: judged.move_cost_per_hour,
                net_saving_percent: judged.net_saving_percent,
                verdict: Verdict::Pays,
                pinned,
            };
        }
    }
    let repack = carry_out_safely(problem, &solution, budget);
    // Removing the nodes the cluster no longer needs, or replacing them one at a time with
    // cheaper ones (Karpenter's delete and replace consolidation), moves fewer pods than a
    // repack and often saves more once the repack adds room for the scheduler's spreading.
    let smaller = [
        remove_underused(problem, budget),
        replace_underused(problem, budget),
    ]
    .into_iter()
    .filter(|plan| !plan.steps.is_empty() && breaches_after(whole, plan).is_empty())
    .map(|plan| SafePlan {
        plan,
        kept: Vec::new(),
        added: 0,
        added_cost_per_hour: 0.0,
        lost: Vec::new(),
    });
    let judged: Vec<Judged> = std::iter::once(repack)
        .chain(smaller)
        .map(|mut safe| {
            count_pinned(&mut safe.plan, &pinned);
            judge(whole, safe)
        })
        .collect();
    let best = choose(judged, per_moved_node_floor(whole, whole_cost(whole)));
    PayingConsolidation {
        safe: best.safe,
        solution,
        move_cost_per_hour: best.move_cost_per_hour,
        net_saving_percent: best.net_saving_percent,
        verdict: best.verdict,
        pinned,
    }
}

/// One candidate plan and the verdict on it.
struct Judged {
    safe: SafePlan,
    move_cost_per_hour: f64,
    net_saving_per_hour: f64,
    net_saving_percent: f64,
    verdict: Verdict,
}

impl Judged {
    fn moved(&self) -> usize {
        drained(&self.safe.plan)
    }
}

/// The candidate to apply: of those that pay, the one that moves the fewest nodes, unless one
/// that moves more earns at least `floor` (USD/h) for each node it moves beyond that (a repack
/// that saves a little more than removing one node, by moving five more, is churn). When none
/// pays, the one with the highest saving after the move, to say how far it falls short.
fn choose(mut judged: Vec<Judged>, floor: f64) -> Judged {
    judged.sort_by_key(Judged::moved);
    let (paying, short): (Vec<Judged>, Vec<Judged>) =
        judged.into_iter().partition(|j| j.verdict == Verdict::Pays);
    let mut paying = paying.into_iter();
    match paying.next() {
        Some(first) => paying.fold(first, |chosen, more| {
            let extra_moves = more.moved().saturating_sub(chosen.moved());
            let extra_saving = more.net_saving_per_hour - chosen.net_saving_per_hour;
            let earns = if extra_moves == 0 {
                extra_saving > 0.0
            } else {
                extra_saving >= floor * extra_moves as f64
            };
            if earns { more } else { chosen }
        }),
        None => short
            .into_iter()
            .max_by(|a, b| a.net_saving_percent.total_cmp(&b.net_saving_percent))
            .expect("the repack is always a candidate"),
    }
}

fn drained(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| matches!(s.action, StepAction::Drain { .. }))
        .count()
}

fn whole_cost(problem: &Problem) -> f64 {
    problem
        .existing_nodes
        .iter()
        .map(|n| n.price_per_hour)
        .sum()
}

fn judge(problem: &Problem, safe: SafePlan) -> Judged {
    let plan = &safe.plan;
    let move_cost_per_hour = move_cost(problem, plan) / MOVE_PAYBACK_HOURS;
    let net = plan.savings_per_hour - move_cost_per_hour;
    let net_saving_percent = if plan.current_cost_per_hour > 0.0 {
        net / plan.current_cost_per_hour * 100.0
    } else {
        0.0
    };
    let moved = drained(plan);
    let worth_moving = moved == 0
        || net_saving_percent >= SAVING_PERCENT_ALWAYS_WORTH_MOVING
        || net / moved as f64 >= per_moved_node_floor(problem, plan.current_cost_per_hour);
    let broken = breaches_after(problem, plan);
    let verdict = if plan.steps.is_empty() {
        Verdict::NothingToDo
    } else if !broken.is_empty() {
        Verdict::BreaksPolicy(broken)
    } else if net <= 0.0 || net_saving_percent < problem.policy.min_savings_percent || !worth_moving
    {
        Verdict::BelowMinimum
    } else {
        Verdict::Pays
    };
    Judged {
        safe,
        move_cost_per_hour,
        net_saving_per_hour: net,
        net_saving_percent,
        verdict,
    }
}

/// What each drained node must save, USD/h: [`MIN_SAVING_PER_MOVED_NODE`] of the average node,
/// but never more than the policy's minimum saving asks of the whole cluster (in a cluster of a
/// few large nodes a quarter of a node is most of the cluster), and never less than
/// [`MIN_MONTHLY_SAVING_PER_MOVED_NODE_USD`].
fn per_moved_node_floor(problem: &Problem, current_cost_per_hour: f64) -> f64 {
    let average_node = current_cost_per_hour / problem.existing_nodes.len().max(1) as f64;
    let policy_minimum = problem.policy.min_savings_percent / 100.0 * current_cost_per_hour;
    (MIN_SAVING_PER_MOVED_NODE * average_node)
        .min(policy_minimum)
        .max(MIN_MONTHLY_SAVING_PER_MOVED_NODE_USD / HOURS_PER_MONTH)
}

/// At most this many nodes are tried for replacement, so a large cluster is judged quickly.
const REPLACEMENT_CANDIDATES: usize = 12;

/// Replacement consolidation: nodes taken one at a time (fewest pods, then the dearest, first)
/// are retired, with the cheapest launches that place the pods the nodes that stay have no room
/// for. The nodes taken save at least the per-node floor each, together (small nodes often pay
/// only together), none is taken that adds nothing, and kube-scheduler places every evicted pod.
pub fn replace_underused(problem: &Problem, budget: DisruptionBudget) -> Plan {
    let current = &problem.existing_nodes;
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    let floor = per_moved_node_floor(problem, current_cost);
    let order = consolidation_order(current);
    let mut retire: Vec<usize> = Vec::new();
    let mut best: Option<(f64, Vec<Step>, Vec<usize>)> = None;
    let carried_out = |retire: &[usize]| {
        replacement(problem, retire, budget)
            .filter(|(_, steps)| replay(problem, steps).stranded.is_empty())
    };
    for candidate in order.into_iter().take(REPLACEMENT_CANDIDATES) {
        retire.push(candidate);
        let Some((saving, steps)) = carried_out(&retire) else {
            retire.pop();
            continue;
        };
        // Small nodes often pay only together (three one-pod nodes onto one new node): a node
        // that does not pay yet stays in the set while the set as a whole may still earn it.
        if saving >= floor * retire.len() as f64
            && best.as_ref().is_none_or(|(s, _, _)| saving > *s)
        {
            best = Some((saving, steps, retire.clone()));
        }
    }
    // A node that stayed in the set without adding to its saving is not moved.
    if let Some((mut saving, mut steps, mut set)) = best.take() {
        for node in set.clone() {
            let fewer: Vec<usize> = set.iter().copied().filter(|&i| i != node).collect();
            if let Some((less, less_steps)) =
                carried_out(&fewer).filter(|(less, _)| *less >= saving)
            {
                (saving, steps, set) = (less, less_steps, fewer);
            }
        }
        best = Some((saving, steps, set));
    }
    match best {
        Some((saving, steps, retired)) => finish_plan(
            steps,
            current_cost,
            current_cost - saving,
            format!(
                "{} node(s) replaced by cheaper capacity where the nodes that stay have no room for their pods",
                retired.len()
            ),
        ),
        None => Plan::empty(current_cost, "no node is worth replacing".into()),
    }
}

/// Retiring `retire`: the launches for the pods the other nodes have no room for, then the
/// retirements; the saving per hour. None when some evicted pod would have no place at all.
fn replacement(
    problem: &Problem,
    retire: &[usize],
    budget: DisruptionBudget,
) -> Option<(f64, Vec<Step>)> {
    let current = &problem.existing_nodes;
    let without = Problem {
        existing_nodes: current
            .iter()
            .enumerate()
            .filter(|(i, _)| !retire.contains(i))
            .map(|(_, n)| n.clone())
            .collect(),
        ..problem.clone()
    };
    let launches = provision(&without);
    if !launches.unplaceable.is_empty() {
        return None;
    }
    let launched_cost = launches.plan.target_cost_per_hour - launches.plan.current_cost_per_hour;
    let retired_cost: f64 = retire.iter().map(|&i| current[i].price_per_hour).sum();
    let mut steps = launches.plan.steps;
    let nodes: Vec<&ExistingNode> = retire.iter().map(|&i| &current[i]).collect();
    push_retirements(
        &mut steps,
        &nodes,
        budget.batch_size(current.len()),
        "kube-scheduler places its pods on the nodes that stay and the new ones",
    );
    Some((retired_cost - launched_cost, steps))
}

/// What a move spends before it saves: the launched nodes run beside the ones they replace for
/// [`MOVE_OVERLAP_HOURS`], and so do the retired ones while their pods move.
fn move_cost(problem: &Problem, plan: &Plan) -> f64 {
    let launched: f64 = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Launch {
                instance_type,
                zone,
                capacity_type,
                count,
            } => problem
                .offerings
                .iter()
                .find(|o| {
                    &o.instance_type == instance_type
                        && &o.zone == zone
                        && o.capacity_type == *capacity_type
                })
                .map(|o| o.price_per_hour * f64::from(*count)),
            _ => None,
        })
        .sum();
    let retired: f64 = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            StepAction::Drain { node } => problem
                .existing_nodes
                .iter()
                .find(|n| &n.name == node)
                .map(|n| n.price_per_hour),
            _ => None,
        })
        .sum();
    (launched + retired) * MOVE_OVERLAP_HOURS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapacityType, Policy};

    fn cluster(nodes: usize) -> Problem {
        Problem {
            offerings: crate::offerings_in("us-east-1", &["us-east-1a".to_owned()]),
            policy: Policy {
                min_savings_percent: 5.0,
                ..Default::default()
            },
            existing_nodes: (0..nodes)
                .map(|i| {
                    ExistingNode::new(
                        &format!("n{i}"),
                        "m5.large",
                        "us-east-1a",
                        CapacityType::OnDemand,
                        0.1,
                        Vec::new(),
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    /// A plan that drains `drained` of the cluster's nodes and saves `saving` USD/h.
    fn draining(problem: &Problem, drained: usize, saving: f64) -> SafePlan {
        let nodes: Vec<&ExistingNode> = problem.existing_nodes.iter().take(drained).collect();
        let mut steps = Vec::new();
        push_retirements(&mut steps, &nodes, 10, "test");
        let current: f64 = problem
            .existing_nodes
            .iter()
            .map(|n| n.price_per_hour)
            .sum();
        SafePlan {
            plan: finish_plan(steps, current, current - saving, String::new()),
            kept: Vec::new(),
            added: 0,
            added_cost_per_hour: 0.0,
            lost: Vec::new(),
        }
    }

    #[test]
    fn each_drained_node_must_earn_its_move() {
        let problem = cluster(4);
        // 4 nodes at 0.1 USD/h: each drained node must save 0.025 USD/h, and the plan 5 %.
        let small_gain_many_moves = judge(&problem, draining(&problem, 3, 0.04));
        assert_eq!(small_gain_many_moves.verdict, Verdict::BelowMinimum);
        let one_node_gone = judge(&problem, draining(&problem, 1, 0.1));
        assert_eq!(one_node_gone.verdict, Verdict::Pays);
        assert!(
            one_node_gone.move_cost_per_hour > 0.0,
            "the move has a cost"
        );
        assert!(
            one_node_gone.net_saving_percent < 25.0,
            "the saving is counted after the move's cost"
        );
    }

    #[test]
    fn a_node_the_others_have_no_room_for_is_replaced_by_a_cheaper_one() {
        let mut problem = cluster(1);
        problem.existing_nodes[0].instance_type = "m5.4xlarge".into();
        problem.existing_nodes[0].price_per_hour = 0.768;
        problem.existing_nodes[0].pods = vec!["a".into()];
        problem.pods = vec![crate::model::Pod {
            id: "a".into(),
            requests: crate::model::Resources::new(500, 512, 1, 0),
            ..Default::default()
        }];
        let plan = replace_underused(&problem, DisruptionBudget::percent(100));
        let launched = plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, StepAction::Launch { .. }))
            .count();
        assert_eq!(launched, 1, "{plan:?}");
        assert!(
            plan.steps
                .iter()
                .any(|s| matches!(&s.action, StepAction::Terminate { node } if node == "n0"))
        );
        assert!(plan.savings_per_hour > 0.5, "{plan:?}");
        assert!(replay(&problem, &plan.steps).stranded.is_empty());
    }

    #[test]
    fn a_cluster_of_one_large_node_is_held_to_the_policy_minimum_not_a_quarter_of_itself() {
        let mut problem = cluster(1);
        problem.existing_nodes[0].instance_type = "m5.2xlarge".into();
        problem.existing_nodes[0].price_per_hour = 0.4;
        // One node at 0.4 USD/h: a fifth of it saved is four times the policy's 5 %.
        let fifth_saved = judge(&problem, draining(&problem, 1, 0.08));
        assert_eq!(fifth_saved.verdict, Verdict::Pays);
        let too_little = judge(&problem, draining(&problem, 1, 0.016));
        assert_eq!(too_little.verdict, Verdict::BelowMinimum);
    }

    #[test]
    fn no_node_is_drained_for_less_than_twenty_dollars_a_month() {
        // Six small nodes at 0.0208 USD/h: removing one saves a sixth of the cluster, far above
        // the policy's 5 % and a quarter of a node, but about 15 USD a month.
        let mut problem = cluster(6);
        for node in &mut problem.existing_nodes {
            node.instance_type = "t3.small".into();
            node.price_per_hour = 0.0208;
        }
        let pennies = judge(&problem, draining(&problem, 1, 0.0208));
        assert_eq!(pennies.verdict, Verdict::BelowMinimum);
        // The same cluster on medium nodes (0.0416 USD/h): one gone saves about 30 USD a month.
        for node in &mut problem.existing_nodes {
            node.instance_type = "t3.medium".into();
            node.price_per_hour = 0.0416;
        }
        let medium_gone = judge(&problem, draining(&problem, 1, 0.0416));
        assert_eq!(medium_gone.verdict, Verdict::Pays);
        // A small cluster keeps its savings: three of four small nodes gone save three
        // quarters of it, though each only about 15 USD a month.
        let mut small = cluster(4);
        for node in &mut small.existing_nodes {
            node.instance_type = "t3.small".into();
            node.price_per_hour = 0.0208;
        }
        let most_saved = judge(&small, draining(&small, 3, 0.0624));
        assert_eq!(most_saved.verdict, Verdict::Pays);
        let half_saved = judge(&small, draining(&small, 2, 0.0416));
        assert_eq!(half_saved.verdict, Verdict::BelowMinimum);
    }

    #[test]
    fn an_empty_node_goes_whatever_it_saves_but_not_while_it_settles() {
        // 40 nodes with a pod each and one empty: removing it saves 2.4 %, below the policy's 5 %
        // and a moved node's floor, but no pod moves.
        let mut problem = cluster(41);
        for (i, node) in problem.existing_nodes.iter_mut().enumerate().skip(1) {
            node.pods = vec![format!("p{i}")];
        }
        problem.pods = (1..41)
            .map(|i| crate::model::Pod {
                id: format!("p{i}"),
                requests: crate::model::Resources::new(1_500, 6_000, 1, 0),
                ..Default::default()
            })
            .collect();
        let judged = paying_consolidation(&problem, DisruptionBudget::percent(20));
        assert!(judged.pays(), "{:?}", judged.verdict);
        assert_eq!(drained_nodes(&judged.safe.plan), vec!["n0".to_owned()]);
        // A node that joined a moment ago is empty until the pods it was launched for bind.
        problem.existing_nodes[0].settling = true;
        let judged = paying_consolidation(&problem, DisruptionBudget::percent(20));
        assert!(!drained_nodes(&judged.safe.plan).contains(&"n0".to_owned()));
    }

    fn drained_nodes(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .filter_map(|s| match &s.action {
                StepAction::Drain { node } => Some(node.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn moving_more_nodes_is_chosen_only_when_each_extra_node_earns_its_move() {
        // 8 nodes at 0.1 USD/h: each drained node must save 0.025 USD/h.
        let problem = cluster(8);
        let floor = per_moved_node_floor(&problem, 0.8);
        let candidates = |repack_saving: f64| {
            vec![
                judge(&problem, draining(&problem, 6, repack_saving)),
                judge(&problem, draining(&problem, 1, 0.1)),
            ]
        };
        // The repack pays on its own (0.033 USD/h per node moved), but its five more moves
        // add less than 0.02 USD/h each.
        let chosen = choose(candidates(0.2), floor);
        assert_eq!(candidates(0.2)[0].verdict, Verdict::Pays);
        assert_eq!(chosen.moved(), 1);
        // Five more moves for about 0.04 USD/h each.
        let chosen = choose(candidates(0.3), floor);
        assert_eq!(chosen.moved(), 6);
    }
}
