//! What moto cannot produce: throttling, capacity errors, partial fleets, refused credentials.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_fleet::CreateFleetOutput;
use aws_sdk_ec2::operation::describe_availability_zones::{
    DescribeAvailabilityZonesError, DescribeAvailabilityZonesOutput,
};
use aws_sdk_ec2::operation::describe_launch_templates::DescribeLaunchTemplatesOutput;
use aws_sdk_ec2::types::{
    AvailabilityZone, CreateFleetError as FleetError, CreateFleetInstance,
    FleetLaunchTemplateOverrides, InstanceLifecycle, InstanceType, LaunchTemplate,
    LaunchTemplateAndOverridesResponse,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use spot_cloud::{
    Architecture, CapacityType, CloudError, CloudProvider, LaunchRequest, LaunchSpec, Pool,
};
use spot_cloud_ec2::Ec2Provider;

fn zones_error(code: &str) -> DescribeAvailabilityZonesError {
    DescribeAvailabilityZonesError::generic(
        ErrorMetadata::builder()
            .code(code)
            .message("mocked")
            .build(),
    )
}

fn pool(zone: &str, instance_type: &str) -> Pool {
    Pool {
        region: "us-east-1".into(),
        zone: zone.into(),
        instance_type: instance_type.into(),
    }
}

fn overrides(zone: &str, instance_type: &str) -> LaunchTemplateAndOverridesResponse {
    LaunchTemplateAndOverridesResponse::builder()
        .overrides(
            FleetLaunchTemplateOverrides::builder()
                .availability_zone(zone)
                .instance_type(InstanceType::from(instance_type))
                .build(),
        )
        .build()
}

fn fleet_request(pools: Vec<Pool>) -> LaunchRequest {
    LaunchRequest {
        region: "us-east-1".into(),
        pools,
        capacity_type: CapacityType::Spot,
        count: 4,
        tags: BTreeMap::new(),
        spec: Some(LaunchSpec {
            subnets: BTreeMap::from([
                ("us-east-1a".into(), "subnet-0a".into()),
                ("us-east-1b".into(), "subnet-0b".into()),
            ]),
            images: BTreeMap::from([(Architecture::Amd64, "ami-0123".into())]),
            ..LaunchSpec::default()
        }),
        client_token: None,
    }
}

/// A fleet that launched one spot m5.large in us-east-1a.
fn one_spot_m5_large() -> CreateFleetOutput {
    CreateFleetOutput::builder()
        .instances(
            CreateFleetInstance::builder()
                .launch_template_and_overrides(overrides("us-east-1a", "m5.large"))
                .lifecycle(InstanceLifecycle::Spot)
                .instance_ids("i-aaaaaaaaaaaaaaaa1")
                .build(),
        )
        .build()
}

/// The node class's launch template exists already: launches find it and create none.
fn template_exists() -> aws_smithy_mocks::Rule {
    mock!(Client::describe_launch_templates).then_output(|| {
        DescribeLaunchTemplatesOutput::builder()
            .launch_templates(
                LaunchTemplate::builder()
                    .launch_template_id("lt-0123")
                    .launch_template_name("spot-optimizer-0123")
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_passes() {
    let zones = mock!(Client::describe_availability_zones)
        .sequence()
        .error(|| zones_error("RequestLimitExceeded"))
        .times(2)
        .output(|| {
            DescribeAvailabilityZonesOutput::builder()
                .availability_zones(AvailabilityZone::builder().zone_name("us-east-1a").build())
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, [&zones]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    assert_eq!(cloud.verify("us-east-1").await.unwrap(), ["us-east-1a"]);
    assert_eq!(zones.num_calls(), 3);
}

#[tokio::test]
async fn endless_throttling_gives_up_with_a_clear_error() {
    let zones = mock!(Client::describe_availability_zones)
        .sequence()
        .error(|| zones_error("Throttling"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_ec2, [&zones]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    let error = cloud.verify("us-east-1").await.unwrap_err();
    assert!(matches!(error, CloudError::Throttled(_)), "{error:?}");
    assert_eq!(zones.num_calls(), 6);
}

#[tokio::test]
async fn a_refused_role_is_access_denied() {
    let zones = mock!(Client::describe_availability_zones)
        .then_error(|| zones_error("UnauthorizedOperation"));
    let client = mock_client!(aws_sdk_ec2, [&zones]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    let error = cloud.verify("us-east-1").await.unwrap_err();
    assert!(matches!(error, CloudError::AccessDenied(_)), "{error:?}");
}

#[tokio::test]
async fn a_partial_fleet_reports_per_pool_and_the_short_pool_is_avoided_afterwards() {
    let fleet = mock!(Client::create_fleet)
        .match_requests(|request| {
            let overrides = request.launch_template_configs()[0].overrides();
            overrides.len() == 2
                && overrides[0].subnet_id() == Some("subnet-0a")
                && overrides[1].subnet_id() == Some("subnet-0b")
        })
        .then_output(|| {
            CreateFleetOutput::builder()
                .instances(
                    CreateFleetInstance::builder()
                        .launch_template_and_overrides(overrides("us-east-1a", "m5.large"))
                        .lifecycle(InstanceLifecycle::Spot)
                        .instance_ids("i-aaaaaaaaaaaaaaaa1")
                        .instance_ids("i-aaaaaaaaaaaaaaaa2")
                        .build(),
                )
                .errors(
                    FleetError::builder()
                        .launch_template_and_overrides(overrides("us-east-1b", "c5.large"))
                        .error_code("InsufficientInstanceCapacity")
                        .error_message(
                            "We currently do not have sufficient c5.large capacity in us-east-1b",
                        )
                        .build(),
                )
                .build()
        });
    let template = template_exists();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&template, &fleet]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    let short = pool("us-east-1b", "c5.large");
    let result = cloud
        .launch(fleet_request(vec![
            pool("us-east-1a", "m5.large"),
            short.clone(),
        ]))
        .await
        .unwrap();
    assert_eq!(result.instances.len(), 2);
    assert!(
        result
            .instances
            .iter()
            .all(|i| i.pool == pool("us-east-1a", "m5.large"))
    );
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].pool, short);
    assert_eq!(result.failures[0].code, "InsufficientInstanceCapacity");
    assert!(cloud.ice_cache().is_unavailable(&short, CapacityType::Spot));
    assert!(
        !cloud
            .ice_cache()
            .is_unavailable(&short, CapacityType::OnDemand),
        "per capacity type"
    );

    // The next plan asks only the short pool: it is skipped without calling EC2.
    let again = cloud
        .launch(fleet_request(vec![short.clone()]))
        .await
        .unwrap();
    assert!(again.instances.is_empty());
    assert_eq!(again.failures[0].pool, short);
    assert_eq!(fleet.num_calls(), 1);
}

#[tokio::test]
async fn a_launch_with_a_client_token_sends_it_to_create_fleet() {
    // EC2 answers a CreateFleet repeated with its ClientToken with the first one's instances: a
    // step retried after a crash launches nothing more.
    let fleet = mock!(Client::create_fleet)
        .match_requests(|request| request.client_token() == Some("plan-1-0"))
        .then_output(one_spot_m5_large);
    let template = template_exists();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&template, &fleet]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    let mut request = fleet_request(vec![pool("us-east-1a", "m5.large")]);
    request.count = 1;
    request.client_token = Some("plan-1-0".into());
    let launched = cloud.launch(request).await.unwrap();
    assert_eq!(launched.instances.len(), 1);
    assert_eq!(fleet.num_calls(), 1);
}

#[tokio::test]
async fn a_launch_the_account_does_not_allow_says_so_with_awss_code() {
    let fleet = mock!(Client::create_fleet).then_error(|| {
        aws_sdk_ec2::operation::create_fleet::CreateFleetError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let template = template_exists();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&template, &fleet]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    let error = cloud
        .launch(fleet_request(vec![pool("us-east-1a", "m5.large")]))
        .await
        .unwrap_err();
    assert!(matches!(error, CloudError::AccessDenied(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("CreateFleet: UnauthorizedOperation: You are not authorized"),
        "{error}"
    );
    assert_eq!(fleet.num_calls(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_launch_asks_ec2_for_its_pools_in_order_so_a_fallback_is_drawn_from_only_when_short() {
    let prioritized = |request: &aws_sdk_ec2::operation::create_fleet::CreateFleetInput| {
        let spot = request
            .spot_options()
            .and_then(|o| o.allocation_strategy())
            .map(|s| s.as_str().to_owned());
        let on_demand = request
            .on_demand_options()
            .and_then(|o| o.allocation_strategy())
            .map(|s| s.as_str().to_owned());
        let priorities: Vec<(String, f64)> = request
            .launch_template_configs()
            .iter()
            .flat_map(|c| c.overrides())
            .map(|o| {
                (
                    o.instance_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    o.priority().unwrap_or(f64::NAN),
                )
            })
            .collect();
        spot.as_deref() == Some("capacity-optimized-prioritized")
            && on_demand.as_deref() == Some("prioritized")
            && priorities
                == [
                    ("m5.large".to_owned(), 0.0),
                    ("m6i.large".to_owned(), 1.0),
                    ("m7i.large".to_owned(), 2.0),
                ]
    };
    let fleet = mock!(Client::create_fleet)
        .match_requests(prioritized)
        .then_output(one_spot_m5_large);
    let template = template_exists();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&template, &fleet]);
    let cloud = Ec2Provider::from_client(client, &["us-east-1"]);
    // The planned pool first, then its fallbacks, as the optimizer and a wake send them.
    let mut request = fleet_request(vec![
        pool("us-east-1a", "m5.large"),
        pool("us-east-1a", "m6i.large"),
        pool("us-east-1a", "m7i.large"),
    ]);
    request.count = 1;
    let launched = cloud.launch(request).await.unwrap();
    assert_eq!(launched.instances.len(), 1);
    assert_eq!(fleet.num_calls(), 1, "the fleet was not asked in order");
}
