//! The Kubernetes executor: runs cordon, uncordon, label, taint, delete-node and drain actions
//! against the API server with kube-rs.
//!
//! Every action respects its deadline (`action.deadline`; actions without one get
//! [`KubeExecutorConfig::default_timeout`]). Transient API failures (5xx, 429 outside of eviction,
//! 409 conflicts, connection errors) are retried until the deadline; permanent ones (403, 422, a
//! missing node for cordon) fail the action at once.
//!
//! Drain cordons the node, lists its pods, and evicts them through the Eviction API. DaemonSet
//! pods, mirror (static) pods and finished pods are left alone. A 429 answer means a
//! PodDisruptionBudget blocks the eviction: it is retried until the deadline, and a pod is never
//! deleted to get around a budget. When every pod is evicted, the drain waits until they are gone.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Taint as K8sTaint};
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ObjectMeta, Preconditions};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use spot_proto::agent::v1::{Action, ActionKind};
use tokio::time::{Instant, sleep, timeout_at};

use crate::convert::{is_daemonset_pod, is_finished_pod, is_mirror_pod, taint_effect_to_k8s};
use crate::executor::{Executor, Outcome};

/// No action runs longer than this, whatever its deadline says.
pub const MAX_ACTION_TIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Timing of the executor. The defaults suit a real cluster; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeExecutorConfig {
    /// How long to wait before retrying an eviction a PodDisruptionBudget refused (429).
    pub eviction_retry_interval: Duration,
    /// How often a drain checks whether the evicted pods are gone.
    pub drain_poll_interval: Duration,
    /// How long to wait before retrying a request that failed transiently.
    pub retry_interval: Duration,
    /// The time budget of an action that carries no deadline.
    pub default_timeout: Duration,
}

impl Default for KubeExecutorConfig {
    fn default() -> Self {
        Self {
            eviction_retry_interval: Duration::from_secs(5),
            drain_poll_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(5),
            default_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Runs actions against the Kubernetes API.
#[derive(Clone)]
pub struct KubeExecutor {
    client: kube::Client,
    config: KubeExecutorConfig,
}

impl KubeExecutor {
    pub fn new(client: kube::Client) -> Self {
        Self::with_config(client, KubeExecutorConfig::default())
    }

    pub fn with_config(client: kube::Client, config: KubeExecutorConfig) -> Self {
        Self { client, config }
    }

    pub fn config(&self) -> &KubeExecutorConfig {
        &self.config
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// The instant the action must be done by, or `None` when its deadline already passed.
    /// Deadlines further away than [`MAX_ACTION_TIME`] are cut to it.
    fn deadline(&self, action: &Action) -> Option<Instant> {
        let now = Instant::now();
        let deadline = action.deadline.as_ref().map(|deadline| {
            deadline
                .seconds
                .saturating_mul(1000)
                .saturating_add(i64::from(deadline.nanos) / 1_000_000)
        });
        let budget = match deadline {
            // An unset (zero) timestamp means no deadline.
            Some(deadline) if deadline > 0 => {
                let remaining = deadline.saturating_sub(chrono::Utc::now().timestamp_millis());
                if remaining <= 0 {
                    return None;
                }
                Duration::from_millis(remaining.unsigned_abs())
            }
            _ => self.config.default_timeout,
        };
        Some(now + budget.min(MAX_ACTION_TIME))
    }

    /// Runs `op` until it succeeds or fails permanently, sleeping between transient failures and
    /// remembering the last one for the timeout message.
    async fn retrying<T, F, Fut>(
        &self,
        last_error: &mut Option<String>,
        mut op: F,
    ) -> Result<T, kube::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(err) if is_transient(&err) => {
                    tracing::warn!(error = %err, "transient Kubernetes API error; retrying");
                    *last_error = Some(describe(&err));
                    sleep(self.config.retry_interval).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn set_unschedulable(
        &self,
        node: &str,
        unschedulable: bool,
        last_error: &mut Option<String>,
    ) -> Outcome {
        let nodes = self.nodes();
        let result = self
            .retrying(last_error, || {
                let nodes = nodes.clone();
                async move {
                    if unschedulable {
                        nodes.cordon(node).await
                    } else {
                        nodes.uncordon(node).await
                    }
                }
            })
            .await;
        let verb = if unschedulable {
            "cordoned"
        } else {
            "uncordoned"
        };
        match result {
            Ok(_) => Outcome::succeeded(format!("node {node} {verb}")),
            Err(err) if is_not_found(&err) => Outcome::failed(format!("node {node} not found")),
            Err(err) => Outcome::failed(format!("node {node} not {verb}: {}", describe(&err))),
        }
    }

    async fn label(
        &self,
        node: &str,
        labels: &BTreeMap<String, String>,
        last_error: &mut Option<String>,
    ) -> Outcome {
        if labels.is_empty() {
            return Outcome::failed("label action carries no labels");
        }
        let patch = serde_json::json!({ "metadata": { "labels": labels } });
        let nodes = self.nodes();
        let result = self
            .retrying(last_error, || {
                let nodes = nodes.clone();
                let patch = Patch::Merge(patch.clone());
                async move { nodes.patch(node, &PatchParams::default(), &patch).await }
            })
            .await;
        match result {
            Ok(_) => Outcome::succeeded(format!("labelled node {node} with {}", join_map(labels))),
            Err(err) if is_not_found(&err) => Outcome::failed(format!("node {node} not found")),
            Err(err) => {
                Outcome::failed(format!("labelling node {node} failed: {}", describe(&err)))
            }
        }
    }

    async fn taint(
        &self,
        node: &str,
        wanted: &[K8sTaint],
        remove_keys: &[String],
        last_error: &mut Option<String>,
    ) -> Outcome {
        if wanted.is_empty() && remove_keys.is_empty() {
            return Outcome::failed("taint action carries no taints");
        }
        let nodes = self.nodes();
        // Get, merge and patch with the node's resourceVersion, so a concurrent change to the
        // taints makes the patch fail with 409 and the whole step is redone on fresh data.
        let result = self
            .retrying(last_error, || {
                let nodes = nodes.clone();
                async move {
                    let current = nodes.get(node).await?;
                    let existing = current
                        .spec
                        .as_ref()
                        .and_then(|spec| spec.taints.clone())
                        .unwrap_or_default();
                    let mut merged = merge_taints(&existing, wanted);
                    merged.retain(|taint| !remove_keys.contains(&taint.key));
                    if merged == existing {
                        return Ok(false);
                    }
                    let mut patch = serde_json::json!({ "spec": { "taints": merged } });
                    if let Some(version) = current.metadata.resource_version.as_deref() {
                        patch["metadata"] = serde_json::json!({ "resourceVersion": version });
                    }
                    nodes
                        .patch(node, &PatchParams::default(), &Patch::Merge(patch))
                        .await?;
                    Ok(true)
                }
            })
            .await;
        let mut described = wanted
            .iter()
            .map(|taint| {
                format!(
                    "{}={}:{}",
                    taint.key,
                    taint.value.as_deref().unwrap_or_default(),
                    taint.effect
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        if !remove_keys.is_empty() {
            if !described.is_empty() {
                described.push_str(", ");
            }
            described.push_str(&format!("no taint {}", remove_keys.join(", ")));
        }
        match result {
            Ok(true) => Outcome::succeeded(format!("tainted node {node}: {described}")),
            Ok(false) => Outcome::succeeded(format!("node {node} already has {described}")),
            Err(err) if is_not_found(&err) => Outcome::failed(format!("node {node} not found")),
            Err(err) => Outcome::failed(format!("tainting node {node} failed: {}", describe(&err))),
        }
    }

    async fn delete_node(&self, node: &str, last_error: &mut Option<String>) -> Outcome {
        let nodes = self.nodes();
        let result = self
            .retrying(last_error, || {
                let nodes = nodes.clone();
                async move { nodes.delete(node, &DeleteParams::default()).await }
            })
            .await;
        match result {
            Ok(_) => Outcome::succeeded(format!("node {node} deleted")),
            Err(err) if is_not_found(&err) => {
                Outcome::succeeded(format!("node {node} was already gone"))
            }
            Err(err) => Outcome::failed(format!("deleting node {node} failed: {}", describe(&err))),
        }
    }

    /// Lists the pods bound to the node.
    async fn pods_on(&self, node: &str, state: &mut DrainState) -> Result<Vec<Pod>, kube::Error> {
        let pods: Api<Pod> = Api::all(self.client.clone());
        let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
        let list = self
            .retrying(&mut state.last_error, || {
                let pods = pods.clone();
                let params = params.clone();
                async move { pods.list(&params).await }
            })
            .await?;
        Ok(list.items)
    }

    async fn drain_inner(&self, node: &str, state: &mut DrainState) -> Outcome {
        state.step = DrainStep::Cordon;
        let cordoned = self
            .set_unschedulable(node, true, &mut state.last_error)
            .await;
        if cordoned.outcome != spot_proto::agent::v1::ActionOutcome::Succeeded {
            return cordoned;
        }

        state.step = DrainStep::List;
        let pods = match self.pods_on(node, state).await {
            Ok(pods) => pods,
            Err(err) => {
                return Outcome::failed(format!(
                    "listing the pods of node {node} failed: {}",
                    describe(&err)
                ));
            }
        };

        let mut pending = Vec::new();
        let mut skipped = 0usize;
        for pod in &pods {
            if is_daemonset_pod(pod) || is_mirror_pod(pod) || is_finished_pod(pod) {
                skipped += 1;
                continue;
            }
            let target = EvictionTarget::of(pod);
            if pod.metadata.deletion_timestamp.is_some() {
                // Already terminating: nothing to evict, only to wait for.
                state.evicted.insert(target.key(), target);
            } else {
                pending.push(target);
            }
        }

        state.step = DrainStep::Evict;
        for target in &pending {
            state
                .blocked
                .insert(target.key(), "eviction not answered yet".to_owned());
        }
        let mut evicted_now = 0usize;
        loop {
            let mut still_blocked = Vec::new();
            // A pod's reason stays until its next attempt ends, so a deadline that falls
            // during a retry still names every pod that was blocked.
            for target in pending {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), &target.namespace);
                match pods
                    .create_subresource::<Eviction, serde_json::Value>(
                        "eviction",
                        &target.name,
                        &PostParams::default(),
                        &target.eviction(),
                    )
                    .await
                {
                    Ok(_) => {
                        evicted_now += 1;
                        tracing::info!(pod = %target.key(), node, "pod evicted");
                        state.blocked.remove(&target.key());
                        state.evicted.insert(target.key(), target);
                    }
                    // Gone already: nothing left to evict.
                    Err(err) if is_not_found(&err) => {
                        state.blocked.remove(&target.key());
                    }
                    // A conflict: the uid precondition failed (the pod was replaced), or
                    // something else changed under the eviction. Look before deciding.
                    Err(err) if api_code(&err) == Some(409) => {
                        match pods.get_opt(&target.name).await {
                            Ok(Some(current))
                                if current.metadata.uid.as_deref() == Some(&target.uid) =>
                            {
                                state.blocked.insert(target.key(), describe(&err));
                                still_blocked.push(target);
                            }
                            Ok(_) => {
                                state.blocked.remove(&target.key());
                            }
                            Err(err) => {
                                state.blocked.insert(target.key(), describe(&err));
                                still_blocked.push(target);
                            }
                        }
                    }
                    Err(err) if api_code(&err) == Some(429) => {
                        let reason = format!(
                            "blocked by a PodDisruptionBudget ({})",
                            status_message(&err)
                        );
                        state.blocked.insert(target.key(), reason);
                        still_blocked.push(target);
                    }
                    Err(err) if is_transient(&err) => {
                        state.blocked.insert(target.key(), describe(&err));
                        still_blocked.push(target);
                    }
                    Err(err) => {
                        return Outcome::failed(format!(
                            "evicting pod {} from node {node} failed: {}",
                            target.key(),
                            describe(&err)
                        ));
                    }
                }
            }
            if still_blocked.is_empty() {
                break;
            }
            pending = still_blocked;
            sleep(self.config.eviction_retry_interval).await;
        }

        state.step = DrainStep::Wait;
        while !state.evicted.is_empty() {
            let pods = match self.pods_on(node, state).await {
                Ok(pods) => pods,
                Err(err) => {
                    return Outcome::failed(format!(
                        "listing the pods of node {node} failed: {}",
                        describe(&err)
                    ));
                }
            };
            let present: BTreeSet<(String, String)> = pods
                .iter()
                .map(|pod| {
                    let target = EvictionTarget::of(pod);
                    (target.key(), target.uid)
                })
                .collect();
            state
                .evicted
                .retain(|key, target| present.contains(&(key.clone(), target.uid.clone())));
            if state.evicted.is_empty() {
                break;
            }
            sleep(self.config.drain_poll_interval).await;
        }

        Outcome::succeeded(format!(
            "drained node {node}: {evicted_now} pods evicted, {skipped} left in place (DaemonSet, mirror or finished)"
        ))
    }

    async fn drain(&self, node: &str, deadline: Instant) -> Outcome {
        let mut state = DrainState::default();
        match timeout_at(deadline, self.drain_inner(node, &mut state)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::timed_out(state.timeout_message(node)),
        }
    }

    async fn run_simple(&self, action: &Action, last_error: &mut Option<String>) -> Outcome {
        let node = action.node_name.as_str();
        match action.kind() {
            ActionKind::Cordon => self.set_unschedulable(node, true, last_error).await,
            ActionKind::Uncordon => self.set_unschedulable(node, false, last_error).await,
            ActionKind::Label => {
                let labels: BTreeMap<String, String> = action
                    .labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                self.label(node, &labels, last_error).await
            }
            ActionKind::Taint => {
                let mut wanted = Vec::with_capacity(action.taints.len());
                for taint in &action.taints {
                    if taint.key.is_empty() {
                        return Outcome::failed("taint without a key");
                    }
                    let Some(effect) = taint_effect_to_k8s(taint.effect()) else {
                        return Outcome::failed(format!("taint {} has no effect", taint.key));
                    };
                    wanted.push(K8sTaint {
                        key: taint.key.clone(),
                        value: (!taint.value.is_empty()).then(|| taint.value.clone()),
                        effect: effect.to_owned(),
                        time_added: None,
                    });
                }
                self.taint(node, &wanted, &action.remove_taint_keys, last_error)
                    .await
            }
            ActionKind::DeleteNode => self.delete_node(node, last_error).await,
            ActionKind::Drain | ActionKind::Unspecified => {
                Outcome::failed(format!("unsupported action kind {}", action.kind))
            }
        }
    }
}

#[async_trait::async_trait]
impl Executor for KubeExecutor {
    async fn execute(&self, action: Action) -> Outcome {
        let kind = action.kind();
        if kind == ActionKind::Unspecified {
            return Outcome::failed(format!("action {} has no kind", action.id));
        }
        if action.node_name.is_empty() {
            return Outcome::failed(format!("action {} names no node", action.id));
        }
        let Some(deadline) = self.deadline(&action) else {
            return Outcome::timed_out(format!(
                "the deadline of action {} passed before it started",
                action.id
            ));
        };
        if kind == ActionKind::Drain {
            return self.drain(&action.node_name, deadline).await;
        }
        let mut last_error = None;
        match timeout_at(deadline, self.run_simple(&action, &mut last_error)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::timed_out(format!(
                "{} of node {} did not finish before the deadline{}",
                kind.as_str_name(),
                action.node_name,
                last_error
                    .map(|err| format!(" (last error: {err})"))
                    .unwrap_or_default()
            )),
        }
    }
}

/// Adds or replaces (by key and effect) the wanted taints, keeping every other taint.
fn merge_taints(existing: &[K8sTaint], wanted: &[K8sTaint]) -> Vec<K8sTaint> {
    let mut merged = existing.to_vec();
    for taint in wanted {
        match merged
            .iter_mut()
            .find(|current| current.key == taint.key && current.effect == taint.effect)
        {
            Some(current) => {
                if current.value != taint.value {
                    current.value = taint.value.clone();
                    current.time_added = None;
                }
            }
            None => merged.push(taint.clone()),
        }
    }
    merged
}

#[derive(Debug, Clone)]
struct EvictionTarget {
    namespace: String,
    name: String,
    uid: String,
}

impl EvictionTarget {
    fn of(pod: &Pod) -> Self {
        Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// A policy/v1 Eviction; the uid precondition makes sure a replacement pod that happens to
    /// carry the same name is never evicted by mistake.
    fn eviction(&self) -> Eviction {
        Eviction {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            delete_options: (!self.uid.is_empty()).then(|| DeleteOptions {
                preconditions: Some(Preconditions {
                    uid: Some(self.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteOptions::default()
            }),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum DrainStep {
    #[default]
    Cordon,
    List,
    Evict,
    Wait,
}

#[derive(Debug, Default)]
struct DrainState {
    step: DrainStep,
    /// Pods whose eviction is refused, with the reason.
    blocked: BTreeMap<String, String>,
    /// Pods evicted (or already terminating) that are not gone yet.
    evicted: BTreeMap<String, EvictionTarget>,
    last_error: Option<String>,
}

impl DrainState {
    fn timeout_message(&self, node: &str) -> String {
        let last_error = self
            .last_error
            .as_ref()
            .map(|err| format!(" (last error: {err})"))
            .unwrap_or_default();
        match self.step {
            DrainStep::Cordon => {
                format!("deadline passed while cordoning node {node}{last_error}")
            }
            DrainStep::List => {
                format!("deadline passed while listing the pods of node {node}{last_error}")
            }
            DrainStep::Evict => format!(
                "deadline passed while draining node {node}: eviction still blocked for {} pod(s): {}",
                self.blocked.len(),
                self.blocked
                    .iter()
                    .map(|(pod, reason)| format!("{pod} ({reason})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            DrainStep::Wait => format!(
                "deadline passed while draining node {node}: {} evicted pod(s) still terminating: {}",
                self.evicted.len(),
                self.evicted.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn is_not_found(err: &kube::Error) -> bool {
    api_code(err) == Some(404)
}

/// Whether retrying the same request later can succeed.
fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 408 | 409 | 429 | 500..=599),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn status_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        kube::Error::Api(status) => format!("HTTP {}", status.code),
        other => other.to_string(),
    }
}

fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => format!("HTTP {}: {}", status.code, status.message),
        other => other.to_string(),
    }
}

fn join_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}
