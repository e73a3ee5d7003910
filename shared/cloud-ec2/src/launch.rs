//! Launching capacity: one instant EC2 fleet (capacity-optimized-prioritized for spot,
//! prioritized for on-demand: the pools in the request's order of preference, the planned pool
//! first and its fallbacks only when it is short) from the node class's launch templates (one per architecture), each pool an
//! override of instance type x the class's subnet in the pool's zone. Pools that cannot be
//! launched (no subnet in their zone, no image for their architecture, out of capacity a moment
//! ago) and pools that fall short are reported per pool; capacity errors feed the ICE cache.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest,
    FleetOnDemandAllocationStrategy, FleetType, InstanceLifecycle, InstanceType,
    OnDemandOptionsRequest, ResourceType, SpotAllocationStrategy, SpotOptionsRequest, Tag,
    TagSpecification, TargetCapacitySpecificationRequest,
};
use spot_cloud::{
    Architecture, CapacityType, Catalog, CloudError, Instance, InstanceState, LaunchFailure,
    LaunchRequest, LaunchResult, LaunchSpec, MANAGED_TAG, Pool,
};

use crate::ice_cache::CAPACITY_ERRORS;
use crate::retry::with_backoff;
use crate::{Ec2Provider, launch_template};

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
    let Some(spec) = request.spec.as_ref() else {
        return Err(CloudError::InvalidArgument {
            field: "node_class",
            reason: "a node class is needed to launch nodes on EC2: save one for the cluster"
                .into(),
        });
    };
    let catalog = Catalog::embedded();
    let mut result = LaunchResult::default();
    let mut by_architecture: BTreeMap<Architecture, Vec<(Pool, String)>> = BTreeMap::new();
    for pool in &request.pools {
        let skipped = |code: &str, message: String| LaunchFailure {
            pool: pool.clone(),
            code: code.to_owned(),
            message,
        };
        let architecture = catalog.get(&pool.instance_type).map(|t| t.architecture);
        if provider.ice.is_unavailable(pool, request.capacity_type) {
            result.failures.push(skipped(
                "InsufficientInstanceCapacity",
                "skipped: this pool ran out of capacity a few minutes ago".into(),
            ));
        } else if let Some(subnet) = spec.subnets.get(&pool.zone) {
            match architecture {
                Ok(arch) if spec.images.contains_key(&arch) => {
                    by_architecture
                        .entry(arch)
                        .or_default()
                        .push((pool.clone(), subnet.clone()));
                }
                Ok(arch) => result.failures.push(skipped(
                    "NoImageForArchitecture",
                    format!(
                        "skipped: the node class has no {} image",
                        spot_cloud::node_class::architecture_name(arch)
                    ),
                )),
                Err(error) => result
                    .failures
                    .push(skipped("UnknownInstanceType", format!("skipped: {error}"))),
            }
        } else {
            result.failures.push(skipped(
                "NoSubnetInZone",
                format!("skipped: the node class has no subnet in {}", pool.zone),
            ));
        }
    }
    if by_architecture.is_empty() {
        return Ok(result);
    }
    let mut configs = Vec::new();
    for (architecture, pools) in &by_architecture {
        let template = launch_template::ensure(provider, &request, spec, *architecture).await?;
        configs.push(config(&template, pools, &request.pools));
    }
    let launched = fleet(provider, &request, spec, configs).await?;
    for failure in &launched.failures {
        if CAPACITY_ERRORS.contains(&failure.code.as_str()) {
            provider.ice.mark(&failure.pool, request.capacity_type);
        }
    }
    result.instances.extend(launched.instances);
    result.failures.extend(launched.failures);
    Ok(result)
}

/// The tags on every instance: the request's, the node class's, and the platform's mark.
pub(crate) fn instance_tags(
    request: &LaunchRequest,
    spec: &LaunchSpec,
) -> BTreeMap<String, String> {
    let mut tags = spec.tags.clone();
    tags.extend(request.tags.clone());
    tags.insert(MANAGED_TAG.to_owned(), "true".to_owned());
    tags
}

/// One launch template's part of the fleet: each pool as instance type x the zone's subnet, with
/// its place in the request's order of preference as its priority (0 first).
fn config(
    template: &str,
    pools: &[(Pool, String)],
    preference: &[Pool],
) -> FleetLaunchTemplateConfigRequest {
    let overrides = pools
        .iter()
        .map(|(pool, subnet)| {
            let priority = preference
                .iter()
                .position(|p| p == pool)
                .unwrap_or(preference.len());
            FleetLaunchTemplateOverridesRequest::builder()
                .instance_type(InstanceType::from(pool.instance_type.as_str()))
                .subnet_id(subnet)
                .priority(priority as f64)
                .build()
        })
        .collect();
    FleetLaunchTemplateConfigRequest::builder()
        .launch_template_specification(
            FleetLaunchTemplateSpecificationRequest::builder()
                .launch_template_id(template)
                .version("$Default")
                .build(),
        )
        .set_overrides(Some(overrides))
        .build()
}

pub(crate) fn tags(resource: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    let tags = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags))
        .build()
}

fn launched(
    capacity_type: CapacityType,
    tags: &BTreeMap<String, String>,
    id: &str,
    pool: &Pool,
) -> Instance {
    Instance {
        id: id.to_owned(),
        pool: pool.clone(),
        capacity_type,
        state: InstanceState::Pending,
        tags: tags.clone(),
        launched_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    }
}

async fn fleet(
    provider: &Ec2Provider,
    request: &LaunchRequest,
    spec: &LaunchSpec,
    configs: Vec<FleetLaunchTemplateConfigRequest>,
) -> Result<LaunchResult, CloudError> {
    let client = provider.client(&request.region);
    let instance_tags = instance_tags(request, spec);
    let zone_of: BTreeMap<&str, &str> = spec
        .subnets
        .iter()
        .map(|(zone, subnet)| (subnet.as_str(), zone.as_str()))
        .collect();
    let capacity_type = match request.capacity_type {
        CapacityType::Spot => DefaultTargetCapacityType::Spot,
        CapacityType::OnDemand => DefaultTargetCapacityType::OnDemand,
    };
    let output = with_backoff("CreateFleet", || {
        client
            .create_fleet()
            .set_client_token(request.client_token.clone())
            .r#type(FleetType::Instant)
            .set_launch_template_configs(Some(configs.clone()))
            .target_capacity_specification(
                TargetCapacitySpecificationRequest::builder()
                    .total_target_capacity(request.count as i32)
                    .default_target_capacity_type(capacity_type.clone())
                    .build(),
            )
            // The pools in the request's order of preference: a fallback pool only when the
            // ones before it are short.
            .spot_options(
                SpotOptionsRequest::builder()
                    .allocation_strategy(SpotAllocationStrategy::CapacityOptimizedPrioritized)
                    .build(),
            )
            .on_demand_options(
                OnDemandOptionsRequest::builder()
                    .allocation_strategy(FleetOnDemandAllocationStrategy::Prioritized)
                    .build(),
            )
            .tag_specifications(tags(ResourceType::Instance, &instance_tags))
            .tag_specifications(tags(ResourceType::Fleet, &instance_tags))
            .send()
    })
    .await?;
    let pool_of = |overrides: Option<&aws_sdk_ec2::types::FleetLaunchTemplateOverrides>| {
        let overrides = overrides?;
        let zone = match overrides.subnet_id() {
            Some(subnet) => zone_of.get(subnet).map(|z| (*z).to_owned())?,
            None => overrides.availability_zone()?.to_owned(),
        };
        Some(Pool {
            region: request.region.clone(),
            zone,
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
        let capacity_type = match group.lifecycle() {
            Some(InstanceLifecycle::Spot) => CapacityType::Spot,
            Some(_) => CapacityType::OnDemand,
            None => request.capacity_type,
        };
        for id in group.instance_ids() {
            result
                .instances
                .push(launched(capacity_type, &instance_tags, id, &pool));
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
