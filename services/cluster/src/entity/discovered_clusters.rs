use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "discovered_clusters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub aws_account_id: String,
    pub region: String,
    pub name: String,
    pub nodes: i32,
    pub instance_types: String,
    pub zones: String,
    pub spot_share_percent: f64,
    pub hourly_cost_usd: f64,
    pub adopted_cluster_id: Option<String>,
    pub discovered_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
