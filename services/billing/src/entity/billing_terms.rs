use sea_orm::entity::prelude::*;

/// The plan and its terms in force for a tenant from `effective_from` until the next row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_terms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub effective_from: i64,
    pub plan_id: String,
    pub share_basis_points: i32,
    pub minimum_minor_units: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
