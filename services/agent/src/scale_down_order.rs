//! Which pods a scale-down removes first. The ReplicaSet controller deletes the pods with the
//! lowest `controller.kubernetes.io/pod-deletion-cost` first; without it, it leaves a hole on
//! whichever nodes hold the newest pods, and consolidation must then move pods to close them.
//! Every [`REFRESH`] the agent ranks the nodes in the order consolidation takes them
//! ([`spot_engine::pod_deletion_costs`]) and sets the cost on the ReplicaSet pods, so a
//! scale-down empties a node, which then goes with no pod moved.
//!
//! Only costs the agent set are changed (they carry [`MANAGED_ANNOTATION`]); a cost the user set
//! is left as it is. Pods on nodes consolidation leaves alone (new, or guarded by a pod that
//! must not be disrupted, has no controller or keeps local data) lose the agent's cost. Nothing is
//! written while the control plane keeps the cluster in dry-run.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use spot_cloud::Catalog;
use spot_engine as engine;
use spot_proto::agent::v1::Snapshot;
use spot_proto::common::v1 as common;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::watch::ClusterView;

pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
/// Marks a deletion cost the agent set, and may change or remove.
pub const MANAGED_ANNOTATION: &str = "spot-optimizer.io/managed-deletion-cost";
pub const REFRESH: Duration = Duration::from_secs(60);
/// At most this many pods are patched per refresh, so a large cluster whose ranking shifts does
/// not flood its API server; the rest follow at the next refresh.
pub const MAX_PATCHES_PER_REFRESH: usize = 500;

/// One pod's deletion cost to set, or (None) the agent's cost to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub namespace: String,
    pub name: String,
    pub cost: Option<i32>,
}

/// The changes that bring the ReplicaSet pods' deletion costs to the nodes' ranking in
/// `cluster`. `annotations` holds each pod's current annotations by `namespace/name`.
pub fn changes(
    cluster: &Snapshot,
    annotations: &BTreeMap<String, BTreeMap<String, String>>,
    now_millis: i64,
) -> Vec<Change> {
    let wanted =
        engine::pod_deletion_costs(&ranked_nodes(&cluster.nodes, &cluster.pods, now_millis));
    let none = BTreeMap::new();
    cluster
        .pods
        .iter()
        .filter(|pod| pod.owner_kind == "ReplicaSet")
        .filter_map(|pod| {
            let id = pod_id(pod);
            let current = annotations.get(&id).unwrap_or(&none);
            let managed = current.contains_key(MANAGED_ANNOTATION);
            let set_by_user = current.contains_key(POD_DELETION_COST_ANNOTATION) && !managed;
            if set_by_user {
                return None;
            }
            let cost = wanted.get(&id).copied();
            let now = current
                .get(POD_DELETION_COST_ANNOTATION)
                .and_then(|v| v.parse::<i32>().ok());
            let change = match cost {
                Some(cost) => now != Some(cost) || !managed,
                None => managed,
            };
            change.then(|| Change {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                cost,
            })
        })
        .collect()
}

/// The nodes as consolidation sees them: their pods that need a node, the on-demand price of
/// their type (to take the dearer of two equally full nodes first), and which ones it leaves
/// alone (as the control plane's `kube_terms::pin_reason` and `settling` decide, without the
/// losses a policy may accept).
fn ranked_nodes(
    nodes: &[common::Node],
    pods: &[common::Pod],
    now_millis: i64,
) -> Vec<engine::ExistingNode> {
    let catalog = Catalog::embedded();
    nodes
        .iter()
        .map(|node| {
            let on_node: Vec<&common::Pod> = pods
                .iter()
                .filter(|p| p.node_name == node.name && needs_a_node(p))
                .collect();
            let guarded = node.do_not_disrupt
                || on_node
                    .iter()
                    .any(|p| p.do_not_disrupt || p.owner_kind.is_empty() || p.local_data);
            let mut existing = engine::ExistingNode::new(
                &node.name,
                &node.instance_type,
                &node.zone,
                engine::CapacityType::OnDemand,
                catalog
                    .on_demand_price(&node.instance_type)
                    .ok()
                    .flatten()
                    .unwrap_or(0.0),
                on_node.iter().map(|p| pod_id(p)).collect(),
            );
            existing.cordoned = node.cordoned;
            existing.do_not_disrupt = guarded.then(|| "left alone".to_owned());
            existing.settling = node.created_at.as_ref().is_some_and(|at| {
                now_millis - spot_proto::time::millis(at) < engine::NEW_NODE_SETTLES_MS
            });
            existing
        })
        .collect()
}

/// `namespace/name`, as the engine and the annotations map name a pod.
fn pod_id(pod: &common::Pod) -> String {
    format!("{}/{}", pod.namespace, pod.name)
}

fn needs_a_node(pod: &common::Pod) -> bool {
    let finished = matches!(
        pod.phase(),
        common::PodPhase::Succeeded | common::PodPhase::Failed
    );
    !finished && pod.owner_kind != "DaemonSet" && pod.owner_kind != "Node"
}

/// The merge patch for one change.
pub fn patch(change: &Change) -> serde_json::Value {
    match change.cost {
        Some(cost) => serde_json::json!({"metadata": {"annotations": {
            POD_DELETION_COST_ANNOTATION: cost.to_string(),
            MANAGED_ANNOTATION: "true",
        }}}),
        None => serde_json::json!({"metadata": {"annotations": {
            POD_DELETION_COST_ANNOTATION: null,
            MANAGED_ANNOTATION: null,
        }}}),
    }
}

/// Applies the changes now; a pod that is gone meanwhile is skipped. Returns how many were set.
pub async fn apply(client: &kube::Client, changes: &[Change]) -> usize {
    let mut applied = 0;
    for change in changes {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &change.namespace);
        match pods
            .patch(
                &change.name,
                &PatchParams::default(),
                &Patch::Merge(patch(change)),
            )
            .await
        {
            Ok(_) => applied += 1,
            Err(error) => {
                tracing::debug!(pod = %change.name, namespace = %change.namespace, %error, "deletion cost not set");
            }
        }
    }
    applied
}

/// Every [`REFRESH`] until `shutdown`, and as soon as the control plane lifts dry-run: ranks the
/// pods and applies the changes. Nothing while `dry_run` holds.
pub async fn run(
    view: ClusterView,
    client: kube::Client,
    mut dry_run: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
            changed = dry_run.changed() => if changed.is_err() { return },
        }
        if *dry_run.borrow_and_update() {
            continue;
        }
        let mut changes = changes(
            &view.snapshot(),
            &annotations(&view),
            chrono::Utc::now().timestamp_millis(),
        );
        changes.truncate(MAX_PATCHES_PER_REFRESH);
        if !changes.is_empty() {
            let applied = apply(&client, &changes).await;
            tracing::info!(
                applied,
                wanted = changes.len(),
                "pod deletion costs set for scale-downs"
            );
        }
    }
}

/// Each pod's annotations as the view keeps them, by `namespace/name`.
fn annotations(view: &ClusterView) -> BTreeMap<String, BTreeMap<String, String>> {
    view.pods()
        .state()
        .iter()
        .map(|pod| {
            let meta = &pod.metadata;
            let id = format!(
                "{}/{}",
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default()
            );
            (id, meta.annotations.clone().unwrap_or_default())
        })
        .collect()
}
