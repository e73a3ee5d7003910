//! A simulated Kubernetes cluster for `spot demo`: nodes join when the cloud runs an instance
//! tagged with the cluster's id (a kubelet), pending pods are bound as kube-scheduler's default
//! profile would (least allocated node first: `spot_kit::kube_terms::bind_pending`), and the agent's actions (cordon, drain, delete, label, taint) change it as the
//! Kubernetes API would. The real agent session (`spot_agent`) streams it to the control plane.

use std::collections::BTreeMap;
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

    /// Makes the nodes that exist now look `days` older: the demo's clusters ran before the
    /// platform came, so their nodes are not new nodes left to settle.
    pub fn backdate_nodes(&self, days: i64) {
        let mut delta = Delta::default();
        {
            let mut state = self.state();
            for node in state.nodes.values_mut() {
                if let Some(created) = node.created_at.as_mut() {
                    created.seconds -= days * 86_400;
                }
                delta.upserted_nodes.push(node.clone());
            }
        }
        self.publish(delta);
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
                        // The simulated cloud gives every node the default root volume.
                        ephemeral_storage_mib: spot_engine::ephemeral_storage_allocatable_mib(
                            spot_engine::DEFAULT_ROOT_VOLUME_GIB,
                        ),
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
                        (
                            "kubernetes.io/arch".to_owned(),
                            spot_engine::Architecture::from(kind.architecture)
                                .label()
                                .to_owned(),
                        ),
                        (
                            "karpenter.sh/capacity-type".to_owned(),
                            match capacity_type {
                                CapacityType::Spot => "spot",
                                _ => "on-demand",
                            }
                            .to_owned(),
                        ),
                        (
                            "karpenter.k8s.aws/instance-family".to_owned(),
                            kind.family.clone(),
                        ),
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

/// kube-scheduler: binds pending pods one at a time with the platform's stand-in of its default
/// profile (filters, then the least allocated node), not the optimizer's packing, so the demo
/// shows what a real cluster would do with the optimizer's plans.
fn schedule(state: &mut State, delta: &mut Delta) {
    let nodes: Vec<Node> = state.nodes.values().cloned().collect();
    let keys: Vec<String> = state.pods.keys().cloned().collect();
    let pods: Vec<Pod> = state.pods.values().cloned().collect();
    for (index, node) in spot_kit::kube_terms::bind_pending(&nodes, &pods) {
        if let Some(pod) = keys.get(index).and_then(|key| state.pods.get_mut(key)) {
            pod.node_name = node;
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
                    n.taints.retain(|t| {
                        !action.remove_taint_keys.contains(&t.key)
                            && !action
                                .taints
                                .iter()
                                .any(|new| new.key == t.key && new.effect == t.effect)
                    });
                    n.taints.extend(action.taints.iter().cloned());
                    delta.upserted_nodes.push(n.clone());
                }
            }),
            ActionKind::Unspecified => Outcome::failed("action kind missing"),
        }
    }
}
