//! The simulated cloud behaves like a cloud: deterministic under a seed, prices move but stay
//! near the advisor's estimate, interruptions follow the buckets, shortages are reported per pool.

use std::collections::BTreeMap;

use spot_cloud::{
    CapacityType, Catalog, CloudProvider, InstanceState, LaunchRequest, Pool, SimulatedCloud,
    SimulationSettings,
};

fn pool(zone: &str, instance_type: &str) -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: instance_type.into(),
    }
}

fn launch(pools: Vec<Pool>, count: u32, capacity_type: CapacityType) -> LaunchRequest {
    LaunchRequest {
        region: "us-east-1".into(),
        pools,
        capacity_type,
        count,
        tags: BTreeMap::from([("kubernetes.io/cluster/demo".into(), "owned".into())]),
        spec: None,
        client_token: None,
    }
}

#[tokio::test]
async fn the_same_seed_replays_the_same_world() {
    let run = || async {
        let cloud = SimulatedCloud::new(SimulationSettings {
            speedup: 500.0,
            ..Default::default()
        });
        let launched = cloud
            .launch(launch(
                vec![
                    pool("us-east-1a", "m5.large"),
                    pool("us-east-1b", "c5.large"),
                ],
                20,
                CapacityType::Spot,
            ))
            .await
            .unwrap();
        let mut history = Vec::new();
        for _ in 0..48 {
            history.push(cloud.advance(3600).len());
        }
        let prices = cloud.spot_prices("us-east-1").await.unwrap();
        (
            launched
                .instances
                .iter()
                .map(|i| i.id.clone())
                .collect::<Vec<_>>(),
            history,
            prices[..50].to_vec(),
        )
    };
    assert_eq!(run().await, run().await);
}

#[tokio::test]
async fn prices_walk_around_the_advisors_estimate() {
    let cloud = SimulatedCloud::new(SimulationSettings::default());
    let m5 = pool("us-east-1a", "m5.large");
    let estimate = Catalog::embedded()
        .estimated_spot_price("us-east-1", "m5.large")
        .unwrap()
        .unwrap();
    let price = |prices: Vec<spot_cloud::SpotPrice>| {
        prices
            .into_iter()
            .find(|p| p.pool == m5)
            .unwrap()
            .usd_per_hour
    };
    assert_eq!(
        price(cloud.spot_prices("us-east-1").await.unwrap()),
        estimate
    );
    let mut seen = Vec::new();
    for _ in 0..200 {
        cloud.advance(3600);
        seen.push(price(cloud.spot_prices("us-east-1").await.unwrap()));
    }
    assert!(
        seen.iter().any(|p| (p - estimate).abs() > estimate * 0.01),
        "prices move"
    );
    let mean = seen.iter().sum::<f64>() / seen.len() as f64;
    assert!(
        (mean - estimate).abs() < estimate * 0.25,
        "mean-reverting: {mean} vs {estimate}"
    );
    assert!(
        seen.iter()
            .all(|p| *p >= estimate * 0.3 && *p <= estimate * 3.0)
    );
}

#[tokio::test]
async fn riskier_buckets_are_interrupted_more_and_notices_give_two_minutes() {
    let catalog = Catalog::embedded();
    let by_bucket = |wanted: u8| {
        catalog
            .types()
            .iter()
            .find(|t| {
                catalog
                    .advice("us-east-1", &t.name)
                    .ok()
                    .flatten()
                    .is_some_and(|a| a.interruption_bucket == wanted)
                    && SimulatedCloud::new(SimulationSettings::default())
                        .offers("us-east-1a", &t.name)
            })
            .map(|t| t.name.clone())
            .unwrap()
    };
    let (calm, wild) = (by_bucket(0), by_bucket(4));
    let cloud = SimulatedCloud::new(SimulationSettings {
        speedup: 2.0,
        shortage_probability: 0.0,
        ..Default::default()
    });
    cloud
        .launch(launch(
            vec![pool("us-east-1a", &calm)],
            300,
            CapacityType::Spot,
        ))
        .await
        .unwrap();
    cloud
        .launch(launch(
            vec![pool("us-east-1a", &wild)],
            300,
            CapacityType::Spot,
        ))
        .await
        .unwrap();
    cloud
        .launch(launch(
            vec![pool("us-east-1a", &wild)],
            100,
            CapacityType::OnDemand,
        ))
        .await
        .unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut first = None;
    // Thirty days at twice the advisor's rates: about 5% of bucket 0 and 44% of bucket 4.
    for _ in 0..4 * 30 {
        let before = cloud.now();
        for notice in cloud.advance(6 * 3600) {
            assert_eq!(notice.action_at, before + 6 * 3600 + 120);
            first.get_or_insert(notice.instance_id.clone());
            *counts.entry(notice.pool.instance_type).or_default() += 1;
        }
    }
    let (calm_n, wild_n) = (
        counts.get(&calm).copied().unwrap_or(0),
        counts.get(&wild).copied().unwrap_or(0),
    );
    assert!(
        wild_n > calm_n * 3,
        "bucket 4 ({wild_n}) is interrupted far more than bucket 0 ({calm_n})"
    );
    assert!((60..=200).contains(&wild_n), "about 44% of 300: {wild_n}");
    let tagged = cloud
        .instances_tagged("us-east-1", "kubernetes.io/cluster/demo")
        .await
        .unwrap();
    assert!(tagged.iter().all(|i| i.state != InstanceState::Terminated));
    assert!(
        !tagged.iter().any(|i| Some(&i.id) == first.as_ref()),
        "a noticed instance is reclaimed"
    );
    assert_eq!(
        tagged
            .iter()
            .filter(|i| i.capacity_type == CapacityType::OnDemand)
            .count(),
        100,
        "on-demand is never interrupted"
    );
}

#[tokio::test]
async fn shortages_are_reported_per_pool_and_other_pools_fill_in() {
    let cloud = SimulatedCloud::new(SimulationSettings {
        shortage_probability: 1.0,
        ..Default::default()
    });
    let result = cloud
        .launch(launch(
            vec![pool("us-east-1a", "m5.large")],
            3,
            CapacityType::Spot,
        ))
        .await
        .unwrap();
    assert!(result.instances.is_empty());
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].code, "InsufficientInstanceCapacity");

    let cloud = SimulatedCloud::new(SimulationSettings {
        shortage_probability: 0.0,
        ..Default::default()
    });
    let result = cloud
        .launch(launch(
            vec![
                pool("us-east-1a", "m5.large"),
                pool("us-east-1b", "m5.large"),
            ],
            4,
            CapacityType::Spot,
        ))
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 4);
    assert!(result.failures.is_empty());
}

#[tokio::test]
async fn bad_requests_are_named() {
    let cloud = SimulatedCloud::new(SimulationSettings::default());
    let error = cloud.offerings("mars-north-1").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid `region`: region `mars-north-1` is not a known AWS region"
    );
    let error = cloud
        .launch(launch(
            vec![pool("us-east-1a", "m5.huge")],
            1,
            CapacityType::Spot,
        ))
        .await
        .unwrap_err();
    assert!(error.to_string().starts_with("invalid `pools`"), "{error}");
    let error = cloud
        .launch(launch(
            vec![pool("us-east-1a", "m5.large")],
            0,
            CapacityType::Spot,
        ))
        .await
        .unwrap_err();
    assert!(error.to_string().starts_with("invalid `count`"), "{error}");
    assert!(
        cloud
            .terminate("us-east-1", &["i-nope".into()])
            .await
            .is_err()
    );
}

#[tokio::test]
async fn eks_tagged_nodes_are_found_by_discovery_tags() {
    let cloud = SimulatedCloud::new(SimulationSettings::default());
    cloud.add_cluster_nodes(
        "shop",
        &vec![(pool("us-east-1a", "m5.xlarge"), CapacityType::OnDemand); 3],
    );
    cloud.add_cluster_nodes(
        "batch",
        &[(pool("us-east-1b", "c5.2xlarge"), CapacityType::Spot)],
    );
    let shop = cloud
        .instances_tagged("us-east-1", "kubernetes.io/cluster/shop")
        .await
        .unwrap();
    assert_eq!(shop.len(), 3);
    assert_eq!(
        shop[0].tags.get("eks:cluster-name").map(String::as_str),
        Some("shop")
    );
    assert_eq!(
        cloud
            .instances_tagged("us-east-1", "eks:cluster-name")
            .await
            .unwrap()
            .len(),
        4
    );
}
