//! Experiments and their shadow decisions in the database; every read of an experiment is
//! scoped to its tenant.

use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use spot_db::Database;
use spot_proto::risk::v1::ExperimentReport;
use tonic::Status;

use super::entity::{experiment_decisions, experiments};

/// Decisions kept per experiment; an experiment that reaches it stops, saying so.
pub const MAX_DECISIONS: u64 = 20_000;

fn db_status(error: sea_orm::DbErr) -> Status {
    spot_db::status(error)
}

#[derive(Clone)]
pub struct ExperimentStore {
    db: Database,
}

impl ExperimentStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn insert(&self, experiment: experiments::Model) -> Result<(), Status> {
        experiments::Entity::insert(experiments::ActiveModel::from(experiment).reset_all())
            .exec(self.db.connection())
            .await
            .map(|_| ())
            .map_err(db_status)
    }

    /// The tenant's experiment; another tenant's does not exist.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<experiments::Model, Status> {
        experiments::Entity::find_by_id(id)
            .filter(experiments::Column::TenantId.eq(tenant_id))
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found(format!("experiment `{id}` not found")))
    }

    /// Newest first, before the cursor (ids are time-ordered).
    pub async fn list(
        &self,
        tenant_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<experiments::Model>, Status> {
        let mut query = experiments::Entity::find()
            .filter(experiments::Column::TenantId.eq(tenant_id))
            .order_by_desc(experiments::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(experiments::Column::Id.lt(before));
        }
        query.all(self.db.connection()).await.map_err(db_status)
    }

    /// Every running experiment, of every tenant (for the runner).
    pub async fn running(&self) -> Result<Vec<experiments::Model>, Status> {
        experiments::Entity::find()
            .filter(experiments::Column::State.eq("running"))
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    pub async fn count_running(&self, tenant_id: &str) -> Result<u64, Status> {
        experiments::Entity::find()
            .filter(experiments::Column::TenantId.eq(tenant_id))
            .filter(experiments::Column::State.eq("running"))
            .count(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Stops a running experiment; false when it was not running (stopped by someone else).
    pub async fn stop(&self, id: &str, reason: &str, now_millis: i64) -> Result<bool, Status> {
        let result = experiments::Entity::update_many()
            .col_expr(experiments::Column::State, Expr::value("stopped"))
            .col_expr(experiments::Column::StopReason, Expr::value(reason))
            .col_expr(experiments::Column::StoppedAt, Expr::value(now_millis))
            .filter(experiments::Column::Id.eq(id))
            .filter(experiments::Column::State.eq("running"))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(result.rows_affected == 1)
    }

    /// Archives a stopped experiment and forgets its decisions (the report stays).
    pub async fn archive(&self, id: &str) -> Result<bool, Status> {
        let result = experiments::Entity::update_many()
            .col_expr(experiments::Column::State, Expr::value("archived"))
            .filter(experiments::Column::Id.eq(id))
            .filter(experiments::Column::State.eq("stopped"))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        if result.rows_affected == 1 {
            experiment_decisions::Entity::delete_many()
                .filter(experiment_decisions::Column::ExperimentId.eq(id))
                .exec(self.db.connection())
                .await
                .map_err(db_status)?;
        }
        Ok(result.rows_affected == 1)
    }

    pub async fn save_report(&self, id: &str, report: &ExperimentReport) -> Result<(), Status> {
        experiments::Entity::update(experiments::ActiveModel {
            id: Set(id.to_owned()),
            report: Set(report.encode_to_vec()),
            ..Default::default()
        })
        .exec(self.db.connection())
        .await
        .map(|_| ())
        .map_err(db_status)
    }

    pub async fn add_decisions(
        &self,
        decisions: Vec<experiment_decisions::Model>,
    ) -> Result<(), Status> {
        if decisions.is_empty() {
            return Ok(());
        }
        experiment_decisions::Entity::insert_many(
            decisions
                .into_iter()
                .map(|d| experiment_decisions::ActiveModel::from(d).reset_all()),
        )
        .exec(self.db.connection())
        .await
        .map(|_| ())
        .map_err(db_status)
    }

    /// Every decision of the experiment, oldest first (at most [`MAX_DECISIONS`]).
    pub async fn decisions(
        &self,
        experiment_id: &str,
    ) -> Result<Vec<experiment_decisions::Model>, Status> {
        experiment_decisions::Entity::find()
            .filter(experiment_decisions::Column::ExperimentId.eq(experiment_id))
            .order_by_asc(experiment_decisions::Column::At)
            .limit(MAX_DECISIONS)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    pub async fn recent_decisions(
        &self,
        experiment_id: &str,
        limit: u64,
    ) -> Result<Vec<experiment_decisions::Model>, Status> {
        experiment_decisions::Entity::find()
            .filter(experiment_decisions::Column::ExperimentId.eq(experiment_id))
            .order_by_desc(experiment_decisions::Column::At)
            .limit(limit)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }
}
