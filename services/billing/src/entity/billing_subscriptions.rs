use sea_orm::entity::prelude::*;

/// A tenant's subscription: its standing with Stripe. Its plan is the term in force
/// (`billing_terms`); a term starting later is the pending change.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// active or past_due.
    pub status: String,
    pub past_due_since: Option<i64>,
    pub stripe_customer_id: String,
    /// Stripe's `created` of the last subscription event applied (an older one is ignored).
    pub stripe_state_at: i64,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
