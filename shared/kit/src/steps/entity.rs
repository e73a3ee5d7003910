use sea_orm::entity::prelude::*;

/// A run: its steps as JSON ([`super::Run`]), its state for queries, and the lease of the replica
/// running it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "step_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workflow: String,
    pub tenant_id: String,
    pub cluster_id: String,
    pub state: String,
    pub data: String,
    /// The runner holding the run; none once it is final.
    pub lease_holder: Option<String>,
    /// Unix milliseconds; past it, any runner of the workflow may take the run over.
    pub lease_expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
