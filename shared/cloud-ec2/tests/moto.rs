//! Ec2Provider against a real wire peer: moto's EC2 and STS server (PyPI `moto[server]`).

use spot_cloud::{CapacityType, CloudProvider, LaunchRequest, Pool, RoleArn};
use spot_cloud_ec2::Ec2Provider;
use spot_cloud_ec2::testing::MotoServer;
use std::collections::BTreeMap;

async fn an_image(moto: &MotoServer) -> String {
    let client = aws_sdk_ec2::Client::new(&moto.platform().await);
    let images = client.describe_images().send().await.unwrap();
    images.images()[0].image_id().unwrap().to_owned()
}

#[tokio::test]
async fn assume_role_verify_describe_launch_discover_terminate() {
    let moto = MotoServer::start();
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/SpotOptimizer").unwrap();
    let cloud = Ec2Provider::assume_role(&moto.platform().await, &role, "tenant-external-id").await;

    let zones = cloud.verify("us-east-1").await.unwrap();
    assert!(zones.iter().any(|z| z == "us-east-1a"), "{zones:?}");

    let types = cloud.instance_types("us-east-1").await.unwrap();
    assert!(types.len() > 1000, "{}", types.len());
    let catalog = spot_cloud::Catalog::embedded();
    let known = types.iter().filter(|t| catalog.get(t).is_ok()).count();
    assert!(
        known * 10 > types.len() * 8,
        "most live types are in the embedded catalog: {known} of {}",
        types.len()
    );

    let offerings = cloud.offerings("us-east-1").await.unwrap();
    assert!(
        offerings
            .iter()
            .any(|o| o.instance_type == "m5.large" && o.zone == "us-east-1a")
    );
    let prices = cloud.spot_prices("us-east-1").await.unwrap();
    assert!(!prices.is_empty());
    assert!(
        prices
            .iter()
            .all(|p| p.usd_per_hour > 0.0 && p.pool.region == "us-east-1")
    );

    let image = an_image(&moto).await;
    for (cluster, count, capacity_type) in [
        ("shop", 3, CapacityType::Spot),
        ("batch", 2, CapacityType::OnDemand),
    ] {
        let launched = cloud
            .launch(LaunchRequest {
                region: "us-east-1".into(),
                pools: vec![Pool {
                    region: "us-east-1".into(),
                    zone: "us-east-1a".into(),
                    instance_type: "m5.large".into(),
                }],
                capacity_type,
                count,
                tags: BTreeMap::from([
                    (format!("kubernetes.io/cluster/{cluster}"), "owned".into()),
                    ("eks:cluster-name".into(), cluster.into()),
                ]),
                launch_template_id: None,
                image_id: Some(image.clone()),
                client_token: None,
            })
            .await
            .unwrap();
        assert_eq!(launched.instances.len(), count as usize, "{launched:?}");
    }
    let shop = cloud
        .instances_tagged("us-east-1", "kubernetes.io/cluster/shop")
        .await
        .unwrap();
    assert_eq!(shop.len(), 3);
    assert!(
        shop.iter()
            .all(|i| i.capacity_type == CapacityType::Spot && i.pool.instance_type == "m5.large")
    );
    let all = cloud
        .instances_tagged("us-east-1", "eks:cluster-name")
        .await
        .unwrap();
    assert_eq!(all.len(), 5);

    let ids: Vec<String> = shop.iter().map(|i| i.id.clone()).collect();
    cloud.terminate("us-east-1", &ids).await.unwrap();
    let left = cloud
        .instances_tagged("us-east-1", "eks:cluster-name")
        .await
        .unwrap();
    assert_eq!(left.len(), 2, "terminated instances are no longer listed");
}
