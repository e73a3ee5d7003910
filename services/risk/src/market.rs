//! The market the scores look at besides interruptions: how many spot nodes the platform runs in
//! each pool (the exposure behind the counts, from the cluster service, over every tenant, counts
//! only) and how much each pool's spot price moved lately (samples taken every
//! `price_sample_seconds` by one replica, kept a day).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use spot_config::ServiceName;
use spot_proto::cluster::v1::fleet_service_client::FleetServiceClient;
use spot_proto::cluster::v1::{GetFleetExposureRequest, PoolExposure};
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::RiskApi;

/// The window a score's volatility is computed over.
pub const VOLATILITY_WINDOW_MILLIS: i64 = 6 * 3_600 * 1_000;
/// Samples older than this are dropped.
const KEEP_SAMPLES_MILLIS: i64 = 24 * 3_600 * 1_000;
/// Fewer samples than this say nothing about volatility.
const MIN_SAMPLES: usize = 3;
/// How long a region's exposure is reused before the cluster service is asked again.
const EXPOSURE_FRESH_FOR: Duration = Duration::from_secs(30);

pub mod spot_price_samples {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "spot_price_samples")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub region: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub zone: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub instance_type: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub at: i64,
        pub usd_per_hour: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// (zone, instance type).
pub type PoolKey = (String, String);

/// The relative spread of a pool's recent prices: standard deviation over mean; None with too
/// few samples or no price.
pub fn volatility(prices: &[f64]) -> Option<f64> {
    if prices.len() < MIN_SAMPLES {
        return None;
    }
    let n = prices.len() as f64;
    let mean = prices.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let variance = prices.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n;
    Some(variance.sqrt() / mean)
}

/// Spot nodes per pool of one region.
pub type Exposure = Arc<BTreeMap<PoolKey, u32>>;

/// Region -> when fetched, and its exposure.
#[derive(Clone, Default)]
pub struct ExposureCache {
    cached: Arc<Mutex<HashMap<String, (Instant, Exposure)>>>,
}

impl ExposureCache {
    fn fresh(&self, region: &str) -> Option<Exposure> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .get(region)
            .filter(|(at, _)| at.elapsed() < EXPOSURE_FRESH_FOR)
            .map(|(_, counts)| counts.clone())
    }

    fn store(&self, region: &str, counts: Exposure) {
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(region.to_owned(), (Instant::now(), counts));
    }
}

fn key(exposure: &PoolExposure) -> Option<(String, PoolKey)> {
    let pool = exposure.pool.as_ref()?;
    Some((
        pool.region.clone(),
        (pool.zone.clone(), pool.instance_type.clone()),
    ))
}

impl RiskApi {
    async fn fleet(&self, region: &str) -> Result<Vec<PoolExposure>, Status> {
        let channel = self
            .ctx
            .clients
            .channel(ServiceName::Cluster)
            .ok_or_else(|| Status::unavailable("the cluster service is not reachable"))?;
        Ok(FleetServiceClient::new(channel)
            .get_fleet_exposure(GetFleetExposureRequest {
                region: region.to_owned(),
            })
            .await?
            .into_inner()
            .pools)
    }

    /// Spot nodes the platform runs per pool of the region (briefly cached).
    pub(crate) async fn exposure(
        &self,
        region: &str,
    ) -> Result<Arc<BTreeMap<PoolKey, u32>>, Status> {
        if let Some(counts) = self.exposure.fresh(region) {
            return Ok(counts);
        }
        let counts: Exposure = Arc::new(
            self.fleet(region)
                .await?
                .iter()
                .filter_map(|e| key(e).map(|(_, pool)| (pool, e.spot_nodes)))
                .collect(),
        );
        self.exposure.store(region, counts.clone());
        Ok(counts)
    }

    /// Each pool's price volatility over the window, from the samples.
    pub(crate) async fn volatilities(
        &self,
        region: &str,
        now_millis: i64,
    ) -> Result<BTreeMap<PoolKey, f64>, Status> {
        let samples = spot_price_samples::Entity::find()
            .filter(spot_price_samples::Column::Region.eq(region))
            .filter(spot_price_samples::Column::At.gte(now_millis - VOLATILITY_WINDOW_MILLIS))
            .all(self.ctx.db.connection())
            .await
            .map_err(spot_db::status)?;
        let mut prices: BTreeMap<PoolKey, Vec<f64>> = BTreeMap::new();
        for sample in samples {
            prices
                .entry((sample.zone, sample.instance_type))
                .or_default()
                .push(sample.usd_per_hour);
        }
        Ok(prices
            .into_iter()
            .filter_map(|(pool, prices)| volatility(&prices).map(|v| (pool, v)))
            .collect())
    }

    /// Samples the prices of every pool the platform runs spot nodes in, until the lease is lost.
    pub(crate) async fn run_price_sampler(self, lost: CancellationToken) {
        let period = Duration::from_secs(self.ctx.config.price_sample_seconds);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(status) = self.sample_prices().await {
                        tracing::warn!(%status, "spot prices not sampled");
                    }
                }
            }
        }
    }

    async fn sample_prices(&self) -> Result<(), Status> {
        let now = chrono::Utc::now().timestamp_millis();
        let rows: Vec<spot_price_samples::ActiveModel> = self
            .fleet("")
            .await?
            .iter()
            .filter(|e| e.spot_usd_per_hour > 0.0)
            .filter_map(|e| {
                let (region, (zone, instance_type)) = key(e)?;
                Some(spot_price_samples::ActiveModel {
                    region: Set(region),
                    zone: Set(zone),
                    instance_type: Set(instance_type),
                    at: Set(now),
                    usd_per_hour: Set(e.spot_usd_per_hour),
                })
            })
            .collect();
        let db = self.ctx.db.connection();
        if !rows.is_empty() {
            spot_price_samples::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        spot_price_samples::Column::Region,
                        spot_price_samples::Column::Zone,
                        spot_price_samples::Column::InstanceType,
                        spot_price_samples::Column::At,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .do_nothing()
                .exec(db)
                .await
                .map_err(spot_db::status)?;
        }
        spot_price_samples::Entity::delete_many()
            .filter(spot_price_samples::Column::At.lt(now - KEEP_SAMPLES_MILLIS))
            .exec(db)
            .await
            .map_err(spot_db::status)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatility_is_the_relative_spread_and_needs_a_few_samples() {
        assert_eq!(volatility(&[1.0, 1.0]), None);
        assert_eq!(volatility(&[0.0, 0.0, 0.0]), None);
        assert!(volatility(&[0.2, 0.2, 0.2]).unwrap() < 1e-12);
        // 0.9, 1.0, 1.1: sd = sqrt(0.02 / 3), mean 1.
        let v = volatility(&[0.9, 1.0, 1.1]).unwrap();
        assert!((v - (0.02f64 / 3.0).sqrt()).abs() < 1e-12, "{v}");
    }
}
