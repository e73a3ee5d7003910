//! Kubernetes objects (k8s-openapi) as the platform's protobuf messages.
//!
//! Conversion never fails: a malformed quantity counts as zero (and is logged), missing fields
//! become protobuf defaults.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    Container, Node as K8sNode, PersistentVolume, Pod as K8sPod, PodAffinityTerm as K8sTerm,
    PodSpec, Taint as K8sTaint, Toleration as K8sToleration, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget as K8sPdb;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use spot_proto::common::v1::{
    CapacityType, HostPort, Node, NodeSelectorRequirement, Pod, PodAffinityTerm,
    PodDisruptionBudget, PodPhase, PreferredNodeAffinity, Resources, Taint, TaintEffect,
    Toleration, TopologySpreadConstraint,
};

use crate::quantity;

/// The annotation the kubelet puts on the API copy of a static pod.
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
pub const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
const INSTANCE_TYPE_LABEL_BETA: &str = "beta.kubernetes.io/instance-type";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const ZONE_LABEL_BETA: &str = "failure-domain.beta.kubernetes.io/zone";
pub const KARPENTER_CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";
pub const EKS_CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// `"true"` on a pod or node: Karpenter leaves it alone, and so does consolidation here.
pub const DO_NOT_DISRUPT_ANNOTATION: &str = "karpenter.sh/do-not-disrupt";
/// cluster-autoscaler's: `"false"` keeps the pod's node, `"true"` accepts losing a bare pod or
/// its local data.
pub const SAFE_TO_EVICT_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|annotations| annotations.get(key))
        .map(String::as_str)
}

/// An emptyDir on disk (not `medium: Memory`) or a hostPath volume: data an eviction loses.
fn has_local_data(spec: Option<&PodSpec>) -> bool {
    spec.and_then(|spec| spec.volumes.as_ref())
        .is_some_and(|volumes| {
            volumes.iter().any(|volume| {
                volume.host_path.is_some()
                    || volume
                        .empty_dir
                        .as_ref()
                        .is_some_and(|dir| dir.medium.as_deref() != Some("Memory"))
            })
        })
}

/// The host ports the pod's containers bind (kube-scheduler's NodePorts counts the app
/// containers'), each protocol and port once.
fn host_ports(spec: Option<&PodSpec>) -> Vec<HostPort> {
    let mut ports: Vec<(String, i32)> = spec
        .map(|spec| spec.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .flat_map(|container| container.ports.iter().flatten())
        .filter_map(|port| {
            let bound = port.host_port.filter(|p| *p > 0)?;
            Some((
                port.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                bound,
            ))
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
        .into_iter()
        .map(|(protocol, port)| HostPort { protocol, port })
        .collect()
}

/// The node labels a persistent volume names its zone by: Kubernetes' own, the EBS CSI driver's,
/// and the deprecated in-tree one.
pub const ZONE_KEYS: [&str; 3] = [
    "topology.kubernetes.io/zone",
    "topology.ebs.csi.aws.com/zone",
    "failure-domain.beta.kubernetes.io/zone",
];

/// The claims the pod's volumes use, by name in its namespace: persistent volume claims, and the
/// claim a generic ephemeral volume gets (`<pod>-<volume>`).
pub fn claim_names(pod: &K8sPod) -> Vec<String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec
        .iter()
        .flat_map(|spec| spec.volumes.iter().flatten())
        .filter_map(
            |volume| match (&volume.persistent_volume_claim, &volume.ephemeral) {
                (Some(claim), _) => Some(claim.claim_name.clone()),
                (None, Some(_)) => Some(format!("{pod_name}-{}", volume.name)),
                (None, None) => None,
            },
        )
        .collect()
}

/// The zones a persistent volume can be reached from: its required node affinity on a zone key
/// (the terms are alternatives, so their zones add up), else its zone label (in-tree volumes).
/// Empty: any zone.
pub fn volume_zones(volume: &PersistentVolume) -> Vec<String> {
    let mut zones: Vec<String> = volume
        .spec
        .iter()
        .filter_map(|spec| spec.node_affinity.as_ref())
        .filter_map(|affinity| affinity.required.as_ref())
        .flat_map(|required| required.node_selector_terms.iter())
        .flat_map(|term| term.match_expressions.iter().flatten())
        .filter(|e| ZONE_KEYS.contains(&e.key.as_str()) && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect();
    if zones.is_empty() {
        zones = volume
            .metadata
            .labels
            .iter()
            .flatten()
            .filter(|(key, _)| ZONE_KEYS.contains(&key.as_str()))
            .map(|(_, zone)| zone.clone())
            .collect();
    }
    zones.sort();
    zones.dedup();
    zones
}

/// Where a pod whose volumes are in `each` (one zone list per zonal volume) can run: the zones
/// all of them allow. Volumes in no common zone leave the pod unschedulable anywhere; the first
/// volume's zones are then kept, so the pod is never reported free to go anywhere.
pub fn common_zones(each: &[Vec<String>]) -> Vec<String> {
    let Some((first, rest)) = each.split_first() else {
        return Vec::new();
    };
    let common: Vec<String> = first
        .iter()
        .filter(|zone| rest.iter().all(|zones| zones.contains(zone)))
        .cloned()
        .collect();
    if common.is_empty() {
        first.clone()
    } else {
        common
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared with the executor and the watchers
// ---------------------------------------------------------------------------------------------

/// `namespace/name` of an object.
pub fn object_key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// The kind of the controller owning the object (the first ownerReference with controller=true).
pub fn controller_kind(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.kind.as_str())
}

pub fn is_mirror_pod(pod: &K8sPod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|annotations| annotations.contains_key(MIRROR_POD_ANNOTATION))
}

pub fn is_daemonset_pod(pod: &K8sPod) -> bool {
    controller_kind(&pod.metadata) == Some("DaemonSet")
}

/// A pod in phase Succeeded or Failed: its containers are done and it holds no resources.
pub fn is_finished_pod(pod: &K8sPod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

pub fn taint_effect_from_k8s(effect: &str) -> TaintEffect {
    match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        _ => TaintEffect::Unspecified,
    }
}

pub fn taint_effect_to_k8s(effect: TaintEffect) -> Option<&'static str> {
    match effect {
        TaintEffect::NoSchedule => Some("NoSchedule"),
        TaintEffect::PreferNoSchedule => Some("PreferNoSchedule"),
        TaintEffect::NoExecute => Some("NoExecute"),
        TaintEffect::Unspecified => None,
    }
}

/// The EC2 instance id in a provider id such as `aws:///us-east-1a/i-0abc`.
pub fn instance_id_from_provider_id(provider_id: &str) -> Option<&str> {
    let rest = provider_id.strip_prefix("aws://")?;
    let last = rest.rsplit('/').next()?;
    last.starts_with("i-").then_some(last)
}

/// The availability zone in a provider id such as `aws:///us-east-1a/i-0abc`.
fn zone_from_provider_id(provider_id: &str) -> Option<&str> {
    let rest = provider_id.strip_prefix("aws://")?;
    let mut segments = rest.split('/').filter(|segment| !segment.is_empty());
    let zone = segments.next()?;
    segments.next().is_some().then_some(zone)
}

fn timestamp(time: &Time) -> prost_types::Timestamp {
    spot_proto::time::timestamp(time.0.as_millisecond())
}

fn to_hash_map(map: Option<&BTreeMap<String, String>>) -> HashMap<String, String> {
    map.map(|map| {
        map.iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    })
    .unwrap_or_default()
}

fn selector_labels(selector: Option<&LabelSelector>) -> HashMap<String, String> {
    to_hash_map(selector.and_then(|selector| selector.match_labels.as_ref()))
}

fn parse_or_zero(
    kind: &str,
    value: &Quantity,
    parse: fn(&str) -> Result<i64, quantity::InvalidQuantity>,
) -> i64 {
    match parse(&value.0) {
        Ok(parsed) => parsed.max(0),
        Err(err) => {
            tracing::warn!(resource = kind, %err, "ignoring a malformed quantity");
            0
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

pub fn capacity_type(labels: &BTreeMap<String, String>) -> CapacityType {
    if let Some(value) = labels.get(KARPENTER_CAPACITY_TYPE_LABEL) {
        match value.as_str() {
            "spot" => return CapacityType::Spot,
            "on-demand" => return CapacityType::OnDemand,
            _ => {}
        }
    }
    match labels.get(EKS_CAPACITY_TYPE_LABEL).map(String::as_str) {
        Some("SPOT") => CapacityType::Spot,
        Some("ON_DEMAND") => CapacityType::OnDemand,
        _ => CapacityType::Unspecified,
    }
}

pub fn taint(taint: &K8sTaint) -> Taint {
    Taint {
        key: taint.key.clone(),
        value: taint.value.clone().unwrap_or_default(),
        effect: taint_effect_from_k8s(&taint.effect).into(),
    }
}

pub fn node(node: &K8sNode) -> Node {
    let meta = &node.metadata;
    let empty = BTreeMap::new();
    let labels = meta.labels.as_ref().unwrap_or(&empty);
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let provider_id = spec
        .and_then(|spec| spec.provider_id.clone())
        .unwrap_or_default();

    let allocatable = Amounts::of_map(status.and_then(|status| status.allocatable.as_ref()));
    let resources = Resources {
        pods: allocatable.get("pods"),
        ..allocatable.pod_resources()
    };

    let ready = status
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|condition| condition.status == "True");

    Node {
        name: meta.name.clone().unwrap_or_default(),
        instance_id: instance_id_from_provider_id(&provider_id)
            .unwrap_or_default()
            .to_owned(),
        instance_type: labels
            .get(INSTANCE_TYPE_LABEL)
            .or_else(|| labels.get(INSTANCE_TYPE_LABEL_BETA))
            .cloned()
            .unwrap_or_default(),
        zone: labels
            .get(ZONE_LABEL)
            .or_else(|| labels.get(ZONE_LABEL_BETA))
            .cloned()
            .or_else(|| zone_from_provider_id(&provider_id).map(str::to_owned))
            .unwrap_or_default(),
        capacity_type: capacity_type(labels).into(),
        allocatable: Some(resources),
        labels: to_hash_map(Some(labels)),
        taints: spec
            .and_then(|spec| spec.taints.as_ref())
            .map(|taints| taints.iter().map(taint).collect())
            .unwrap_or_default(),
        cordoned: spec.and_then(|spec| spec.unschedulable).unwrap_or(false),
        ready,
        created_at: meta.creation_timestamp.as_ref().map(timestamp),
        provider_id,
        do_not_disrupt: annotation(meta, DO_NOT_DISRUPT_ANNOTATION) == Some("true"),
        extended_allocatable: allocatable.extended(),
    }
}

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

/// Amounts in exact units by resource name: millicores for cpu; bytes for memory,
/// ephemeral-storage and hugepages; a count for anything else.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Amounts(BTreeMap<String, i64>);

/// Resources the platform models by name; every other one is an extended resource.
const MODELLED: [&str; 5] = ["cpu", "memory", "ephemeral-storage", "pods", GPU_RESOURCE];

fn is_bytes(name: &str) -> bool {
    matches!(name, "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn exact_amount(name: &str, value: &Quantity) -> i64 {
    let parse = if name == "cpu" {
        quantity::cpu_millis
    } else if is_bytes(name) {
        quantity::memory_bytes
    } else {
        quantity::count
    };
    parse_or_zero(name, value, parse)
}

impl Amounts {
    fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    fn add(mut self, other: &Self) -> Self {
        for (name, amount) in &other.0 {
            let sum = self.0.entry(name.clone()).or_default();
            *sum = sum.saturating_add(*amount);
        }
        self
    }

    fn max(mut self, other: &Self) -> Self {
        for (name, amount) in &other.0 {
            let most = self.0.entry(name.clone()).or_default();
            *most = (*most).max(*amount);
        }
        self
    }

    fn of_map(map: Option<&BTreeMap<String, Quantity>>) -> Self {
        Self(
            map.into_iter()
                .flatten()
                .map(|(name, value)| (name.clone(), exact_amount(name, value)))
                .collect(),
        )
    }

    /// A container's requests; a resource with only a limit requests its limit (as the API
    /// server's defaulting does).
    fn of_container(container: &Container) -> Self {
        let resources = container.resources.as_ref();
        let mut amounts = Self::of_map(resources.and_then(|r| r.limits.as_ref()));
        amounts
            .0
            .extend(Self::of_map(resources.and_then(|r| r.requests.as_ref())).0);
        amounts
    }

    /// The modelled resources, memory and storage in MiB (a pod takes one slot).
    fn pod_resources(&self) -> Resources {
        Resources {
            cpu_millis: self.get("cpu"),
            memory_mib: quantity::bytes_to_mib(self.get("memory")),
            pods: 1,
            gpus: self.get(GPU_RESOURCE),
            ephemeral_storage_mib: quantity::bytes_to_mib(self.get("ephemeral-storage")),
        }
    }

    /// Every other resource asked for, hugepages in MiB.
    fn extended(&self) -> HashMap<String, i64> {
        self.0
            .iter()
            .filter(|(name, amount)| **amount > 0 && !MODELLED.contains(&name.as_str()))
            .map(|(name, amount)| {
                let amount = if is_bytes(name) {
                    quantity::bytes_to_mib(*amount)
                } else {
                    *amount
                };
                (name.clone(), amount)
            })
            .collect()
    }
}

/// The pod's effective requests as the scheduler sees them: the larger of the sum of the app
/// containers and the largest init container, where restartable init containers (sidecars) keep
/// running and add to everything started after them; plus the pod overhead.
fn pod_amounts(spec: &PodSpec) -> Amounts {
    let mut sidecars = Amounts::default();
    let mut init_peak = Amounts::default();
    for container in spec.init_containers.iter().flatten() {
        let amounts = Amounts::of_container(container);
        if container.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.add(&amounts);
            init_peak = init_peak.max(&sidecars);
        } else {
            init_peak = init_peak.max(&sidecars.clone().add(&amounts));
        }
    }
    let app = spec
        .containers
        .iter()
        .map(Amounts::of_container)
        .fold(sidecars, |sum, amounts| sum.add(&amounts));
    app.max(&init_peak)
        .add(&Amounts::of_map(spec.overhead.as_ref()))
}

fn pod_phase(phase: Option<&str>) -> PodPhase {
    match phase {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unspecified,
    }
}

fn toleration(toleration: &K8sToleration) -> Toleration {
    Toleration {
        key: toleration.key.clone().unwrap_or_default(),
        operator: toleration
            .operator
            .clone()
            .unwrap_or_else(|| "Equal".to_owned()),
        value: toleration.value.clone().unwrap_or_default(),
        effect: toleration
            .effect
            .as_deref()
            .map(taint_effect_from_k8s)
            .unwrap_or(TaintEffect::Unspecified)
            .into(),
    }
}

pub fn pod(pod: &K8sPod) -> Pod {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let affinity = spec.and_then(|spec| spec.affinity.as_ref());

    let required_node_affinity = affinity
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|node| {
            node.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .and_then(|selector| selector.node_selector_terms.first())
        .and_then(|term| term.match_expressions.as_ref())
        .map(|expressions| {
            expressions
                .iter()
                .map(|expression| NodeSelectorRequirement {
                    key: expression.key.clone(),
                    operator: expression.operator.clone(),
                    values: expression.values.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();

    let preferred_node_affinity = affinity
        .and_then(|affinity| affinity.node_affinity.as_ref())
        .and_then(|node| {
            node.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|terms| {
            terms
                .iter()
                .map(|term| PreferredNodeAffinity {
                    weight: term.weight,
                    requirements: term
                        .preference
                        .match_expressions
                        .iter()
                        .flatten()
                        .map(|expression| NodeSelectorRequirement {
                            key: expression.key.clone(),
                            operator: expression.operator.clone(),
                            values: expression.values.clone().unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();

    let term = |term: &K8sTerm, anti: bool, weight: i32| PodAffinityTerm {
        label_selector: selector_labels(term.label_selector.as_ref()),
        topology_key: term.topology_key.clone(),
        anti,
        weight,
    };
    let mut pod_affinity = Vec::new();
    // Required terms (weight 0) and preferred ones (with their weight), of either kind.
    let mut add = |required: Option<&Vec<K8sTerm>>,
                   preferred: Option<&Vec<WeightedPodAffinityTerm>>,
                   anti: bool| {
        pod_affinity.extend(required.into_iter().flatten().map(|t| term(t, anti, 0)));
        pod_affinity.extend(
            preferred
                .into_iter()
                .flatten()
                .map(|w| term(&w.pod_affinity_term, anti, w.weight)),
        );
    };
    if let Some(a) = affinity.and_then(|affinity| affinity.pod_affinity.as_ref()) {
        add(
            a.required_during_scheduling_ignored_during_execution
                .as_ref(),
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref(),
            false,
        );
    }
    if let Some(a) = affinity.and_then(|affinity| affinity.pod_anti_affinity.as_ref()) {
        add(
            a.required_during_scheduling_ignored_during_execution
                .as_ref(),
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref(),
            true,
        );
    }

    let amounts = spec.map(pod_amounts).unwrap_or_default();
    let owner_kind = if is_mirror_pod(pod) {
        "Node".to_owned()
    } else {
        controller_kind(meta).unwrap_or_default().to_owned()
    };

    Pod {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        requests: Some(amounts.pod_resources()),
        extended_requests: amounts.extended(),
        priority: spec.and_then(|spec| spec.priority).unwrap_or(0),
        owner_kind,
        node_name: spec
            .and_then(|spec| spec.node_name.clone())
            .unwrap_or_default(),
        phase: pod_phase(
            pod.status
                .as_ref()
                .and_then(|status| status.phase.as_deref()),
        )
        .into(),
        labels: to_hash_map(meta.labels.as_ref()),
        node_selector: to_hash_map(spec.and_then(|spec| spec.node_selector.as_ref())),
        required_node_affinity,
        preferred_node_affinity,
        tolerations: spec
            .and_then(|spec| spec.tolerations.as_ref())
            .map(|tolerations| tolerations.iter().map(toleration).collect())
            .unwrap_or_default(),
        topology_spread: spec
            .and_then(|spec| spec.topology_spread_constraints.as_ref())
            .map(|constraints| {
                constraints
                    .iter()
                    .map(|constraint| TopologySpreadConstraint {
                        max_skew: constraint.max_skew,
                        topology_key: constraint.topology_key.clone(),
                        when_unsatisfiable: constraint.when_unsatisfiable.clone(),
                        label_selector: selector_labels(constraint.label_selector.as_ref()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        pod_affinity,
        do_not_disrupt: annotation(meta, DO_NOT_DISRUPT_ANNOTATION) == Some("true")
            || annotation(meta, SAFE_TO_EVICT_ANNOTATION) == Some("false"),
        safe_to_evict: annotation(meta, SAFE_TO_EVICT_ANNOTATION) == Some("true"),
        local_data: has_local_data(spec),
        host_ports: host_ports(spec),
        // Read from the claims and volumes by the watchers (see `watch::Volumes`).
        volume_zones: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// PodDisruptionBudgets
// ---------------------------------------------------------------------------------------------

pub fn pdb(pdb: &K8sPdb) -> PodDisruptionBudget {
    PodDisruptionBudget {
        namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
        name: pdb.metadata.name.clone().unwrap_or_default(),
        selector: selector_labels(pdb.spec.as_ref().and_then(|spec| spec.selector.as_ref())),
        disruptions_allowed: pdb
            .status
            .as_ref()
            .map(|status| status.disruptions_allowed)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Affinity, ContainerPort, EmptyDirVolumeSource, NodeAffinity, NodeCondition, NodeSelector,
        NodeSelectorRequirement as K8sReq, NodeSelectorTerm, NodeSpec, NodeStatus,
        PodAffinity as K8sPodAffinity, PodAffinityTerm as K8sPodAffinityTerm, PodAntiAffinity,
        PodStatus, PreferredSchedulingTerm, ResourceRequirements,
        TopologySpreadConstraint as K8sSpread, Volume,
    };
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn hash(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), Quantity(value.to_string())))
            .collect()
    }

    struct NodeBuilder(K8sNode);

    impl NodeBuilder {
        fn new(name: &str) -> Self {
            Self(K8sNode {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                spec: Some(NodeSpec::default()),
                status: Some(NodeStatus::default()),
            })
        }
        fn labels(mut self, pairs: &[(&str, &str)]) -> Self {
            self.0.metadata.labels = Some(map(pairs));
            self
        }
        fn provider_id(mut self, id: &str) -> Self {
            self.0.spec.as_mut().unwrap().provider_id = Some(id.into());
            self
        }
        fn allocatable(mut self, pairs: &[(&str, &str)]) -> Self {
            self.0.status.as_mut().unwrap().allocatable = Some(quantities(pairs));
            self
        }
        fn ready(mut self, status: &str) -> Self {
            self.0.status.as_mut().unwrap().conditions = Some(vec![
                NodeCondition {
                    type_: "MemoryPressure".into(),
                    status: "False".into(),
                    ..Default::default()
                },
                NodeCondition {
                    type_: "Ready".into(),
                    status: status.into(),
                    ..Default::default()
                },
            ]);
            self
        }
        fn taint(mut self, key: &str, value: Option<&str>, effect: &str) -> Self {
            let spec = self.0.spec.as_mut().unwrap();
            spec.taints.get_or_insert_with(Vec::new).push(K8sTaint {
                key: key.into(),
                value: value.map(Into::into),
                effect: effect.into(),
                time_added: None,
            });
            self
        }
        fn unschedulable(mut self) -> Self {
            self.0.spec.as_mut().unwrap().unschedulable = Some(true);
            self
        }
        fn created_ms(mut self, ms: i64) -> Self {
            self.0.metadata.creation_timestamp = Some(Time(
                k8s_openapi::jiff::Timestamp::from_millisecond(ms).unwrap(),
            ));
            self
        }
    }

    #[test]
    fn node_full() {
        let k8s = NodeBuilder::new("ip-10-0-0-1")
            .provider_id("aws:///us-east-1a/i-0abc123")
            .labels(&[
                ("node.kubernetes.io/instance-type", "m5.large"),
                ("topology.kubernetes.io/zone", "us-east-1a"),
                ("karpenter.sh/capacity-type", "spot"),
            ])
            .allocatable(&[
                ("cpu", "1930m"),
                ("memory", "7220184Ki"),
                ("pods", "29"),
                ("nvidia.com/gpu", "1"),
                ("ephemeral-storage", "95491281146"),
                ("vpc.amazonaws.com/pod-eni", "9"),
                ("hugepages-2Mi", "0"),
            ])
            .ready("True")
            .taint("dedicated", Some("gpu"), "NoSchedule")
            .taint("spot", None, "PreferNoSchedule")
            .unschedulable()
            .created_ms(1_764_000_000_123)
            .0;
        let node = node(&k8s);
        assert_eq!(node.name, "ip-10-0-0-1");
        assert_eq!(node.provider_id, "aws:///us-east-1a/i-0abc123");
        assert_eq!(node.instance_id, "i-0abc123");
        assert_eq!(node.instance_type, "m5.large");
        assert_eq!(node.zone, "us-east-1a");
        assert_eq!(node.capacity_type(), CapacityType::Spot);
        assert_eq!(
            node.allocatable,
            Some(Resources {
                cpu_millis: 1930,
                memory_mib: 7051,
                pods: 29,
                gpus: 1,
                ephemeral_storage_mib: 91_068,
            })
        );
        // What it offers of other resources; none of what it has none of.
        assert_eq!(
            node.extended_allocatable,
            HashMap::from([("vpc.amazonaws.com/pod-eni".to_owned(), 9)])
        );
        assert_eq!(node.labels.len(), 3);
        assert_eq!(
            node.taints,
            vec![
                Taint {
                    key: "dedicated".into(),
                    value: "gpu".into(),
                    effect: TaintEffect::NoSchedule.into()
                },
                Taint {
                    key: "spot".into(),
                    value: String::new(),
                    effect: TaintEffect::PreferNoSchedule.into()
                },
            ]
        );
        assert!(node.cordoned);
        assert!(node.ready);
        assert_eq!(
            node.created_at,
            Some(spot_proto::time::timestamp(1_764_000_000_123))
        );
    }

    #[test]
    fn node_minimal_and_fallbacks() {
        let node = node(&K8sNode::default());
        assert_eq!(node.name, "");
        assert_eq!(node.capacity_type(), CapacityType::Unspecified);
        assert!(!node.ready);
        assert!(!node.cordoned);
        assert_eq!(node.created_at, None);

        let k8s = NodeBuilder::new("n")
            .provider_id("aws:///eu-west-1b/i-0def")
            .labels(&[("eks.amazonaws.com/capacityType", "ON_DEMAND")])
            .ready("Unknown")
            .0;
        let node = super::node(&k8s);
        assert_eq!(node.zone, "eu-west-1b");
        assert_eq!(node.instance_id, "i-0def");
        assert_eq!(node.capacity_type(), CapacityType::OnDemand);
        assert!(!node.ready);
    }

    #[test]
    fn capacity_types() {
        assert_eq!(
            capacity_type(&map(&[("karpenter.sh/capacity-type", "on-demand")])),
            CapacityType::OnDemand
        );
        assert_eq!(
            capacity_type(&map(&[("eks.amazonaws.com/capacityType", "SPOT")])),
            CapacityType::Spot
        );
        assert_eq!(
            capacity_type(&map(&[("karpenter.sh/capacity-type", "reserved")])),
            CapacityType::Unspecified
        );
    }

    #[test]
    fn provider_ids() {
        assert_eq!(
            instance_id_from_provider_id("aws:///us-east-1a/i-0abc"),
            Some("i-0abc")
        );
        assert_eq!(
            instance_id_from_provider_id("aws:///i-0abc"),
            Some("i-0abc")
        );
        assert_eq!(instance_id_from_provider_id("gce://p/z/vm"), None);
        assert_eq!(instance_id_from_provider_id("aws:///us-east-1a/"), None);
        assert_eq!(
            zone_from_provider_id("aws:///us-east-1a/i-0abc"),
            Some("us-east-1a")
        );
        assert_eq!(zone_from_provider_id("aws:///i-0abc"), None);
    }

    fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            resources: Some(ResourceRequirements {
                requests: (!requests.is_empty()).then(|| quantities(requests)),
                limits: (!limits.is_empty()).then(|| quantities(limits)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    struct PodBuilder(K8sPod);

    impl PodBuilder {
        fn new(namespace: &str, name: &str) -> Self {
            Self(K8sPod {
                metadata: ObjectMeta {
                    namespace: Some(namespace.into()),
                    name: Some(name.into()),
                    uid: Some(format!("uid-{name}")),
                    ..Default::default()
                },
                spec: Some(PodSpec::default()),
                status: Some(PodStatus::default()),
            })
        }
        fn spec(&mut self) -> &mut PodSpec {
            self.0.spec.as_mut().unwrap()
        }
        fn container(mut self, c: Container) -> Self {
            self.spec().containers.push(c);
            self
        }
        fn init(mut self, c: Container) -> Self {
            self.spec()
                .init_containers
                .get_or_insert_with(Vec::new)
                .push(c);
            self
        }
        fn owner(mut self, kind: &str, controller: bool) -> Self {
            self.0
                .metadata
                .owner_references
                .get_or_insert_with(Vec::new)
                .push(OwnerReference {
                    kind: kind.into(),
                    name: "owner".into(),
                    controller: Some(controller),
                    ..Default::default()
                });
            self
        }
        fn annotation(mut self, key: &str, value: &str) -> Self {
            self.0
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(key.into(), value.into());
            self
        }
        fn phase(mut self, phase: &str) -> Self {
            self.0.status.as_mut().unwrap().phase = Some(phase.into());
            self
        }
        fn affinity(mut self, affinity: Affinity) -> Self {
            self.spec().affinity = Some(affinity);
            self
        }
    }

    #[test]
    fn pod_requests_sum_and_init_max() {
        let k8s = PodBuilder::new("default", "web")
            .container(container("a", &[("cpu", "250m"), ("memory", "64Mi")], &[]))
            .container(container(
                "b",
                &[("cpu", "0.5")],
                &[("memory", "128Mi"), ("nvidia.com/gpu", "1")],
            ))
            .init(container("init", &[("cpu", "2"), ("memory", "16Mi")], &[]))
            .0;
        let pod = pod(&k8s);
        assert_eq!(
            pod.requests,
            Some(Resources {
                cpu_millis: 2000,
                memory_mib: 192,
                pods: 1,
                gpus: 1,
                ephemeral_storage_mib: 0,
            })
        );
        assert!(pod.extended_requests.is_empty());
        assert_eq!(pod.priority, 0);
    }

    /// Disk, resources the platform does not launch for, and priority, as kube-scheduler counts
    /// them: an extended resource's limit is its request, hugepages in MiB.
    #[test]
    fn pod_requests_ephemeral_storage_extended_resources_and_priority() {
        let mut builder = PodBuilder::new("default", "web")
            .container(container(
                "a",
                &[("ephemeral-storage", "2Gi"), ("cpu", "100m")],
                &[("vpc.amazonaws.com/pod-eni", "1")],
            ))
            .container(container(
                "b",
                &[("ephemeral-storage", "512Mi"), ("hugepages-2Mi", "64Mi")],
                &[],
            ));
        builder.spec().priority = Some(-100);
        let pod = pod(&builder.0);
        assert_eq!(pod.requests.unwrap().ephemeral_storage_mib, 2_560);
        assert_eq!(
            pod.extended_requests,
            HashMap::from([
                ("vpc.amazonaws.com/pod-eni".to_owned(), 1),
                ("hugepages-2Mi".to_owned(), 64),
            ])
        );
        assert_eq!(pod.priority, -100);
    }

    #[test]
    fn pod_requests_memory_is_summed_in_bytes() {
        let k8s = PodBuilder::new("default", "web")
            .container(container("a", &[("memory", "500k")], &[]))
            .container(container("b", &[("memory", "500k")], &[]))
            .0;
        assert_eq!(pod(&k8s).requests.unwrap().memory_mib, 1);
    }

    #[test]
    fn pod_requests_sidecars_and_overhead() {
        let mut sidecar = container("proxy", &[("cpu", "100m")], &[]);
        sidecar.restart_policy = Some("Always".into());
        let mut builder = PodBuilder::new("default", "web")
            .init(sidecar)
            .init(container("migrate", &[("cpu", "1")], &[]))
            .container(container("app", &[("cpu", "500m")], &[]));
        builder.spec().overhead = Some(quantities(&[("cpu", "10m")]));
        // init peak: 100m sidecar + 1000m = 1100m; app: 100m + 500m = 600m; plus 10m overhead.
        assert_eq!(pod(&builder.0).requests.unwrap().cpu_millis, 1110);
    }

    #[test]
    fn pod_owner_kinds() {
        let rs = PodBuilder::new("ns", "a")
            .owner("SomethingElse", false)
            .owner("ReplicaSet", true)
            .0;
        assert_eq!(pod(&rs).owner_kind, "ReplicaSet");
        let mirror = PodBuilder::new("kube-system", "etcd")
            .annotation(MIRROR_POD_ANNOTATION, "abc")
            .owner("Node", true)
            .0;
        assert_eq!(pod(&mirror).owner_kind, "Node");
        assert!(is_mirror_pod(&mirror));
        let bare = PodBuilder::new("ns", "bare").owner("X", false).0;
        assert_eq!(pod(&bare).owner_kind, "");
        let ds = PodBuilder::new("ns", "ds").owner("DaemonSet", true).0;
        assert!(is_daemonset_pod(&ds));
        assert!(!is_daemonset_pod(&rs));
    }

    #[test]
    fn disruption_annotations_and_local_data() {
        let plain = pod(&PodBuilder::new("ns", "a").owner("ReplicaSet", true).0);
        assert!(!plain.do_not_disrupt && !plain.safe_to_evict && !plain.local_data);
        let karpenter = PodBuilder::new("ns", "b")
            .annotation(DO_NOT_DISRUPT_ANNOTATION, "true")
            .0;
        assert!(pod(&karpenter).do_not_disrupt);
        let autoscaler = PodBuilder::new("ns", "c")
            .annotation(SAFE_TO_EVICT_ANNOTATION, "false")
            .0;
        assert!(pod(&autoscaler).do_not_disrupt);
        let evictable = PodBuilder::new("ns", "d")
            .annotation(SAFE_TO_EVICT_ANNOTATION, "true")
            .0;
        assert!(pod(&evictable).safe_to_evict && !pod(&evictable).do_not_disrupt);
        let volume = |name: &str, medium: Option<&str>| Volume {
            name: name.into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: medium.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut scratch = PodBuilder::new("ns", "e");
        scratch.spec().volumes = Some(vec![volume("cache", None)]);
        assert!(pod(&scratch.0).local_data);
        let mut in_memory = PodBuilder::new("ns", "f");
        in_memory.spec().volumes = Some(vec![volume("shm", Some("Memory"))]);
        assert!(!pod(&in_memory.0).local_data);
    }

    #[test]
    fn a_volume_names_its_zones_by_affinity_or_in_tree_label() {
        let in_tree = PersistentVolume {
            metadata: ObjectMeta {
                labels: Some(map(&[
                    ("failure-domain.beta.kubernetes.io/zone", "us-east-1b"),
                    ("team", "data"),
                ])),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(volume_zones(&in_tree), ["us-east-1b"]);
        assert!(volume_zones(&PersistentVolume::default()).is_empty());

        let zones = |z: &[&str]| z.iter().map(|z| (*z).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            common_zones(&[zones(&["us-east-1a", "us-east-1b"]), zones(&["us-east-1b"])]),
            ["us-east-1b"]
        );
        // Volumes in no common zone: the pod is still tied to the first one's.
        assert_eq!(
            common_zones(&[zones(&["us-east-1a"]), zones(&["us-east-1c"])]),
            ["us-east-1a"]
        );
        assert!(common_zones(&[]).is_empty());
    }

    #[test]
    fn host_ports_are_reported_once_each() {
        let port =
            |container_port: i32, host_port: Option<i32>, protocol: Option<&str>| ContainerPort {
                container_port,
                host_port,
                protocol: protocol.map(str::to_owned),
                ..Default::default()
            };
        let mut ingress = container("nginx", &[("cpu", "100m")], &[]);
        ingress.ports = Some(vec![
            port(80, Some(80), None),
            port(443, Some(443), Some("TCP")),
            port(8080, None, None),
            port(53, Some(53), Some("UDP")),
        ]);
        let mut sidecar = container("metrics", &[], &[]);
        sidecar.ports = Some(vec![port(80, Some(80), Some("TCP"))]);
        let reported = pod(&PodBuilder::new("ns", "ingress")
            .container(ingress)
            .container(sidecar)
            .0);
        let ports: Vec<(&str, i32)> = reported
            .host_ports
            .iter()
            .map(|p| (p.protocol.as_str(), p.port))
            .collect();
        assert_eq!(ports, [("TCP", 80), ("TCP", 443), ("UDP", 53)]);
        let plain = pod(&PodBuilder::new("ns", "web")
            .container(container("web", &[], &[]))
            .0);
        assert!(plain.host_ports.is_empty());
    }

    #[test]
    fn pod_phases() {
        for (phase, expected) in [
            ("Pending", PodPhase::Pending),
            ("Running", PodPhase::Running),
            ("Succeeded", PodPhase::Succeeded),
            ("Failed", PodPhase::Failed),
            ("Unknown", PodPhase::Unspecified),
        ] {
            let k8s = PodBuilder::new("ns", "p").phase(phase).0;
            assert_eq!(pod(&k8s).phase(), expected);
            assert_eq!(
                is_finished_pod(&k8s),
                matches!(phase, "Succeeded" | "Failed")
            );
        }
    }

    #[test]
    fn pod_scheduling_constraints() {
        let affinity = Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![
                        NodeSelectorTerm {
                            match_expressions: Some(vec![
                                K8sReq {
                                    key: "karpenter.sh/capacity-type".into(),
                                    operator: "In".into(),
                                    values: Some(vec!["spot".into()]),
                                },
                                K8sReq {
                                    key: "gpu".into(),
                                    operator: "DoesNotExist".into(),
                                    values: None,
                                },
                            ]),
                            match_fields: None,
                        },
                        NodeSelectorTerm {
                            match_expressions: Some(vec![K8sReq {
                                key: "ignored".into(),
                                operator: "Exists".into(),
                                values: None,
                            }]),
                            match_fields: None,
                        },
                    ],
                }),
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 40,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![K8sReq {
                                key: "topology.kubernetes.io/zone".into(),
                                operator: "In".into(),
                                values: Some(vec!["us-east-1b".into()]),
                            }]),
                            match_fields: None,
                        },
                    },
                ]),
            }),
            pod_affinity: Some(K8sPodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![
                    K8sPodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(map(&[("app", "cache")])),
                            ..Default::default()
                        }),
                        topology_key: "topology.kubernetes.io/zone".into(),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![
                    K8sPodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(map(&[("app", "web")])),
                            ..Default::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..Default::default()
                    },
                ]),
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 70,
                        pod_affinity_term: K8sPodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(map(&[("app", "web")])),
                                ..Default::default()
                            }),
                            topology_key: "topology.kubernetes.io/zone".into(),
                            ..Default::default()
                        },
                    },
                ]),
            }),
        };
        let mut builder = PodBuilder::new("shop", "web-1").affinity(affinity);
        let spec = builder.spec();
        spec.node_name = Some("n1".into());
        spec.node_selector = Some(map(&[("kubernetes.io/os", "linux")]));
        spec.tolerations = Some(vec![
            K8sToleration {
                key: Some("spot".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            },
            K8sToleration {
                key: Some("dedicated".into()),
                value: Some("gpu".into()),
                ..Default::default()
            },
        ]);
        spec.topology_spread_constraints = Some(vec![K8sSpread {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone".into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(map(&[("app", "web")])),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        builder.0.metadata.labels = Some(map(&[("app", "web")]));
        let pod = pod(&builder.0);

        assert_eq!(pod.namespace, "shop");
        assert_eq!(pod.name, "web-1");
        assert_eq!(pod.uid, "uid-web-1");
        assert_eq!(pod.node_name, "n1");
        assert_eq!(pod.labels, hash(&[("app", "web")]));
        assert_eq!(pod.node_selector, hash(&[("kubernetes.io/os", "linux")]));
        assert_eq!(
            pod.required_node_affinity,
            vec![
                NodeSelectorRequirement {
                    key: "karpenter.sh/capacity-type".into(),
                    operator: "In".into(),
                    values: vec!["spot".into()],
                },
                NodeSelectorRequirement {
                    key: "gpu".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ]
        );
        assert_eq!(
            pod.tolerations,
            vec![
                Toleration {
                    key: "spot".into(),
                    operator: "Exists".into(),
                    value: String::new(),
                    effect: TaintEffect::NoSchedule.into(),
                },
                Toleration {
                    key: "dedicated".into(),
                    operator: "Equal".into(),
                    value: "gpu".into(),
                    effect: TaintEffect::Unspecified.into(),
                },
            ]
        );
        assert_eq!(
            pod.topology_spread,
            vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: hash(&[("app", "web")]),
            }]
        );
        assert_eq!(
            pod.pod_affinity,
            vec![
                PodAffinityTerm {
                    label_selector: hash(&[("app", "cache")]),
                    topology_key: "topology.kubernetes.io/zone".into(),
                    anti: false,
                    weight: 0,
                },
                PodAffinityTerm {
                    label_selector: hash(&[("app", "web")]),
                    topology_key: "kubernetes.io/hostname".into(),
                    anti: true,
                    weight: 0,
                },
                PodAffinityTerm {
                    label_selector: hash(&[("app", "web")]),
                    topology_key: "topology.kubernetes.io/zone".into(),
                    anti: true,
                    weight: 70,
                },
            ]
        );
        assert_eq!(
            pod.preferred_node_affinity,
            vec![PreferredNodeAffinity {
                weight: 40,
                requirements: vec![NodeSelectorRequirement {
                    key: "topology.kubernetes.io/zone".into(),
                    operator: "In".into(),
                    values: vec!["us-east-1b".into()],
                }],
            }]
        );
    }

    #[test]
    fn empty_pod() {
        let pod = pod(&K8sPod::default());
        assert_eq!(
            pod.requests,
            Some(Resources {
                pods: 1,
                ..Default::default()
            })
        );
        assert_eq!(pod.phase(), PodPhase::Unspecified);
    }

    #[test]
    fn pdbs() {
        let k8s = K8sPdb {
            metadata: ObjectMeta {
                namespace: Some("shop".into()),
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some(map(&[("app", "web")])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: 2,
                ..Default::default()
            }),
        };
        assert_eq!(
            pdb(&k8s),
            PodDisruptionBudget {
                namespace: "shop".into(),
                name: "web".into(),
                selector: hash(&[("app", "web")]),
                disruptions_allowed: 2,
            }
        );
        assert_eq!(pdb(&K8sPdb::default()).disruptions_allowed, 0);
    }

    #[test]
    fn taint_effects_round_trip() {
        for effect in [
            TaintEffect::NoSchedule,
            TaintEffect::PreferNoSchedule,
            TaintEffect::NoExecute,
        ] {
            let name = taint_effect_to_k8s(effect).unwrap();
            assert_eq!(taint_effect_from_k8s(name), effect);
        }
        assert_eq!(taint_effect_to_k8s(TaintEffect::Unspecified), None);
        assert_eq!(taint_effect_from_k8s("Bogus"), TaintEffect::Unspecified);
    }
}
