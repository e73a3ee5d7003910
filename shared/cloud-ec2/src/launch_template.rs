//! The launch templates the platform owns: one per node class content, architecture and capacity
//! type, named by a hash of that content, so the same class always finds the same template and a
//! changed class gets a new one. Created idempotently; a cluster's templates that its current
//! class no longer makes are deleted once they are a while old (a launch in flight may still
//! name one).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType, Tag,
    VolumeType,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use spot_cloud::{
    Architecture, CLUSTER_ID_TAG, CapacityType, CloudError, LaunchRequest, LaunchSpec, MANAGED_TAG,
};

use crate::Ec2Provider;
use crate::launch::tags;
use crate::retry::with_backoff;

/// Templates the cluster no longer uses are kept this long before they are deleted.
const UNUSED_TEMPLATE_KEPT_SECS: i64 = 3_600;

/// What a template holds, in a stable order: its hash names the template.
fn content(
    spec: &LaunchSpec,
    image: &str,
    capacity_type: CapacityType,
    template_tags: &BTreeMap<String, String>,
) -> String {
    format!(
        "image={image}\ncapacity={capacity_type:?}\nprofile={}\ngroups={}\nroot={} {} {}\nhop_limit={}\ntags={template_tags:?}\nuser_data={}",
        spec.instance_profile_arn,
        spec.security_group_ids.join(","),
        spec.root_device,
        spec.root_volume_gib,
        spec.root_volume_type,
        spec.metadata_hop_limit,
        spec.user_data,
    )
}

/// The template's name: the platform's prefix and the first 16 hex digits of the content's hash.
pub fn name_for(
    spec: &LaunchSpec,
    image: &str,
    capacity_type: CapacityType,
    template_tags: &BTreeMap<String, String>,
) -> String {
    let digest = Sha256::digest(content(spec, image, capacity_type, template_tags).as_bytes());
    format!("spot-optimizer-{}", &hex::encode(digest)[..16])
}

/// The tags of the templates and the volumes they create: the class's, the cluster's, the mark.
pub(crate) fn template_tags(
    request: &LaunchRequest,
    spec: &LaunchSpec,
) -> BTreeMap<String, String> {
    let mut tags = spec.tags.clone();
    for (key, value) in &request.tags {
        if key == CLUSTER_ID_TAG || key.starts_with("kubernetes.io/cluster/") {
            tags.insert(key.clone(), value.clone());
        }
    }
    tags.insert(MANAGED_TAG.to_owned(), "true".to_owned());
    tags
}

fn data(
    spec: &LaunchSpec,
    image: &str,
    capacity_type: CapacityType,
    template_tags: &BTreeMap<String, String>,
) -> RequestLaunchTemplateData {
    // What a launch creates besides the instance carries the platform's tags too (the
    // permission policy allows creating them only so). Spot requests exist only for spot: EC2
    // refuses their tags on an on-demand launch.
    let mut resources = vec![ResourceType::Volume, ResourceType::NetworkInterface];
    if capacity_type == CapacityType::Spot {
        resources.push(ResourceType::SpotInstancesRequest);
    }
    let tagged: Vec<LaunchTemplateTagSpecificationRequest> = resources
        .into_iter()
        .map(|resource| {
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(resource)
                .set_tags(Some(
                    template_tags
                        .iter()
                        .map(|(key, value)| Tag::builder().key(key).value(value).build())
                        .collect(),
                ))
                .build()
        })
        .collect();
    RequestLaunchTemplateData::builder()
        .image_id(image)
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(&spec.instance_profile_arn)
                .build(),
        )
        .set_security_group_ids(Some(spec.security_group_ids.clone()))
        .user_data(base64::engine::general_purpose::STANDARD.encode(&spec.user_data))
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name(&spec.root_device)
                .ebs(
                    LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(spec.root_volume_gib as i32)
                        .volume_type(VolumeType::from(spec.root_volume_type.as_str()))
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(spec.metadata_hop_limit as i32)
                .build(),
        )
        .set_tag_specifications(Some(tagged))
        .build()
}

/// The id of the template `name`, if it exists.
async fn find(
    provider: &Ec2Provider,
    region: &str,
    name: &str,
) -> Result<Option<String>, CloudError> {
    let client = provider.client(region);
    let output = with_backoff("DescribeLaunchTemplates", || {
        client
            .describe_launch_templates()
            .filters(
                Filter::builder()
                    .name("launch-template-name")
                    .values(name)
                    .build(),
            )
            .send()
    })
    .await?;
    Ok(output
        .launch_templates()
        .iter()
        .find_map(|t| t.launch_template_id().map(str::to_owned)))
}

/// The template for `architecture`'s nodes of this launch, created if it does not exist yet.
pub async fn ensure(
    provider: &Ec2Provider,
    request: &LaunchRequest,
    spec: &LaunchSpec,
    architecture: Architecture,
) -> Result<String, CloudError> {
    let image = spec
        .images
        .get(&architecture)
        .ok_or_else(|| CloudError::InvalidArgument {
            field: "node_class.ami_ids",
            reason: format!(
                "no {} image",
                spot_cloud::node_class::architecture_name(architecture)
            ),
        })?;
    let template_tags = template_tags(request, spec);
    let name = name_for(spec, image, request.capacity_type, &template_tags);
    let region = request.region.as_str();
    if let Some(id) = find(provider, region, &name).await? {
        return Ok(id);
    }
    let client = provider.client(region);
    let created = with_backoff("CreateLaunchTemplate", || {
        client
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(data(spec, image, request.capacity_type, &template_tags))
            .tag_specifications(tags(ResourceType::LaunchTemplate, &template_tags))
            .send()
    })
    .await;
    let id = match created {
        Ok(output) => output
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_owned),
        // Another launch created it meanwhile: use that one.
        Err(error) if error.to_string().contains("AlreadyExists") => {
            find(provider, region, &name).await?
        }
        Err(error) => return Err(error),
    };
    let id = id.ok_or_else(|| {
        CloudError::Unavailable(format!("CreateLaunchTemplate: no id for {name}"))
    })?;
    if let Some(cluster_id) = request.tags.get(CLUSTER_ID_TAG) {
        // Every template the class makes stays: another architecture's or capacity type's may
        // be in use right now.
        let current: Vec<String> = spec
            .images
            .values()
            .flat_map(|image| {
                [CapacityType::Spot, CapacityType::OnDemand]
                    .map(|capacity| name_for(spec, image, capacity, &template_tags))
            })
            .collect();
        delete_unused(provider, region, cluster_id, &current).await;
    }
    Ok(id)
}

/// Deletes the cluster's templates other than `current` that are older than an hour. A failure
/// only leaves a template behind; the launch goes on.
async fn delete_unused(provider: &Ec2Provider, region: &str, cluster_id: &str, current: &[String]) {
    let client = provider.client(region);
    let listed = with_backoff("DescribeLaunchTemplates", || {
        client
            .describe_launch_templates()
            .filters(
                Filter::builder()
                    .name(format!("tag:{CLUSTER_ID_TAG}"))
                    .values(cluster_id)
                    .build(),
            )
            .send()
    })
    .await;
    let Ok(listed) = listed else {
        return;
    };
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    for template in listed.launch_templates() {
        let name = template.launch_template_name().unwrap_or_default();
        let old = template
            .create_time()
            .is_some_and(|t| now - t.secs() > UNUSED_TEMPLATE_KEPT_SECS);
        if current.iter().any(|c| c == name) || !name.starts_with("spot-optimizer-") || !old {
            continue;
        }
        let Some(id) = template.launch_template_id() else {
            continue;
        };
        match with_backoff("DeleteLaunchTemplate", || {
            client
                .delete_launch_template()
                .launch_template_id(id)
                .send()
        })
        .await
        {
            Ok(_) => tracing::info!(template = name, "deleted an unused launch template"),
            Err(error) => {
                tracing::warn!(%error, template = name, "could not delete an unused launch template")
            }
        }
    }
}
