//! The hive mind: an interruption reported by one tenant's agent flags its pool for everyone, and
//! another tenant's optimizer stops choosing that pool at once, without learning who raised it.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_access::{InternalCredential, OutgoingInterceptor};
use spot_proto::agent::v1::{Delta, InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::common::v1::{CapacityType, Node, Pool};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::risk::v1 as risk;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};

/// What "at once" allows: the flag travels the bus, not the 5-minute re-plan.
const AT_ONCE: Duration = Duration::from_secs(10);

/// Three on-demand nodes, one per zone, two pods on each.
fn on_demand_cluster() -> Snapshot {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    Snapshot {
        nodes: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                node(
                    &format!("node-{i}"),
                    zone,
                    &format!("i-{i}"),
                    CapacityType::OnDemand,
                )
            })
            .collect(),
        pods: (0..6)
            .map(|i| pod(&format!("web-{i}"), &format!("node-{}", i % 3)))
            .collect(),
        pdbs: vec![],
    }
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
    let alices_cluster = Cluster::new(Snapshot::default());
    let (alice_notices, alice_stop) = start_agent(
        &test,
        &alices.agent_key,
        Arc::new(Recorder::default()),
        alices_cluster.clone(),
    );
    let (_bob_notices, bob_stop) = start_agent(
        &test,
        &bobs.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(on_demand_cluster()),
    );

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

    // Alice runs a spot node in that very pool, and her agent hears its interruption warning.
    let alices_node = Node {
        instance_type: favourite.instance_type.clone(),
        ..node("alice-node", &favourite.zone, "i-alice", CapacityType::Spot)
    };
    alices_cluster
        .deltas
        .send(Delta {
            upserted_nodes: vec![alices_node],
            ..Default::default()
        })
        .unwrap();
    wait_for_nodes(&test, &alice, &alices.cluster.unwrap().id, 1).await;
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

    // At once Bob sees the flag (the pool and its expiry, nothing about Alice) and his optimizer
    // no longer picks that pool. Typically well under a second; the bound is loose so a loaded
    // CI machine never fails it, and still far from the 5-minute re-plan it replaces.
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
        assert!(reported.elapsed() < AT_ONCE, "no flag at once");
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
    assert!(avoided_in < AT_ONCE, "avoided at once: {avoided_in:?}");

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
