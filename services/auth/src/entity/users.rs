use sea_orm::entity::prelude::*;

/// An account: one email, one password, whatever tenants it belongs to (`memberships`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The tenant and role the account was created with, from when an account had one tenant;
    /// never read for access: memberships say where an account belongs and with which role.
    #[sea_orm(column_name = "tenant_id")]
    pub first_tenant_id: String,
    #[sea_orm(column_name = "role")]
    pub first_role: String,
    pub email: String,
    /// None until an invited account accepts its first invitation.
    pub password_hash: Option<String>,
    pub platform_admin: bool,
    pub created_at: i64,
    /// When the user proved they read mail at `email`; they cannot log in before.
    pub email_verified_at: Option<i64>,
    pub verification_token_hash: Option<String>,
    pub verification_sent_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
