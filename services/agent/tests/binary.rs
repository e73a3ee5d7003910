//! The real `spot-agent` binary against a fake Kubernetes API server (HTTP) and a real control
//! plane: it connects, its snapshot shows in ClusterService, a drain reaches it, it cordons the
//! node and evicts the pods through the Eviction API, and the result is recorded. It ranks the
//! ReplicaSet pods for scale-downs.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use spot_proto::agent::v1::ActionKind;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_testkit::{TestServer, authed};
use tokio::net::TcpListener;

#[derive(Default)]
struct State {
    /// Pods still on their nodes, as (namespace, name, node, owner kind).
    pods: Vec<(String, String, String, String)>,
    /// Every mutating request: "METHOD path body".
    writes: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeApiServer(Arc<Mutex<State>>);

fn node(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "resourceVersion": "1", "labels": {
            "node.kubernetes.io/instance-type": "m5.large",
            "topology.kubernetes.io/zone": "us-east-1a",
            "karpenter.sh/capacity-type": "on-demand"}},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{name}")},
        "status": {"allocatable": {"cpu": "1930m", "memory": "7Gi", "pods": "29"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn pod(namespace: &str, name: &str, node: &str, owner: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}"),
                     "resourceVersion": "1",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": "x",
                                          "uid": "owner", "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx",
                 "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]},
        "status": {"phase": "Running"}
    })
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
}

impl FakeApiServer {
    async fn start(self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = self.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        format!("http://{address}")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let body = request.into_body().collect().await.unwrap().to_bytes();
        if query.contains("watch=true") {
            // Nothing changes in this cluster: hold the watch open a while, then end it.
            tokio::time::sleep(Duration::from_secs(5)).await;
            return respond(200, Value::Null);
        }
        if method != hyper::Method::GET {
            self.state().writes.push(format!(
                "{method} {path} {}",
                String::from_utf8_lossy(&body)
            ));
        }
        match (method.as_str(), path.as_str()) {
            ("GET", "/version") => respond(
                200,
                json!({"major": "1", "minor": "32", "gitVersion": "v1.32.1"}),
            ),
            ("GET", "/api/v1/nodes") => {
                respond(200, list("NodeList", vec![node("n1"), node("n2")]))
            }
            ("GET", "/api/v1/pods") => {
                let on_node = query
                    .split('&')
                    .find_map(|p| p.strip_prefix("fieldSelector=spec.nodeName%3D"))
                    .map(str::to_owned);
                let pods = self
                    .state()
                    .pods
                    .iter()
                    .filter(|(_, _, node, _)| on_node.as_ref().is_none_or(|n| n == node))
                    .map(|(ns, name, node, owner)| pod(ns, name, node, owner))
                    .collect();
                respond(200, list("PodList", pods))
            }
            ("GET", "/apis/policy/v1/poddisruptionbudgets") => {
                respond(200, list("PodDisruptionBudgetList", vec![]))
            }
            ("GET", "/api/v1/persistentvolumeclaims") => {
                respond(200, list("PersistentVolumeClaimList", vec![]))
            }
            ("GET", "/api/v1/persistentvolumes") => {
                respond(200, list("PersistentVolumeList", vec![]))
            }
            ("PATCH", pod_path) if pod_path.starts_with("/api/v1/namespaces/") => {
                let name = pod_path.rsplit('/').next().unwrap_or_default();
                respond(200, pod("shop", name, "n1", "ReplicaSet"))
            }
            ("PATCH", node_path) if node_path.starts_with("/api/v1/nodes/") => {
                respond(200, node(node_path.trim_start_matches("/api/v1/nodes/")))
            }
            ("POST", eviction) if eviction.ends_with("/eviction") => {
                let name = eviction
                    .split('/')
                    .nth_back(1)
                    .unwrap_or_default()
                    .to_owned();
                self.state().pods.retain(|(_, pod, _, _)| *pod != name);
                respond(
                    201,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                )
            }
            _ => respond(
                404,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "reason": "NotFound", "code": 404, "message": "not faked"}),
            ),
        }
    }
}

fn respond(status: u16, body: Value) -> Response<Full<Bytes>> {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap()
}

/// Registers the "shop" cluster: its id and agent key.
async fn register(test: &TestServer, owner: &str) -> (String, String) {
    let registered = ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            pb::RegisterClusterRequest {
                name: "shop".into(),
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner();
    (registered.cluster.unwrap().id, registered.agent_key)
}

/// The real agent binary for the cluster, against the fake API server at `kube_url`.
fn spawn_agent(
    test: &TestServer,
    agent_key: &str,
    kube_url: &str,
    env: &[(&str, &str)],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_spot-agent"))
        .env(
            "SPOT_AGENT_CONTROL_PLANE",
            format!("http://{}", test.addr()),
        )
        .env("SPOT_AGENT_API_KEY", agent_key)
        .env("SPOT_AGENT_KUBE_URL", kube_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .spawn()
        .expect("the agent starts")
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_agent_binary_reports_its_cluster_and_drains_a_node() {
    let fake = FakeApiServer::default();
    {
        let mut state = fake.state();
        state.pods = vec![
            (
                "shop".into(),
                "web-1".into(),
                "n1".into(),
                "ReplicaSet".into(),
            ),
            (
                "shop".into(),
                "web-2".into(),
                "n2".into(),
                "ReplicaSet".into(),
            ),
            (
                "kube-system".into(),
                "proxy-n1".into(),
                "n1".into(),
                "DaemonSet".into(),
            ),
        ];
    }
    let kube_url = fake.clone().start().await;
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());
    let (cluster_id, agent_key) = register(&test, &owner).await;
    let mut agent = spawn_agent(
        &test,
        &agent_key,
        &kube_url,
        &[("SPOT_AGENT_POD_DELETION_COST", "false")],
    );

    let nodes = eventually("the agent's snapshot", || {
        let mut clusters = clusters.clone();
        let request = authed(
            pb::ListNodesRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        );
        async move {
            let nodes = clusters.list_nodes(request).await.ok()?.into_inner().nodes;
            (nodes.len() == 2).then_some(nodes)
        }
    })
    .await;
    assert_eq!(nodes[0].instance_id, "i-n1");
    assert_eq!(nodes[0].allocatable.as_ref().unwrap().cpu_millis, 1_930);
    let status = clusters
        .get_agent_status(authed(
            pb::GetAgentStatusRequest {
                cluster_id: cluster_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(status.connected);
    assert_eq!(status.kubernetes_version, "v1.32.1");

    let drain = clusters
        .submit_action(authed(
            pb::SubmitActionRequest {
                cluster_id: cluster_id.clone(),
                kind: ActionKind::Drain.into(),
                node_name: "n1".into(),
                deadline_seconds: 60,
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .action
        .unwrap();
    let id = drain.action.unwrap().id;
    let done = eventually("the drain's result", || {
        let mut clusters = clusters.clone();
        let request = authed(
            pb::ListActionsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &owner,
        );
        let id = id.clone();
        async move {
            let actions = clusters
                .list_actions(request)
                .await
                .ok()?
                .into_inner()
                .actions;
            actions.into_iter().find(|a| {
                a.action.as_ref().is_some_and(|x| x.id == id)
                    && a.status() == pb::ActionStatus::Succeeded
            })
        }
    })
    .await;
    assert_eq!(
        done.status(),
        pb::ActionStatus::Succeeded,
        "{}",
        done.message
    );

    let writes = fake.state().writes.clone();
    assert_eq!(
        writes[0], r#"PATCH /api/v1/nodes/n1 {"spec":{"unschedulable":true}}"#,
        "cordon first: {writes:?}"
    );
    let evictions: Vec<_> = writes.iter().filter(|w| w.contains("/eviction")).collect();
    assert_eq!(
        evictions.len(),
        1,
        "only the ReplicaSet pod, never the DaemonSet's: {writes:?}"
    );
    assert!(
        evictions[0].starts_with("POST /api/v1/namespaces/shop/pods/web-1/eviction"),
        "{writes:?}"
    );
    assert!(
        !writes.iter().any(|w| w.starts_with("DELETE")),
        "never deletes a pod: {writes:?}"
    );

    agent.kill().await.unwrap();
    test.stop().await;
}

#[tokio::test]
async fn the_agent_binary_ranks_replica_set_pods_for_scale_downs() {
    let fake = FakeApiServer::default();
    {
        let mut state = fake.state();
        for (name, node, owner) in [
            ("web-1", "n1", "ReplicaSet"),
            ("proxy-n1", "n1", "DaemonSet"),
            ("web-2", "n2", "ReplicaSet"),
            ("web-3", "n2", "ReplicaSet"),
        ] {
            state
                .pods
                .push(("shop".into(), name.into(), node.into(), owner.into()));
        }
    }
    let kube_url = fake.clone().start().await;
    let test = TestServer::start(&[]).await;
    let owner = test.sign_up("Acme").await.access_token;
    let (_, agent_key) = register(&test, &owner).await;
    let mut agent = spawn_agent(&test, &agent_key, &kube_url, &[]);

    let patches = eventually("the pods' deletion costs", || {
        let fake = fake.clone();
        async move {
            let patches: Vec<String> = fake
                .state()
                .writes
                .iter()
                .filter(|w| w.starts_with("PATCH /api/v1/namespaces/"))
                .cloned()
                .collect();
            (patches.len() >= 3).then_some(patches)
        }
    })
    .await;
    let cost = |pod: &str| {
        patches
            .iter()
            .find(|w| w.starts_with(&format!("PATCH /api/v1/namespaces/shop/pods/{pod} ")))
            .map(|w| {
                let body: Value =
                    serde_json::from_str(w.split_once(' ').unwrap().1.split_once(' ').unwrap().1)
                        .unwrap();
                body["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
    };
    assert_eq!(
        cost("web-1").as_deref(),
        Some("-2"),
        "n1 has fewer pods: {patches:?}"
    );
    assert_eq!(cost("web-2").as_deref(), Some("-1"), "{patches:?}");
    assert_eq!(cost("web-3").as_deref(), Some("-1"), "{patches:?}");
    assert_eq!(
        cost("proxy-n1"),
        None,
        "a DaemonSet's pods are not ranked: {patches:?}"
    );

    agent.kill().await.unwrap();
    test.stop().await;
}
