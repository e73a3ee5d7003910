use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hibernation_schedules")]
pub struct Model {
    /// UUIDv7 (simple form).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub cluster_id: String,
    pub sleep_cron: String,
    pub wake_cron: String,
    pub time_zone: String,
    /// `namespace/name` workloads, one a line.
    pub must_run: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
