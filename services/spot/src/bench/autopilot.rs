//! `spot bench autopilot`: the demo's three clusters run for simulated hours, in 10 s ticks, with
//! workload churn (scale-ups, scale-downs, deployments rolling), kube-scheduler's stand-in binding
//! pods (least allocated first), the ReplicaSet controller choosing which pods a scale-down
//! removes, new nodes joining `launch_s` after a launch, and the autopilot's
//! rules deciding what to apply, and spot nodes reclaimed by AWS after its two-minute notice.
//! Everything is the pure engine; no server, no clock. The offerings are the built-in policy's:
//! spot in interruption buckets 0 to 2, of the architectures the clusters run (amd64), each
//! with what the DaemonSets leave of it.
//!
//! `--rules after` are the autopilot's rules: launch-only provisioning for pods the scheduler
//! cannot bind, at once, beside any plan running (pods already launched for are left out); an
//! interruption answered at once for the noticed node; a consolidation only alone, when no pod
//! waits for capacity, the last one is done and 5 minutes old, nodes that joined less than 10
//! minutes ago stay, and the optimizer's own judgement (`engine::paying_consolidation`) says it
//! pays: kube-scheduler can carry it out (nodes are kept rather than strand a pod) and it saves
//! at least the policy's minimum once the move is paid for. The agent ranks the pods for
//! scale-downs every minute (`pod-deletion-cost`, see `engine::pod_deletion_costs`), so the
//! ReplicaSet controller empties the nodes consolidation would take first, and the autopilot
//! taints the nodes the cluster could do without `PreferNoSchedule` (`engine::nodes_to_empty`),
//! so new pods land elsewhere and an emptied node goes with nothing moved. `--rules before` are the rules this
//! replaced: after the 30 s settle and the 5 minute cool-down, the full re-plan, applied when it
//! saves the minimum or places a waiting pod, whatever it costs.

use std::collections::{BTreeMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spot_engine as engine;
use spot_engine::scheduler_sim::{SimNode, schedule_one};

use crate::demo::FLEET;

const TICK_S: f64 = 10.0;
const SETTLE_S: f64 = 30.0;
const COOLDOWN_S: f64 = 300.0;
const RELAUNCH_AFTER_S: f64 = 600.0;
const MIN_SAVINGS_PERCENT: f64 = 5.0;
/// AWS's spot interruption notice comes two minutes before the instance goes.
const NOTICE_S: f64 = 120.0;
/// A pool with a notice is kept out of new capacity this long.
const FLAG_S: f64 = 3_600.0;
/// How often the agent refreshes the pods' deletion costs.
const DELETION_COSTS_EVERY_S: f64 = 60.0;

/// What every node's DaemonSet pods request, as on EKS: kube-proxy (100m), the VPC CNI (25m),
/// the EBS CSI node driver (30m) and their memory, three pod slots.
fn daemon_sets() -> engine::Resources {
    engine::Resources::new(155, 240, 3, 0)
}

/// The built-in policy's disruption budget: a fifth of the nodes at a time.
fn budget() -> engine::DisruptionBudget {
    engine::DisruptionBudget::percent(20)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    Before,
    After,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Provisioning,
    Consolidation,
    InterruptionResponse,
}

struct RunningPlan {
    id: u64,
    kind: Kind,
    steps: VecDeque<engine::Step>,
    /// Nodes this plan launched, ready at these times.
    launched: Vec<String>,
}

/// A waiting pod's launch, as `spot_optimizer`'s autopilot remembers it: the pod is not
/// launched for again while the plan runs; once it ended with the pod still waiting (another pod
/// took the room), once more at once, then not before [`RELAUNCH_AFTER_S`].
struct Launched {
    first_at: f64,
    plan: u64,
    attempts: u32,
}

struct Node {
    /// When it joined Ready; the demo's first nodes ran long before.
    launched_at: f64,
    existing: engine::ExistingNode,
    offering: engine::Offering,
    ready_at: f64,
}

struct World {
    offerings: Vec<engine::Offering>,
    nodes: Vec<Node>,
    /// Pod id -> (pod, node it runs on, pending since).
    pods: BTreeMap<String, (engine::Pod, Option<String>, f64)>,
    /// Workload -> (pod template, replicas, next pod number).
    workloads: Vec<(engine::Pod, u32, u32)>,
    /// Plans running now: provisioning runs beside others; a consolidation only alone.
    plans: Vec<RunningPlan>,
    changed_at: f64,
    last_consolidation: f64,
    /// Pod id -> the provisioning that launched for it (as the autopilot remembers it).
    launched_for: BTreeMap<String, Launched>,
    next_plan: u64,
    next_node: u32,
    /// Spot nodes AWS reclaims, and when (two minutes after the notice).
    reclaimed_at: BTreeMap<String, f64>,
    /// Pools with a notice, flagged for new capacity until then.
    flagged_until: Vec<(engine::PoolRef, f64)>,
    /// The pods' `pod-deletion-cost` annotations, as the autopilot last set them.
    deletion_costs: BTreeMap<String, i32>,
}

#[derive(Default)]
struct Figures {
    /// Drained nodes that had pods to move.
    node_moves: u64,
    /// Drained nodes with no pod left: nothing moved.
    empty_nodes_removed: u64,
    moves_by_kind: BTreeMap<&'static str, u64>,
    steady_node_moves: u64,
    /// Node count summed over the steady ticks, for the average.
    steady_node_ticks: f64,
    steady_ticks: f64,
    pending_pod_s: f64,
    longest_pending_s: f64,
    plans: BTreeMap<&'static str, u64>,
    negative_saving_consolidations: u64,
    cost_usd: f64,
    steady_cost_usd: f64,
    cheapest_samples: Vec<f64>,
    steady_cheapest_usd_per_hour: f64,
    steady_samples: u64,
    pods_lost: u64,
    interruptions: u64,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Provisioning => "provisioning",
        Kind::Consolidation => "consolidation",
        Kind::InterruptionResponse => "interruption_response",
    }
}

impl World {
    fn new(shape: &crate::demo::ClusterShape, offerings: Vec<engine::Offering>) -> Self {
        let mut world = World {
            offerings,
            nodes: Vec::new(),
            pods: BTreeMap::new(),
            workloads: Vec::new(),
            plans: Vec::new(),
            changed_at: 0.0,
            last_consolidation: f64::NEG_INFINITY,
            launched_for: BTreeMap::new(),
            next_plan: 0,
            next_node: 0,
            reclaimed_at: BTreeMap::new(),
            flagged_until: Vec::new(),
            deletion_costs: BTreeMap::new(),
        };
        for (zone, instance_type, count) in shape.nodes {
            for _ in 0..*count {
                let on_demand = world
                    .offering(instance_type, zone, engine::CapacityType::OnDemand)
                    .cloned();
                if let Some(offering) = on_demand {
                    world.add_node(offering, 0.0);
                }
            }
        }
        // As the optimizer does for a policy silent on architectures: the demo's clusters run
        // amd64, so they keep to it.
        let mut admitted = world.problem(&[], 0.0);
        engine::keep_architectures_in_use(&mut admitted);
        world.offerings = admitted.offerings;
        for w in shape.workloads {
            let template = engine::Pod {
                id: format!("{}/{}", w.namespace, w.app),
                requests: engine::Resources::new(w.cpu_millis, w.memory_mib, 1, 0),
                labels: [("app".to_owned(), w.app.to_owned())].into(),
                ..Default::default()
            };
            world.workloads.push((template, 0, 0));
            let index = world.workloads.len() - 1;
            world.scale(index, w.replicas, 0.0);
        }
        world
    }

    fn offering(
        &self,
        instance_type: &str,
        zone: &str,
        capacity_type: engine::CapacityType,
    ) -> Option<&engine::Offering> {
        self.offerings.iter().find(|o| {
            o.instance_type == instance_type && o.zone == zone && o.capacity_type == capacity_type
        })
    }

    fn add_node(&mut self, offering: engine::Offering, ready_at: f64) -> String {
        self.next_node += 1;
        let name = format!("node-{}", self.next_node);
        let mut existing = engine::ExistingNode::new(
            &name,
            &offering.instance_type,
            &offering.zone,
            offering.capacity_type,
            offering.price_per_hour,
            Vec::new(),
        );
        existing.allocatable = Some(offering.allocatable);
        existing.cordoned = ready_at > 0.0;
        self.nodes.push(Node {
            launched_at: if ready_at > 0.0 {
                ready_at
            } else {
                f64::NEG_INFINITY
            },
            existing,
            offering,
            ready_at,
        });
        name
    }

    /// Sets a workload's replicas: new pods wait for the scheduler, removed ones go at once.
    fn scale(&mut self, workload: usize, replicas: u32, now: f64) {
        let (template, mut current, mut next) = self.workloads[workload].clone();
        while current < replicas {
            let mut pod = template.clone();
            pod.id = format!("{}-{next}", template.id);
            next += 1;
            current += 1;
            self.pods.insert(pod.id.clone(), (pod, None, now));
        }
        let prefix = format!("{}-", template.id);
        let mut victims = self.scale_down_order(&prefix);
        while current > replicas {
            let Some(id) = victims.next() else {
                break;
            };
            self.unbind(&id);
            self.pods.remove(&id);
            current -= 1;
        }
        self.workloads[workload] = (template, current, next);
        self.changed_at = now;
    }

    /// The ReplicaSet controller's order for a scale-down: pods not yet bound, then the lowest
    /// `pod-deletion-cost`, then pods doubled up with others of the workload on one node, then the
    /// newest.
    fn scale_down_order(&self, prefix: &str) -> std::vec::IntoIter<String> {
        let on_node = |node: &Option<String>| {
            self.pods
                .iter()
                .filter(|(id, (_, n, _))| id.starts_with(prefix) && n.is_some() && n == node)
                .count()
        };
        let mut pods: Vec<(bool, i32, usize, u64, String)> = self
            .pods
            .iter()
            .filter(|(id, _)| id.starts_with(prefix))
            .map(|(id, (_, node, _))| {
                let number = id[prefix.len()..].parse::<u64>().unwrap_or(0);
                (
                    node.is_some(),
                    self.deletion_costs.get(id).copied().unwrap_or(0),
                    usize::MAX - on_node(node),
                    u64::MAX - number,
                    id.clone(),
                )
            })
            .collect();
        pods.sort();
        pods.into_iter()
            .map(|(_, _, _, _, id)| id)
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// A rolling deployment: every pod of the workload is replaced by a new one.
    fn roll(&mut self, workload: usize, now: f64) {
        let replicas = self.workloads[workload].1;
        self.scale(workload, 0, now);
        self.scale(workload, replicas, now);
    }

    fn unbind(&mut self, id: &str) {
        for node in &mut self.nodes {
            node.existing.pods.retain(|p| p != id);
        }
    }

    /// kube-scheduler: binds the pending pods, oldest first, to the least allocated node.
    fn schedule(&mut self) {
        let mut sim: Vec<SimNode> = self
            .nodes
            .iter()
            .map(|n| {
                let mut s = SimNode::of_offering(&n.existing.name, &n.offering);
                s.schedulable = !n.existing.cordoned;
                s.taints.extend(n.existing.taints.iter().cloned());
                for id in &n.existing.pods {
                    if let Some((pod, _, _)) = self.pods.get(id) {
                        s.bind(pod);
                    }
                }
                s
            })
            .collect();
        let mut pending: Vec<(f64, String)> = self
            .pods
            .iter()
            .filter(|(_, (_, node, _))| node.is_none())
            .map(|(id, (_, _, since))| (*since, id.clone()))
            .collect();
        pending.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, id) in pending {
            let Some((pod, _, _)) = self.pods.get(&id) else {
                continue;
            };
            if let Ok(at) = schedule_one(&mut sim, pod) {
                self.nodes[at].existing.pods.push(id.clone());
                if let Some(entry) = self.pods.get_mut(&id) {
                    entry.1 = Some(self.nodes[at].existing.name.clone());
                }
            }
        }
    }

    /// The engine's problem at `now`; nodes that joined in the last 10 minutes settle, as the
    /// autopilot marks them (`spot_optimizer`'s `problem::mark_settling`).
    fn problem(&self, skip: &[String], now: f64) -> engine::Problem {
        engine::Problem {
            offerings: self.offerings.clone(),
            pods: self
                .pods
                .values()
                .filter(|(p, node, _)| node.is_some() || !skip.contains(&p.id))
                .map(|(p, _, _)| p.clone())
                .collect(),
            policy: engine::Policy {
                min_savings_percent: MIN_SAVINGS_PERCENT,
                ..Default::default()
            },
            risk_flags: self.flagged_until.iter().map(|(p, _)| p.clone()).collect(),
            existing_nodes: self
                .nodes
                .iter()
                .map(|n| {
                    let mut existing = n.existing.clone();
                    existing.settling =
                        (now - n.launched_at) * 1_000.0 < engine::NEW_NODE_SETTLES_MS as f64;
                    existing
                })
                .collect(),
        }
    }

    /// The autopilot's `PreferNoSchedule` taint on the nodes left to empty, and off the others.
    fn mark_emptying(&mut self, emptying: &[String]) {
        for node in &mut self.nodes {
            node.existing
                .taints
                .retain(|t| t.key != engine::EMPTYING_TAINT_KEY);
            if emptying.contains(&node.existing.name) {
                node.existing.taints.push(engine::emptying_taint());
            }
        }
    }

    fn cost_per_hour(&self) -> f64 {
        self.nodes.iter().map(|n| n.existing.price_per_hour).sum()
    }

    fn pending(&self) -> Vec<(String, f64)> {
        self.pods
            .iter()
            .filter(|(_, (_, node, _))| node.is_none())
            .map(|(id, (_, _, since))| (id.clone(), *since))
            .collect()
    }

    /// Runs each plan's steps that can run now.
    fn advance_plans(
        &mut self,
        rules: Rules,
        now: f64,
        launch_s: f64,
        figures: &mut Figures,
        steady: bool,
    ) {
        for plan in std::mem::take(&mut self.plans) {
            if let Some(unfinished) = self.advance(plan, rules, now, launch_s, figures, steady) {
                self.plans.push(unfinished);
            }
        }
    }

    /// Runs the plan's steps that can run now; one disruption step per tick (evictions and
    /// terminations take time), a wait until the launched nodes are Ready. The plan back while
    /// it has steps left.
    fn advance(
        &mut self,
        mut plan: RunningPlan,
        rules: Rules,
        now: f64,
        launch_s: f64,
        figures: &mut Figures,
        steady: bool,
    ) -> Option<RunningPlan> {
        while let Some(step) = plan.steps.front().cloned() {
            match step.action {
                engine::StepAction::Launch {
                    instance_type,
                    zone,
                    capacity_type,
                    count,
                } => {
                    if let Some(offering) =
                        self.offering(&instance_type, &zone, capacity_type).cloned()
                    {
                        for _ in 0..count {
                            let name = self.add_node(offering.clone(), now + launch_s);
                            plan.launched.push(name);
                        }
                    }
                }
                engine::StepAction::WaitReady { .. } => {
                    let ready = self
                        .nodes
                        .iter()
                        .filter(|n| plan.launched.contains(&n.existing.name))
                        .all(|n| n.ready_at <= now);
                    if !ready {
                        return Some(plan);
                    }
                }
                engine::StepAction::Cordon { node } => {
                    if let Some(n) = self.nodes.iter_mut().find(|n| n.existing.name == node) {
                        n.existing.cordoned = true;
                    }
                }
                engine::StepAction::Drain { node } => {
                    let evicted: Vec<String> = self
                        .nodes
                        .iter_mut()
                        .find(|n| n.existing.name == node)
                        .map(|n| std::mem::take(&mut n.existing.pods))
                        .unwrap_or_default();
                    for id in &evicted {
                        if let Some(entry) = self.pods.get_mut(id) {
                            entry.1 = None;
                            entry.2 = now;
                        }
                    }
                    if evicted.is_empty() {
                        figures.empty_nodes_removed += 1;
                    } else {
                        figures.node_moves += 1;
                        *figures
                            .moves_by_kind
                            .entry(kind_name(plan.kind))
                            .or_default() += 1;
                        if steady {
                            figures.steady_node_moves += 1;
                        }
                    }
                    self.schedule();
                    plan.steps.pop_front();
                    return Some(plan);
                }
                engine::StepAction::Terminate { node } => {
                    if let Some(at) = self.nodes.iter().position(|n| n.existing.name == node) {
                        let gone = self.nodes.remove(at);
                        // A pod still on a terminated node is lost with it.
                        for id in gone.existing.pods {
                            figures.pods_lost += 1;
                            if let Some(entry) = self.pods.get_mut(&id) {
                                entry.1 = None;
                                entry.2 = now;
                            }
                        }
                    }
                }
            }
            plan.steps.pop_front();
        }
        // Done. The autopilot's cool-down runs from when a consolidation settled; the rules it
        // replaced counted from when a plan started.
        if plan.kind == Kind::Consolidation && rules == Rules::After {
            self.last_consolidation = now;
        }
        self.changed_at = now;
        None
    }

    fn start(&mut self, kind: Kind, plan: &engine::Plan, figures: &mut Figures) -> u64 {
        *figures.plans.entry(kind_name(kind)).or_default() += 1;
        let drains = plan
            .steps
            .iter()
            .any(|s| matches!(s.action, engine::StepAction::Drain { .. }));
        if kind == Kind::Consolidation && drains && plan.savings_per_hour < 0.0 {
            figures.negative_saving_consolidations += 1;
        }
        self.next_plan += 1;
        self.plans.push(RunningPlan {
            id: self.next_plan,
            kind,
            steps: plan.steps.iter().cloned().collect(),
            launched: Vec::new(),
        });
        self.next_plan
    }

    fn decide(&mut self, rules: Rules, now: f64, figures: &mut Figures) {
        match rules {
            Rules::After => {
                if now % DELETION_COSTS_EVERY_S == 0.0 {
                    let problem = self.problem(&[], now);
                    self.deletion_costs = engine::pod_deletion_costs(&problem.existing_nodes);
                    self.mark_emptying(&engine::nodes_to_empty(&problem, budget()));
                }
                self.launched_for.retain(|id, launched| {
                    now - launched.first_at < RELAUNCH_AFTER_S
                        && self.pods.get(id).is_some_and(|(_, node, _)| node.is_none())
                });
                let running: Vec<u64> = self.plans.iter().map(|p| p.id).collect();
                let skip: Vec<String> = self
                    .launched_for
                    .iter()
                    .filter(|(_, l)| l.attempts > 1 || running.contains(&l.plan))
                    .map(|(id, _)| id.clone())
                    .collect();
                let problem = self.problem(&skip, now);
                let waiting = self.pending();
                if !waiting.is_empty() {
                    let provisioned = engine::provision(&problem);
                    if !provisioned.plan.steps.is_empty() {
                        let plan = self.start(Kind::Provisioning, &provisioned.plan, figures);
                        let launched_for = waiting.into_iter().filter(|(id, _)| {
                            !skip.contains(id)
                                && !provisioned.unplaceable.iter().any(|(u, _)| u == id)
                        });
                        for (id, _) in launched_for {
                            self.launched_for
                                .entry(id)
                                .and_modify(|l| {
                                    l.plan = plan;
                                    l.attempts += 1;
                                })
                                .or_insert(Launched {
                                    first_at: now,
                                    plan,
                                    attempts: 1,
                                });
                        }
                        return;
                    }
                }
                // A consolidation runs alone.
                if !self.plans.is_empty() {
                    return;
                }
                if now - self.changed_at < SETTLE_S || now - self.last_consolidation < COOLDOWN_S {
                    return;
                }
                // Consolidation waits while pods wait for capacity that is coming.
                if !self.launched_for.is_empty() {
                    return;
                }
                let judged = engine::paying_consolidation(&problem, budget());
                self.last_consolidation = now;
                if judged.pays() && judged.safe.lost.is_empty() {
                    self.start(Kind::Consolidation, &judged.safe.plan, figures);
                }
            }
            Rules::Before => {
                if !self.plans.is_empty() {
                    return;
                }
                if now - self.changed_at < SETTLE_S || now - self.last_consolidation < COOLDOWN_S {
                    return;
                }
                let problem = self.problem(&[], now);
                let solution = engine::solve(&problem);
                let plan = engine::plan(&problem.existing_nodes, &solution, budget());
                let percent = if plan.current_cost_per_hour > 0.0 {
                    plan.savings_per_hour / plan.current_cost_per_hour * 100.0
                } else {
                    0.0
                };
                let placed_pending = self
                    .pending()
                    .iter()
                    .any(|(id, _)| !solution.unschedulable.iter().any(|u| u.id == *id));
                if !plan.steps.is_empty() && (percent >= MIN_SAVINGS_PERCENT || placed_pending) {
                    self.last_consolidation = now;
                    let kind = if plan
                        .steps
                        .iter()
                        .any(|s| matches!(s.action, engine::StepAction::Drain { .. }))
                    {
                        Kind::Consolidation
                    } else {
                        Kind::Provisioning
                    };
                    self.start(kind, &plan, figures);
                }
            }
        }
    }

    /// Each spot node gets AWS's two-minute notice on average once every `every_s` (never when
    /// 0). The autopilot answers as it does for an agent's notice, beside any plan running:
    /// replacement capacity from other pools, then the drain of the noticed node. At the deadline
    /// the node goes, and the pods still on it are rescheduled by their controllers.
    fn interrupt(&mut self, rng: &mut StdRng, now: f64, every_s: f64, figures: &mut Figures) {
        self.flagged_until.retain(|(_, until)| *until > now);
        let due: Vec<String> = self
            .reclaimed_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            self.reclaimed_at.remove(&name);
            if let Some(at) = self.nodes.iter().position(|n| n.existing.name == name) {
                let gone = self.nodes.remove(at);
                for id in gone.existing.pods {
                    if let Some(entry) = self.pods.get_mut(&id) {
                        entry.1 = None;
                        entry.2 = now;
                    }
                }
                self.changed_at = now;
            }
        }
        if every_s <= 0.0 {
            return;
        }
        let noticed: Vec<(String, engine::PoolRef)> = self
            .nodes
            .iter()
            .filter(|n| {
                n.existing.capacity_type == engine::CapacityType::Spot
                    && !self.reclaimed_at.contains_key(&n.existing.name)
            })
            .filter(|_| rng.random_bool((TICK_S / every_s).min(1.0)))
            .map(|n| {
                (
                    n.existing.name.clone(),
                    engine::PoolRef {
                        instance_type: n.existing.instance_type.clone(),
                        zone: n.existing.zone.clone(),
                    },
                )
            })
            .collect();
        for (name, pool) in noticed {
            figures.interruptions += 1;
            self.reclaimed_at.insert(name.clone(), now + NOTICE_S);
            self.flagged_until.push((pool, now + FLAG_S));
            let plan = engine::respond_to_interruption(
                &self.problem(&[], now),
                &engine::Interrupted::Node(name),
                budget(),
            );
            if !plan.steps.is_empty() {
                self.start(Kind::InterruptionResponse, &plan, figures);
            }
        }
    }

    /// A workload changes on average once every `every_s` (never when 0).
    fn churn(&mut self, rng: &mut StdRng, now: f64, every_s: f64) {
        if every_s <= 0.0
            || !rng.random_bool((TICK_S / every_s).min(1.0))
            || self.workloads.is_empty()
        {
            return;
        }
        let workload = rng.random_range(0..self.workloads.len());
        let replicas = self.workloads[workload].1;
        match rng.random_range(0..3) {
            0 => self.scale(workload, replicas + rng.random_range(1..=3), now),
            1 => self.scale(
                workload,
                replicas.saturating_sub(rng.random_range(1..=3)).max(1),
                now,
            ),
            _ => self.roll(workload, now),
        }
    }
}

pub fn run(
    hours: f64,
    seed: u64,
    launch_s: f64,
    churn_every_s: f64,
    interrupt_every_s: f64,
    rules: Rules,
) -> Result<serde_json::Value, String> {
    if !(hours > 0.0 && hours <= 24.0 * 30.0) {
        return Err("invalid `--hours`: more than 0, at most 720".to_owned());
    }
    let zones: Vec<String> = ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .map(|z| (*z).to_owned())
        .collect();
    // The built-in policy's admission: spot only where the advisor's bucket is at most 2. Every
    // node runs the DaemonSets, so a new node offers what they leave (as the optimizer counts).
    let offerings: Vec<engine::Offering> = engine::offerings_in("us-east-1", &zones)
        .into_iter()
        .filter(|o| o.taints.is_empty() && o.interruption_bucket.is_none_or(|b| b <= 2))
        .map(|mut o| {
            o.allocatable = o.allocatable.minus(&daemon_sets());
            o
        })
        .collect();
    let mut worlds: Vec<World> = FLEET
        .iter()
        .map(|shape| World::new(shape, offerings.clone()))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut figures = Figures::default();
    let ticks = (hours * 3_600.0 / TICK_S).ceil() as u64;
    let started = std::time::Instant::now();
    for world in &mut worlds {
        world.schedule();
    }
    for tick in 0..ticks {
        let now = tick as f64 * TICK_S;
        let steady = now >= 3_600.0;
        if steady {
            figures.steady_ticks += 1.0;
        }
        for world in &mut worlds {
            world.churn(&mut rng, now, churn_every_s);
            world.interrupt(&mut rng, now, interrupt_every_s, &mut figures);
            for node in &mut world.nodes {
                if node.existing.cordoned && node.ready_at > 0.0 && node.ready_at <= now {
                    // A launched node joins Ready; only a plan cordons it again.
                    node.existing.cordoned = false;
                    node.ready_at = 0.0;
                }
            }
            world.schedule();
            world.advance_plans(rules, now, launch_s, &mut figures, steady);
            world.decide(rules, now, &mut figures);
            world.advance_plans(rules, now, launch_s, &mut figures, steady);
            figures.cost_usd += world.cost_per_hour() * TICK_S / 3_600.0;
            if steady {
                figures.steady_cost_usd += world.cost_per_hour() * TICK_S / 3_600.0;
                figures.steady_node_ticks += world.nodes.len() as f64;
            }
            for (_, since) in world.pending() {
                figures.pending_pod_s += TICK_S;
                figures.longest_pending_s = figures.longest_pending_s.max(now + TICK_S - since);
            }
            if tick % 60 == 0 {
                let pods: Vec<engine::Pod> =
                    world.pods.values().map(|(p, _, _)| p.clone()).collect();
                let cheapest = engine::solve(&engine::Problem {
                    offerings: world.offerings.clone(),
                    pods,
                    ..Default::default()
                });
                figures.cheapest_samples.push(cheapest.cost_per_hour);
                if steady {
                    figures.steady_cheapest_usd_per_hour += cheapest.cost_per_hour;
                    figures.steady_samples += 1;
                }
            }
        }
    }
    let samples = ticks.div_ceil(60).max(1) as f64;
    let cheapest_per_hour: f64 = figures.cheapest_samples.iter().sum::<f64>() / samples;
    let nodes: usize = worlds.iter().map(|w| w.nodes.len()).sum();
    let steady_hours = (hours - 1.0).max(0.0);
    let steady_cost_above_cheapest_percent = if figures.steady_samples > 0 && steady_hours > 0.0 {
        let cheapest = figures.steady_cheapest_usd_per_hour / figures.steady_samples as f64
            * worlds.len() as f64;
        (figures.steady_cost_usd / steady_hours / cheapest - 1.0) * 100.0
    } else {
        0.0
    };
    Ok(serde_json::json!({
        "bench": "autopilot",
        "rules": match rules { Rules::Before => "before", Rules::After => "after" },
        "seed": seed,
        "hours": hours,
        "clusters": worlds.len(),
        "nodes": nodes,
        // Drained nodes that had pods to move; emptied nodes removed are counted apart.
        "node_moves_per_hour": figures.node_moves as f64 / hours,
        // Per 10 nodes of the fleet's average size after the first hour.
        "steady_node_moves_per_hour_per_10_nodes": if figures.steady_node_ticks > 0.0 {
            let average_nodes = figures.steady_node_ticks / figures.steady_ticks;
            figures.steady_node_moves as f64 / steady_hours / average_nodes * 10.0
        } else {
            0.0
        },
        "empty_nodes_removed": figures.empty_nodes_removed,
        "node_moves_by_kind": figures.moves_by_kind,
        "pending_pod_minutes": figures.pending_pod_s / 60.0,
        "longest_pending_s": figures.longest_pending_s,
        "launch_s": launch_s,
        "churn_every_s": churn_every_s,
        "plans": figures.plans,
        "negative_saving_consolidations": figures.negative_saving_consolidations,
        "cost_per_hour": figures.cost_usd / hours,
        // The first minutes run on the demo's on-demand start; this is where the rules lead.
        "final_cost_per_hour": worlds.iter().map(World::cost_per_hour).sum::<f64>(),
        "final_cheapest_packing_per_hour": figures.cheapest_samples.chunks(worlds.len()).last().map_or(0.0, |last| last.iter().sum::<f64>()),
        "cheapest_packing_per_hour": cheapest_per_hour,
        // After the first hour, when the clusters have left their on-demand start: what the
        // rules cost against the cheapest packing of the same pods at the same moments.
        "steady_cost_above_cheapest_percent": steady_cost_above_cheapest_percent,
        "interrupt_every_s": interrupt_every_s,
        "interruptions": figures.interruptions,
        "pods_lost": figures.pods_lost,
        "run_ms": started.elapsed().as_secs_f64() * 1_000.0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_autopilot_rules_provision_within_a_launch_and_never_consolidate_at_a_loss() {
        let report = run(0.5, 3, 60.0, 600.0, 0.0, Rules::After).unwrap();
        for key in [
            "hours",
            "nodes",
            "node_moves_per_hour",
            "empty_nodes_removed",
            "pending_pod_minutes",
            "longest_pending_s",
            "launch_s",
            "plans",
            "negative_saving_consolidations",
            "cost_per_hour",
            "cheapest_packing_per_hour",
            "interruptions",
            "pods_lost",
        ] {
            assert!(report.get(key).is_some(), "{key} missing: {report}");
        }
        assert_eq!(report["negative_saving_consolidations"], 0, "{report}");
        assert_eq!(report["pods_lost"], 0, "{report}");
        // A pod waits at most for a launch, plus the tick it is noticed in.
        assert!(
            report["longest_pending_s"].as_f64().unwrap() <= 60.0 + 2.0 * TICK_S,
            "{report}"
        );
        assert!(
            report["plans"]["consolidation"].as_u64().unwrap() >= 1,
            "{report}"
        );
    }
}
