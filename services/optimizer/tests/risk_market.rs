//! Risk scores weigh what the platform sees in the market: the spot nodes it runs in a pool (the
//! exposure behind the interruption counts, summed over tenants) and how much the pool's spot
//! price moved lately (sampled by the risk service).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use spot_proto::agent::v1::Snapshot;
use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::risk::v1 as pb;
use spot_proto::risk::v1::risk_service_client::RiskServiceClient;
use spot_testkit::{TestServer, authed};

const EXPOSURE: &str = "platform spot instances in the pool (order of magnitude)";
const RECENT: &str = "interruptions in the last days (half-life 72 h)";
const VOLATILITY: &str = "spot price volatility";

fn pool(zone: &str) -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: "m5.xlarge".into(),
    }
}

/// Two spot nodes in us-east-1a, one in us-east-1b.
fn spot_nodes() -> Snapshot {
    Snapshot {
        nodes: vec![
            node("a-1", "us-east-1a", "i-a1", CapacityType::Spot),
            node("a-2", "us-east-1a", "i-a2", CapacityType::Spot),
            node("b-1", "us-east-1b", "i-b1", CapacityType::Spot),
        ],
        pods: vec![pod("web-0", "a-1")],
        pdbs: vec![],
    }
}

fn component(score: &pb::RiskScore, name: &str) -> f64 {
    score
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no `{name}` in {score:?}"))
        .value
}

async fn scores(test: &TestServer, token: &str) -> Vec<pb::RiskScore> {
    RiskServiceClient::new(test.channel.clone())
        .get_risk_scores(authed(
            pb::GetRiskScoresRequest {
                pools: vec![pool("us-east-1a"), pool("us-east-1b"), pool("us-east-1c")],
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .scores
}

#[tokio::test]
async fn scores_count_the_fleet_in_each_pool_and_the_price_swings_there() {
    let test = TestServer::start(&[
        ("SPOT_INTERNAL_SECRET", SECRET),
        ("SPOT_PRICE_SAMPLE_SECONDS", "1"),
    ])
    .await;
    let bob = test.sign_up("Bob").await.access_token;
    let viewer = test.sign_up("Someone else").await.access_token;
    let bobs = register(&test, &bob).await;
    let (_notices, stop) = start_agent(
        &test,
        &bobs.agent_key,
        Arc::new(Recorder::default()),
        Cluster::new(spot_nodes()),
    );

    wait_for_nodes(&test, &bob, &bobs.cluster.as_ref().unwrap().id, 3).await;

    // Another tenant sees roughly how many spot nodes the platform runs per pool (an order of
    // magnitude, never whose), and the exact count weighs the evidence: with more instances
    // behind it, the same quiet history says more (the factor drops further below 1).
    let deadline = Instant::now() + Duration::from_secs(10);
    let counted = loop {
        let scores = scores(&test, &viewer).await;
        if component(&scores[0], EXPOSURE) == 1.0 && component(&scores[1], EXPOSURE) == 1.0 {
            break scores;
        }
        assert!(
            Instant::now() < deadline,
            "the fleet never counted: {scores:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(component(&counted[2], EXPOSURE), 0.0);
    let weight = |score: &pb::RiskScore| {
        score
            .components
            .iter()
            .find(|c| c.name == RECENT)
            .unwrap()
            .weight
    };
    assert!(
        weight(&counted[0]) < weight(&counted[1]) && weight(&counted[1]) < weight(&counted[2]),
        "two instances, one, none: {counted:#?}"
    );
    assert_eq!(weight(&counted[2]), 1.0);
    assert_eq!(
        component(&counted[0], VOLATILITY),
        0.0,
        "no swings seen yet"
    );

    // The simulated market moves an hour between samples: the swings show in the score.
    let calm = counted[0].score;
    let deadline = Instant::now() + Duration::from_secs(20);
    let swung = loop {
        test.cloud.advance(3_600);
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let scores = scores(&test, &viewer).await;
        if component(&scores[0], VOLATILITY) > 0.0 {
            break scores;
        }
        assert!(Instant::now() < deadline, "no volatility seen: {scores:#?}");
    };
    let volatility = component(&swung[0], VOLATILITY);
    assert!(volatility < 1.0, "a relative spread: {volatility}");
    assert!(swung[0].score >= calm, "swings never lower a score");
    assert_eq!(
        component(&swung[2], VOLATILITY),
        0.0,
        "a pool the platform does not run in is not sampled"
    );

    // The optimizer prices spot at these live prices, re-read whenever the market moved.
    let mut fleet = fleet(&test);
    let live = |prices: Vec<spot_proto::cluster::v1::SpotPoolPrice>| {
        prices
            .into_iter()
            .find(|p| p.zone == "us-east-1a" && p.instance_type == "m5.xlarge")
            .unwrap()
            .usd_per_hour
    };
    let cloud_price = || async {
        use spot_cloud::CloudProvider;
        test.cloud
            .spot_prices("us-east-1")
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.pool.zone == "us-east-1a" && p.pool.instance_type == "m5.xlarge")
            .unwrap()
            .usd_per_hour
    };
    let ask = spot_proto::cluster::v1::GetSpotPricesRequest {
        tenant_id: "any".into(),
        region: "us-east-1".into(),
    };
    let before = live(
        fleet
            .get_spot_prices(ask.clone())
            .await
            .unwrap()
            .into_inner()
            .prices,
    );
    assert_eq!(before, cloud_price().await);
    test.cloud.advance(6 * 3_600);
    let after = live(
        fleet
            .get_spot_prices(ask)
            .await
            .unwrap()
            .into_inner()
            .prices,
    );
    assert_eq!(after, cloud_price().await);
    assert_ne!(after, before, "six hours later the price moved");

    stop.cancel();
    test.stop().await;
}
