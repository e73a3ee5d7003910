//! Metered hours: each cluster's realised savings per hour, computed here from the node time and
//! prices the optimizer's cost samples recorded, and stored with those inputs so any invoice line
//! can be recomputed. Hours of a closed period are never written again.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use spot_db::{Database, status as db_status};
use spot_proto::billing::v1 as pb;
use spot_proto::optimizer::v1::MeteredHour;
use tonic::Status;

use crate::entity::{billing_invoices, billing_usage};
use crate::invoice::{Hour, rounded};
use crate::period::{HOUR_MILLIS, period_of};
use crate::plans::CURRENCY;
use spot_proto::time::{millis, timestamp};

/// One pool's node time in an hour and the prices it ran at (see `PoolUsage` in billing.proto).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
    pub node_milliseconds: i64,
    pub price_micros_per_hour: i64,
    pub on_demand_micros_per_hour: i64,
    pub price_source: String,
}

/// (savings, cost, on-demand cost) of an hour in micro units: sum over pools of node time x
/// price / one hour, each sum rounded half away from zero once.
pub fn amounts(pools: &[Pool]) -> (i64, i64, i64) {
    let hour = i128::from(HOUR_MILLIS);
    let sum = |price: &dyn Fn(&Pool) -> i64| -> i128 {
        pools
            .iter()
            .map(|p| i128::from(p.node_milliseconds) * i128::from(price(p)))
            .sum()
    };
    let cost = sum(&|p| p.price_micros_per_hour);
    let on_demand = sum(&|p| p.on_demand_micros_per_hour);
    (
        rounded(on_demand - cost, hour),
        rounded(cost, hour),
        rounded(on_demand, hour),
    )
}

fn pools_of(hour: &MeteredHour) -> Vec<Pool> {
    hour.pools
        .iter()
        .map(|p| Pool {
            instance_type: p.instance_type.clone(),
            zone: p.zone.clone(),
            capacity_type: p.capacity_type.clone(),
            node_milliseconds: p.node_milliseconds,
            price_micros_per_hour: p.price_micros_per_hour,
            on_demand_micros_per_hour: p.on_demand_micros_per_hour,
            price_source: p.price_source.clone(),
        })
        .collect()
}

pub fn to_proto(row: &billing_usage::Model) -> pb::UsageRecord {
    let pools: Vec<Pool> = serde_json::from_str(&row.pools).unwrap_or_default();
    pb::UsageRecord {
        cluster_id: row.cluster_id.clone(),
        hour_start: Some(timestamp(row.hour_start)),
        savings_micros: row.savings_micros,
        cost_micros: row.cost_micros,
        on_demand_micros: row.on_demand_micros,
        pools: pools
            .into_iter()
            .map(|p| pb::PoolUsage {
                instance_type: p.instance_type,
                zone: p.zone,
                capacity_type: p.capacity_type,
                node_milliseconds: p.node_milliseconds,
                price_micros_per_hour: p.price_micros_per_hour,
                on_demand_micros_per_hour: p.on_demand_micros_per_hour,
                price_source: p.price_source,
            })
            .collect(),
        currency: CURRENCY.to_owned(),
    }
}

#[derive(Clone)]
pub struct Usage {
    db: Database,
}

impl Usage {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores the metered hours (replacing what an earlier metering wrote for the same hour),
    /// except those in a period already invoiced for the tenant. Returns how many were written.
    pub async fn record(&self, hours: &[MeteredHour]) -> Result<u32, Status> {
        let mut written = 0;
        let mut closed: std::collections::HashMap<(String, i64), bool> = Default::default();
        for hour in hours {
            let Some(start) = hour.hour_start.as_ref().map(millis) else {
                continue;
            };
            let period_start = period_of(start).0;
            let key = (hour.tenant_id.clone(), period_start);
            let is_closed = match closed.get(&key) {
                Some(known) => *known,
                None => {
                    let found = self.invoiced(&hour.tenant_id, period_start).await?;
                    closed.insert(key, found);
                    found
                }
            };
            if is_closed {
                continue;
            }
            let pools = pools_of(hour);
            let (savings, cost, on_demand) = amounts(&pools);
            let row = billing_usage::ActiveModel {
                id: sea_orm::Set(format!("{}@{start}", hour.cluster_id)),
                tenant_id: sea_orm::Set(hour.tenant_id.clone()),
                cluster_id: sea_orm::Set(hour.cluster_id.clone()),
                hour_start: sea_orm::Set(start),
                savings_micros: sea_orm::Set(savings),
                cost_micros: sea_orm::Set(cost),
                on_demand_micros: sea_orm::Set(on_demand),
                pools: sea_orm::Set(
                    serde_json::to_string(&pools).unwrap_or_else(|_| "[]".to_owned()),
                ),
            };
            billing_usage::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(billing_usage::Column::Id)
                        .update_columns([
                            billing_usage::Column::SavingsMicros,
                            billing_usage::Column::CostMicros,
                            billing_usage::Column::OnDemandMicros,
                            billing_usage::Column::Pools,
                        ])
                        .to_owned(),
                )
                .exec(self.db.connection())
                .await
                .map_err(db_status)?;
            written += 1;
        }
        Ok(written)
    }

    async fn invoiced(&self, tenant_id: &str, period_start: i64) -> Result<bool, Status> {
        Ok(billing_invoices::Entity::find()
            .filter(billing_invoices::Column::TenantId.eq(tenant_id))
            .filter(billing_invoices::Column::PeriodStart.eq(period_start))
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .is_some())
    }

    /// The tenant's metered hours in [since, until), oldest first.
    pub async fn between(
        &self,
        tenant_id: &str,
        cluster_id: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<Vec<billing_usage::Model>, Status> {
        let mut query = billing_usage::Entity::find()
            .filter(billing_usage::Column::TenantId.eq(tenant_id))
            .filter(billing_usage::Column::HourStart.gte(since))
            .filter(billing_usage::Column::HourStart.lt(until))
            .order_by_asc(billing_usage::Column::HourStart)
            .order_by_asc(billing_usage::Column::ClusterId);
        if let Some(cluster_id) = cluster_id {
            query = query.filter(billing_usage::Column::ClusterId.eq(cluster_id));
        }
        query.all(self.db.connection()).await.map_err(db_status)
    }
}

pub fn hours_of(rows: &[billing_usage::Model]) -> Vec<Hour> {
    rows.iter()
        .map(|row| Hour {
            cluster_id: row.cluster_id.clone(),
            hour_start: row.hour_start,
            savings_micros: row.savings_micros,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(node_milliseconds: i64, price: i64, on_demand: i64) -> Pool {
        Pool {
            instance_type: "m6g.large".to_owned(),
            zone: "us-east-1a".to_owned(),
            capacity_type: "spot".to_owned(),
            node_milliseconds,
            price_micros_per_hour: price,
            on_demand_micros_per_hour: on_demand,
            price_source: "live_spot".to_owned(),
        }
    }

    #[test]
    fn an_hours_savings_are_node_time_times_the_price_difference() {
        // Two nodes all hour at 0.03 vs 0.077, one node half an hour on demand (no saving).
        let pools = [
            pool(2 * HOUR_MILLIS, 30_000, 77_000),
            pool(HOUR_MILLIS / 2, 77_000, 77_000),
        ];
        assert_eq!(amounts(&pools), (94_000, 98_500, 192_500));
        // A third of an hour rounds half away from zero, negative too.
        assert_eq!(amounts(&[pool(HOUR_MILLIS / 3, 0, 2)]).0, 1);
        assert_eq!(amounts(&[pool(HOUR_MILLIS / 4, 2, 0)]).0, -1);
    }
}
