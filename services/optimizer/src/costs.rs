//! Cost samples: what a cluster costs now (from its agent's last report) and what the same nodes
//! would cost on-demand, stored over time. KPIs read the latest sample per cluster; savings are
//! the sum over time of (on-demand - actual) x hours between samples.

use std::collections::BTreeMap;

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use spot_cloud::Catalog;
use spot_db::Database;
use spot_proto::cluster::v1::GetClusterStateResponse;
use spot_proto::common::v1 as common;
use tonic::Status;

use crate::entity::cost_samples;
use crate::problem::{LivePrices, priced};

/// The last sample of a cluster counts for at most this long (an agent that went silent does
/// not accrue savings forever).
pub const LAST_SAMPLE_COUNTS_MILLIS: i64 = 10 * 60 * 1_000;

use spot_db::status as db_status;

/// A sample of the cluster as reported (spot nodes at their pools' live prices where known),
/// without identity or time.
pub fn measure(state: &GetClusterStateResponse, live: &LivePrices) -> cost_samples::Model {
    let region = state
        .cluster
        .as_ref()
        .map(|c| c.region.as_str())
        .unwrap_or_default();
    let catalog = Catalog::embedded();
    let mut sample = cost_samples::Model {
        id: String::new(),
        tenant_id: String::new(),
        cluster_id: String::new(),
        at: 0,
        cost_usd_per_hour: 0.0,
        on_demand_usd_per_hour: 0.0,
        nodes: 0,
        spot_nodes: 0,
        cpu_allocatable_millis: 0,
        cpu_requested_millis: 0,
        memory_allocatable_mib: 0,
        memory_requested_mib: 0,
        interruptions: 0,
        pools: String::new(),
    };
    let mut pools: BTreeMap<(String, String, &'static str), SampledPool> = BTreeMap::new();
    for node in &state.nodes {
        sample.nodes += 1;
        if node.capacity_type() == common::CapacityType::Spot {
            sample.spot_nodes += 1;
        }
        let (price, source) = priced(region, node, live);
        let on_demand = catalog
            .on_demand_price(&node.instance_type)
            .ok()
            .flatten()
            .unwrap_or(price);
        sample.cost_usd_per_hour += price;
        sample.on_demand_usd_per_hour += on_demand;
        let capacity_type = if node.capacity_type() == common::CapacityType::Spot {
            "spot"
        } else {
            "on_demand"
        };
        pools
            .entry((node.instance_type.clone(), node.zone.clone(), capacity_type))
            .or_insert_with(|| SampledPool {
                instance_type: node.instance_type.clone(),
                zone: node.zone.clone(),
                capacity_type: capacity_type.to_owned(),
                nodes: 0,
                price_micros_per_hour: micros(price),
                on_demand_micros_per_hour: micros(on_demand),
                price_source: source.as_str().to_owned(),
            })
            .nodes += 1;
        let allocatable = node.allocatable.unwrap_or_default();
        sample.cpu_allocatable_millis += allocatable.cpu_millis;
        sample.memory_allocatable_mib += allocatable.memory_mib;
    }
    let pools: Vec<SampledPool> = pools.into_values().collect();
    sample.pools = serde_json::to_string(&pools).unwrap_or_else(|_| "[]".to_owned());
    for pod in &state.pods {
        let running = !pod.node_name.is_empty()
            && !matches!(
                pod.phase(),
                common::PodPhase::Succeeded | common::PodPhase::Failed
            );
        if running {
            let requests = pod.requests.unwrap_or_default();
            sample.cpu_requested_millis += requests.cpu_millis;
            sample.memory_requested_mib += requests.memory_mib;
        }
    }
    sample
}

/// The nodes of one pool in a sample, with the prices (micro units per hour) they were counted at:
/// what metering bills from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SampledPool {
    pub instance_type: String,
    pub zone: String,
    /// spot or on_demand.
    pub capacity_type: String,
    pub nodes: i64,
    pub price_micros_per_hour: i64,
    pub on_demand_micros_per_hour: i64,
    /// live_spot, estimated_spot or on_demand_list.
    pub price_source: String,
}

/// Dollars as integer micro units, rounded half away from zero.
pub fn micros(dollars: f64) -> i64 {
    (dollars * 1_000_000.0).round() as i64
}

/// Savings, actual and on-demand cost in dollars over the samples (one cluster, time order),
/// counting from `since` to `now`.
pub fn accrued(samples: &[cost_samples::Model], since: i64, now: i64) -> (f64, f64) {
    let mut actual = 0.0;
    let mut on_demand = 0.0;
    for (i, sample) in samples.iter().enumerate() {
        let end = samples
            .get(i + 1)
            .map(|next| next.at)
            .unwrap_or_else(|| now.min(sample.at + LAST_SAMPLE_COUNTS_MILLIS));
        let start = sample.at.max(since);
        if end <= start {
            continue;
        }
        let hours = (end - start) as f64 / 3_600_000.0;
        actual += sample.cost_usd_per_hour * hours;
        on_demand += sample.on_demand_usd_per_hour * hours;
    }
    (actual, on_demand)
}

#[derive(Clone)]
pub struct CostStore {
    db: Database,
}

impl CostStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn insert(&self, mut sample: cost_samples::Model) -> Result<(), Status> {
        sample.id = uuid::Uuid::now_v7().simple().to_string();
        let row = cost_samples::ActiveModel {
            id: Set(sample.id),
            tenant_id: Set(sample.tenant_id),
            cluster_id: Set(sample.cluster_id),
            at: Set(sample.at),
            cost_usd_per_hour: Set(sample.cost_usd_per_hour),
            on_demand_usd_per_hour: Set(sample.on_demand_usd_per_hour),
            nodes: Set(sample.nodes),
            spot_nodes: Set(sample.spot_nodes),
            cpu_allocatable_millis: Set(sample.cpu_allocatable_millis),
            cpu_requested_millis: Set(sample.cpu_requested_millis),
            memory_allocatable_mib: Set(sample.memory_allocatable_mib),
            memory_requested_mib: Set(sample.memory_requested_mib),
            interruptions: Set(sample.interruptions),
            pools: Set(sample.pools),
        };
        row.insert(self.db.connection()).await.map_err(db_status)?;
        Ok(())
    }

    /// The tenant's samples (of one cluster, or all), oldest first, grouped by cluster.
    pub async fn by_cluster(
        &self,
        tenant_id: &str,
        cluster_id: Option<&str>,
        since: i64,
        until: i64,
    ) -> Result<BTreeMap<String, Vec<cost_samples::Model>>, Status> {
        let mut query = cost_samples::Entity::find()
            .filter(cost_samples::Column::TenantId.eq(tenant_id))
            // The sample before `since` still counts for the time after it.
            .filter(cost_samples::Column::At.gte(since - LAST_SAMPLE_COUNTS_MILLIS))
            .filter(cost_samples::Column::At.lte(until))
            .order_by_asc(cost_samples::Column::At);
        if let Some(cluster_id) = cluster_id {
            query = query.filter(cost_samples::Column::ClusterId.eq(cluster_id));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        let mut grouped: BTreeMap<String, Vec<cost_samples::Model>> = BTreeMap::new();
        for row in rows {
            grouped.entry(row.cluster_id.clone()).or_default().push(row);
        }
        Ok(grouped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, cost: f64, on_demand: f64) -> cost_samples::Model {
        let mut s = measure(&GetClusterStateResponse::default(), &LivePrices::new());
        s.at = at;
        s.cost_usd_per_hour = cost;
        s.on_demand_usd_per_hour = on_demand;
        s
    }

    #[test]
    fn savings_accrue_between_samples_and_stop_after_a_silent_while() {
        let hour = 3_600_000;
        let samples = [sample(0, 1.0, 3.0), sample(hour, 0.5, 3.0)];
        // First hour: 1 vs 3; then the last sample counts for 10 minutes only.
        let (actual, on_demand) = accrued(&samples, 0, 10 * hour);
        assert!((actual - (1.0 + 0.5 / 6.0)).abs() < 1e-9, "{actual}");
        assert!((on_demand - (3.0 + 3.0 / 6.0)).abs() < 1e-9, "{on_demand}");
        // Counting from the middle of the first hour.
        let (actual, _) = accrued(&samples, hour / 2, hour);
        assert!((actual - 0.5).abs() < 1e-9, "{actual}");
    }
}
