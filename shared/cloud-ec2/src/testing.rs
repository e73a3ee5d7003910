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
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/moto_server.py");
        let mut child = Command::new("python3")
            .args([script, &port.to_string()])
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
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(Credentials::for_tests())
            .load()
            .await
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
        let ec2 = aws_sdk_ec2::Client::new(&self.platform().await);
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

    /// An EKS cluster as a customer's account holds it: a VPC with a subnet per zone and a
    /// security group (both tagged for discovery), the node role's instance profile, the
    /// cluster (Kubernetes 1.31), and `per_zone` on-demand nodes in each zone, launched from
    /// the node group's launch template.
    pub async fn seed_eks_cluster(
        &self,
        name: &str,
        zones: &[&str],
        instance_type: &str,
        per_zone: i32,
    ) -> SeededCluster {
        let platform = self.platform().await;
        let ec2 = aws_sdk_ec2::Client::new(&platform);
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
                    .image_id(X86_IMAGE)
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
            vpc_id,
            subnets,
            security_group,
            instance_profile_arn,
            instance_ids,
        }
    }
}

/// What [`MotoServer::seed_eks_cluster`] made.
#[derive(Debug, Clone)]
pub struct SeededCluster {
    pub name: String,
    pub vpc_id: String,
    /// The subnet per zone.
    pub subnets: BTreeMap<String, String>,
    pub security_group: String,
    pub instance_profile_arn: String,
    pub instance_ids: Vec<String>,
}

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
