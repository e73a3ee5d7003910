//! Hibernation's rows: schedules, overrides, each cluster's recorded state and the runs. Every
//! tenant call filters by tenant; the scheduler reads across tenants.

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_db::Database;
use spot_db::status as db_status;
use spot_proto::policy::v1 as pb;
use tonic::Status;

use super::entity::{overrides, runs, schedules, states};
use super::overrides::Override;
use super::schedule::Schedule;

#[derive(Clone)]
pub struct HibernationStore {
    db: Database,
}

/// What the scheduler last did to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Awake,
    /// A hibernate run started (the capacity is recorded) and has not finished.
    Hibernating,
    Asleep,
    /// A wake run started and has not finished.
    Waking,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Awake => "awake",
            Self::Hibernating => "hibernating",
            Self::Asleep => "asleep",
            Self::Waking => "waking",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "hibernating" => Self::Hibernating,
            "asleep" => Self::Asleep,
            "waking" => Self::Waking,
            _ => Self::Awake,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub tenant_id: String,
    pub state: State,
    pub capacity: Vec<pb::CapacityGroup>,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

fn schedule_of(row: &schedules::Model) -> Result<Schedule, Status> {
    let request = pb::Schedule {
        id: row.id.clone(),
        cluster_id: row.cluster_id.clone(),
        sleep_cron: row.sleep_cron.clone(),
        wake_cron: row.wake_cron.clone(),
        time_zone: row.time_zone.clone(),
        must_run: row.must_run.lines().map(str::to_owned).collect(),
    };
    // Stored schedules were valid when created; a window that closed since still loads.
    Schedule::from_request(&request, row.id.clone(), instant(row.created_at))
        .map_err(|e| Status::internal(format!("stored schedule {} is unreadable: {e}", row.id)))
}

fn override_of(row: &overrides::Model) -> Override {
    Override {
        id: row.id.clone(),
        cluster_id: row.cluster_id.clone(),
        asleep: row.asleep,
        starts_at: instant(row.starts_at),
        ends_at: instant(row.ends_at),
    }
}

fn run_of(row: &runs::Model) -> Result<pb::HibernationRun, Status> {
    pb::HibernationRun::decode(row.data.as_slice())
        .map_err(|_| Status::internal("a stored hibernation run is unreadable"))
}

impl HibernationStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn insert_schedule(
        &self,
        tenant_id: &str,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> Result<(), Status> {
        let stored = schedule.to_proto();
        schedules::ActiveModel {
            id: Set(stored.id),
            tenant_id: Set(tenant_id.to_owned()),
            cluster_id: Set(stored.cluster_id),
            sleep_cron: Set(stored.sleep_cron),
            wake_cron: Set(stored.wake_cron),
            time_zone: Set(stored.time_zone),
            must_run: Set(stored.must_run.join("\n")),
            created_at: Set(millis(now)),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }

    /// The tenant's schedules, of one cluster or (empty id) of all, oldest first.
    pub async fn schedules(
        &self,
        tenant_id: Option<&str>,
        cluster_id: &str,
    ) -> Result<Vec<Schedule>, Status> {
        let mut query = schedules::Entity::find().order_by_asc(schedules::Column::Id);
        if let Some(tenant_id) = tenant_id {
            query = query.filter(schedules::Column::TenantId.eq(tenant_id));
        }
        if !cluster_id.is_empty() {
            query = query.filter(schedules::Column::ClusterId.eq(cluster_id));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(schedule_of).collect()
    }

    /// Deletes the tenant's schedule; its cluster, or None when the tenant has no such schedule.
    pub async fn delete_schedule(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<String>, Status> {
        let row = schedules::Entity::find_by_id(id)
            .filter(schedules::Column::TenantId.eq(tenant_id))
            .one(self.db.connection())
            .await
            .map_err(db_status)?;
        let Some(row) = row else { return Ok(None) };
        schedules::Entity::delete_by_id(id)
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(Some(row.cluster_id))
    }

    pub async fn insert_override(&self, tenant_id: &str, o: &Override) -> Result<(), Status> {
        overrides::ActiveModel {
            id: Set(o.id.clone()),
            tenant_id: Set(tenant_id.to_owned()),
            cluster_id: Set(o.cluster_id.clone()),
            asleep: Set(o.asleep),
            starts_at: Set(millis(o.starts_at)),
            ends_at: Set(millis(o.ends_at)),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }

    /// Overrides of the cluster not yet over at `now`.
    pub async fn overrides(
        &self,
        cluster_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Override>, Status> {
        let rows = overrides::Entity::find()
            .filter(overrides::Column::ClusterId.eq(cluster_id))
            .filter(overrides::Column::EndsAt.gt(millis(now)))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(rows.iter().map(override_of).collect())
    }

    /// Every cluster the scheduler must look at, with its tenant: those with schedules, with
    /// overrides not yet over, or not awake (a deleted schedule still has to wake its cluster).
    pub async fn clusters_to_watch(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, Status> {
        let db = self.db.connection();
        let mut clusters: Vec<(String, String)> = Vec::new();
        let scheduled: Vec<(String, String)> = schedules::Entity::find()
            .select_only()
            .column(schedules::Column::ClusterId)
            .column(schedules::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(db)
            .await
            .map_err(db_status)?;
        clusters.extend(scheduled);
        let overridden: Vec<(String, String)> = overrides::Entity::find()
            .select_only()
            .column(overrides::Column::ClusterId)
            .column(overrides::Column::TenantId)
            .filter(overrides::Column::EndsAt.gt(millis(now)))
            .distinct()
            .into_tuple()
            .all(db)
            .await
            .map_err(db_status)?;
        clusters.extend(overridden);
        let sleeping: Vec<(String, String)> = states::Entity::find()
            .select_only()
            .column(states::Column::ClusterId)
            .column(states::Column::TenantId)
            .filter(states::Column::State.ne(State::Awake.as_str()))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_status)?;
        clusters.extend(sleeping);
        clusters.sort();
        clusters.dedup();
        Ok(clusters)
    }

    pub async fn recorded(&self, cluster_id: &str) -> Result<Option<Recorded>, Status> {
        let row = states::Entity::find_by_id(cluster_id)
            .one(self.db.connection())
            .await
            .map_err(db_status)?;
        row.map(|row| {
            let capacity = pb::HibernationRun::decode(row.capacity.as_slice())
                .map_err(|_| Status::internal("a recorded capacity is unreadable"))?
                .capacity;
            Ok(Recorded {
                tenant_id: row.tenant_id,
                state: State::parse(&row.state),
                capacity,
            })
        })
        .transpose()
    }

    pub async fn record(&self, cluster_id: &str, recorded: &Recorded) -> Result<(), Status> {
        let capacity = pb::HibernationRun {
            capacity: recorded.capacity.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        let model = states::ActiveModel {
            cluster_id: Set(cluster_id.to_owned()),
            tenant_id: Set(recorded.tenant_id.clone()),
            state: Set(recorded.state.as_str().to_owned()),
            capacity: Set(capacity),
            updated_at: Set(millis(Utc::now())),
        };
        states::Entity::insert(model)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(states::Column::ClusterId)
                    .update_columns([
                        states::Column::State,
                        states::Column::Capacity,
                        states::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(())
    }

    pub async fn insert_run(
        &self,
        tenant_id: &str,
        run: &pb::HibernationRun,
    ) -> Result<(), Status> {
        let now = millis(Utc::now());
        runs::ActiveModel {
            id: Set(run.id.clone()),
            tenant_id: Set(tenant_id.to_owned()),
            cluster_id: Set(run.cluster_id.clone()),
            status: Set(run.status().as_str_name().to_owned()),
            data: Set(run.encode_to_vec()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }

    pub async fn save_run(&self, run: &pb::HibernationRun) -> Result<(), Status> {
        runs::ActiveModel {
            id: Set(run.id.clone()),
            status: Set(run.status().as_str_name().to_owned()),
            data: Set(run.encode_to_vec()),
            updated_at: Set(millis(Utc::now())),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }

    /// The run with this id, whoever's it is.
    pub async fn run(&self, id: &str) -> Result<Option<pb::HibernationRun>, Status> {
        runs::Entity::find_by_id(id)
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .map(|row| run_of(&row))
            .transpose()
    }

    /// The tenant's runs of the cluster, newest first.
    pub async fn runs(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<pb::HibernationRun>, Status> {
        let mut query = runs::Entity::find()
            .filter(runs::Column::TenantId.eq(tenant_id))
            .filter(runs::Column::ClusterId.eq(cluster_id))
            .order_by_desc(runs::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(runs::Column::Id.lt(before));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(run_of).collect()
    }

    /// Runs left RUNNING by a scheduler that stopped (its replica ended or lost the lease)
    /// become FAILED, saying so; the scheduler then starts over from the cluster's state. The
    /// failed runs, each with its tenant.
    /// Only runs the step runner does not know (from before it ran them): it resumes the others.
    pub async fn fail_abandoned_runs(
        &self,
        resumable: &spot_kit::steps::RunStore,
    ) -> Result<Vec<(String, pb::HibernationRun)>, Status> {
        let rows = runs::Entity::find()
            .filter(runs::Column::Status.eq(pb::HibernationRunStatus::Running.as_str_name()))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        let mut failed = Vec::new();
        for row in rows {
            if resumable
                .get(&row.id)
                .await
                .map_err(spot_error::ServiceError::into_status)?
                .is_some()
            {
                continue;
            }
            let mut run = run_of(&row)?;
            run.status = pb::HibernationRunStatus::Failed.into();
            run.reason = "the scheduler stopped during this run (its replica ended); it starts \
                          over from the cluster's state"
                .to_owned();
            for step in &mut run.steps {
                if matches!(
                    step.status(),
                    pb::HibernationStepStatus::Pending | pb::HibernationStepStatus::Running
                ) {
                    step.status = pb::HibernationStepStatus::Skipped.into();
                }
            }
            run.finished_at = Some(spot_proto::time::timestamp(millis(Utc::now())));
            self.save_run(&run).await?;
            failed.push((row.tenant_id, run));
        }
        Ok(failed)
    }
}
