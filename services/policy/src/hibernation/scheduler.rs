//! The scheduler: one runner across replicas (a bus lease). It compares, for each cluster with
//! schedules, overrides or a sleep to end, the state the calendar wants with the state it last
//! brought the cluster to, and on a difference starts a hibernate or wake run. A cluster is looked
//! at when its next transition is due, at once when its calendar changes (a bus message from
//! whichever replica served the change), and at least every [`LOOK_AT_LEAST_EVERY`]; a tick each
//! second reads only the list of clusters to watch.
//!
//! While a cluster is not awake it carries a hibernation mark on the bus, which keeps the
//! optimizer's autopilot from launching nodes for the pods a hibernation drained.
//!
//! Level-triggered, so a transition missed while no replica held the lease still happens on the
//! next tick. A cluster runs one run at a time; a run that failed or was refused is tried again
//! after [`RETRY_AFTER`] (sooner when the wanted state changes), so a cluster in dry-run or a
//! platform in safe mode gets one refused run every few minutes, not one a second.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use spot_bus::CancellationToken;
use spot_proto::cluster::v1::GetClusterStateRequest;
use spot_proto::events::v1::HibernationCalendarChanged;
use spot_proto::policy::v1 as pb;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tonic::Status;

use super::HibernationApi;
use super::overrides::Calendar;
use super::plan;
use super::schedule::Change;
use super::store::{Recorded, State};
use super::workflow;

const TICK: Duration = Duration::from_secs(1);
/// The longest a watched cluster goes without a look (a lost calendar message, a clock change).
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(60);
const RETRY_AFTER: Duration = Duration::from_secs(300);
/// How often the mark that keeps the optimizer's autopilot off a sleeping cluster is renewed.
const RENEW_MARK: Duration = Duration::from_secs(60);

/// What the scheduler decides for one cluster.
fn needed(asleep: bool, state: State) -> Option<Change> {
    match (asleep, state) {
        (true, State::Awake | State::Hibernating | State::Waking) => Some(Change::Hibernate),
        (false, State::Asleep | State::Hibernating | State::Waking) => Some(Change::Wake),
        _ => None,
    }
}

struct Scheduler {
    running: JoinSet<(String, Change, bool)>,
    busy: HashSet<String>,
    /// After a failed run: which change, and not before when.
    retry: HashMap<String, (Change, Instant)>,
    /// Clusters marked as hibernating (see `spot_kit::hibernation`), and when last renewed.
    marked: HashMap<String, Instant>,
    /// When each cluster is next looked at (absent: at the next tick).
    next_look: HashMap<String, Instant>,
}

impl HibernationApi {
    pub(crate) async fn run_scheduler(self, lost: CancellationToken) {
        match self.store.fail_abandoned_runs(self.runner.store()).await {
            Ok(failed) => {
                if let Some(mut client) = self.auditor() {
                    for (tenant_id, run) in &failed {
                        workflow::audit_run(&mut client, tenant_id, run).await;
                    }
                }
            }
            Err(status) => tracing::warn!(%status, "abandoned hibernation runs not checked"),
        }
        let mut scheduler = Scheduler {
            running: JoinSet::new(),
            busy: HashSet::new(),
            retry: HashMap::new(),
            marked: HashMap::new(),
            next_look: HashMap::new(),
        };
        let mut changes = match super::CALENDAR_CHANGED
            .subscribe(self.ctx.bus.as_ref())
            .await
        {
            Ok(changes) => Some(changes),
            Err(error) => {
                tracing::warn!(%error, "calendar changes not heard; clusters are looked at every minute");
                None
            }
        };
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                () = lost.cancelled() => return,
                Some(changed) = next_change(&mut changes) => {
                    scheduler.next_look.remove(&changed);
                }
                Some(done) = scheduler.running.join_next() => {
                    if let Ok((cluster_id, change, succeeded)) = done {
                        scheduler.busy.remove(&cluster_id);
                        scheduler.next_look.remove(&cluster_id);
                        if succeeded {
                            scheduler.retry.remove(&cluster_id);
                            if change == Change::Wake {
                                scheduler.marked.remove(&cluster_id);
                            }
                        } else {
                            scheduler.retry.insert(cluster_id, (change, Instant::now() + RETRY_AFTER));
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(status) = self.tick(&mut scheduler).await {
                        tracing::warn!(%status, "hibernation tick failed");
                    }
                }
            }
        }
    }

    async fn tick(&self, scheduler: &mut Scheduler) -> Result<(), Status> {
        let now = Utc::now();
        for (cluster_id, tenant_id) in self.store.clusters_to_watch(now).await? {
            if scheduler.busy.contains(&cluster_id)
                || scheduler
                    .next_look
                    .get(&cluster_id)
                    .is_some_and(|at| Instant::now() < *at)
            {
                continue;
            }
            let calendar = Calendar {
                schedules: self.store.schedules(None, &cluster_id).await?,
                overrides: self.store.overrides(&cluster_id, now).await?,
            };
            let recorded = self.store.recorded(&cluster_id).await?.unwrap_or(Recorded {
                tenant_id: tenant_id.clone(),
                state: State::Awake,
                capacity: Vec::new(),
            });
            let asleep = calendar.asleep_at(now);
            if asleep || recorded.state != State::Awake {
                self.keep_marked(scheduler, &cluster_id).await;
            }
            scheduler
                .next_look
                .insert(cluster_id.clone(), next_look(&calendar, now));
            let Some(change) = needed(asleep, recorded.state) else {
                continue;
            };
            if let Some((failed, not_before)) = scheduler.retry.get(&cluster_id)
                && *failed == change
                && Instant::now() < *not_before
            {
                continue;
            }
            // A run of the cluster that another replica took over after a crash runs on there.
            if !self
                .runner
                .unfinished(&cluster_id)
                .await
                .map_err(spot_error::ServiceError::into_status)?
                .is_empty()
            {
                continue;
            }
            match self.start(&cluster_id, change, &calendar, recorded).await {
                Ok(Some(started)) => {
                    scheduler.busy.insert(cluster_id.clone());
                    scheduler.running.spawn(started);
                }
                Ok(None) => {}
                Err(status) => {
                    tracing::warn!(%status, cluster = %cluster_id, "hibernation run not started");
                    scheduler
                        .retry
                        .insert(cluster_id, (change, Instant::now() + RETRY_AFTER));
                }
            }
        }
        Ok(())
    }

    /// Renews the cluster's hibernation mark when it is due (the look every minute renews it well
    /// within its TTL).
    async fn keep_marked(&self, scheduler: &mut Scheduler, cluster_id: &str) {
        if scheduler
            .marked
            .get(cluster_id)
            .is_some_and(|at| at.elapsed() < RENEW_MARK)
        {
            return;
        }
        match spot_kit::hibernation::mark(self.ctx.bus.as_ref(), cluster_id).await {
            Ok(()) => {
                scheduler
                    .marked
                    .insert(cluster_id.to_owned(), Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, cluster = %cluster_id, "hibernation mark not renewed");
            }
        }
    }

    /// What the newest wake launched and never joined, while the cluster is between states (that
    /// wake failed, or its replica ended during it) and no run since released them.
    async fn leftovers_of_last_wake(
        &self,
        cluster_id: &str,
        recorded: &Recorded,
        nodes: &[spot_proto::common::v1::Node],
    ) -> Result<Vec<String>, Status> {
        if !matches!(recorded.state, State::Waking | State::Hibernating) {
            return Ok(Vec::new());
        }
        let recent = self
            .store
            .runs(&recorded.tenant_id, cluster_id, None, 20)
            .await?;
        Ok(plan::leftovers(&recent, nodes))
    }

    /// Plans the run, records it and the cluster's new state; the future that runs it.
    async fn start(
        &self,
        cluster_id: &str,
        change: Change,
        calendar: &Calendar,
        mut recorded: Recorded,
    ) -> Result<
        Option<impl std::future::Future<Output = (String, Change, bool)> + Send + 'static>,
        Status,
    > {
        let mut fleet = self.fleet()?;
        let state = fleet
            .get_cluster_state(GetClusterStateRequest {
                cluster_id: cluster_id.to_owned(),
            })
            .await?
            .into_inner();
        let Some(cluster) = state.cluster.clone() else {
            return Ok(None);
        };
        if cluster.tenant_id != recorded.tenant_id {
            return Ok(None);
        }
        let mut run = pb::HibernationRun {
            id: uuid::Uuid::now_v7().simple().to_string(),
            cluster_id: cluster_id.to_owned(),
            kind: change.as_str().to_owned(),
            status: pb::HibernationRunStatus::Running.into(),
            started_at: Some(spot_proto::time::timestamp(Utc::now().timestamp_millis())),
            ..Default::default()
        };
        match change {
            Change::Hibernate => {
                // A retry keeps the capacity recorded by the first attempt, before any node went.
                if recorded.state == State::Awake {
                    recorded.capacity = plan::capacity_of(&cluster.region, &state.nodes);
                }
                let must_run: Vec<_> = calendar
                    .schedules
                    .iter()
                    .flat_map(|s| s.must_run.iter().cloned())
                    .collect();
                let planned = plan::hibernate(&state.nodes, &state.pods, &must_run);
                run.kept_nodes = planned.kept;
                run.steps = planned.steps;
                recorded.state = State::Hibernating;
            }
            Change::Wake => {
                run.steps = plan::wake(&recorded.capacity, &state.nodes, &state.pods);
                recorded.state = State::Waking;
            }
        }
        // An unfinished wake may have left instances that never joined: they go first.
        let leftovers = self
            .leftovers_of_last_wake(cluster_id, &recorded, &state.nodes)
            .await?;
        if !leftovers.is_empty() {
            run.steps.insert(0, plan::release(leftovers));
        }
        run.capacity = recorded.capacity.clone();
        self.store.record(cluster_id, &recorded).await?;
        self.store.insert_run(&recorded.tenant_id, &run).await?;
        tracing::info!(cluster = %cluster_id, run = %run.id, kind = %run.kind, steps = run.steps.len(), "hibernation run started");
        // The runner records the cluster's new state when the run succeeds (wherever it ends).
        let finished = self
            .runner
            .start(workflow::run_of(&recorded.tenant_id, &run))
            .await
            .map_err(spot_error::ServiceError::into_status)?;
        let cluster_id = cluster_id.to_owned();
        Ok(Some(async move {
            // Nothing: this replica stopped running it, and another one resumes it.
            let succeeded = finished
                .await
                .is_ok_and(|run| run.state == spot_kit::steps::RunState::Succeeded);
            (cluster_id, change, succeeded)
        }))
    }
}

/// The next calendar change, or never when changes are not heard.
async fn next_change(
    changes: &mut Option<spot_bus::Messages<HibernationCalendarChanged>>,
) -> Option<String> {
    match changes {
        Some(changes) => changes.next().await.map(|changed| changed.cluster_id),
        None => std::future::pending().await,
    }
}

/// When to look at the cluster next: at the next moment its calendar could change (a schedule's
/// run, an override's start or end), and within a minute at the latest.
fn next_look(calendar: &Calendar, now: chrono::DateTime<Utc>) -> Instant {
    let latest = Instant::now() + LOOK_AT_LEAST_EVERY;
    calendar
        .next_moment(now)
        .and_then(|at| (at - now).to_std().ok())
        .map_or(latest, |wait| latest.min(Instant::now() + wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_run_is_taken_up_again_whichever_way_the_calendar_points() {
        assert_eq!(needed(true, State::Awake), Some(Change::Hibernate));
        assert_eq!(needed(true, State::Asleep), None);
        assert_eq!(needed(true, State::Hibernating), Some(Change::Hibernate));
        assert_eq!(needed(true, State::Waking), Some(Change::Hibernate));
        assert_eq!(needed(false, State::Awake), None);
        assert_eq!(needed(false, State::Asleep), Some(Change::Wake));
        assert_eq!(needed(false, State::Hibernating), Some(Change::Wake));
        assert_eq!(needed(false, State::Waking), Some(Change::Wake));
    }
}
