//! EventBridge intake: a tenant forwards the spot warnings AWS sends to its account. A warning
//! about one of its nodes takes the agent's path (the cluster's event, the hive mind's flag, the
//! optimizer's replacement plan), once per event id; another tenant cannot aim one at it, and a
//! malformed event is refused with the field that is wrong.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_proto::agent::v1::Snapshot;
use spot_proto::auth::v1 as auth;
use spot_proto::auth::v1::api_key_service_client::ApiKeyServiceClient;
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

/// What an EventBridge API destination sends: one event as a JSON POST, the connection's API key
/// in `Authorization`; the status line and body of the answer.
async fn post_aws_event(test: &TestServer, key: Option<&str>, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authorization = key.map_or(String::new(), |key| {
        format!("Authorization: Bearer {key}\r\n")
    });
    let head = format!(
        "POST /webhooks/aws-events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(test.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // A server that refuses an oversized body may close before reading all of it.
    let _ = stream.write_all(body.as_bytes()).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

#[tokio::test]
async fn an_eventbridge_api_destination_posts_warnings_over_http_with_the_same_checks() {
    let test = TestServer::start(&[("SPOT_INTERNAL_SECRET", SECRET)]).await;
    let bob = test.sign_up("Bob").await.access_token;
    let mallory = test.sign_up("Mallory").await.access_token;
    let bobs = register(&test, &bob).await;
    let (_notices, stop) = start_agent(
        &test,
        &bobs.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(spot_cluster()),
    );
    wait_for_nodes(&test, &bob, &bobs.cluster.unwrap().id, 3).await;
    let warning = event_bridge_warning("evt-http-1", INSTANCE);
    // The key an API destination's connection holds: it may call the intake and nothing else.
    let intake_key = ApiKeyServiceClient::new(test.channel.clone())
        .create_api_key(authed(
            auth::CreateApiKeyRequest {
                name: "eventbridge".into(),
                scope: auth::ApiKeyScope::Eventbridge.into(),
                ..Default::default()
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;

    let (status, body) = post_aws_event(&test, None, &warning).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, _) = post_aws_event(&test, Some("spot_not-a-key"), &warning).await;
    assert_eq!(status, 401);
    let (status, body) = post_aws_event(
        &test,
        Some(&intake_key),
        &event_bridge_warning("evt-http-0", "i-nothex"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`detail.instance-id`"), "{body}");
    let oversized = format!("{{\"padding\": \"{}\"}}", "x".repeat(300 * 1024));
    let (status, _) = post_aws_event(&test, Some(&intake_key), &oversized).await;
    assert_eq!(status, 413);
    // Another tenant's key cannot reach Bob's node.
    let (status, _) = post_aws_event(&test, Some(&mallory), &warning).await;
    assert_eq!(status, 404);
    assert!(risk_flags(&test, &bob).await.is_empty(), "nothing flagged");

    let (status, body) = post_aws_event(&test, Some(&intake_key), &warning).await;
    assert_eq!((status, body.trim()), (200, "accepted"));
    let (status, body) = post_aws_event(&test, Some(&intake_key), &warning).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("already handled"), "{body}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while risk_flags(&test, &mallory).await.is_empty() {
        assert!(Instant::now() < deadline, "the pool was never flagged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.cancel();
    test.stop().await;
}
