//! Clusters found in an account from their instances' tags, the way EKS and Kubernetes tag nodes.

use std::collections::BTreeMap;

use spot_cloud::{CapacityType, Catalog, Instance, Pool};

pub const EKS_TAG: &str = "eks:cluster-name";
pub const KUBERNETES_TAG_PREFIX: &str = "kubernetes.io/cluster/";

/// One cluster's nodes in one region, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSummary {
    pub name: String,
    pub region: String,
    pub nodes: i32,
    pub instance_types: BTreeMap<String, i32>,
    pub zones: BTreeMap<String, i32>,
    pub spot_share_percent: f64,
    pub hourly_cost_usd: f64,
}

/// The cluster an instance belongs to: `eks:cluster-name`, else the `kubernetes.io/cluster/<name>` key.
pub fn cluster_of(instance: &Instance) -> Option<String> {
    instance.tags.get(EKS_TAG).cloned().or_else(|| {
        instance
            .tags
            .keys()
            .find_map(|key| key.strip_prefix(KUBERNETES_TAG_PREFIX).map(str::to_owned))
    })
}

/// Groups instances into clusters. Spot nodes cost their pool's spot price (the live one when
/// known, else the advisor's estimate); on-demand nodes their on-demand price.
pub fn summarize(instances: &[Instance], spot_prices: &BTreeMap<Pool, f64>) -> Vec<ClusterSummary> {
    let catalog = Catalog::embedded();
    let mut clusters: BTreeMap<(String, String), ClusterSummary> = BTreeMap::new();
    let mut spot_nodes: BTreeMap<(String, String), i32> = BTreeMap::new();
    for instance in instances {
        let Some(name) = cluster_of(instance) else {
            continue;
        };
        let key = (instance.pool.region.clone(), name.clone());
        let summary = clusters
            .entry(key.clone())
            .or_insert_with(|| ClusterSummary {
                name,
                region: instance.pool.region.clone(),
                nodes: 0,
                instance_types: BTreeMap::new(),
                zones: BTreeMap::new(),
                spot_share_percent: 0.0,
                hourly_cost_usd: 0.0,
            });
        summary.nodes += 1;
        *summary
            .instance_types
            .entry(instance.pool.instance_type.clone())
            .or_default() += 1;
        *summary.zones.entry(instance.pool.zone.clone()).or_default() += 1;
        let on_demand = catalog
            .on_demand_price(&instance.pool.instance_type)
            .ok()
            .flatten();
        let price = match instance.capacity_type {
            CapacityType::OnDemand => on_demand,
            CapacityType::Spot => {
                *spot_nodes.entry(key).or_default() += 1;
                spot_prices.get(&instance.pool).copied().or_else(|| {
                    catalog
                        .estimated_spot_price(&instance.pool.region, &instance.pool.instance_type)
                        .ok()
                        .flatten()
                })
            }
        };
        summary.hourly_cost_usd += price.unwrap_or_default();
    }
    clusters
        .into_iter()
        .map(|(key, mut summary)| {
            let spot = spot_nodes.get(&key).copied().unwrap_or_default();
            summary.spot_share_percent = 100.0 * f64::from(spot) / f64::from(summary.nodes.max(1));
            summary
        })
        .collect()
}
