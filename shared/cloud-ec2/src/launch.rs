//! Launching capacity: an instant EC2 fleet (price-capacity-optimized for spot) when a launch
//! template is given, else RunInstances pool by pool, cheapest first. Pools out of capacity are
//! reported per pool and remembered in the ICE cache.

use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest, FleetType,
    InstanceLifecycle, InstanceMarketOptionsRequest, InstanceType, MarketType, Placement,
    ResourceType, SpotAllocationStrategy, SpotOptionsRequest, Tag, TagSpecification,
    TargetCapacitySpecificationRequest,
};
use spot_cloud::{
    CapacityType, CloudError, Instance, InstanceState, LaunchFailure, LaunchRequest, LaunchResult,
    Pool,
};

use crate::Ec2Provider;
use crate::ice_cache::CAPACITY_ERRORS;
use crate::retry::with_backoff;

pub async fn launch(
    provider: &Ec2Provider,
    request: LaunchRequest,
) -> Result<LaunchResult, CloudError> {
    if request.count == 0 {
        return Err(CloudError::InvalidArgument {
            field: "count",
            reason: "must be at least 1".into(),
        });
    }
    let mut result = LaunchResult::default();
    let mut pools = Vec::new();
    for pool in &request.pools {
        if provider.ice.is_unavailable(pool, request.capacity_type) {
            result.failures.push(LaunchFailure {
                pool: pool.clone(),
                code: "InsufficientInstanceCapacity".into(),
                message: "skipped: this pool ran out of capacity a few minutes ago".into(),
            });
        } else {
            pools.push(pool.clone());
        }
    }
    if pools.is_empty() {
        return Ok(result);
    }
    let launched = match (&request.launch_template_id, &request.image_id) {
        (Some(template), _) => fleet(provider, &request, &pools, template).await?,
        (None, Some(image)) => one_pool_at_a_time(provider, &request, &pools, image).await?,
        (None, None) => {
            return Err(CloudError::InvalidArgument {
                field: "launch_template_id",
                reason: "a launch template (or an image id) is needed to launch nodes".into(),
            });
        }
    };
    for failure in &launched.failures {
        if CAPACITY_ERRORS.contains(&failure.code.as_str()) {
            provider.ice.mark(&failure.pool, request.capacity_type);
        }
    }
    result.instances.extend(launched.instances);
    result.failures.extend(launched.failures);
    Ok(result)
}

fn tags(request: &LaunchRequest) -> TagSpecification {
    let tags = request
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .set_tags(Some(tags))
        .build()
}

fn launched(request: &LaunchRequest, id: &str, pool: &Pool) -> Instance {
    Instance {
        id: id.to_owned(),
        pool: pool.clone(),
        capacity_type: request.capacity_type,
        state: InstanceState::Pending,
        tags: request.tags.clone(),
        launched_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    }
}

async fn fleet(
    provider: &Ec2Provider,
    request: &LaunchRequest,
    pools: &[Pool],
    template: &str,
) -> Result<LaunchResult, CloudError> {
    let client = provider.client(&request.region);
    let overrides = pools
        .iter()
        .map(|pool| {
            FleetLaunchTemplateOverridesRequest::builder()
                .instance_type(InstanceType::from(pool.instance_type.as_str()))
                .availability_zone(&pool.zone)
                .build()
        })
        .collect();
    let config = FleetLaunchTemplateConfigRequest::builder()
        .launch_template_specification(
            FleetLaunchTemplateSpecificationRequest::builder()
                .launch_template_id(template)
                .version("$Default")
                .build(),
        )
        .set_overrides(Some(overrides))
        .build();
    let capacity_type = match request.capacity_type {
        CapacityType::Spot => DefaultTargetCapacityType::Spot,
        CapacityType::OnDemand => DefaultTargetCapacityType::OnDemand,
    };
    let output = with_backoff("CreateFleet", || {
        client
            .create_fleet()
            .set_client_token(request.client_token.clone())
            .r#type(FleetType::Instant)
            .launch_template_configs(config.clone())
            .target_capacity_specification(
                TargetCapacitySpecificationRequest::builder()
                    .total_target_capacity(request.count as i32)
                    .default_target_capacity_type(capacity_type.clone())
                    .build(),
            )
            .spot_options(
                SpotOptionsRequest::builder()
                    .allocation_strategy(SpotAllocationStrategy::PriceCapacityOptimized)
                    .build(),
            )
            .tag_specifications(tags(request))
            .send()
    })
    .await?;
    let pool_of = |overrides: Option<&aws_sdk_ec2::types::FleetLaunchTemplateOverrides>| {
        let overrides = overrides?;
        Some(Pool {
            region: request.region.clone(),
            zone: overrides.availability_zone()?.to_owned(),
            instance_type: overrides.instance_type()?.as_str().to_owned(),
        })
    };
    let mut result = LaunchResult::default();
    for group in output.instances() {
        let Some(pool) = pool_of(
            group
                .launch_template_and_overrides()
                .and_then(|l| l.overrides()),
        ) else {
            continue;
        };
        let mut instance_request = request.clone();
        if let Some(lifecycle) = group.lifecycle() {
            instance_request.capacity_type = match lifecycle {
                InstanceLifecycle::Spot => CapacityType::Spot,
                _ => CapacityType::OnDemand,
            };
        }
        for id in group.instance_ids() {
            result
                .instances
                .push(launched(&instance_request, id, &pool));
        }
    }
    for error in output.errors() {
        let pool = pool_of(
            error
                .launch_template_and_overrides()
                .and_then(|l| l.overrides()),
        );
        result.failures.push(LaunchFailure {
            pool: pool.unwrap_or_else(|| Pool {
                region: request.region.clone(),
                zone: String::new(),
                instance_type: String::new(),
            }),
            code: error.error_code().unwrap_or("Unknown").to_owned(),
            message: error.error_message().unwrap_or_default().to_owned(),
        });
    }
    Ok(result)
}

async fn one_pool_at_a_time(
    provider: &Ec2Provider,
    request: &LaunchRequest,
    pools: &[Pool],
    image: &str,
) -> Result<LaunchResult, CloudError> {
    let client = provider.client(&request.region);
    let mut result = LaunchResult::default();
    let mut remaining = request.count as i32;
    let mut calls = 0;
    for pool in pools {
        // RunInstances may give fewer than asked (min 1); ask the same pool again while it gives.
        while remaining > 0 {
            let mut call = client
                .run_instances()
                .image_id(image)
                .instance_type(InstanceType::from(pool.instance_type.as_str()))
                .placement(Placement::builder().availability_zone(&pool.zone).build())
                .min_count(1)
                .max_count(remaining)
                .tag_specifications(tags(request));
            // Each call its own token derived from the launch's: a retried launch repeats the
            // same calls, and EC2 answers each with what it launched the first time.
            calls += 1;
            if let Some(token) = &request.client_token {
                call = call.client_token(format!("{token}-{calls}"));
            }
            if request.capacity_type == CapacityType::Spot {
                call = call.instance_market_options(
                    InstanceMarketOptionsRequest::builder()
                        .market_type(MarketType::Spot)
                        .build(),
                );
            }
            match with_backoff("RunInstances", || call.clone().send()).await {
                Ok(output) => {
                    let before = remaining;
                    for instance in output.instances() {
                        if let Some(id) = instance.instance_id() {
                            result.instances.push(launched(request, id, pool));
                            remaining -= 1;
                        }
                    }
                    if remaining == before {
                        break;
                    }
                }
                // One pool failing (capacity, or a type the zone lacks) moves on to the next pool.
                Err(CloudError::Unavailable(message))
                | Err(CloudError::InvalidArgument {
                    reason: message, ..
                }) => {
                    let code = CAPACITY_ERRORS
                        .iter()
                        .find(|code| message.contains(*code))
                        .map_or("LaunchFailed", |code| code);
                    result.failures.push(LaunchFailure {
                        pool: pool.clone(),
                        code: code.to_owned(),
                        message,
                    });
                    break;
                }
                Err(other) => return Err(other),
            }
        }
    }
    Ok(result)
}
