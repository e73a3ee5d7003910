//! Spot prices per pool, cached per price source and region and refreshed after a minute. The
//! source is the simulated cloud in the embedded default, or a tenant's linked account on AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use spot_cloud::{CloudError, CloudProvider, Pool, RoleArn};
use tonic::Status;

use crate::connector::CloudConnector;
use crate::entity::aws_accounts;

const FRESH_FOR: Duration = Duration::from_secs(60);

pub type RegionPrices = Arc<BTreeMap<Pool, f64>>;

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
        let prices: RegionPrices = Arc::new(
            cloud
                .spot_prices(region)
                .await?
                .into_iter()
                .map(|price| (price.pool, price.usd_per_hour))
                .collect(),
        );
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
