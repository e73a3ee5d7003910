//! The hive mind: an interruption reported by one tenant's agent flags its pool for everyone, and
//! another tenant's optimizer stops choosing that pool at once, without learning who raised it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_agent::executor::{Executor, Outcome};
use spot_agent::session::{Agent, AgentSettings, ClusterSource};
use spot_proto::agent::v1::{Action, Delta, InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, Node, Pod, PodPhase, Pool, Resources};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::risk::v1 as risk;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "a-test-internal-secret-of-32-chars-or-more";

struct Fixed(Snapshot, broadcast::Sender<Delta>);

impl ClusterSource for Fixed {
    fn snapshot(&self) -> Snapshot {
        self.0.clone()
    }
    fn subscribe(&self) -> broadcast::Receiver<Delta> {
        self.1.subscribe()
    }
}

struct Idle(Mutex<()>);

#[async_trait::async_trait]
impl Executor for Idle {
    async fn execute(&self, _action: Action) -> Outcome {
        let _guard = self.0.lock();
        Outcome::succeeded("")
    }
}

fn on_demand_cluster() -> Snapshot {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    Snapshot {
        nodes: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| Node {
                name: format!("node-{i}"),
                instance_id: format!("i-{i}"),
                instance_type: "m5.xlarge".into(),
                zone: (*zone).into(),
                capacity_type: CapacityType::OnDemand.into(),
                allocatable: Some(Resources {
                    cpu_millis: 3_920,
                    memory_mib: 14_000,
                    pods: 58,
                    gpus: 0,
                }),
                ready: true,
                ..Default::default()
            })
            .collect(),
        pods: (0..6)
            .map(|i| Pod {
                namespace: "shop".into(),
                name: format!("web-{i}"),
                requests: Some(Resources {
                    cpu_millis: 500,
                    memory_mib: 1_024,
                    pods: 1,
                    gpus: 0,
                }),
                owner_kind: "ReplicaSet".into(),
                node_name: format!("node-{}", i % 3),
                phase: PodPhase::Running.into(),
                ..Default::default()
            })
            .collect(),
        pdbs: vec![],
    }
}

async fn connect_agent(
    test: &TestServer,
    key: &str,
    snapshot: Snapshot,
) -> (mpsc::Sender<InterruptionNotice>, CancellationToken) {
    let stop = CancellationToken::new();
    let (notices, interruptions) = mpsc::channel(4);
    let agent = Agent::new(
        AgentSettings::new(&format!("http://{}", test.addr()), key),
        Arc::new(Idle(Mutex::new(()))),
        Arc::new(Fixed(snapshot, broadcast::channel(4).0)),
    );
    tokio::spawn(agent.run(interruptions, stop.clone()));
    (notices, stop)
}

async fn register(test: &TestServer, token: &str) -> cluster::RegisterClusterResponse {
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

fn spot_pools(plan: &pb::Plan) -> Vec<Pool> {
    plan.steps
        .iter()
        .filter(|s| s.kind() == pb::StepKind::Launch && s.capacity_type() == CapacityType::Spot)
        .filter_map(|s| s.pool.clone())
        .collect()
}

#[tokio::test]
async fn one_tenants_interruption_protects_another_tenant_at_once() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let alice = test.sign_up("Alice").await.access_token;
    let bob = test.sign_up("Bob").await.access_token;
    let alices = register(&test, &alice).await;
    let bobs = register(&test, &bob).await;
    let bob_cluster = bobs.cluster.unwrap().id;
    let (alice_notices, alice_stop) =
        connect_agent(&test, &alices.agent_key, Snapshot::default()).await;
    let (_bob_notices, bob_stop) = connect_agent(&test, &bobs.agent_key, on_demand_cluster()).await;

    // Bob's optimizer would move to spot; note the pool it likes best.
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let deadline = Instant::now() + Duration::from_secs(15);
    let before = loop {
        let plan = optimizer
            .recommend(authed(
                pb::RecommendRequest {
                    cluster_id: bob_cluster.clone(),
                },
                &bob,
            ))
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap();
        if !spot_pools(&plan).is_empty() {
            break plan;
        }
        assert!(
            Instant::now() < deadline,
            "no spot plan for Bob: {}",
            plan.reason
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let favourite = spot_pools(&before).remove(0);

    // Alice's agent hears a spot interruption warning in that very pool.
    let reported = Instant::now();
    alice_notices
        .send(InterruptionNotice {
            event_id: "i-alice:spot-interruption:1".into(),
            kind: InterruptionKind::SpotInterruption.into(),
            instance_id: "i-alice".into(),
            node_name: "alice-node".into(),
            pool: Some(favourite.clone()),
            action_at: Some(spot_proto::time::timestamp(
                chrono::Utc::now().timestamp_millis() + 120_000,
            )),
        })
        .await
        .unwrap();

    // Within a second Bob sees the flag (the pool and its expiry, nothing about Alice) and his
    // optimizer no longer picks that pool.
    let mut risk_client = RiskServiceClient::new(test.channel.clone());
    let flags = loop {
        let flags = risk_client
            .list_risk_flags(authed(
                risk::ListRiskFlagsRequest {
                    region: "us-east-1".into(),
                },
                &bob,
            ))
            .await
            .unwrap()
            .into_inner()
            .flags;
        if !flags.is_empty() {
            break flags;
        }
        assert!(
            reported.elapsed() < Duration::from_secs(1),
            "no flag within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].pool.as_ref(), Some(&favourite));
    let after = optimizer
        .recommend(authed(
            pb::RecommendRequest {
                cluster_id: bob_cluster.clone(),
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let avoided_in = reported.elapsed();
    assert!(
        !spot_pools(&after).is_empty(),
        "Bob still moves to spot: {}",
        after.reason
    );
    assert!(
        !spot_pools(&after).contains(&favourite),
        "the flagged pool is avoided"
    );
    assert!(
        avoided_in < Duration::from_secs(1),
        "avoided within a second: {avoided_in:?}"
    );

    // The same event again (a retry, a flood) is recognised and changes nothing.
    let credential = InternalCredential::new(SECRET.as_bytes(), "cluster").unwrap();
    let mut internal = RiskServiceClient::with_interceptor(
        test.channel.clone(),
        OutgoingInterceptor::new(credential),
    );
    let again = internal
        .report_interruption(risk::ReportInterruptionRequest {
            cluster_id: String::new(),
            notice: Some(InterruptionNotice {
                event_id: "i-alice:spot-interruption:1".into(),
                kind: InterruptionKind::SpotInterruption.into(),
                pool: Some(favourite.clone()),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.accepted);
    let unknown = internal
        .report_interruption(risk::ReportInterruptionRequest {
            cluster_id: String::new(),
            notice: Some(InterruptionNotice {
                event_id: "e-2".into(),
                pool: Some(Pool {
                    region: "us-east-1".into(),
                    zone: "us-east-1a".into(),
                    instance_type: "m99.galactic".into(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(unknown.message().contains("`instance_type`"), "{unknown}");

    alice_stop.cancel();
    bob_stop.cancel();
    test.stop().await;
}
