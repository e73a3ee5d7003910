//! The action outbox. An action is stored before it is sent; the agent acknowledges it by id and
//! reports its result once (a second report changes nothing). Every change is published so
//! WatchActions on any replica sees it.

use prost::Message;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use spot_bus::SharedBus;
use spot_db::Database;
use spot_kit::topics::CLUSTER_ACTIONS;
use spot_proto::agent::v1::{Action, ActionKind, ActionOutcome};
use spot_proto::cluster::v1::{ActionRecord, ActionStatus};
use spot_proto::common::v1::Node;
use tonic::Status;

use crate::common::{db_status, timestamp};
use crate::entity::actions;

pub mod status {
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const ACKNOWLEDGED: &str = "acknowledged";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const TIMED_OUT: &str = "timed_out";
    pub const REFUSED: &str = "refused";

    /// Not final: the agent may still have to run it.
    pub const OPEN: [&str; 3] = [PENDING, SENT, ACKNOWLEDGED];
}

/// How long an unacknowledged send waits before it is sent again: 2 s, 4 s, ... at most 30 s.
pub fn resend_backoff_millis(attempt: i32) -> i64 {
    let exponent = attempt.clamp(1, 5) as u32;
    (1_000_i64 << exponent).min(30_000)
}

/// After its deadline, an agent that is still working on an action gets this long to report.
pub const RESULT_GRACE_MILLIS: i64 = 30_000;

#[derive(Debug, PartialEq)]
pub enum Reported {
    Recorded(Box<actions::Model>),
    /// The result was already recorded; this one changes nothing.
    Duplicate,
    Unknown,
}

pub struct NewAction<'a> {
    pub tenant_id: &'a str,
    pub cluster_id: &'a str,
    pub plan_id: Option<&'a str>,
    pub action: Action,
    /// `None` to send it; `Some(reason)` to store it as refused.
    pub refused: Option<String>,
}

#[derive(Clone)]
pub struct Outbox {
    db: Database,
    bus: SharedBus,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Outbox {
    pub fn new(db: Database, bus: SharedBus) -> Self {
        Self { db, bus }
    }

    /// Stores a new action. An action that comes with its own id (a step runner's, kept across
    /// retries) is stored once: the same id again answers with the stored row, sent or finished.
    pub async fn create(&self, new: NewAction<'_>) -> Result<actions::Model, Status> {
        let created_at = now();
        let mut action = new.action;
        let caller_id = !action.id.is_empty();
        if caller_id {
            check_id(&action.id)?;
            if let Some(row) = self.stored_for(new.cluster_id, &action.id).await? {
                return Ok(row);
            }
        } else {
            action.id = uuid::Uuid::now_v7().simple().to_string();
        }
        action.attempt = 0;
        let deadline = action
            .deadline
            .as_ref()
            .map(spot_proto::time::millis)
            .unwrap_or(created_at);
        let (status, message) = match new.refused {
            Some(reason) => (status::REFUSED, reason),
            None => (status::PENDING, String::new()),
        };
        let row = actions::ActiveModel {
            id: Set(action.id.clone()),
            cluster_id: Set(new.cluster_id.to_owned()),
            tenant_id: Set(new.tenant_id.to_owned()),
            plan_id: Set(new.plan_id.map(str::to_owned)),
            kind: Set(action.kind().as_str_name().to_owned()),
            node_name: Set(action.node_name.clone()),
            payload: Set(action.encode_to_vec()),
            status: Set(status.to_owned()),
            message: Set(message),
            attempt: Set(0),
            deadline: Set(deadline),
            next_attempt_at: Set(created_at),
            created_at: Set(created_at),
            updated_at: Set(created_at),
        }
        .insert(self.db.connection())
        .await;
        let row = match row {
            Ok(row) => row,
            // Two replicas retrying the same step at once: the first insert wins.
            Err(error) if caller_id => {
                return self
                    .stored_for(new.cluster_id, &action.id)
                    .await?
                    .ok_or_else(|| db_status(error));
            }
            Err(error) => return Err(db_status(error)),
        };
        self.publish(&row).await;
        Ok(row)
    }

    /// The stored action with this id, if it is the cluster's; another cluster's id is refused.
    async fn stored_for(
        &self,
        cluster_id: &str,
        id: &str,
    ) -> Result<Option<actions::Model>, Status> {
        match self.get(id).await? {
            Some(row) if row.cluster_id != cluster_id => {
                Err(Status::already_exists(format!("action id `{id}` is taken")))
            }
            found => Ok(found),
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<actions::Model>, Status> {
        actions::Entity::find_by_id(id)
            .one(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Everything the cluster's agent still has to run, oldest first.
    pub async fn open_for(&self, cluster_id: &str) -> Result<Vec<actions::Model>, Status> {
        actions::Entity::find()
            .filter(actions::Column::ClusterId.eq(cluster_id))
            .filter(actions::Column::Status.is_in(status::OPEN))
            .order_by_asc(actions::Column::Id)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Never sent, or sent without an acknowledgement for too long, across every cluster.
    pub async fn due(&self) -> Result<Vec<actions::Model>, Status> {
        actions::Entity::find()
            .filter(actions::Column::Status.is_in([status::PENDING, status::SENT]))
            .filter(actions::Column::NextAttemptAt.lte(now()))
            .order_by_asc(actions::Column::Id)
            .limit(1_000)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Records one more send; false when the action has moved on meanwhile (final, or changed
    /// by another replica). An acknowledged action sent again (after a reconnect) stays acknowledged.
    pub async fn mark_sent(&self, row: &actions::Model, attempt: i32) -> Result<bool, Status> {
        let sent_at = now();
        let new_status = if row.status == status::ACKNOWLEDGED {
            status::ACKNOWLEDGED
        } else {
            status::SENT
        };
        let result = actions::Entity::update_many()
            .col_expr(actions::Column::Status, Expr::value(new_status))
            .col_expr(actions::Column::Attempt, Expr::value(attempt))
            .col_expr(
                actions::Column::NextAttemptAt,
                Expr::value(sent_at + resend_backoff_millis(attempt)),
            )
            .col_expr(actions::Column::UpdatedAt, Expr::value(sent_at))
            .filter(actions::Column::Id.eq(&row.id))
            .filter(actions::Column::Status.eq(&row.status))
            .filter(actions::Column::Attempt.eq(row.attempt))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        if result.rows_affected == 0 {
            return Ok(false);
        }
        if row.status == status::PENDING
            && let Some(updated) = self.get(&row.id).await?
        {
            self.publish(&updated).await;
        }
        Ok(true)
    }

    /// The agent has the action. False when the id is unknown for this cluster.
    pub async fn acknowledge(&self, cluster_id: &str, id: &str) -> Result<bool, Status> {
        let result = actions::Entity::update_many()
            .col_expr(actions::Column::Status, Expr::value(status::ACKNOWLEDGED))
            .col_expr(actions::Column::UpdatedAt, Expr::value(now()))
            .filter(actions::Column::Id.eq(id))
            .filter(actions::Column::ClusterId.eq(cluster_id))
            .filter(actions::Column::Status.is_in([status::PENDING, status::SENT]))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        let Some(row) = self.get(id).await? else {
            return Ok(false);
        };
        if row.cluster_id != cluster_id {
            return Ok(false);
        }
        if result.rows_affected > 0 {
            self.publish(&row).await;
        }
        Ok(true)
    }

    /// Records the agent's result once; later reports of the same action change nothing.
    pub async fn report(
        &self,
        cluster_id: &str,
        id: &str,
        outcome: ActionOutcome,
        message: &str,
    ) -> Result<Reported, Status> {
        let final_status = match outcome {
            ActionOutcome::Succeeded => status::SUCCEEDED,
            ActionOutcome::TimedOut => status::TIMED_OUT,
            ActionOutcome::Failed | ActionOutcome::Unspecified => status::FAILED,
        };
        self.finish(cluster_id, id, final_status, message).await
    }

    async fn finish(
        &self,
        cluster_id: &str,
        id: &str,
        final_status: &str,
        message: &str,
    ) -> Result<Reported, Status> {
        let result = actions::Entity::update_many()
            .col_expr(actions::Column::Status, Expr::value(final_status))
            .col_expr(actions::Column::Message, Expr::value(message))
            .col_expr(actions::Column::UpdatedAt, Expr::value(now()))
            .filter(actions::Column::Id.eq(id))
            .filter(actions::Column::ClusterId.eq(cluster_id))
            .filter(actions::Column::Status.is_in(status::OPEN))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        let row = match self.get(id).await? {
            Some(row) if row.cluster_id == cluster_id => row,
            _ => return Ok(Reported::Unknown),
        };
        if result.rows_affected == 0 {
            return Ok(Reported::Duplicate);
        }
        self.publish(&row).await;
        Ok(Reported::Recorded(Box::new(row)))
    }

    /// Open actions whose deadline (plus the grace for a late result) has passed become timed out.
    pub async fn expire_overdue(&self) -> Result<Vec<actions::Model>, Status> {
        let overdue = actions::Entity::find()
            .filter(actions::Column::Status.is_in(status::OPEN))
            .filter(actions::Column::Deadline.lt(now() - RESULT_GRACE_MILLIS))
            .limit(1_000)
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        let mut expired = Vec::new();
        for row in overdue {
            let message = "the deadline passed without a result from the agent";
            if let Reported::Recorded(row) = self
                .finish(&row.cluster_id, &row.id, status::TIMED_OUT, message)
                .await?
            {
                expired.push(*row);
            }
        }
        Ok(expired)
    }

    /// Newest first, `limit` of them, before the `before` id when given.
    pub async fn list(
        &self,
        cluster_id: &str,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<actions::Model>, Status> {
        let mut query = actions::Entity::find()
            .filter(actions::Column::ClusterId.eq(cluster_id))
            .order_by_desc(actions::Column::Id)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(actions::Column::Id.lt(before));
        }
        query.all(self.db.connection()).await.map_err(db_status)
    }

    async fn publish(&self, row: &actions::Model) {
        let record = to_proto(row);
        if let Err(error) = CLUSTER_ACTIONS.publish(self.bus.as_ref(), &record).await {
            tracing::warn!(%error, action = %row.id, "an action change was stored but not published");
        }
    }
}

/// A caller's own action id: what the outbox's own ids look like (up to 64 of `0-9a-z-`).
fn check_id(id: &str) -> Result<(), Status> {
    if id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-')
    {
        return Err(Status::invalid_argument(
            "invalid `action.id`: up to 64 characters of 0-9, a-z and `-`",
        ));
    }
    Ok(())
}

/// The action as the agent receives it: the stored message with this send's attempt number.
pub fn action_of(row: &actions::Model) -> Action {
    let mut action = Action::decode(row.payload.as_slice()).unwrap_or_default();
    action.id = row.id.clone();
    action.attempt = u32::try_from(row.attempt).unwrap_or_default();
    action
}

/// The action in the cluster's event log, as a person says it: "Drain node ip-10-0-1-5
/// (m5.large, us-east-1a)", with the node's type and zone while the cluster reports it.
pub fn describe(row: &actions::Model, node: Option<&Node>) -> String {
    let verb = match ActionKind::from_str_name(&row.kind) {
        Some(ActionKind::Cordon) => "Cordon",
        Some(ActionKind::Uncordon) => "Uncordon",
        Some(ActionKind::Drain) => "Drain",
        Some(ActionKind::Label) => "Label",
        Some(ActionKind::Taint) => "Taint",
        Some(ActionKind::DeleteNode) => "Delete",
        Some(ActionKind::Unspecified) | None => "Act on",
    };
    match node.filter(|n| !n.instance_type.is_empty() && !n.zone.is_empty()) {
        Some(node) => format!(
            "{verb} node {} ({}, {})",
            row.node_name, node.instance_type, node.zone
        ),
        None => format!("{verb} node {}", row.node_name),
    }
}

pub fn status_of(name: &str) -> ActionStatus {
    match name {
        status::PENDING => ActionStatus::Pending,
        status::SENT => ActionStatus::Sent,
        status::ACKNOWLEDGED => ActionStatus::Acknowledged,
        status::SUCCEEDED => ActionStatus::Succeeded,
        status::FAILED => ActionStatus::Failed,
        status::TIMED_OUT => ActionStatus::TimedOut,
        status::REFUSED => ActionStatus::Refused,
        _ => ActionStatus::Unspecified,
    }
}

pub fn to_proto(row: &actions::Model) -> ActionRecord {
    ActionRecord {
        action: Some(action_of(row)),
        cluster_id: row.cluster_id.clone(),
        status: status_of(&row.status).into(),
        message: row.message.clone(),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        plan_id: row.plan_id.clone().unwrap_or_default(),
    }
}
