//! IAM role ARNs as customers paste them.

use std::fmt;

/// A parsed `arn:<partition>:iam::<12-digit account>:role/<path/name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account_id: String,
    pub name: String,
}

impl RoleArn {
    /// Parses and checks a role ARN; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err("must look like arn:aws:iam::123456789012:role/SpotOptimizer".into());
        };
        if arn != "arn" {
            return Err("must start with `arn:`".into());
        }
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
            return Err(format!(
                "partition `{partition}` is not aws, aws-cn or aws-us-gov"
            ));
        }
        if service != "iam" {
            return Err(format!("is an ARN of `{service}`, not of an IAM role"));
        }
        if !region.is_empty() {
            return Err("IAM ARNs have no region (the fourth field must be empty)".into());
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("account id `{account}` is not 12 digits"));
        }
        let Some(name) = resource.strip_prefix("role/") else {
            return Err("must name a role (`role/<name>`)".into());
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c);
        if name.is_empty() || name.len() > 512 || !name.chars().all(valid) {
            return Err(format!("role name `{name}` is not a valid IAM role name"));
        }
        Ok(Self {
            partition: partition.to_owned(),
            account_id: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account_id, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_arns_parse_and_bad_ones_say_why() {
        let arn = RoleArn::parse("arn:aws:iam::123456789012:role/spot/SpotOptimizer").unwrap();
        assert_eq!(
            (arn.account_id.as_str(), arn.name.as_str()),
            ("123456789012", "spot/SpotOptimizer")
        );
        assert_eq!(
            arn.to_string(),
            "arn:aws:iam::123456789012:role/spot/SpotOptimizer"
        );
        for (bad, why) in [
            ("nonsense", "must look like"),
            ("arn:aws:s3:::bucket/x:y", "not of an IAM role"),
            ("arn:aws:iam::12345:role/x", "not 12 digits"),
            ("arn:aws:iam::123456789012:user/bob", "must name a role"),
            ("arn:aws:iam:us-east-1:123456789012:role/x", "no region"),
            ("arn:gcp:iam::123456789012:role/x", "partition"),
        ] {
            let error = RoleArn::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
