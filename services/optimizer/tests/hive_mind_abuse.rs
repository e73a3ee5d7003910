//! The hive mind cannot be poisoned: a tenant that floods interruption notices (about its own
//! node in another tenant's pool, about the other tenant's nodes, through reconnects and through
//! EventBridge) steers new capacity away from the pool, but never moves the other tenant's running
//! nodes and barely moves the pool's risk score. Only a second, independent tenant's report makes
//! the flag strong enough to move others pre-emptively.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_proto::agent::v1::{InterruptionKind, InterruptionNotice, Snapshot};
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_proto::risk::v1 as risk;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};

/// The pool every tenant here runs a spot node in.
fn contested() -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: "us-east-1a".into(),
        instance_type: "m5.xlarge".into(),
    }
}

/// Bob's cluster: three spot m5.xlarge nodes, one per zone, two pods on each.
fn bobs_cluster() -> Snapshot {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    Snapshot {
        nodes: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                node(
                    &format!("bob-{i}"),
                    zone,
                    &format!("i-0b0b0b0b0b0b0b0b{i}"),
                    CapacityType::Spot,
                )
            })
            .collect(),
        pods: (0..6)
            .map(|i| pod(&format!("web-{i}"), &format!("bob-{}", i % 3)))
            .collect(),
        pdbs: vec![],
    }
}

/// One spot node in the contested pool.
fn one_node(name: &str, instance_id: &str) -> Snapshot {
    Snapshot {
        nodes: vec![node(name, "us-east-1a", instance_id, CapacityType::Spot)],
        pods: vec![],
        pdbs: vec![],
    }
}

fn warning_about(node_name: &str, instance_id: &str, event_id: &str) -> InterruptionNotice {
    InterruptionNotice {
        event_id: event_id.to_owned(),
        kind: InterruptionKind::SpotInterruption.into(),
        instance_id: instance_id.to_owned(),
        node_name: node_name.to_owned(),
        pool: Some(contested()),
        action_at: Some(spot_proto::time::timestamp(
            chrono::Utc::now().timestamp_millis() + 120_000,
        )),
    }
}

async fn interruptions_recorded(test: &TestServer, token: &str, cluster_id: &str) -> usize {
    ClusterServiceClient::new(test.channel.clone())
        .list_cluster_events(authed(
            cluster::ListClusterEventsRequest {
                cluster_id: cluster_id.to_owned(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .events
        .iter()
        .filter(|e| e.message.contains("interruption warning"))
        .count()
}

async fn plans(test: &TestServer, token: &str, cluster_id: &str) -> Vec<pb::Plan> {
    OptimizerServiceClient::new(test.channel.clone())
        .list_plans(authed(
            pb::ListPlansRequest {
                cluster_id: cluster_id.to_owned(),
                page: None,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .plans
}

async fn flagged(test: &TestServer, token: &str) -> Vec<Pool> {
    risk_flags(test, token)
        .await
        .into_iter()
        .filter_map(|f| f.pool)
        .collect()
}

#[tokio::test]
async fn one_tenants_flood_never_moves_another_tenants_nodes_until_a_second_tenant_corroborates() {
    // Clusters re-plan only for interruptions and flags here, not for their own reports.
    let test = TestServer::start(&[
        ("SPOT_INTERNAL_SECRET", SECRET),
        ("SPOT_SETTLE_SECONDS", "3600"),
    ])
    .await;
    let bob = test.sign_up("Bob").await.access_token;
    let mallory = test.sign_up("Mallory").await;
    let carol = test.sign_up("Carol").await.access_token;
    let bobs = register(&test, &bob).await;
    let bob_cluster = bobs.cluster.unwrap().id;
    let bob_ran = Arc::new(Recorder::default());
    let (_bob_notices, bob_stop) = start_agent(
        &test,
        &bobs.agent_key,
        bob_ran.clone(),
        Cluster::new(bobs_cluster()),
    );
    wait_for_nodes(&test, &bob, &bob_cluster, 3).await;
    let mallorys = register(&test, &mallory.access_token).await;
    let mallory_cluster = mallorys.cluster.unwrap().id;
    const MALLORY_INSTANCE: &str = "i-0aaaaaaaaaaaaaaa1";
    let mallorys_node = Cluster::new(one_node("mallory-1", MALLORY_INSTANCE));

    // Mallory floods: 30 warnings about her own node in Bob's pool, reconnecting every 10, and
    // as many about Bob's nodes, which are not hers.
    for round in 0..3 {
        let (notices, stop) = start_agent(
            &test,
            &mallorys.agent_key,
            Arc::new(Recorder::default()),
            mallorys_node.clone(),
        );
        wait_for_nodes(&test, &mallory.access_token, &mallory_cluster, 1).await;
        for i in 0..10 {
            let own = warning_about("mallory-1", MALLORY_INSTANCE, &format!("m-{round}-{i}"));
            notices.send(own).await.unwrap();
            let bobs_node =
                warning_about("bob-0", "i-0b0b0b0b0b0b0b0b0", &format!("b-{round}-{i}"));
            notices.send(bobs_node).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while interruptions_recorded(&test, &mallory.access_token, &mallory_cluster).await
            < (round + 1) * 10
        {
            assert!(Instant::now() < deadline, "Mallory's own warnings recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
    }
    // And through EventBridge: Bob's instance is not hers; her own is accepted once per event.
    for i in 0..10 {
        let bobs_instance = event_bridge_warning(&format!("evb-bob-{i}"), "i-0b0b0b0b0b0b0b0b0");
        let foreign = ingest_event_bridge(&test, &mallory.access_token, bobs_instance)
            .await
            .unwrap_err();
        assert_eq!(foreign.code(), tonic::Code::NotFound, "{foreign}");
        let her_own = event_bridge_warning(&format!("evb-own-{i}"), MALLORY_INSTANCE);
        assert!(
            ingest_event_bridge(&test, &mallory.access_token, her_own)
                .await
                .unwrap()
        );
    }
    assert_eq!(
        interruptions_recorded(&test, &bob, &bob_cluster).await,
        0,
        "nothing was recorded against Bob's nodes"
    );

    // The pool is flagged for everyone: new capacity avoids it.
    assert_eq!(flagged(&test, &bob).await, [contested()]);
    // But Bob's running nodes stay: no plan, no action, a while after the flood.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        plans(&test, &bob, &bob_cluster).await.is_empty(),
        "Bob's plans are unchanged"
    );
    assert!(
        bob_ran.0.lock().unwrap().is_empty(),
        "nothing ran on Bob's cluster"
    );
    // And Mallory's 40 accepted warnings count as one tenant's few in the pool's score.
    let score = RiskServiceClient::new(test.channel.clone())
        .get_risk_scores(authed(
            risk::GetRiskScoresRequest {
                pools: vec![contested()],
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .scores
        .remove(0);
    let recent = score
        .components
        .iter()
        .find(|c| c.name.contains("last hours"))
        .unwrap();
    assert!(
        recent.value <= 3.0,
        "one tenant counts for at most 3: {score:?}"
    );

    // Carol, an independent tenant, sees the pool interrupted too: now the flag is corroborated
    // and Bob's node in it is replaced before his own warning arrives.
    let carols = register(&test, &carol).await;
    let carol_cluster = carols.cluster.unwrap().id;
    let (carol_notices, carol_stop) = start_agent(
        &test,
        &carols.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(one_node("carol-1", "i-0ccccccccccccccc1")),
    );
    wait_for_nodes(&test, &carol, &carol_cluster, 1).await;
    carol_notices
        .send(warning_about("carol-1", "i-0ccccccccccccccc1", "c-1"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let response = loop {
        if let Some(plan) = plans(&test, &bob, &bob_cluster).await.pop() {
            break plan;
        }
        assert!(Instant::now() < deadline, "no pre-emptive plan for Bob");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        response
            .steps
            .iter()
            .any(|s| s.kind() == pb::StepKind::Drain && s.node_name == "bob-0"),
        "Bob's node in the pool is moved: {response:?}"
    );
    bob_stop.cancel();
    carol_stop.cancel();
    test.stop().await;
}

/// Three spot nodes, one per zone of us-east-1 (three pools), with no pods.
fn nodes_in_three_pools(prefix: &str, id_digit: char) -> Snapshot {
    Snapshot {
        nodes: ["us-east-1a", "us-east-1b", "us-east-1c"]
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                node(
                    &format!("{prefix}-{i}"),
                    zone,
                    &format!("i-0{}{i}", id_digit.to_string().repeat(15)),
                    CapacityType::Spot,
                )
            })
            .collect(),
        pods: vec![],
        pdbs: vec![],
    }
}

#[tokio::test]
async fn one_tenant_flags_only_so_many_pools_an_hour() {
    let test = TestServer::start(&[
        ("SPOT_INTERNAL_SECRET", SECRET),
        ("SPOT_SETTLE_SECONDS", "3600"),
        ("SPOT_LIMIT_FLAGGED_POOLS_PER_TENANT_PER_HOUR", "2"),
    ])
    .await;
    let mallory = test.sign_up("Mallory").await.access_token;
    let bob = test.sign_up("Bob").await.access_token;
    let mallorys = register(&test, &mallory).await;
    let mallory_cluster = mallorys.cluster.unwrap().id;
    let (_notices, mallory_stop) = start_agent(
        &test,
        &mallorys.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(nodes_in_three_pools("mallory", 'a')),
    );
    wait_for_nodes(&test, &mallory, &mallory_cluster, 3).await;
    let bobs = register(&test, &bob).await;
    let bob_cluster = bobs.cluster.unwrap().id;
    const BOB_INSTANCE: &str = "i-0bbbbbbbbbbbbbbb9";
    let (_bob_notices, bob_stop) = start_agent(
        &test,
        &bobs.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(Snapshot {
            nodes: vec![node(
                "bob-0",
                "us-east-1d",
                BOB_INSTANCE,
                CapacityType::Spot,
            )],
            pods: vec![],
            pdbs: vec![],
        }),
    );
    wait_for_nodes(&test, &bob, &bob_cluster, 1).await;

    // Mallory reports her nodes in three pools (twice each): the warnings about her own nodes are
    // taken, but only her first two pools are flagged for everyone.
    for round in 0..2 {
        for i in 0..3 {
            let instance = format!("i-0{}{i}", "a".repeat(15));
            let warning = event_bridge_warning(&format!("evb-{round}-{i}"), &instance);
            assert!(ingest_event_bridge(&test, &mallory, warning).await.unwrap());
        }
    }
    // Then Bob, in a fourth pool: the intake handles reports in order, so once his flag shows,
    // every one of Mallory's was handled.
    let bobs_warning = event_bridge_warning("evb-bob", BOB_INSTANCE);
    assert!(
        ingest_event_bridge(&test, &bob, bobs_warning)
            .await
            .unwrap()
    );
    let pool = |zone: &str| Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: "m5.xlarge".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut flags = flagged(&test, &bob).await;
    while !flags.contains(&pool("us-east-1d")) {
        assert!(
            Instant::now() < deadline,
            "Bob's pool is flagged: {flags:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        flags = flagged(&test, &bob).await;
    }
    flags.sort_by(|a, b| a.zone.cmp(&b.zone));
    assert_eq!(
        flags,
        [pool("us-east-1a"), pool("us-east-1b"), pool("us-east-1d")],
        "Mallory's third pool is not flagged"
    );
    mallory_stop.cancel();
    bob_stop.cancel();
    test.stop().await;
}
