use sea_orm::entity::prelude::*;

/// A closed period's invoice; never recomputed once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub period_start: i64,
    pub period_end: i64,
    /// open, paid or nothing_due.
    pub status: String,
    /// JSON of the lines (`invoice::Line`).
    pub lines: String,
    pub savings_minor_units: i64,
    pub total_minor_units: i64,
    pub currency: String,
    pub closed_at: i64,
    pub paid_at: Option<i64>,
    pub stripe_invoice_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
