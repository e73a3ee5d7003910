//! Retention: plans, their step runs, and cost samples older than the operator's limits
//! (`limits.keep_plans_days`, `limits.keep_cost_samples_days`) are deleted every hour by one
//! replica, so the tables stay bounded. A plan still applying, and its run, are kept whatever
//! their age.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use spot_config::Limits;
use spot_db::Database;
use spot_kit::retention::cutoff;
use spot_proto::optimizer::v1::PlanState;

use crate::entity::{cost_samples, plans};

/// What one sweep deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub plans: u64,
    pub step_runs: u64,
    pub cost_samples: u64,
}

/// Deletes what the limits no longer keep at `now_millis`.
pub async fn sweep(db: &Database, limits: &Limits, now_millis: i64) -> Result<Swept, DbErr> {
    let plans = plans::Entity::delete_many()
        .filter(plans::Column::UpdatedAt.lt(cutoff(now_millis, limits.keep_plans_days)))
        .filter(plans::Column::State.ne(PlanState::Applying.as_str_name()))
        .exec(db.connection())
        .await?
        .rows_affected;
    crate::store::forget_orphaned_problems(db).await?;
    let step_runs = spot_kit::steps::RunStore::new(db.clone())
        .delete_finished(
            crate::apply::WORKFLOW,
            cutoff(now_millis, limits.keep_plans_days),
        )
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let cost_samples = cost_samples::Entity::delete_many()
        .filter(cost_samples::Column::At.lt(cutoff(now_millis, limits.keep_cost_samples_days)))
        .exec(db.connection())
        .await?
        .rows_affected;
    Ok(Swept {
        plans,
        step_runs,
        cost_samples,
    })
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, Set};

    use spot_kit::retention::DAY_MILLIS;

    use super::*;

    async fn plan(db: &Database, id: &str, state: PlanState, updated_at: i64) {
        plans::ActiveModel {
            id: Set(id.to_owned()),
            tenant_id: Set("t1".into()),
            cluster_id: Set("c1".into()),
            state: Set(state.as_str_name().to_owned()),
            data: Set(Vec::new()),
            created_at: Set(updated_at),
            updated_at: Set(updated_at),
        }
        .insert(db.connection())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn old_finished_plans_go_and_a_running_one_stays() {
        let db = spot_db::testing::sqlite_in_memory().await;
        let limits = Limits::default();
        let now = 1_000 * DAY_MILLIS;
        plan(&db, "old-done", PlanState::Succeeded, now - 91 * DAY_MILLIS).await;
        plan(
            &db,
            "old-running",
            PlanState::Applying,
            now - 91 * DAY_MILLIS,
        )
        .await;
        plan(&db, "new", PlanState::Recommended, now - DAY_MILLIS).await;
        let swept = sweep(&db, &limits, now).await.unwrap();
        assert_eq!(swept.plans, 1);
        let mut left: Vec<String> = plans::Entity::find()
            .all(db.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        left.sort();
        assert_eq!(left, ["new", "old-running"]);
    }

    #[tokio::test]
    async fn old_finished_step_runs_go_with_their_plans_and_a_running_one_stays() {
        let db = spot_db::testing::sqlite_in_memory().await;
        let store = spot_kit::steps::RunStore::new(db.clone());
        let now = 1_000 * DAY_MILLIS;
        let old = now - 91 * DAY_MILLIS;
        for id in ["old-done", "old-running", "new-done"] {
            let run = spot_kit::steps::Run::new(crate::apply::WORKFLOW, id, "t1", "c1", Vec::new());
            let at = if id.starts_with("old") { old } else { now };
            store.insert(&run, "r1", at + 1, at).await.unwrap();
            if id.ends_with("done") {
                store
                    .save(&run, spot_kit::steps::RunState::Succeeded, "r1", at + 1, at)
                    .await
                    .unwrap();
            }
        }
        // Another workflow's old run is its own service's to keep or sweep.
        let other = spot_kit::steps::Run::new("hibernation", "sleep", "t1", "c1", Vec::new());
        store.insert(&other, "r1", old + 1, old).await.unwrap();
        store
            .save(
                &other,
                spot_kit::steps::RunState::Succeeded,
                "r1",
                old + 1,
                old,
            )
            .await
            .unwrap();
        let swept = sweep(&db, &Limits::default(), now).await.unwrap();
        assert_eq!(swept.step_runs, 1);
        for (id, kept) in [
            ("old-done", false),
            ("old-running", true),
            ("new-done", true),
            ("sleep", true),
        ] {
            assert_eq!(store.get(id).await.unwrap().is_some(), kept, "{id}");
        }
    }
}
