//! DashboardService and the savings report: KPIs from each cluster's latest cost sample, series and
//! savings summed over the samples. A cluster id must be the caller's; empty means the tenant.

use std::collections::BTreeMap;

use spot_proto::optimizer::v1 as pb;
use spot_proto::optimizer::v1::dashboard_service_server::DashboardService;
use tonic::{Request, Response, Status};

use crate::OptimizerApi;
use crate::costs::{LAST_SAMPLE_COUNTS_MILLIS, accrued};
use crate::entity::cost_samples;
use spot_access::tenant;

type Samples = BTreeMap<String, Vec<cost_samples::Model>>;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

impl OptimizerApi {
    /// The tenant's samples, of one cluster (checked to be the tenant's) or of all its clusters.
    async fn samples(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        since: i64,
        until: i64,
    ) -> Result<Samples, Status> {
        let cluster = if cluster_id.is_empty() {
            None
        } else {
            self.cluster_state(tenant_id, cluster_id).await?;
            Some(cluster_id)
        };
        self.costs
            .by_cluster(tenant_id, cluster, since, until)
            .await
    }
}

pub fn kpis(samples: &Samples, now: i64) -> pb::Kpis {
    let mut kpis = pb::Kpis::default();
    let (
        mut spot,
        mut cpu_allocatable,
        mut cpu_requested,
        mut memory_allocatable,
        mut memory_requested,
    ) = (0_i64, 0_i64, 0_i64, 0_i64, 0_i64);
    for cluster in samples.values() {
        let (actual, on_demand) = accrued(cluster, 0, now);
        kpis.savings_to_date_usd += on_demand - actual;
        kpis.interruptions_handled += cluster.iter().map(|s| s.interruptions).sum::<i64>() as u32;
        let Some(latest) = cluster
            .last()
            .filter(|s| now - s.at <= LAST_SAMPLE_COUNTS_MILLIS)
        else {
            continue;
        };
        kpis.hourly_cost_usd += latest.cost_usd_per_hour;
        kpis.on_demand_hourly_cost_usd += latest.on_demand_usd_per_hour;
        kpis.nodes += latest.nodes as u32;
        spot += latest.spot_nodes;
        cpu_allocatable += latest.cpu_allocatable_millis;
        cpu_requested += latest.cpu_requested_millis;
        memory_allocatable += latest.memory_allocatable_mib;
        memory_requested += latest.memory_requested_mib;
    }
    kpis.spot_share_percent = percent(spot as f64, f64::from(kpis.nodes));
    kpis.cpu_allocation_percent = percent(cpu_requested as f64, cpu_allocatable as f64);
    kpis.memory_allocation_percent = percent(memory_requested as f64, memory_allocatable as f64);
    kpis
}

/// One point per sample time: every cluster's latest sample at that time, summed.
pub fn series(samples: &Samples, since: i64, until: i64) -> Vec<pb::CostPoint> {
    let mut times: Vec<i64> = samples
        .values()
        .flatten()
        .map(|s| s.at)
        .filter(|at| (since..=until).contains(at))
        .collect();
    times.sort_unstable();
    times.dedup();
    times
        .into_iter()
        .map(|at| {
            let mut point = pb::CostPoint {
                at: Some(spot_proto::time::timestamp(at)),
                ..Default::default()
            };
            for cluster in samples.values() {
                if let Some(latest) = cluster
                    .iter()
                    .take_while(|s| s.at <= at)
                    .last()
                    .filter(|s| at - s.at <= LAST_SAMPLE_COUNTS_MILLIS)
                {
                    point.cost_usd_per_hour += latest.cost_usd_per_hour;
                    point.on_demand_usd_per_hour += latest.on_demand_usd_per_hour;
                }
            }
            point
        })
        .collect()
}

#[tonic::async_trait]
impl DashboardService for OptimizerApi {
    async fn get_kpis(
        &self,
        request: Request<pb::GetKpisRequest>,
    ) -> Result<Response<pb::GetKpisResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let now = now();
        let samples = self
            .samples(&tenant_id, &request.into_inner().cluster_id, 0, now)
            .await?;
        Ok(Response::new(pb::GetKpisResponse {
            kpis: Some(kpis(&samples, now)),
        }))
    }

    async fn get_cost_series(
        &self,
        request: Request<pb::GetCostSeriesRequest>,
    ) -> Result<Response<pb::GetCostSeriesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let until = request
            .until
            .as_ref()
            .map(spot_proto::time::millis)
            .unwrap_or_else(now);
        let since = request
            .since
            .as_ref()
            .map(spot_proto::time::millis)
            .unwrap_or(until - 24 * 3_600 * 1_000);
        if since > until {
            return Err(Status::invalid_argument(
                "invalid `since`: must not be after `until`",
            ));
        }
        let samples = self
            .samples(&tenant_id, &request.cluster_id, since, until)
            .await?;
        Ok(Response::new(pb::GetCostSeriesResponse {
            points: series(&samples, since, until),
        }))
    }
}

impl OptimizerApi {
    pub(crate) async fn savings_report(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        since: Option<i64>,
    ) -> Result<pb::GetSavingsReportResponse, Status> {
        let now = now();
        let since = since.unwrap_or(0);
        if since > now {
            return Err(Status::invalid_argument("invalid `since`: in the future"));
        }
        let samples = self.samples(tenant_id, cluster_id, since, now).await?;
        let (mut actual, mut on_demand) = (0.0, 0.0);
        for cluster in samples.values() {
            let (a, o) = accrued(cluster, since, now);
            actual += a;
            on_demand += o;
        }
        Ok(pb::GetSavingsReportResponse {
            savings_usd: on_demand - actual,
            on_demand_equivalent_usd: on_demand,
            actual_usd: actual,
        })
    }
}
