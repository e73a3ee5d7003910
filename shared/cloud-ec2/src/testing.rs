//! For tests: moto's server (EC2, STS, EKS, SSM, IAM) as a real wire peer, and EKS clusters and
//! nodes seeded into it as a customer's account would hold them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceMarketOptionsRequest, InstanceType,
    LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateSpecification, MarketType,
    Placement, RequestLaunchTemplateData, ResourceType, Tag, TagSpecification,
};
use spot_cloud::{CapacityType, Pool};

/// moto's server on a free loopback port (`scripts/moto_server.py`), stopped on drop.
pub struct MotoServer {
    child: Child,
    pub url: String,
}

impl MotoServer {
    pub fn start() -> MotoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // Where the crate under test lives when it runs (every crate is two levels deep), not
        // where this one was compiled: a shared target dir may hold a build of a checkout that
        // is gone.
        let root = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
        let script = format!("{root}/../../scripts/moto_server.py");
        let mut child = Command::new("python3")
            .args([script.as_str(), &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // moto prints its own banner first; wait for our "ready".
        let stdout = child.stdout.take().expect("stdout is piped");
        let ready = BufReader::new(stdout)
            .lines()
            .take(10)
            .any(|line| line.is_ok_and(|l| l.trim() == "ready"));
        assert!(
            ready,
            "moto's server did not start: pip install 'moto[server]'"
        );
        MotoServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The platform's configuration against moto, with test credentials (moto accepts any).
    pub async fn platform(&self) -> SdkConfig {
        platform_config(&self.url).await
    }

    /// Launches `count` nodes of a cluster tagged as EKS tags them (plain RunInstances, as a
    /// node group outside the platform would).
    pub async fn seed_nodes(
        &self,
        cluster: &str,
        pool: Pool,
        capacity_type: CapacityType,
        count: u32,
    ) {
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.platform().await)
                .region(Region::new(pool.region.clone()))
                .build(),
        );
        let mut call = ec2
            .run_instances()
            .image_id(X86_IMAGE)
            .instance_type(InstanceType::from(pool.instance_type.as_str()))
            .placement(Placement::builder().availability_zone(&pool.zone).build())
            .min_count(count as i32)
            .max_count(count as i32)
            .tag_specifications(eks_node_tags(cluster));
        if capacity_type == CapacityType::Spot {
            call = call.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .build(),
            );
        }
        let launched = call.send().await.expect("moto launches");
        assert_eq!(launched.instances().len(), count as usize);
    }

    /// An x86_64 image named `name` (moto keeps an architecture only for images made from an
    /// instance).
    async fn image_named(&self, ec2: &aws_sdk_ec2::Client, name: &str) -> String {
        let builder = ec2
            .run_instances()
            .image_id(X86_IMAGE)
            .instance_type(InstanceType::M5Large)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .expect("an image builder")
            .instances()[0]
            .instance_id()
            .expect("its id")
            .to_owned();
        let image = ec2
            .create_image()
            .instance_id(&builder)
            .name(name)
            .send()
            .await
            .expect("an image")
            .image_id()
            .expect("its id")
            .to_owned();
        ec2.terminate_instances()
            .instance_ids(builder)
            .send()
            .await
            .expect("the builder goes");
        image
    }

    /// An EKS cluster as a customer's account holds it: a VPC with a subnet per zone and a
    /// security group (both tagged for discovery), the node role's instance profile, the
    /// cluster (Kubernetes 1.31), and `per_zone` on-demand nodes in each zone, launched from
    /// the node group's launch template with an x86_64 image named `image_name` (such as
    /// [`AL2023_IMAGE_NAME`]).
    pub async fn seed_eks_cluster(
        &self,
        name: &str,
        zones: &[&str],
        instance_type: &str,
        per_zone: i32,
        image_name: &str,
    ) -> SeededCluster {
        let platform = self.platform().await;
        let ec2 = aws_sdk_ec2::Client::new(&platform);
        let image_id = self.image_named(&ec2, image_name).await;
        let iam = aws_sdk_iam::Client::new(&platform);
        let eks = aws_sdk_eks::Client::new(&platform);
        let discovery = || {
            Tag::builder()
                .key("karpenter.sh/discovery")
                .value(name)
                .build()
        };
        let vpc_id = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .expect("a VPC")
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("its id")
            .to_owned();
        let mut subnets = BTreeMap::new();
        for (index, zone) in zones.iter().enumerate() {
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc_id)
                .cidr_block(format!("10.0.{index}.0/24"))
                .availability_zone(*zone)
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Subnet)
                        .tags(discovery())
                        .build(),
                )
                .send()
                .await
                .expect("a subnet");
            subnets.insert(
                (*zone).to_owned(),
                subnet
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("its id")
                    .to_owned(),
            );
        }
        let security_group = ec2
            .create_security_group()
            .group_name(format!("{name}-nodes"))
            .description("the cluster's nodes")
            .vpc_id(&vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .tags(discovery())
                    .build(),
            )
            .send()
            .await
            .expect("a security group")
            .group_id()
            .expect("its id")
            .to_owned();
        let role = iam
            .create_role()
            .role_name(format!("{name}-node"))
            .assume_role_policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            )
            .send()
            .await
            .expect("the node role");
        let profile = iam
            .create_instance_profile()
            .instance_profile_name(format!("{name}-node"))
            .send()
            .await
            .expect("an instance profile");
        iam.add_role_to_instance_profile()
            .instance_profile_name(format!("{name}-node"))
            .role_name(format!("{name}-node"))
            .send()
            .await
            .expect("the role in the profile");
        let instance_profile_arn = profile
            .instance_profile()
            .map(|p| p.arn().to_owned())
            .expect("its ARN");
        eks.create_cluster()
            .name(name)
            .version("1.31")
            .role_arn(
                role.role()
                    .map(|r| r.arn().to_owned())
                    .expect("the role's ARN"),
            )
            .resources_vpc_config(
                aws_sdk_eks::types::VpcConfigRequest::builder()
                    .set_subnet_ids(Some(subnets.values().cloned().collect()))
                    .build(),
            )
            .send()
            .await
            .expect("the EKS cluster");
        let template = ec2
            .create_launch_template()
            .launch_template_name(format!("eks-{name}-nodes"))
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .image_id(&image_id)
                    .security_group_ids(&security_group)
                    .iam_instance_profile(
                        LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                            .arn(&instance_profile_arn)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("the node group's template")
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .expect("its id")
            .to_owned();
        let mut instance_ids = Vec::new();
        for subnet in subnets.values() {
            let launched = ec2
                .run_instances()
                .launch_template(
                    LaunchTemplateSpecification::builder()
                        .launch_template_id(&template)
                        .build(),
                )
                .instance_type(InstanceType::from(instance_type))
                .subnet_id(subnet)
                .security_group_ids(&security_group)
                .iam_instance_profile(
                    IamInstanceProfileSpecification::builder()
                        .arn(&instance_profile_arn)
                        .build(),
                )
                .min_count(per_zone)
                .max_count(per_zone)
                .tag_specifications(eks_node_tags(name))
                .send()
                .await
                .expect("the node group's nodes");
            instance_ids.extend(
                launched
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_owned)),
            );
        }
        SeededCluster {
            name: name.to_owned(),
            image_id,
            vpc_id,
            subnets,
            security_group,
            instance_profile_arn,
            instance_ids,
        }
    }
}

/// An instance as moto holds it, for assertions.
#[derive(Debug, Clone)]
pub struct SeenInstance {
    pub id: String,
    pub zone: String,
    pub instance_type: String,
    pub subnet_id: String,
    pub image_id: String,
    pub spot: bool,
    /// pending, running, shutting-down, terminated...
    pub state: String,
    pub tags: BTreeMap<String, String>,
}

/// A launch template's default version, for assertions (moto does not copy a template's
/// metadata options and groups onto the instances it launches).
#[derive(Debug, Clone)]
pub struct SeenTemplate {
    pub name: String,
    pub image_id: String,
    pub security_group_ids: Vec<String>,
    pub instance_profile_arn: String,
    /// Decoded.
    pub user_data: String,
    pub http_tokens: String,
    pub hop_limit: i32,
}

/// What a test asks moto about the account; cheap to clone into tasks.
#[derive(Debug, Clone)]
pub struct MotoPeer {
    url: String,
}

impl MotoServer {
    pub fn peer(&self) -> MotoPeer {
        MotoPeer {
            url: self.url.clone(),
        }
    }
}

impl MotoPeer {
    async fn platform(&self) -> SdkConfig {
        platform_config(&self.url).await
    }

    /// Instances whose tag `key` is `value`, in any state.
    pub async fn instances_tagged(&self, key: &str, value: &str) -> Vec<SeenInstance> {
        let ec2 = aws_sdk_ec2::Client::new(&self.platform().await);
        let output = ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(format!("tag:{key}"))
                    .values(value)
                    .build(),
            )
            .send()
            .await
            .expect("moto describes instances");
        output
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| SeenInstance {
                id: i.instance_id().unwrap_or_default().to_owned(),
                zone: i
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .unwrap_or_default()
                    .to_owned(),
                instance_type: i
                    .instance_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                subnet_id: i.subnet_id().unwrap_or_default().to_owned(),
                image_id: i.image_id().unwrap_or_default().to_owned(),
                spot: i.instance_lifecycle().is_some_and(|l| l.as_str() == "spot"),
                state: i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
                tags: i
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                    .collect(),
            })
            .collect()
    }

    /// The launch templates whose names start with `prefix`.
    pub async fn launch_templates(&self, prefix: &str) -> Vec<SeenTemplate> {
        use base64::Engine;
        let ec2 = aws_sdk_ec2::Client::new(&self.platform().await);
        let listed = ec2
            .describe_launch_templates()
            .send()
            .await
            .expect("moto lists templates");
        let mut seen = Vec::new();
        for template in listed.launch_templates() {
            let name = template.launch_template_name().unwrap_or_default();
            if !name.starts_with(prefix) {
                continue;
            }
            let versions = ec2
                .describe_launch_template_versions()
                .launch_template_id(template.launch_template_id().unwrap_or_default())
                .send()
                .await
                .expect("moto describes the template");
            let Some(data) = versions
                .launch_template_versions()
                .first()
                .and_then(|v| v.launch_template_data())
            else {
                continue;
            };
            let metadata = data.metadata_options();
            seen.push(SeenTemplate {
                name: name.to_owned(),
                image_id: data.image_id().unwrap_or_default().to_owned(),
                security_group_ids: data.security_group_ids().to_vec(),
                instance_profile_arn: data
                    .iam_instance_profile()
                    .and_then(|p| p.arn())
                    .unwrap_or_default()
                    .to_owned(),
                user_data: base64::engine::general_purpose::STANDARD
                    .decode(data.user_data().unwrap_or_default())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .unwrap_or_default(),
                http_tokens: metadata
                    .and_then(|m| m.http_tokens())
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                hop_limit: metadata
                    .and_then(|m| m.http_put_response_hop_limit())
                    .unwrap_or_default(),
            });
        }
        seen
    }
}

/// What [`MotoServer::seed_eks_cluster`] made.
#[derive(Debug, Clone)]
pub struct SeededCluster {
    pub name: String,
    /// The nodes' image.
    pub image_id: String,
    pub vpc_id: String,
    /// The subnet per zone.
    pub subnets: BTreeMap<String, String>,
    pub security_group: String,
    pub instance_profile_arn: String,
    pub instance_ids: Vec<String>,
}

async fn platform_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::for_tests())
        .load()
        .await
}

/// The name AWS gives its EKS-optimised AL2023 images.
pub const AL2023_IMAGE_NAME: &str = "amazon-eks-node-al2023-x86_64-standard-1.31-v20241109";
/// The name AWS gave its EKS-optimised Amazon Linux 2 images (bootstrap.sh, not nodeadm).
pub const AL2_IMAGE_NAME: &str = "amazon-eks-node-1.31-v20241109";

/// An x86_64 image moto serves; `scripts/moto_server.py` names it as the EKS-optimised one.
pub const X86_IMAGE: &str = "ami-076f415166b04f5fe";
/// moto's arm64 image, likewise.
pub const ARM_IMAGE: &str = "ami-0e9271c829888680e";

fn eks_node_tags(cluster: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(
            Tag::builder()
                .key(format!("kubernetes.io/cluster/{cluster}"))
                .value("owned")
                .build(),
        )
        .tags(
            Tag::builder()
                .key("eks:cluster-name")
                .value(cluster)
                .build(),
        )
        .build()
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
