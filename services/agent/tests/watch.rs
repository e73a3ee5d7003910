//! The cluster view against a mock API server: the LIST and WATCH requests its watchers send,
//! watch events as deltas, and watch resumption.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde_json::{Value, json};
use spot_agent::watch::ClusterView;
use spot_proto::agent::v1::Delta;
use spot_proto::common::v1::PodPhase;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tower_test::mock;

type Chunk = Result<Frame<Bytes>, Infallible>;
type Body = StreamBody<ReceiverStream<Chunk>>;

const WAIT: Duration = Duration::from_secs(10);

/// An open watch: push events with `send`, end it by dropping it.
struct Watch {
    query: String,
    tx: mpsc::Sender<Chunk>,
}

impl Watch {
    async fn send(&self, event: Value) {
        let mut line = serde_json::to_vec(&event).unwrap();
        line.push(b'\n');
        self.tx
            .send(Ok(Frame::data(Bytes::from(line))))
            .await
            .unwrap();
    }
}

/// The fake API server: answers LISTs from per-path queues (an empty list by default) and hands
/// every WATCH to the test.
struct Fake {
    log: Arc<Mutex<Vec<String>>>,
    lists: Arc<Mutex<HashMap<String, VecDeque<Value>>>>,
    watches: mpsc::UnboundedReceiver<(String, Watch)>,
    /// Watches the test is not looking at, kept open.
    parked: Vec<(String, Watch)>,
    _server: tokio::task::JoinHandle<()>,
}

impl Fake {
    fn start() -> (kube::Client, Self) {
        let (service, mut handle) = mock::pair::<Request<kube::client::Body>, Response<Body>>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lists: Arc<Mutex<HashMap<String, VecDeque<Value>>>> = Arc::default();
        let (watch_tx, watches) = mpsc::unbounded_channel();
        let server = {
            let log = log.clone();
            let lists = lists.clone();
            tokio::spawn(async move {
                while let Some((request, send)) = handle.next_request().await {
                    let path = request.uri().path().to_owned();
                    let query = request.uri().query().unwrap_or_default().to_owned();
                    log.lock()
                        .unwrap()
                        .push(format!("{} {path}?{query}", request.method()));
                    let (tx, rx) = mpsc::channel(16);
                    let response = Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(StreamBody::new(ReceiverStream::new(rx)))
                        .unwrap();
                    send.send_response(response);
                    if query.contains("watch=true") {
                        let _ = watch_tx.send((path, Watch { query, tx }));
                    } else {
                        let list = lists
                            .lock()
                            .unwrap()
                            .get_mut(&path)
                            .and_then(VecDeque::pop_front)
                            .unwrap_or_else(|| list(&path, "1", vec![]));
                        let body = Bytes::from(serde_json::to_vec(&list).unwrap());
                        let _ = tx.send(Ok(Frame::data(body))).await;
                    }
                }
            })
        };
        let client = kube::Client::new(service, "default");
        let fake = Self {
            log,
            lists,
            watches,
            parked: Vec::new(),
            _server: server,
        };
        (client, fake)
    }

    fn queue_list(&self, path: &str, list: Value) {
        self.lists
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .push_back(list);
    }

    /// The next WATCH request on `path`.
    async fn watch(&mut self, path: &str) -> Watch {
        if let Some(index) = self.parked.iter().position(|(p, _)| p == path) {
            return self.parked.remove(index).1;
        }
        loop {
            let (watched, watch) = tokio::time::timeout(WAIT, self.watches.recv())
                .await
                .unwrap_or_else(|_| panic!("no WATCH of {path}; requests: {:#?}", self.log()))
                .unwrap();
            if watched == path {
                return watch;
            }
            self.parked.push((watched, watch));
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn requests_to(&self, path: &str) -> Vec<String> {
        let prefix = format!("GET {path}?");
        self.log()
            .into_iter()
            .filter(|line| line.starts_with(&prefix))
            .collect()
    }
}

fn list(path: &str, resource_version: &str, items: Vec<Value>) -> Value {
    let kind = match path {
        "/api/v1/nodes" => "NodeList",
        "/api/v1/pods" => "PodList",
        "/api/v1/persistentvolumeclaims" => "PersistentVolumeClaimList",
        "/api/v1/persistentvolumes" => "PersistentVolumeList",
        _ => "PodDisruptionBudgetList",
    };
    let api_version = if kind == "PodDisruptionBudgetList" {
        "policy/v1"
    } else {
        "v1"
    };
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": { "resourceVersion": resource_version },
        "items": items,
    })
}

fn node(name: &str, resource_version: &str, unschedulable: bool) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "resourceVersion": resource_version,
            "labels": { "node.kubernetes.io/instance-type": "m5.large" },
            "annotations": { "node.alpha.kubernetes.io/ttl": "0" },
            "managedFields": [{ "manager": "kubelet", "operation": "Update" }],
        },
        "spec": { "providerID": format!("aws:///us-east-1a/i-{name}"), "unschedulable": unschedulable },
        "status": {
            "allocatable": { "cpu": "2", "memory": "4Gi", "pods": "29" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        },
    })
}

fn pod(name: &str, resource_version: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": "shop",
            "name": name,
            "uid": format!("uid-{name}"),
            "resourceVersion": resource_version,
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{ "name": "app", "image": "nginx", "resources": { "requests": { "cpu": "100m" } } }],
        },
        "status": { "phase": "Running", "podIP": "10.0.0.1" },
    })
}

fn pdb(name: &str) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": { "namespace": "shop", "name": name, "resourceVersion": "30" },
        "spec": { "selector": { "matchLabels": { "app": "web" } } },
        "status": { "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3 },
    })
}

fn event(kind: &str, object: Value) -> Value {
    json!({ "type": kind, "object": object })
}

async fn next_delta(deltas: &mut broadcast::Receiver<Delta>) -> Delta {
    tokio::time::timeout(WAIT, deltas.recv())
        .await
        .expect("no delta")
        .expect("delta channel")
}

/// Starts a view on one node, one pod and one PDB, and waits until it is ready.
async fn started() -> (ClusterView, Fake, CancellationToken) {
    let (client, fake) = Fake::start();
    fake.queue_list(
        "/api/v1/nodes",
        list("/api/v1/nodes", "11", vec![node("n1", "10", false)]),
    );
    fake.queue_list(
        "/api/v1/pods",
        list("/api/v1/pods", "20", vec![pod("a", "19")]),
    );
    fake.queue_list(
        "/apis/policy/v1/poddisruptionbudgets",
        list(
            "/apis/policy/v1/poddisruptionbudgets",
            "31",
            vec![pdb("web")],
        ),
    );
    let shutdown = CancellationToken::new();
    let view = ClusterView::start(client, shutdown.clone());
    tokio::time::timeout(WAIT, view.ready())
        .await
        .expect("the view never became ready");
    (view, fake, shutdown)
}

#[tokio::test]
async fn lists_then_watches_from_the_list_resource_version() {
    let (view, mut fake, shutdown) = started().await;

    let snapshot = view.snapshot();
    assert_eq!(snapshot.nodes.len(), 1);
    assert_eq!(snapshot.nodes[0].name, "n1");
    assert_eq!(snapshot.nodes[0].instance_id, "i-n1");
    assert_eq!(snapshot.nodes[0].instance_type, "m5.large");
    assert!(snapshot.nodes[0].ready);
    assert_eq!(snapshot.pods.len(), 1);
    assert_eq!(snapshot.pods[0].name, "a");
    assert_eq!(snapshot.pods[0].phase(), PodPhase::Running);
    assert_eq!(snapshot.pods[0].requests.unwrap().cpu_millis, 100);
    assert_eq!(snapshot.pdbs.len(), 1);
    assert_eq!(snapshot.pdbs[0].disruptions_allowed, 1);

    // The stored objects are trimmed.
    let stored = view.nodes().state();
    assert_eq!(stored[0].metadata.managed_fields, None);
    assert_eq!(stored[0].metadata.annotations, None);
    let stored = view.pods().state();
    assert_eq!(stored[0].spec.as_ref().unwrap().containers[0].image, None);
    assert_eq!(stored[0].status.as_ref().unwrap().pod_ip, None);

    let nodes = fake.watch("/api/v1/nodes").await;
    let pods = fake.watch("/api/v1/pods").await;
    let pdbs = fake.watch("/apis/policy/v1/poddisruptionbudgets").await;
    assert_eq!(
        fake.requests_to("/api/v1/nodes"),
        [
            "GET /api/v1/nodes?&limit=500",
            "GET /api/v1/nodes?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=11",
        ]
    );
    assert_eq!(
        fake.requests_to("/api/v1/pods"),
        [
            "GET /api/v1/pods?&fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&limit=500",
            "GET /api/v1/pods?&watch=true&timeoutSeconds=290&fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&allowWatchBookmarks=true&resourceVersion=20",
        ]
    );
    assert_eq!(
        fake.requests_to("/apis/policy/v1/poddisruptionbudgets"),
        [
            "GET /apis/policy/v1/poddisruptionbudgets?&limit=500",
            "GET /apis/policy/v1/poddisruptionbudgets?&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=31",
        ]
    );
    assert!(nodes.query.ends_with("resourceVersion=11"));
    assert!(pods.query.ends_with("resourceVersion=20"));
    assert!(pdbs.query.ends_with("resourceVersion=31"));
    shutdown.cancel();
}

#[tokio::test]
async fn watch_events_become_deltas() {
    let (view, mut fake, shutdown) = started().await;
    let mut deltas = view.subscribe();
    let nodes = fake.watch("/api/v1/nodes").await;
    let pods = fake.watch("/api/v1/pods").await;

    pods.send(event("ADDED", pod("b", "21"))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(delta.upserted_pods.len(), 1);
    assert_eq!(delta.upserted_pods[0].name, "b");
    assert_eq!(delta.upserted_pods[0].namespace, "shop");
    assert!(delta.removed_pods.is_empty() && delta.upserted_nodes.is_empty());

    nodes.send(event("MODIFIED", node("n1", "12", true))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(delta.upserted_nodes.len(), 1);
    assert!(delta.upserted_nodes[0].cordoned);
    assert!(delta.upserted_pods.is_empty());

    pods.send(event("DELETED", pod("a", "22"))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(
        delta,
        Delta {
            removed_pods: vec!["shop/a".into()],
            ..Delta::default()
        }
    );

    nodes.send(event("DELETED", node("n1", "13", true))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(
        delta,
        Delta {
            removed_nodes: vec!["n1".into()],
            ..Delta::default()
        }
    );

    // PodDisruptionBudgets travel in deltas too.
    let pdbs = fake.watch("/apis/policy/v1/poddisruptionbudgets").await;
    pdbs.send(event("MODIFIED", pdb("web-pdb"))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(delta.upserted_pdbs.len(), 1);
    assert_eq!(delta.upserted_pdbs[0].disruptions_allowed, 1);
    pdbs.send(event("DELETED", pdb("web-pdb"))).await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(
        delta,
        Delta {
            removed_pdbs: vec!["shop/web-pdb".into()],
            ..Delta::default()
        }
    );

    // Bookmarks change nothing.
    pods.send(event(
        "BOOKMARK",
        json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "resourceVersion": "40" } }),
    ))
    .await;

    let snapshot = view.snapshot();
    assert!(snapshot.nodes.is_empty());
    let names: Vec<_> = snapshot.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["b"]);
    assert!(matches!(
        deltas.try_recv(),
        Err(broadcast::error::TryRecvError::Empty)
    ));
    shutdown.cancel();
}

#[tokio::test]
async fn what_keeps_a_pod_in_place_survives_the_watchers_trimming() {
    let (view, mut fake, shutdown) = started().await;
    let mut deltas = view.subscribe();
    let pods = fake.watch("/api/v1/pods").await;
    let mut ingress = pod("ingress", "21");
    ingress["metadata"]["annotations"] = json!({
        "karpenter.sh/do-not-disrupt": "true",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    });
    ingress["spec"]["containers"][0]["ports"] = json!([
        { "containerPort": 8080 },
        { "containerPort": 80, "hostPort": 80 },
    ]);
    ingress["spec"]["volumes"] = json!([
        { "name": "cache", "emptyDir": {} },
        { "name": "settings", "configMap": { "name": "settings" } },
    ]);
    pods.send(event("ADDED", ingress)).await;
    let delta = next_delta(&mut deltas).await;
    let reported = &delta.upserted_pods[0];
    assert!(reported.do_not_disrupt, "{reported:?}");
    assert!(reported.local_data, "{reported:?}");
    let ports: Vec<(&str, i32)> = reported
        .host_ports
        .iter()
        .map(|p| (p.protocol.as_str(), p.port))
        .collect();
    assert_eq!(ports, [("TCP", 80)]);
    let stored = view.snapshot();
    let stored = stored.pods.iter().find(|p| p.name == "ingress").unwrap();
    assert_eq!(stored, reported);
    shutdown.cancel();
}

fn claim(name: &str, volume: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": { "namespace": "shop", "name": name, "resourceVersion": "50" },
        "spec": { "volumeName": volume, "storageClassName": "gp3" },
        "status": { "phase": "Bound" },
    })
}

/// An EBS CSI volume in `zone`, as the driver creates it.
fn ebs_volume(name: &str, zone: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": { "name": name, "resourceVersion": "60" },
        "spec": {
            "capacity": { "storage": "10Gi" },
            "csi": { "driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc" },
            "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                { "key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": [zone] },
            ]}]}},
        },
    })
}

fn using_claim(name: &str, resource_version: &str, claim: &str) -> Value {
    let mut pod = pod(name, resource_version);
    pod["spec"]["volumes"] = json!([
        { "name": "data", "persistentVolumeClaim": { "claimName": claim } },
        { "name": "settings", "configMap": { "name": "settings" } },
    ]);
    pod
}

#[tokio::test]
async fn pods_with_zonal_volumes_are_reported_with_their_zones() {
    let (client, mut fake) = Fake::start();
    fake.queue_list(
        "/api/v1/pods",
        list(
            "/api/v1/pods",
            "20",
            vec![using_claim("db-0", "19", "data-db-0"), pod("web", "18")],
        ),
    );
    fake.queue_list(
        "/api/v1/persistentvolumeclaims",
        list(
            "/api/v1/persistentvolumeclaims",
            "51",
            vec![claim("data-db-0", "pv-a"), claim("data-db-1", "pv-b")],
        ),
    );
    fake.queue_list(
        "/api/v1/persistentvolumes",
        list(
            "/api/v1/persistentvolumes",
            "61",
            vec![
                ebs_volume("pv-a", "us-east-1a"),
                ebs_volume("pv-b", "us-east-1b"),
            ],
        ),
    );
    let shutdown = CancellationToken::new();
    let view = ClusterView::start(client, shutdown.clone());
    tokio::time::timeout(WAIT, view.ready())
        .await
        .expect("the view never became ready");
    let snapshot = view.snapshot();
    let zones: Vec<(&str, &[String])> = snapshot
        .pods
        .iter()
        .map(|p| (p.name.as_str(), p.volume_zones.as_slice()))
        .collect();
    assert_eq!(
        zones,
        [("db-0", &["us-east-1a".to_owned()][..]), ("web", &[][..])]
    );

    // A pod that arrives later is reported with its volume's zone too.
    let mut deltas = view.subscribe();
    let pods = fake.watch("/api/v1/pods").await;
    pods.send(event("ADDED", using_claim("db-1", "21", "data-db-1")))
        .await;
    let delta = next_delta(&mut deltas).await;
    assert_eq!(delta.upserted_pods[0].volume_zones, ["us-east-1b"]);
    shutdown.cancel();
}

#[tokio::test]
async fn a_watch_that_ends_resumes_from_the_last_resource_version() {
    let (view, mut fake, shutdown) = started().await;
    let mut deltas = view.subscribe();

    let pods = fake.watch("/api/v1/pods").await;
    pods.send(event("ADDED", pod("b", "25"))).await;
    next_delta(&mut deltas).await;
    drop(pods);
    let pods = fake.watch("/api/v1/pods").await;
    assert!(
        pods.query.ends_with("&resourceVersion=25"),
        "{}",
        pods.query
    );

    // A bookmark moves the resource version on too.
    pods.send(event(
        "BOOKMARK",
        json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "resourceVersion": "33" } }),
    ))
    .await;
    drop(pods);
    let pods = fake.watch("/api/v1/pods").await;
    assert!(
        pods.query.ends_with("&resourceVersion=33"),
        "{}",
        pods.query
    );

    // No re-list happened.
    let lists: Vec<_> = fake
        .requests_to("/api/v1/pods")
        .into_iter()
        .filter(|line| !line.contains("watch=true"))
        .collect();
    assert_eq!(lists.len(), 1, "{lists:#?}");
    drop(pods);
    shutdown.cancel();
}

#[tokio::test]
async fn gone_relists_and_reports_what_changed() {
    let (view, mut fake, shutdown) = started().await;
    let mut deltas = view.subscribe();

    // While the watch was away, pod a went and pod c came.
    fake.queue_list(
        "/api/v1/pods",
        list("/api/v1/pods", "50", vec![pod("c", "48")]),
    );
    let pods = fake.watch("/api/v1/pods").await;
    pods.send(event(
        "ERROR",
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "too old resource version: 20 (45)",
            "reason": "Expired",
            "code": 410,
        }),
    ))
    .await;

    let delta = next_delta(&mut deltas).await;
    assert_eq!(delta.removed_pods, ["shop/a"]);
    let upserted: Vec<_> = delta
        .upserted_pods
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(upserted, ["c"]);

    let pods = fake.watch("/api/v1/pods").await;
    assert!(
        pods.query.ends_with("&resourceVersion=50"),
        "{}",
        pods.query
    );
    let requests = fake.requests_to("/api/v1/pods");
    assert_eq!(requests.len(), 4, "{requests:#?}");
    assert!(
        requests[2].ends_with("&limit=500"),
        "a fresh LIST: {requests:#?}"
    );
    assert!(!requests[2].contains("watch=true"));

    let names: Vec<_> = view
        .snapshot()
        .pods
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(names, ["c"]);
    drop(pods);
    shutdown.cancel();
}

#[tokio::test]
async fn shutdown_stops_the_watchers() {
    let (view, mut fake, shutdown) = started().await;
    let _pods = fake.watch("/api/v1/pods").await;
    shutdown.cancel();
    // The reflector writers are dropped with their tasks; the stores keep their last state.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(view.snapshot().pods.len(), 1);
    view.ready().await;
}
