//! Node classes against the account: resolving one into what a launch uses (subnets per zone,
//! security groups, the instance profile, images per architecture, user data with the cluster's
//! endpoint), and importing one from a cluster's current nodes.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use spot_cloud::node_class::{architecture_name, architecture_named};
use spot_cloud::{
    AmiFamily, Architecture, Catalog, CloudError, FieldError, KubeCluster, LaunchSpec, NodeClass,
    NodeClassError, Selector,
};

use crate::Ec2Provider;
use crate::retry::with_backoff;

/// Whether AWS said the thing asked for does not exist.
fn not_found(error: &CloudError) -> bool {
    let text = error.to_string();
    [
        "NotFound",
        "NoSuchEntity",
        "ResourceNotFound",
        "does not exist",
    ]
    .iter()
    .any(|code| text.contains(code))
}

fn invalid(field: &str, reason: impl Into<String>) -> NodeClassError {
    NodeClassError::Invalid(vec![FieldError::new(field, reason)])
}

fn filters(tags: &BTreeMap<String, String>) -> Vec<Filter> {
    tags.iter()
        .map(|(key, value)| {
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build()
        })
        .collect()
}

fn describe_tags(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A resource a selector found: its id and its VPC.
struct Found<'a> {
    id: &'a str,
    vpc: &'a str,
}

/// Subnets or security groups chosen by a [`Selector`], as their errors name them.
#[derive(Clone, Copy)]
struct Selected {
    /// The node class field (`subnets`).
    field: &'static str,
    /// What they are, for "no subnet in us-east-1 carries the tags ...".
    noun: &'static str,
}

const SUBNETS: Selected = Selected {
    field: "subnets",
    noun: "subnet",
};
const SECURITY_GROUPS: Selected = Selected {
    field: "security_groups",
    noun: "security group",
};

impl Selected {
    fn ids_field(self) -> String {
        format!("{}.ids", self.field)
    }

    /// The ids of what was found in the cluster's VPC (any VPC when it is not known), or the
    /// field errors: each found elsewhere, and each named id the account does not have.
    fn check<'a>(
        self,
        region: &str,
        selector: &Selector,
        vpc_id: &str,
        found: impl Iterator<Item = Found<'a>>,
    ) -> Result<Vec<&'a str>, NodeClassError> {
        let mut errors = Vec::new();
        let mut seen = Vec::new();
        let mut in_vpc = Vec::new();
        for Found { id, vpc } in found {
            seen.push(id);
            if vpc_id.is_empty() || vpc == vpc_id {
                in_vpc.push(id);
            } else {
                errors.push(FieldError::new(
                    self.field,
                    format!("{id} is in {vpc}, not in the cluster's VPC {vpc_id}"),
                ));
            }
        }
        for id in &selector.ids {
            if !seen.contains(&id.as_str()) {
                errors.push(FieldError::new(
                    self.ids_field(),
                    format!("{id} is not in the account's {region}"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(in_vpc)
        } else {
            Err(NodeClassError::Invalid(errors))
        }
    }

    /// Nothing usable was found by the selector's tags.
    fn none_tagged(self, region: &str, selector: &Selector) -> NodeClassError {
        invalid(
            self.field,
            format!(
                "no {} in {region} carries the tags {}",
                self.noun,
                describe_tags(&selector.tags)
            ),
        )
    }
}

/// A describe call that names an id the account does not have fails as a whole: say which.
fn missing_ids(
    error: CloudError,
    selected: Selected,
    selector: &Selector,
    region: &str,
) -> NodeClassError {
    if not_found(&error) {
        invalid(
            &selected.ids_field(),
            format!("{} not found in {region}", selector.ids.join(", ")),
        )
    } else {
        error.into()
    }
}

/// A part's value, or its field errors added to `errors`; a cloud failure ends the check.
fn gather<T>(
    errors: &mut Vec<FieldError>,
    result: Result<T, NodeClassError>,
) -> Result<Option<T>, NodeClassError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(NodeClassError::Invalid(found)) => {
            errors.extend(found);
            Ok(None)
        }
        Err(cloud) => Err(cloud),
    }
}

impl Ec2Provider {
    /// The cluster's endpoint, CA, service range, version and VPC (`eks:DescribeCluster`).
    pub async fn kube_cluster(&self, region: &str, name: &str) -> Result<KubeCluster, CloudError> {
        let client = self.eks(region);
        let output = with_backoff("DescribeCluster", || {
            client.describe_cluster().name(name).send()
        })
        .await?;
        let cluster = output.cluster().ok_or_else(|| {
            CloudError::Unavailable(format!(
                "DescribeCluster: no cluster `{name}` in the answer"
            ))
        })?;
        let vpc_config = cluster.resources_vpc_config();
        let mut vpc_id = vpc_config
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_owned();
        // EKS names the VPC; a peer that does not is asked for the VPC of the cluster's subnets.
        if let (true, Some(subnet)) = (
            vpc_id.is_empty(),
            vpc_config.and_then(|v| v.subnet_ids().first()),
        ) {
            let client = self.client(region);
            let subnets = with_backoff("DescribeSubnets", || {
                client.describe_subnets().subnet_ids(subnet).send()
            })
            .await?;
            vpc_id = subnets
                .subnets()
                .first()
                .and_then(|s| s.vpc_id())
                .unwrap_or_default()
                .to_owned();
        }
        if cluster.endpoint().unwrap_or_default().is_empty()
            || cluster
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .is_empty()
        {
            return Err(CloudError::Unavailable(format!(
                "DescribeCluster: `{name}` has no API endpoint or CA yet (is it still being created?)"
            )));
        }
        Ok(KubeCluster {
            name: name.to_owned(),
            endpoint: cluster.endpoint().unwrap_or_default().to_owned(),
            certificate_authority: cluster
                .certificate_authority()
                .and_then(|ca| ca.data())
                .unwrap_or_default()
                .to_owned(),
            service_cidr: cluster
                .kubernetes_network_config()
                .and_then(|n| n.service_ipv4_cidr())
                .unwrap_or("10.100.0.0/16")
                .to_owned(),
            kubernetes_version: cluster.version().unwrap_or_default().to_owned(),
            vpc_id,
        })
    }

    /// The subnet per zone: where a zone has several, the first by id that has free addresses.
    /// Chosen by id, not by free addresses, so a retried launch (same client token) sends the
    /// same overrides; EC2 refuses a token repeated with other parameters.
    async fn subnets(
        &self,
        region: &str,
        selector: &Selector,
        vpc_id: &str,
    ) -> Result<BTreeMap<String, String>, NodeClassError> {
        let client = self.client(region);
        let output = with_backoff("DescribeSubnets", || {
            client
                .describe_subnets()
                .set_subnet_ids((!selector.ids.is_empty()).then(|| selector.ids.clone()))
                .set_filters((!selector.tags.is_empty()).then(|| filters(&selector.tags)))
                .send()
        })
        .await
        .map_err(|error| missing_ids(error, SUBNETS, selector, region))?;
        let found = output.subnets().iter().map(|subnet| Found {
            id: subnet.subnet_id().unwrap_or_default(),
            vpc: subnet.vpc_id().unwrap_or_default(),
        });
        let in_vpc = SUBNETS.check(region, selector, vpc_id, found)?;
        let mut best: BTreeMap<String, String> = BTreeMap::new();
        for subnet in output.subnets() {
            let id = subnet.subnet_id().unwrap_or_default();
            let zone = subnet.availability_zone().unwrap_or_default().to_owned();
            let full = subnet.available_ip_address_count() == Some(0);
            if in_vpc.contains(&id)
                && !full
                && best.get(&zone).is_none_or(|known| id < known.as_str())
            {
                best.insert(zone, id.to_owned());
            }
        }
        if best.is_empty() {
            return Err(SUBNETS.none_tagged(region, selector));
        }
        Ok(best)
    }

    async fn security_groups(
        &self,
        region: &str,
        selector: &Selector,
        vpc_id: &str,
    ) -> Result<Vec<String>, NodeClassError> {
        let client = self.client(region);
        let output = with_backoff("DescribeSecurityGroups", || {
            client
                .describe_security_groups()
                .set_group_ids((!selector.ids.is_empty()).then(|| selector.ids.clone()))
                .set_filters((!selector.tags.is_empty()).then(|| filters(&selector.tags)))
                .send()
        })
        .await
        .map_err(|error| missing_ids(error, SECURITY_GROUPS, selector, region))?;
        let found = output.security_groups().iter().map(|group| Found {
            id: group.group_id().unwrap_or_default(),
            vpc: group.vpc_id().unwrap_or_default(),
        });
        let mut ids: Vec<String> = SECURITY_GROUPS
            .check(region, selector, vpc_id, found)?
            .into_iter()
            .map(str::to_owned)
            .collect();
        if ids.is_empty() {
            return Err(SECURITY_GROUPS.none_tagged(region, selector));
        }
        ids.sort();
        Ok(ids)
    }

    /// The profile's ARN (`iam:GetInstanceProfile`).
    async fn instance_profile(&self, profile: &str) -> Result<String, NodeClassError> {
        let name = profile.rsplit('/').next().unwrap_or(profile);
        let client = self.iam();
        let output = with_backoff("GetInstanceProfile", || {
            client
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
        })
        .await
        .map_err(|error| {
            if not_found(&error) {
                invalid(
                    "instance_profile",
                    format!("no instance profile `{name}` in the account"),
                )
            } else {
                error.into()
            }
        })?;
        Ok(output
            .instance_profile()
            .map(|p| p.arn().to_owned())
            .unwrap_or_default())
    }

    /// Each image's architecture, for the images that exist.
    async fn image_architectures(
        &self,
        region: &str,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, Option<Architecture>>, CloudError> {
        let client = self.client(region);
        let output = with_backoff("DescribeImages", || {
            client
                .describe_images()
                .set_image_ids(Some(ids.clone()))
                .send()
        })
        .await;
        let output = match output {
            Ok(output) => output,
            Err(error) if not_found(&error) => return Ok(BTreeMap::new()),
            Err(error) => return Err(error),
        };
        Ok(output
            .images()
            .iter()
            .filter_map(|image| {
                let arch = match image.architecture()?.as_str() {
                    "x86_64" => Some(Architecture::Amd64),
                    "arm64" => Some(Architecture::Arm64),
                    _ => None,
                };
                Some((image.image_id()?.to_owned(), arch))
            })
            .collect())
    }

    /// The image per architecture: the class's own ids (checked), or the family's recommended
    /// images for the cluster's version (an architecture without one is left out).
    async fn images(
        &self,
        region: &str,
        class: &NodeClass,
        cluster: &KubeCluster,
    ) -> Result<BTreeMap<Architecture, String>, NodeClassError> {
        if !class.ami_ids.is_empty() {
            let found = self
                .image_architectures(region, class.ami_ids.values().cloned().collect())
                .await?;
            let mut errors = Vec::new();
            let mut images = BTreeMap::new();
            for (name, image) in &class.ami_ids {
                let Some(wanted) = architecture_named(name) else {
                    continue;
                };
                match found.get(image) {
                    None => errors.push(FieldError::new(
                        format!("ami_ids.{name}"),
                        format!("{image} is not an image in {region}"),
                    )),
                    Some(arch) if *arch != Some(wanted) => errors.push(FieldError::new(
                        format!("ami_ids.{name}"),
                        format!(
                            "{image} is built for {}, not {name}",
                            arch.map_or("another architecture", architecture_name)
                        ),
                    )),
                    Some(_) => {
                        images.insert(wanted, image.clone());
                    }
                }
            }
            if !errors.is_empty() {
                return Err(NodeClassError::Invalid(errors));
            }
            return Ok(images);
        }
        let client = self.ssm(region);
        let mut images = BTreeMap::new();
        for arch in [Architecture::Amd64, Architecture::Arm64] {
            let name = class
                .ami_family
                .image_parameter(&cluster.kubernetes_version, arch);
            match with_backoff("GetParameter", || client.get_parameter().name(&name).send()).await {
                Ok(output) => {
                    if let Some(image) = output.parameter().and_then(|p| p.value()) {
                        images.insert(arch, image.to_owned());
                    }
                }
                Err(error) if not_found(&error) => {}
                Err(error) => return Err(error.into()),
            }
        }
        if images.is_empty() {
            return Err(invalid(
                "ami_family",
                format!(
                    "AWS publishes no {} image for Kubernetes {}",
                    class.ami_family.name(),
                    cluster.kubernetes_version
                ),
            ));
        }
        Ok(images)
    }

    pub(crate) async fn resolve(
        &self,
        region: &str,
        cluster_name: &str,
        class: &NodeClass,
    ) -> Result<LaunchSpec, NodeClassError> {
        let errors = class.check();
        if !errors.is_empty() {
            return Err(NodeClassError::Invalid(errors));
        }
        let cluster = self
            .kube_cluster(region, cluster_name)
            .await
            .map_err(|error| {
                if not_found(&error) {
                    NodeClassError::Invalid(vec![FieldError {
                        field: "cluster".to_owned(),
                        reason: format!(
                            "`{cluster_name}` is not an EKS cluster in {region}: the bootstrap needs its endpoint"
                        ),
                    }])
                } else {
                    error.into()
                }
            })?;
        // Every part is checked, so one answer names everything that is wrong.
        let (subnets, groups, profile, images) = tokio::join!(
            self.subnets(region, &class.subnets, &cluster.vpc_id),
            self.security_groups(region, &class.security_groups, &cluster.vpc_id),
            self.instance_profile(&class.instance_profile),
            self.images(region, class, &cluster),
        );
        let mut errors = Vec::new();
        let subnets = gather(&mut errors, subnets)?;
        let groups = gather(&mut errors, groups)?;
        let profile = gather(&mut errors, profile)?;
        let images = gather(&mut errors, images)?;
        let (Some(subnets), Some(groups), Some(profile), Some(images)) =
            (subnets, groups, profile, images)
        else {
            return Err(NodeClassError::Invalid(errors));
        };
        let user_data =
            spot_cloud::user_data::compose(class.ami_family, &cluster, &class.user_data)
                .map_err(|reason| invalid("user_data", reason))?;
        Ok(LaunchSpec {
            subnets,
            security_group_ids: groups,
            instance_profile_arn: profile,
            images,
            user_data,
            root_device: class.ami_family.root_device().to_owned(),
            root_volume_gib: class.root_volume_gib,
            root_volume_type: class.root_volume_type.clone(),
            metadata_hop_limit: class.metadata_hop_limit,
            tags: class.tags.clone(),
        })
    }

    /// A class from the cluster's running nodes: their subnets, security groups, instance
    /// profile and images (by architecture), and the family their images' names show.
    pub(crate) async fn import(
        &self,
        region: &str,
        cluster_name: &str,
    ) -> Result<NodeClass, NodeClassError> {
        let client = self.client(region);
        let mut instances = Vec::new();
        // EKS tags its nodes with the cluster's name; others use the Kubernetes cluster tag.
        for (tag, value) in [
            ("tag:eks:cluster-name".to_owned(), cluster_name.to_owned()),
            (
                format!("tag:kubernetes.io/cluster/{cluster_name}"),
                "owned".to_owned(),
            ),
        ] {
            let output = with_backoff("DescribeInstances", || {
                client
                    .describe_instances()
                    .filters(Filter::builder().name(&tag).values(&value).build())
                    .filters(
                        Filter::builder()
                            .name("instance-state-name")
                            .values("running")
                            .build(),
                    )
                    .send()
            })
            .await?;
            instances.extend(
                output
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances().iter().cloned()),
            );
            if !instances.is_empty() {
                break;
            }
        }
        if instances.is_empty() {
            return Err(NodeClassError::Invalid(vec![FieldError {
                field: "cluster".to_owned(),
                reason: format!(
                    "`{cluster_name}` has no running node in {region} to import a node class from: save one"
                ),
            }]));
        }
        let catalog = Catalog::embedded();
        let mut subnets = BTreeSet::new();
        let mut groups = BTreeSet::new();
        let mut profiles = BTreeSet::new();
        let mut ami_ids = BTreeMap::new();
        for instance in &instances {
            if let Some(subnet) = instance.subnet_id() {
                subnets.insert(subnet.to_owned());
            }
            for group in instance.security_groups() {
                if let Some(id) = group.group_id() {
                    groups.insert(id.to_owned());
                }
            }
            if let Some(arn) = instance.iam_instance_profile().and_then(|p| p.arn()) {
                profiles.insert(arn.to_owned());
            }
            let arch = instance
                .instance_type()
                .and_then(|t| catalog.get(t.as_str()).ok())
                .map(|t| t.architecture);
            if let (Some(arch), Some(image)) = (arch, instance.image_id()) {
                ami_ids
                    .entry(architecture_name(arch).to_owned())
                    .or_insert_with(|| image.to_owned());
            }
        }
        // The nodes' own images only where their family is known: an Amazon Linux 2 image (or
        // any other) would not boot with the bootstrap the platform writes, so those nodes'
        // successors take AWS's recommended AL2023 images.
        let (family, ami_ids) = match self
            .family_of(region, ami_ids.values().cloned().collect())
            .await
        {
            Some(family) => (family, ami_ids),
            None => (AmiFamily::Al2023, BTreeMap::new()),
        };
        let mut class = NodeClass::discovery_default(cluster_name, "");
        class.subnets = Selector {
            ids: subnets.into_iter().collect(),
            tags: BTreeMap::new(),
        };
        if !groups.is_empty() {
            class.security_groups = Selector {
                ids: groups.into_iter().collect(),
                tags: BTreeMap::new(),
            };
        }
        class.instance_profile = profiles.into_iter().next().unwrap_or_default();
        class.ami_family = family;
        class.ami_ids = ami_ids;
        Ok(class)
    }

    /// The family the images' names show (AL2023 or Bottlerocket as AWS names them); none for
    /// any other image, whose bootstrap the platform cannot write.
    async fn family_of(&self, region: &str, images: Vec<String>) -> Option<AmiFamily> {
        if images.is_empty() {
            return None;
        }
        let client = self.client(region);
        let names: Vec<String> = with_backoff("DescribeImages", || {
            client
                .describe_images()
                .set_image_ids(Some(images.clone()))
                .send()
        })
        .await
        .map(|output| {
            output
                .images()
                .iter()
                .filter_map(|i| i.name().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
        let all =
            |marker: &str| !names.is_empty() && names.iter().all(|name| name.contains(marker));
        if all("bottlerocket") {
            Some(AmiFamily::Bottlerocket)
        } else if all("al2023") {
            Some(AmiFamily::Al2023)
        } else {
            None
        }
    }
}
