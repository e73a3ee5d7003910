//! BillingService: the caller's tenant's plan, usage and invoices.

use spot_access::tenant;
use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_service_server::BillingService;
use tonic::{Request, Response, Status};

use crate::BillingApi;
use crate::period::{now_millis, period_of};
use crate::plans::{self, FREE, PLANS, money};
use crate::{invoices, usage};
use spot_proto::time::millis;

const DEFAULT_INVOICES: u64 = 24;
const MAX_INVOICES: u64 = 100;

impl BillingApi {
    fn grace_days(&self) -> u64 {
        self.ctx.config.limits.billing_grace_days
    }

    pub(crate) async fn subscription_of(
        &self,
        tenant_id: &str,
    ) -> Result<pb::Subscription, Status> {
        let now = now_millis();
        let subscription = self.subscriptions.get_or_start(tenant_id, now).await?;
        Ok(subscription.to_proto(now, self.grace_days()))
    }

    pub(crate) async fn preview_of(&self, tenant_id: &str) -> Result<pb::Invoice, Status> {
        let now = now_millis();
        let subscription = self.subscriptions.get_or_start(tenant_id, now).await?;
        let period = period_of(now);
        let computed = self.invoices.compute(&subscription, period).await?;
        Ok(invoices::draft(tenant_id, period, &computed))
    }
}

fn choosable(plan_id: &str) -> Result<&'static plans::PlanSpec, Status> {
    let choosable: Vec<&str> = PLANS
        .iter()
        .filter(|p| !p.by_arrangement)
        .map(|p| p.id)
        .collect();
    match plans::plan(plan_id) {
        Some(plan) if !plan.by_arrangement => Ok(plan),
        Some(plan) => Err(Status::invalid_argument(format!(
            "plan_id: {} terms are agreed with us, not chosen here (choose one of: {})",
            plan.name,
            choosable.join(", ")
        ))),
        None => Err(Status::invalid_argument(format!(
            "plan_id: `{plan_id}` is not a plan (choose one of: {})",
            choosable.join(", ")
        ))),
    }
}

#[tonic::async_trait]
impl BillingService for BillingApi {
    async fn list_plans(
        &self,
        _request: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        let plans = PLANS
            .iter()
            .map(|p| plans::to_proto(p, p.share_basis_points, p.minimum_minor_units))
            .collect();
        Ok(Response::new(pb::ListPlansResponse { plans }))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let tenant_id = tenant(&request)?;
        Ok(Response::new(pb::GetSubscriptionResponse {
            subscription: Some(self.subscription_of(&tenant_id).await?),
        }))
    }

    async fn change_plan(
        &self,
        request: Request<pb::ChangePlanRequest>,
    ) -> Result<Response<pb::ChangePlanResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let plan = choosable(&request.get_ref().plan_id)?;
        let now = now_millis();
        let subscription = self
            .subscriptions
            .change_plan(&tenant_id, plan, now)
            .await?;
        Ok(Response::new(pb::ChangePlanResponse {
            subscription: Some(subscription.to_proto(now, self.grace_days())),
        }))
    }

    async fn cancel_subscription(
        &self,
        request: Request<pb::CancelSubscriptionRequest>,
    ) -> Result<Response<pb::CancelSubscriptionResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let now = now_millis();
        let free = plans::plan(FREE).ok_or_else(|| Status::internal("no free plan"))?;
        let subscription = self
            .subscriptions
            .change_plan(&tenant_id, free, now)
            .await?;
        Ok(Response::new(pb::CancelSubscriptionResponse {
            subscription: Some(subscription.to_proto(now, self.grace_days())),
        }))
    }

    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let period = period_of(now_millis());
        let since = request.since.as_ref().map_or(period.0, millis);
        let until = request.until.as_ref().map_or(period.1, millis);
        if until <= since {
            return Err(Status::invalid_argument("until: must be after since"));
        }
        let cluster = Some(request.cluster_id.as_str()).filter(|c| !c.is_empty());
        let rows = self
            .usage
            .between(&tenant_id, cluster, since, until)
            .await?;
        let micros: i64 = rows.iter().map(|r| r.savings_micros).sum();
        Ok(Response::new(pb::GetUsageResponse {
            records: rows.iter().map(usage::to_proto).collect(),
            savings: Some(money(crate::invoice::minor_of_micros(micros))),
        }))
    }

    async fn preview_invoice(
        &self,
        request: Request<pb::PreviewInvoiceRequest>,
    ) -> Result<Response<pb::PreviewInvoiceResponse>, Status> {
        let tenant_id = tenant(&request)?;
        Ok(Response::new(pb::PreviewInvoiceResponse {
            invoice: Some(self.preview_of(&tenant_id).await?),
        }))
    }

    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Result<Response<pb::ListInvoicesResponse>, Status> {
        let tenant_id = tenant(&request)?;
        let request = request.into_inner();
        let size = match u64::from(request.page_size) {
            0 => DEFAULT_INVOICES,
            size => size.min(MAX_INVOICES),
        };
        let before = match request.page_token.as_str() {
            "" => None,
            token => Some(token.parse::<i64>().map_err(|_| {
                Status::invalid_argument("page_token: is not a token this server returned")
            })?),
        };
        let rows = self.invoices.list(&tenant_id, before, size + 1).await?;
        let more = rows.len() as u64 > size;
        let rows = &rows[..rows.len().min(size as usize)];
        let next_page_token = match rows.last() {
            Some(last) if more => last.period_start.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices: rows.iter().map(invoices::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn check_automation(
        &self,
        request: Request<pb::CheckAutomationRequest>,
    ) -> Result<Response<pb::CheckAutomationResponse>, Status> {
        let request = request.into_inner();
        if request.tenant_id.is_empty() {
            return Err(Status::invalid_argument("tenant_id: required"));
        }
        let refusal = self
            .automation_refusal(&request.tenant_id, request.nodes)
            .await?;
        Ok(Response::new(pb::CheckAutomationResponse {
            allowed: refusal.is_none(),
            reason: refusal.unwrap_or_default(),
        }))
    }
}
