//! The permission policy a customer attaches to the role the platform assumes, generated from
//! [`CALLS`]: every AWS call this crate makes, with the IAM action that allows it. Launches are
//! allowed only with the platform's request tag, tagging only as part of a launch, terminations
//! and template deletions only of what carries the tag (plus the nodes EKS tags as a cluster's,
//! which the platform replaces when it adopts a cluster, leaving their EKS node groups one node
//! smaller), and PassRole only to EC2.
//!
//! The tests below read every `with_backoff("<Operation>"` in this crate's sources, so a call
//! added without its permission fails them, and evaluate the policy against the tags the code
//! sends.

use serde_json::{Value, json};

use spot_cloud::MANAGED_TAG;

/// Every AWS operation the provider calls (as named in `with_backoff`), and its IAM action.
pub const CALLS: &[(&str, &str)] = &[
    ("DescribeRegions", "ec2:DescribeRegions"),
    ("DescribeAvailabilityZones", "ec2:DescribeAvailabilityZones"),
    ("DescribeInstances", "ec2:DescribeInstances"),
    ("DescribeInstanceTypes", "ec2:DescribeInstanceTypes"),
    (
        "DescribeInstanceTypeOfferings",
        "ec2:DescribeInstanceTypeOfferings",
    ),
    ("DescribeSpotPriceHistory", "ec2:DescribeSpotPriceHistory"),
    ("DescribeLaunchTemplates", "ec2:DescribeLaunchTemplates"),
    ("DescribeSubnets", "ec2:DescribeSubnets"),
    ("DescribeSecurityGroups", "ec2:DescribeSecurityGroups"),
    ("DescribeImages", "ec2:DescribeImages"),
    ("CreateLaunchTemplate", "ec2:CreateLaunchTemplate"),
    ("DeleteLaunchTemplate", "ec2:DeleteLaunchTemplate"),
    ("CreateFleet", "ec2:CreateFleet"),
    ("TerminateInstances", "ec2:TerminateInstances"),
    (
        "DescribeAutoScalingInstances",
        "autoscaling:DescribeAutoScalingInstances",
    ),
    (
        "TerminateInstanceInAutoScalingGroup",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ),
    ("DescribeCluster", "eks:DescribeCluster"),
    ("GetParameter", "ssm:GetParameter"),
    ("GetInstanceProfile", "iam:GetInstanceProfile"),
];

/// Actions the platform needs that are not calls of its own: a fleet runs instances and tags
/// what it creates, and launching with an instance profile passes the node role to EC2.
pub const IMPLIED: &[&str] = &["ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"];

/// The resources a launch creates; each carries the platform's tag from the request.
const CREATED: &[&str] = &[
    "arn:aws:ec2:*:*:fleet/*",
    "arn:aws:ec2:*:*:instance/*",
    "arn:aws:ec2:*:*:volume/*",
    "arn:aws:ec2:*:*:network-interface/*",
    "arn:aws:ec2:*:*:spot-instances-request/*",
    "arn:aws:ec2:*:*:launch-template/*",
];

fn actions(prefix: &str) -> Vec<&'static str> {
    CALLS
        .iter()
        .map(|(_, action)| *action)
        .filter(|action| action.starts_with(prefix))
        .collect()
}

/// The policy document, as the customer pastes it.
pub fn policy() -> Value {
    let describe: Vec<&str> = CALLS
        .iter()
        .map(|(_, action)| *action)
        .filter(|action| {
            action.starts_with("ec2:Describe")
                || *action == "autoscaling:DescribeAutoScalingInstances"
                || *action == "eks:DescribeCluster"
                || *action == "iam:GetInstanceProfile"
        })
        .collect();
    let managed = format!("aws:RequestTag/{MANAGED_TAG}");
    let managed_resource = format!("aws:ResourceTag/{MANAGED_TAG}");
    debug_assert!(actions("ssm:") == ["ssm:GetParameter"]);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": describe,
                "Resource": "*"
            },
            {
                "Sid": "ReadPublicImageParameters",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": "arn:aws:ssm:*::parameter/aws/service/*"
            },
            {
                "Sid": "LaunchWithTheManagedTag",
                "Effect": "Allow",
                "Action": ["ec2:CreateFleet", "ec2:RunInstances", "ec2:CreateLaunchTemplate"],
                "Resource": CREATED,
                "Condition": { "StringEquals": { managed.clone(): "true" } }
            },
            {
                "Sid": "LaunchFromTheClusterNetworkAndImages",
                "Effect": "Allow",
                "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
                "Resource": [
                    "arn:aws:ec2:*::image/*",
                    "arn:aws:ec2:*::snapshot/*",
                    "arn:aws:ec2:*:*:subnet/*",
                    "arn:aws:ec2:*:*:security-group/*"
                ]
            },
            {
                "Sid": "LaunchFromTheManagedTemplates",
                "Effect": "Allow",
                "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
                "Resource": "arn:aws:ec2:*:*:launch-template/*",
                "Condition": { "StringEquals": { managed_resource.clone(): "true" } }
            },
            {
                "Sid": "TagOnlyWhileLaunching",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": CREATED,
                "Condition": {
                    "StringEquals": {
                        managed: "true",
                        "ec2:CreateAction": ["CreateFleet", "RunInstances", "CreateLaunchTemplate"]
                    }
                }
            },
            {
                "Sid": "RemoveOnlyManaged",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:launch-template/*"],
                "Condition": { "StringEquals": { managed_resource: "true" } }
            },
            {
                "Sid": "ReplaceAdoptedEksNodes",
                "Effect": "Allow",
                "Action": "ec2:TerminateInstances",
                "Resource": "arn:aws:ec2:*:*:instance/*",
                "Condition": { "Null": { "aws:ResourceTag/eks:cluster-name": "false" } }
            },
            {
                "Sid": "ShrinkEksNodeGroups",
                "Effect": "Allow",
                "Action": "autoscaling:TerminateInstanceInAutoScalingGroup",
                "Resource": "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*",
                "Condition": { "Null": { "aws:ResourceTag/eks:cluster-name": "false" } }
            },
            {
                "Sid": "PassTheNodeRoleToEc2",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": { "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } }
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use spot_cloud::{Architecture, CLUSTER_ID_TAG, CapacityType, LaunchRequest, LaunchSpec};

    use super::*;

    /// One authorisation AWS makes: an action on a resource, with the request's tags, the
    /// resource's own tags, and context keys such as `ec2:CreateAction`.
    #[derive(Clone)]
    struct Ask {
        action: &'static str,
        resource: &'static str,
        request_tags: BTreeMap<String, String>,
        resource_tags: BTreeMap<String, String>,
        context: Vec<(&'static str, String)>,
    }

    fn ask(action: &'static str, resource: &'static str) -> Ask {
        Ask {
            action,
            resource,
            request_tags: BTreeMap::new(),
            resource_tags: BTreeMap::new(),
            context: Vec::new(),
        }
    }

    impl Ask {
        fn requesting(mut self, tags: &BTreeMap<String, String>) -> Self {
            self.request_tags = tags.clone();
            self
        }
        fn on(mut self, tags: &BTreeMap<String, String>) -> Self {
            self.resource_tags = tags.clone();
            self
        }
        fn with(mut self, key: &'static str, value: &str) -> Self {
            self.context.push((key, value.to_owned()));
            self
        }
    }

    fn strings(value: &Value) -> Vec<String> {
        match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `*` matches any run of characters, as in IAM's resource and StringLike patterns.
    fn glob(pattern: &str, text: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == text,
            Some((head, tail)) => {
                text.starts_with(head)
                    && (0..=text.len() - head.len())
                        .any(|skip| glob(tail, &text[head.len() + skip..]))
            }
        }
    }

    fn key_value(ask: &Ask, key: &str) -> Option<String> {
        if let Some(tag) = key.strip_prefix("aws:RequestTag/") {
            return ask.request_tags.get(tag).cloned();
        }
        if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
            return ask.resource_tags.get(tag).cloned();
        }
        ask.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// The subset of IAM's evaluation the generated policy uses: Allow statements, exact
    /// actions, wildcard resources, StringEquals and Null conditions.
    fn allowed(policy: &Value, ask: &Ask) -> bool {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .any(|statement| {
                assert_eq!(statement["Effect"], "Allow");
                let action = strings(&statement["Action"])
                    .iter()
                    .any(|a| a == ask.action);
                let resource = strings(&statement["Resource"])
                    .iter()
                    .any(|r| glob(r, ask.resource));
                let conditions = statement["Condition"].as_object().is_none_or(|conditions| {
                    conditions.iter().all(|(operator, keys)| {
                        keys.as_object().unwrap().iter().all(|(key, expected)| {
                            let value = key_value(ask, key);
                            match operator.as_str() {
                                "StringEquals" => {
                                    value.is_some_and(|v| strings(expected).contains(&v))
                                }
                                "Null" => {
                                    (value.is_none()).to_string() == expected.as_str().unwrap()
                                }
                                other => panic!("the evaluator does not know {other}"),
                            }
                        })
                    })
                });
                action && resource && conditions
            })
    }

    fn launch_request() -> (LaunchRequest, LaunchSpec) {
        let spec = LaunchSpec {
            subnets: BTreeMap::from([("us-east-1a".into(), "subnet-0a".into())]),
            images: BTreeMap::from([(Architecture::Amd64, "ami-0a".into())]),
            tags: BTreeMap::from([("team".into(), "shop".into())]),
            ..LaunchSpec::default()
        };
        let request = LaunchRequest {
            region: "us-east-1".into(),
            pools: Vec::new(),
            capacity_type: CapacityType::Spot,
            count: 1,
            tags: BTreeMap::from([(CLUSTER_ID_TAG.to_owned(), "cluster-1".to_owned())]),
            spec: Some(spec.clone()),
            client_token: None,
        };
        (request, spec)
    }

    #[test]
    fn every_call_in_the_sources_has_its_permission_and_no_more() {
        // This crate's sources where it runs, not where it was compiled (a shared target dir may
        // hold a build of a checkout that is gone).
        let dir = format!(
            "{}/src",
            std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
        );
        let mut called = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .is_some_and(|n| n == "testing.rs" || n == "permissions.rs")
            {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split("with_backoff(\"").skip(1) {
                called.insert(piece.split('"').next().unwrap().to_owned());
            }
        }
        let listed: BTreeSet<String> = CALLS.iter().map(|(op, _)| (*op).to_owned()).collect();
        assert_eq!(
            called, listed,
            "CALLS must list exactly the operations the provider calls"
        );

        let policy = policy();
        let granted: BTreeSet<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| strings(&s["Action"]))
            .collect();
        let needed: BTreeSet<String> = CALLS
            .iter()
            .map(|(_, action)| *action)
            .chain(IMPLIED.iter().copied())
            .map(str::to_owned)
            .collect();
        assert_eq!(
            granted, needed,
            "the policy grants exactly what the calls need"
        );
    }

    #[test]
    fn launches_are_allowed_with_the_tags_the_code_sends_and_only_with_them() {
        let policy = policy();
        let (request, spec) = launch_request();
        let instance_tags = crate::launch::instance_tags(&request, &spec);
        let template_tags = crate::launch_template::template_tags(&request, &spec);
        let untagged = BTreeMap::from([(CLUSTER_ID_TAG.to_owned(), "cluster-1".to_owned())]);
        for (action, resource, tags, create_action) in [
            (
                "ec2:CreateFleet",
                "arn:aws:ec2:us-east-1:1:fleet/f-1",
                &instance_tags,
                "CreateFleet",
            ),
            (
                "ec2:RunInstances",
                "arn:aws:ec2:us-east-1:1:instance/i-1",
                &instance_tags,
                "CreateFleet",
            ),
            (
                "ec2:RunInstances",
                "arn:aws:ec2:us-east-1:1:volume/vol-1",
                &template_tags,
                "CreateFleet",
            ),
            (
                "ec2:CreateLaunchTemplate",
                "arn:aws:ec2:us-east-1:1:launch-template/lt-1",
                &template_tags,
                "CreateLaunchTemplate",
            ),
        ] {
            let launch = ask(action, resource)
                .requesting(tags)
                .with("ec2:CreateAction", create_action);
            assert!(allowed(&policy, &launch), "{action} on {resource}");
            let tagging = Ask {
                action: "ec2:CreateTags",
                ..launch.clone()
            };
            assert!(
                allowed(&policy, &tagging),
                "tags of {resource} at {create_action}"
            );
            assert!(
                !allowed(&policy, &launch.clone().requesting(&untagged)),
                "{action} without the tag"
            );
            let later = Ask {
                context: Vec::new(),
                ..tagging
            };
            assert!(!allowed(&policy, &later), "tagging outside a launch");
        }
        // The template, subnet, image and groups the fleet uses.
        let managed = BTreeMap::from([(MANAGED_TAG.to_owned(), "true".to_owned())]);
        let none = BTreeMap::new();
        for (resource, resource_tags) in [
            ("arn:aws:ec2:us-east-1:1:launch-template/lt-1", &managed),
            ("arn:aws:ec2:us-east-1::image/ami-0a", &none),
            ("arn:aws:ec2:us-east-1:1:subnet/subnet-0a", &none),
            ("arn:aws:ec2:us-east-1:1:security-group/sg-0a", &none),
        ] {
            assert!(
                allowed(&policy, &ask("ec2:CreateFleet", resource).on(resource_tags)),
                "{resource}"
            );
        }
        let foreign_template = ask(
            "ec2:RunInstances",
            "arn:aws:ec2:us-east-1:1:launch-template/lt-theirs",
        );
        assert!(
            !allowed(&policy, &foreign_template),
            "only the platform's templates"
        );
    }

    #[test]
    fn removal_reaches_only_managed_resources_and_eks_nodes() {
        let policy = policy();
        let none = BTreeMap::new();
        let managed = BTreeMap::from([(MANAGED_TAG.to_owned(), "true".to_owned())]);
        let eks_node = BTreeMap::from([("eks:cluster-name".to_owned(), "shop".to_owned())]);
        let instance = "arn:aws:ec2:us-east-1:1:instance/i-1";
        let template = "arn:aws:ec2:us-east-1:1:launch-template/lt-1";
        let terminate = || ask("ec2:TerminateInstances", instance);
        let delete = || ask("ec2:DeleteLaunchTemplate", template);
        assert!(allowed(&policy, &terminate().on(&managed)));
        assert!(allowed(&policy, &terminate().on(&eks_node)));
        assert!(!allowed(&policy, &terminate().on(&none)));
        assert!(allowed(&policy, &delete().on(&managed)));
        assert!(!allowed(&policy, &delete().on(&eks_node)));
        let node_group = "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:uuid:autoScalingGroupName/eks-shop-nodes";
        let shrink = || {
            ask(
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                node_group,
            )
        };
        assert!(allowed(&policy, &shrink().on(&eks_node)));
        assert!(
            !allowed(&policy, &shrink().on(&none)),
            "only EKS node groups"
        );
        let pass = |service: &str| {
            ask("iam:PassRole", "arn:aws:iam::1:role/shop-node")
                .with("iam:PassedToService", service)
        };
        assert!(allowed(&policy, &pass("ec2.amazonaws.com")));
        assert!(!allowed(&policy, &pass("lambda.amazonaws.com")));
        let public = ask(
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1::parameter/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id",
        );
        assert!(allowed(&policy, &public));
        let private = ask(
            "ssm:GetParameter",
            "arn:aws:ssm:us-east-1:1:parameter/prod/db-password",
        );
        assert!(!allowed(&policy, &private), "only AWS's public parameters");
    }
}
