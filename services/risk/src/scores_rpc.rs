//! GetRiskScores: the live model's score for each asked pool, with its parts.
//!
//! Evidence: the advisor bucket, the interruptions any tenant reported in the pool during the last
//! week, an active hive-mind flag, the spot nodes the platform runs there (the exposure behind the
//! counts) and the spot price's volatility over the last hours (market.rs).

use std::collections::{BTreeMap, BTreeSet};

use spot_cloud::Catalog;
use spot_kit::risk_flags;
use spot_proto::common::v1::Pool;
use spot_proto::risk::v1 as pb;
use tonic::Status;

use crate::RiskApi;
use crate::evidence::MEMORY_MILLIS;
use crate::model::{self, Evidence};

/// Pools one call may ask about.
const MAX_POOLS: usize = 500;
/// The exposure behind the counts when the cluster service cannot say.
pub(crate) const ASSUMED_INSTANCES: f64 = 10.0;

/// 0, 1, 10, 100, ...: the most any tenant learns of the platform's fleet in a pool (an exact
/// count could tell a small platform's tenants about each other).
fn order_of_magnitude(count: f64) -> f64 {
    if count < 1.0 {
        0.0
    } else {
        10f64.powi(count.log10().floor() as i32)
    }
}

fn check(index: usize, pool: &Pool) -> Result<(), Status> {
    let catalog = Catalog::embedded();
    let invalid = |field: &str, why: String| {
        Status::invalid_argument(format!("invalid `pools[{index}].{field}`: {why}"))
    };
    catalog
        .check_region(&pool.region)
        .map_err(|e| invalid("region", e.to_string()))?;
    if !spot_cloud::zones_of(&pool.region).contains(&pool.zone) {
        return Err(invalid(
            "zone",
            format!("`{}` is not a zone of {}", pool.zone, pool.region),
        ));
    }
    catalog
        .get(&pool.instance_type)
        .map_err(|e| invalid("instance_type", e.to_string()))?;
    Ok(())
}

impl RiskApi {
    pub(crate) async fn scores(&self, pools: Vec<Pool>) -> Result<Vec<pb::RiskScore>, Status> {
        if pools.is_empty() || pools.len() > MAX_POOLS {
            return Err(Status::invalid_argument(format!(
                "invalid `pools`: 1 to {MAX_POOLS} pools"
            )));
        }
        for (index, pool) in pools.iter().enumerate() {
            check(index, pool)?;
        }
        let evidence = self.evidence_for(&pools).await?;
        let live = model::live();
        Ok(pools
            .into_iter()
            .zip(evidence)
            .map(|(pool, evidence)| {
                let score = live.score(&evidence);
                pb::RiskScore {
                    pool: Some(pool),
                    score: score.value(),
                    model_version: live.version().to_owned(),
                    components: score
                        .components
                        .iter()
                        .map(|c| pb::ScoreComponent {
                            name: c.name.to_owned(),
                            value: if c.name == model::EXPOSURE {
                                order_of_magnitude(c.value)
                            } else {
                                c.value
                            },
                            weight: c.weight,
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// What is known about each pool now: its advisor bucket, the interruptions any tenant reported
    /// there during the last week, and whether a hive-mind flag is on it.
    pub(crate) async fn evidence_for(&self, pools: &[Pool]) -> Result<Vec<Evidence>, Status> {
        let now = chrono::Utc::now().timestamp_millis();
        let regions: BTreeSet<&str> = pools.iter().map(|p| p.region.as_str()).collect();
        let mut ages: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        let mut flagged = BTreeSet::new();
        let mut exposure: BTreeMap<(String, String), f64> = BTreeMap::new();
        let mut volatility: BTreeMap<(String, String), f64> = BTreeMap::new();
        let mut exposure_known = BTreeSet::new();
        for region in regions {
            match self.exposure(region).await {
                Ok(counts) => {
                    exposure_known.insert(region.to_owned());
                    for ((zone, instance_type), count) in counts.iter() {
                        exposure.insert((zone.clone(), instance_type.clone()), f64::from(*count));
                    }
                }
                Err(status) => {
                    tracing::warn!(%status, region, "fleet exposure unknown; assuming {ASSUMED_INSTANCES} instances per pool");
                }
            }
            volatility.extend(self.volatilities(region, now).await?);
            for event in self
                .evidence
                .recent(region, now - MEMORY_MILLIS)
                .await
                .map_err(spot_db::status)?
            {
                ages.entry((event.zone, event.instance_type))
                    .or_default()
                    .push((now - event.at).max(0) as f64 / 3_600_000.0);
            }
            for flag in risk_flags::active(self.ctx.bus.as_ref(), region)
                .await
                .map_err(spot_error::ServiceError::into_status)?
            {
                flagged.insert((flag.zone, flag.instance_type));
            }
        }
        let catalog = Catalog::embedded();
        Ok(pools
            .iter()
            .map(|pool| {
                let key = (pool.zone.clone(), pool.instance_type.clone());
                let bucket = catalog
                    .advice(&pool.region, &pool.instance_type)
                    .ok()
                    .flatten()
                    .map(|a| a.interruption_bucket.min(4));
                let instances = if exposure_known.contains(&pool.region) {
                    exposure.get(&key).copied().unwrap_or(0.0)
                } else {
                    ASSUMED_INSTANCES
                };
                Evidence {
                    bucket,
                    instances,
                    interruption_ages_hours: ages.get(&key).cloned().unwrap_or_default(),
                    flagged: flagged.contains(&key),
                    price_volatility: volatility.get(&key).copied(),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::order_of_magnitude;

    #[test]
    fn fleet_counts_are_shown_as_orders_of_magnitude() {
        let shown: Vec<f64> = [0.0, 1.0, 2.0, 9.0, 10.0, 99.0, 100.0, 4_321.0]
            .into_iter()
            .map(order_of_magnitude)
            .collect();
        assert_eq!(shown, [0.0, 1.0, 1.0, 1.0, 10.0, 10.0, 100.0, 1_000.0]);
    }
}
