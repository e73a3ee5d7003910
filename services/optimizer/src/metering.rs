//! MeteringService (internal, for billing): the node time each cluster ran per hour, by pool, with
//! the prices it was counted at, from the cost samples. A sample counts until the next one, for
//! at most `LAST_SAMPLE_COUNTS_MILLIS` (the sampler skips clusters whose agent is away, so a gap
//! in the samples is time nobody reported: it bills nothing); hours no sample covers have no
//! record.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use spot_db::status as db_status;
use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::metering_service_server::MeteringService;
use tonic::{Request, Response, Status};

use crate::OptimizerApi;
use crate::costs::{LAST_SAMPLE_COUNTS_MILLIS, SampledPool};
use crate::entity::cost_samples;

pub const HOUR_MILLIS: i64 = 3_600_000;
const MAX_SPAN_MILLIS: i64 = 31 * 24 * HOUR_MILLIS;

/// A pool at the prices it ran at: node time at different prices is kept apart.
type PoolKey = (String, String, String, i64, i64, String);

/// One cluster's samples (time order) as metered hours in [from, until) (whole hours).
pub fn metered_hours(
    samples: &[cost_samples::Model],
    from: i64,
    until: i64,
) -> Vec<(i64, Vec<pb::MeteredPool>)> {
    let mut hours: BTreeMap<i64, BTreeMap<PoolKey, i64>> = BTreeMap::new();
    for (i, sample) in samples.iter().enumerate() {
        // A sample counts until the next, and never for longer than a sample is known to hold
        // (the sampler takes one at least every 5 minutes while the agent reports).
        let end = samples
            .get(i + 1)
            .map_or(i64::MAX, |next| next.at)
            .min(sample.at + LAST_SAMPLE_COUNTS_MILLIS)
            .min(until);
        let mut start = sample.at.max(from);
        let pools: Vec<SampledPool> = serde_json::from_str(&sample.pools).unwrap_or_default();
        while start < end {
            let hour = start - start.rem_euclid(HOUR_MILLIS);
            let slice_end = end.min(hour + HOUR_MILLIS);
            let millis = slice_end - start;
            for pool in &pools {
                let key = (
                    pool.instance_type.clone(),
                    pool.zone.clone(),
                    pool.capacity_type.clone(),
                    pool.price_micros_per_hour,
                    pool.on_demand_micros_per_hour,
                    pool.price_source.clone(),
                );
                *hours.entry(hour).or_default().entry(key).or_default() += pool.nodes * millis;
            }
            start = slice_end;
        }
    }
    hours
        .into_iter()
        .filter(|(_, pools)| pools.values().any(|millis| *millis > 0))
        .map(|(hour, pools)| {
            let pools = pools
                .into_iter()
                .filter(|(_, millis)| *millis > 0)
                .map(
                    |((instance_type, zone, capacity_type, price, on_demand, source), millis)| {
                        pb::MeteredPool {
                            instance_type,
                            zone,
                            capacity_type,
                            node_milliseconds: millis,
                            price_micros_per_hour: price,
                            on_demand_micros_per_hour: on_demand,
                            price_source: source,
                        }
                    },
                )
                .collect();
            (hour, pools)
        })
        .collect()
}

fn millis_of(at: Option<&prost_types::Timestamp>, field: &str) -> Result<i64, Status> {
    let at = at.ok_or_else(|| Status::invalid_argument(format!("{field}: required")))?;
    let millis = spot_proto::time::millis(at);
    if millis.rem_euclid(HOUR_MILLIS) != 0 {
        return Err(Status::invalid_argument(format!(
            "{field}: must be a whole hour"
        )));
    }
    Ok(millis)
}

#[tonic::async_trait]
impl MeteringService for OptimizerApi {
    async fn list_metered_hours(
        &self,
        request: Request<pb::ListMeteredHoursRequest>,
    ) -> Result<Response<pb::ListMeteredHoursResponse>, Status> {
        let request = request.into_inner();
        let from = millis_of(request.from.as_ref(), "from")?;
        let until = millis_of(request.until.as_ref(), "until")?;
        if until <= from || until - from > MAX_SPAN_MILLIS {
            return Err(Status::invalid_argument(
                "until: must be after from, by at most 31 days",
            ));
        }
        let mut query = cost_samples::Entity::find()
            .filter(cost_samples::Column::At.gte(from - LAST_SAMPLE_COUNTS_MILLIS))
            .filter(cost_samples::Column::At.lt(until))
            .order_by_asc(cost_samples::Column::At);
        if !request.tenant_id.is_empty() {
            query = query.filter(cost_samples::Column::TenantId.eq(request.tenant_id));
        }
        let rows = query
            .all(self.ctx.db.connection())
            .await
            .map_err(db_status)?;
        let mut clusters: BTreeMap<(String, String), Vec<cost_samples::Model>> = BTreeMap::new();
        for row in rows {
            clusters
                .entry((row.tenant_id.clone(), row.cluster_id.clone()))
                .or_default()
                .push(row);
        }
        let mut hours = Vec::new();
        for ((tenant_id, cluster_id), samples) in clusters {
            for (hour, pools) in metered_hours(&samples, from, until) {
                hours.push(pb::MeteredHour {
                    tenant_id: tenant_id.clone(),
                    cluster_id: cluster_id.clone(),
                    hour_start: Some(spot_proto::time::timestamp(hour)),
                    pools,
                });
            }
        }
        Ok(Response::new(pb::ListMeteredHoursResponse { hours }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, pools: &[(i64, i64, i64)]) -> cost_samples::Model {
        let pools: Vec<SampledPool> = pools
            .iter()
            .map(|(nodes, price, on_demand)| SampledPool {
                instance_type: "m6g.large".to_owned(),
                zone: "us-east-1a".to_owned(),
                capacity_type: "spot".to_owned(),
                nodes: *nodes,
                price_micros_per_hour: *price,
                on_demand_micros_per_hour: *on_demand,
                price_source: "live_spot".to_owned(),
            })
            .collect();
        cost_samples::Model {
            id: String::new(),
            tenant_id: "t".to_owned(),
            cluster_id: "c".to_owned(),
            at,
            cost_usd_per_hour: 0.0,
            on_demand_usd_per_hour: 0.0,
            nodes: 0,
            spot_nodes: 0,
            cpu_allocatable_millis: 0,
            cpu_requested_millis: 0,
            memory_allocatable_mib: 0,
            memory_requested_mib: 0,
            interruptions: 0,
            pools: serde_json::to_string(&pools).expect("pools serialise"),
        }
    }

    #[test]
    fn node_time_is_split_at_hour_boundaries_and_a_gap_in_the_reports_bills_nothing() {
        let minute = 60_000;
        // Two nodes from 00:55, three at another price from 01:02; then nothing until 04:00.
        let samples = [
            sample(55 * minute, &[(2, 30_000, 77_000)]),
            sample(62 * minute, &[(3, 31_000, 77_000)]),
            sample(4 * 60 * minute, &[(1, 31_000, 77_000)]),
        ];
        let hours = metered_hours(&samples, 0, 5 * HOUR_MILLIS);
        let starts: Vec<i64> = hours
            .iter()
            .map(|(start, _)| *start / HOUR_MILLIS)
            .collect();
        // Hours 2 and 3 nobody reported: no record.
        assert_eq!(starts, [0, 1, 4], "{hours:?}");
        assert_eq!(hours[0].1[0].node_milliseconds, 2 * 5 * minute);
        let second = &hours[1].1;
        let at = |price| {
            second
                .iter()
                .find(|p| p.price_micros_per_hour == price)
                .expect("pool")
        };
        assert_eq!(at(30_000).node_milliseconds, 2 * 2 * minute);
        // A sample counts for ten minutes at most.
        assert_eq!(at(31_000).node_milliseconds, 3 * 10 * minute);
        assert_eq!(hours[2].1[0].node_milliseconds, 10 * minute);
    }

    #[test]
    fn hours_outside_the_range_are_not_metered() {
        let samples = [sample(0, &[(1, 1, 2)]), sample(HOUR_MILLIS, &[(1, 1, 2)])];
        let hours = metered_hours(&samples, HOUR_MILLIS, 2 * HOUR_MILLIS);
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[0].0, HOUR_MILLIS);
        assert_eq!(hours[0].1[0].node_milliseconds, 10 * 60_000);
    }
}
