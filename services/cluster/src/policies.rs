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

/// The permissions, generated from the calls the EC2 provider makes
/// ([`spot_cloud_ec2::permissions`]).
pub fn permission_policy() -> String {
    serde_json::to_string_pretty(&spot_cloud_ec2::permissions::policy()).unwrap_or_default()
}
