use sea_orm::entity::prelude::*;

/// The action outbox: stored before it is sent, updated as the agent acknowledges and reports.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "actions")]
pub struct Model {
    /// UUIDv7 (simple form), so ids sort by creation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub cluster_id: String,
    pub tenant_id: String,
    pub plan_id: Option<String>,
    pub kind: String,
    pub node_name: String,
    /// The `spot.agent.v1.Action` as sent (without the attempt number).
    pub payload: Vec<u8>,
    /// pending, sent, acknowledged, succeeded, failed, timed_out or refused.
    pub status: String,
    pub message: String,
    pub attempt: i32,
    pub deadline: i64,
    /// When an unacknowledged send is retried.
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
