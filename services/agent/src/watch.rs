//! The agent's view of the cluster: kube-rs watchers with reflector stores for nodes, pods and
//! PodDisruptionBudgets, and a broadcast of the changes as protobuf [`Delta`]s. Persistent volumes
//! and their claims are watched too, for the zones a pod's volumes tie it to (reported with the
//! pod, in no delta of their own).
//!
//! Objects are trimmed before they are stored (managed fields, the annotations the conversion does
//! not read, most of the pod spec and status dropped) so memory stays bounded on large clusters;
//! only what [`crate::convert`] reads is kept.
//!
//! Deltas: every watch `Apply` becomes an upsert, every `Delete` a removal (node name, or
//! `namespace/name` for pods). After a re-list (the watch expired with 410 Gone, or the watcher
//! restarted after an error) the view sends the whole re-listed state as upserts plus removals for
//! the objects that disappeared meanwhile, in chunks of [`RELIST_CHUNK`]. The first list of each
//! kind sends no delta: the session starts from [`ClusterView::snapshot`] once
//! [`ClusterView::ready`] resolves. PodDisruptionBudgets have no delta fields; they travel in
//! snapshots only.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EphemeralVolumeSource, Node, NodeCondition, NodeStatus,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec, Pod,
    PodSpec, PodStatus, ResourceRequirements, Volume,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use spot_proto::agent::v1::{Delta, Snapshot};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::convert::{
    self, DO_NOT_DISRUPT_ANNOTATION, MIRROR_POD_ANNOTATION, SAFE_TO_EVICT_ANNOTATION,
};
use crate::scale_down_order::{MANAGED_ANNOTATION, POD_DELETION_COST_ANNOTATION};

/// Capacity of the delta broadcast. A receiver that lags behind gets `RecvError::Lagged` and
/// must start over from a fresh snapshot.
pub const DELTA_CAPACITY: usize = 1024;

/// At most this many objects per delta sent after a re-list.
pub const RELIST_CHUNK: usize = 500;

/// What the view watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// Leave Succeeded and Failed pods out (a field selector on the watch): they hold no
    /// resources, and completed Jobs can be numerous. A pod that finishes is reported removed.
    pub skip_finished_pods: bool,
    pub delta_capacity: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            skip_finished_pods: true,
            delta_capacity: DELTA_CAPACITY,
        }
    }
}

/// The field selector that leaves finished pods out.
pub const UNFINISHED_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// How long readiness waits for the volume lists: an agent whose role may not list persistent
/// volumes (an older chart) still reports, without volume zones, and says so.
pub const VOLUMES_READY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A bounded, always-current view of nodes, pods and PDBs, and of the persistent volumes and
/// claims that tie pods to zones.
#[derive(Clone)]
pub struct ClusterView {
    nodes: Store<Node>,
    pods: Store<Pod>,
    pdbs: Store<PodDisruptionBudget>,
    volumes: Volumes,
    deltas: broadcast::Sender<Delta>,
}

/// The claims and volumes, for the zones a pod's volumes tie it to.
#[derive(Clone)]
pub struct Volumes {
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
}

impl Volumes {
    /// The zones the pod can run in because of its bound volumes (empty: any).
    pub fn zones_of(&self, pod: &Pod) -> Vec<String> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
        let each: Vec<Vec<String>> = convert::claim_names(pod)
            .iter()
            .filter_map(|claim| self.claims.get(&ObjectRef::new(claim).within(namespace)))
            .filter_map(|claim| claim.spec.as_ref()?.volume_name.clone())
            .filter_map(|volume| self.volumes.get(&ObjectRef::new(&volume)))
            .map(|volume| convert::volume_zones(&volume))
            .filter(|zones| !zones.is_empty())
            .collect();
        convert::common_zones(&each)
    }

    /// The pod as reported: its conversion with the zones its volumes allow.
    pub fn pod(&self, pod: &Pod) -> spot_proto::common::v1::Pod {
        spot_proto::common::v1::Pod {
            volume_zones: self.zones_of(pod),
            ..convert::pod(pod)
        }
    }
}

impl ClusterView {
    /// Starts the watchers on the current runtime; they run until `shutdown` is cancelled.
    pub fn start(client: kube::Client, shutdown: CancellationToken) -> Self {
        Self::start_with(client, WatchConfig::default(), shutdown)
    }

    pub fn start_with(
        client: kube::Client,
        config: WatchConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let (deltas, _) = broadcast::channel(config.delta_capacity.max(1));
        let (claims, claim_writer) = reflector::store();
        let (volume_store, volume_writer) = reflector::store();
        let volumes = Volumes {
            claims,
            volumes: volume_store,
        };

        let (nodes, node_writer) = reflector::store();
        let node_stream = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .modify(trim_node)
            .reflect(node_writer);
        tokio::spawn(run(
            "nodes",
            node_stream,
            nodes.clone(),
            Some(deltas.clone()),
            volumes.clone(),
            shutdown.clone(),
        ));

        let (pods, pod_writer) = reflector::store();
        let mut pod_config = watcher::Config::default();
        if config.skip_finished_pods {
            pod_config = pod_config.fields(UNFINISHED_PODS);
        }
        let pod_stream = watcher(Api::<Pod>::all(client.clone()), pod_config)
            .modify(trim_pod)
            .reflect(pod_writer);
        tokio::spawn(run(
            "pods",
            pod_stream,
            pods.clone(),
            Some(deltas.clone()),
            volumes.clone(),
            shutdown.clone(),
        ));

        let (pdbs, pdb_writer) = reflector::store();
        let pdb_stream = watcher(
            Api::<PodDisruptionBudget>::all(client.clone()),
            watcher::Config::default(),
        )
        .modify(trim_pdb)
        .reflect(pdb_writer);
        tokio::spawn(run(
            "pdbs",
            pdb_stream,
            pdbs.clone(),
            Some(deltas.clone()),
            volumes.clone(),
            shutdown.clone(),
        ));

        // Claims and volumes send no deltas of their own: they change the zones of the pods
        // that use them, which are reported with their pods.
        let claim_stream = watcher(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        )
        .modify(trim_claim)
        .reflect(claim_writer);
        tokio::spawn(run(
            "persistentvolumeclaims",
            claim_stream,
            volumes.claims.clone(),
            None,
            volumes.clone(),
            shutdown.clone(),
        ));
        let volume_stream = watcher(
            Api::<PersistentVolume>::all(client),
            watcher::Config::default(),
        )
        .modify(trim_volume_object)
        .reflect(volume_writer);
        tokio::spawn(run(
            "persistentvolumes",
            volume_stream,
            volumes.volumes.clone(),
            None,
            volumes.clone(),
            shutdown,
        ));

        Self {
            nodes,
            pods,
            pdbs,
            volumes,
            deltas,
        }
    }

    /// Resolves once every kind has been listed completely (or its watcher has stopped).
    pub async fn ready(&self) {
        let _ = futures::join!(
            self.nodes.wait_until_ready(),
            self.pods.wait_until_ready(),
            self.pdbs.wait_until_ready(),
        );
        let volumes = async {
            futures::join!(
                self.volumes.claims.wait_until_ready(),
                self.volumes.volumes.wait_until_ready(),
            )
        };
        if tokio::time::timeout(VOLUMES_READY_WAIT, volumes)
            .await
            .is_err()
        {
            tracing::warn!(
                "persistent volumes and claims are not listed yet (may the agent's role list them?): pods are reported without the zones their volumes tie them to until they are"
            );
        }
    }

    /// The deltas from now on. Subscribe before taking the snapshot, so nothing falls between.
    pub fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }

    /// Everything the stores hold, converted, sorted by name for stable output.
    pub fn snapshot(&self) -> Snapshot {
        let mut nodes: Vec<_> = self
            .nodes
            .state()
            .iter()
            .map(|n| convert::node(n))
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut pods: Vec<_> = self
            .pods
            .state()
            .iter()
            .map(|p| self.volumes.pod(p))
            .collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut pdbs: Vec<_> = self.pdbs.state().iter().map(|p| convert::pdb(p)).collect();
        pdbs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Snapshot { nodes, pods, pdbs }
    }

    pub fn nodes(&self) -> &Store<Node> {
        &self.nodes
    }

    pub fn pods(&self) -> &Store<Pod> {
        &self.pods
    }

    pub fn pdbs(&self) -> &Store<PodDisruptionBudget> {
        &self.pdbs
    }
}

fn watcher<K>(api: Api<K>, config: watcher::Config) -> impl Stream<Item = watcher::Result<Event<K>>>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher::watcher(api, config).default_backoff()
}

/// How a watched kind appears in deltas.
trait Watched: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static {
    /// The key deltas name the object by.
    fn delta_key(&self) -> String;
    fn upsert(&self, delta: &mut Delta, volumes: &Volumes);
    fn remove(key: String, delta: &mut Delta);
}

impl Watched for Node {
    fn delta_key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn upsert(&self, delta: &mut Delta, _: &Volumes) {
        delta.upserted_nodes.push(convert::node(self));
    }
    fn remove(key: String, delta: &mut Delta) {
        delta.removed_nodes.push(key);
    }
}

impl Watched for Pod {
    fn delta_key(&self) -> String {
        convert::object_key(&self.metadata)
    }
    fn upsert(&self, delta: &mut Delta, volumes: &Volumes) {
        delta.upserted_pods.push(volumes.pod(self));
    }
    fn remove(key: String, delta: &mut Delta) {
        delta.removed_pods.push(key);
    }
}

impl Watched for PodDisruptionBudget {
    fn delta_key(&self) -> String {
        convert::object_key(&self.metadata)
    }
    fn upsert(&self, delta: &mut Delta, _: &Volumes) {
        delta.upserted_pdbs.push(convert::pdb(self));
    }
    fn remove(key: String, delta: &mut Delta) {
        delta.removed_pdbs.push(key);
    }
}

/// Claims and volumes are read through [`Volumes`]; they appear in no delta.
impl Watched for PersistentVolumeClaim {
    fn delta_key(&self) -> String {
        convert::object_key(&self.metadata)
    }
    fn upsert(&self, _: &mut Delta, _: &Volumes) {}
    fn remove(_: String, _: &mut Delta) {}
}

impl Watched for PersistentVolume {
    fn delta_key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
    fn upsert(&self, _: &mut Delta, _: &Volumes) {}
    fn remove(_: String, _: &mut Delta) {}
}

fn is_empty(delta: &Delta) -> bool {
    delta.upserted_nodes.is_empty()
        && delta.removed_nodes.is_empty()
        && delta.upserted_pods.is_empty()
        && delta.removed_pods.is_empty()
        && delta.upserted_pdbs.is_empty()
        && delta.removed_pdbs.is_empty()
}

/// The state of a re-list in progress.
struct Relist<K> {
    before: HashSet<String>,
    listed: Vec<K>,
}

async fn run<K, S>(
    kind: &'static str,
    stream: S,
    store: Store<K>,
    deltas: Option<broadcast::Sender<Delta>>,
    volumes: Volumes,
    shutdown: CancellationToken,
) where
    K: Watched,
    S: Stream<Item = watcher::Result<Event<K>>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    let mut listed_once = false;
    let mut relist: Option<Relist<K>> = None;
    let send = |delta: Delta| {
        if let Some(deltas) = &deltas
            && !is_empty(&delta)
        {
            // No receiver is fine: nobody is connected.
            let _ = deltas.send(delta);
        }
    };
    loop {
        let item = tokio::select! {
            () = shutdown.cancelled() => break,
            item = stream.next() => item,
        };
        let event = match item {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(err)) => {
                tracing::warn!(kind, error = %err, "watch failed; retrying with backoff");
                continue;
            }
        };
        match event {
            Event::Apply(object) => {
                let mut delta = Delta::default();
                object.upsert(&mut delta, &volumes);
                send(delta);
            }
            Event::Delete(object) => {
                let mut delta = Delta::default();
                K::remove(object.delta_key(), &mut delta);
                send(delta);
            }
            Event::Init => {
                // The reflector swaps its store only at InitDone, so it still holds the old
                // state here.
                relist = listed_once.then(|| Relist {
                    before: store.state().iter().map(|o| o.delta_key()).collect(),
                    listed: Vec::new(),
                });
            }
            Event::InitApply(object) => {
                if let Some(relist) = relist.as_mut() {
                    relist.listed.push(object);
                }
            }
            Event::InitDone => {
                if !listed_once {
                    tracing::info!(kind, objects = store.state().len(), "initial list done");
                }
                listed_once = true;
                if let Some(Relist { before, listed }) = relist.take() {
                    let now: HashSet<String> = listed.iter().map(|o| o.delta_key()).collect();
                    let mut removed: Vec<String> = before.difference(&now).cloned().collect();
                    removed.sort();
                    tracing::info!(
                        kind,
                        objects = listed.len(),
                        removed = removed.len(),
                        "re-listed"
                    );
                    let mut delta = Delta::default();
                    let mut count = 0;
                    for key in removed {
                        K::remove(key, &mut delta);
                        count += 1;
                        if count == RELIST_CHUNK {
                            send(std::mem::take(&mut delta));
                            count = 0;
                        }
                    }
                    for object in &listed {
                        object.upsert(&mut delta, &volumes);
                        count += 1;
                        if count == RELIST_CHUNK {
                            send(std::mem::take(&mut delta));
                            count = 0;
                        }
                    }
                    send(delta);
                }
            }
        }
    }
    tracing::debug!(kind, "watcher stopped");
}

// ---------------------------------------------------------------------------------------------
// Trimming
// ---------------------------------------------------------------------------------------------

/// The annotations the conversion reads: whether a pod is a mirror pod, and the disruption
/// opt-outs (Karpenter's on pods and nodes, the cluster autoscaler's on pods).
const READ_ANNOTATIONS: [&str; 5] = [
    MIRROR_POD_ANNOTATION,
    DO_NOT_DISRUPT_ANNOTATION,
    SAFE_TO_EVICT_ANNOTATION,
    POD_DELETION_COST_ANNOTATION,
    MANAGED_ANNOTATION,
];

fn trim_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    meta.annotations = meta.annotations.take().and_then(|annotations| {
        let kept: BTreeMap<String, String> = annotations
            .into_iter()
            .filter(|(key, _)| READ_ANNOTATIONS.contains(&key.as_str()))
            .collect();
        (!kept.is_empty()).then_some(kept)
    });
    meta.generate_name = None;
    meta.finalizers = None;
}

/// Keeps what the node conversion reads: metadata, spec, allocatable and the Ready condition.
pub fn trim_node(node: &mut Node) {
    trim_meta(&mut node.metadata);
    if let Some(status) = node.status.take() {
        node.status = Some(NodeStatus {
            allocatable: status.allocatable,
            conditions: status.conditions.map(|conditions| {
                conditions
                    .into_iter()
                    .filter(|condition| condition.type_ == "Ready")
                    .map(|condition| NodeCondition {
                        type_: condition.type_,
                        status: condition.status,
                        ..NodeCondition::default()
                    })
                    .collect()
            }),
            ..NodeStatus::default()
        });
    }
}

fn trim_container(container: Container) -> Container {
    Container {
        name: container.name,
        restart_policy: container.restart_policy,
        resources: container.resources.map(|resources| ResourceRequirements {
            requests: resources.requests,
            limits: resources.limits,
            claims: None,
        }),
        // Only the ports bound on the node constrain where the pod may run.
        ports: container
            .ports
            .map(|ports| {
                ports
                    .into_iter()
                    .filter(|port| port.host_port.is_some_and(|p| p > 0))
                    .collect::<Vec<_>>()
            })
            .filter(|ports| !ports.is_empty()),
        ..Container::default()
    }
}

/// A pod's volume reduced to what the conversion reads: whether an eviction loses its data (an
/// emptyDir with its medium, a hostPath) and which claim it uses (a persistent volume claim, or
/// a generic ephemeral volume's); every other kind (config maps, secrets) is dropped.
fn trim_volume(volume: Volume) -> Option<Volume> {
    let kept = volume.empty_dir.is_some()
        || volume.host_path.is_some()
        || volume.persistent_volume_claim.is_some()
        || volume.ephemeral.is_some();
    kept.then(|| Volume {
        name: volume.name,
        empty_dir: volume.empty_dir.map(|dir| EmptyDirVolumeSource {
            medium: dir.medium,
            size_limit: None,
        }),
        host_path: volume.host_path,
        persistent_volume_claim: volume.persistent_volume_claim,
        ephemeral: volume.ephemeral.map(|_| EphemeralVolumeSource::default()),
        ..Volume::default()
    })
}

/// Keeps the claim's name and the volume it is bound to.
pub fn trim_claim(claim: &mut PersistentVolumeClaim) {
    trim_meta(&mut claim.metadata);
    claim.metadata.labels = None;
    claim.spec = claim.spec.take().map(|spec| PersistentVolumeClaimSpec {
        volume_name: spec.volume_name,
        ..PersistentVolumeClaimSpec::default()
    });
    claim.status = None;
}

/// Keeps what says where the volume can be reached: its zone labels and node affinity.
pub fn trim_volume_object(volume: &mut PersistentVolume) {
    trim_meta(&mut volume.metadata);
    volume.metadata.labels = volume.metadata.labels.take().map(|labels| {
        labels
            .into_iter()
            .filter(|(key, _)| convert::ZONE_KEYS.contains(&key.as_str()))
            .collect()
    });
    volume.spec = volume.spec.take().map(|spec| PersistentVolumeSpec {
        node_affinity: spec.node_affinity,
        ..PersistentVolumeSpec::default()
    });
    volume.status = None;
}

/// Keeps what the pod conversion and the drain read: metadata (labels, owners, the annotations
/// in [`READ_ANNOTATIONS`]), the scheduling part of the spec, container resources and host
/// ports, the volumes whose data an eviction loses, and the phase.
pub fn trim_pod(pod: &mut Pod) {
    trim_meta(&mut pod.metadata);
    if let Some(spec) = pod.spec.take() {
        pod.spec = Some(PodSpec {
            affinity: spec.affinity,
            containers: spec.containers.into_iter().map(trim_container).collect(),
            init_containers: spec
                .init_containers
                .map(|containers| containers.into_iter().map(trim_container).collect()),
            node_name: spec.node_name,
            node_selector: spec.node_selector,
            overhead: spec.overhead,
            priority: spec.priority,
            priority_class_name: spec.priority_class_name,
            tolerations: spec.tolerations,
            topology_spread_constraints: spec.topology_spread_constraints,
            volumes: spec
                .volumes
                .map(|volumes| {
                    volumes
                        .into_iter()
                        .filter_map(trim_volume)
                        .collect::<Vec<_>>()
                })
                .filter(|volumes| !volumes.is_empty()),
            ..PodSpec::default()
        });
    }
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        ..PodStatus::default()
    });
}

/// Keeps the selector and the allowed disruptions.
pub fn trim_pdb(pdb: &mut PodDisruptionBudget) {
    trim_meta(&mut pdb.metadata);
    if let Some(status) = pdb.status.as_mut() {
        status.conditions = None;
        status.disrupted_pods = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, ContainerPort, EnvVar, HostPathVolumeSource,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("x".into()),
            namespace: Some("ns".into()),
            labels: Some([("app".to_owned(), "web".to_owned())].into()),
            annotations: Some(
                [
                    (MIRROR_POD_ANNOTATION.to_owned(), "hash".to_owned()),
                    (DO_NOT_DISRUPT_ANNOTATION.to_owned(), "true".to_owned()),
                    (SAFE_TO_EVICT_ANNOTATION.to_owned(), "false".to_owned()),
                    (
                        "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
                        "{...}".to_owned(),
                    ),
                ]
                .into(),
            ),
            managed_fields: Some(vec![ManagedFieldsEntry::default()]),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn pods_keep_only_what_conversion_reads() {
        let before = Pod {
            metadata: meta(),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("nginx".into()),
                    env: Some(vec![EnvVar {
                        name: "A".into(),
                        value: Some("b".into()),
                        ..EnvVar::default()
                    }]),
                    ports: Some(vec![
                        ContainerPort {
                            container_port: 80,
                            ..ContainerPort::default()
                        },
                        ContainerPort {
                            container_port: 8443,
                            host_port: Some(443),
                            ..ContainerPort::default()
                        },
                    ]),
                    resources: Some(ResourceRequirements {
                        requests: Some(
                            [(
                                "cpu".to_owned(),
                                k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into()),
                            )]
                            .into(),
                        ),
                        ..ResourceRequirements::default()
                    }),
                    ..Container::default()
                }],
                volumes: Some(vec![
                    Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: "settings".into(),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    },
                    Volume {
                        name: "scratch".into(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Volume::default()
                    },
                    Volume {
                        name: "logs".into(),
                        host_path: Some(HostPathVolumeSource {
                            path: "/var/log".into(),
                            type_: None,
                        }),
                        ..Volume::default()
                    },
                ]),
                node_name: Some("n1".into()),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.0.0.1".into()),
                ..PodStatus::default()
            }),
        };
        let mut trimmed = before.clone();
        trim_pod(&mut trimmed);
        assert_eq!(trimmed.metadata.managed_fields, None);
        assert_eq!(
            trimmed.metadata.annotations.as_ref().unwrap().len(),
            3,
            "the last-applied configuration goes, the annotations conversion reads stay"
        );
        let spec = trimmed.spec.as_ref().unwrap();
        let volumes: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(volumes, ["scratch", "logs"]);
        assert_eq!(spec.containers[0].image, None);
        assert_eq!(spec.containers[0].env, None);
        assert_eq!(spec.containers[0].ports.as_ref().unwrap().len(), 1);
        let converted = convert::pod(&trimmed);
        assert!(converted.do_not_disrupt && converted.local_data);
        assert_eq!(converted.host_ports.len(), 1);
        assert_eq!(
            trimmed.status,
            Some(PodStatus {
                phase: Some("Running".into()),
                ..PodStatus::default()
            })
        );
        // The conversion cannot tell the difference.
        assert_eq!(convert::pod(&trimmed), convert::pod(&before));
    }

    #[test]
    fn nodes_drop_annotations_and_most_status() {
        let before = Node {
            metadata: meta(),
            spec: None,
            status: Some(NodeStatus {
                allocatable: Some(
                    [(
                        "cpu".to_owned(),
                        k8s_openapi::apimachinery::pkg::api::resource::Quantity("2".into()),
                    )]
                    .into(),
                ),
                conditions: Some(vec![
                    NodeCondition {
                        type_: "DiskPressure".into(),
                        status: "False".into(),
                        ..NodeCondition::default()
                    },
                    NodeCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        message: Some("kubelet is posting ready status".into()),
                        ..NodeCondition::default()
                    },
                ]),
                images: Some(vec![Default::default()]),
                ..NodeStatus::default()
            }),
        };
        let mut trimmed = before.clone();
        trim_node(&mut trimmed);
        assert_eq!(trimmed.metadata.annotations.as_ref().unwrap().len(), 3);
        assert!(convert::node(&trimmed).do_not_disrupt);
        assert_eq!(trimmed.metadata.managed_fields, None);
        let status = trimmed.status.as_ref().unwrap();
        assert_eq!(status.images, None);
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
        assert_eq!(convert::node(&trimmed), convert::node(&before));
    }

    #[test]
    fn pdbs_drop_conditions() {
        let mut pdb = PodDisruptionBudget {
            metadata: meta(),
            ..PodDisruptionBudget::default()
        };
        trim_pdb(&mut pdb);
        assert_eq!(pdb.metadata.annotations.as_ref().unwrap().len(), 3);
        assert_eq!(pdb.metadata.managed_fields, None);
    }
}
