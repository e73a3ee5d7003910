//! BillingAdminService: platform administrators' view across tenants.

use std::collections::BTreeMap;

use spot_proto::billing::v1 as pb;
use spot_proto::billing::v1::billing_admin_service_server::BillingAdminService;
use tonic::{Request, Response, Status};

use crate::BillingApi;
use crate::invoices::{self, PAID};
use crate::period::{now_millis, period_of};
use crate::plans::money;
use crate::subscriptions::PAST_DUE;
use spot_proto::time::timestamp;

#[tonic::async_trait]
impl BillingAdminService for BillingApi {
    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let past_due_only = request.get_ref().past_due_only;
        let now = now_millis();
        let period = period_of(now);
        let mut tenants = Vec::new();
        for subscription in self.subscriptions.all().await? {
            if past_due_only && subscription.row.status != PAST_DUE {
                continue;
            }
            let computed = self.invoices.compute(&subscription, period).await?;
            tenants.push(pb::TenantBilling {
                subscription: Some(
                    subscription.to_proto(now, self.ctx.config.limits.billing_grace_days),
                ),
                preview: Some(invoices::draft(
                    &subscription.row.tenant_id,
                    period,
                    &computed,
                )),
            });
        }
        Ok(Response::new(pb::ListSubscriptionsResponse { tenants }))
    }

    async fn get_revenue(
        &self,
        _request: Request<pb::GetRevenueRequest>,
    ) -> Result<Response<pb::GetRevenueResponse>, Status> {
        let mut months: BTreeMap<i64, (i64, i64, u32)> = BTreeMap::new();
        for invoice in self.invoices.all().await? {
            let month = months.entry(invoice.period_start).or_default();
            month.0 += invoice.total_minor_units;
            if invoice.status == PAID {
                month.1 += invoice.total_minor_units;
            }
            month.2 += 1;
        }
        let now = now_millis();
        let period = period_of(now);
        let mut open_period = 0;
        let mut past_due_tenant_ids = Vec::new();
        for subscription in self.subscriptions.all().await? {
            open_period += self
                .invoices
                .compute(&subscription, period)
                .await?
                .total_minor_units;
            if subscription.row.status == PAST_DUE {
                past_due_tenant_ids.push(subscription.row.tenant_id.clone());
            }
        }
        Ok(Response::new(pb::GetRevenueResponse {
            months: months
                .into_iter()
                .rev()
                .map(|(start, (invoiced, paid, count))| pb::MonthRevenue {
                    period_start: Some(timestamp(start)),
                    invoiced: Some(money(invoiced)),
                    paid: Some(money(paid)),
                    invoices: count,
                })
                .collect(),
            open_period: Some(money(open_period)),
            past_due_tenant_ids,
        }))
    }

    async fn set_enterprise_terms(
        &self,
        request: Request<pb::SetEnterpriseTermsRequest>,
    ) -> Result<Response<pb::SetEnterpriseTermsResponse>, Status> {
        let request = request.into_inner();
        if request.tenant_id.is_empty() {
            return Err(Status::invalid_argument("tenant_id: required"));
        }
        if !(1..=10_000).contains(&request.share_basis_points) {
            return Err(Status::invalid_argument(
                "share_basis_points: must be between 1 and 10000 (0.01 % to 100 %)",
            ));
        }
        let minimum = request.monthly_minimum.unwrap_or_default();
        if minimum.minor_units < 0 {
            return Err(Status::invalid_argument(
                "monthly_minimum: must not be negative",
            ));
        }
        if minimum.minor_units > 0 && minimum.currency != crate::plans::CURRENCY {
            return Err(Status::invalid_argument(format!(
                "monthly_minimum.currency: must be {}",
                crate::plans::CURRENCY
            )));
        }
        let now = now_millis();
        let subscription = self
            .subscriptions
            .set_enterprise(
                &request.tenant_id,
                request.share_basis_points,
                minimum.minor_units,
                now,
            )
            .await?;
        Ok(Response::new(pb::SetEnterpriseTermsResponse {
            subscription: Some(
                subscription.to_proto(now, self.ctx.config.limits.billing_grace_days),
            ),
        }))
    }

    async fn run_billing_cycle(
        &self,
        _request: Request<pb::RunBillingCycleRequest>,
    ) -> Result<Response<pb::RunBillingCycleResponse>, Status> {
        let report = self
            .cycle(now_millis(), std::time::Duration::from_secs(30))
            .await?;
        Ok(Response::new(pb::RunBillingCycleResponse {
            hours_metered: report.hours_metered,
            invoices_closed: report.invoices_closed,
        }))
    }
}
