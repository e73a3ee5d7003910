//! The lab's runner (one replica at a time, through a bus lease): every `lab_interval_seconds`,
//! each running experiment decides in shadow beside the live side on its clusters, and its report
//! is brought up to date. It only reads: a decision is recorded, never executed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use spot_proto::common::v1::{CapacityType, Pool};
use spot_proto::risk::v1::ExperimentReport;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::entity::{experiment_decisions::Model as Decision, experiments::Model as Experiment};
use super::store::MAX_DECISIONS;
use super::validate::Kind;
use super::{clusters, report};
use crate::RiskApi;
use crate::model;

fn subject(pool: &Pool) -> String {
    format!("{}/{}/{}", pool.region, pool.zone, pool.instance_type)
}

fn pool_of(subject: &str) -> Option<Pool> {
    let mut parts = subject.splitn(3, '/');
    Some(Pool {
        region: parts.next()?.to_owned(),
        zone: parts.next()?.to_owned(),
        instance_type: parts.next()?.to_owned(),
    })
}

fn decision(experiment: &Experiment, cluster_id: &str, subject: String, at: i64) -> Decision {
    Decision {
        id: uuid::Uuid::now_v7().simple().to_string(),
        experiment_id: experiment.id.clone(),
        cluster_id: cluster_id.to_owned(),
        subject,
        at,
        matures_at: at,
        live_value: 0.0,
        candidate_value: 0.0,
        live_risk: 0.0,
        candidate_risk: 0.0,
    }
}

impl RiskApi {
    fn lab_interval(&self) -> Duration {
        Duration::from_secs(self.ctx.config.lab_interval_seconds)
    }

    /// Runs until the lease is lost or the service stops.
    pub(crate) async fn run_lab(self, lost: CancellationToken) {
        let mut tick = tokio::time::interval(self.lab_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                _ = tick.tick() => self.lab_tick().await,
            }
        }
    }

    async fn lab_tick(&self) {
        let running = match self.lab.running().await {
            Ok(running) => running,
            Err(status) => {
                tracing::warn!(%status, "the lab cannot read its experiments");
                return;
            }
        };
        for experiment in running {
            if let Err(status) = self.advance(&experiment).await {
                tracing::warn!(%status, experiment = %experiment.id, "experiment step failed");
            }
        }
    }

    /// One step of a running experiment: stop it if its time is up, else decide on each cluster.
    async fn advance(&self, experiment: &Experiment) -> Result<(), Status> {
        let now = chrono::Utc::now().timestamp_millis();
        let Some(kind) = Kind::parse(&experiment.kind) else {
            return Err(Status::internal(format!(
                "unknown kind `{}`",
                experiment.kind
            )));
        };
        if now >= experiment.ends_at {
            self.lab
                .stop(&experiment.id, "its duration ran out", now)
                .await?;
            return self.refresh_report(experiment, kind, now).await.map(drop);
        }
        let cluster_ids: Vec<String> =
            serde_json::from_str(&experiment.cluster_ids).unwrap_or_default();
        let mut decisions = Vec::new();
        for cluster_id in &cluster_ids {
            let made = match kind {
                Kind::RiskModel => self.risk_decisions(experiment, cluster_id, now).await,
                Kind::OptimizerStrategy => {
                    self.strategy_decisions(experiment, cluster_id, now).await
                }
            };
            match made {
                Ok(made) => decisions.extend(made),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    let reason = format!("cluster {cluster_id} no longer exists");
                    self.lab.stop(&experiment.id, &reason, now).await?;
                    return self.refresh_report(experiment, kind, now).await.map(drop);
                }
                Err(status) => return Err(status),
            }
        }
        self.lab.add_decisions(decisions).await?;
        let recorded = self.refresh_report(experiment, kind, now).await?;
        if recorded as u64 >= MAX_DECISIONS {
            let reason = format!("it reached {MAX_DECISIONS} decisions");
            self.lab.stop(&experiment.id, &reason, now).await?;
        }
        Ok(())
    }

    /// Both models predict, for each spot pool the cluster runs in, the chance of an
    /// interruption there before the next decision.
    async fn risk_decisions(
        &self,
        experiment: &Experiment,
        cluster_id: &str,
        now: i64,
    ) -> Result<Vec<Decision>, Status> {
        let state =
            spot_kit::clusters::tenant_cluster_state(&self.ctx, &experiment.tenant_id, cluster_id)
                .await?;
        let region = state.cluster.map(|c| c.region).unwrap_or_default();
        let pools: Vec<Pool> = state
            .nodes
            .iter()
            .filter(|n| n.capacity_type() == CapacityType::Spot)
            .map(|n| Pool {
                region: region.clone(),
                zone: n.zone.clone(),
                instance_type: n.instance_type.clone(),
            })
            .map(|pool| (subject(&pool), pool))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        if pools.is_empty() {
            return Ok(Vec::new());
        }
        let live = model::live();
        let candidate = model::by_version(&experiment.candidate)
            .ok_or_else(|| Status::internal(format!("unknown model `{}`", experiment.candidate)))?;
        let horizon_hours = self.lab_interval().as_secs_f64() / 3_600.0;
        let evidence = self.evidence_for(&pools).await?;
        Ok(pools
            .iter()
            .zip(evidence)
            .map(|(pool, evidence)| {
                let mut d = decision(experiment, cluster_id, subject(pool), now);
                d.matures_at = now + self.lab_interval().as_millis() as i64;
                // The chance that any of the platform's instances there is interrupted: what an
                // observed interruption in the pool answers.
                let instances = evidence.instances.max(1.0);
                d.live_value = live.score(&evidence).probability(instances, horizon_hours);
                d.candidate_value = candidate
                    .score(&evidence)
                    .probability(instances, horizon_hours);
                d
            })
            .collect())
    }

    /// Both strategies plan the cluster as it is now; the cost and the expected interruptions of
    /// each node set are recorded.
    async fn strategy_decisions(
        &self,
        experiment: &Experiment,
        cluster_id: &str,
        now: i64,
    ) -> Result<Vec<Decision>, Status> {
        let outcomes = clusters::compare_strategies(
            &self.ctx,
            &experiment.tenant_id,
            cluster_id,
            &[experiment.live.as_str(), experiment.candidate.as_str()],
        )
        .await?;
        let [live, candidate] = outcomes.as_slice() else {
            return Err(Status::internal(
                "the optimizer answered for other strategies",
            ));
        };
        let pools: Vec<Pool> = live
            .spot_nodes
            .iter()
            .chain(&candidate.spot_nodes)
            .map(|pool| (subject(pool), pool.clone()))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        let model = model::live();
        let rates: BTreeMap<String, f64> = if pools.is_empty() {
            BTreeMap::new()
        } else {
            let evidence = self.evidence_for(&pools).await?;
            pools
                .iter()
                .zip(evidence)
                .map(|(pool, e)| (subject(pool), model.score(&e).rate_per_instance_hour))
                .collect()
        };
        let risk = |nodes: &[Pool]| nodes.iter().map(|p| rates[&subject(p)]).sum::<f64>();
        let mut d = decision(experiment, cluster_id, "plan".to_owned(), now);
        d.live_value = live.cost_usd_per_hour;
        d.candidate_value = candidate.cost_usd_per_hour;
        d.live_risk = risk(&live.spot_nodes);
        d.candidate_risk = risk(&candidate.spot_nodes);
        Ok(vec![d])
    }

    /// Recomputes the report from every decision and stores it; the number of decisions.
    pub(crate) async fn refresh_report(
        &self,
        experiment: &Experiment,
        kind: Kind,
        now: i64,
    ) -> Result<usize, Status> {
        let decisions = self.lab.decisions(&experiment.id).await?;
        let report = match kind {
            Kind::RiskModel => self.risk_report(experiment, &decisions, now).await?,
            Kind::OptimizerStrategy => report::strategies(&experiment.candidate, &decisions),
        };
        self.lab.save_report(&experiment.id, &report).await?;
        Ok(decisions.len())
    }

    /// Each matured prediction is checked against the interruptions the platform saw in its pool
    /// during its window.
    async fn risk_report(
        &self,
        experiment: &Experiment,
        decisions: &[Decision],
        now: i64,
    ) -> Result<ExperimentReport, Status> {
        let since = decisions.iter().map(|d| d.at).min().unwrap_or(now);
        let regions: BTreeSet<String> = decisions
            .iter()
            .filter_map(|d| pool_of(&d.subject).map(|p| p.region))
            .collect();
        let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for region in regions {
            for event in self
                .evidence
                .recent(&region, since)
                .await
                .map_err(spot_db::status)?
            {
                let pool = Pool {
                    region: event.region,
                    zone: event.zone,
                    instance_type: event.instance_type,
                };
                seen.entry(subject(&pool)).or_default().push(event.at);
            }
        }
        Ok(report::risk_models(
            &experiment.candidate,
            decisions,
            now,
            |d| {
                seen.get(&d.subject)
                    .is_some_and(|times| times.iter().any(|t| *t > d.at && *t <= d.matures_at))
            },
        ))
    }
}
