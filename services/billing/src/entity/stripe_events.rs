use sea_orm::entity::prelude::*;

/// A Stripe event as received (verified), by Stripe's id: stored once, applied with it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Stripe's `type`.
    pub kind: String,
    /// Stripe's `created` (unix seconds).
    pub created: i64,
    pub received_at: i64,
    pub payload: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
