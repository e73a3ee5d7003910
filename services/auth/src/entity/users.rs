use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub platform_admin: bool,
    pub invite_token_hash: Option<String>,
    pub created_at: i64,
    /// When the user proved they read mail at `email`; they cannot log in before.
    pub email_verified_at: Option<i64>,
    pub verification_token_hash: Option<String>,
    pub verification_sent_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
