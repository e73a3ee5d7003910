//! A cluster as the agent reported it, turned into the engine's problem: the pods that need a
//! node (DaemonSet and mirror pods come with every node; finished pods need none), the nodes that
//! exist with their prices, and the catalog's offerings in the cluster's region that its policy
//! admits. A policy that names neither architectures nor families admits only the architectures
//! the cluster runs today (and those its pods ask for): an amd64-only image must not land on a
//! Graviton node because arm64 is cheaper. A node a voluntary move must leave alone (a pod on it
//! asks not to be disrupted, would lose its data or has no controller) says why.

use std::collections::{BTreeMap, HashMap};

use spot_cloud::{Catalog, zones_of};
use spot_engine as engine;
use spot_proto::common::v1 as common;

use crate::policy::Governing;

pub use spot_kit::kube_terms::{
    is_planned, needs_a_node, node_labels, pin_reason, pod, pod_id, resources, settling, taint,
};

/// Live spot prices of one region by (zone, instance type); empty without a live source.
pub type LivePrices = BTreeMap<(String, String), f64>;

fn live_price(live: &LivePrices, zone: &str, instance_type: &str) -> Option<f64> {
    live.get(&(zone.to_owned(), instance_type.to_owned()))
        .copied()
        .filter(|price| *price > 0.0)
}

/// Where a node's hourly price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    /// The pool's live spot price.
    LiveSpot,
    /// The catalog's estimate of the region's spot price (no live price was believed).
    EstimatedSpot,
    /// The catalog's on-demand price (on-demand nodes; spot nodes with no estimate either).
    OnDemandList,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LiveSpot => "live_spot",
            Self::EstimatedSpot => "estimated_spot",
            Self::OnDemandList => "on_demand_list",
        }
    }
}

/// What a node costs per hour: the catalog's on-demand price; for spot, the pool's live price,
/// else the advisor's estimate.
pub fn node_price(region: &str, node: &common::Node, live: &LivePrices) -> f64 {
    priced(region, node, live).0
}

/// A node's hourly price and where it came from (see [`node_price`]).
pub fn priced(region: &str, node: &common::Node, live: &LivePrices) -> (f64, PriceSource) {
    let catalog = Catalog::embedded();
    let on_demand = catalog
        .on_demand_price(&node.instance_type)
        .ok()
        .flatten()
        .unwrap_or(0.0);
    if node.capacity_type() != common::CapacityType::Spot {
        return (on_demand, PriceSource::OnDemandList);
    }
    if let Some(price) = live_price(live, &node.zone, &node.instance_type) {
        return (price, PriceSource::LiveSpot);
    }
    match catalog
        .estimated_spot_price(region, &node.instance_type)
        .ok()
        .flatten()
    {
        Some(price) => (price, PriceSource::EstimatedSpot),
        None => (on_demand, PriceSource::OnDemandList),
    }
}

/// Marks the nodes that joined too recently for the autopilot to consolidate them (see
/// [`settling`]). Only the autopilot waits: a user who asks for a recommendation gets the whole
/// cluster planned.
pub fn mark_settling(problem: &mut engine::Problem, nodes: &[common::Node], now_millis: i64) {
    let new: std::collections::HashSet<&str> = nodes
        .iter()
        .filter(|n| settling(n, now_millis))
        .map(|n| n.name.as_str())
        .collect();
    for existing in &mut problem.existing_nodes {
        existing.settling = new.contains(existing.name.as_str());
    }
}

pub fn capacity_type(node: &common::Node) -> engine::CapacityType {
    if node.capacity_type() == common::CapacityType::Spot {
        engine::CapacityType::Spot
    } else {
        engine::CapacityType::OnDemand
    }
}

/// The engine's problem; spot offerings and spot nodes are priced from `live` where it knows the
/// pool (prices differ by zone), from the advisor's estimate elsewhere.
pub fn problem(
    region: &str,
    nodes: &[common::Node],
    pods: &[common::Pod],
    policy: &Governing,
    live: &LivePrices,
) -> engine::Problem {
    let mut zones: Vec<String> = zones_of(region).into_iter().take(3).collect();
    for node in nodes {
        if !node.zone.is_empty() && !zones.contains(&node.zone) {
            zones.push(node.zone.clone());
        }
    }
    let daemons = daemon_pods_by_node(pods);
    let existing_nodes = nodes
        .iter()
        .map(|node| engine::ExistingNode {
            name: node.name.clone(),
            instance_type: node.instance_type.clone(),
            zone: node.zone.clone(),
            capacity_type: capacity_type(node),
            price_per_hour: node_price(region, node, live),
            pods: pods
                .iter()
                .filter(|p| p.node_name == node.name && is_planned(p))
                .map(pod_id)
                .collect(),
            // DaemonSet and mirror pods are not planned, but kube-scheduler counts what they
            // take from the node.
            allocatable: node.allocatable.map(|a| {
                resources(&a).minus(&daemons.get(node.name.as_str()).copied().unwrap_or_default())
            }),
            labels: node_labels(node),
            taints: node.taints.iter().filter_map(taint).collect(),
            cordoned: node.cordoned || !node.ready,
            do_not_disrupt: pin_reason(node, pods, &policy.accepted_loss),
            settling: false,
        })
        .collect();
    let overhead = daemon_overhead(nodes, &daemons);
    let mut problem = engine::Problem {
        offerings: engine::offerings_in(region, &zones)
            .into_iter()
            .map(|mut offering| {
                offering.allocatable = offering.allocatable.minus(&overhead);
                offering
            })
            .map(|mut offering| {
                if offering.capacity_type == engine::CapacityType::Spot
                    && let Some(price) = live_price(live, &offering.zone, &offering.instance_type)
                {
                    offering.price_per_hour = price;
                }
                offering
            })
            .filter(|o| policy.filter.admits(o))
            .map(|mut offering| {
                policy.node_setup.dress(&mut offering);
                offering
            })
            .collect(),
        pods: pods.iter().filter(|p| is_planned(p)).map(pod).collect(),
        policy: policy.engine.clone(),
        risk_flags: Vec::new(),
        existing_nodes,
    };
    if policy.filter.architectures.is_empty() && policy.filter.allowed_families.is_empty() {
        engine::keep_architectures_in_use(&mut problem);
    }
    problem
}

/// What the DaemonSet and mirror pods on each node request (each takes a pod slot too), by node
/// name, in one pass over the pods.
fn daemon_pods_by_node(pods: &[common::Pod]) -> HashMap<&str, engine::Resources> {
    let mut by_node: HashMap<&str, engine::Resources> = HashMap::new();
    let running = |p: &&common::Pod| {
        !matches!(
            p.phase(),
            common::PodPhase::Succeeded | common::PodPhase::Failed
        )
    };
    for pod in pods.iter().filter(|p| !needs_a_node(p)).filter(running) {
        let requests = resources(&pod.requests.unwrap_or_default()).for_pods(1);
        let sum = by_node.entry(pod.node_name.as_str()).or_default();
        *sum = sum.plus(&requests);
    }
    by_node
}

/// What a new node must leave to the DaemonSet pods that will start on it, as Karpenter counts
/// daemonset overhead: the most the cluster's nodes give them today, per resource (a DaemonSet
/// that runs on some nodes only is counted for every new node, which errs on the safe side).
/// Without it, a plan launches a node its pods do not fit once the DaemonSets start.
fn daemon_overhead(
    nodes: &[common::Node],
    daemons: &HashMap<&str, engine::Resources>,
) -> engine::Resources {
    nodes
        .iter()
        .filter_map(|n| daemons.get(n.name.as_str()))
        .fold(engine::Resources::default(), |most, on| {
            engine::Resources::new(
                most.cpu_m.max(on.cpu_m),
                most.memory_mib.max(on.memory_mib),
                most.pods.max(on.pods),
                most.gpus.max(on.gpus),
            )
            .with_ephemeral_storage(most.ephemeral_storage_mib.max(on.ephemeral_storage_mib))
        })
}

/// New nodes offer the ephemeral-storage their root volume leaves pods (0: the platform's
/// default volume, which the catalog's offerings are counted with).
pub fn give_root_volumes(problem: &mut engine::Problem, root_volume_gib: u32) {
    if root_volume_gib == 0 {
        return;
    }
    let more = engine::ephemeral_storage_allocatable_mib(root_volume_gib)
        - engine::ephemeral_storage_allocatable_mib(engine::DEFAULT_ROOT_VOLUME_GIB);
    for offering in &mut problem.offerings {
        offering.allocatable.ephemeral_storage_mib += more;
    }
}

/// New nodes go only where and as the cluster can launch them: the zones of its node class's
/// subnets and the architectures of its images (an empty list: any). The pools its nodes run in
/// stay offered, so they are not taken for ones the policy does not admit (which a compliance
/// plan would replace, perhaps onto an architecture their pods cannot run on).
pub fn keep_launchable(problem: &mut engine::Problem, zones: &[String], architectures: &[String]) {
    let catalog = Catalog::embedded();
    let running: std::collections::BTreeSet<(String, String, engine::CapacityType)> = problem
        .existing_nodes
        .iter()
        .map(|n| (n.zone.clone(), n.instance_type.clone(), n.capacity_type))
        .collect();
    problem.offerings.retain(|offering| {
        let key = (
            offering.zone.clone(),
            offering.instance_type.clone(),
            offering.capacity_type,
        );
        if running.contains(&key) {
            return true;
        }
        let zone = zones.is_empty() || zones.contains(&offering.zone);
        let architecture = architectures.is_empty()
            || catalog.get(&offering.instance_type).is_ok_and(|t| {
                let name = spot_cloud::node_class::architecture_name(t.architecture);
                architectures.iter().any(|a| a == name)
            });
        zone && architecture
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use spot_proto::policy::v1 as policy_pb;

    fn spot_node(zone: &str) -> common::Node {
        common::Node {
            name: format!("n-{zone}"),
            instance_type: "m5.large".into(),
            zone: zone.into(),
            capacity_type: common::CapacityType::Spot.into(),
            ..Default::default()
        }
    }

    #[test]
    fn spot_is_priced_live_per_pool_and_estimated_where_no_live_price_is_known() {
        let region = "us-east-1";
        let estimate = Catalog::embedded()
            .estimated_spot_price(region, "m5.large")
            .unwrap()
            .unwrap();
        let live: LivePrices = [(("us-east-1a".to_owned(), "m5.large".to_owned()), 0.0123)]
            .into_iter()
            .collect();
        assert_eq!(node_price(region, &spot_node("us-east-1a"), &live), 0.0123);
        assert_eq!(
            node_price(region, &spot_node("us-east-1b"), &live),
            estimate
        );
        assert_eq!(
            node_price(region, &spot_node("us-east-1a"), &LivePrices::new()),
            estimate
        );

        let governing = Governing::resolved(&policy_pb::Policy::default(), &[]);
        let nodes = [spot_node("us-east-1a")];
        let planned = problem(region, &nodes, &[], &governing, &live);
        let spot_price = |zone: &str| {
            planned
                .offerings
                .iter()
                .find(|o| {
                    o.instance_type == "m5.large"
                        && o.zone == zone
                        && o.capacity_type == engine::CapacityType::Spot
                })
                .map(|o| o.price_per_hour)
        };
        assert_eq!(spot_price("us-east-1a"), Some(0.0123));
        assert_eq!(spot_price("us-east-1b"), Some(estimate));
        assert_eq!(planned.existing_nodes[0].price_per_hour, 0.0123);
    }

    fn daemon(name: &str, node: &str, cpu_millis: i64, memory_mib: i64) -> common::Pod {
        common::Pod {
            namespace: "kube-system".into(),
            name: name.into(),
            node_name: node.into(),
            owner_kind: "DaemonSet".into(),
            requests: Some(common::Resources {
                cpu_millis,
                memory_mib,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_node_leaves_room_for_the_daemon_sets_that_will_start_on_it() {
        let region = "us-east-1";
        let mut other = spot_node("us-east-1b");
        other.name = "n-other".into();
        let nodes = [spot_node("us-east-1a"), other];
        let pods = [
            daemon("proxy-a", "n-us-east-1a", 100, 64),
            daemon("cni-a", "n-us-east-1a", 25, 512),
            daemon("proxy-b", "n-other", 300, 64),
        ];
        let governing = Governing::resolved(&policy_pb::Policy::default(), &[]);
        let planned = problem(region, &nodes, &pods, &governing, &LivePrices::new());
        let bare = engine::offerings_in(region, &["us-east-1a".to_owned()])
            .into_iter()
            .find(|o| o.instance_type == "m5.large")
            .unwrap()
            .allocatable;
        let offered = planned
            .offerings
            .iter()
            .find(|o| o.instance_type == "m5.large")
            .unwrap()
            .allocatable;
        // The most any node gives its daemons, per resource: 300m (n-other), 576 MiB and two
        // pod slots (n-us-east-1a).
        assert_eq!(
            offered,
            engine::Resources::new(
                bare.cpu_m - 300,
                bare.memory_mib - 576,
                bare.pods - 2,
                bare.gpus
            )
            .with_ephemeral_storage(bare.ephemeral_storage_mib)
        );
    }

    /// A node class with a 100 GiB root volume gives new nodes 89 GiB of ephemeral-storage
    /// (less the kubelet's 1 GiB and 10 %), after what the DaemonSets take.
    #[test]
    fn new_nodes_offer_what_their_root_volume_leaves_pods() {
        let region = "us-east-1";
        let nodes = [spot_node("us-east-1a")];
        let mut proxy = daemon("proxy-a", "n-us-east-1a", 100, 64);
        proxy.requests.as_mut().unwrap().ephemeral_storage_mib = 512;
        let governing = Governing::resolved(&policy_pb::Policy::default(), &[]);
        let mut planned = problem(region, &nodes, &[proxy], &governing, &LivePrices::new());
        let storage = |p: &engine::Problem| p.offerings[0].allocatable.ephemeral_storage_mib;
        assert_eq!(storage(&planned), 17_408 - 512);
        give_root_volumes(&mut planned, 100);
        assert_eq!(storage(&planned), 91_136 - 512);
    }

    fn architectures(
        problem: &engine::Problem,
    ) -> std::collections::BTreeSet<engine::Architecture> {
        problem.offerings.iter().map(|o| o.architecture).collect()
    }

    #[test]
    fn a_policy_silent_on_architectures_keeps_the_clusters_and_one_that_names_them_is_obeyed() {
        let region = "us-east-1";
        let nodes = [spot_node("us-east-1a")];
        let pods = [common::Pod {
            namespace: "shop".into(),
            name: "web".into(),
            phase: common::PodPhase::Pending.into(),
            owner_kind: "ReplicaSet".into(),
            ..Default::default()
        }];
        let built_in = Governing::resolved(&policy_pb::Policy::default(), &[]);
        let planned = problem(region, &nodes, &pods, &built_in, &LivePrices::new());
        assert_eq!(
            architectures(&planned),
            [engine::Architecture::Amd64].into(),
            "m5 nodes today: no Graviton offering"
        );
        let graviton = Governing::resolved(
            &policy_pb::Policy {
                architectures: vec![spot_proto::common::v1::Architecture::Arm64.into()],
                ..Default::default()
            },
            &[],
        );
        let planned = problem(region, &nodes, &pods, &graviton, &LivePrices::new());
        assert_eq!(
            architectures(&planned),
            [engine::Architecture::Arm64].into(),
            "the user chose arm64"
        );
        let families = Governing::resolved(
            &policy_pb::Policy {
                allowed_families: vec!["m6g".into(), "c6g".into()],
                ..Default::default()
            },
            &[],
        );
        let planned = problem(region, &nodes, &pods, &families, &LivePrices::new());
        assert!(
            planned
                .offerings
                .iter()
                .all(|o| o.architecture == engine::Architecture::Arm64),
            "Graviton families named: the user chose them"
        );
        assert!(!planned.offerings.is_empty());
    }

    #[test]
    fn new_nodes_are_planned_only_where_and_as_the_node_class_can_launch() {
        let region = "us-east-1";
        let both = Governing::resolved(
            &policy_pb::Policy {
                architectures: vec![
                    spot_proto::common::v1::Architecture::Amd64.into(),
                    spot_proto::common::v1::Architecture::Arm64.into(),
                ],
                ..Default::default()
            },
            &[],
        );
        let graviton_node = common::Node {
            instance_type: "m6g.large".into(),
            ..spot_node("us-east-1a")
        };
        let mut planned = problem(region, &[graviton_node], &[], &both, &LivePrices::new());
        let zones: std::collections::BTreeSet<String> =
            planned.offerings.iter().map(|o| o.zone.clone()).collect();
        assert!(zones.len() > 1);
        assert_eq!(
            architectures(&planned),
            [engine::Architecture::Amd64, engine::Architecture::Arm64].into()
        );
        keep_launchable(
            &mut planned,
            &["us-east-1b".to_owned()],
            &["amd64".to_owned()],
        );
        let (running, new): (Vec<_>, Vec<_>) = planned
            .offerings
            .iter()
            .partition(|o| o.instance_type == "m6g.large" && o.zone == "us-east-1a");
        assert_eq!(
            running.len(),
            1,
            "the pool a node runs in stays, so the node is not taken for a breach"
        );
        assert!(!new.is_empty());
        assert!(new.iter().all(|o| o.zone == "us-east-1b"));
        let catalog = Catalog::embedded();
        assert!(
            new.iter()
                .all(|o| catalog.get(&o.instance_type).unwrap().architecture
                    == spot_cloud::Architecture::Amd64),
            "no image for arm64: no new Graviton node"
        );
        let count = planned.offerings.len();
        keep_launchable(&mut planned, &[], &[]);
        assert_eq!(
            planned.offerings.len(),
            count,
            "empty lists keep everything"
        );
    }
}
