//! A simulated Kubernetes cluster for `spot demo`: nodes join when the cloud runs an instance
//! tagged with the cluster's id (a kubelet), pending pods are bound to the fullest node they fit
//! (a scheduler), and the agent's actions (cordon, drain, delete, label, taint) change it as the
//! Kubernetes API would. The real agent session (`spot_agent`) streams it to the control plane.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use spot_agent::executor::{Executor, Outcome};
use spot_agent::session::ClusterSource;
use spot_cloud::{CLUSTER_ID_TAG, Catalog, CloudProvider, InstanceState, SimulatedCloud};
use spot_proto::agent::v1::{Action, ActionKind, Delta, Snapshot};
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Resources};
use tokio::sync::broadcast;

pub struct SimCluster {
    pub name: String,
    pub region: String,
    pub cluster_id: String,
    cloud: Arc<SimulatedCloud>,
    state: Mutex<State>,
    deltas: broadcast::Sender<Delta>,
}

#[derive(Default)]
struct State {
    nodes: BTreeMap<String, Node>,
    /// namespace/name -> pod
    pods: BTreeMap<String, Pod>,
}

fn key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace, pod.name)
}

fn node_name(instance_id: &str) -> String {
    format!("ip-{}.ec2.internal", instance_id.trim_start_matches("i-"))
}

fn requests(pod: &Pod) -> Resources {
    pod.requests.unwrap_or_default()
}

impl SimCluster {
    pub fn new(
        name: &str,
        region: &str,
        cluster_id: &str,
        cloud: Arc<SimulatedCloud>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            region: region.to_owned(),
            cluster_id: cluster_id.to_owned(),
            cloud,
            state: Mutex::default(),
            deltas: broadcast::channel(1_024).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, delta: Delta) {
        let empty = delta.upserted_nodes.is_empty()
            && delta.removed_nodes.is_empty()
            && delta.upserted_pods.is_empty()
            && delta.removed_pods.is_empty();
        if !empty {
            // No subscriber (the agent is reconnecting) is fine: it sends a fresh snapshot.
            let _ = self.deltas.send(delta);
        }
    }

    /// Adds workloads' pods (pending until the scheduler binds them).
    pub fn add_pods(&self, pods: Vec<Pod>) {
        let mut delta = Delta::default();
        {
            let mut state = self.state();
            for pod in pods {
                state.pods.insert(key(&pod), pod);
            }
            schedule(&mut state, &mut delta);
        }
        self.publish(delta);
    }

    /// The instance a node runs on, when the node exists.
    pub fn node_of_instance(&self, instance_id: &str) -> Option<String> {
        let name = node_name(instance_id);
        self.state().nodes.contains_key(&name).then_some(name)
    }

    /// The kubelet: instances of this cluster that run become ready nodes; nodes whose instance
    /// is gone (terminated, reclaimed) leave, and their pods go back to pending.
    pub async fn sync_with_cloud(&self) {
        let Ok(instances) = self
            .cloud
            .instances_tagged(&self.region, CLUSTER_ID_TAG)
            .await
        else {
            return;
        };
        let running: BTreeMap<String, _> = instances
            .into_iter()
            .filter(|i| i.tags.get(CLUSTER_ID_TAG) == Some(&self.cluster_id))
            .filter(|i| i.state != InstanceState::Terminated)
            .map(|i| (node_name(&i.id), i))
            .collect();
        let mut delta = Delta::default();
        {
            let mut state = self.state();
            let gone: Vec<String> = state
                .nodes
                .keys()
                .filter(|name| !running.contains_key(*name))
                .cloned()
                .collect();
            for name in gone {
                remove_node(&mut state, &name, &mut delta);
            }
            for (name, instance) in &running {
                if state.nodes.contains_key(name) {
                    continue;
                }
                let Ok(kind) = Catalog::embedded().get(&instance.pool.instance_type) else {
                    continue;
                };
                let capacity_type = match instance.capacity_type {
                    spot_cloud::CapacityType::Spot => CapacityType::Spot,
                    spot_cloud::CapacityType::OnDemand => CapacityType::OnDemand,
                };
                let node = Node {
                    name: name.clone(),
                    provider_id: format!("aws:///{}/{}", instance.pool.zone, instance.id),
                    instance_id: instance.id.clone(),
                    instance_type: instance.pool.instance_type.clone(),
                    zone: instance.pool.zone.clone(),
                    capacity_type: capacity_type.into(),
                    allocatable: Some(Resources {
                        cpu_millis: kind.allocatable.cpu_millis,
                        memory_mib: kind.allocatable.memory_mib,
                        pods: kind.allocatable.pods,
                        gpus: kind.allocatable.gpus,
                    }),
                    labels: BTreeMap::from([
                        (
                            "node.kubernetes.io/instance-type".to_owned(),
                            instance.pool.instance_type.clone(),
                        ),
                        (
                            "topology.kubernetes.io/zone".to_owned(),
                            instance.pool.zone.clone(),
                        ),
                        ("kubernetes.io/hostname".to_owned(), name.clone()),
                    ])
                    .into_iter()
                    .collect(),
                    ready: true,
                    created_at: Some(spot_proto::time::timestamp(instance.launched_at * 1_000)),
                    ..Default::default()
                };
                delta.upserted_nodes.push(node.clone());
                state.nodes.insert(name.clone(), node);
            }
            schedule(&mut state, &mut delta);
        }
        self.publish(delta);
    }

    /// Nodes by capacity type, for the demo's start-up line.
    pub fn node_count(&self) -> usize {
        self.state().nodes.len()
    }

    fn change(&self, node: &str, change: impl FnOnce(&mut State, &mut Delta)) -> Outcome {
        let mut delta = Delta::default();
        {
            let mut state = self.state();
            if !state.nodes.contains_key(node) {
                return Outcome::failed(format!("node {node} not found"));
            }
            change(&mut state, &mut delta);
        }
        self.publish(delta);
        Outcome::succeeded("done")
    }
}

/// Unbinds the pods of `name` (they go back to pending) and removes the node.
fn remove_node(state: &mut State, name: &str, delta: &mut Delta) {
    state.nodes.remove(name);
    delta.removed_nodes.push(name.to_owned());
    evict(state, name, delta);
}

/// Every pod of `node` except DaemonSet pods goes back to pending (its controller recreates it).
fn evict(state: &mut State, node: &str, delta: &mut Delta) -> usize {
    let mut evicted = 0;
    for pod in state.pods.values_mut() {
        if pod.node_name == node && pod.owner_kind != "DaemonSet" {
            pod.node_name.clear();
            pod.phase = PodPhase::Pending.into();
            delta.upserted_pods.push(pod.clone());
            evicted += 1;
        }
    }
    evicted
}

/// Binds pending pods, largest first, to the fullest schedulable node they fit on.
fn schedule(state: &mut State, delta: &mut Delta) {
    let mut used: BTreeMap<String, Resources> = BTreeMap::new();
    for pod in state.pods.values().filter(|p| !p.node_name.is_empty()) {
        let entry = used.entry(pod.node_name.clone()).or_default();
        let r = requests(pod);
        entry.cpu_millis += r.cpu_millis;
        entry.memory_mib += r.memory_mib;
        entry.pods += 1;
    }
    let mut pending: Vec<String> = state
        .pods
        .iter()
        .filter(|(_, p)| p.node_name.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    pending.sort_by_key(|k| std::cmp::Reverse(requests(&state.pods[k]).cpu_millis));
    let schedulable: BTreeSet<String> = state
        .nodes
        .values()
        .filter(|n| n.ready && !n.cordoned)
        .map(|n| n.name.clone())
        .collect();
    for key in pending {
        let want = requests(&state.pods[&key]);
        let best = schedulable
            .iter()
            .filter_map(|name| {
                let node = &state.nodes[name];
                let cap = node.allocatable.unwrap_or_default();
                let u = used.get(name).copied().unwrap_or_default();
                let fits = u.cpu_millis + want.cpu_millis <= cap.cpu_millis
                    && u.memory_mib + want.memory_mib <= cap.memory_mib
                    && u.pods < cap.pods;
                fits.then_some((u.cpu_millis * 1_000 / cap.cpu_millis.max(1), name))
            })
            .max_by_key(|(fullness, _)| *fullness)
            .map(|(_, name)| name.clone());
        let Some(name) = best else { continue };
        let entry = used.entry(name.clone()).or_default();
        entry.cpu_millis += want.cpu_millis;
        entry.memory_mib += want.memory_mib;
        entry.pods += 1;
        if let Some(pod) = state.pods.get_mut(&key) {
            pod.node_name = name;
            pod.phase = PodPhase::Running.into();
            delta.upserted_pods.push(pod.clone());
        }
    }
}

impl ClusterSource for SimCluster {
    fn snapshot(&self) -> Snapshot {
        let state = self.state();
        Snapshot {
            nodes: state.nodes.values().cloned().collect(),
            pods: state.pods.values().cloned().collect(),
            pdbs: Vec::new(),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }
}

#[async_trait::async_trait]
impl Executor for SimCluster {
    async fn execute(&self, action: Action) -> Outcome {
        let node = action.node_name.clone();
        match action.kind() {
            ActionKind::Cordon | ActionKind::Uncordon => {
                let cordon = action.kind() == ActionKind::Cordon;
                self.change(&node, |state, delta| {
                    if let Some(n) = state.nodes.get_mut(&node) {
                        n.cordoned = cordon;
                        delta.upserted_nodes.push(n.clone());
                    }
                    schedule(state, delta);
                })
            }
            ActionKind::Drain => self.change(&node, |state, delta| {
                if let Some(n) = state.nodes.get_mut(&node) {
                    n.cordoned = true;
                    delta.upserted_nodes.push(n.clone());
                }
                evict(state, &node, delta);
                schedule(state, delta);
            }),
            ActionKind::DeleteNode => self.change(&node, |state, delta| {
                remove_node(state, &node, delta);
                schedule(state, delta);
            }),
            ActionKind::Label => self.change(&node, |state, delta| {
                if let Some(n) = state.nodes.get_mut(&node) {
                    n.labels.extend(action.labels.clone());
                    delta.upserted_nodes.push(n.clone());
                }
            }),
            ActionKind::Taint => self.change(&node, |state, delta| {
                if let Some(n) = state.nodes.get_mut(&node) {
                    n.taints = action.taints.clone();
                    delta.upserted_nodes.push(n.clone());
                }
            }),
            ActionKind::Unspecified => Outcome::failed("action kind missing"),
        }
    }
}
