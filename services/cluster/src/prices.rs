//! Spot prices per pool, cached per price source and region and refreshed after a minute. The
//! source is the simulated cloud in the embedded default, or a tenant's linked account on AWS.
//!
//! A live price outside a sane band is not believed: above the on-demand price (AWS never charges
//! more for spot; outside us-east-1, whose prices the catalog has, the band allows for dearer
//! regions), or under a quarter of the advisor's estimate (a placeholder such as moto's
//! $0.00001, which would make the optimizer pick the largest type there is). Such a pool is
//! priced at the advisor's estimate instead and listed as distrusted, so the catalog says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use spot_cloud::{Catalog, CloudError, CloudProvider, Pool, RoleArn};
use tonic::Status;

use crate::connector::CloudConnector;
use crate::entity::aws_accounts;

const FRESH_FOR: Duration = Duration::from_secs(60);
/// A live price under this share of the advisor's estimate is taken for a placeholder.
const LOWEST_SHARE_OF_ESTIMATE: f64 = 0.25;
/// The catalog's on-demand prices are us-east-1's; other regions' run up to about half again as
/// much, so their band's top is widened by this factor.
const OTHER_REGION_ON_DEMAND_FACTOR: f64 = 1.6;

/// A region's spot prices: live, except the distrusted pools, which carry the estimate.
#[derive(Debug, Default, PartialEq)]
pub struct LivePrices {
    pub by_pool: BTreeMap<Pool, f64>,
    /// Pools whose live price was out of band (their price here is the advisor's estimate).
    pub distrusted: BTreeSet<Pool>,
}

impl std::ops::Deref for LivePrices {
    type Target = BTreeMap<Pool, f64>;
    fn deref(&self) -> &Self::Target {
        &self.by_pool
    }
}

pub type RegionPrices = Arc<LivePrices>;

/// Applies the sane band (see the module header) to a source's prices.
pub fn sane(prices: impl IntoIterator<Item = (Pool, f64)>) -> LivePrices {
    let catalog = Catalog::embedded();
    let mut live = LivePrices::default();
    for (pool, price) in prices {
        let factor = if pool.region == "us-east-1" {
            1.0
        } else {
            OTHER_REGION_ON_DEMAND_FACTOR
        };
        let on_demand = catalog
            .on_demand_price(&pool.instance_type)
            .ok()
            .flatten()
            .map(|price| price * factor);
        let estimate = catalog
            .estimated_spot_price(&pool.region, &pool.instance_type)
            .ok()
            .flatten();
        let above_on_demand = on_demand.is_some_and(|od| price > od);
        let far_below = estimate.is_some_and(|e| price < e * LOWEST_SHARE_OF_ESTIMATE);
        match estimate {
            Some(estimate) if above_on_demand || far_below => {
                live.by_pool.insert(pool.clone(), estimate);
                live.distrusted.insert(pool);
            }
            _ => {
                live.by_pool.insert(pool, price);
            }
        }
    }
    if let Some(example) = live.distrusted.first() {
        tracing::warn!(
            distrusted = live.distrusted.len(),
            example = %format!("{} in {}", example.instance_type, example.zone),
            "live spot prices out of band: the advisor's estimate is used for them"
        );
    }
    live
}

/// (price source, region) -> when fetched, the source's clock then, and the prices.
type Cached = HashMap<(String, String), (Instant, Option<i64>, RegionPrices)>;

#[derive(Clone, Default)]
pub struct SpotPriceCache {
    cached: Arc<Mutex<Cached>>,
}

impl SpotPriceCache {
    /// Every offered pool of `region` with its current spot price, from `source`'s cloud. A
    /// source with its own clock (`clock`: the simulated world's time) is asked again whenever
    /// that clock moved, since only then can its prices have; any other after [`FRESH_FOR`].
    pub async fn get(
        &self,
        source: &str,
        clock: Option<i64>,
        cloud: &dyn CloudProvider,
        region: &str,
    ) -> Result<RegionPrices, CloudError> {
        let key = (source.to_owned(), region.to_owned());
        if let Some((at, seen_clock, prices)) = self.lock().get(&key) {
            let fresh = match clock {
                Some(now) => *seen_clock == Some(now),
                None => at.elapsed() < FRESH_FOR,
            };
            if fresh {
                return Ok(prices.clone());
            }
        }
        let prices: RegionPrices = Arc::new(sane(
            cloud
                .spot_prices(region)
                .await?
                .into_iter()
                .map(|price| (price.pool, price.usd_per_hour)),
        ));
        self.lock()
            .insert(key, (Instant::now(), clock, prices.clone()));
        Ok(prices)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl crate::ClusterApi {
    /// Live spot prices for a tenant: the simulated world's, or those of the tenant's first
    /// verified AWS account. Empty when there is no live source (callers fall back to estimates).
    pub(crate) async fn spot_prices(
        &self,
        tenant_id: &str,
        region: &str,
    ) -> Result<RegionPrices, Status> {
        let unavailable = |error: CloudError| match error {
            CloudError::InvalidArgument { .. } => Status::invalid_argument(error.to_string()),
            other => Status::unavailable(other.to_string()),
        };
        match &self.connector {
            CloudConnector::Simulated(cloud) => self
                .prices
                .get("simulated", Some(cloud.now()), cloud.as_ref(), region)
                .await
                .map_err(unavailable),
            CloudConnector::Aws(_) => {
                let account = aws_accounts::Entity::find()
                    .filter(aws_accounts::Column::TenantId.eq(tenant_id))
                    .filter(aws_accounts::Column::Status.eq("verified"))
                    .order_by_asc(aws_accounts::Column::LinkedAt)
                    .one(self.ctx.db.connection())
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?;
                let Some(account) = account else {
                    return Ok(RegionPrices::default());
                };
                let role = RoleArn::parse(&account.role_arn).map_err(Status::internal)?;
                let external_id = self.external_id(tenant_id).await?;
                let cloud = self.connector.connect(&role, &external_id).await;
                self.prices
                    .get(&account.id, None, cloud.as_ref(), region)
                    .await
                    .map_err(unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(instance_type: &str) -> Pool {
        Pool {
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            instance_type: instance_type.into(),
        }
    }

    #[test]
    fn placeholder_and_above_on_demand_prices_give_way_to_the_estimate() {
        let catalog = Catalog::embedded();
        let estimate = |t: &str| {
            catalog
                .estimated_spot_price("us-east-1", t)
                .unwrap()
                .unwrap()
        };
        let on_demand = |t: &str| catalog.on_demand_price(t).unwrap().unwrap();
        let live = sane([
            (pool("m5.large"), estimate("m5.large") * 0.9),
            (pool("m5.24xlarge"), 0.00001),
            (pool("c5.large"), on_demand("c5.large") * 1.5),
        ]);
        assert_eq!(
            live.get(&pool("m5.large")),
            Some(&(estimate("m5.large") * 0.9))
        );
        assert_eq!(
            live.get(&pool("m5.24xlarge")),
            Some(&estimate("m5.24xlarge"))
        );
        assert_eq!(live.get(&pool("c5.large")), Some(&estimate("c5.large")));
        assert_eq!(
            live.distrusted
                .iter()
                .map(|p| p.instance_type.as_str())
                .collect::<Vec<_>>(),
            ["c5.large", "m5.24xlarge"]
        );
    }
}
