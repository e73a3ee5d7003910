//! Retention: finished hibernation runs (hibernate, wake, release) and their step runs older than
//! `limits.keep_hibernation_runs_days` are deleted every hour by one replica, so the tables stay
//! bounded. A run still running, and its steps, are kept whatever their age.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use spot_config::Limits;
use spot_db::Database;
use spot_kit::retention::cutoff;
use spot_proto::policy::v1::HibernationRunStatus;

use super::entity::runs;

/// What one sweep deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub runs: u64,
    pub step_runs: u64,
}

/// Deletes what the limits no longer keep at `now_millis`.
pub async fn sweep(db: &Database, limits: &Limits, now_millis: i64) -> Result<Swept, DbErr> {
    let before = cutoff(now_millis, limits.keep_hibernation_runs_days);
    let runs = runs::Entity::delete_many()
        .filter(runs::Column::UpdatedAt.lt(before))
        .filter(runs::Column::Status.ne(HibernationRunStatus::Running.as_str_name()))
        .exec(db.connection())
        .await?
        .rows_affected;
    let step_runs = spot_kit::steps::RunStore::new(db.clone())
        .delete_finished(super::workflow::WORKFLOW, before)
        .await
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(Swept { runs, step_runs })
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, Set};
    use spot_kit::retention::DAY_MILLIS;

    use super::*;

    async fn run(db: &Database, id: &str, status: HibernationRunStatus, updated_at: i64) {
        runs::ActiveModel {
            id: Set(id.to_owned()),
            tenant_id: Set("t1".into()),
            cluster_id: Set("c1".into()),
            status: Set(status.as_str_name().to_owned()),
            data: Set(Vec::new()),
            created_at: Set(updated_at),
            updated_at: Set(updated_at),
        }
        .insert(db.connection())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn old_finished_runs_go_and_a_running_one_stays() {
        let db = spot_db::testing::sqlite_in_memory().await;
        let limits = Limits::default();
        let now = 1_000 * DAY_MILLIS;
        let old = now - (limits.keep_hibernation_runs_days as i64 + 1) * DAY_MILLIS;
        run(&db, "old-done", HibernationRunStatus::Succeeded, old).await;
        run(&db, "old-failed", HibernationRunStatus::Failed, old).await;
        run(&db, "old-running", HibernationRunStatus::Running, old).await;
        run(
            &db,
            "new-done",
            HibernationRunStatus::Succeeded,
            now - DAY_MILLIS,
        )
        .await;

        let swept = sweep(&db, &limits, now).await.unwrap();
        assert_eq!(swept.runs, 2);
        let mut left: Vec<String> = runs::Entity::find()
            .all(db.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        left.sort();
        assert_eq!(left, ["new-done", "old-running"]);
        assert_eq!(sweep(&db, &limits, now).await.unwrap(), Swept::default());
    }
}
