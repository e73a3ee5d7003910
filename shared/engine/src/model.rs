//! The engine's input and output: plain data, serde-friendly, no behaviour beyond small helpers.
//!
//! Everything the solver needs is in a [`Problem`]; everything it decides is in a [`Solution`].
//! Indices (`Node::offering`, `Node::pods`, `Unschedulable::pod`) point into the problem's
//! vectors so a caller can join without string look-ups.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Well-known node label keys the engine derives from an offering (see [`Offering::label`]).
pub mod well_known {
    pub const ZONE: &str = "topology.kubernetes.io/zone";
    pub const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
    pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
    pub const ARCH: &str = "kubernetes.io/arch";
    pub const HOSTNAME: &str = "kubernetes.io/hostname";
    /// The engine's stand-in node label for an extended resource (`<prefix><resource name>`):
    /// a node that offers the resource carries it, a pod that requests it selects it. No offering
    /// carries it, since no node the platform launches is known to offer such a resource.
    pub const EXTENDED_RESOURCE_PREFIX: &str = "extended-resource.spot-optimizer/";
    /// The value of an [`EXTENDED_RESOURCE_PREFIX`] label.
    pub const OFFERED: &str = "offered";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CapacityType {
    #[serde(rename = "spot")]
    Spot,
    #[serde(rename = "on-demand")]
    OnDemand,
}

impl CapacityType {
    /// The value of the `karpenter.sh/capacity-type` label.
    pub fn label(self) -> &'static str {
        match self {
            CapacityType::Spot => "spot",
            CapacityType::OnDemand => "on-demand",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    Amd64,
    Arm64,
}

impl Architecture {
    /// The value of the `kubernetes.io/arch` label.
    pub fn label(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The architecture a `kubernetes.io/arch` value names, if any.
    pub fn from_label(value: &str) -> Option<Self> {
        [Architecture::Amd64, Architecture::Arm64]
            .into_iter()
            .find(|a| a.label() == value)
    }
}

impl From<spot_cloud::Architecture> for Architecture {
    fn from(arch: spot_cloud::Architecture) -> Self {
        match arch {
            spot_cloud::Architecture::Amd64 => Architecture::Amd64,
            spot_cloud::Architecture::Arm64 => Architecture::Arm64,
        }
    }
}

/// Kubernetes resource amounts. For a pod, `pods` is ignored (a pod always takes one slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_m: i64,
    pub memory_mib: i64,
    pub pods: i64,
    #[serde(default)]
    pub gpus: i64,
    /// `ephemeral-storage`: the node's local disk (writable layers, logs, emptyDir volumes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ephemeral_storage_mib: i64,
}

fn is_zero(amount: &i64) -> bool {
    *amount == 0
}

impl Resources {
    pub fn new(cpu_m: i64, memory_mib: i64, pods: i64, gpus: i64) -> Self {
        Resources {
            cpu_m,
            memory_mib,
            pods,
            gpus,
            ephemeral_storage_mib: 0,
        }
    }

    pub fn with_ephemeral_storage(self, mib: i64) -> Self {
        Resources {
            ephemeral_storage_mib: mib,
            ..self
        }
    }

    /// True when every amount of `self` is at most the same amount of `capacity`.
    pub fn fits_in(&self, capacity: &Resources) -> bool {
        self.cpu_m <= capacity.cpu_m
            && self.memory_mib <= capacity.memory_mib
            && self.pods <= capacity.pods
            && self.gpus <= capacity.gpus
            && self.ephemeral_storage_mib <= capacity.ephemeral_storage_mib
    }

    pub fn plus(&self, other: &Resources) -> Resources {
        Resources {
            cpu_m: self.cpu_m.saturating_add(other.cpu_m),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            pods: self.pods.saturating_add(other.pods),
            gpus: self.gpus.saturating_add(other.gpus),
            ephemeral_storage_mib: self
                .ephemeral_storage_mib
                .saturating_add(other.ephemeral_storage_mib),
        }
    }

    pub fn minus(&self, other: &Resources) -> Resources {
        Resources {
            cpu_m: self.cpu_m.saturating_sub(other.cpu_m),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            pods: self.pods.saturating_sub(other.pods),
            gpus: self.gpus.saturating_sub(other.gpus),
            ephemeral_storage_mib: self
                .ephemeral_storage_mib
                .saturating_sub(other.ephemeral_storage_mib),
        }
    }

    /// What `count` pods each requesting `self` take together (a pod slot each).
    pub fn for_pods(&self, count: i64) -> Resources {
        Resources {
            cpu_m: self.cpu_m.saturating_mul(count),
            memory_mib: self.memory_mib.saturating_mul(count),
            pods: count,
            gpus: self.gpus.saturating_mul(count),
            ephemeral_storage_mib: self.ephemeral_storage_mib.saturating_mul(count),
        }
    }

    pub fn any_negative(&self) -> bool {
        self.cpu_m < 0
            || self.memory_mib < 0
            || self.pods < 0
            || self.gpus < 0
            || self.ephemeral_storage_mib < 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TolerationOperator {
    Equal,
    Exists,
}

/// A pod's toleration. An empty `key` with `Exists` tolerates every taint (Kubernetes semantics).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Toleration {
    #[serde(default)]
    pub key: String,
    pub operator: TolerationOperator,
    #[serde(default)]
    pub value: String,
    /// None tolerates every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One node-label requirement of a required node-affinity term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// The requirements of one term are ANDed; a pod's terms are ORed (Kubernetes semantics: a term
/// with no requirements matches no node).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct NodeSelectorTerm {
    pub requirements: Vec<Requirement>,
}

/// The topology domains the engine understands: a zone, or a single node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TopologyKey {
    #[serde(rename = "zone", alias = "topology.kubernetes.io/zone")]
    Zone,
    #[serde(rename = "hostname", alias = "kubernetes.io/hostname")]
    Hostname,
}

/// `whenUnsatisfiable: DoNotSchedule` topology spread. An empty `match_labels` selects every pod.
///
/// Semantics the engine guarantees (and [`crate::validate`] checks): for a pod P carrying the
/// constraint, `count(domain of P) - min over eligible domains of count <= max_skew`, where count is
/// the number of pods matching `match_labels` and the eligible domains are, for zones, the zones in
/// which an admitted offering can run P, and for hostnames, the solution's nodes whose labels
/// satisfy P's node selector and node affinity and whose taints P tolerates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopologySpread {
    pub topology_key: TopologyKey,
    pub max_skew: u32,
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

/// A required pod (anti-)affinity term. An empty `match_labels` selects every pod.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodAffinityTerm {
    pub topology_key: TopologyKey,
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Pod {
    pub id: String,
    /// cpu, memory and GPUs requested; `pods` is ignored.
    pub requests: Resources,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub required_node_affinity: Vec<NodeSelectorTerm>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub topology_spread: Vec<TopologySpread>,
    #[serde(default)]
    pub affinity: Vec<PodAffinityTerm>,
    #[serde(default)]
    pub anti_affinity: Vec<PodAffinityTerm>,
    /// The zones of the pod's zonal volumes (EBS): it can run in no other zone, since a volume
    /// cannot follow it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_zones: Vec<String>,
    /// Soft constraints: preferred node and pod (anti-)affinity, `ScheduleAnyway` spread. A
    /// solution meets those it can within [`crate::PREFERENCE_COST_TOLERANCE_PERCENT`] and names
    /// the rest (see [`Solution::unmet_preferences`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<Preference>,
}

/// One soft constraint of a pod, with its weight (1 to 100, as Kubernetes gives it; a
/// `ScheduleAnyway` spread has none in Kubernetes and counts as 100 here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub weight: u32,
    pub preferred: Preferred,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preferred {
    NodeAffinity(NodeSelectorTerm),
    PodAffinity(PodAffinityTerm),
    PodAntiAffinity(PodAffinityTerm),
    TopologySpread(TopologySpread),
}

/// A pod's preference the solution does not meet, and which one, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmetPreference {
    pub pod: String,
    pub preference: String,
}

/// An instance type sold in one zone as one capacity type: what a new node can be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: CapacityType,
    /// What this offering costs (the spot price for spot), USD/hour.
    pub price_per_hour: f64,
    /// The type's on-demand price, to report what a solution would cost all on-demand.
    pub on_demand_price_per_hour: f64,
    pub vcpus: u32,
    pub architecture: Architecture,
    /// What pods can use: capacity minus system overhead.
    pub allocatable: Resources,
    /// Extra node labels; zone, instance type, capacity type and arch are derived, see [`Offering::label`].
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// The spot advisor's interruption bucket (0 best ..= 4 worst), for spot offerings.
    #[serde(default)]
    pub interruption_bucket: Option<u8>,
}

impl Offering {
    /// The value of a node label on a node of this offering. Well-known labels come from the
    /// offering's fields so callers never have to keep them in sync.
    pub fn label(&self, key: &str) -> Option<&str> {
        match key {
            well_known::ZONE | "failure-domain.beta.kubernetes.io/zone" => Some(&self.zone),
            well_known::INSTANCE_TYPE | "beta.kubernetes.io/instance-type" => {
                Some(&self.instance_type)
            }
            well_known::CAPACITY_TYPE => Some(self.capacity_type.label()),
            well_known::ARCH | "beta.kubernetes.io/arch" => Some(self.architecture.label()),
            _ => self.labels.get(key).map(String::as_str),
        }
    }

    pub fn pool(&self) -> PoolRef {
        PoolRef {
            instance_type: self.instance_type.clone(),
            zone: self.zone.clone(),
        }
    }
}

/// A capacity pool (instance type in a zone), the unit AWS prices and interrupts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PoolRef {
    pub instance_type: String,
    pub zone: String,
}

/// What the user allows. Which families/categories/generations are admitted is decided by the
/// caller: it passes only admitted offerings (with their interruption bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// At least this many nodes are on-demand (all of them when the solution has fewer nodes).
    #[serde(default)]
    pub on_demand_base: u32,
    /// The share of nodes that are spot must not exceed this percentage (100 = no limit).
    /// "At least 20% of nodes on-demand" is `spot_share_percent: 80`.
    #[serde(default = "hundred")]
    pub spot_share_percent: u8,
    /// Spot offerings with a higher interruption bucket are not used (None = any).
    #[serde(default)]
    pub max_interruption_bucket: Option<u8>,
    /// When there are at least this many spot nodes they span at least this many distinct
    /// (instance type, zone) pools.
    #[serde(default)]
    pub min_spot_pools: u32,
    /// Offerings dearer than this per vCPU-hour are not used.
    #[serde(default)]
    pub max_price_per_vcpu_hour: Option<f64>,
    /// Consolidation acts only when it saves at least this share of the current cost.
    #[serde(default)]
    pub min_savings_percent: f64,
}

fn hundred() -> u8 {
    100
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            on_demand_base: 0,
            spot_share_percent: 100,
            max_interruption_bucket: None,
            min_spot_pools: 0,
            max_price_per_vcpu_hour: None,
            min_savings_percent: 0.0,
        }
    }
}

impl Policy {
    /// The fewest on-demand nodes a solution with `nodes` nodes must have.
    pub fn required_on_demand(&self, nodes: usize) -> usize {
        let share = usize::from(self.spot_share_percent.min(100));
        let max_spot = nodes * share / 100; // floor: spot share must not exceed the percentage
        (nodes - max_spot).max((self.on_demand_base as usize).min(nodes))
    }
}

/// A node that exists now (for plans, consolidation and interruption response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExistingNode {
    pub name: String,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: CapacityType,
    pub price_per_hour: f64,
    /// Ids of the pods running on it.
    #[serde(default)]
    pub pods: Vec<String>,
    /// What pods may use, as the node reports it; None: the catalog's figure for its type.
    #[serde(default)]
    pub allocatable: Option<Resources>,
    /// Its labels as reported (well-known ones the report lacks are derived).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Cordoned (or not ready): kube-scheduler puts nothing new on it.
    #[serde(default)]
    pub cordoned: bool,
    /// Why consolidation and compliance must leave this node alone (see [`crate::set_aside_pinned`]);
    /// None: it may be moved.
    #[serde(default)]
    pub do_not_disrupt: Option<String>,
    /// Joined less than [`crate::NEW_NODE_SETTLES_MS`] ago: consolidation leaves it to settle
    /// (compliance does not wait: the user asked for the policy).
    #[serde(default)]
    pub settling: bool,
}

impl ExistingNode {
    /// A node as the engine's tests and callers without a report describe it: shape from the
    /// catalog, no labels beyond the derived ones, schedulable.
    pub fn new(
        name: &str,
        instance_type: &str,
        zone: &str,
        capacity_type: CapacityType,
        price_per_hour: f64,
        pods: Vec<String>,
    ) -> Self {
        ExistingNode {
            name: name.to_owned(),
            instance_type: instance_type.to_owned(),
            zone: zone.to_owned(),
            capacity_type,
            price_per_hour,
            pods,
            allocatable: None,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            cordoned: false,
            do_not_disrupt: None,
            settling: false,
        }
    }

    pub fn pool(&self) -> PoolRef {
        PoolRef {
            instance_type: self.instance_type.clone(),
            zone: self.zone.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Problem {
    pub offerings: Vec<Offering>,
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub policy: Policy,
    /// Spot pools with an active risk flag (interruption notice, rebalance, price spike): never
    /// chosen for new spot capacity.
    #[serde(default)]
    pub risk_flags: Vec<PoolRef>,
    #[serde(default)]
    pub existing_nodes: Vec<ExistingNode>,
}

/// A node of a solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    /// Index into `Problem::offerings`.
    pub offering: usize,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: CapacityType,
    pub price_per_hour: f64,
    /// Indices into `Problem::pods`.
    pub pods: Vec<usize>,
}

impl Node {
    pub fn pool(&self) -> PoolRef {
        PoolRef {
            instance_type: self.instance_type.clone(),
            zone: self.zone.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unschedulable {
    /// Index into `Problem::pods`.
    pub pod: usize,
    pub id: String,
    /// Readable by a user, e.g. "needs 96000m cpu but the largest admitted instance type allows 64000m".
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Solution {
    pub strategy: String,
    pub nodes: Vec<Node>,
    pub unschedulable: Vec<Unschedulable>,
    pub cost_per_hour: f64,
    /// What the same nodes would cost if every one were on-demand.
    pub on_demand_cost_per_hour: f64,
    /// A proven lower bound on the cost of any solution placing every schedulable pod.
    pub lower_bound_per_hour: f64,
    /// (cost - lower bound) / lower bound, in percent; 0 when the bound is 0.
    pub gap_percent: f64,
    /// Policy notes (e.g. why fewer spot pools than asked were possible).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Pods' preferences this solution does not meet (see [`Pod::preferences`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmet_preferences: Vec<UnmetPreference>,
}

impl Solution {
    pub fn spot_nodes(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.capacity_type == CapacityType::Spot)
            .count()
    }
}
