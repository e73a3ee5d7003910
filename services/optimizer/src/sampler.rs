//! The cost sampler: one runner across replicas (a bus lease). A cluster is sampled when its agent
//! reports a change (at most every 30 s) and at least every 5 minutes while it is known, so the
//! dashboards' series continue when nothing changes; never while its agent is disconnected.
//! Interruption notices are counted into the next sample.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use spot_bus::CancellationToken;
use spot_kit::topics::{CLUSTER_UPDATED, INTERRUPTIONS};
use spot_proto::cluster::v1::GetClusterStateRequest;
use tokio::time::Instant;

use crate::OptimizerApi;
use crate::costs::measure;
use crate::entity::cost_samples;

const REFRESH: Duration = Duration::from_secs(300);
/// Clusters sampled in the last day are picked up again after a restart.
const REMEMBER_MILLIS: i64 = 24 * 3_600 * 1_000;

struct Tracked {
    tenant_id: String,
    sampled_at: Option<Instant>,
    changed: bool,
    interruptions: i64,
}

impl OptimizerApi {
    pub(crate) async fn run_sampler(self, lost: CancellationToken) {
        let subscriptions = async {
            let updates = CLUSTER_UPDATED.subscribe(self.ctx.bus.as_ref()).await?;
            let interruptions = INTERRUPTIONS.subscribe(self.ctx.bus.as_ref()).await?;
            Ok::<_, spot_bus::BusError>((updates, interruptions))
        };
        let (mut updates, mut interruptions) = match subscriptions.await {
            Ok(both) => both,
            Err(error) => {
                tracing::error!(%error, "the cost sampler cannot listen on the bus");
                return;
            }
        };
        let mut tracked = self.remembered().await;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                Some(updated) = updates.next() => {
                    tracked
                        .entry(updated.cluster_id)
                        .or_insert(Tracked { tenant_id: updated.tenant_id, sampled_at: None, changed: true, interruptions: 0 })
                        .changed = true;
                }
                Some(reported) = interruptions.next() => {
                    if let Some(cluster) = tracked.get_mut(&reported.cluster_id) {
                        cluster.interruptions += 1;
                        cluster.changed = true;
                    }
                }
                _ = tick.tick() => {
                    let due: Vec<String> = tracked
                        .iter()
                        .filter(|(_, t)| match t.sampled_at {
                            None => true,
                            Some(at) => (t.changed && at.elapsed() >= self.settle()) || at.elapsed() >= REFRESH,
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    for cluster_id in due {
                        if let Some(cluster) = tracked.get_mut(&cluster_id) {
                            self.sample(&cluster_id, cluster).await;
                        }
                    }
                }
            }
        }
    }

    async fn remembered(&self) -> HashMap<String, Tracked> {
        let since = chrono::Utc::now().timestamp_millis() - REMEMBER_MILLIS;
        let rows: Vec<(String, String)> = cost_samples::Entity::find()
            .select_only()
            .column(cost_samples::Column::ClusterId)
            .column(cost_samples::Column::TenantId)
            .filter(cost_samples::Column::At.gte(since))
            .distinct()
            .into_tuple()
            .all(self.ctx.db.connection())
            .await
            .unwrap_or_default();
        rows.into_iter()
            .map(|(cluster_id, tenant_id)| {
                let tracked = Tracked {
                    tenant_id,
                    sampled_at: None,
                    changed: false,
                    interruptions: 0,
                };
                (cluster_id, tracked)
            })
            .collect()
    }

    async fn sample(&self, cluster_id: &str, tracked: &mut Tracked) {
        let Ok(mut fleet) = self.fleet() else {
            return;
        };
        let state = match fleet
            .get_cluster_state(GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await
        {
            Ok(state) => state.into_inner(),
            Err(status) => {
                tracing::warn!(%status, cluster_id, "cluster not sampled");
                tracked.sampled_at = Some(Instant::now());
                return;
            }
        };
        // A silent agent's last report is not the cluster now: no sample, so no cost or savings
        // accrue (nor are billed) while it is away.
        if !state.agent_connected {
            tracked.changed = false;
            tracked.sampled_at = Some(Instant::now());
            return;
        }
        let live = self.live_prices(&state).await;
        let mut sample = measure(&state, &live);
        sample.tenant_id = tracked.tenant_id.clone();
        sample.cluster_id = cluster_id.to_owned();
        sample.at = chrono::Utc::now().timestamp_millis();
        sample.interruptions = tracked.interruptions;
        match self.costs.insert(sample).await {
            Ok(()) => {
                tracked.interruptions = 0;
                tracked.changed = false;
                tracked.sampled_at = Some(Instant::now());
            }
            Err(status) => tracing::warn!(%status, cluster_id, "cost sample not stored"),
        }
    }
}
