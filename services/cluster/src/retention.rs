//! Retention: a cluster's events and its finished agent actions older than the operator's limits
//! (`limits.keep_cluster_events_days`, `limits.keep_finished_actions_days`) are deleted every hour
//! by one replica, so the tables stay bounded however long clusters run. An action still open
//! (pending, sent, acknowledged) is kept whatever its age: its result may yet come.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use spot_config::Limits;
use spot_db::Database;
use spot_kit::retention::cutoff;

use crate::entity::{actions, cluster_events};
use crate::outbox::status;

/// What one sweep deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub events: u64,
    pub actions: u64,
}

/// Deletes what the limits no longer keep at `now_millis`.
pub async fn sweep(db: &Database, limits: &Limits, now_millis: i64) -> Result<Swept, DbErr> {
    let events = cluster_events::Entity::delete_many()
        .filter(cluster_events::Column::At.lt(cutoff(now_millis, limits.keep_cluster_events_days)))
        .exec(db.connection())
        .await?
        .rows_affected;
    let actions = actions::Entity::delete_many()
        .filter(
            actions::Column::UpdatedAt.lt(cutoff(now_millis, limits.keep_finished_actions_days)),
        )
        .filter(actions::Column::Status.is_not_in(status::OPEN))
        .exec(db.connection())
        .await?
        .rows_affected;
    Ok(Swept { events, actions })
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveModelTrait, PaginatorTrait, Set};

    use spot_kit::retention::DAY_MILLIS;

    use super::*;

    async fn event(db: &Database, id: &str, at: i64) {
        cluster_events::ActiveModel {
            id: Set(id.to_owned()),
            cluster_id: Set("c1".into()),
            kind: Set("delta".into()),
            message: Set(String::new()),
            at: Set(at),
        }
        .insert(db.connection())
        .await
        .unwrap();
    }

    async fn action(db: &Database, id: &str, state: &str, updated_at: i64) {
        actions::ActiveModel {
            id: Set(id.to_owned()),
            cluster_id: Set("c1".into()),
            tenant_id: Set("t1".into()),
            plan_id: Set(None),
            kind: Set("drain".into()),
            node_name: Set("n1".into()),
            payload: Set(Vec::new()),
            status: Set(state.to_owned()),
            message: Set(String::new()),
            attempt: Set(1),
            deadline: Set(0),
            next_attempt_at: Set(0),
            created_at: Set(updated_at),
            updated_at: Set(updated_at),
        }
        .insert(db.connection())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn old_events_and_finished_actions_go_and_open_actions_stay() {
        let db = spot_db::testing::sqlite_in_memory().await;
        crate::entity::clusters::ActiveModel {
            id: Set("c1".into()),
            tenant_id: Set("t1".into()),
            name: Set("shop".into()),
            region: Set("us-east-1".into()),
            aws_account_id: Set(None),
            dry_run: Set(false),
            created_at: Set(0),
        }
        .insert(db.connection())
        .await
        .unwrap();
        let limits = Limits::default();
        let now = 1_000 * DAY_MILLIS;
        event(&db, "old", now - 31 * DAY_MILLIS).await;
        event(&db, "new", now - 29 * DAY_MILLIS).await;
        action(&db, "old-done", status::SUCCEEDED, now - 31 * DAY_MILLIS).await;
        action(&db, "old-open", status::SENT, now - 31 * DAY_MILLIS).await;
        action(&db, "new-done", status::FAILED, now - DAY_MILLIS).await;
        let swept = sweep(&db, &limits, now).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                events: 1,
                actions: 1
            }
        );
        assert_eq!(
            cluster_events::Entity::find()
                .count(db.connection())
                .await
                .unwrap(),
            1
        );
        let mut left: Vec<String> = actions::Entity::find()
            .all(db.connection())
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        left.sort();
        assert_eq!(left, ["new-done", "old-open"]);
    }
}
