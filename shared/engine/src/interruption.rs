//! Interruption response: when a spot node gets AWS's notice, or a spot pool in use gets a
//! corroborated risk flag, replacement capacity for the pods on the affected nodes is launched in
//! other pools first, and only once it is ready are those nodes cordoned and drained (within the
//! disruption budget). A notice names one instance, and AWS sends one to each instance it reclaims,
//! so only the noticed node moves; its pool is kept out of the replacement. Only a flag (other
//! tenants losing that pool) moves the whole pool ahead of its notices.
//!
//! The replacement is solved for the displaced pods alone, with the pool flagged (so it is never
//! chosen) and the policy's admission rules (bucket, price cap) kept; the node-count rules (on-demand
//! share, pool spread) are cluster-wide and are left to the next consolidation, as the plan notes.

use std::collections::HashMap;

use crate::model::{CapacityType, ExistingNode, Policy, PoolRef, Problem};
use crate::plan::{DisruptionBudget, Plan, finish_plan, push_launches, push_retirements};
use crate::strategy;

/// What is being reclaimed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Interrupted {
    /// One node, by name: AWS's notice for its instance.
    Node(String),
    /// Every spot node of a pool: a corroborated risk flag.
    Pool(PoolRef),
}

impl Interrupted {
    /// The spot nodes that must move, and the pool they run in.
    fn affected<'a>(&self, nodes: &'a [ExistingNode]) -> (Vec<&'a ExistingNode>, Option<PoolRef>) {
        let in_pool = |n: &&ExistingNode, pool: &PoolRef| {
            n.capacity_type == CapacityType::Spot
                && n.instance_type == pool.instance_type
                && n.zone == pool.zone
        };
        match self {
            Interrupted::Pool(pool) => (
                nodes.iter().filter(|n| in_pool(n, pool)).collect(),
                Some(pool.clone()),
            ),
            Interrupted::Node(name) => {
                let node = nodes
                    .iter()
                    .find(|n| &n.name == name && n.capacity_type == CapacityType::Spot);
                let pool = node.map(|n| PoolRef {
                    instance_type: n.instance_type.clone(),
                    zone: n.zone.clone(),
                });
                (node.into_iter().collect(), pool)
            }
        }
    }
}

pub fn respond_to_interruption(
    problem: &Problem,
    interrupted: &Interrupted,
    budget: DisruptionBudget,
) -> Plan {
    let current = &problem.existing_nodes;
    let (affected, pool) = interrupted.affected(current);
    let current_cost: f64 = affected.iter().map(|n| n.price_per_hour).sum();
    let Some(pool) = pool.filter(|_| !affected.is_empty()) else {
        return Plan::empty(
            0.0,
            match interrupted {
                Interrupted::Node(name) => format!("{name} is not a spot node of the cluster"),
                Interrupted::Pool(pool) => format!(
                    "no spot node runs in the pool {} / {}",
                    pool.zone, pool.instance_type
                ),
            },
        );
    };
    let pool = &pool;
    let index: HashMap<&str, usize> = problem
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let displaced: Vec<_> = affected
        .iter()
        .flat_map(|n| n.pods.iter())
        .filter_map(|id| index.get(id.as_str()).map(|&i| problem.pods[i].clone()))
        .collect();
    let mut risk_flags = problem.risk_flags.clone();
    if !risk_flags.contains(pool) {
        risk_flags.push(pool.clone());
    }
    let sub = Problem {
        offerings: problem.offerings.clone(),
        pods: displaced,
        policy: Policy {
            on_demand_base: 0,
            spot_share_percent: 100,
            min_spot_pools: 0,
            ..problem.policy.clone()
        },
        risk_flags,
        existing_nodes: Vec::new(),
    };
    let replacement = strategy::live().solve(&sub);
    let mut steps = Vec::new();
    let mut launches: Vec<((String, String, CapacityType), u32)> = Vec::new();
    for node in &replacement.nodes {
        let key = (
            node.instance_type.clone(),
            node.zone.clone(),
            node.capacity_type,
        );
        match launches.iter_mut().find(|(k, _)| *k == key) {
            Some((_, count)) => *count += 1,
            None => launches.push((key, 1)),
        }
    }
    push_launches(
        &mut steps,
        launches,
        |(instance_type, zone, capacity_type), count| {
            format!(
                "launch {count} x {instance_type} ({}) in {zone}: replacement capacity outside the interrupted pool {} / {}",
                capacity_type.label(),
                pool.zone,
                pool.instance_type
            )
        },
        |launched| {
            format!(
                "wait until the {launched} replacement nodes are Ready before draining the interrupted ones"
            )
        },
    );
    push_retirements(
        &mut steps,
        &affected,
        budget.batch_size(current.len()),
        "its spot pool is being interrupted",
    );
    let mut reason = format!(
        "{} node(s) in the interrupted pool {} / {}; replacements launched first. Cluster-wide policy shares are rebalanced by the next consolidation.",
        affected.len(),
        pool.zone,
        pool.instance_type
    );
    if !replacement.unschedulable.is_empty() {
        reason.push_str(&format!(
            " {} pod(s) have no replacement capacity: {}",
            replacement.unschedulable.len(),
            replacement.unschedulable[0].reason
        ));
    }
    finish_plan(steps, current_cost, replacement.cost_per_hour, reason)
}
