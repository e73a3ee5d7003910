//! Invoices: the open period's preview, computed on request from the hours metered so far, and
//! closed periods' invoices, written once (one per tenant and period) and never recomputed.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use spot_db::{Database, status as db_status};
use spot_proto::billing::v1 as pb;
use tonic::Status;

use crate::entity::billing_invoices;
use crate::invoice::{self, Computed, Line, LineKind};
use crate::plans::{CURRENCY, money};
use crate::subscriptions::Subscription;
use crate::usage::{Usage, hours_of};
use spot_proto::time::timestamp;

pub const OPEN: &str = "open";
pub const PAID: &str = "paid";
pub const NOTHING_DUE: &str = "nothing_due";

fn line_to_proto(line: &Line) -> pb::InvoiceLine {
    pb::InvoiceLine {
        kind: match line.kind {
            LineKind::SavingsShare => pb::LineKind::SavingsShare,
            LineKind::Minimum => pb::LineKind::Minimum,
        }
        .into(),
        cluster_id: line.cluster_id.clone(),
        description: line.description.clone(),
        hours: line.hours,
        savings: Some(money(line.savings_minor_units)),
        share_basis_points: line.share_basis_points,
        amount: Some(money(line.amount_minor_units)),
    }
}

/// The open period's invoice as it stands.
pub fn draft(tenant_id: &str, period: (i64, i64), computed: &Computed) -> pb::Invoice {
    pb::Invoice {
        id: String::new(),
        tenant_id: tenant_id.to_owned(),
        period_start: Some(timestamp(period.0)),
        period_end: Some(timestamp(period.1)),
        status: pb::InvoiceStatus::Draft.into(),
        lines: computed.lines.iter().map(line_to_proto).collect(),
        savings: Some(money(computed.savings_minor_units)),
        total: Some(money(computed.total_minor_units)),
        closed_at: None,
        paid_at: None,
        stripe_invoice_id: String::new(),
    }
}

pub fn to_proto(row: &billing_invoices::Model) -> pb::Invoice {
    let lines: Vec<Line> = serde_json::from_str(&row.lines).unwrap_or_default();
    let status = match row.status.as_str() {
        PAID => pb::InvoiceStatus::Paid,
        NOTHING_DUE => pb::InvoiceStatus::NothingDue,
        _ => pb::InvoiceStatus::Open,
    };
    pb::Invoice {
        id: row.id.clone(),
        tenant_id: row.tenant_id.clone(),
        period_start: Some(timestamp(row.period_start)),
        period_end: Some(timestamp(row.period_end)),
        status: status.into(),
        lines: lines.iter().map(line_to_proto).collect(),
        savings: Some(money(row.savings_minor_units)),
        total: Some(money(row.total_minor_units)),
        closed_at: Some(timestamp(row.closed_at)),
        paid_at: row.paid_at.map(timestamp),
        stripe_invoice_id: row.stripe_invoice_id.clone(),
    }
}

#[derive(Clone)]
pub struct Invoices {
    db: Database,
    usage: Usage,
}

impl Invoices {
    pub fn new(db: Database, usage: Usage) -> Self {
        Self { db, usage }
    }

    /// The period's invoice from the hours metered so far and the tenant's terms.
    pub async fn compute(
        &self,
        subscription: &Subscription,
        period: (i64, i64),
    ) -> Result<Computed, Status> {
        let rows = self
            .usage
            .between(&subscription.row.tenant_id, None, period.0, period.1)
            .await?;
        Ok(invoice::compute(
            period,
            &hours_of(&rows),
            &subscription.terms,
        ))
    }

    /// Closes the period for the tenant: the invoice is written once; None when it was already.
    pub async fn close(
        &self,
        subscription: &Subscription,
        period: (i64, i64),
        now: i64,
    ) -> Result<Option<billing_invoices::Model>, Status> {
        let tenant_id = &subscription.row.tenant_id;
        if self.find_period(tenant_id, period.0).await?.is_some() {
            return Ok(None);
        }
        let computed = self.compute(subscription, period).await?;
        let row = billing_invoices::ActiveModel {
            id: Set(uuid::Uuid::now_v7().simple().to_string()),
            tenant_id: Set(tenant_id.clone()),
            period_start: Set(period.0),
            period_end: Set(period.1),
            status: Set(if computed.total_minor_units > 0 {
                OPEN
            } else {
                NOTHING_DUE
            }
            .to_owned()),
            lines: Set(serde_json::to_string(&computed.lines).unwrap_or_else(|_| "[]".to_owned())),
            savings_minor_units: Set(computed.savings_minor_units),
            total_minor_units: Set(computed.total_minor_units),
            currency: Set(CURRENCY.to_owned()),
            closed_at: Set(now),
            paid_at: Set(None),
            stripe_invoice_id: Set(String::new()),
        };
        // The unique (tenant, period) index keeps a second closer out.
        match row.insert(self.db.connection()).await {
            Ok(row) => Ok(Some(row)),
            Err(_) if self.find_period(tenant_id, period.0).await?.is_some() => Ok(None),
            Err(error) => Err(db_status(error)),
        }
    }

    async fn find_period(
        &self,
        tenant_id: &str,
        period_start: i64,
    ) -> Result<Option<billing_invoices::Model>, Status> {
        billing_invoices::Entity::find()
            .filter(billing_invoices::Column::TenantId.eq(tenant_id))
            .filter(billing_invoices::Column::PeriodStart.eq(period_start))
            .one(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// The tenants with an invoice for the period starting at `period_start`.
    pub async fn tenants_invoiced(
        &self,
        period_start: i64,
    ) -> Result<std::collections::HashSet<String>, Status> {
        let tenants: Vec<String> = billing_invoices::Entity::find()
            .select_only()
            .column(billing_invoices::Column::TenantId)
            .filter(billing_invoices::Column::PeriodStart.eq(period_start))
            .into_tuple()
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(tenants.into_iter().collect())
    }

    /// The tenant's closed invoices, newest first, from before `before` (a period start).
    pub async fn list(
        &self,
        tenant_id: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<billing_invoices::Model>, Status> {
        let mut query = billing_invoices::Entity::find()
            .filter(billing_invoices::Column::TenantId.eq(tenant_id))
            .order_by_desc(billing_invoices::Column::PeriodStart)
            .limit(limit);
        if let Some(before) = before {
            query = query.filter(billing_invoices::Column::PeriodStart.lt(before));
        }
        query.all(self.db.connection()).await.map_err(db_status)
    }

    /// Every closed invoice (the admin's revenue).
    pub async fn all(&self) -> Result<Vec<billing_invoices::Model>, Status> {
        billing_invoices::Entity::find()
            .order_by_desc(billing_invoices::Column::PeriodStart)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Closed invoices with something to pay that Stripe does not have yet.
    pub async fn not_with_stripe(&self) -> Result<Vec<billing_invoices::Model>, Status> {
        billing_invoices::Entity::find()
            .filter(billing_invoices::Column::Status.eq(OPEN))
            .filter(billing_invoices::Column::StripeInvoiceId.eq(""))
            .filter(billing_invoices::Column::TotalMinorUnits.gt(0))
            .order_by_asc(billing_invoices::Column::ClosedAt)
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    pub async fn set_stripe_id(&self, id: &str, stripe_invoice_id: &str) -> Result<(), Status> {
        billing_invoices::ActiveModel {
            id: Set(id.to_owned()),
            stripe_invoice_id: Set(stripe_invoice_id.to_owned()),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }
}

/// Marks an invoice paid (found by our id or Stripe's) when `amount` (minor units, where Stripe
/// says) covers it; Some(tenant) when it was.
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    invoice_id: &str,
    stripe_invoice_id: &str,
    amount: Option<i64>,
    at: i64,
) -> Result<Option<String>, Status> {
    let mut query = billing_invoices::Entity::find();
    query = if invoice_id.is_empty() {
        query.filter(billing_invoices::Column::StripeInvoiceId.eq(stripe_invoice_id))
    } else {
        query.filter(billing_invoices::Column::Id.eq(invoice_id))
    };
    if invoice_id.is_empty() && stripe_invoice_id.is_empty() {
        return Ok(None);
    }
    let Some(found) = query.one(db).await.map_err(db_status)? else {
        return Ok(None);
    };
    let tenant_id = found.tenant_id.clone();
    if amount.is_some_and(|paid| paid < found.total_minor_units) {
        tracing::warn!(invoice = %found.id, ?amount, total = found.total_minor_units, "Stripe reports less paid than owed: the invoice stays open");
        return Ok(None);
    }
    if found.status != PAID {
        let mut row: billing_invoices::ActiveModel = found.into();
        row.status = Set(PAID.to_owned());
        row.paid_at = Set(Some(at));
        if !stripe_invoice_id.is_empty() {
            row.stripe_invoice_id = Set(stripe_invoice_id.to_owned());
        }
        row.update(db).await.map_err(db_status)?;
    }
    Ok(Some(tenant_id))
}
