//! EventBridge intake: a tenant forwards the spot warnings AWS sends to its account. A warning
//! about one of its nodes takes the agent's path (the cluster's event, the hive mind's flag, the
//! optimizer's replacement plan), once per event id; another tenant cannot aim one at it, and a
//! malformed event is refused with the field that is wrong.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_proto::agent::v1::Snapshot;
use spot_proto::cluster::v1 as cluster;
use spot_proto::cluster::v1::cluster_service_client::ClusterServiceClient;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::optimizer_service_client::OptimizerServiceClient;
use spot_testkit::{TestServer, authed};

const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

/// Three spot nodes, one per zone, two pods on each; node-0 is `INSTANCE`.
fn spot_cluster() -> Snapshot {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    Snapshot {
        nodes: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| {
                let id = if i == 0 {
                    INSTANCE.to_owned()
                } else {
                    format!("i-0a1b2c3d4e5f6071{i}")
                };
                node(&format!("node-{i}"), zone, &id, CapacityType::Spot)
            })
            .collect(),
        pods: (0..6)
            .map(|i| pod(&format!("web-{i}"), &format!("node-{}", i % 3)))
            .collect(),
        pdbs: vec![],
    }
}

#[tokio::test]
async fn a_warning_aws_sends_about_a_node_is_answered_once_and_only_for_its_tenant() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let bob = test.sign_up("Bob").await.access_token;
    let mallory = test.sign_up("Mallory").await.access_token;
    let bobs = register(&test, &bob).await;
    let cluster_id = bobs.cluster.unwrap().id;
    let (_notices, stop) = start_agent(
        &test,
        &bobs.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(spot_cluster()),
    );
    wait_for_nodes(&test, &bob, &cluster_id, 3).await;
    let mut clusters = ClusterServiceClient::new(test.channel.clone());

    // A malformed event names its field and changes nothing.
    let bad = ingest_event_bridge(&test, &bob, event_bridge_warning("evt-1", "i-nothex"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("`detail.instance-id`"), "{bad}");
    let not_json = ingest_event_bridge(&test, &bob, "{\"version\":".into())
        .await
        .unwrap_err();
    assert!(not_json.message().contains("`event_json`"), "{not_json}");

    // Another tenant cannot aim a warning at Bob's node: to it the instance does not exist.
    let foreign = ingest_event_bridge(&test, &mallory, event_bridge_warning("evt-2", INSTANCE))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    assert!(
        risk_flags(&test, &bob).await.is_empty(),
        "nothing was flagged"
    );

    // Bob's own warning: accepted, the pool is flagged within a second.
    let sent = Instant::now();
    assert!(
        ingest_event_bridge(&test, &bob, event_bridge_warning("evt-3", INSTANCE))
            .await
            .unwrap()
    );
    let flagged = loop {
        let flags = risk_flags(&test, &mallory).await;
        if !flags.is_empty() {
            break flags;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "no flag within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        flagged[0].pool,
        Some(Pool {
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            instance_type: "m5.xlarge".into(),
        })
    );

    // The same event again (EventBridge retries) is recognised and changes nothing.
    assert!(
        !ingest_event_bridge(&test, &bob, event_bridge_warning("evt-3", INSTANCE))
            .await
            .unwrap()
    );

    // The cluster's log says so once, and the optimizer plans the replacement.
    let events = clusters
        .list_cluster_events(authed(
            cluster::ListClusterEventsRequest {
                cluster_id: cluster_id.clone(),
                page: None,
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| {
            e.message
                .starts_with("spot interruption warning for node node-0")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{events:#?}");
    let mut optimizer = OptimizerServiceClient::new(test.channel.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let plans = optimizer
            .list_plans(authed(
                pb::ListPlansRequest {
                    cluster_id: cluster_id.clone(),
                    page: None,
                },
                &bob,
            ))
            .await
            .unwrap()
            .into_inner()
            .plans;
        if plans.iter().any(|p| p.strategy == "interruption-response") {
            break;
        }
        assert!(Instant::now() < deadline, "no replacement plan: {plans:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    stop.cancel();
    test.stop().await;
}
