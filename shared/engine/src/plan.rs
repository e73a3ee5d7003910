//! From the nodes that exist to a target solution in safe steps: every launch first, then wait for
//! the new nodes to be ready, and only then cordon, drain and terminate the nodes that go, in
//! batches no larger than the disruption budget. Nodes whose pool and capacity type the target
//! still needs are kept, so a plan never churns a node it would launch again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{CapacityType, ExistingNode, Solution};

/// Hours in a month for monthly figures (365 x 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// How many nodes may be disrupted (cordoned and drained) at once: at most `max_nodes`, at most
/// `max_percent` of the current nodes, the smaller when both are set; at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DisruptionBudget {
    pub max_nodes: Option<u32>,
    pub max_percent: Option<u8>,
}

impl DisruptionBudget {
    pub fn nodes(n: u32) -> Self {
        DisruptionBudget {
            max_nodes: Some(n),
            max_percent: None,
        }
    }

    pub fn percent(p: u8) -> Self {
        DisruptionBudget {
            max_nodes: None,
            max_percent: Some(p),
        }
    }

    /// The batch size for a cluster of `current_nodes` nodes.
    pub fn batch_size(&self, current_nodes: usize) -> usize {
        let by_count = self.max_nodes.map_or(usize::MAX, |n| n as usize);
        let by_percent = self.max_percent.map_or(usize::MAX, |p| {
            current_nodes * usize::from(p.min(100)) / 100
        });
        by_count.min(by_percent).max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    Launch {
        instance_type: String,
        zone: String,
        capacity_type: CapacityType,
        count: u32,
    },
    /// Wait until every node launched so far is Ready.
    WaitReady {
        count: u32,
    },
    Cordon {
        node: String,
    },
    Drain {
        node: String,
    },
    Terminate {
        node: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub action: StepAction,
    /// Disruption batch (1-based) for cordon/drain/terminate; 0 for launches and waits.
    pub batch: u32,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub current_cost_per_hour: f64,
    pub target_cost_per_hour: f64,
    pub savings_per_hour: f64,
    pub savings_per_month: f64,
    /// Why the plan is what it is (e.g. why it is empty).
    pub reason: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn empty(current_cost_per_hour: f64, reason: String) -> Plan {
        Plan {
            steps: Vec::new(),
            current_cost_per_hour,
            target_cost_per_hour: current_cost_per_hour,
            savings_per_hour: 0.0,
            savings_per_month: 0.0,
            reason,
        }
    }
}

pub(crate) type PoolKey = (String, String, CapacityType);

/// The steps from `current` to `target`.
pub fn plan(current: &[ExistingNode], target: &Solution, budget: DisruptionBudget) -> Plan {
    let moves = moves(current, target);
    let steps = moves.steps(current, &moves.retire, budget);
    let current_cost: f64 = current.iter().map(|n| n.price_per_hour).sum();
    finish_plan(steps, current_cost, target.cost_per_hour, String::new())
}

/// What going from the current nodes to a target takes: the launches per pool, and the nodes
/// that go (indices into the current nodes, in the order they are retired).
pub(crate) struct Moves {
    pub launches: Vec<(PoolKey, u32)>,
    pub retire: Vec<usize>,
    pub prices: BTreeMap<PoolKey, f64>,
}

pub(crate) fn moves(current: &[ExistingNode], target: &Solution) -> Moves {
    let mut wanted: BTreeMap<PoolKey, u32> = BTreeMap::new();
    for node in &target.nodes {
        *wanted
            .entry((
                node.instance_type.clone(),
                node.zone.clone(),
                node.capacity_type,
            ))
            .or_default() += 1;
    }
    // Keep existing nodes the target needs (fullest first), retire the rest.
    let mut by_pool: BTreeMap<PoolKey, Vec<usize>> = BTreeMap::new();
    for (i, node) in current.iter().enumerate() {
        by_pool
            .entry((
                node.instance_type.clone(),
                node.zone.clone(),
                node.capacity_type,
            ))
            .or_default()
            .push(i);
    }
    let mut retire: Vec<usize> = Vec::new();
    for (key, mut nodes) in by_pool {
        nodes.sort_by(|&a, &b| {
            let (a, b) = (&current[a], &current[b]);
            b.pods.len().cmp(&a.pods.len()).then(a.name.cmp(&b.name))
        });
        let keep = wanted.get(&key).copied().unwrap_or(0) as usize;
        if let Some(count) = wanted.get_mut(&key) {
            *count = count.saturating_sub(nodes.len() as u32);
        }
        retire.extend(nodes.into_iter().skip(keep));
    }
    let prices = target
        .nodes
        .iter()
        .map(|n| {
            (
                (n.instance_type.clone(), n.zone.clone(), n.capacity_type),
                n.price_per_hour,
            )
        })
        .collect();
    Moves {
        launches: wanted.into_iter().filter(|(_, c)| *c > 0).collect(),
        retire,
        prices,
    }
}

impl Moves {
    /// The launches, then the retirement of `retire` (indices into `current`) in batches.
    pub(crate) fn steps(
        &self,
        current: &[ExistingNode],
        retire: &[usize],
        budget: DisruptionBudget,
    ) -> Vec<Step> {
        let mut steps = Vec::new();
        push_launches(
            &mut steps,
            self.launches.iter().cloned(),
            |key, count| {
                let (instance_type, zone, capacity_type) = key;
                let price = self.prices.get(key).copied().unwrap_or(0.0);
                format!(
                    "launch {count} x {instance_type} ({}) in {zone} at {price:.4} USD/h each: the target needs them and no existing node provides them",
                    capacity_type.label()
                )
            },
            |launched| {
                format!(
                    "wait until the {launched} new nodes are Ready before disrupting anything, so evicted pods have somewhere to go"
                )
            },
        );
        let retired: Vec<&ExistingNode> = retire.iter().map(|&i| &current[i]).collect();
        push_retirements(
            &mut steps,
            &retired,
            budget.batch_size(current.len()),
            "the target does not need it",
        );
        steps
    }
}

/// A launch step per pool (explained by `why`), then one wait until every new node is Ready
/// (explained by `wait_why`): nothing is disrupted before the new capacity exists.
pub(crate) fn push_launches(
    steps: &mut Vec<Step>,
    launches: impl IntoIterator<Item = (PoolKey, u32)>,
    why: impl Fn(&PoolKey, u32) -> String,
    wait_why: impl Fn(u32) -> String,
) {
    let mut launched = 0u32;
    for (key, count) in launches {
        let explanation = why(&key, count);
        let (instance_type, zone, capacity_type) = key;
        steps.push(Step {
            explanation,
            action: StepAction::Launch {
                instance_type,
                zone,
                capacity_type,
                count,
            },
            batch: 0,
        });
        launched += count;
    }
    if launched > 0 {
        steps.push(Step {
            action: StepAction::WaitReady { count: launched },
            batch: 0,
            explanation: wait_why(launched),
        });
    }
}

/// Cordon, drain and terminate `nodes` in batches of `batch_size`: a whole batch is cordoned,
/// then drained, then terminated before the next batch starts.
pub(crate) fn push_retirements(
    steps: &mut Vec<Step>,
    nodes: &[&ExistingNode],
    batch_size: usize,
    why: &str,
) {
    for (b, batch) in nodes.chunks(batch_size.max(1)).enumerate() {
        let batch_number = b as u32 + 1;
        for node in batch {
            steps.push(Step {
                action: StepAction::Cordon {
                    node: node.name.clone(),
                },
                batch: batch_number,
                explanation: format!(
                    "cordon {} ({} in {}): {why}; no new pods land on it",
                    node.name, node.instance_type, node.zone
                ),
            });
        }
        for node in batch {
            steps.push(Step {
                action: StepAction::Drain {
                    node: node.name.clone(),
                },
                batch: batch_number,
                explanation: format!(
                    "drain {}: evict its {} pods, respecting PodDisruptionBudgets",
                    node.name,
                    node.pods.len()
                ),
            });
        }
        for node in batch {
            steps.push(Step {
                action: StepAction::Terminate {
                    node: node.name.clone(),
                },
                batch: batch_number,
                explanation: format!(
                    "terminate {} once drained, saving {:.4} USD/h",
                    node.name, node.price_per_hour
                ),
            });
        }
    }
}

pub(crate) fn finish_plan(steps: Vec<Step>, current: f64, target: f64, reason: String) -> Plan {
    let savings = current - target;
    Plan {
        steps,
        current_cost_per_hour: current,
        target_cost_per_hour: target,
        savings_per_hour: savings,
        savings_per_month: savings * HOURS_PER_MONTH,
        reason,
    }
}
