//! Can kube-scheduler carry a plan out? The engine's target says where each pod should go, but
//! evicted pods are bound by kube-scheduler, which spreads them (least allocated first) and may
//! fragment the room the target counted on. Like Karpenter's consolidation, which simulates
//! scheduling the candidates' pods onto the nodes that remain before it disrupts anything, a plan
//! is replayed here step by step with the scheduler stand-in ([`crate::scheduler_sim`]): pending
//! pods bind as soon as new nodes are Ready, each batch is cordoned, then its pods are evicted and
//! bound one at a time. A pod that finds no node is stranded.
//!
//! [`carry_out_safely`] turns a target into a plan that strands no running pod the target itself
//! can place: it first adds the cheapest capacity for the pods that would be stranded (a few
//! rounds at most), and failing that keeps each node whose drain would strand one (the plan then
//! costs and saves what the added and kept nodes make it). Pods the target cannot place at all (a taint no pool lets them
//! tolerate, say) are reported as lost, so a caller can refuse the plan or accept their loss.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::model::{ExistingNode, Offering, Pod, Problem, Solution, well_known};
use crate::plan::{DisruptionBudget, Plan, Step, StepAction, finish_plan, moves};
use crate::scheduler_sim::{SimNode, schedule_one};

/// A running pod the plan would evict with no node for it to go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stranded {
    pub pod: String,
    /// The node whose drain evicts it.
    pub node: String,
    pub reason: String,
}

/// What replaying a plan's steps with the scheduler stand-in shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replay {
    pub stranded: Vec<Stranded>,
    /// Pods pending before the plan that are still pending after it, with why.
    pub still_pending: Vec<(String, String)>,
}

/// The scheduler's view of an existing node. A reported node (its allocatable known) is taken as
/// reported, with the well-known labels a kubelet sets derived where the report lacks them;
/// otherwise the node looks like a new node of its offering.
pub(crate) fn sim_node(node: &ExistingNode, offerings: &[Offering]) -> SimNode {
    let offering = offerings
        .iter()
        .find(|o| {
            o.instance_type == node.instance_type
                && o.zone == node.zone
                && o.capacity_type == node.capacity_type
        })
        .or_else(|| {
            offerings
                .iter()
                .find(|o| o.instance_type == node.instance_type)
        });
    let mut sim = match (node.allocatable, offering) {
        (Some(allocatable), _) => SimNode::new(
            &node.name,
            allocatable,
            BTreeMap::new(),
            node.taints.clone(),
        ),
        (None, Some(offering)) => SimNode::of_offering(&node.name, offering),
        (None, None) => {
            let allocatable = spot_cloud::Catalog::embedded()
                .get(&node.instance_type)
                .map(crate::catalog_offerings::allocatable)
                .unwrap_or_default();
            SimNode::new(
                &node.name,
                allocatable,
                BTreeMap::new(),
                node.taints.clone(),
            )
        }
    };
    sim.labels.extend(node.labels.clone());
    let derived = [
        (well_known::ZONE, node.zone.as_str()),
        (well_known::INSTANCE_TYPE, node.instance_type.as_str()),
        (well_known::CAPACITY_TYPE, node.capacity_type.label()),
    ];
    for (key, value) in derived {
        sim.labels
            .entry(key.to_owned())
            .or_insert_with(|| value.to_owned());
    }
    if let Some(arch) = offering.and_then(|o| o.label(well_known::ARCH)) {
        sim.labels
            .entry(well_known::ARCH.to_owned())
            .or_insert_with(|| arch.to_owned());
    }
    sim.schedulable = !node.cordoned;
    sim
}

/// The cluster while a plan is replayed: the scheduler's nodes and which pods each runs.
struct World<'a> {
    nodes: Vec<SimNode>,
    on: Vec<Vec<&'a Pod>>,
}

impl<'a> World<'a> {
    fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    fn bind(&mut self, pod: &'a Pod) -> Result<(), String> {
        let at = schedule_one(&mut self.nodes, pod)?;
        self.on[at].push(pod);
        Ok(())
    }
}

/// Binds what it can of the pending pods; the rest stay pending, with the scheduler's reason.
fn retry<'a>(
    world: &mut World<'a>,
    pending: &mut Vec<&'a Pod>,
    why_pending: &mut BTreeMap<String, String>,
) {
    pending.retain(|pod| match world.bind(pod) {
        Ok(()) => {
            why_pending.remove(&pod.id);
            false
        }
        Err(reason) => {
            why_pending.insert(pod.id.clone(), reason);
            true
        }
    });
}

/// Replays `steps` from the problem's current nodes with the scheduler stand-in.
pub fn replay(problem: &Problem, steps: &[Step]) -> Replay {
    let pods: HashMap<&str, &Pod> = problem.pods.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut world = World {
        nodes: Vec::new(),
        on: Vec::new(),
    };
    let mut running: HashSet<&str> = HashSet::new();
    for node in &problem.existing_nodes {
        let mut sim = sim_node(node, &problem.offerings);
        let mut on = Vec::new();
        for id in &node.pods {
            if let Some(pod) = pods.get(id.as_str()) {
                sim.bind(pod);
                on.push(*pod);
                running.insert(id.as_str());
            }
        }
        world.nodes.push(sim);
        world.on.push(on);
    }
    // Pending pods bind to whatever room there is now, then again once new nodes are Ready.
    let mut pending: Vec<&Pod> = problem
        .pods
        .iter()
        .filter(|p| !running.contains(p.id.as_str()))
        .collect();
    let mut why_pending: BTreeMap<String, String> = BTreeMap::new();
    retry(&mut world, &mut pending, &mut why_pending);
    let mut launched: Vec<String> = Vec::new();
    let mut stranded = Vec::new();
    for step in steps {
        match &step.action {
            StepAction::Launch {
                instance_type,
                zone,
                capacity_type,
                count,
            } => {
                let offering = problem.offerings.iter().find(|o| {
                    o.instance_type == *instance_type
                        && o.zone == *zone
                        && o.capacity_type == *capacity_type
                });
                let Some(offering) = offering else { continue };
                for _ in 0..*count {
                    // A name no reported node has: kubelets name nodes after their hosts.
                    let name = format!("(launch {})", launched.len() + 1);
                    launched.push(name.clone());
                    // Not Ready until the wait: nothing binds to it before then.
                    world
                        .nodes
                        .push(SimNode::of_offering(&name, offering).cordoned());
                    world.on.push(Vec::new());
                }
            }
            StepAction::WaitReady { .. } => {
                for node in world
                    .nodes
                    .iter_mut()
                    .filter(|n| launched.contains(&n.name))
                {
                    node.schedulable = true;
                }
                retry(&mut world, &mut pending, &mut why_pending);
            }
            StepAction::Cordon { node } => {
                if let Some(i) = world.index(node) {
                    world.nodes[i].schedulable = false;
                }
            }
            StepAction::Drain { node } => {
                let Some(i) = world.index(node) else { continue };
                world.nodes[i].schedulable = false;
                world.nodes[i].unbind_all();
                let evicted = std::mem::take(&mut world.on[i]);
                for pod in evicted {
                    if let Err(reason) = world.bind(pod) {
                        stranded.push(Stranded {
                            pod: pod.id.clone(),
                            node: node.clone(),
                            reason,
                        });
                    }
                }
            }
            StepAction::Terminate { node } => {
                if let Some(i) = world.index(node) {
                    world.nodes.remove(i);
                    world.on.remove(i);
                }
            }
        }
    }
    Replay {
        stranded,
        still_pending: pending
            .iter()
            .map(|p| {
                let why = why_pending.get(&p.id).cloned().unwrap_or_default();
                (p.id.clone(), why)
            })
            .collect(),
    }
}

/// Rounds of added capacity before nodes are kept instead: each round places every pod stranded
/// in it, so more rounds only follow the scheduler's spreading further.
const MAX_ROUNDS_ADDING: u32 = 3;

/// The cheapest new nodes for the stranded pods alone (the policy's admission kept, its
/// cluster-wide shares left to the next consolidation); None when they would not place them all.
fn room_for(problem: &Problem, stranded: &[Stranded]) -> Option<Solution> {
    let ids: HashSet<&str> = stranded.iter().map(|s| s.pod.as_str()).collect();
    let sub = Problem {
        offerings: problem.offerings.clone(),
        pods: problem
            .pods
            .iter()
            .filter(|p| ids.contains(p.id.as_str()))
            .cloned()
            .collect(),
        policy: crate::model::Policy {
            on_demand_base: 0,
            spot_share_percent: 100,
            min_spot_pools: 0,
            ..problem.policy.clone()
        },
        risk_flags: problem.risk_flags.clone(),
        existing_nodes: Vec::new(),
    };
    let solution = crate::strategy::live().solve(&sub);
    (solution.unschedulable.is_empty() && !solution.nodes.is_empty()).then_some(solution)
}

/// A plan kube-scheduler can carry out, and what it could not avoid.
#[derive(Debug, Clone, PartialEq)]
pub struct SafePlan {
    pub plan: Plan,
    /// Nodes the target retires that the plan keeps, so their pods are not stranded.
    pub kept: Vec<String>,
    /// Nodes launched beyond the target so that kube-scheduler finds room for every pod, and
    /// what they cost per hour.
    pub added: u32,
    pub added_cost_per_hour: f64,
    /// Running pods the target itself has no place for, which the plan would evict.
    pub lost: Vec<Stranded>,
}

/// The plan from the current nodes to `target`, keeping every node whose drain would strand a
/// pod the target can place (the scheduler would not put it where the target does). Pods the
/// target cannot place are left as `lost`.
pub fn carry_out_safely(
    problem: &Problem,
    target: &Solution,
    budget: DisruptionBudget,
) -> SafePlan {
    let current = &problem.existing_nodes;
    let mut moves = moves(current, target);
    let unplaceable: HashSet<&str> = target.unschedulable.iter().map(|u| u.id.as_str()).collect();
    let mut retire = moves.retire.clone();
    let mut kept = Vec::new();
    let (mut added, mut added_cost) = (0u32, 0.0);
    let mut rounds_adding = 0;
    // Each round adds capacity (a few times at most) or keeps one node more, so this ends
    // within as many rounds as nodes retire, plus those.
    let (steps, lost) = loop {
        let steps = moves.steps(current, &retire, budget);
        let replayed = replay(problem, &steps);
        let (lost, avoidable): (Vec<Stranded>, Vec<Stranded>) = replayed
            .stranded
            .into_iter()
            .partition(|s| unplaceable.contains(s.pod.as_str()));
        let Some(first) = avoidable.first() else {
            break (steps, lost);
        };
        if rounds_adding < MAX_ROUNDS_ADDING
            && let Some(extra) = room_for(problem, &avoidable)
        {
            rounds_adding += 1;
            for node in &extra.nodes {
                let key = (
                    node.instance_type.clone(),
                    node.zone.clone(),
                    node.capacity_type,
                );
                moves.prices.insert(key.clone(), node.price_per_hour);
                match moves.launches.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, count)) => *count += 1,
                    None => moves.launches.push((key, 1)),
                }
            }
            added += extra.nodes.len() as u32;
            added_cost += extra.cost_per_hour;
            continue;
        }
        let Some(at) = retire.iter().position(|&i| current[i].name == first.node) else {
            break (steps, lost);
        };
        kept.push(current[retire.remove(at)].name.clone());
    };
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    let kept_cost: f64 = current
        .iter()
        .filter(|n| kept.contains(&n.name))
        .map(|n| n.price_per_hour)
        .sum();
    let plan = finish_plan(
        steps,
        current_cost,
        target.cost_per_hour + kept_cost + added_cost,
        String::new(),
    );
    SafePlan {
        plan,
        kept,
        added,
        added_cost_per_hour: added_cost,
        lost,
    }
}

/// Consolidation by deletion alone (Karpenter's delete consolidation): the nodes whose pods
/// kube-scheduler would bind to the nodes that stay, taken greedily (fewest pods, then the
/// dearest, first), removed with nothing launched. A repack the engine finds may be cheaper on
/// paper, but once capacity is added for the scheduler's spreading it often saves less than
/// simply removing the nodes the cluster no longer needs. The policy's on-demand share is kept.
pub fn remove_underused(problem: &Problem, budget: DisruptionBudget) -> Plan {
    let current = &problem.existing_nodes;
    let order = consolidation_order(current);
    let steps_for = |retire: &[usize]| {
        let nodes: Vec<&ExistingNode> = retire.iter().map(|&i| &current[i]).collect();
        let mut steps = Vec::new();
        crate::plan::push_retirements(
            &mut steps,
            &nodes,
            budget.batch_size(current.len()),
            "kube-scheduler places its pods on the nodes that stay",
        );
        steps
    };
    let mut retire: Vec<usize> = Vec::new();
    for candidate in order {
        retire.push(candidate);
        let staying: Vec<&ExistingNode> = current
            .iter()
            .enumerate()
            .filter(|(i, _)| !retire.contains(i))
            .map(|(_, n)| n)
            .collect();
        let on_demand = staying
            .iter()
            .filter(|n| n.capacity_type == crate::model::CapacityType::OnDemand)
            .count();
        let keeps_policy = on_demand >= problem.policy.required_on_demand(staying.len());
        if !keeps_policy || !replay(problem, &steps_for(&retire)).stranded.is_empty() {
            retire.pop();
        }
    }
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    let saving: f64 = retire.iter().map(|&i| current[i].price_per_hour).sum();
    let reason = format!(
        "{} node(s) can go with nothing launched: kube-scheduler places their pods on the nodes that stay",
        retire.len()
    );
    finish_plan(
        steps_for(&retire),
        current_cost,
        current_cost - saving,
        reason,
    )
}

/// The order in which consolidation takes nodes: the schedulable ones, fewest pods first, then
/// the dearest (then by name, so the order is stable). Indexes into `nodes`.
pub fn consolidation_order(nodes: &[ExistingNode]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..nodes.len()).filter(|&i| !nodes[i].cordoned).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes[a], &nodes[b]);
        a.pods
            .len()
            .cmp(&b.pods.len())
            .then(b.price_per_hour.total_cmp(&a.price_per_hour))
            .then(a.name.cmp(&b.name))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CapacityType, Node, Resources};
    use crate::plan::plan;

    fn offering(instance_type: &str, cpu_m: i64, price: f64) -> Offering {
        Offering {
            instance_type: instance_type.into(),
            zone: "z-a".into(),
            capacity_type: CapacityType::OnDemand,
            price_per_hour: price,
            on_demand_price_per_hour: price,
            vcpus: (cpu_m / 1000) as u32,
            architecture: crate::model::Architecture::Amd64,
            allocatable: Resources::new(cpu_m, cpu_m * 4, 110, 0),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            interruption_bucket: None,
        }
    }

    fn pod(id: &str, cpu_m: i64) -> Pod {
        Pod {
            id: id.into(),
            requests: Resources::new(cpu_m, 100, 1, 0),
            ..Default::default()
        }
    }

    fn node(name: &str, instance_type: &str, price: f64, pods: &[&str]) -> ExistingNode {
        ExistingNode::new(
            name,
            instance_type,
            "z-a",
            CapacityType::OnDemand,
            price,
            pods.iter().map(|p| (*p).to_owned()).collect(),
        )
    }

    /// Three 2-cpu nodes running a 1-cpu pod each (`a`, `b`) and a 1.5-cpu pod (`c`). The
    /// engine's target packs both small pods on one node and the big one on the other, so two
    /// nodes stay and `c` goes; but no pod moves off `a` or `b` to make room for the big one.
    fn fragmenting() -> (Problem, Solution) {
        let small = offering("small.2x", 2_000, 1.0);
        let problem = Problem {
            offerings: vec![small],
            pods: vec![pod("x1", 1_000), pod("x2", 1_000), pod("big", 1_500)],
            existing_nodes: vec![
                node("a", "small.2x", 1.0, &["x1"]),
                node("b", "small.2x", 1.0, &["x2"]),
                node("c", "small.2x", 1.0, &["big"]),
            ],
            ..Default::default()
        };
        // The engine's view: x1 and x2 share one node, big has the other; c goes.
        let target = Solution {
            nodes: vec![
                Node {
                    name: "t1".into(),
                    offering: 0,
                    instance_type: "small.2x".into(),
                    zone: "z-a".into(),
                    capacity_type: CapacityType::OnDemand,
                    price_per_hour: 1.0,
                    pods: vec![0, 1],
                },
                Node {
                    name: "t2".into(),
                    offering: 0,
                    instance_type: "small.2x".into(),
                    zone: "z-a".into(),
                    capacity_type: CapacityType::OnDemand,
                    price_per_hour: 1.0,
                    pods: vec![2],
                },
            ],
            cost_per_hour: 2.0,
            ..Default::default()
        };
        (problem, target)
    }

    #[test]
    fn a_drain_whose_pods_the_scheduler_cannot_bind_strands_them() {
        let (problem, target) = fragmenting();
        // The engine's plan retires `c`, but its 1.5-cpu pod finds 1 cpu free on each of a and b.
        let naive = plan(&problem.existing_nodes, &target, DisruptionBudget::nodes(1));
        let replayed = replay(&problem, &naive.steps);
        assert_eq!(replayed.stranded.len(), 1, "{replayed:?}");
        assert_eq!(replayed.stranded[0].pod, "big");
        assert_eq!(
            replayed.stranded[0].reason,
            "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) were unschedulable"
        );
    }

    #[test]
    fn the_safe_plan_adds_capacity_for_pods_the_scheduler_would_strand() {
        let (problem, target) = fragmenting();
        let safe = carry_out_safely(&problem, &target, DisruptionBudget::nodes(1));
        assert_eq!(safe.added, 1);
        assert!(safe.kept.is_empty() && safe.lost.is_empty());
        assert!(matches!(
            safe.plan.steps[0].action,
            StepAction::Launch { count: 1, .. }
        ));
        // One node more, one node fewer: the move saves nothing, and a caller will not apply it.
        assert_eq!(safe.plan.savings_per_hour, 0.0);
        assert!(replay(&problem, &safe.plan.steps).stranded.is_empty());
    }

    #[test]
    fn the_safe_plan_keeps_the_node_whose_drain_would_strand_a_pod() {
        let (mut problem, target) = fragmenting();
        // No capacity can be added (the price cap admits nothing new): the node stays.
        problem.policy.max_price_per_vcpu_hour = Some(0.01);
        let safe = carry_out_safely(&problem, &target, DisruptionBudget::nodes(1));
        assert_eq!(safe.kept, vec!["c".to_owned()]);
        assert!(safe.lost.is_empty());
        assert!(safe.plan.steps.is_empty(), "{:?}", safe.plan.steps);
        assert_eq!(safe.plan.savings_per_hour, 0.0);
        assert!(replay(&problem, &safe.plan.steps).stranded.is_empty());
    }

    #[test]
    fn pods_the_target_cannot_place_are_lost_not_kept_for() {
        let (mut problem, mut target) = fragmenting();
        problem.pods[2].requests.cpu_m = 4_000;
        target.nodes.pop();
        target.cost_per_hour = 1.0;
        target.unschedulable.push(crate::model::Unschedulable {
            pod: 2,
            id: "big".into(),
            reason: "needs 4000m cpu".into(),
        });
        let safe = carry_out_safely(&problem, &target, DisruptionBudget::nodes(1));
        assert_eq!(safe.lost.len(), 1);
        assert_eq!(safe.lost[0].pod, "big");
        assert_eq!(safe.lost[0].node, "c");
    }

    #[test]
    fn pending_pods_bind_once_new_nodes_are_ready() {
        let (mut problem, _) = fragmenting();
        problem.offerings.push(offering("large.8x", 8_000, 3.0));
        problem.pods.push(pod("waiting", 3_000));
        let before = replay(&problem, &[]);
        assert_eq!(before.still_pending.len(), 1);
        assert!(before.still_pending[0].1.contains("Insufficient cpu"));
        let steps = vec![
            Step {
                action: StepAction::Launch {
                    instance_type: "large.8x".into(),
                    zone: "z-a".into(),
                    capacity_type: CapacityType::OnDemand,
                    count: 1,
                },
                batch: 0,
                explanation: String::new(),
            },
            Step {
                action: StepAction::WaitReady { count: 1 },
                batch: 0,
                explanation: String::new(),
            },
        ];
        assert!(replay(&problem, &steps).still_pending.is_empty());
    }

    #[test]
    fn nodes_whose_pods_fit_on_the_others_are_removed_and_no_more() {
        // a and b run 1 cpu each on 2 cpu nodes, c runs nothing: c goes, and one of a and b
        // (its pod fits beside the other's), but not both.
        let (mut problem, _) = fragmenting();
        problem.pods.truncate(2);
        problem.existing_nodes[2].pods.clear();
        let plan = remove_underused(&problem, DisruptionBudget::nodes(1));
        let drained: Vec<&str> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                StepAction::Drain { node } => Some(node.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(drained, ["c", "a"], "{:?}", plan.steps);
        assert_eq!(plan.savings_per_hour, 2.0);
        assert!(replay(&problem, &plan.steps).stranded.is_empty());
        assert!(
            !plan
                .steps
                .iter()
                .any(|s| matches!(s.action, StepAction::Launch { .. }))
        );
    }
}
