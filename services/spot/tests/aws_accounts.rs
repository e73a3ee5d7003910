//! Linking and discovery end to end: the `spot` binary on `cloud = aws`, moto's EC2/STS server as
//! the account, clusters of EKS-tagged nodes found with the right counts and costs.

use spot_cloud::{CapacityType, Pool};
use spot_cloud_ec2::testing::MotoServer;
use spot_proto::cluster::v1 as pb;
use spot_proto::cluster::v1::account_service_client::AccountServiceClient;
use spot_proto::cluster::v1::catalog_service_client::CatalogServiceClient;
use spot_proto::common::v1::CapacityType as CapacityTypePb;
use spot_testkit::{authed, free_port};

mod spot_on_aws;
use spot_on_aws::Spot;

fn pool(zone: &str, instance_type: &str) -> Pool {
    let region = zone.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    Pool {
        region: region.into(),
        zone: zone.into(),
        instance_type: instance_type.into(),
    }
}

#[tokio::test]
async fn link_verify_and_discover_clusters_in_a_real_wire_peer() {
    let moto = MotoServer::start();
    moto.seed_nodes(
        "shop",
        pool("us-east-1a", "m5.large"),
        CapacityType::Spot,
        3,
    )
    .await;
    moto.seed_nodes(
        "shop",
        pool("us-east-1b", "c5.xlarge"),
        CapacityType::OnDemand,
        1,
    )
    .await;
    moto.seed_nodes(
        "batch",
        pool("us-west-2a", "m5.2xlarge"),
        CapacityType::OnDemand,
        2,
    )
    .await;
    let spot = Spot::start(&moto.url);
    let (channel, token) = spot.tenant("Acme").await;
    let mut accounts = AccountServiceClient::new(channel.clone());
    let catalog = CatalogServiceClient::new(channel.clone());
    let m5_prices = |token: String| {
        let mut catalog = catalog.clone();
        async move {
            catalog
                .list_pool_prices(authed(
                    pb::ListPoolPricesRequest {
                        region: "us-east-1".into(),
                        instance_type: "m5.large".into(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .prices
                .into_iter()
                .filter(|p| p.capacity_type == CapacityTypePb::Spot as i32)
                .collect::<Vec<_>>()
        }
    };
    let before = m5_prices(token.clone()).await;
    assert!(
        !before.is_empty() && before.iter().all(|p| p.estimated),
        "no linked account: the advisor's estimate"
    );

    let instructions = accounts
        .get_link_instructions(authed(pb::GetLinkInstructionsRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(instructions.external_id.starts_with("spot-"));
    assert!(
        instructions
            .trust_policy_json
            .contains(&instructions.external_id)
    );
    assert!(
        instructions
            .trust_policy_json
            .contains("arn:aws:iam::111122223333:role/spot-control-plane")
    );
    assert!(
        instructions
            .permission_policy_json
            .contains("ec2:DescribeSpotPriceHistory")
    );

    let bad = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: "arn:aws:iam::12:role/x".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message()
            .starts_with("invalid `role_arn`: account id `12` is not 12 digits"),
        "{}",
        bad.message()
    );

    let role_arn = "arn:aws:iam::123456789012:role/SpotOptimizer";
    let account = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: role_arn.into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        account.status,
        pb::AwsAccountStatus::Verified as i32,
        "{account:?}"
    );
    assert_eq!(account.account_id, "123456789012");
    assert!(account.regions.iter().any(|r| r == "us-west-2"));
    let again = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: role_arn.into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::AlreadyExists);

    // Once linked, prices come from DescribeSpotPriceHistory; moto's are a $0.00001 placeholder,
    // out of any sane band, so each such pool shows the advisor's estimate and says so.
    let after = m5_prices(token.clone()).await;
    assert_eq!(after.len(), before.len());
    for (live, estimate) in after.iter().zip(&before) {
        assert!(
            live.estimated,
            "a placeholder price is not believed: {live:?}"
        );
        assert_eq!(live.usd_per_hour, estimate.usd_per_hour, "{live:?}");
    }

    let unknown_region = accounts
        .discover_clusters(authed(
            pb::DiscoverClustersRequest {
                id: account.id.clone(),
                regions: vec!["mars-north-1".into()],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_region.code(), tonic::Code::InvalidArgument);

    let clusters = accounts
        .discover_clusters(authed(
            pb::DiscoverClustersRequest {
                id: account.id.clone(),
                regions: vec!["us-east-1".into(), "us-west-2".into()],
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .clusters;
    let names: Vec<(&str, &str, i32)> = clusters
        .iter()
        .map(|c| (c.region.as_str(), c.name.as_str(), c.nodes))
        .collect();
    assert_eq!(names, [("us-east-1", "shop", 4), ("us-west-2", "batch", 2)]);

    let shop = &clusters[0];
    assert_eq!(shop.instance_types.get("m5.large"), Some(&3));
    assert_eq!(shop.instance_types.get("c5.xlarge"), Some(&1));
    assert_eq!(shop.zones.get("us-east-1a"), Some(&3));
    assert_eq!(shop.spot_share_percent, 75.0);
    // Spot nodes cost the estimate too: moto's placeholder price is not believed.
    let m5_spot = after[0].usd_per_hour;
    let expected = 3.0 * m5_spot + 0.17;
    assert!(
        (shop.hourly_cost_usd - expected).abs() < 1e-9,
        "{} vs {expected}",
        shop.hourly_cost_usd
    );
    let batch = &clusters[1];
    assert!(
        (batch.hourly_cost_usd - 2.0 * 0.384).abs() < 1e-9,
        "{}",
        batch.hourly_cost_usd
    );
    assert_eq!(batch.spot_share_percent, 0.0);

    // Another tenant sees nothing of it and cannot touch it.
    let (_, other) = spot.tenant("Other").await;
    let listed = accounts
        .list_aws_accounts(authed(pb::ListAwsAccountsRequest { page: None }, &other))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.accounts.is_empty());
    let stolen = accounts
        .discover_clusters(authed(
            pb::DiscoverClustersRequest {
                id: account.id.clone(),
                regions: vec![],
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(stolen.code(), tonic::Code::NotFound);

    accounts
        .unlink_aws_account(authed(
            pb::UnlinkAwsAccountRequest {
                id: account.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap();
    let listed = accounts
        .list_aws_accounts(authed(pb::ListAwsAccountsRequest { page: None }, &token))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.accounts.is_empty());
}

#[tokio::test]
async fn an_unreachable_account_stays_visibly_unverified_with_the_reason() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let spot = Spot::start(&closed);
    let (channel, token) = spot.tenant("Acme").await;
    let mut accounts = AccountServiceClient::new(channel);
    let account = accounts
        .link_aws_account(authed(
            pb::LinkAwsAccountRequest {
                role_arn: "arn:aws:iam::123456789012:role/SpotOptimizer".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(account.status, pb::AwsAccountStatus::Unverified as i32);
    assert!(
        account
            .status_reason
            .starts_with("the role could not be used"),
        "{}",
        account.status_reason
    );
    let listed = accounts
        .list_aws_accounts(authed(pb::ListAwsAccountsRequest { page: None }, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.accounts.len(),
        1,
        "linked, visibly unverified, never half-linked"
    );
    let discover = accounts
        .discover_clusters(authed(
            pb::DiscoverClustersRequest {
                id: account.id,
                regions: vec![],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(discover.code(), tonic::Code::FailedPrecondition);
}
