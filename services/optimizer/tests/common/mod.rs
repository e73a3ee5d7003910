//! Fixtures for the optimizer's end-to-end tests: a registered cluster, an agent (the spot-agent
//! crate's session) with a fake cluster and an executor that records what it runs, and the
//! execution router as an internal caller.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_agent::executor::{Executor, Outcome};
use spot_agent::session::{Agent, AgentSettings, ClusterSource};
use spot_proto::agent::v1::{Action, ActionKind, Delta, InterruptionNotice, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::cluster::v1::execution_service_client::ExecutionServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Pool, Resources};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::policy::v1 as policy;
use spot_proto::policy::v1::policy_service_client::PolicyServiceClient;
use spot_proto::risk::v1 as risk;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";

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

impl Cluster {
    /// Nodes join (or change): the snapshot has them, the agent hears of them, and pending pods
    /// are scheduled, as kube-scheduler would once a node is Ready.
    pub fn upsert_nodes(&self, nodes: Vec<Node>) {
        let mut delta = Delta::default();
        {
            let mut snapshot = self.snapshot.lock().unwrap();
            for node in nodes {
                snapshot.nodes.retain(|n| n.name != node.name);
                snapshot.nodes.push(node.clone());
                delta.upserted_nodes.push(node);
            }
            schedule(&mut snapshot, &mut delta);
        }
        let _ = self.deltas.send(delta);
    }

    /// Instances are gone: their nodes leave the cluster (as the cloud controller deletes the
    /// Node of a terminated instance), and pods still on them wait for the scheduler.
    pub fn remove_instances(&self, instance_ids: &[&str]) {
        let mut delta = Delta::default();
        {
            let mut snapshot = self.snapshot.lock().unwrap();
            let gone: Vec<String> = snapshot
                .nodes
                .iter()
                .filter(|n| instance_ids.contains(&n.instance_id.as_str()))
                .map(|n| n.name.clone())
                .collect();
            snapshot.nodes.retain(|n| !gone.contains(&n.name));
            for pod in snapshot
                .pods
                .iter_mut()
                .filter(|p| gone.contains(&p.node_name))
            {
                pod.node_name.clear();
                pod.phase = PodPhase::Pending.into();
                delta.upserted_pods.push(pod.clone());
            }
            delta.removed_nodes = gone;
            schedule(&mut snapshot, &mut delta);
        }
        let _ = self.deltas.send(delta);
    }

    /// The pods no node runs.
    pub fn pending_pods(&self) -> Vec<String> {
        self.snapshot
            .lock()
            .unwrap()
            .pods
            .iter()
            .filter(|p| p.node_name.is_empty())
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    }

    /// An agent action as the Kubernetes API (and then kube-scheduler) would carry it out.
    fn apply(&self, action: &Action) {
        let mut delta = Delta::default();
        {
            let mut snapshot = self.snapshot.lock().unwrap();
            let node = action.node_name.as_str();
            let Some(found) = snapshot.nodes.iter_mut().find(|n| n.name == node) else {
                return;
            };
            match action.kind() {
                ActionKind::Cordon => found.cordoned = true,
                ActionKind::Uncordon => found.cordoned = false,
                ActionKind::Drain => found.cordoned = true,
                ActionKind::Label => found.labels.extend(action.labels.clone()),
                ActionKind::Taint => {
                    found.taints.retain(|t| {
                        !action.remove_taint_keys.contains(&t.key)
                            && !action.taints.iter().any(|new| new.key == t.key)
                    });
                    found.taints.extend(action.taints.iter().cloned());
                }
                ActionKind::DeleteNode | ActionKind::Unspecified => {}
            }
            delta.upserted_nodes.push(found.clone());
            if matches!(action.kind(), ActionKind::Drain | ActionKind::DeleteNode) {
                for pod in snapshot.pods.iter_mut().filter(|p| p.node_name == node) {
                    pod.node_name.clear();
                    pod.phase = PodPhase::Pending.into();
                    delta.upserted_pods.push(pod.clone());
                }
            }
            if action.kind() == ActionKind::DeleteNode {
                snapshot.nodes.retain(|n| n.name != node);
                delta.removed_nodes.push(node.to_owned());
            }
            schedule(&mut snapshot, &mut delta);
        }
        let _ = self.deltas.send(delta);
    }
}

/// kube-scheduler's stand-in (the same one the demo's clusters use) binds what it can.
fn schedule(snapshot: &mut Snapshot, delta: &mut Delta) {
    for (index, node) in spot_kit::kube_terms::bind_pending(&snapshot.nodes, &snapshot.pods) {
        let pod = &mut snapshot.pods[index];
        pod.node_name = node;
        pod.phase = PodPhase::Running.into();
        delta.upserted_pods.push(pod.clone());
    }
}

/// Records every action, like [`Recorder`], and carries it out on the cluster as Kubernetes
/// would: drained pods go back to pending and kube-scheduler's stand-in binds them.
pub struct Kubernetes {
    pub cluster: Arc<Cluster>,
    pub ran: Recorder,
}

impl Kubernetes {
    pub fn new(cluster: Arc<Cluster>) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            ran: Recorder::default(),
        })
    }
}

#[async_trait::async_trait]
impl Executor for Kubernetes {
    async fn execute(&self, action: Action) -> Outcome {
        self.cluster.apply(&action);
        self.ran.execute(action).await
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
        instance_type: "m5.xlarge".to_owned(),
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

pub fn pod(name: &str, node: &str) -> Pod {
    Pod {
        namespace: "shop".to_owned(),
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
                region: "us-east-1".into(),
                aws_account_id: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Saves the tenant's default policy after `change`.
pub async fn change_default_policy(
    test: &TestServer,
    token: &str,
    change: impl FnOnce(&mut policy::Policy),
) {
    let mut policies = PolicyServiceClient::new(test.channel.clone());
    let mut default = policies
        .get_policy(authed(policy::GetPolicyRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    change(&mut default);
    policies
        .update_policy(authed(
            policy::UpdatePolicyRequest {
                policy: Some(default),
            },
            token,
        ))
        .await
        .unwrap();
}

/// The user applies plans: the autopilot must not run its own beside them.
pub async fn consolidation_off(test: &TestServer, token: &str) {
    change_default_policy(test, token, |p| {
        p.consolidation = policy::ConsolidationMode::Off.into();
    })
    .await;
}

/// The cluster's recommendation, as `Recommend` answers it.
pub async fn recommend(test: &TestServer, token: &str, cluster_id: &str) -> pb::Plan {
    OptimizerServiceClient::new(test.channel.clone())
        .recommend(authed(
            pb::RecommendRequest {
                cluster_id: cluster_id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
}

/// The nodes a plan drains, sorted.
pub fn drained(plan: &pb::Plan) -> Vec<&str> {
    let mut nodes: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Drain)
        .map(|s| s.node_name.as_str())
        .collect();
    nodes.sort_unstable();
    nodes
}

/// Starts an agent for the cluster; the sender delivers interruption notices as its IMDS watcher
/// would, the token stops it.
pub fn start_agent(
    test: &TestServer,
    key: &str,
    executor: Arc<dyn Executor>,
    source: Arc<Cluster>,
) -> (mpsc::Sender<InterruptionNotice>, CancellationToken) {
    let mut settings = AgentSettings::new(&format!("http://{}", test.addr()), key);
    settings.max_backoff = Duration::from_millis(300);
    let stop = CancellationToken::new();
    let (notices, interruptions) = mpsc::channel(4);
    tokio::spawn(Agent::new(settings, executor, source).run(interruptions, stop.clone()));
    (notices, stop)
}

/// Waits until the cluster service lists `count` nodes of the cluster: the agent's snapshot
/// arrived.
pub async fn wait_for_nodes(test: &TestServer, token: &str, cluster_id: &str, count: usize) {
    test.wait_for_node_count(
        token,
        cluster_id,
        |n| n >= count,
        &format!("at least {count}"),
    )
    .await;
}

pub type Router = ExecutionServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, OutgoingInterceptor>,
>;

/// The execution router as an internal service calls it (the server runs with [`SECRET`]).
pub fn router(test: &TestServer) -> Router {
    let credential = InternalCredential::new(SECRET.as_bytes(), "optimizer").unwrap();
    ExecutionServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    )
}

/// What the cluster service tells an internal service about its fleet.
pub fn fleet(
    test: &TestServer,
) -> spot_proto::cluster::v1::fleet_service_client::FleetServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, OutgoingInterceptor>,
> {
    let credential = InternalCredential::new(SECRET.as_bytes(), "optimizer").unwrap();
    spot_proto::cluster::v1::fleet_service_client::FleetServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    )
}

/// Launches one m5.xlarge in the simulated cloud; its instance id.
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
                        region: "us-east-1".into(),
                        zone: zone.into(),
                        instance_type: "m5.xlarge".into(),
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

/// The event AWS's EventBridge sends two minutes before it reclaims a spot instance in us-east-1a.
pub fn event_bridge_warning(id: &str, instance: &str) -> String {
    serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1a:instance/{instance}")],
        "detail": {"instance-id": instance, "instance-action": "terminate"}
    })
    .to_string()
}

/// Forwards an EventBridge event as a tenant's relay does; whether it was accepted.
pub async fn ingest_event_bridge(
    test: &TestServer,
    token: &str,
    json: String,
) -> Result<bool, tonic::Status> {
    RiskServiceClient::new(test.channel.clone())
        .ingest_event_bridge_event(authed(
            risk::IngestEventBridgeEventRequest { event_json: json },
            token,
        ))
        .await
        .map(|r| r.into_inner().accepted)
}

/// The hive mind's flags in us-east-1, as a tenant sees them.
pub async fn risk_flags(test: &TestServer, token: &str) -> Vec<risk::RiskFlag> {
    RiskServiceClient::new(test.channel.clone())
        .list_risk_flags(authed(
            risk::ListRiskFlagsRequest {
                region: "us-east-1".into(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .flags
}

/// The instance ids of a cluster event reporting a launch ("launched 2 of 2 instances: i-1, i-2").
pub fn launched_ids(message: &str) -> Option<Vec<String>> {
    let (_, ids) = message.strip_prefix("launched ")?.split_once(": ")?;
    // "launched 1 of 1 instances: i-1 (short: us-east-1a/m5.large: ...)" names the dry pools.
    let ids = ids.split(" (short: ").next().unwrap_or_default();
    Some(ids.split(", ").map(str::to_owned).collect())
}

/// Adds each instance the cluster service reports launching as a ready m5.xlarge-sized spot node
/// named `{prefix}-{n}` in `zone`, as a real cluster's nodes would join (it watches the cluster's
/// events as `token`'s user).
pub async fn join_launched_nodes(
    test: &TestServer,
    token: &str,
    cluster_id: &str,
    source: Arc<Cluster>,
    prefix: &'static str,
    zone: &'static str,
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
    tokio::spawn(async move {
        let mut joined = 0;
        while let Some(Ok(event)) = events.next().await {
            let Some(ids) = launched_ids(&event.event.unwrap().message) else {
                continue;
            };
            let nodes = ids
                .iter()
                .map(|id| {
                    joined += 1;
                    node(&format!("{prefix}-{joined}"), zone, id, CapacityType::Spot)
                })
                .collect();
            source.upsert_nodes(nodes);
        }
    })
}
