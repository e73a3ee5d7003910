//! The catalog as the web app and SDKs see it.

use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::catalog_service_client::CatalogServiceClient;
use spot_proto::common::v1::{Architecture, CapacityType, PageRequest};
use spot_testkit::{TestServer, authed};

#[tokio::test]
async fn list_filter_page_and_get_instance_types() {
    let test = TestServer::start(&[]).await;
    let viewer = test.sign_up("Acme").await.access_token;
    let mut catalog = CatalogServiceClient::new(test.channel.clone());

    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = catalog
            .list_instance_types(authed(
                pb::ListInstanceTypesRequest {
                    page: Some(PageRequest {
                        page_size: 500,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
                &viewer,
            ))
            .await
            .unwrap()
            .into_inner();
        names.extend(page.instance_types.into_iter().map(|t| t.name));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(names.len(), 1363, "every type, each once");

    let graviton = catalog
        .list_instance_types(authed(
            pb::ListInstanceTypesRequest {
                region: "eu-west-1".into(),
                families: vec!["m7g".into()],
                architecture: Architecture::Arm64.into(),
                min_cpu_millis: 3500,
                ..Default::default()
            },
            &viewer,
        ))
        .await
        .unwrap()
        .into_inner()
        .instance_types;
    assert!(!graviton.is_empty());
    assert!(
        graviton
            .iter()
            .all(|t| t.family == "m7g" && t.allocatable.unwrap().cpu_millis >= 3500)
    );

    let m5 = catalog
        .get_instance_type(authed(
            pb::GetInstanceTypeRequest {
                name: "m5.xlarge".into(),
            },
            &viewer,
        ))
        .await
        .unwrap()
        .into_inner()
        .instance_type
        .unwrap();
    assert_eq!(
        (m5.vcpu, m5.memory_mib, m5.on_demand_usd_per_hour),
        (4, 16384, 0.192)
    );
    test.stop().await;
}

#[tokio::test]
async fn pool_prices_show_on_demand_spot_and_bucket_per_zone() {
    let test = TestServer::start(&[]).await;
    let viewer = test.sign_up("Acme").await.access_token;
    let mut catalog = CatalogServiceClient::new(test.channel.clone());
    let prices = catalog
        .list_pool_prices(authed(
            pb::ListPoolPricesRequest {
                region: "us-east-1".into(),
                instance_type: "m5.large".into(),
            },
            &viewer,
        ))
        .await
        .unwrap()
        .into_inner()
        .prices;
    let spot: Vec<_> = prices
        .iter()
        .filter(|p| p.capacity_type == CapacityType::Spot as i32)
        .collect();
    let on_demand: Vec<_> = prices
        .iter()
        .filter(|p| p.capacity_type == CapacityType::OnDemand as i32)
        .collect();
    assert_eq!(spot.len(), 5, "one spot pool per us-east-1 zone");
    assert!(on_demand.iter().all(|p| p.usd_per_hour == 0.096));
    assert!(
        spot.iter()
            .all(|p| p.usd_per_hour < 0.096 && (0..=4).contains(&p.interruption_bucket))
    );
    test.stop().await;
}

#[tokio::test]
async fn unknown_types_and_regions_are_precise_errors() {
    let test = TestServer::start(&[]).await;
    let viewer = test.sign_up("Acme").await.access_token;
    let mut catalog = CatalogServiceClient::new(test.channel.clone());
    let unknown = catalog
        .get_instance_type(authed(
            pb::GetInstanceTypeRequest {
                name: "m5.gigantic".into(),
            },
            &viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert_eq!(
        unknown.message(),
        "instance type `m5.gigantic` is not in the catalog"
    );
    let region = catalog
        .list_pool_prices(authed(
            pb::ListPoolPricesRequest {
                region: "mars-north-1".into(),
                instance_type: "m5.large".into(),
            },
            &viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(region.code(), tonic::Code::InvalidArgument);
    assert!(
        region
            .message()
            .contains("`mars-north-1` is not a known AWS region"),
        "{}",
        region.message()
    );
    test.stop().await;
}
