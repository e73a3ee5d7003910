//! The Kubernetes executor against a mock API server: the exact requests it sends and how it
//! reacts to the answers.

mod common;

use std::time::Duration;

use common::{Seen, not_found, serve, status};
use serde_json::{Value, json};
use spot_agent::executor::{Executor, Outcome};
use spot_agent::kube_executor::{KubeExecutor, KubeExecutorConfig};
use spot_proto::agent::v1::{Action, ActionKind, ActionOutcome};
use spot_proto::common::v1::{Taint, TaintEffect};

const STRATEGIC: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const PODS_ON_N1: &str = "/api/v1/pods";
const PODS_ON_N1_QUERY: &str = "&fieldSelector=spec.nodeName%3Dn1";

fn fast() -> KubeExecutorConfig {
    KubeExecutorConfig {
        eviction_retry_interval: Duration::from_millis(20),
        drain_poll_interval: Duration::from_millis(20),
        retry_interval: Duration::from_millis(20),
        default_timeout: Duration::from_secs(5),
    }
}

fn action(kind: ActionKind, deadline_in_ms: i64) -> Action {
    let mut action = Action {
        id: "act-1".into(),
        node_name: "n1".into(),
        deadline: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis() + deadline_in_ms,
        )),
        attempt: 1,
        ..Action::default()
    };
    action.set_kind(kind);
    action
}

async fn run(
    action: Action,
    respond: impl FnMut(&Seen, &[Seen]) -> (u16, Value),
) -> (Outcome, Vec<Seen>) {
    let (client, handle) = common::client();
    let executor = KubeExecutor::with_config(client, fast());
    let task = tokio::spawn(async move { executor.execute(action).await });
    serve(task, handle, respond).await
}

fn node(name: &str, unschedulable: bool, taints: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": name, "resourceVersion": "7" },
        "spec": { "unschedulable": unschedulable, "taints": taints },
    })
}

/// A pod on n1; `owner` is the controller kind, if any.
fn pod(namespace: &str, name: &str, owner: Option<&str>, phase: &str) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "namespace": namespace, "name": name, "uid": format!("uid-{name}") },
        "spec": { "nodeName": "n1", "containers": [{ "name": "app" }] },
        "status": { "phase": phase },
    });
    if let Some(kind) = owner {
        pod["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1",
            "kind": kind,
            "name": format!("{name}-owner"),
            "uid": "owner-uid",
            "controller": true,
        }]);
    }
    pod
}

fn mirror_pod(name: &str) -> Value {
    let mut pod = pod("kube-system", name, None, "Running");
    pod["metadata"]["annotations"] = json!({ "kubernetes.io/config.mirror": "hash" });
    pod["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "node-uid", "controller": true,
    }]);
    pod
}

fn pod_list(items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": { "resourceVersion": "100" },
        "items": items,
    })
}

fn eviction_body(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": { "name": name, "namespace": namespace },
        "deleteOptions": { "preconditions": { "uid": format!("uid-{name}") } },
    })
}

fn eviction_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{name}/eviction")
}

fn evicted() -> (u16, Value) {
    (
        201,
        json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }),
    )
}

fn pdb_blocked() -> (u16, Value) {
    let mut body = status(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    body["details"] = json!({
        "causes": [{
            "reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 2 currently",
        }],
    });
    (429, body)
}

fn assert_cordon(seen: &Seen) {
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.path, "/api/v1/nodes/n1");
    assert_eq!(seen.query, "");
    assert_eq!(seen.content_type.as_deref(), Some(STRATEGIC));
    assert_eq!(seen.body, json!({ "spec": { "unschedulable": true } }));
}

fn is_pod_list(seen: &Seen) -> bool {
    seen.method == "GET" && seen.path == PODS_ON_N1 && seen.query == PODS_ON_N1_QUERY
}

// ---------------------------------------------------------------------------------------------
// cordon, uncordon, label, taint, delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cordon_patches_unschedulable() {
    let (outcome, seen) = run(action(ActionKind::Cordon, 5_000), |_, _| {
        (200, node("n1", true, json!([])))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 1);
    assert_cordon(&seen[0]);
}

#[tokio::test]
async fn uncordon_patches_schedulable() {
    let (outcome, seen) = run(action(ActionKind::Uncordon, 5_000), |_, _| {
        (200, node("n1", false, json!([])))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].line(), "PATCH /api/v1/nodes/n1");
    assert_eq!(seen[0].content_type.as_deref(), Some(STRATEGIC));
    assert_eq!(seen[0].body, json!({ "spec": { "unschedulable": false } }));
}

#[tokio::test]
async fn cordon_of_a_missing_node_fails() {
    let (outcome, seen) = run(action(ActionKind::Cordon, 5_000), |_, _| {
        not_found("nodes", "n1")
    })
    .await;
    assert_eq!(outcome, Outcome::failed("node n1 not found"));
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn cordon_retries_a_server_error() {
    let (outcome, seen) = run(action(ActionKind::Cordon, 5_000), |_, seen| {
        if seen.is_empty() {
            (500, status(500, "InternalError", "etcd timeout"))
        } else {
            (200, node("n1", true, json!([])))
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 2);
    assert_cordon(&seen[0]);
    assert_cordon(&seen[1]);
}

#[tokio::test]
async fn cordon_times_out_when_the_server_keeps_failing() {
    let (outcome, seen) = run(action(ActionKind::Cordon, 300), |_, _| {
        (503, status(503, "ServiceUnavailable", "apiserver down"))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::TimedOut, "{outcome:?}");
    assert!(outcome.message.contains("apiserver down"), "{outcome:?}");
    assert!(seen.len() >= 2);
}

#[tokio::test]
async fn label_merge_patches_the_labels() {
    let mut label = action(ActionKind::Label, 5_000);
    label
        .labels
        .insert("spot.example.com/pool".into(), "m5-large".into());
    label.labels.insert("team".into(), "infra".into());
    let (outcome, seen) = run(label, |_, _| (200, node("n1", false, json!([])))).await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].line(), "PATCH /api/v1/nodes/n1");
    assert_eq!(seen[0].content_type.as_deref(), Some(MERGE));
    assert_eq!(
        seen[0].body,
        json!({ "metadata": { "labels": { "spot.example.com/pool": "m5-large", "team": "infra" } } })
    );
}

#[tokio::test]
async fn label_without_labels_fails_without_a_request() {
    let (outcome, seen) = run(action(ActionKind::Label, 5_000), |_, _| {
        unreachable!("no request expected")
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Failed);
    assert!(seen.is_empty());
}

fn taint_action() -> Action {
    let mut taint = action(ActionKind::Taint, 5_000);
    taint.taints = vec![
        Taint {
            key: "spot.example.com/draining".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule.into(),
        },
        Taint {
            key: "dedicated".into(),
            value: "batch".into(),
            effect: TaintEffect::NoExecute.into(),
        },
    ];
    taint
}

#[tokio::test]
async fn taint_adds_and_replaces_by_key_and_effect() {
    let existing = json!([
        { "key": "dedicated", "value": "gpu", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z" },
        { "key": "dedicated", "value": "gpu", "effect": "NoSchedule" },
        { "key": "other", "effect": "PreferNoSchedule" },
    ]);
    let (outcome, seen) = run(taint_action(), move |_, _| {
        (200, node("n1", false, existing.clone()))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].line(), "GET /api/v1/nodes/n1");
    assert_eq!(seen[1].line(), "PATCH /api/v1/nodes/n1");
    assert_eq!(seen[1].content_type.as_deref(), Some(MERGE));
    assert_eq!(
        seen[1].body,
        json!({
            "metadata": { "resourceVersion": "7" },
            "spec": { "taints": [
                { "key": "dedicated", "value": "batch", "effect": "NoExecute" },
                { "key": "dedicated", "value": "gpu", "effect": "NoSchedule" },
                { "key": "other", "effect": "PreferNoSchedule" },
                { "key": "spot.example.com/draining", "value": "true", "effect": "NoSchedule" },
            ] },
        })
    );
}

#[tokio::test]
async fn a_taint_action_removes_the_keys_it_names_and_keeps_the_rest() {
    let existing = json!([
        { "key": "spot-optimizer.io/emptying", "effect": "PreferNoSchedule" },
        { "key": "dedicated", "value": "gpu", "effect": "NoSchedule" },
    ]);
    let mut untaint = action(ActionKind::Taint, 5_000);
    untaint.remove_taint_keys = vec!["spot-optimizer.io/emptying".into()];
    let (outcome, seen) = run(untaint, move |_, _| {
        (200, node("n1", false, existing.clone()))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].body,
        json!({
            "metadata": { "resourceVersion": "7" },
            "spec": { "taints": [
                { "key": "dedicated", "value": "gpu", "effect": "NoSchedule" },
            ] },
        })
    );
}

#[tokio::test]
async fn taint_already_present_sends_no_patch() {
    let existing = json!([
        { "key": "spot.example.com/draining", "value": "true", "effect": "NoSchedule" },
        { "key": "dedicated", "value": "batch", "effect": "NoExecute" },
    ]);
    let (outcome, seen) = run(taint_action(), move |_, _| {
        (200, node("n1", false, existing.clone()))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].line(), "GET /api/v1/nodes/n1");
}

#[tokio::test]
async fn taint_conflict_rereads_the_node() {
    let (outcome, seen) = run(taint_action(), |request, seen| {
        if request.method == "PATCH" && seen.len() == 1 {
            (409, status(409, "Conflict", "the object has been modified"))
        } else {
            (200, node("n1", false, json!([])))
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    let lines: Vec<_> = seen.iter().map(Seen::line).collect();
    assert_eq!(
        lines,
        [
            "GET /api/v1/nodes/n1",
            "PATCH /api/v1/nodes/n1",
            "GET /api/v1/nodes/n1",
            "PATCH /api/v1/nodes/n1",
        ]
    );
}

#[tokio::test]
async fn taint_without_effect_fails_without_a_request() {
    let mut taint = action(ActionKind::Taint, 5_000);
    taint.taints = vec![Taint {
        key: "k".into(),
        value: "v".into(),
        effect: TaintEffect::Unspecified.into(),
    }];
    let (outcome, seen) = run(taint, |_, _| unreachable!("no request expected")).await;
    assert_eq!(outcome.outcome, ActionOutcome::Failed);
    assert!(seen.is_empty());
}

#[tokio::test]
async fn delete_node_and_already_gone() {
    let (outcome, seen) = run(action(ActionKind::DeleteNode, 5_000), |_, _| {
        (200, node("n1", true, json!([])))
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(seen[0].path, "/api/v1/nodes/n1");

    let (outcome, _) = run(action(ActionKind::DeleteNode, 5_000), |_, _| {
        not_found("nodes", "n1")
    })
    .await;
    assert_eq!(outcome, Outcome::succeeded("node n1 was already gone"));
}

#[tokio::test]
async fn a_passed_deadline_times_out_without_a_request() {
    let (outcome, seen) = run(action(ActionKind::Drain, -1_000), |_, _| {
        unreachable!("no request expected")
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::TimedOut);
    assert!(seen.is_empty());
}

#[tokio::test]
async fn absurd_or_missing_deadlines_do_not_break_the_action() {
    let mut far = action(ActionKind::Cordon, 0);
    far.deadline = Some(prost_types::Timestamp {
        seconds: i64::MAX,
        nanos: 999_999_999,
    });
    let (outcome, _) = run(far, |_, _| (200, node("n1", true, json!([])))).await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");

    let mut none = action(ActionKind::Cordon, 0);
    none.deadline = None;
    let (outcome, _) = run(none, |_, _| (200, node("n1", true, json!([])))).await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
}

#[tokio::test]
async fn unspecified_kind_and_missing_node_fail() {
    let (outcome, seen) = run(action(ActionKind::Unspecified, 5_000), |_, _| {
        unreachable!("no request expected")
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Failed);
    assert!(seen.is_empty());

    let mut no_node = action(ActionKind::Cordon, 5_000);
    no_node.node_name.clear();
    let (outcome, seen) = run(no_node, |_, _| unreachable!("no request expected")).await;
    assert_eq!(outcome.outcome, ActionOutcome::Failed);
    assert!(seen.is_empty());
}

// ---------------------------------------------------------------------------------------------
// drain
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn drain_cordons_evicts_and_waits() {
    let listed = vec![
        pod("shop", "web-1", Some("ReplicaSet"), "Running"),
        pod("kube-system", "aws-node-x", Some("DaemonSet"), "Running"),
        mirror_pod("kube-proxy-n1"),
        pod("batch", "job-done", Some("Job"), "Succeeded"),
        pod("batch", "job-failed", Some("Job"), "Failed"),
        pod("shop", "db-0", Some("StatefulSet"), "Running"),
        pod("default", "bare", None, "Pending"),
    ];
    let mut lists = 0;
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), move |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", "/api/v1/nodes/n1") => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => {
                lists += 1;
                match lists {
                    1 => (200, pod_list(listed.clone())),
                    // The first poll still sees web-1 terminating (and the DaemonSet pod, which
                    // stays), the second sees only the pods a drain leaves.
                    2 => (200, pod_list(vec![listed[0].clone(), listed[1].clone()])),
                    _ => (200, pod_list(vec![listed[1].clone(), listed[2].clone()])),
                }
            }
            ("POST", _) => evicted(),
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(
        outcome,
        Outcome::succeeded(
            "drained node n1: 3 pods evicted, 4 left in place (DaemonSet, mirror or finished)"
        )
    );

    assert_cordon(&seen[0]);
    assert!(is_pod_list(&seen[1]), "{:?}", seen[1]);
    assert_eq!(seen[1].body, Value::Null);
    let evictions: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    let expected = [("shop", "web-1"), ("shop", "db-0"), ("default", "bare")];
    assert_eq!(evictions.len(), expected.len());
    for (seen, (namespace, name)) in evictions.iter().zip(expected) {
        assert_eq!(seen.path, eviction_path(namespace, name));
        assert_eq!(seen.query, "");
        assert_eq!(seen.content_type.as_deref(), Some("application/json"));
        assert_eq!(seen.body, eviction_body(namespace, name));
    }
    // Then two polls of the node's pods, and nothing else: no deletes.
    assert_eq!(seen.len(), 2 + 3 + 2);
    assert!(seen[5..].iter().all(is_pod_list));
    assert!(seen.iter().all(|s| s.method != "DELETE"));
}

#[tokio::test]
async fn drain_retries_an_eviction_a_pdb_blocks() {
    let mut evictions = 0;
    let mut lists = 0;
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), move |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => {
                lists += 1;
                if lists == 1 {
                    (
                        200,
                        pod_list(vec![pod("shop", "web-1", Some("ReplicaSet"), "Running")]),
                    )
                } else {
                    (200, pod_list(vec![]))
                }
            }
            ("POST", _) => {
                evictions += 1;
                if evictions == 1 {
                    pdb_blocked()
                } else {
                    evicted()
                }
            }
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    let lines: Vec<_> = seen.iter().map(Seen::line).collect();
    let list = format!("GET {PODS_ON_N1}?{PODS_ON_N1_QUERY}");
    let evict = format!("POST {}", eviction_path("shop", "web-1"));
    assert_eq!(
        lines,
        [
            "PATCH /api/v1/nodes/n1".to_owned(),
            list.clone(),
            evict.clone(),
            evict,
            list
        ]
    );
    assert_eq!(seen[2].body, eviction_body("shop", "web-1"));
    assert_eq!(seen[3].body, eviction_body("shop", "web-1"));
}

#[tokio::test]
async fn drain_blocked_until_the_deadline_times_out_and_never_deletes() {
    let (outcome, seen) = run(action(ActionKind::Drain, 800), |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => (
                200,
                pod_list(vec![
                    pod("shop", "web-1", Some("ReplicaSet"), "Running"),
                    pod("shop", "api-1", Some("ReplicaSet"), "Running"),
                ]),
            ),
            ("POST", path) if path == eviction_path("shop", "web-1") => pdb_blocked(),
            ("POST", _) => evicted(),
            _ => (405, status(405, "MethodNotAllowed", "unexpected")),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::TimedOut, "{outcome:?}");
    assert!(
        outcome.message.contains("shop/web-1"),
        "the message names the blocked pod: {outcome:?}"
    );
    assert!(outcome.message.contains("disruption budget"), "{outcome:?}");
    assert!(!outcome.message.contains("shop/api-1"), "{outcome:?}");
    assert!(seen.iter().all(|s| s.method != "DELETE"), "{seen:#?}");
    let web_attempts = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path == eviction_path("shop", "web-1"))
        .count();
    let api_attempts = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path == eviction_path("shop", "api-1"))
        .count();
    assert!(web_attempts >= 3, "retried with backoff: {web_attempts}");
    assert_eq!(api_attempts, 1, "an evicted pod is not evicted again");
    // Every request is the cordon, the one list, or an eviction.
    assert!(
        seen.iter()
            .all(|s| s.method == "PATCH" || is_pod_list(s) || s.method == "POST")
    );
}

#[tokio::test]
async fn drain_times_out_while_pods_are_still_terminating() {
    let (outcome, seen) = run(action(ActionKind::Drain, 800), |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => (
                200,
                pod_list(vec![pod("shop", "slow-1", Some("ReplicaSet"), "Running")]),
            ),
            ("POST", _) => evicted(),
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::TimedOut, "{outcome:?}");
    assert!(outcome.message.contains("still terminating"), "{outcome:?}");
    assert!(outcome.message.contains("shop/slow-1"), "{outcome:?}");
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
    assert!(seen.iter().all(|s| s.method != "DELETE"));
}

#[tokio::test]
async fn drain_treats_404_as_already_gone_and_waits_on_terminating_pods() {
    let mut terminating = pod("shop", "leaving", Some("ReplicaSet"), "Running");
    terminating["metadata"]["deletionTimestamp"] = json!("2026-11-28T10:00:00Z");
    let mut lists = 0;
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), move |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => {
                lists += 1;
                match lists {
                    1 => (
                        200,
                        pod_list(vec![
                            pod("shop", "gone", Some("ReplicaSet"), "Running"),
                            terminating.clone(),
                        ]),
                    ),
                    2 => (200, pod_list(vec![terminating.clone()])),
                    _ => (200, pod_list(vec![])),
                }
            }
            ("POST", _) => not_found("pods", "gone"),
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 1, "a terminating pod is not evicted");
    assert_eq!(posts[0].path, eviction_path("shop", "gone"));
    assert_eq!(seen.iter().filter(|s| is_pod_list(s)).count(), 3);
}

#[tokio::test]
async fn drain_fails_on_a_forbidden_eviction_without_deleting() {
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => (
                200,
                pod_list(vec![pod("shop", "web-1", Some("ReplicaSet"), "Running")]),
            ),
            ("POST", _) => (
                403,
                status(
                    403,
                    "Forbidden",
                    "pods \"web-1\" is forbidden: no eviction rights",
                ),
            ),
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Failed, "{outcome:?}");
    assert!(outcome.message.contains("shop/web-1"), "{outcome:?}");
    assert!(outcome.message.contains("403"), "{outcome:?}");
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.method != "DELETE"));
}

#[tokio::test]
async fn drain_of_a_missing_node_fails_before_listing() {
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), |_, _| {
        not_found("nodes", "n1")
    })
    .await;
    assert_eq!(outcome, Outcome::failed("node n1 not found"));
    assert_eq!(seen.len(), 1);
    assert_cordon(&seen[0]);
}

#[tokio::test]
async fn drain_checks_the_pod_after_a_conflict() {
    let mut lists = 0;
    let mut gets = 0;
    let (outcome, seen) = run(action(ActionKind::Drain, 5_000), move |request, _| {
        match (request.method.as_str(), request.path.as_str()) {
            ("PATCH", _) => (200, node("n1", true, json!([]))),
            ("GET", PODS_ON_N1) => {
                lists += 1;
                if lists == 1 {
                    (
                        200,
                        pod_list(vec![
                            pod("shop", "replaced", Some("StatefulSet"), "Running"),
                            pod("shop", "web-1", Some("ReplicaSet"), "Running"),
                        ]),
                    )
                } else {
                    (200, pod_list(vec![]))
                }
            }
            ("POST", path) if path == eviction_path("shop", "replaced") => (
                409,
                status(409, "Conflict", "Precondition failed: UID in precondition"),
            ),
            ("POST", _) if gets == 0 => {
                (409, status(409, "Conflict", "the object has been modified"))
            }
            ("POST", _) => evicted(),
            ("GET", "/api/v1/namespaces/shop/pods/replaced") => {
                let mut replacement = pod("shop", "replaced", Some("StatefulSet"), "Running");
                replacement["metadata"]["uid"] = json!("another-uid");
                (200, replacement)
            }
            ("GET", "/api/v1/namespaces/shop/pods/web-1") => {
                gets += 1;
                (200, pod("shop", "web-1", Some("ReplicaSet"), "Running"))
            }
            _ => panic!("unexpected request {request:?}"),
        }
    })
    .await;
    assert_eq!(outcome.outcome, ActionOutcome::Succeeded, "{outcome:?}");
    let lines: Vec<_> = seen.iter().map(Seen::line).collect();
    let list = format!("GET {PODS_ON_N1}?{PODS_ON_N1_QUERY}");
    assert_eq!(
        lines,
        [
            "PATCH /api/v1/nodes/n1".to_owned(),
            list.clone(),
            format!("POST {}", eviction_path("shop", "replaced")),
            "GET /api/v1/namespaces/shop/pods/replaced".to_owned(),
            format!("POST {}", eviction_path("shop", "web-1")),
            "GET /api/v1/namespaces/shop/pods/web-1".to_owned(),
            format!("POST {}", eviction_path("shop", "web-1")),
            list,
        ]
    );
    assert!(outcome.message.contains("1 pods evicted"), "{outcome:?}");
}
