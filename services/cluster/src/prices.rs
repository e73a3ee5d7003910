//! Spot prices per pool from the cloud provider, cached per region and refreshed after a minute.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spot_cloud::{CloudError, CloudProvider, Pool};
use tonic::Status;

const FRESH_FOR: Duration = Duration::from_secs(60);

type RegionPrices = Arc<BTreeMap<Pool, f64>>;

#[derive(Clone)]
pub struct SpotPriceCache {
    cloud: Arc<dyn CloudProvider>,
    cached: Arc<Mutex<HashMap<String, (Instant, RegionPrices)>>>,
}

impl SpotPriceCache {
    pub fn new(cloud: Arc<dyn CloudProvider>) -> Self {
        Self {
            cloud,
            cached: Arc::default(),
        }
    }

    /// Every offered pool of `region` with its current spot price.
    pub async fn region(&self, region: &str) -> Result<RegionPrices, CloudError> {
        if let Some((at, prices)) = self
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(region)
            && at.elapsed() < FRESH_FOR
        {
            return Ok(prices.clone());
        }
        let prices: RegionPrices = Arc::new(
            self.cloud
                .spot_prices(region)
                .await?
                .into_iter()
                .map(|price| (price.pool, price.usd_per_hour))
                .collect(),
        );
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(region.to_owned(), (Instant::now(), prices.clone()));
        Ok(prices)
    }
}

impl crate::ClusterApi {
    pub(crate) async fn spot_prices(&self, region: &str) -> Result<RegionPrices, Status> {
        self.prices
            .region(region)
            .await
            .map_err(|error| match error {
                CloudError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
                other => Status::unavailable(other.to_string()),
            })
    }
}
