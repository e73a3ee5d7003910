use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, LocationType};
use spot_cloud::{
    CloudError, CloudProvider, Instance, InstanceState, LaunchRequest, LaunchResult, LaunchSpec,
    NodeClass, NodeClassError, Offering, Pool, RoleArn, SpotPrice,
};

use crate::retry::with_backoff;
use crate::{IceCache, convert, launch};

/// Where and how to reach EC2.
#[derive(Debug, Clone, Default)]
pub struct Ec2Settings {
    /// Another endpoint than AWS's (a test peer such as moto's server).
    pub endpoint_url: Option<String>,
}

/// The cloud of one linked AWS account. Cheap to clone; clients are made per region on first use.
#[derive(Clone)]
pub struct Ec2Provider {
    config: SdkConfig,
    clients: Arc<Mutex<HashMap<String, Client>>>,
    pub(crate) ice: Arc<IceCache>,
}

impl Ec2Provider {
    /// The platform's own AWS configuration: credentials from the default chain (env, profile,
    /// IRSA, IMDS), and the endpoint override from `settings` if any.
    pub async fn platform_config(settings: &Ec2Settings) -> SdkConfig {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new("us-east-1"));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }

    /// Works in the customer's account through their role, proving the tenant's external id.
    /// `platform` carries the platform's own credentials ([`Ec2Provider::platform_config`]).
    pub async fn assume_role(platform: &SdkConfig, role_arn: &RoleArn, external_id: &str) -> Self {
        let role = aws_config::sts::AssumeRoleProvider::builder(role_arn.to_string())
            .external_id(external_id)
            .session_name("spot-optimizer")
            .configure(platform)
            .build()
            .await;
        let config = platform
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(role),
            )
            .build();
        Self::from_config(config)
    }

    /// From a ready SDK config (static credentials in tests, or any other source).
    pub fn from_config(config: SdkConfig) -> Self {
        Self {
            config,
            clients: Arc::default(),
            ice: Arc::default(),
        }
    }

    /// A provider whose every region uses `client` (for tests with mocked clients). The client's
    /// own retries are turned off, as on every client this provider makes.
    pub fn from_client(client: Client, regions: &[&str]) -> Self {
        let client = Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
                .build(),
        );
        let provider = Self::from_config(
            SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .build(),
        );
        {
            let mut clients = provider.clients.lock().unwrap_or_else(|p| p.into_inner());
            for region in regions {
                clients.insert((*region).to_owned(), client.clone());
            }
        }
        provider
    }

    pub(crate) fn eks(&self, region: &str) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::from_conf(
            aws_sdk_eks::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_config(aws_sdk_eks::config::retry::RetryConfig::disabled())
                .build(),
        )
    }

    pub(crate) fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_config(aws_sdk_ssm::config::retry::RetryConfig::disabled())
                .build(),
        )
    }

    pub(crate) fn autoscaling(&self, region: &str) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::from_conf(
            aws_sdk_autoscaling::config::Builder::from(&self.config)
                .region(Region::new(region.to_owned()))
                .retry_config(aws_sdk_autoscaling::config::retry::RetryConfig::disabled())
                .build(),
        )
    }

    /// The Auto Scaling group of each of `instance_ids` that is in service in one (an instance
    /// already leaving its group is not). An account whose policy predates this call (no
    /// `autoscaling:DescribeAutoScalingInstances`) is taken to have no groups.
    async fn auto_scaling_groups(
        &self,
        region: &str,
        instance_ids: &[String],
    ) -> Result<HashMap<String, String>, CloudError> {
        let client = self.autoscaling(region);
        let mut groups = HashMap::new();
        // The call takes at most 50 instances.
        for chunk in instance_ids.chunks(50) {
            let output = match with_backoff("DescribeAutoScalingInstances", || {
                client
                    .describe_auto_scaling_instances()
                    .set_instance_ids(Some(chunk.to_vec()))
                    .send()
            })
            .await
            {
                Ok(output) => output,
                Err(CloudError::AccessDenied(message)) => {
                    tracing::warn!(%message, "the role may not describe Auto Scaling instances; terminating directly");
                    return Ok(HashMap::new());
                }
                Err(other) => return Err(other),
            };
            for instance in output.auto_scaling_instances() {
                let leaving = instance.lifecycle_state().is_some_and(|state| {
                    state.starts_with("Terminat") || state.starts_with("Detach")
                });
                if let (false, Some(id), Some(group)) = (
                    leaving,
                    instance.instance_id(),
                    instance.auto_scaling_group_name(),
                ) {
                    groups.insert(id.to_owned(), group.to_owned());
                }
            }
        }
        Ok(groups)
    }

    /// IAM is global; its endpoint is us-east-1's.
    pub(crate) fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&self.config)
                .region(Region::new("us-east-1"))
                .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
                .build(),
        )
    }

    pub(crate) fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_ec2::config::Builder::from(&self.config)
                    .region(Region::new(region.to_owned()))
                    // Throttling is retried by `with_backoff`; no second layer of retries.
                    .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }

    /// Proves the account is reachable with the role: lists the region's zones. Returns them.
    pub async fn verify(&self, region: &str) -> Result<Vec<String>, CloudError> {
        let client = self.client(region);
        let output = with_backoff("DescribeAvailabilityZones", || {
            client.describe_availability_zones().send()
        })
        .await?;
        Ok(output
            .availability_zones()
            .iter()
            .filter_map(|zone| zone.zone_name().map(str::to_owned))
            .collect())
    }

    /// Pools recently out of capacity are skipped by launches for a few minutes.
    pub fn ice_cache(&self) -> &IceCache {
        &self.ice
    }
}

#[async_trait::async_trait]
impl CloudProvider for Ec2Provider {
    async fn regions(&self) -> Result<Vec<String>, CloudError> {
        let client = self.client("us-east-1");
        let output = with_backoff("DescribeRegions", || client.describe_regions().send()).await?;
        let mut regions: Vec<String> = output
            .regions()
            .iter()
            .filter_map(|region| region.region_name().map(str::to_owned))
            .collect();
        regions.sort();
        Ok(regions)
    }

    async fn instance_types(&self, region: &str) -> Result<Vec<String>, CloudError> {
        let client = self.client(region);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = with_backoff("DescribeInstanceTypes", || {
                client
                    .describe_instance_types()
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
            names.extend(
                page.instance_types()
                    .iter()
                    .filter_map(|t| t.instance_type().map(|name| name.as_str().to_owned())),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        names.sort();
        Ok(names)
    }

    async fn offerings(&self, region: &str) -> Result<Vec<Offering>, CloudError> {
        let client = self.client(region);
        let mut offerings = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = with_backoff("DescribeInstanceTypeOfferings", || {
                client
                    .describe_instance_type_offerings()
                    .location_type(LocationType::AvailabilityZone)
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
            offerings.extend(
                page.instance_type_offerings()
                    .iter()
                    .filter_map(|offering| {
                        Some(Offering {
                            zone: offering.location()?.to_owned(),
                            instance_type: offering.instance_type()?.as_str().to_owned(),
                        })
                    }),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        offerings.sort();
        Ok(offerings)
    }

    async fn spot_prices(&self, region: &str) -> Result<Vec<SpotPrice>, CloudError> {
        let client = self.client(region);
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        let mut latest: HashMap<Pool, SpotPrice> = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            // A start time of now returns the price in force now for every pool.
            let page = with_backoff("DescribeSpotPriceHistory", || {
                client
                    .describe_spot_price_history()
                    .product_descriptions("Linux/UNIX")
                    .start_time(now)
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
            for point in page.spot_price_history() {
                let (Some(zone), Some(instance_type), Some(price)) = (
                    point.availability_zone(),
                    point.instance_type(),
                    point.spot_price(),
                ) else {
                    continue;
                };
                let Ok(usd_per_hour) = price.parse::<f64>() else {
                    continue;
                };
                let pool = Pool {
                    region: region.to_owned(),
                    zone: zone.to_owned(),
                    instance_type: instance_type.as_str().to_owned(),
                };
                let at = point.timestamp().map_or(0, |t| t.secs());
                let newer = latest.get(&pool).is_none_or(|known| known.at <= at);
                if newer {
                    latest.insert(
                        pool.clone(),
                        SpotPrice {
                            pool,
                            usd_per_hour,
                            at,
                        },
                    );
                }
            }
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut prices: Vec<SpotPrice> = latest.into_values().collect();
        prices.sort_by(|a, b| a.pool.cmp(&b.pool));
        Ok(prices)
    }

    async fn launch(&self, request: LaunchRequest) -> Result<LaunchResult, CloudError> {
        launch::launch(self, request).await
    }

    async fn resolve_node_class(
        &self,
        region: &str,
        cluster_name: &str,
        class: &NodeClass,
    ) -> Result<LaunchSpec, NodeClassError> {
        self.resolve(region, cluster_name, class).await
    }

    async fn import_node_class(
        &self,
        region: &str,
        cluster_name: &str,
    ) -> Result<NodeClass, NodeClassError> {
        self.import(region, cluster_name).await
    }

    async fn terminate(&self, region: &str, instance_ids: &[String]) -> Result<(), CloudError> {
        if instance_ids.is_empty() {
            return Ok(());
        }
        // A node of an Auto Scaling group (an EKS managed node group) leaves it with the group's
        // desired capacity lowered: terminated alone, the group would launch it again.
        let groups = self.auto_scaling_groups(region, instance_ids).await?;
        let alone: Vec<String> = instance_ids
            .iter()
            .filter(|id| !groups.contains_key(*id))
            .cloned()
            .collect();
        if !alone.is_empty() {
            let client = self.client(region);
            with_backoff("TerminateInstances", || {
                client
                    .terminate_instances()
                    .set_instance_ids(Some(alone.clone()))
                    .send()
            })
            .await?;
        }
        let autoscaling = self.autoscaling(region);
        for (id, group) in &groups {
            with_backoff("TerminateInstanceInAutoScalingGroup", || {
                autoscaling
                    .terminate_instance_in_auto_scaling_group()
                    .instance_id(id)
                    .should_decrement_desired_capacity(true)
                    .send()
            })
            .await
            .map_err(|error| match error {
                // The group's minimum size keeps the node.
                CloudError::Unavailable(message) if message.contains("ValidationError") => {
                    CloudError::InvalidArgument {
                        field: "instance_ids",
                        reason: format!(
                            "{id} belongs to the Auto Scaling group `{group}`, whose minimum size keeps it ({message}); lower the group's minimum so the platform can replace its nodes"
                        ),
                    }
                }
                other => other,
            })?;
        }
        Ok(())
    }

    async fn instances_tagged(
        &self,
        region: &str,
        tag_key: &str,
    ) -> Result<Vec<Instance>, CloudError> {
        let client = self.client(region);
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = with_backoff("DescribeInstances", || {
                client
                    .describe_instances()
                    .filters(Filter::builder().name("tag-key").values(tag_key).build())
                    .filters(
                        Filter::builder()
                            .name("instance-state-name")
                            .values("pending")
                            .values("running")
                            .build(),
                    )
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
            for reservation in page.reservations() {
                instances.extend(
                    reservation
                        .instances()
                        .iter()
                        .filter_map(|i| convert::instance(region, i))
                        .filter(|i| i.state != InstanceState::Terminated),
                );
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(instances)
    }
}
