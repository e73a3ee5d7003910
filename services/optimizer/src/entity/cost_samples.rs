use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cost_samples")]
pub struct Model {
    /// UUIDv7 (simple form).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub cluster_id: String,
    pub at: i64,
    pub cost_usd_per_hour: f64,
    /// What the same nodes would cost on-demand.
    pub on_demand_usd_per_hour: f64,
    pub nodes: i64,
    pub spot_nodes: i64,
    pub cpu_allocatable_millis: i64,
    pub cpu_requested_millis: i64,
    pub memory_allocatable_mib: i64,
    pub memory_requested_mib: i64,
    /// Interruption notices since the previous sample.
    pub interruptions: i64,
    /// The pools the nodes ran in, with their prices: JSON of `costs::SampledPool`s.
    pub pools: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
