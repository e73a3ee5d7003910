use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cluster_events")]
pub struct Model {
    /// UUIDv7, so ids sort by time.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub cluster_id: String,
    pub kind: String,
    pub message: String,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
