use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_classes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// Empty: the tenant's default.
    pub cluster_id: String,
    /// The class as JSON (`spot_cloud::NodeClass`).
    pub spec: String,
    /// The zones (JSON list) its subnets were last resolved in; empty before any resolution.
    pub zones: String,
    /// The architectures (JSON list, `amd64`/`arm64`) it had images for when last resolved.
    pub architectures: String,
    /// `imported` (derived from the nodes at adoption) or `saved` (by a user).
    pub source: String,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
