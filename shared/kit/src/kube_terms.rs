//! Kubernetes objects as the agent reports them (the contract), in the engine's terms: a pod's
//! requests and constraints, a taint, and a node as kube-scheduler sees it. One mapping for the
//! optimizer's problems and for the simulated clusters' scheduler stand-in, so the stand-in reads
//! pods exactly as the planner does.

use std::collections::BTreeMap;

use spot_engine as engine;
use spot_engine::scheduler_sim::{SimNode, schedule_one};
use spot_proto::common::v1 as common;

use crate::policy_terms;

pub fn pod_id(pod: &common::Pod) -> String {
    format!("{}/{}", pod.namespace, pod.name)
}

/// Pods the optimizer must place: not DaemonSet or mirror pods, not finished.
pub fn needs_a_node(pod: &common::Pod) -> bool {
    let finished = matches!(
        pod.phase(),
        common::PodPhase::Succeeded | common::PodPhase::Failed
    );
    !finished && pod.owner_kind != "DaemonSet" && pod.owner_kind != "Node"
}

/// Below this PriorityClass value a pod is expendable, as cluster-autoscaler's default
/// `--expendable-pods-priority-cutoff` reads it (overprovisioning placeholders, best-effort
/// batch): no node is launched for it and it holds no node, since kube-scheduler preempts it for
/// any pod that needs its room.
pub const EXPENDABLE_BELOW: i32 = -10;

pub fn expendable(pod: &common::Pod) -> bool {
    pod.priority < EXPENDABLE_BELOW
}

/// Pods a plan gives a place to: those that need a node, unless expendable.
pub fn is_planned(pod: &common::Pod) -> bool {
    needs_a_node(pod) && !expendable(pod)
}

/// Reported amounts in the engine's terms.
pub fn resources(r: &common::Resources) -> engine::Resources {
    engine::Resources::new(r.cpu_millis, r.memory_mib, r.pods, r.gpus)
        .with_ephemeral_storage(r.ephemeral_storage_mib)
}

/// The engine's stand-in labels for the extended resources a node offers or a pod requests
/// (see [`engine::well_known::EXTENDED_RESOURCE_PREFIX`]).
fn extended_resource_labels(
    amounts: &std::collections::HashMap<String, i64>,
) -> impl Iterator<Item = (String, String)> + '_ {
    amounts
        .iter()
        .filter(|(_, amount)| **amount > 0)
        .map(|(name, _)| {
            (
                format!("{}{name}", engine::well_known::EXTENDED_RESOURCE_PREFIX),
                engine::well_known::OFFERED.to_owned(),
            )
        })
}

/// The labels a node has in the engine's terms: its own, and one per extended resource it offers.
pub fn node_labels(node: &common::Node) -> BTreeMap<String, String> {
    node.labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(extended_resource_labels(&node.extended_allocatable))
        .collect()
}

/// Namespaces whose losses a policy accepts on a voluntary move (`"*"`: every namespace): bare
/// pods, and pods' local data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcceptedLoss {
    pub bare_pods_in: Vec<String>,
    pub local_data_in: Vec<String>,
}

fn covers(namespaces: &[String], namespace: &str) -> bool {
    namespaces.iter().any(|n| n == "*" || n == namespace)
}

/// Why evicting the pod would hurt it, the way cluster-autoscaler and Karpenter read a pod; None
/// when it may be evicted. `safe-to-evict: "true"` on the pod, or the policy (`accepted`),
/// accepts losing a bare pod or its local data; nothing overrides a pod that asks not to be
/// disrupted, or one that requests an extended resource (it could only go to another node that
/// offers it, and how much of it is left there is not known).
pub fn eviction_hurts(pod: &common::Pod, accepted: &AcceptedLoss) -> Option<String> {
    let id = pod_id(pod);
    if pod.do_not_disrupt {
        return Some(format!("pod {id} asks not to be disrupted"));
    }
    if !is_planned(pod) {
        return None;
    }
    if let Some(resource) = pod.extended_requests.keys().min() {
        return Some(format!(
            "pod {id} requests {resource}, which no node the platform launches is known to offer"
        ));
    }
    if pod.safe_to_evict {
        return None;
    }
    if pod.owner_kind.is_empty() && !covers(&accepted.bare_pods_in, &pod.namespace) {
        return Some(format!("pod {id} has no controller to recreate it"));
    }
    if pod.local_data && !covers(&accepted.local_data_in, &pod.namespace) {
        return Some(format!("pod {id} keeps data on the node"));
    }
    None
}

/// Why a voluntary move (consolidation, compliance) must leave the node alone; None when it may
/// move.
pub fn pin_reason(
    node: &common::Node,
    pods: &[common::Pod],
    accepted: &AcceptedLoss,
) -> Option<String> {
    if node.do_not_disrupt {
        return Some("the node asks not to be disrupted".into());
    }
    pods.iter()
        .filter(|p| p.node_name == node.name)
        .find_map(|pod| eviction_hurts(pod, accepted))
}

/// A node that joined less than [`engine::NEW_NODE_SETTLES_MS`] ago settles before a
/// consolidation may move it, so what provisioning just launched is not re-planned away at once;
/// one without a creation time is taken as old.
pub fn settling(node: &common::Node, now_millis: i64) -> bool {
    node.created_at
        .as_ref()
        .is_some_and(|at| now_millis - spot_proto::time::millis(at) < engine::NEW_NODE_SETTLES_MS)
}

/// A node template's taint in the engine's terms; None without a known effect.
pub fn taint(taint: &common::Taint) -> Option<engine::Taint> {
    Some(engine::Taint {
        key: taint.key.clone(),
        value: taint.value.clone(),
        effect: taint_effect(taint.effect())?,
    })
}

fn taint_effect(effect: common::TaintEffect) -> Option<engine::TaintEffect> {
    match effect {
        common::TaintEffect::NoSchedule => Some(engine::TaintEffect::NoSchedule),
        common::TaintEffect::PreferNoSchedule => Some(engine::TaintEffect::PreferNoSchedule),
        common::TaintEffect::NoExecute => Some(engine::TaintEffect::NoExecute),
        common::TaintEffect::Unspecified => None,
    }
}

fn topology_key(key: &str) -> Option<engine::TopologyKey> {
    match key {
        "topology.kubernetes.io/zone" | "zone" => Some(engine::TopologyKey::Zone),
        "kubernetes.io/hostname" | "hostname" => Some(engine::TopologyKey::Hostname),
        _ => None,
    }
}

fn sorted(map: &std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The engine's stand-in label for a host port a pod binds (it is never a node's or a user's).
pub const HOST_PORT_LABEL_PREFIX: &str = "host-port.spot-optimizer/";

/// A host port as kube-scheduler's NodePorts filter treats it: no two pods binding the same port
/// and protocol on one node, which is a required anti-affinity on the hostname among the pods
/// that bind it. Any host IP counts as every IP (the filter's conservative reading).
fn host_port_terms(ports: &[common::HostPort]) -> Vec<(String, engine::PodAffinityTerm)> {
    ports
        .iter()
        .map(|port| {
            let protocol = if port.protocol.is_empty() {
                "TCP"
            } else {
                port.protocol.as_str()
            };
            let key = format!("{HOST_PORT_LABEL_PREFIX}{protocol}-{}", port.port);
            let term = engine::PodAffinityTerm {
                topology_key: engine::TopologyKey::Hostname,
                match_labels: BTreeMap::from([(key.clone(), "bound".to_owned())]),
            };
            (key, term)
        })
        .collect()
}

pub fn pod(pod: &common::Pod) -> engine::Pod {
    let requests = pod.requests.unwrap_or_default();
    let requirements = policy_terms::requirements(&pod.required_node_affinity);
    let terms = |anti: bool| {
        pod.pod_affinity
            .iter()
            .filter(|t| t.anti == anti && t.weight == 0)
            .filter_map(pod_affinity_term)
            .collect()
    };
    let host_ports = host_port_terms(&pod.host_ports);
    engine::Pod {
        id: pod_id(pod),
        requests: resources(&requests).for_pods(1),
        labels: sorted(&pod.labels)
            .into_iter()
            .chain(
                host_ports
                    .iter()
                    .map(|(key, _)| (key.clone(), "bound".to_owned())),
            )
            .collect(),
        node_selector: sorted(&pod.node_selector)
            .into_iter()
            .chain(extended_resource_labels(&pod.extended_requests))
            .collect(),
        required_node_affinity: if requirements.is_empty() {
            Vec::new()
        } else {
            vec![engine::NodeSelectorTerm { requirements }]
        },
        tolerations: pod
            .tolerations
            .iter()
            .map(|t| engine::Toleration {
                key: t.key.clone(),
                operator: if t.operator == "Exists" {
                    engine::TolerationOperator::Exists
                } else {
                    engine::TolerationOperator::Equal
                },
                value: t.value.clone(),
                effect: taint_effect(t.effect()),
            })
            .collect(),
        // ScheduleAnyway is a preference (see `preferences`).
        topology_spread: pod
            .topology_spread
            .iter()
            .filter(|s| s.when_unsatisfiable != SCHEDULE_ANYWAY)
            .filter_map(topology_spread)
            .collect(),
        affinity: terms(false),
        anti_affinity: terms(true)
            .into_iter()
            .chain(host_ports.into_iter().map(|(_, term)| term))
            .collect(),
        volume_zones: pod.volume_zones.clone(),
        preferences: preferences(pod),
    }
}

const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

fn pod_affinity_term(term: &common::PodAffinityTerm) -> Option<engine::PodAffinityTerm> {
    Some(engine::PodAffinityTerm {
        topology_key: topology_key(&term.topology_key)?,
        match_labels: sorted(&term.label_selector),
    })
}

fn topology_spread(spread: &common::TopologySpreadConstraint) -> Option<engine::TopologySpread> {
    Some(engine::TopologySpread {
        topology_key: topology_key(&spread.topology_key)?,
        max_skew: u32::try_from(spread.max_skew.max(1)).unwrap_or(1),
        match_labels: sorted(&spread.label_selector),
    })
}

/// The pod's soft constraints: preferred node and pod (anti-)affinity with their weights, and
/// `ScheduleAnyway` spreads (weighed as the heaviest preference).
fn preferences(pod: &common::Pod) -> Vec<engine::Preference> {
    let weight = |w: i32| u32::try_from(w.clamp(1, 100)).unwrap_or(1);
    let node = pod.preferred_node_affinity.iter().filter_map(|term| {
        let requirements = policy_terms::requirements(&term.requirements);
        (!requirements.is_empty()).then(|| engine::Preference {
            weight: weight(term.weight),
            preferred: engine::Preferred::NodeAffinity(engine::NodeSelectorTerm { requirements }),
        })
    });
    let pods = pod
        .pod_affinity
        .iter()
        .filter(|t| t.weight > 0)
        .filter_map(|t| {
            let term = pod_affinity_term(t)?;
            Some(engine::Preference {
                weight: weight(t.weight),
                preferred: if t.anti {
                    engine::Preferred::PodAntiAffinity(term)
                } else {
                    engine::Preferred::PodAffinity(term)
                },
            })
        });
    let spreads = pod
        .topology_spread
        .iter()
        .filter(|s| s.when_unsatisfiable == SCHEDULE_ANYWAY)
        .filter_map(|s| {
            Some(engine::Preference {
                weight: 100,
                preferred: engine::Preferred::TopologySpread(topology_spread(s)?),
            })
        });
    node.chain(pods).chain(spreads).collect()
}

/// The scheduler's view of a reported node with the pods bound to it. A kubelet labels its node
/// with zone, instance type and hostname; where a report lacks them they are derived.
pub fn sim_node<'a>(
    node: &common::Node,
    bound: impl IntoIterator<Item = &'a common::Pod>,
) -> SimNode {
    let allocatable = node.allocatable.unwrap_or_default();
    let mut labels = node_labels(node);
    let capacity_type = if node.capacity_type() == common::CapacityType::Spot {
        engine::CapacityType::Spot
    } else {
        engine::CapacityType::OnDemand
    };
    for (key, value) in [
        (engine::well_known::ZONE, node.zone.as_str()),
        (
            engine::well_known::INSTANCE_TYPE,
            node.instance_type.as_str(),
        ),
        (engine::well_known::CAPACITY_TYPE, capacity_type.label()),
    ] {
        if !value.is_empty() {
            labels
                .entry(key.to_owned())
                .or_insert_with(|| value.to_owned());
        }
    }
    let mut sim = SimNode::new(
        &node.name,
        resources(&allocatable),
        labels,
        node.taints.iter().filter_map(taint).collect(),
    );
    sim.schedulable = node.ready && !node.cordoned;
    for pod in bound {
        sim.bind(&self::pod(pod));
    }
    sim
}

fn finished(pod: &common::Pod) -> bool {
    matches!(
        pod.phase(),
        common::PodPhase::Succeeded | common::PodPhase::Failed
    )
}

/// kube-scheduler for simulated clusters (the demo's and the tests'): binds the pending pods, one
/// at a time in the order given, with the engine's stand-in of the default profile (least
/// allocated node first). Each bound pod's index in `pods` and its node's name; a pod that fits
/// nowhere stays pending, as it would in a real cluster.
pub fn bind_pending(nodes: &[common::Node], pods: &[common::Pod]) -> Vec<(usize, String)> {
    let mut sim: Vec<SimNode> = nodes
        .iter()
        .map(|node| {
            sim_node(
                node,
                pods.iter()
                    .filter(|p| p.node_name == node.name && !finished(p)),
            )
        })
        .collect();
    pods.iter()
        .enumerate()
        .filter(|(_, p)| p.node_name.is_empty() && !finished(p) && p.owner_kind != "DaemonSet")
        .filter_map(|(i, p)| {
            let at = schedule_one(&mut sim, &pod(p)).ok()?;
            Some((i, nodes[at].name.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_accepts_losses_per_namespace_but_never_overrides_do_not_disrupt() {
        let scratch = common::Pod {
            namespace: "ci".into(),
            name: "runner".into(),
            owner_kind: String::new(),
            local_data: true,
            ..Default::default()
        };
        let none = AcceptedLoss::default();
        assert_eq!(
            eviction_hurts(&scratch, &none).as_deref(),
            Some("pod ci/runner has no controller to recreate it")
        );
        let bare_ok = AcceptedLoss {
            bare_pods_in: vec!["ci".into()],
            ..Default::default()
        };
        assert_eq!(
            eviction_hurts(&scratch, &bare_ok).as_deref(),
            Some("pod ci/runner keeps data on the node")
        );
        let all_ok = AcceptedLoss {
            bare_pods_in: vec!["ci".into()],
            local_data_in: vec!["*".into()],
        };
        assert_eq!(eviction_hurts(&scratch, &all_ok), None);
        let guarded = common::Pod {
            do_not_disrupt: true,
            ..scratch
        };
        assert!(eviction_hurts(&guarded, &all_ok).is_some());
    }

    fn node(name: &str, cpu_millis: i64) -> common::Node {
        common::Node {
            name: name.into(),
            zone: "us-east-1a".into(),
            allocatable: Some(common::Resources {
                cpu_millis,
                memory_mib: 16_000,
                pods: 110,
                gpus: 0,
                ..Default::default()
            }),
            ready: true,
            ..Default::default()
        }
    }

    fn pod(name: &str, cpu_millis: i64, node: &str) -> common::Pod {
        common::Pod {
            namespace: "shop".into(),
            name: name.into(),
            requests: Some(common::Resources {
                cpu_millis,
                memory_mib: 100,
                pods: 1,
                gpus: 0,
                ..Default::default()
            }),
            node_name: node.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pending_pods_go_to_the_least_allocated_ready_uncordoned_node() {
        let mut cordoned = node("cordoned", 8_000);
        cordoned.cordoned = true;
        let nodes = [node("full", 4_000), node("empty", 4_000), cordoned];
        let pods = [
            pod("old", 3_000, "full"),
            pod("new", 500, ""),
            pod("too-big", 5_000, ""),
        ];
        assert_eq!(bind_pending(&nodes, &pods), vec![(1, "empty".to_owned())]);
    }

    fn binding(pod: common::Pod, ports: &[(&str, i32)]) -> common::Pod {
        common::Pod {
            host_ports: ports
                .iter()
                .map(|(protocol, port)| common::HostPort {
                    protocol: (*protocol).to_owned(),
                    port: *port,
                })
                .collect(),
            ..pod
        }
    }

    #[test]
    fn a_pod_with_a_zonal_volume_goes_only_to_its_zone() {
        let mut elsewhere = node("elsewhere", 8_000);
        elsewhere.zone = "us-east-1b".into();
        let nodes = [node("busy", 4_000), elsewhere];
        let database = common::Pod {
            volume_zones: vec!["us-east-1a".into()],
            ..pod("db-0", 500, "")
        };
        let pods = [pod("old", 3_000, "busy"), database];
        // `elsewhere` is the least allocated, but the volume is in us-east-1a.
        assert_eq!(bind_pending(&nodes, &pods), vec![(1, "busy".to_owned())]);
        let too_small = [pod("old", 3_900, "busy"), pods[1].clone()];
        assert!(bind_pending(&nodes, &too_small).is_empty());
    }

    #[test]
    fn pods_binding_the_same_host_port_never_share_a_node() {
        let nodes = [node("a", 8_000), node("b", 4_000)];
        let pods = [
            binding(pod("ingress-1", 500, "a"), &[("TCP", 80)]),
            // The least allocated node is `a`, but it already binds TCP 80.
            binding(pod("ingress-2", 500, ""), &[("TCP", 80), ("TCP", 443)]),
            // Another protocol, or no host port, does not conflict.
            binding(pod("dns", 500, ""), &[("UDP", 80)]),
            pod("web", 500, ""),
            binding(pod("ingress-3", 500, ""), &[("", 80)]),
        ];
        assert_eq!(
            bind_pending(&nodes, &pods),
            vec![
                (1, "b".to_owned()),
                (2, "a".to_owned()),
                (3, "a".to_owned()),
            ],
            "ingress-3 (TCP 80 by default) has no node left"
        );
        let engine_pod = super::pod(&pods[1]);
        assert_eq!(engine_pod.anti_affinity.len(), 2);
        assert_eq!(
            engine_pod.labels.get("host-port.spot-optimizer/TCP-443"),
            Some(&"bound".to_owned())
        );
    }
}
