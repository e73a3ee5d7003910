//! Fixtures for hibernation's end-to-end tests: a registered cluster, an agent (the spot-agent
//! crate's session) with a fake cluster and an executor that records what it runs, the execution
//! router as an internal caller, and a watcher that makes the fake cluster follow the cloud
//! (launched instances join as nodes, terminated ones leave), as a real cluster would.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_agent::executor::{Executor, Outcome};
use spot_agent::session::{Agent, AgentSettings, ClusterSource};
use spot_cloud::CloudProvider;
use spot_proto::agent::v1::{Action, Delta, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Pool, Resources};
use spot_testkit::{TestServer, authed};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";
pub const REGION: &str = "us-east-1";
pub const TYPE: &str = "m5.xlarge";
pub use spot_cloud::CLUSTER_ID_TAG;

/// The cluster as the agent sees it: a snapshot, and deltas the test pushes.
pub struct Cluster {
    pub snapshot: Mutex<Snapshot>,
    pub deltas: broadcast::Sender<Delta>,
}

impl Cluster {
    pub fn new(snapshot: Snapshot) -> Arc<Self> {
        Arc::new(Self {
            snapshot: Mutex::new(snapshot),
            deltas: broadcast::channel(64).0,
        })
    }
}

impl ClusterSource for Cluster {
    fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().unwrap().clone()
    }
    fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }
}

/// Runs every action at once, successfully, and remembers it.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Action>>);

#[async_trait::async_trait]
impl Executor for Recorder {
    async fn execute(&self, action: Action) -> Outcome {
        self.0.lock().unwrap().push(action);
        Outcome::succeeded("done")
    }
}

pub fn node(name: &str, zone: &str, instance_id: &str, capacity_type: CapacityType) -> Node {
    Node {
        name: name.to_owned(),
        instance_id: instance_id.to_owned(),
        instance_type: TYPE.to_owned(),
        zone: zone.to_owned(),
        capacity_type: capacity_type.into(),
        allocatable: Some(Resources {
            cpu_millis: 3_920,
            memory_mib: 14_000,
            pods: 58,
            gpus: 0,
            ..Default::default()
        }),
        ready: true,
        ..Default::default()
    }
}

pub fn pod(namespace: &str, name: &str, node: &str) -> Pod {
    Pod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        requests: Some(Resources {
            cpu_millis: 500,
            memory_mib: 1_024,
            pods: 1,
            gpus: 0,
            ..Default::default()
        }),
        owner_kind: "ReplicaSet".to_owned(),
        node_name: node.to_owned(),
        phase: PodPhase::Running.into(),
        ..Default::default()
    }
}

pub async fn register(test: &TestServer, token: &str) -> cluster::RegisterClusterResponse {
    ClusterServiceClient::new(test.channel.clone())
        .register_cluster(authed(
            cluster::RegisterClusterRequest {
                name: "shop".into(),
                region: REGION.into(),
                aws_account_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Starts an agent for the cluster; the token stops it.
pub fn start_agent(
    test: &TestServer,
    key: &str,
    executor: Arc<dyn Executor>,
    source: Arc<Cluster>,
) -> CancellationToken {
    let mut settings = AgentSettings::new(&format!("http://{}", test.addr()), key);
    settings.max_backoff = Duration::from_millis(300);
    let stop = CancellationToken::new();
    let (_notices, interruptions) = tokio::sync::mpsc::channel(4);
    tokio::spawn(Agent::new(settings, executor, source).run(interruptions, stop.clone()));
    stop
}

pub type Router = ExecutionServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, OutgoingInterceptor>,
>;

/// The execution router as an internal service calls it (the server runs with [`SECRET`]).
pub fn router(test: &TestServer) -> Router {
    let credential = InternalCredential::new(SECRET.as_bytes(), "policy").unwrap();
    ExecutionServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    )
}

/// Launches one instance in the simulated cloud; its instance id.
pub async fn launch(
    router: &mut Router,
    cluster_id: &str,
    zone: &str,
    capacity_type: CapacityType,
) -> String {
    router
        .execute_step(cluster::ExecuteStepRequest {
            cluster_id: cluster_id.to_owned(),
            plan_id: String::new(),
            step: Some(cluster::execute_step_request::Step::Launch(
                cluster::LaunchCapacity {
                    pools: vec![Pool {
                        region: REGION.into(),
                        zone: zone.into(),
                        instance_type: TYPE.into(),
                    }],
                    capacity_type: capacity_type.into(),
                    count: 1,
                    ..Default::default()
                },
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .instance_ids
        .remove(0)
}

/// The cluster's running instances in the simulated cloud, counted by (zone, type, capacity type).
pub async fn capacity(
    test: &TestServer,
    cluster_id: &str,
) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for instance in test
        .cloud
        .instances_tagged(REGION, CLUSTER_ID_TAG)
        .await
        .unwrap()
    {
        if instance.tags.get(CLUSTER_ID_TAG).map(String::as_str) != Some(cluster_id) {
            continue;
        }
        let key = (
            instance.pool.zone.clone(),
            instance.pool.instance_type.clone(),
            format!("{:?}", instance.capacity_type),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Waits until the cluster service lists `count` nodes for the cluster.
pub async fn wait_for_nodes(test: &TestServer, token: &str, cluster_id: &str, count: usize) {
    test.wait_for_node_count(token, cluster_id, |n| n == count, &count.to_string())
        .await;
}

/// Makes the fake cluster follow the cloud: instances the cluster service reports launching join
/// as ready nodes of their pool and capacity type; terminated ones leave. `names` maps the
/// instance ids already in the cluster to their node names.
pub async fn follow_the_cloud(
    test: &TestServer,
    token: &str,
    cluster_id: &str,
    source: Arc<Cluster>,
    names: HashMap<String, String>,
) -> tokio::task::JoinHandle<()> {
    let mut events = ClusterServiceClient::new(test.channel.clone())
        .watch_cluster(authed(
            cluster::WatchClusterRequest {
                cluster_id: cluster_id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let cloud = test.cloud.clone();
    tokio::spawn(async move {
        let mut names = names;
        while let Some(Ok(event)) = events.next().await {
            let Some(message) = event.event.map(|e| e.message) else {
                continue;
            };
            if let Some((_, ids)) = message
                .strip_prefix("launched ")
                .and_then(|m| m.split_once(": "))
            {
                let instances = cloud
                    .instances_tagged(REGION, CLUSTER_ID_TAG)
                    .await
                    .unwrap();
                // "launched 2 of 2 instances: i-1, i-2 (short: us-east-1a/m5.xlarge: ...)".
                let ids = ids.split(" (short: ").next().unwrap_or_default();
                let mut nodes = Vec::new();
                for id in ids.split(", ") {
                    let Some(instance) = instances.iter().find(|i| i.id == id) else {
                        continue;
                    };
                    let capacity_type = match instance.capacity_type {
                        spot_cloud::CapacityType::Spot => CapacityType::Spot,
                        spot_cloud::CapacityType::OnDemand => CapacityType::OnDemand,
                    };
                    let name = format!("node-{id}");
                    names.insert(id.to_owned(), name.clone());
                    nodes.push(node(&name, &instance.pool.zone, id, capacity_type));
                }
                let _ = source.deltas.send(Delta {
                    upserted_nodes: nodes,
                    ..Default::default()
                });
            } else if let Some(ids) = message.strip_prefix("terminated ") {
                let removed = ids
                    .split(", ")
                    .filter_map(|id| names.get(id).cloned())
                    .collect();
                let _ = source.deltas.send(Delta {
                    removed_nodes: removed,
                    ..Default::default()
                });
            }
        }
    })
}

/// A registered cluster whose nodes really run in the simulated cloud, reported by an agent that
/// runs every action with its executor, and a fake cluster that follows the cloud.
pub struct RunningCluster {
    pub cluster_id: String,
    pub source: Arc<Cluster>,
    /// Stops the agent.
    pub stop: CancellationToken,
    /// Makes launched instances join and terminated ones leave; abort it to stop that.
    pub follower: tokio::task::JoinHandle<()>,
}

/// Launches one instance per `(node name, zone, capacity type)`, reports them with `pods`, and
/// waits until the cluster service lists every node.
pub async fn running_cluster(
    test: &TestServer,
    token: &str,
    layout: &[(&str, &str, CapacityType)],
    pods: Vec<Pod>,
    executor: Arc<dyn Executor>,
) -> RunningCluster {
    let registered = register(test, token).await;
    let cluster_id = registered.cluster.unwrap().id;
    let mut router = router(test);
    let mut nodes = Vec::new();
    let mut names = HashMap::new();
    for (name, zone, capacity_type) in layout {
        let id = launch(&mut router, &cluster_id, zone, *capacity_type).await;
        names.insert(id.clone(), (*name).to_owned());
        nodes.push(node(name, zone, &id, *capacity_type));
    }
    let source = Cluster::new(Snapshot {
        nodes,
        pods,
        pdbs: vec![],
    });
    let stop = start_agent(test, &registered.agent_key, executor, source.clone());
    wait_for_nodes(test, token, &cluster_id, layout.len()).await;
    let follower = follow_the_cloud(test, token, &cluster_id, source.clone(), names).await;
    RunningCluster {
        cluster_id,
        source,
        stop,
        follower,
    }
}
