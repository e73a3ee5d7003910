//! Plans as stored: the `Plan` message, its state and owner; every save is published so WatchPlan
//! on any replica sees it. Beside each plan, the problem it was computed from (the engine's
//! schema, as JSON), which `GetPlan` exports for `spot solve` to replay.

use prost::Message;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_bus::SharedBus;
use spot_db::Database;
use spot_kit::topics::OPTIMIZER_PLANS;
use spot_proto::optimizer::v1::{Plan, PlanState, StepStatus};
use tonic::Status;

use crate::entity::{plan_problems, plans};

use spot_db::status as db_status;

#[derive(Clone)]
pub struct PlanStore {
    db: Database,
    bus: SharedBus,
    /// Plans kept per cluster (`limits.plans_per_cluster`).
    per_cluster: u64,
}

fn decode(row: &plans::Model) -> Result<Plan, Status> {
    Plan::decode(row.data.as_slice()).map_err(|_| Status::internal("a stored plan is unreadable"))
}

impl PlanStore {
    pub fn new(db: Database, bus: SharedBus) -> Self {
        Self {
            db,
            bus,
            per_cluster: u64::MAX,
        }
    }

    /// Keeps at most `per_cluster` plans of a cluster (see [`PlanStore::prune`]).
    pub fn keeping(mut self, per_cluster: u64) -> Self {
        self.per_cluster = per_cluster;
        self
    }

    /// The quota on stored plans, made before a plan is stored (so the new plan's row appears
    /// and is applied as soon as before): the cluster keeps its newest `per_cluster - 1` plans
    /// and the older ones go, except those applying (a running plan is never cut short). Pruning rather than refusing, because the autopilot
    /// and every user's Recommend make plans without asking, and a refusal would stop a tenant
    /// from planning at all; the old recommendations are superseded by the new ones anyway.
    async fn prune(&self, cluster_id: &str) -> Result<(), Status> {
        if self.per_cluster == u64::MAX {
            return Ok(());
        }
        let old: Vec<String> = plans::Entity::find()
            .select_only()
            .column(plans::Column::Id)
            .filter(plans::Column::ClusterId.eq(cluster_id))
            .order_by_desc(plans::Column::Id)
            .offset(self.per_cluster.saturating_sub(1))
            // SQLite needs a LIMIT beside OFFSET; a lowered quota is caught up a thousand a plan.
            .limit(1_000)
            .into_tuple()
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        if old.is_empty() {
            return Ok(());
        }
        plans::Entity::delete_many()
            .filter(plans::Column::Id.is_in(old))
            .filter(plans::Column::State.ne(PlanState::Applying.as_str_name()))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        forget_orphaned_problems(&self.db)
            .await
            .map_err(db_status)?;
        Ok(())
    }

    /// Stores a new plan with the problem it was computed from.
    pub async fn insert(
        &self,
        tenant_id: &str,
        plan: &Plan,
        problem: &spot_engine::Problem,
    ) -> Result<(), Status> {
        self.prune(&plan.cluster_id).await?;
        let problem = serde_json::to_string(problem)
            .map_err(|e| Status::internal(format!("the plan's problem cannot be encoded: {e}")))?;
        let now = chrono::Utc::now().timestamp_millis();
        plans::ActiveModel {
            id: Set(plan.id.clone()),
            tenant_id: Set(tenant_id.to_owned()),
            cluster_id: Set(plan.cluster_id.clone()),
            state: Set(plan.state().as_str_name().to_owned()),
            data: Set(plan.encode_to_vec()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        plan_problems::ActiveModel {
            plan_id: Set(plan.id.clone()),
            problem: Set(problem),
        }
        .insert(self.db.connection())
        .await
        .map_err(db_status)?;
        self.publish(plan).await;
        Ok(())
    }

    /// The problem the plan was computed from, as JSON; None for a plan stored before problems
    /// were kept. The caller has checked that the plan is the tenant's.
    pub async fn problem(&self, plan_id: &str) -> Result<Option<String>, Status> {
        Ok(plan_problems::Entity::find_by_id(plan_id)
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .map(|row| row.problem))
    }

    pub async fn save(&self, plan: &Plan) -> Result<(), Status> {
        plans::ActiveModel {
            id: Set(plan.id.clone()),
            state: Set(plan.state().as_str_name().to_owned()),
            data: Set(plan.encode_to_vec()),
            updated_at: Set(chrono::Utc::now().timestamp_millis()),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(db_status)?;
        self.publish(plan).await;
        Ok(())
    }

    /// The plan if it belongs to the tenant; another tenant's plan does not exist for them.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<Plan, Status> {
        let row = plans::Entity::find_by_id(id)
            .filter(plans::Column::TenantId.eq(tenant_id))
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("plan not found"))?;
        decode(&row)
    }

    /// The tenant's plans of the cluster that are applying now, however many newer plans exist.
    pub async fn applying(&self, tenant_id: &str, cluster_id: &str) -> Result<Vec<Plan>, Status> {
        let rows = plans::Entity::find()
            .filter(plans::Column::TenantId.eq(tenant_id))
            .filter(plans::Column::ClusterId.eq(cluster_id))
            .filter(plans::Column::State.eq(PlanState::Applying.as_str_name()))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        rows.iter().map(decode).collect()
    }

    /// Newest first.
    pub async fn list(
        &self,
        tenant_id: &str,
        cluster_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Plan>, Status> {
        let mut query = plans::Entity::find()
            .filter(plans::Column::TenantId.eq(tenant_id))
            .filter(plans::Column::ClusterId.eq(cluster_id))
            .order_by_desc(plans::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(plans::Column::Id.lt(before));
        }
        let rows = query.all(self.db.connection()).await.map_err(db_status)?;
        rows.iter().map(decode).collect()
    }

    /// Plans APPLYING that the step runner has no run for (applied by a version before it, whose
    /// process is gone) and that made no progress for `stale_after_millis` become FAILED, saying
    /// so: nothing would ever finish them. Plans the runner knows resume instead.
    pub async fn fail_unresumable(
        &self,
        runs: &spot_kit::steps::RunStore,
        stale_after_millis: i64,
    ) -> Result<Vec<Plan>, Status> {
        let cutoff = chrono::Utc::now().timestamp_millis() - stale_after_millis;
        let rows = plans::Entity::find()
            .filter(plans::Column::State.eq(PlanState::Applying.as_str_name()))
            .filter(plans::Column::UpdatedAt.lt(cutoff))
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        let mut failed = Vec::new();
        for row in rows {
            let known = runs
                .get(&row.id)
                .await
                .map_err(spot_error::ServiceError::into_status)?;
            if known.is_some() {
                continue;
            }
            let mut plan = decode(&row)?;
            plan.state = PlanState::Failed.into();
            plan.reason = "the control plane restarted while applying this plan, before plans \
                           could resume; nothing more will happen: recommend again"
                .to_owned();
            for step in &mut plan.steps {
                if matches!(step.status(), StepStatus::Pending | StepStatus::Running) {
                    step.status = StepStatus::Skipped.into();
                }
            }
            self.save(&plan).await?;
            failed.push(plan);
        }
        Ok(failed)
    }

    /// Whose plan it is.
    pub async fn tenant_of(&self, id: &str) -> Result<String, Status> {
        plans::Entity::find_by_id(id)
            .one(self.db.connection())
            .await
            .map_err(db_status)?
            .map(|row| row.tenant_id)
            .ok_or_else(|| Status::not_found("plan not found"))
    }

    async fn publish(&self, plan: &Plan) {
        if let Err(error) = OPTIMIZER_PLANS.publish(self.bus.as_ref(), plan).await {
            tracing::warn!(%error, plan = %plan.id, "a plan change was stored but not published");
        }
    }
}

/// Deletes the problems whose plans are gone (pruned, swept by retention).
pub(crate) async fn forget_orphaned_problems(db: &Database) -> Result<u64, DbErr> {
    let plan_ids = Query::select()
        .column(plans::Column::Id)
        .from(plans::Entity)
        .to_owned();
    Ok(plan_problems::Entity::delete_many()
        .filter(plan_problems::Column::PlanId.not_in_subquery(plan_ids))
        .exec(db.connection())
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::{ActiveModelTrait, Set};
    use spot_kit::steps::{Run, RunStore};
    use spot_proto::optimizer::v1::PlanStep;

    use super::*;

    #[tokio::test]
    async fn an_applying_plan_no_runner_can_resume_fails_and_says_why() {
        let db = spot_db::testing::sqlite_in_memory().await;
        let store = PlanStore::new(db.clone(), Arc::new(spot_bus::InProcessBus::new()));
        let runs = RunStore::new(db.clone());
        let step = |status: StepStatus| PlanStep {
            status: status.into(),
            ..Default::default()
        };
        let plan = |id: &str| Plan {
            id: id.to_owned(),
            cluster_id: "c".to_owned(),
            state: PlanState::Applying.into(),
            steps: vec![
                step(StepStatus::Succeeded),
                step(StepStatus::Running),
                step(StepStatus::Pending),
            ],
            ..Default::default()
        };
        for id in ["legacy", "resumable", "fresh"] {
            store
                .insert("t", &plan(id), &spot_engine::Problem::default())
                .await
                .unwrap();
        }
        for id in ["legacy", "resumable"] {
            plans::ActiveModel {
                id: Set(id.to_owned()),
                updated_at: Set(0),
                ..Default::default()
            }
            .update(db.connection())
            .await
            .unwrap();
        }
        let run = Run::new("plan", "resumable", "t", "c", vec![]);
        runs.insert(&run, "gone", 0, 0).await.unwrap();

        let failed = store.fail_unresumable(&runs, 60_000).await.unwrap();
        assert_eq!(failed.len(), 1);
        let legacy = store.get("t", "legacy").await.unwrap();
        assert_eq!(legacy.state(), PlanState::Failed);
        assert!(legacy.reason.contains("restarted"), "{}", legacy.reason);
        let statuses: Vec<_> = legacy.steps.iter().map(|s| s.status()).collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Succeeded,
                StepStatus::Skipped,
                StepStatus::Skipped
            ]
        );
        for id in ["resumable", "fresh"] {
            assert_eq!(
                store.get("t", id).await.unwrap().state(),
                PlanState::Applying
            );
        }
    }

    #[tokio::test]
    async fn a_plan_keeps_its_problem_until_the_plan_goes() {
        let db = spot_db::testing::sqlite_in_memory().await;
        let store = PlanStore::new(db.clone(), Arc::new(spot_bus::InProcessBus::new())).keeping(1);
        let problem = spot_engine::Problem {
            pods: vec![spot_engine::Pod {
                id: "shop/web-0".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let plan = |id: &str| Plan {
            id: id.to_owned(),
            cluster_id: "c".to_owned(),
            state: PlanState::Recommended.into(),
            ..Default::default()
        };
        store.insert("t", &plan("first"), &problem).await.unwrap();
        let kept: spot_engine::Problem =
            serde_json::from_str(&store.problem("first").await.unwrap().unwrap()).unwrap();
        assert_eq!(kept, problem);
        // One plan per cluster: the second prunes the first, and its problem with it.
        store.insert("t", &plan("second"), &problem).await.unwrap();
        assert_eq!(store.problem("first").await.unwrap(), None);
        assert!(store.problem("second").await.unwrap().is_some());
    }
}
