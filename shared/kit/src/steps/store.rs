//! Runs as stored, and their leases. Every write of a running run is fenced by its lease: a
//! runner that lost the lease (paused past its expiry, then another replica took over) finds its
//! write refused and stops, so two runners never both advance one run.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use spot_db::{Database, DbError};

use super::entity as step_runs;
use super::model::{Run, RunState};

#[derive(Clone)]
pub struct RunStore {
    db: Database,
}

fn decode(row: &step_runs::Model) -> Result<Run, DbError> {
    serde_json::from_str(&row.data).map_err(|e| {
        DbError::Query(sea_orm::DbErr::Custom(format!(
            "step run {} is unreadable: {e}",
            row.id
        )))
    })
}

fn encode(run: &Run) -> String {
    // Plain data of strings and numbers: serializing it cannot fail.
    serde_json::to_string(run).unwrap_or_default()
}

impl RunStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a new run, held by `holder` until `lease_until`.
    pub async fn insert(
        &self,
        run: &Run,
        holder: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<(), DbError> {
        step_runs::ActiveModel {
            id: Set(run.id.clone()),
            workflow: Set(run.workflow.clone()),
            tenant_id: Set(run.tenant_id.clone()),
            cluster_id: Set(run.cluster_id.clone()),
            state: Set(run.state.as_str().to_owned()),
            data: Set(encode(run)),
            lease_holder: Set(Some(holder.to_owned())),
            lease_expires_at: Set(lease_until),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.connection())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Run>, DbError> {
        step_runs::Entity::find_by_id(id)
            .one(self.db.connection())
            .await?
            .map(|row| decode(&row))
            .transpose()
    }

    /// The run's lease: who holds it, until when.
    pub async fn lease(&self, id: &str) -> Result<Option<(Option<String>, i64)>, DbError> {
        Ok(step_runs::Entity::find_by_id(id)
            .one(self.db.connection())
            .await?
            .map(|row| (row.lease_holder, row.lease_expires_at)))
    }

    /// Stores the run's progress if `holder` still holds it; false when it does not (the run was
    /// taken over). `row_state` is what queries and the sweeper see: a final one gives the lease up.
    pub async fn save(
        &self,
        run: &Run,
        row_state: RunState,
        holder: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let holder_after = (!row_state.is_final()).then(|| holder.to_owned());
        let result = step_runs::Entity::update_many()
            .col_expr(step_runs::Column::State, Expr::value(row_state.as_str()))
            .col_expr(step_runs::Column::Data, Expr::value(encode(run)))
            .col_expr(step_runs::Column::LeaseHolder, Expr::value(holder_after))
            .col_expr(step_runs::Column::LeaseExpiresAt, Expr::value(lease_until))
            .col_expr(step_runs::Column::UpdatedAt, Expr::value(now))
            .filter(step_runs::Column::Id.eq(&run.id))
            .filter(step_runs::Column::LeaseHolder.eq(holder))
            .exec(self.db.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Extends `holder`'s lease; false when it lost it.
    pub async fn renew(&self, id: &str, holder: &str, lease_until: i64) -> Result<bool, DbError> {
        let result = step_runs::Entity::update_many()
            .col_expr(step_runs::Column::LeaseExpiresAt, Expr::value(lease_until))
            .filter(step_runs::Column::Id.eq(id))
            .filter(step_runs::Column::LeaseHolder.eq(holder))
            .filter(step_runs::Column::State.eq(RunState::Running.as_str()))
            .exec(self.db.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Takes over the workflow's unfinished runs whose lease lapsed at `now` (their holder died
    /// or hung), for `holder` until `lease_until`; the runs it got. Each takeover is a compare
    /// and set on the lease seen, so of two sweepers only one gets a run.
    pub async fn claim_lapsed(
        &self,
        workflow: &str,
        holder: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<Run>, DbError> {
        let lapsed = step_runs::Entity::find()
            .filter(step_runs::Column::Workflow.eq(workflow))
            .filter(step_runs::Column::State.eq(RunState::Running.as_str()))
            .filter(step_runs::Column::LeaseExpiresAt.lt(now))
            .limit(100)
            .all(self.db.connection())
            .await?;
        let mut claimed = Vec::new();
        for row in lapsed {
            let mut update = step_runs::Entity::update_many()
                .col_expr(step_runs::Column::LeaseHolder, Expr::value(holder))
                .col_expr(step_runs::Column::LeaseExpiresAt, Expr::value(lease_until))
                .filter(step_runs::Column::Id.eq(&row.id))
                .filter(step_runs::Column::LeaseExpiresAt.eq(row.lease_expires_at));
            update = match &row.lease_holder {
                Some(previous) => update.filter(step_runs::Column::LeaseHolder.eq(previous)),
                None => update.filter(step_runs::Column::LeaseHolder.is_null()),
            };
            if update.exec(self.db.connection()).await?.rows_affected > 0 {
                match decode(&row) {
                    Ok(run) => claimed.push(run),
                    Err(error) => tracing::error!(%error, "a lapsed step run is unreadable"),
                }
            }
        }
        Ok(claimed)
    }

    /// Deletes the workflow's finished runs last written before `updated_before` (Unix ms); how
    /// many went. A running run stays whatever its age.
    pub async fn delete_finished(
        &self,
        workflow: &str,
        updated_before: i64,
    ) -> Result<u64, DbError> {
        let result = step_runs::Entity::delete_many()
            .filter(step_runs::Column::Workflow.eq(workflow))
            .filter(step_runs::Column::State.ne(RunState::Running.as_str()))
            .filter(step_runs::Column::UpdatedAt.lt(updated_before))
            .exec(self.db.connection())
            .await?;
        Ok(result.rows_affected)
    }

    /// The workflow's unfinished runs of the cluster, wherever they run.
    pub async fn unfinished(&self, workflow: &str, cluster_id: &str) -> Result<Vec<Run>, DbError> {
        let rows = step_runs::Entity::find()
            .filter(step_runs::Column::Workflow.eq(workflow))
            .filter(step_runs::Column::ClusterId.eq(cluster_id))
            .filter(step_runs::Column::State.eq(RunState::Running.as_str()))
            .all(self.db.connection())
            .await?;
        rows.iter().map(decode).collect()
    }
}
