use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hibernation_overrides")]
pub struct Model {
    /// UUIDv7 (simple form), so ids sort by creation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub cluster_id: String,
    /// True for SLEEP_UNTIL, false for WAKE_FOR.
    pub asleep: bool,
    pub starts_at: i64,
    pub ends_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
