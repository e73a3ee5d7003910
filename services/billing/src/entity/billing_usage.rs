use sea_orm::entity::prelude::*;

/// One cluster's realised savings in one hour, with the pools it was computed from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_usage")]
pub struct Model {
    /// `<cluster id>@<hour start millis>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub cluster_id: String,
    pub hour_start: i64,
    pub savings_micros: i64,
    pub cost_micros: i64,
    pub on_demand_micros: i64,
    /// JSON of the metered pools (`usage::Pool`).
    pub pools: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
