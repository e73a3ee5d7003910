//! The baseline: the spot advisor's bucket alone, as every Karpenter-style tool uses it.

use super::{Component, Evidence, RiskModel, Score, bucket_rate};

#[derive(Debug, Clone, Copy, Default)]
pub struct BucketPrior;

impl RiskModel for BucketPrior {
    fn version(&self) -> &'static str {
        "bucket-prior-v1"
    }

    fn score(&self, evidence: &Evidence) -> Score {
        let rate = bucket_rate(evidence.bucket);
        Score {
            rate_per_instance_hour: rate,
            components: vec![Component {
                name: "advisor bucket prior",
                value: f64::from(evidence.bucket.unwrap_or(4)),
                weight: rate,
            }],
        }
    }
}
