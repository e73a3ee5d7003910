use sea_orm::entity::prelude::*;

/// An account's place in a tenant: its role there, and whether it has joined (an invitation
/// not accepted yet has not).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub tenant_id: String,
    pub role: String,
    /// The pending invitation's token (hashed); gone once accepted.
    pub invite_token_hash: Option<String>,
    /// When the invitation was made (or the tenant created, for its first owner).
    pub created_at: i64,
    pub joined_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
