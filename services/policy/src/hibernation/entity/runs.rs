use sea_orm::entity::prelude::*;

/// A hibernate or wake run as the `spot.policy.v1.HibernationRun` message (`data`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hibernation_runs")]
pub struct Model {
    /// UUIDv7 (simple form), so ids sort by creation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub cluster_id: String,
    pub status: String,
    pub data: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
