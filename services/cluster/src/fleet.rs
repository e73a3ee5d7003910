//! CountClusters (internal): how many clusters each tenant has, for the admin console.
//!
//! GetFleetExposure (internal): the spot nodes the platform runs per pool, summed over every
//! tenant's clusters, with each pool's current spot price. The risk service weighs interruption counts by it; nothing in the answer
//! says whose nodes they are.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use spot_proto::cluster::v1 as pb;
use spot_proto::common::v1::{CapacityType, Pool};
use tonic::Status;

use crate::ClusterApi;
use crate::common::db_status;
use crate::entity::clusters;

impl ClusterApi {
    /// How many clusters each tenant has; a tenant without any is absent.
    pub(crate) async fn cluster_counts(
        &self,
        tenant_ids: &[String],
    ) -> Result<HashMap<String, u32>, Status> {
        if tenant_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let counts: Vec<(String, i64)> = clusters::Entity::find()
            .select_only()
            .column(clusters::Column::TenantId)
            .column_as(clusters::Column::Id.count(), "clusters")
            .filter(clusters::Column::TenantId.is_in(tenant_ids.iter().cloned()))
            .group_by(clusters::Column::TenantId)
            .into_tuple()
            .all(self.ctx.db.connection())
            .await
            .map_err(db_status)?;
        Ok(counts
            .into_iter()
            .map(|(tenant_id, n)| (tenant_id, u32::try_from(n).unwrap_or(u32::MAX)))
            .collect())
    }

    pub(crate) async fn fleet_exposure(
        &self,
        region: &str,
    ) -> Result<pb::GetFleetExposureResponse, Status> {
        let mut query = clusters::Entity::find();
        if !region.is_empty() {
            query = query.filter(clusters::Column::Region.eq(region));
        }
        let all = query
            .all(self.ctx.db.connection())
            .await
            .map_err(db_status)?;
        let mut counts: BTreeMap<(String, String, String), u32> = BTreeMap::new();
        // One tenant per region whose price source answers for it (prices are the market's).
        let mut price_source: BTreeMap<String, String> = BTreeMap::new();
        for cluster in all {
            price_source
                .entry(cluster.region.clone())
                .or_insert_with(|| cluster.tenant_id.clone());
            for node in self.inventory.nodes(&cluster.id, None, None).await? {
                if node.capacity_type() == CapacityType::Spot {
                    *counts
                        .entry((cluster.region.clone(), node.zone, node.instance_type))
                        .or_default() += 1;
                }
            }
        }
        let mut prices = BTreeMap::new();
        for (region, tenant_id) in &price_source {
            match self.spot_prices(tenant_id, region).await {
                Ok(found) => {
                    prices.insert(region.clone(), found);
                }
                Err(status) => tracing::warn!(%status, region, "spot prices unavailable"),
            }
        }
        Ok(pb::GetFleetExposureResponse {
            pools: counts
                .into_iter()
                .map(|((region, zone, instance_type), spot_nodes)| {
                    let pool = spot_cloud::Pool {
                        region,
                        zone,
                        instance_type,
                    };
                    let spot_usd_per_hour = prices
                        .get(&pool.region)
                        .and_then(|found| found.get(&pool))
                        .copied()
                        .unwrap_or(0.0);
                    pb::PoolExposure {
                        pool: Some(Pool {
                            region: pool.region,
                            zone: pool.zone,
                            instance_type: pool.instance_type,
                        }),
                        spot_nodes,
                        spot_usd_per_hour,
                    }
                })
                .collect(),
        })
    }
}
