//! Risk models: how likely a spot pool (region, zone, instance type) is to take an instance away.
//!
//! A model is a versioned, pluggable component: it turns a pool's [`Evidence`] into a [`Score`]
//! that explains its parts. The live model and a lab candidate run side by side on the same
//! evidence; `spot bench risk` replays a seeded history and compares each with the bucket prior.

mod prior;
mod recency;

pub use prior::BucketPrior;
pub use recency::RecencyModel;

/// The advisor's monthly interruption frequency per bucket (<5 %, 5-10 %, 10-15 %, 15-20 %, >20 %),
/// taken at each range's middle (the last at 25 %).
const MONTHLY_INTERRUPTION: [f64; 5] = [0.025, 0.075, 0.125, 0.175, 0.25];
const HOURS_PER_MONTH: f64 = 730.0;
/// The score a user sees: the chance that one instance of the pool is interrupted within a day.
pub const SCORE_HORIZON_HOURS: f64 = 24.0;

/// What is known about a pool at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// The spot advisor's bucket, 0 (<5 %/month) to 4 (>20 %); None when the advisor does not list
    /// the pool (treated as the riskiest bucket).
    pub bucket: Option<u8>,
    /// Instances the platform runs in the pool (all tenants): the exposure behind the counts.
    pub instances: f64,
    /// Ages, in hours, of the interruptions the platform saw in the pool recently.
    pub interruption_ages_hours: Vec<f64>,
    /// A hive-mind flag is active on the pool.
    pub flagged: bool,
    /// The spot price's recent relative change (standard deviation over mean of the last hours),
    /// when prices are known.
    pub price_volatility: Option<f64>,
}

/// The name of the exposure part: the spot instances the platform runs in the pool, over every
/// tenant. Served rounded down to an order of magnitude (see `scores_rpc`).
pub const EXPOSURE: &str = "platform spot instances in the pool (order of magnitude)";

/// One part of a score, so a user can see why a pool scores as it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: &'static str,
    /// The input as the model saw it (a rate, a count, 0/1, a ratio).
    pub value: f64,
    /// Its effect: a multiplier on the interruption rate (the prior's is the rate itself).
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Interruptions per instance-hour the model expects now.
    pub rate_per_instance_hour: f64,
    pub components: Vec<Component>,
}

impl Score {
    /// The chance that at least one of `instances` instances is interrupted within `hours`.
    pub fn probability(&self, instances: f64, hours: f64) -> f64 {
        1.0 - (-self.rate_per_instance_hour * instances.max(0.0) * hours).exp()
    }

    /// The score in [0, 1] users see: one instance, [`SCORE_HORIZON_HOURS`].
    pub fn value(&self) -> f64 {
        self.probability(1.0, SCORE_HORIZON_HOURS)
    }
}

pub trait RiskModel: Send + Sync {
    /// A stable name with a version, recorded with every score and lab decision.
    fn version(&self) -> &'static str;
    fn score(&self, evidence: &Evidence) -> Score;
}

/// The per-instance hourly rate the advisor's bucket implies.
pub fn bucket_rate(bucket: Option<u8>) -> f64 {
    let index = usize::from(bucket.unwrap_or(4).min(4));
    -(1.0 - MONTHLY_INTERRUPTION[index]).ln() / HOURS_PER_MONTH
}

/// The model scores are served with.
pub fn live() -> Box<dyn RiskModel> {
    Box::new(RecencyModel::default())
}

/// A model by its version, for the lab and the bench.
pub fn by_version(version: &str) -> Option<Box<dyn RiskModel>> {
    match version {
        v if v == BucketPrior.version() => Some(Box::new(BucketPrior)),
        v if v == RecencyModel::default().version() => Some(Box::new(RecencyModel::default())),
        _ => None,
    }
}

/// Every model the platform knows, for listings and validation.
pub fn versions() -> Vec<&'static str> {
    vec![BucketPrior.version(), RecencyModel::default().version()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn riskier_buckets_have_higher_rates_and_unknown_pools_count_as_the_riskiest() {
        let rates: Vec<f64> = (0..=4).map(|b| bucket_rate(Some(b))).collect();
        assert!(rates.windows(2).all(|w| w[0] < w[1]), "{rates:?}");
        assert_eq!(bucket_rate(None), bucket_rate(Some(4)));
        // 25 % a month is about 0.04 % an hour.
        assert!((bucket_rate(Some(4)) - 0.000394).abs() < 0.00001);
    }

    #[test]
    fn models_are_found_by_version() {
        for version in versions() {
            assert_eq!(by_version(version).unwrap().version(), version);
        }
        assert!(by_version("nope-v9").is_none());
    }
}
