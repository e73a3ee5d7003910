//! The live model: the bucket as a prior, corrected by what the platform saw in the pool.
//!
//! - Persistent differences between pools (a bucket spans a range; some pools sit at its top):
//!   a gamma-Poisson posterior over the last days' interruptions, each weighted by recency
//!   (half-life `long_half_life_hours`), against the exposure of the instances running there.
//! - Capacity crunches (a pool suddenly reclaimed in bulk): interruptions in the last few hours
//!   (half-life `short_half_life_hours`) and an active hive-mind flag multiply the rate.
//! - Price: a spot price that moved a lot lately signals a crunch building.

use super::{Component, EXPOSURE, Evidence, RiskModel, Score, bucket_rate};

#[derive(Debug, Clone, Copy)]
pub struct RecencyModel {
    /// How many instance-hours of evidence the prior is worth.
    pub prior_instance_hours: f64,
    pub long_half_life_hours: f64,
    pub short_half_life_hours: f64,
    /// Rate multiplier per recency-weighted recent interruption.
    pub burst_per_event: f64,
    pub flag_multiplier: f64,
    /// Rate multiplier per unit of price volatility above `calm_volatility`.
    pub volatility_slope: f64,
    pub calm_volatility: f64,
    /// No correction takes the rate above this (one instance-hour in ten).
    pub max_rate: f64,
}

impl Default for RecencyModel {
    fn default() -> Self {
        Self {
            prior_instance_hours: 20_000.0,
            long_half_life_hours: 72.0,
            short_half_life_hours: 3.0,
            burst_per_event: 3.0,
            flag_multiplier: 2.0,
            volatility_slope: 8.0,
            calm_volatility: 0.05,
            max_rate: 0.1,
        }
    }
}

fn decayed(ages: &[f64], half_life: f64) -> f64 {
    ages.iter()
        .filter(|age| **age >= 0.0)
        .map(|age| (-age * std::f64::consts::LN_2 / half_life).exp())
        .sum()
}

impl RiskModel for RecencyModel {
    fn version(&self) -> &'static str {
        "recency-v1"
    }

    fn score(&self, evidence: &Evidence) -> Score {
        let prior = bucket_rate(evidence.bucket);
        // The exposure the decayed counts stand against: instances x the mean decay time.
        let long_tau = self.long_half_life_hours / std::f64::consts::LN_2;
        let exposure = evidence.instances.max(0.0) * long_tau;
        let long_count = decayed(&evidence.interruption_ages_hours, self.long_half_life_hours);
        let posterior = (prior * self.prior_instance_hours + long_count)
            / (self.prior_instance_hours + exposure);
        let short_count = decayed(
            &evidence.interruption_ages_hours,
            self.short_half_life_hours,
        );
        let burst = 1.0 + self.burst_per_event * short_count;
        let flag = if evidence.flagged {
            self.flag_multiplier
        } else {
            1.0
        };
        let volatility = evidence.price_volatility.unwrap_or(0.0);
        let price = 1.0 + self.volatility_slope * (volatility - self.calm_volatility).max(0.0);
        let rate = (posterior * burst * flag * price).min(self.max_rate);
        Score {
            rate_per_instance_hour: rate,
            components: vec![
                Component {
                    name: "advisor bucket prior",
                    value: f64::from(evidence.bucket.unwrap_or(4)),
                    weight: prior,
                },
                Component {
                    name: EXPOSURE,
                    value: evidence.instances,
                    weight: 1.0,
                },
                Component {
                    name: "interruptions in the last days (half-life 72 h)",
                    value: long_count,
                    weight: posterior / prior,
                },
                Component {
                    name: "interruptions in the last hours (half-life 3 h)",
                    value: short_count,
                    weight: burst,
                },
                Component {
                    name: "active hive-mind flag",
                    value: if evidence.flagged { 1.0 } else { 0.0 },
                    weight: flag,
                },
                Component {
                    name: "spot price volatility",
                    value: volatility,
                    weight: price,
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BucketPrior;

    fn quiet(bucket: u8) -> Evidence {
        Evidence {
            bucket: Some(bucket),
            instances: 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn a_quiet_pool_scores_a_little_below_its_prior_and_never_above() {
        let model = RecencyModel::default();
        for bucket in 0..=4 {
            let prior = BucketPrior.score(&quiet(bucket)).rate_per_instance_hour;
            let rate = model.score(&quiet(bucket)).rate_per_instance_hour;
            assert!(
                rate <= prior && rate > prior * 0.5,
                "{bucket}: {rate} vs {prior}"
            );
        }
    }

    #[test]
    fn recent_interruptions_a_flag_and_price_swings_each_raise_the_score() {
        let model = RecencyModel::default();
        let base = model.score(&quiet(1)).value();
        let burst = model.score(&Evidence {
            interruption_ages_hours: vec![0.5, 1.0],
            ..quiet(1)
        });
        let flagged = model.score(&Evidence {
            flagged: true,
            ..quiet(1)
        });
        let swinging = model.score(&Evidence {
            price_volatility: Some(0.3),
            ..quiet(1)
        });
        for score in [&burst, &flagged, &swinging] {
            assert!(score.value() > base, "{score:?} vs {base}");
            assert!((0.0..=1.0).contains(&score.value()));
        }
        // Old interruptions matter less than fresh ones.
        let old = model.score(&Evidence {
            interruption_ages_hours: vec![48.0, 50.0],
            ..quiet(1)
        });
        assert!(old.value() < burst.value());
        assert_eq!(burst.components.len(), 6, "every part is explained");
    }

    #[test]
    fn no_evidence_takes_the_rate_past_its_cap() {
        let model = RecencyModel::default();
        let storm = model.score(&Evidence {
            interruption_ages_hours: vec![0.0; 500],
            flagged: true,
            price_volatility: Some(5.0),
            ..quiet(4)
        });
        assert!(storm.rate_per_instance_hour <= model.max_rate);
    }
}
