//! What a customer pastes into IAM: the role's trust policy (the platform may assume it, with
//! this tenant's external id) and the least-privilege permissions the platform needs.

/// The principal shown when the platform's own is not configured (the simulated cloud has no IAM).
pub const SIMULATED_PRINCIPAL: &str = "arn:aws:iam::000000000000:root";

pub fn trust_policy(principal: &str, external_id: &str) -> String {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": principal },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "sts:ExternalId": external_id } }
        }]
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}

pub fn permission_policy() -> String {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Describe",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeRegions",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeLaunchTemplates"
                ],
                "Resource": "*"
            },
            {
                "Sid": "LaunchTaggedCapacity",
                "Effect": "Allow",
                "Action": ["ec2:CreateFleet", "ec2:RunInstances", "ec2:CreateTags"],
                "Resource": "*",
                "Condition": { "StringEquals": { "aws:RequestTag/spot-optimizer/managed": "true" } }
            },
            {
                "Sid": "UseLaunchTemplates",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    "arn:aws:ec2:*::image/*",
                    "arn:aws:ec2:*:*:launch-template/*",
                    "arn:aws:ec2:*:*:subnet/*",
                    "arn:aws:ec2:*:*:security-group/*",
                    "arn:aws:ec2:*:*:network-interface/*",
                    "arn:aws:ec2:*:*:volume/*"
                ]
            },
            {
                "Sid": "TerminateOnlyManaged",
                "Effect": "Allow",
                "Action": "ec2:TerminateInstances",
                "Resource": "*",
                "Condition": { "StringEquals": { "aws:ResourceTag/spot-optimizer/managed": "true" } }
            },
            {
                "Sid": "PassNodeRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": { "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } }
            }
        ]
    });
    serde_json::to_string_pretty(&policy).unwrap_or_default()
}
