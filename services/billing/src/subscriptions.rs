//! Each tenant's subscription (created on the free plan the first time billing hears of the
//! tenant) and the terms in force over time. A plan change is a new term: from the free plan it
//! starts at once; from a paid plan it starts at the end of the period (so a period's fixed part
//! is never cut short). A term starting later is the pending change; one change replaces another.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use spot_db::{Database, status as db_status};
use spot_proto::billing::v1 as pb;
use tonic::Status;

use crate::entity::{billing_subscriptions, billing_terms};
use crate::invoice::{Term, term_at};
use crate::period::period_of;
use crate::plans::{self, ENTERPRISE, FREE, PlanSpec};
use spot_proto::time::timestamp;

pub const ACTIVE: &str = "active";
pub const PAST_DUE: &str = "past_due";

/// A subscription with its terms, oldest first.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub row: billing_subscriptions::Model,
    pub terms: Vec<Term>,
}

impl Subscription {
    /// The term in force at `at` (the free plan before the first).
    pub fn term_at(&self, at: i64) -> Term {
        term_at(&self.terms, at)
            .cloned()
            .unwrap_or_else(|| free_term(at))
    }

    pub fn plan_at(&self, at: i64) -> &'static PlanSpec {
        plans::plan(&self.term_at(at).plan_id).unwrap_or(&plans::PLANS[0])
    }

    /// The change that takes effect later than `now`, if any.
    pub fn pending(&self, now: i64) -> Option<&Term> {
        self.terms.iter().find(|term| term.effective_from > now)
    }

    /// When a past-due subscription stops the platform applying changes.
    pub fn limited_from(&self, grace_days: u64) -> Option<i64> {
        let grace = i64::try_from(grace_days).unwrap_or(i64::MAX / 2) * 86_400_000;
        self.row
            .past_due_since
            .map(|since| since.saturating_add(grace))
    }

    pub fn to_proto(&self, now: i64, grace_days: u64) -> pb::Subscription {
        let term = self.term_at(now);
        let plan = self.plan_at(now);
        let (start, end) = period_of(now);
        let status = if self.row.status == PAST_DUE {
            pb::SubscriptionStatus::PastDue
        } else {
            pb::SubscriptionStatus::Active
        };
        pb::Subscription {
            tenant_id: self.row.tenant_id.clone(),
            plan: Some(plans::to_proto(
                plan,
                term.share_basis_points,
                term.minimum_minor_units,
            )),
            status: status.into(),
            current_period_start: Some(timestamp(start)),
            current_period_end: Some(timestamp(end)),
            next_plan_id: self
                .pending(now)
                .map(|t| t.plan_id.clone())
                .unwrap_or_default(),
            plan_since: Some(timestamp(term.effective_from)),
            past_due_since: self.row.past_due_since.map(timestamp),
            limited_from: self.limited_from(grace_days).map(timestamp),
            stripe_customer_id: self.row.stripe_customer_id.clone(),
        }
    }
}

fn free_term(at: i64) -> Term {
    Term {
        effective_from: at,
        plan_id: FREE.to_owned(),
        share_basis_points: 0,
        minimum_minor_units: 0,
    }
}

fn term_of(row: billing_terms::Model) -> Term {
    Term {
        effective_from: row.effective_from,
        plan_id: row.plan_id,
        share_basis_points: u32::try_from(row.share_basis_points).unwrap_or(0),
        minimum_minor_units: row.minimum_minor_units,
    }
}

#[derive(Clone)]
pub struct Subscriptions {
    db: Database,
}

impl Subscriptions {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn find(&self, tenant_id: &str) -> Result<Option<Subscription>, Status> {
        load(self.db.connection(), tenant_id).await
    }

    /// The tenant's subscription, starting it on the free plan if it has none.
    pub async fn get_or_start(&self, tenant_id: &str, now: i64) -> Result<Subscription, Status> {
        if let Some(found) = self.find(tenant_id).await? {
            return Ok(found);
        }
        let row = billing_subscriptions::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            status: Set(ACTIVE.to_owned()),
            past_due_since: Set(None),
            stripe_customer_id: Set(String::new()),
            stripe_state_at: Set(0),
            created_at: Set(now),
        };
        // Two first calls at once: the second insert fails and both read the one row.
        if row.insert(self.db.connection()).await.is_ok() {
            insert_term(self.db.connection(), tenant_id, &free_term(now)).await?;
        }
        self.find(tenant_id)
            .await?
            .ok_or_else(|| Status::internal("the subscription was not stored"))
    }

    /// Every subscription (the admin's overview), in two queries whatever their number.
    pub async fn all(&self) -> Result<Vec<Subscription>, Status> {
        let rows = billing_subscriptions::Entity::find()
            .order_by_asc(billing_subscriptions::Column::TenantId)
            .all(self.db.connection())
            .await
            .map_err(db_status)?;
        let mut terms_by_tenant: std::collections::HashMap<String, Vec<Term>> = Default::default();
        for row in billing_terms::Entity::find()
            .order_by_asc(billing_terms::Column::EffectiveFrom)
            .all(self.db.connection())
            .await
            .map_err(db_status)?
        {
            terms_by_tenant
                .entry(row.tenant_id.clone())
                .or_default()
                .push(term_of(row));
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let terms = terms_by_tenant.remove(&row.tenant_id).unwrap_or_default();
                Subscription { row, terms }
            })
            .collect())
    }

    /// The tenants whose subscriptions began before `at`.
    pub async fn tenants_started_before(&self, at: i64) -> Result<Vec<String>, Status> {
        use sea_orm::QuerySelect;
        billing_subscriptions::Entity::find()
            .select_only()
            .column(billing_subscriptions::Column::TenantId)
            .filter(billing_subscriptions::Column::CreatedAt.lt(at))
            .into_tuple()
            .all(self.db.connection())
            .await
            .map_err(db_status)
    }

    /// Moves the tenant to `plan` (a plan it may choose): at once from the free plan, else at
    /// the end of the period; choosing the current plan withdraws a pending change.
    pub async fn change_plan(
        &self,
        tenant_id: &str,
        plan: &PlanSpec,
        now: i64,
    ) -> Result<Subscription, Status> {
        let current = self.get_or_start(tenant_id, now).await?;
        let in_force = current.term_at(now);
        self.drop_pending(tenant_id, now).await?;
        if in_force.plan_id != plan.id {
            // At once, yet after the term in force began (which may be this very millisecond:
            // the free term of a subscription this call started).
            let effective_from = if in_force.plan_id == FREE {
                now.max(in_force.effective_from + 1)
            } else {
                period_of(now).1
            };
            let term = Term {
                effective_from,
                plan_id: plan.id.to_owned(),
                share_basis_points: plan.share_basis_points,
                minimum_minor_units: plan.minimum_minor_units,
            };
            insert_term(self.db.connection(), tenant_id, &term).await?;
        }
        self.get_or_start(tenant_id, now).await
    }

    /// Puts the tenant on the enterprise plan with its own terms, at once.
    pub async fn set_enterprise(
        &self,
        tenant_id: &str,
        share_basis_points: u32,
        minimum_minor_units: i64,
        now: i64,
    ) -> Result<Subscription, Status> {
        let in_force = self.get_or_start(tenant_id, now).await?.term_at(now);
        self.drop_pending(tenant_id, now).await?;
        let term = Term {
            effective_from: now.max(in_force.effective_from + 1),
            plan_id: ENTERPRISE.to_owned(),
            share_basis_points,
            minimum_minor_units,
        };
        insert_term(self.db.connection(), tenant_id, &term).await?;
        self.get_or_start(tenant_id, now).await
    }

    async fn drop_pending(&self, tenant_id: &str, now: i64) -> Result<(), Status> {
        billing_terms::Entity::delete_many()
            .filter(billing_terms::Column::TenantId.eq(tenant_id))
            .filter(billing_terms::Column::EffectiveFrom.gt(now))
            .exec(self.db.connection())
            .await
            .map_err(db_status)?;
        Ok(())
    }

    pub async fn set_stripe_customer(
        &self,
        tenant_id: &str,
        customer_id: &str,
    ) -> Result<(), Status> {
        billing_subscriptions::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            stripe_customer_id: Set(customer_id.to_owned()),
            ..Default::default()
        }
        .update(self.db.connection())
        .await
        .map_err(db_status)?;
        Ok(())
    }
}

pub async fn load(
    db: &impl ConnectionTrait,
    tenant_id: &str,
) -> Result<Option<Subscription>, Status> {
    let Some(row) = billing_subscriptions::Entity::find_by_id(tenant_id)
        .one(db)
        .await
        .map_err(db_status)?
    else {
        return Ok(None);
    };
    let terms = terms(db, tenant_id).await?;
    Ok(Some(Subscription { row, terms }))
}

async fn terms(db: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<Term>, Status> {
    Ok(billing_terms::Entity::find()
        .filter(billing_terms::Column::TenantId.eq(tenant_id))
        .order_by_asc(billing_terms::Column::EffectiveFrom)
        .all(db)
        .await
        .map_err(db_status)?
        .into_iter()
        .map(term_of)
        .collect())
}

async fn insert_term(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    term: &Term,
) -> Result<(), Status> {
    billing_terms::ActiveModel {
        id: Set(uuid::Uuid::now_v7().simple().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        effective_from: Set(term.effective_from),
        plan_id: Set(term.plan_id.clone()),
        share_basis_points: Set(i32::try_from(term.share_basis_points).unwrap_or(0)),
        minimum_minor_units: Set(term.minimum_minor_units),
    }
    .insert(db)
    .await
    .map_err(db_status)?;
    Ok(())
}
