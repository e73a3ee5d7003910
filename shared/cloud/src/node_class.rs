//! Node classes: how new nodes of a cluster boot on EC2 (subnets, security groups, instance
//! profile, image, user data, root volume, metadata options, tags), like Karpenter's EC2NodeClass.
//!
//! A [`NodeClass`] is what a user saves (selectors, an image family); a [`LaunchSpec`] is what it
//! resolves to in the account at launch time (ids per zone and per architecture, the full user
//! data). [`NodeClass::check`] finds what is wrong without asking AWS; the provider checks the rest
//! against the account.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Architecture;

/// Which resources to use: by id, or every resource carrying all of `tags` (such as
/// `karpenter.sh/discovery: <cluster>`). Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Selector {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The operating system images come from: AWS's EKS-optimised images, found through its public
/// SSM parameters for the cluster's Kubernetes version and each architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmiFamily {
    #[default]
    Al2023,
    Bottlerocket,
}

impl AmiFamily {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "al2023" => Some(Self::Al2023),
            "bottlerocket" => Some(Self::Bottlerocket),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Al2023 => "al2023",
            Self::Bottlerocket => "bottlerocket",
        }
    }

    /// The public SSM parameter holding the recommended image for `kubernetes_version`.
    pub fn image_parameter(self, kubernetes_version: &str, architecture: Architecture) -> String {
        let arch = match architecture {
            Architecture::Amd64 => "x86_64",
            Architecture::Arm64 => "arm64",
        };
        match self {
            Self::Al2023 => format!(
                "/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{arch}/standard/recommended/image_id"
            ),
            Self::Bottlerocket => {
                format!(
                    "/aws/service/bottlerocket/aws-k8s-{kubernetes_version}/{arch}/latest/image_id"
                )
            }
        }
    }

    /// The device the image boots from.
    pub fn root_device(self) -> &'static str {
        match self {
            Self::Al2023 => "/dev/xvda",
            // Bottlerocket keeps images and containers on its second (data) volume.
            Self::Bottlerocket => "/dev/xvdb",
        }
    }
}

/// How a cluster's new nodes boot. Saved per cluster (or as a tenant's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeClass {
    pub subnets: Selector,
    pub security_groups: Selector,
    /// The IAM instance profile of the node role (its name or ARN).
    pub instance_profile: String,
    pub ami_family: AmiFamily,
    /// Images per architecture (`amd64`, `arm64`); empty: the family's recommended images.
    #[serde(default)]
    pub ami_ids: BTreeMap<String, String>,
    /// The user's own part, merged after the family's bootstrap.
    #[serde(default)]
    pub user_data: String,
    pub root_volume_gib: u32,
    pub root_volume_type: String,
    /// IMDSv2 is always required; pods reach it only within this many network hops.
    pub metadata_hop_limit: u32,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Volume types that need no more settings (io1 and io2 need provisioned IOPS).
pub const ROOT_VOLUME_TYPES: [&str; 2] = ["gp3", "gp2"];

/// What is wrong with one setting, named as the API names it (`node_class.subnets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: format!("node_class.{}", field.into()),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.reason)
    }
}

/// Why a node class cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeClassError {
    /// Settings that are wrong (format, or what the account holds).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// The account could not be asked.
    #[error(transparent)]
    Cloud(#[from] crate::CloudError),
}

/// Tag keys the platform sets itself; a node class may not set them.
const RESERVED_TAG_PREFIXES: [&str; 4] =
    ["spot-optimizer/", "kubernetes.io/cluster/", "eks:", "aws:"];

impl NodeClass {
    /// A starting class for a cluster with nothing to import from: the subnets and security
    /// groups tagged for discovery as Karpenter's guide tags them, AL2023 images.
    pub fn discovery_default(cluster_name: &str, instance_profile: &str) -> Self {
        let discovery =
            BTreeMap::from([("karpenter.sh/discovery".to_owned(), cluster_name.to_owned())]);
        Self {
            subnets: Selector {
                ids: Vec::new(),
                tags: discovery.clone(),
            },
            security_groups: Selector {
                ids: Vec::new(),
                tags: discovery,
            },
            instance_profile: instance_profile.to_owned(),
            ami_family: AmiFamily::Al2023,
            ami_ids: BTreeMap::new(),
            user_data: String::new(),
            root_volume_gib: 20,
            root_volume_type: "gp3".to_owned(),
            metadata_hop_limit: 1,
            tags: BTreeMap::new(),
        }
    }

    /// Everything wrong with the class that needs no call to AWS.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_selector(&mut errors, "subnets", &self.subnets, "subnet-");
        check_selector(&mut errors, "security_groups", &self.security_groups, "sg-");
        if self.instance_profile.trim().is_empty() {
            errors.push(FieldError::new(
                "instance_profile",
                "the node role's instance profile (name or ARN) is required",
            ));
        } else if self.instance_profile.len() > 2048
            || self.instance_profile.chars().any(char::is_whitespace)
        {
            errors.push(FieldError::new(
                "instance_profile",
                "a profile name or ARN, without spaces",
            ));
        }
        for (architecture, image) in &self.ami_ids {
            if architecture_named(architecture).is_none() {
                errors.push(FieldError::new(
                    format!("ami_ids.{architecture}"),
                    "the architecture must be amd64 or arm64",
                ));
            } else if !is_id(image, "ami-") {
                errors.push(FieldError::new(
                    format!("ami_ids.{architecture}"),
                    format!("`{image}` is not an image id (ami-...)"),
                ));
            }
        }
        if let Err(reason) = crate::user_data::check_user_part(self.ami_family, &self.user_data) {
            errors.push(FieldError::new("user_data", reason));
        }
        if !(20..=16_384).contains(&self.root_volume_gib) {
            errors.push(FieldError::new(
                "root_volume_gib",
                "20 to 16384 GiB (the EKS-optimised images' snapshots are 20 GiB)",
            ));
        }
        if !ROOT_VOLUME_TYPES.contains(&self.root_volume_type.as_str()) {
            errors.push(FieldError::new(
                "root_volume_type",
                format!("one of {}", ROOT_VOLUME_TYPES.join(", ")),
            ));
        }
        if !(1..=64).contains(&self.metadata_hop_limit) {
            errors.push(FieldError::new(
                "metadata_hop_limit",
                "1 to 64 (1 keeps pods off the node's credentials; 2 lets pods on the pod network reach them)",
            ));
        }
        if self.tags.len() > 30 {
            errors.push(FieldError::new(
                "tags",
                "at most 30 (EC2 allows 50, the platform sets the rest)",
            ));
        }
        for (key, value) in &self.tags {
            if key.is_empty() || key.len() > 128 || value.len() > 256 {
                errors.push(FieldError::new(
                    format!("tags.{key}"),
                    "keys 1 to 128 characters, values at most 256",
                ));
            } else if let Some(prefix) = RESERVED_TAG_PREFIXES.iter().find(|p| key.starts_with(*p))
            {
                errors.push(FieldError::new(
                    format!("tags.{key}"),
                    format!("keys starting with `{prefix}` are set by the platform or AWS"),
                ));
            }
        }
        errors
    }
}

/// `amd64` or `arm64`, as node classes and Kubernetes name them.
pub fn architecture_named(name: &str) -> Option<Architecture> {
    match name {
        "amd64" => Some(Architecture::Amd64),
        "arm64" => Some(Architecture::Arm64),
        _ => None,
    }
}

pub fn architecture_name(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::Amd64 => "amd64",
        Architecture::Arm64 => "arm64",
    }
}

fn is_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_selector(errors: &mut Vec<FieldError>, field: &str, selector: &Selector, prefix: &str) {
    match (selector.ids.is_empty(), selector.tags.is_empty()) {
        (true, true) => errors.push(FieldError::new(
            field,
            format!("give ids ({prefix}...) or tags to select them by"),
        )),
        (false, false) => errors.push(FieldError::new(field, "ids or tags, not both")),
        _ => {}
    }
    for id in &selector.ids {
        if !is_id(id, prefix) {
            errors.push(FieldError::new(
                format!("{field}.ids"),
                format!("`{id}` is not an id ({prefix}...)"),
            ));
        }
    }
    if selector.tags.keys().any(String::is_empty) {
        errors.push(FieldError::new(
            format!("{field}.tags"),
            "tag keys cannot be empty",
        ));
    }
}

/// The cluster facts a node's bootstrap needs, from `eks:DescribeCluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KubeCluster {
    pub name: String,
    pub endpoint: String,
    /// The cluster CA, base64 as EKS gives it.
    pub certificate_authority: String,
    pub service_cidr: String,
    pub kubernetes_version: String,
    pub vpc_id: String,
}

/// A node class resolved in the account: what a launch uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LaunchSpec {
    /// The subnet to launch into, per zone.
    pub subnets: BTreeMap<String, String>,
    pub security_group_ids: Vec<String>,
    /// The instance profile's ARN.
    pub instance_profile_arn: String,
    /// The image per architecture; an architecture without one cannot be launched.
    pub images: BTreeMap<Architecture, String>,
    /// The full user data (the family's bootstrap and the user's part), as plain text.
    pub user_data: String,
    pub root_device: String,
    pub root_volume_gib: u32,
    pub root_volume_type: String,
    pub metadata_hop_limit: u32,
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class() -> NodeClass {
        NodeClass {
            subnets: Selector {
                ids: vec!["subnet-0a1b".into()],
                tags: BTreeMap::new(),
            },
            ..NodeClass::discovery_default("shop", "spot-node")
        }
    }

    fn fields(class: &NodeClass) -> Vec<String> {
        class.check().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_sound_class_has_no_errors() {
        assert_eq!(class().check(), Vec::new());
        assert_eq!(
            NodeClass::discovery_default("shop", "spot-node").check(),
            Vec::new()
        );
    }

    #[test]
    fn each_wrong_setting_is_named() {
        let mut wrong = class();
        wrong.subnets.ids = vec!["sg-0a1b".into()];
        wrong.security_groups = Selector::default();
        wrong.instance_profile = " ".into();
        wrong.ami_ids = BTreeMap::from([
            ("riscv".into(), "ami-0a".into()),
            ("arm64".into(), "img-1".into()),
        ]);
        wrong.root_volume_gib = 4;
        wrong.root_volume_type = "st1".into();
        wrong.metadata_hop_limit = 0;
        wrong.tags = BTreeMap::from([("kubernetes.io/cluster/x".into(), "owned".into())]);
        assert_eq!(
            fields(&wrong),
            [
                "node_class.subnets.ids",
                "node_class.security_groups",
                "node_class.instance_profile",
                "node_class.ami_ids.arm64",
                "node_class.ami_ids.riscv",
                "node_class.root_volume_gib",
                "node_class.root_volume_type",
                "node_class.metadata_hop_limit",
                "node_class.tags.kubernetes.io/cluster/x",
            ]
        );
        let mut both = class();
        both.subnets.tags = BTreeMap::from([("team".into(), "a".into())]);
        assert_eq!(fields(&both), ["node_class.subnets"]);
    }

    #[test]
    fn user_data_must_suit_the_family() {
        let mut shell = class();
        shell.user_data = "echo hi".into();
        assert_eq!(fields(&shell), ["node_class.user_data"]);
        shell.user_data = "#!/bin/bash\necho hi".into();
        assert_eq!(fields(&shell), Vec::<String>::new());
        shell.ami_family = AmiFamily::Bottlerocket;
        assert_eq!(fields(&shell), ["node_class.user_data"]);
        shell.user_data = "[settings.host-containers.admin]\nenabled = true".into();
        assert_eq!(fields(&shell), Vec::<String>::new());
    }

    #[test]
    fn image_parameters_are_aws_public_ones() {
        assert_eq!(
            AmiFamily::Al2023.image_parameter("1.31", Architecture::Arm64),
            "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/standard/recommended/image_id"
        );
        assert_eq!(
            AmiFamily::Bottlerocket.image_parameter("1.31", Architecture::Amd64),
            "/aws/service/bottlerocket/aws-k8s-1.31/x86_64/latest/image_id"
        );
    }
}
