//! Stripe's events, verified, stored by id and applied once, in one transaction with their effect.
//! Handled: invoice.paid and payment_intent.succeeded (the invoice is paid; a past-due
//! subscription is active again), invoice.payment_failed (past due; the owners and admins are
//! told), customer.subscription.updated (Stripe's standing of the subscription) and
//! customer.subscription.deleted (back to the free plan at the end of the period). The standing
//! follows the newest event: one older than the last applied (by Stripe's `created`) changes no
//! standing, and a failure for an invoice already paid changes nothing. An invoice is paid only
//! for its whole amount. Other types are stored and acknowledged.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, SqlErr, TransactionTrait,
};
use serde_json::Value;
use spot_db::{Database, status as db_status};
use tonic::Status;

use crate::entity::{billing_invoices, billing_subscriptions, billing_terms, stripe_events};
use crate::invoices::{PAID, mark_paid};
use crate::period::period_of;
use crate::plans::FREE;
use crate::stripe_signature::verify;
use crate::subscriptions::{ACTIVE, PAST_DUE};

/// The largest body the edge passes on (Stripe's events are a few KiB).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// A verified event, as far as billing reads it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    pub object: Value,
}

/// What applying an event calls for after it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied before: acknowledged, nothing done.
    Duplicate,
    Applied,
    /// A payment failed: the tenant's owners and admins are to be told.
    PaymentFailed {
        tenant_id: String,
    },
}

pub fn parse(payload: &[u8]) -> Result<Event, Status> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Status::invalid_argument(format!("payload: not JSON ({e})")))?;
    let text = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
    let id = text("id")
        .filter(|id| !id.is_empty() && id.len() <= 255)
        .ok_or_else(|| Status::invalid_argument("payload: an event needs an `id`"))?;
    let kind =
        text("type").ok_or_else(|| Status::invalid_argument("payload: an event needs a `type`"))?;
    let created = value
        .get("created")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            Status::invalid_argument("payload: an event needs `created` (unix seconds)")
        })?;
    let object = value
        .pointer("/data/object")
        .cloned()
        .unwrap_or(Value::Null);
    Ok(Event {
        id,
        kind,
        created,
        object,
    })
}

/// Verifies the signature, then stores and applies the event once.
pub async fn receive(
    db: &Database,
    payload: &[u8],
    signature_header: &str,
    secret: Option<&str>,
    now_millis: i64,
) -> Result<(Event, Outcome), Status> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(Status::unavailable(
            "Stripe events are not accepted: set stripe_webhook_secret (SPOT_STRIPE_WEBHOOK_SECRET)",
        ));
    };
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Status::invalid_argument("payload: larger than 256 KiB"));
    }
    verify(payload, signature_header, secret, now_millis / 1_000)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let event = parse(payload)?;
    let txn = db.connection().begin().await.map_err(db_status)?;
    let stored = stripe_events::ActiveModel {
        id: Set(event.id.clone()),
        kind: Set(event.kind.clone()),
        created: Set(event.created),
        received_at: Set(now_millis),
        payload: Set(String::from_utf8_lossy(payload).into_owned()),
    };
    if let Err(error) = stored.insert(&txn).await {
        return match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Ok((event, Outcome::Duplicate)),
            _ => Err(db_status(error)),
        };
    }
    let outcome = apply(&txn, &event, now_millis).await?;
    txn.commit().await.map_err(db_status)?;
    Ok((event, outcome))
}

fn field<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The tenant an object belongs to: its `metadata.tenant_id` (set on everything billing creates
/// in Stripe), else the subscription holding its `customer`.
async fn tenant_of(txn: &DatabaseTransaction, object: &Value) -> Result<Option<String>, Status> {
    let named = field(object, "/metadata/tenant_id");
    let customer = field(object, "/customer");
    let mut query = billing_subscriptions::Entity::find();
    query = if named.is_empty() {
        if customer.is_empty() {
            return Ok(None);
        }
        query.filter(billing_subscriptions::Column::StripeCustomerId.eq(customer))
    } else {
        query.filter(billing_subscriptions::Column::TenantId.eq(named))
    };
    Ok(query
        .one(txn)
        .await
        .map_err(db_status)?
        .map(|s| s.tenant_id))
}

async fn apply(txn: &DatabaseTransaction, event: &Event, now: i64) -> Result<Outcome, Status> {
    let object = &event.object;
    let created_millis = event.created.saturating_mul(1_000);
    match event.kind.as_str() {
        "invoice.paid" | "payment_intent.succeeded" => {
            let stripe_invoice_id = if event.kind == "invoice.paid" {
                field(object, "/id")
            } else {
                field(object, "/invoice")
            };
            let amount = object
                .get(if event.kind == "invoice.paid" {
                    "amount_paid"
                } else {
                    "amount_received"
                })
                .and_then(Value::as_i64);
            let paid = mark_paid(
                txn,
                field(object, "/metadata/invoice_id"),
                stripe_invoice_id,
                amount,
                created_millis,
            )
            .await?;
            if let Some(tenant_id) = paid {
                set_standing(txn, &tenant_id, ACTIVE, event.created).await?;
            }
            Ok(Outcome::Applied)
        }
        "invoice.payment_failed" => {
            let invoice_id = field(object, "/metadata/invoice_id");
            if !invoice_id.is_empty() {
                let invoice = billing_invoices::Entity::find_by_id(invoice_id)
                    .one(txn)
                    .await
                    .map_err(db_status)?;
                if invoice.is_some_and(|i| i.status == PAID) {
                    return Ok(Outcome::Applied); // a late failure of a retry that then succeeded
                }
            }
            let Some(tenant_id) = tenant_of(txn, object).await? else {
                return Ok(Outcome::Applied);
            };
            if set_standing(txn, &tenant_id, PAST_DUE, event.created).await? {
                Ok(Outcome::PaymentFailed { tenant_id })
            } else {
                Ok(Outcome::Applied)
            }
        }
        "customer.subscription.updated" | "customer.subscription.deleted" => {
            let Some(tenant_id) = tenant_of(txn, object).await? else {
                return Ok(Outcome::Applied);
            };
            if event.kind == "customer.subscription.deleted" {
                if newer_than_applied(txn, &tenant_id, event.created).await? {
                    back_to_free_at_period_end(txn, &tenant_id, now).await?;
                }
            } else {
                match field(object, "/status") {
                    "past_due" | "unpaid" => {
                        set_standing(txn, &tenant_id, PAST_DUE, event.created).await?;
                    }
                    "active" | "trialing" => {
                        set_standing(txn, &tenant_id, ACTIVE, event.created).await?;
                    }
                    _ => {}
                }
            }
            Ok(Outcome::Applied)
        }
        _ => Ok(Outcome::Applied),
    }
}

/// Claims the subscription's standing for an event created at `created` (Stripe's seconds):
/// true, and the newest applied moves to it, unless a newer event was applied already. One
/// conditional update, so of two concurrent events the older never wins.
async fn newer_than_applied(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    created: i64,
) -> Result<bool, Status> {
    let claimed = billing_subscriptions::Entity::update_many()
        .col_expr(
            billing_subscriptions::Column::StripeStateAt,
            Expr::value(created),
        )
        .filter(billing_subscriptions::Column::TenantId.eq(tenant_id))
        .filter(billing_subscriptions::Column::StripeStateAt.lte(created))
        .exec(txn)
        .await
        .map_err(db_status)?;
    Ok(claimed.rows_affected > 0)
}

/// Active, or past due (since the first failure: a second keeps the date), when no newer event
/// decided the standing; true when it was set.
async fn set_standing(
    txn: &DatabaseTransaction,
    tenant_id: &str,
    status: &str,
    created: i64,
) -> Result<bool, Status> {
    if !newer_than_applied(txn, tenant_id, created).await? {
        return Ok(false);
    }
    let Some(row) = billing_subscriptions::Entity::find_by_id(tenant_id)
        .one(txn)
        .await
        .map_err(db_status)?
    else {
        return Ok(false);
    };
    let past_due_since =
        (status == PAST_DUE).then(|| row.past_due_since.unwrap_or(created.saturating_mul(1_000)));
    let mut update: billing_subscriptions::ActiveModel = row.into();
    update.status = Set(status.to_owned());
    update.past_due_since = Set(past_due_since);
    update.update(txn).await.map_err(db_status)?;
    Ok(true)
}

async fn back_to_free_at_period_end(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    now: i64,
) -> Result<(), Status> {
    billing_terms::Entity::delete_many()
        .filter(billing_terms::Column::TenantId.eq(tenant_id))
        .filter(billing_terms::Column::EffectiveFrom.gt(now))
        .exec(txn)
        .await
        .map_err(db_status)?;
    billing_terms::ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        effective_from: Set(period_of(now).1),
        plan_id: Set(FREE.to_owned()),
        share_basis_points: Set(0),
        minimum_minor_units: Set(0),
    }
    .insert(txn)
    .await
    .map_err(db_status)?;
    Ok(())
}
