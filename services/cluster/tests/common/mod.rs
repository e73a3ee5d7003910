//! Fixtures for the agent tests: a registered cluster, a fake executor that records what it runs
//! (and can hold a drain half-way), a fake cluster source, and polling helpers.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use spot_agent::executor::{Executor, Outcome};
use spot_agent::session::{Agent, AgentSettings, ClusterSource};
use spot_proto::agent::v1::{Action, Delta, Snapshot};
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Resources};
use spot_testkit::authed;
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub struct Registered {
    pub cluster: pb::Cluster,
    pub agent_key: String,
}

pub async fn register(channel: &Channel, token: &str, name: &str) -> Registered {
    let response = ClusterServiceClient::new(channel.clone())
        .register_cluster(authed(
            pb::RegisterClusterRequest {
                name: name.to_owned(),
                region: "us-east-1".to_owned(),
                aws_account_id: String::new(),
            },
            token,
        ))
        .await
        .expect("registers")
        .into_inner();
    Registered {
        cluster: response.cluster.expect("cluster"),
        agent_key: response.agent_key,
    }
}

pub fn node(name: &str, instance_type: &str) -> Node {
    Node {
        name: name.to_owned(),
        instance_id: format!("i-{name}"),
        instance_type: instance_type.to_owned(),
        zone: "us-east-1a".to_owned(),
        capacity_type: CapacityType::OnDemand.into(),
        allocatable: Some(Resources {
            cpu_millis: 1_900,
            memory_mib: 7_000,
            pods: 29,
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
            cpu_millis: 250,
            memory_mib: 512,
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

/// A fixed cluster: two nodes, three pods; deltas are pushed by the test.
pub struct FakeSource {
    pub snapshot: Mutex<Snapshot>,
    pub deltas: broadcast::Sender<Delta>,
}

impl FakeSource {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            snapshot: Mutex::new(Snapshot {
                nodes: vec![node("n1", "m5.large"), node("n2", "m5.large")],
                pods: vec![pod("web-1", "n1"), pod("web-2", "n1"), pod("api-1", "n2")],
                pdbs: vec![],
            }),
            deltas: broadcast::channel(64).0,
        })
    }
}

impl ClusterSource for FakeSource {
    fn snapshot(&self) -> Snapshot {
        self.snapshot.lock().unwrap().clone()
    }

    fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }
}

/// Records every action it runs. With `hold`, each action waits for a permit first, so a test
/// can stop the control plane in the middle of a drain.
pub struct FakeExecutor {
    pub ran: Mutex<Vec<Action>>,
    pub gate: Option<Arc<Semaphore>>,
}

impl FakeExecutor {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            ran: Mutex::new(Vec::new()),
            gate: None,
        })
    }

    pub fn holding(gate: Arc<Semaphore>) -> Arc<Self> {
        Arc::new(Self {
            ran: Mutex::new(Vec::new()),
            gate: Some(gate),
        })
    }

    pub fn ran(&self) -> Vec<Action> {
        self.ran.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Executor for FakeExecutor {
    async fn execute(&self, action: Action) -> Outcome {
        self.ran.lock().unwrap().push(action.clone());
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("gate open").forget();
        }
        Outcome::succeeded(format!("{} done", action.node_name))
    }
}

/// Starts an agent against `addr` in the background; cancel the token to stop it.
pub fn start_agent(
    addr: std::net::SocketAddr,
    key: &str,
    executor: Arc<FakeExecutor>,
    source: Arc<FakeSource>,
) -> CancellationToken {
    let mut settings = AgentSettings::new(&format!("http://{addr}"), key);
    settings.kubernetes_version = "v1.32.1".to_owned();
    settings.max_backoff = Duration::from_millis(300);
    settings.replaced_backoff = Duration::from_secs(60);
    let shutdown = CancellationToken::new();
    let agent = Agent::new(settings, executor, source);
    let (_notices, interruptions) = tokio::sync::mpsc::channel(8);
    tokio::spawn(agent.run(interruptions, shutdown.clone()));
    shutdown
}

/// Polls `check` until it returns Some, for at most 15 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn actions(channel: &Channel, token: &str, cluster_id: &str) -> Vec<pb::ActionRecord> {
    ClusterServiceClient::new(channel.clone())
        .list_actions(authed(
            pb::ListActionsRequest {
                cluster_id: cluster_id.to_owned(),
                page: None,
            },
            token,
        ))
        .await
        .expect("lists actions")
        .into_inner()
        .actions
}

pub async fn submit(
    channel: &Channel,
    token: &str,
    cluster_id: &str,
    kind: spot_proto::agent::v1::ActionKind,
    node: &str,
) -> pb::ActionRecord {
    ClusterServiceClient::new(channel.clone())
        .submit_action(authed(
            pb::SubmitActionRequest {
                cluster_id: cluster_id.to_owned(),
                kind: kind.into(),
                node_name: node.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("submits")
        .into_inner()
        .action
        .expect("action")
}

/// Waits until the action reaches `status` and returns it.
pub async fn action_reaches(
    channel: &Channel,
    token: &str,
    cluster_id: &str,
    id: &str,
    status: pb::ActionStatus,
) -> pb::ActionRecord {
    eventually(&format!("action {id} to be {status:?}"), || async {
        actions(channel, token, cluster_id)
            .await
            .into_iter()
            .find(|a| a.action.as_ref().is_some_and(|x| x.id == id) && a.status() == status)
    })
    .await
}
